"""Partitive relative clauses as sentences of their own.

"Cargo throughput rose to 2.83 million tonnes, of which timber made up 41 per cent and crushed aggregates 27 per
cent" states "Timber made up 41 per cent of cargo throughput" and "Crushed aggregates made up 27 per cent of cargo
throughput"; "It holds 14,300 objects, of which 1,900 are on display" states "1,900 of the objects are on display".
The parser gives the clause no subject the reading can resolve ("of which" is neither subject nor object), and it
reads the verbless second part of such a list (a gapped clause: "and crushed aggregates 27 per cent") as a verb of
its own ("timber crushed aggregates"). So each part is written out as a plain sentence, which ``facts`` parses
and reads like any other sentence of the text.
"""

from __future__ import annotations

from typing import Any

from . import facts as F

_PARTITIVE = {"which", "whom"}
# a subject that is a part of the whole: "1,900 of the objects", "most of the staff", "the largest of them"
_QUANTIFIERS = {"some", "most", "many", "all", "none", "half", "few", "several", "each", "both", "one", "two",
                "three", "four", "five", "six", "seven", "eight", "nine", "ten", "twelve", "twenty", "hundred"}
_MEASURES = {"PERCENT", "MONEY", "QUANTITY"}
_OBJECT_DEPS = ("dobj", "attr", "npadvmod", "oprd")


def partitive_of(verb: Any) -> Any | None:
    """The "of" of a relative clause that opens "of which ..." or "of whom ...", else None."""
    if verb.dep_ != "relcl":
        return None
    subj = F._own_subject(verb)
    # the parser hangs "of which" on the verb or on the subject ("of which roughly 1,900 are on display")
    near = [*verb.children, *(subj.children if subj is not None else ())]
    return next((c for c in near if c.dep_ == "prep" and c.lower_ == "of" and c.i < verb.i
                 and any(g.dep_ == "pobj" and g.lower_ in _PARTITIVE for g in c.children)), None)


def inside(verb: Any) -> bool:
    """Whether ``verb`` goes on a partitive clause without a subject of its own ("of which 12 were built in 1890
    and restored in 1990"; "and crushed aggregates 27 per cent"): the restated sentence holds it."""
    return verb.dep_ == "conj" and partitive_of(verb.head) is not None and F._own_subject(verb) is None


def is_gapped(verb: Any) -> bool:
    """Whether ``verb`` is the parser's reading of a gapped part after a partitive clause: "and crushed
    aggregates 27 per cent" (no subject, no preposition, words then an amount), not a second verb of the
    clause ("and were restored in 1990")."""
    return inside(verb) and _gap_parts(verb) is not None


def statements(sent: Any, ctx: F.Context) -> list[str]:
    """The sentences that the partitive relative clauses of ``sent`` state, in reading order."""
    out: list[str] = []
    for verb in sent:
        of = partitive_of(verb)
        subj = F._own_subject(verb) if of is not None else None
        if of is None or subj is None or verb.pos_ not in ("VERB", "AUX"):
            continue
        whole = _whole(verb.head, ctx)
        if not whole:
            continue
        gaps = [c for c in verb.children if is_gapped(c)]
        drop = [of, *gaps, *(c for c in verb.children if c.dep_ == "cc" and gaps),
                *(c for c in verb.children if c.dep_ == "punct")]
        tokens = F._subtree(verb, drop)
        amount = _amount(verb)
        if _is_part(subj):  # "1,900 of the objects are on display"
            part = [t for t in F._np_core(subj) if t.i <= subj.i]
        elif amount is not None:  # "timber made up 41 per cent of cargo throughput"
            part = list(amount.subtree)
        else:
            continue
        last = max(part, key=lambda t: t.i)
        out.append(_sentence(F._text(tokens, {last.i: f"{last.text} of {whole}"})))
        if amount is None:
            continue
        phrase = F._text([verb, *(c for c in verb.children if c.dep_ in ("prt", "aux", "auxpass", "neg"))])
        for gap in gaps:
            who, how_much = _gap_parts(gap)
            out.append(_sentence(f"{who} {phrase} {how_much} of {whole}"))
    return out


def _whole(antecedent: Any, ctx: F.Context) -> str:
    """What the parts are parts of, as a sentence names it. A measure ("2.83 million tonnes") stands for what it
    measures: the subject of its verb ("cargo throughput rose to ..."). Otherwise the antecedent without its
    count ("14,300 objects" -> "the objects"), whose owner the reading adds as it does for any "the objects"."""
    if antecedent.ent_type_ in _MEASURES:
        verb = antecedent.head.head if antecedent.dep_ == "pobj" else antecedent.head
        subj = F._own_subject(verb) if verb.pos_ in ("VERB", "AUX") else None
        if subj is None or subj.lower_ in F._RELATIVE:
            return ""
        core = F._np_core(subj)
        text = F.mid_sentence(F._resolve_np(core, ctx, anchor=False))
        first = min(core, key=lambda t: t.i)
        if first.is_sent_start and first.ent_type_ == "" and text[:1].isupper() and not first.text.isupper():
            text = text[:1].lower() + text[1:]  # "Cargo throughput rose ..." -> "... of cargo throughput"
        if first.dep_ not in ("det", "poss") and first.ent_type_ == "" and text[:1].islower():
            text = f"the {text}"  # "41 per cent of the cargo throughput" is asked as a share of it
        return text
    core = [t for t in F._np_core(antecedent) if t.i >= antecedent.i or t.dep_ in ("compound", "amod")
            and not t.like_num]
    if not core or any(t.pos_ == "PRON" for t in core):
        return ""
    text = F._text(core)
    # "the objects" gets its owner as a subject would ("the objects of the X Museum"): inside "1,900 of the
    # objects" the reading of the restated sentence does not see it as a reference
    return text if any(t.pos_ == "PROPN" for t in core) else F._anchor(core, f"the {text}", ctx)


def _is_part(subj: Any) -> bool:
    return subj.like_num or subj.pos_ == "NUM" or subj.lower_ in _QUANTIFIERS or subj.tag_ == "JJS"


def _amount(verb: Any) -> Any | None:
    """The verb's object that states an amount ("41 per cent", "£2 million"), if any."""
    return next((c for c in verb.children if c.dep_ in _OBJECT_DEPS and any(t.like_num for t in c.subtree)), None)


def _gap_parts(verb: Any) -> tuple[str, str] | None:
    """("crushed aggregates", "27 per cent") of the gapped part "crushed aggregates 27 per cent"."""
    tokens = sorted(verb.subtree, key=lambda t: t.i)
    first_num = next((k for k, t in enumerate(tokens) if t.like_num), None)
    if not first_num or any(t.pos_ == "ADP" for t in tokens[:first_num]):
        return None
    return F._text(tokens[:first_num]), F._text(tokens[first_num:])


def _sentence(text: str) -> str:
    text = text.strip().rstrip(",;")
    return F._cap(text) + "."
