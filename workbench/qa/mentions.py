"""Short references to things the text named before: "the new wall" after "the North Quay wall", "the
building" after "the Brine Street warehouse", "it is expected to open" after "plans for a cruise terminal".

A question and an answer that name the thing as the text first named it match the questions a reader asks;
"the new wall of the authority" matches none of them. Only what the text itself names is used: a reference
with nothing fitting before it keeps the anchoring ``facts`` gives it.
"""

from __future__ import annotations

from typing import Any

from . import facts as F
from .lexicon import is_noun, noun_class

# general words for a built thing: "the building" after "its Brine Street warehouse" in the same sentence
_UMBRELLA = {"building", "structure", "site", "property", "premises", "facility", "vessel", "ship", "boat",
             "craft", "installation", "development"}
_BUILT = {"noun.artifact", "noun.location", "noun.object"}  # what a body builds or opens: a terminal, a centre
_DEFINITE = {"the", "this", "these", "that", "those"}
_KEEP = 32  # named things remembered per document; older ones are rarely meant by a short reference


def note(sent: Any, ctx: F.Context) -> None:
    """Remember the named things of one sentence, before its facts are read: a reference later in the same
    sentence may mean them ("... sell its Brine Street warehouse; the building will become a youth centre")."""
    ctx.sentence_no += 1
    for tok in sent:
        text = _name_of(tok)
        if text:
            ctx.mentions.append((tok.lemma_.lower(), text, ctx.sentence_no, tok.i))
        role = titled(tok)
        if role is not None:
            ctx.mentions.append((role.lemma_.lower(), "the " + F._text(_without_det(tok)), ctx.sentence_no, tok.i))
    del ctx.mentions[:-_KEEP]


def titled(tok: Any) -> Any | None:
    """The common noun before a name: "practice" in "the practice Vask-Hallam & Aske", so that "the practice"
    later means that firm."""
    if tok.pos_ != "PROPN" or tok.dep_ == "compound":
        return None
    return next((c for c in tok.children if c.dep_ == "compound" and c.pos_ == "NOUN" and c.i < tok.i
                 and not any(g.pos_ == "PROPN" for g in c.lefts)), None)


def _without_det(tok: Any) -> list[Any]:
    return [t for t in F._np_core(tok) if not (t.dep_ == "det" and t.head.i in (tok.i, *(c.i for c in tok.children)))]


def _name_of(tok: Any) -> str | None:
    """"the North Quay wall", "the signal tower on Tern Stack", "the Saltmere Estuary Bridge"; None for a
    phrase without a proper name in it."""
    if tok.dep_ in ("compound", "appos", "poss") or tok.pos_ not in ("NOUN", "PROPN"):
        return None
    names = [c for c in tok.children if c.dep_ == "compound" and c.pos_ == "PROPN"]
    placed = [c for c in tok.children if c.dep_ == "prep" and c.lower_ in ("at", "on", "in")
              and any(g.dep_ == "pobj" and g.pos_ == "PROPN" for g in c.children)]
    if tok.pos_ == "PROPN":
        if not names or not is_noun(tok.lemma_) or tok.ent_type_ in ("PERSON", "DATE"):
            return None
        return ("the " if any(c.dep_ == "det" and c.lower_ == "the" for c in tok.children) else "") + F._text(
            _without_det(tok))
    if not names and not placed:
        return None
    # from the first word of the name on: "its empty Brine Street warehouse" -> "the Brine Street warehouse"
    modifiers = [c for c in tok.children if c.dep_ == "compound" and c.i < tok.i]
    start = min((min(t.i for t in c.subtree) for c in modifiers), default=tok.i)
    core = [t for t in F._np_core(tok) if t.i >= start]
    return "the " + F._text(core)


def resolve(tokens: list[Any], head: Any, ctx: F.Context) -> str | None:
    """The named thing a definite phrase without a name of its own refers to, or None."""
    if not tokens or tokens[0].lower_ not in _DEFINITE:
        return None
    lemma = head.lemma_.lower()
    bare = len(tokens) == 2  # "the building", not "the largest ship ever moored at X"
    for noun, text, number, index in reversed(ctx.mentions):
        if number == ctx.sentence_no and index >= tokens[0].i:
            continue  # named later in the same sentence
        same = noun == lemma
        umbrella = (bare and lemma in _UMBRELLA and ctx.sentence_no - number <= 1
                    and noun_class(noun) == "noun.artifact")
        if not (same or umbrella):
            continue
        # the reference's own adjectives stay: "the new wall" -> "the new North Quay wall"
        extra = [t.text for t in tokens if t.dep_ == "amod" and t.head.i == head.i and t.i < head.i
                 and t.lower_ not in text.lower().split()]
        if extra and same and text.startswith("the "):
            return f"the {' '.join(extra)} {text[4:]}"
        return text
    return None


def counted_of(tokens: list[Any], head: Any, ctx: F.Context) -> str | None:
    """In a text about a person, the built thing the sentence before named, for a count of things that names no
    owner: "she designed the Corvane pontoon ... More than 1,900 sets were manufactured" -> "sets of the Corvane
    pontoon", not "sets of Theodora Vask-Hallam"."""
    if not ctx.topic_is_person or F._kind(tokens, roles=False) != "number" or head.tag_ != "NNS" \
            or any(t.pos_ == "PROPN" for t in tokens):
        return None
    for noun, text, number, _ in reversed(ctx.mentions):
        if number == ctx.sentence_no - 1 and noun_class(noun) in _BUILT:
            return text
    return None


def introduced(sent: Any) -> tuple[str, bool] | None:
    """A built thing a person's or a body's sentence brings in with "a": "The board approved plans for a
    £22.4 million cruise terminal at Skerrow Point" -> "the cruise terminal at Skerrow Point". With it, whether
    the subject was a person: "it" in the next sentence is then never that subject ("She built a model
    bridge. It won a prize"); after a body it is the new thing only where "it" is built or designed."""
    root = next((t for t in sent if t.dep_ == "ROOT"), None)
    return introduced_by(root) if root is not None else None


def introduced_by(verb: Any) -> tuple[str, bool] | None:
    """``introduced`` for one clause's verb."""
    subj = F._own_subject(verb)
    if subj is None:
        return None
    person = subj.ent_type_ == "PERSON" or subj.lower_ in ("he", "she") or F.is_person_noun(subj.lemma_)
    if not (person or subj.ent_type_ == "ORG" or noun_class(subj.lemma_) == "noun.group"):
        return None
    found = None
    for tok in _own_words(verb):
        if tok.dep_ in ("dobj", "pobj") and tok.pos_ == "NOUN" and noun_class(tok.lemma_) in _BUILT \
                and any(c.dep_ == "det" and c.lower_ in ("a", "an") for c in tok.children):
            # the price is a fact of its own: "the cruise terminal at Skerrow Point", not "the £22.4 million ..."
            found = "the " + F._text([t for t in _without_det(tok) if t.ent_type_ not in ("MONEY", "QUANTITY")])
    return (found, person) if found else None


def _own_words(verb: Any) -> list[Any]:
    """The clause's words without the clauses joined to it ("...; it won a prize" is not part of "built")."""
    joined = [c for c in verb.children if c.dep_ in ("conj", "parataxis", "ccomp") and c.pos_ in ("VERB", "AUX")]
    return F._subtree(verb, joined)


def means_introduced(sent: Any, introduced: tuple[str, bool] | None) -> bool:
    """Whether this sentence's "it" is the thing the sentence before brought in (see ``introduced``)."""
    if introduced is None:
        return False
    subj = next((t for t in sent if t.dep_ in ("nsubj", "nsubjpass") and t.head.dep_ == "ROOT"), None)
    if subj is None or subj.lower_ != "it":
        return False
    return introduced[1] or _passive(sent)


def _passive(sent: Any) -> bool:
    """"Designed by X, it is expected to open": "it" here is something built, not the body that ordered it."""
    return any(t.tag_ == "VBN" and (t.dep_ in ("ROOT", "advcl") or t.head.dep_ == "ROOT" and t.dep_ == "xcomp")
               or t.dep_ == "auxpass" for t in sent)
