"""Facts that sit inside a noun phrase rather than in a clause of their own.

A clause-by-clause reading asks what a verb says; these facts are said by no verb:
- a life span after a name: "Theodora Vask-Hallam (14 March 1903 – 2 October 1978) was ..." (born, died);
- a measure on a noun: "its main span of 412 metres", "the new wall, 387 metres long,", "a tank with a
  capacity of 4,800 litres";
- a maker on a noun: "a bronze statue of her by the sculptor Nell Gaudry";
- a family: "She was born in Wrenstow, the youngest of five children of Josiah Hallam and Edith Vask" (her
  parents, and how many children they had), "He was the eldest son of Mary Pell".

Each becomes a ``Fact`` with its own role (``born``, ``died``, ``np-measure``, ``np-maker``,
``parents``, ``family-count``) and a frame that
``rewrite`` phrases questions from. The answer is one short sentence that names the owner and the fact.
"""

from __future__ import annotations

import re
from typing import Any

from . import facts as F
from .lexicon import DIMENSIONS

# unit -> (adjective a question asks with, the noun it measures); "" where English has no such adjective
UNITS = {
    **dict.fromkeys(("metre", "meter", "kilometre", "kilometer", "centimetre", "centimeter", "millimetre",
                     "millimeter", "mile", "foot", "feet", "yard", "inch", "m", "km", "cm", "mm", "ft"),
                    ("long", "length")),
    **dict.fromkeys(("tonne", "ton", "kilogram", "kilo", "kg", "lb"), ("heavy", "weight")),
    **dict.fromkeys(("litre", "liter", "gallon", "barrel"), ("", "capacity")),
    **dict.fromkeys(("hectare", "acre"), ("", "area")),
}
# nouns that name what a measure measures: "a capacity of 4,800 litres" belongs to what has the capacity
MEASURE_NOUNS = {"length", "height", "width", "depth", "diameter", "capacity", "weight", "area", "volume",
                 "thickness", "breadth", "span", "radius", "gauge"}
_ADJ_OF = {noun: adj for adj, noun in DIMENSIONS.items()}

_LIFE = re.compile(r"\(\s*(?:(?P<born>b\.|born)\s+(?P<b_only>[^()]*?\d{3,4})|(?P<died>d\.|died)\s+(?P<d_only>"
                   r"[^()]*?\d{3,4})|(?P<start>[^()]*?\d{3,4})\s*[\u2013\u2014-]\s*(?P<end>[^()]*?\d{3,4}))\s*\)")


def phrase_facts(sent: Any, ctx: F.Context, source: str, passage_id: str) -> list[F.Fact]:
    """The life spans, measures and makers held in the noun phrases of one sentence."""
    sentence = F._clean(sent.text)
    tense = "is" if _present(sent) else "was"
    found = (_life_facts(sent, ctx) + _measure_facts(sent, ctx, tense) + _maker_facts(sent, ctx, tense)
             + _dated_facts(sent, ctx) + _family_facts(sent, ctx))
    return [F.Fact(F._fact_id(source, sentence, span, role), source, passage_id, sentence, owner, span, kind,
                   answer, role, frame)
            for owner, span, kind, answer, role, frame in found]


# families ------------------------------------------------------------------------------------------------

def _family_facts(sent: Any, ctx: F.Context) -> list[tuple]:
    """"X was born in W, the youngest of five children of A and B": X's parents were A and B, and they had five
    children; "He was the eldest son of Mary Pell", "Ada Kerr, the daughter of a miner, ..." (the parent)."""
    out = []
    for top in sent:
        noun = F.family_noun(top) if top.dep_ in ("npadvmod", "attr", "appos", "conj") else None
        child = _family_child(top, ctx) if noun is not None else ""
        if not child:
            continue
        of = next(c for c in noun.children if c.dep_ == "prep" and c.lower_ == "of")
        first = next(c for c in of.children if c.dep_ == "pobj")
        # the parser may hang the second parent on the family noun ("children of A, a clockmaker, and B")
        parents = [first, *(c for c in (*first.children, *noun.children) if c.dep_ == "conj" and c.pos_ == "PROPN")]
        names = [F._resolve_np(F._np_core(p), ctx, anchor=False) for p in parents]
        named = " and ".join(names) if len(names) < 3 else ", ".join(names[:-1]) + " and " + names[-1]
        relation = F._text([t for t in top.subtree if t.i <= noun.i and t.dep_ != "punct"])
        be = "is" if top.head.tag_ in ("VBZ", "VBP") else "was"
        answer = F._cap(f"{child} {be} {F.mid_sentence(relation)} of {named}.")
        kind = "person" if any(p.ent_type_ == "PERSON" or p.pos_ == "PROPN" for p in parents) else "thing"
        frame = {"child": child, "noun": noun.lemma_.lower(), "relation": F.mid_sentence(relation), "copula": be,
                 "parents": named, "plural": len(parents) > 1}
        out.append((child, named, kind, answer, "parents", frame))
        count = next((c for c in noun.children if c.dep_ == "nummod"), None)
        if count is not None and top.i != noun.i and len(parents) > 1:
            out.append((child, count.text, "number", answer, "family-count", frame))
    return out


def _family_child(top: Any, ctx: F.Context) -> str:
    """Whose family a family phrase tells: the subject of the verb it hangs on, or the person it is set beside;
    "" where that is no person."""
    owner = F._own_subject(top.head) if top.dep_ in ("npadvmod", "attr") else top.head
    if owner is not None and top.dep_ in ("appos", "conj") and not F.is_person_token(owner):
        # "born in W, a mill town, the youngest of ...": the parser hangs it on the place; it is the subject's
        up = top
        while up.dep_ in ("conj", "appos", "pobj", "prep") and up.head.i != up.i:
            up = up.head
        owner = F._own_subject(up) if up.pos_ in ("VERB", "AUX") else None
    if owner is None:
        return ""
    person = owner.ent_type_ == "PERSON" or owner.lower_ in ("he", "she") or (
        ctx.topic_is_person and owner.pos_ == "PROPN")
    return F._resolve_np(F._np_core(owner), ctx, anchor=False) if person else ""


def _present(sent: Any) -> bool:
    root = next((t for t in sent if t.dep_ == "ROOT"), None)
    # "The two cars are joined by ...": a passive or perfect root is present through its auxiliary
    return root is not None and (root.tag_ in ("VBZ", "VBP") or any(
        c.dep_ in ("aux", "auxpass") and c.tag_ in ("VBZ", "VBP") for c in root.children))


# life spans ----------------------------------------------------------------------------------------------

def _life_facts(sent: Any, ctx: F.Context) -> list[tuple]:
    """"Name (1903–1978)", "(14 March 1903 – 2 October 1978)", "(born 1950)", "(b. 1950)", "(died 1801)"."""
    out = []
    for m in _LIFE.finditer(sent.text):
        name = _name_before(sent, m.start())
        if not name:
            continue
        born = m.group("b_only") or m.group("start")
        died = m.group("d_only") or m.group("end")
        for event, date in (("born", born), ("died", died)):
            if date:
                date = F._clean(date)
                prep = "on" if re.search(r"\d{1,2}\s+[A-Z]|[A-Z][a-z]+\s+\d{1,2},", date) else "in"
                answer = f"{name} {'was born' if event == 'born' else 'died'} {prep} {date}."
                out.append((name, date, "date", answer, event, {"person": name}))
    return out


def _name_before(sent: Any, char: int) -> str:
    """The person named just before character ``char`` of the sentence's text (a life span's owner)."""
    offset = sent.start_char
    ent = next((e for e in sent.ents if e.label_ == "PERSON" and 0 <= char - (e.end_char - offset) <= 1), None)
    return F._text(list(ent)) if ent is not None else ""


# dated names ---------------------------------------------------------------------------------------------

_YEAR_AFTER = re.compile(r"\s*\((\d{4})\)")


def _dated_facts(sent: Any, ctx: F.Context) -> list[tuple]:
    """"The Honest Span (1948) argued ...", "the Tolley Viaduct (1963)": a work or a structure and its year.
    In a biography it is the person's work: "The Honest Span is a work of Theodora Vask-Hallam from 1948."."""
    out = []
    for ent in sent.ents:
        m = _YEAR_AFTER.match(sent.doc.text[ent.end_char:])
        if m is None or ent.label_ in ("PERSON", "DATE", "CARDINAL") or not any(t.pos_ == "PROPN" for t in ent):
            continue
        name, year = F.mid_sentence(F._text(list(ent))), m.group(1)
        work = f"a work of {ctx.topic}" if ctx.topic_is_person and ctx.topic.lower() not in name.lower() else ""
        answer = F._cap(f"{name} is {work} from {year}." if work else f"{name} dates from {year}.")
        frame = {"name": name, "year": year, "work": work}
        out.append((name, year, "date", answer, "dated", frame))
        out.append((name, name, "name", answer, "dated-name", frame))
    return out


# measures ------------------------------------------------------------------------------------------------

def _unit(tok: Any) -> tuple[str, str] | None:
    """(adjective, measured noun) when ``tok`` is a counted unit: "412 metres", "540 cubic metres"."""
    if not any(c.dep_ == "nummod" and c.like_num for c in tok.children):
        return None
    return UNITS.get(tok.lemma_.lower()) or UNITS.get(tok.lower_)


def _measure_facts(sent: Any, ctx: F.Context, tense: str) -> list[tuple]:
    out = []
    for tok in sent:
        unit = _unit(tok)
        if unit is None:
            continue
        adj, noun = unit
        owner, measured_by = _measure_owner(tok)
        if owner is None:
            continue
        if measured_by in MEASURE_NOUNS:  # "a capacity of 4,800 litres": the noun says what is measured
            noun, adj = measured_by, _ADJ_OF.get(measured_by, "")
        elif measured_by in DIMENSIONS:  # "387 metres long"
            adj, noun = measured_by, DIMENSIONS[measured_by]
        each = [t for t in tok.children if t.lower_ == "each"]  # "two towers, each 96 metres tall"
        amount = F._text([t for t in tok.subtree if (t.dep_ != "prep" and t.i <= tok.i or t.i == tok.i)
                          and t not in each])
        skip = {t.i for t in tok.head.subtree} if tok.dep_ == "pobj" else {t.i for t in tok.subtree}
        if measured_by in MEASURE_NOUNS and tok.dep_ == "pobj":  # "a tank with a capacity of ...": owner "a tank"
            skip |= {t.i for t in tok.head.head.head.subtree}
        if measured_by in DIMENSIONS:
            skip |= {t.i for t in tok.head.subtree}
        owner_tokens = [t for t in F._np_core(owner) if t.i not in skip]
        while owner_tokens and owner_tokens[-1].is_punct:
            owner_tokens.pop()
        if not owner_tokens:
            continue
        thing = F.mid_sentence(F._resolve_np(owner_tokens, ctx))
        if each:  # the measure is each one's: "How tall was each of the two towers?"
            thing = "each of " + (thing if re.match(r"(?:the|its|their|his|her) ", thing) else "the " + thing)
        said = {t.i for c in tok.children if c.dep_ == "prep" and c.lower_ == "in" for t in c.subtree}  # "in diameter"
        unit_words = F._text([t for t in tok.subtree if (t.i >= tok.i or t.dep_ == "amod") and t.i not in said])
        answer = (f"{F._cap(thing)} {tense} {amount} {adj}." if adj and noun != "capacity" else
                  f"The {noun} of {thing} {tense} {amount}.")
        frame = {"subject": thing, "copula": tense, "dimension": adj, "noun": noun, "unit": unit_words}
        out.append((thing, amount, "quantity", answer, "np-measure", frame))
    return out


def _measure_owner(unit: Any) -> tuple[Any | None, str]:
    """(the noun the measure belongs to, the word that says what is measured) for a unit token."""
    if unit.dep_ == "pobj" and unit.head.lower_ == "of" and unit.head.head.pos_ == "NOUN":
        noun = unit.head.head
        if noun.lemma_.lower() in MEASURE_NOUNS - {"span"}:
            holder = noun.head
            if noun.dep_ == "pobj" and holder.dep_ == "prep" and holder.head.pos_ in ("NOUN", "PROPN"):
                return holder.head, noun.lemma_.lower()  # "a tank with a capacity of 4,800 litres"
            return None, ""
        return noun, ""  # "its main span of 412 metres"
    if unit.dep_ == "npadvmod" and unit.head.lower_ in DIMENSIONS and unit.head.head.pos_ in ("NOUN", "PROPN") \
            and unit.head.dep_ in ("amod", "appos"):
        return unit.head.head, unit.head.lower_  # "the new wall, 387 metres long,"
    if unit.dep_ == "appos" and unit.head.pos_ in ("NOUN", "PROPN"):  # "two steel cables, each 32 mm in diameter"
        measured = [p.lower_ for c in unit.children if c.dep_ == "prep" and c.lower_ == "in"
                    for p in c.children if p.dep_ == "pobj" and p.lower_ in MEASURE_NOUNS]
        return unit.head, measured[0] if measured else ""
    if unit.dep_ == "npadvmod" and unit.head.lower_ in DIMENSIONS and unit.head.dep_ in ("advcl", "ccomp", "conj") \
            and any(c.lower_ == "each" for c in unit.children):
        # "two towers of reinforced concrete, each 96 metres tall": the parser hangs the adjective on the verb;
        # "each" says it belongs to the nearest plural noun before it
        before = [t for t in unit.sent if t.i < unit.i and t.tag_ in ("NNS", "NNPS")]
        return (before[-1], unit.head.lower_) if before else (None, "")
    return None, ""


# makers --------------------------------------------------------------------------------------------------

def _maker_facts(sent: Any, ctx: F.Context, tense: str) -> list[tuple]:
    """"a bronze statue of her by the sculptor Nell Gaudry": the statue was made by Nell Gaudry."""
    out = []
    for prep in sent:
        if prep.lower_ != "by" or prep.dep_ != "prep" or prep.head.pos_ != "NOUN":
            continue
        pobj = next((c for c in prep.children if c.dep_ == "pobj"), None)
        named = _maker(pobj) if pobj is not None else None
        if named is None:
            continue
        work = [t for t in F._np_core(prep.head) if t.i not in {x.i for x in prep.subtree}]
        if not work:
            continue
        thing = F.mid_sentence(F._resolve_np(work, ctx))
        kind = "person" if named[-1].ent_type_ == "PERSON" else "organisation"
        maker = F._text(named)
        answer = f"{F._cap(thing)} {tense} made by {maker}."
        out.append((thing, maker, kind, answer, "np-maker", {"subject": thing, "copula": tense}))
    return out


def _maker(pobj: Any) -> list[Any] | None:
    """The tokens naming who made a work: "Nell Gaudry", or "the sculptor" and the name the parser hung
    elsewhere ("by the sculptor Ivo Brandt stands ...": "Brandt" parsed as the verb's subject)."""
    if pobj.ent_type_ in ("PERSON", "ORG"):
        return F._np_core(pobj)
    ent = next((e for e in pobj.doc.ents if e.start == pobj.i + 1 and e.label_ in ("PERSON", "ORG")), None)
    if ent is None or not F.is_person_noun(pobj.lemma_):
        return None
    return [t for t in pobj.subtree if t.i <= pobj.i] + list(ent)
