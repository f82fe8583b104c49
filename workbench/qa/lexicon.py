"""Word knowledge the question rules need. From WordNet: whether a noun names a person ("the engineer
Cornelius Dray" is asked with "who", not "what") and the noun for who does a verb ("designer" for
"design"). A short table: the noun a dimension adjective measures ("168 metres long" is asked as "what is
the length of ...").

WordNet is the database METEOR already uses (``wordnet.ensure_wordnet`` provisions it from the system
package; nothing is downloaded). Without it, a short built-in list of role nouns stands in, so fact
extraction still runs, asking fewer facts with "who".
"""

from __future__ import annotations

import functools
import logging
from typing import Any

log = logging.getLogger(__name__)

# used only where WordNet is missing: the role nouns most common in reports and biographies
_PEOPLE = {"engineer", "architect", "author", "writer", "chairman", "chair", "chairwoman", "director", "manager",
           "mayor", "founder", "owner", "professor", "teacher", "student", "father", "mother", "son", "daughter",
           "wife", "husband", "brother", "sister", "physician", "doctor", "surveyor", "builder", "designer",
           "sculptor", "painter", "artist", "minister", "president", "secretary", "officer", "inspector",
           "curator", "historian", "scientist", "partner", "colleague", "classmate", "apprentice", "clerk"}
DIMENSIONS = {"long": "length", "high": "height", "tall": "height", "wide": "width", "deep": "depth",
              "thick": "thickness", "heavy": "weight", "old": "age", "broad": "breadth"}


@functools.cache
def _wordnet() -> Any | None:
    try:
        from ..wordnet import wordnet_reader
        return wordnet_reader()
    except Exception as exc:  # no WordNet installed, or NLTK missing: the built-in list stands in
        log.info("WordNet unavailable for question words (%s); using a built-in list of role nouns", exc)
        return None


@functools.cache
def is_person_noun(lemma: str) -> bool:
    """True when the noun's most common sense is a person ("engineer", "chairman", "daughter")."""
    wn = _wordnet()
    if wn is None:
        return lemma.lower() in _PEOPLE
    synsets = _common_senses(wn, lemma)
    return bool(synsets) and synsets[0].lexname() == "noun.person"


@functools.cache
def can_name_person(lemma: str) -> bool:
    """True when any common sense of the noun is a person: "chair" is first a seat, but "its chair, Rosalind
    Ferrathy," names her role. For a noun set against a person's name, where the person sense is the one meant."""
    wn = _wordnet()
    if wn is None:
        return lemma.lower() in _PEOPLE
    return any(s.lexname() == "noun.person" for s in _common_senses(wn, lemma))


def _common_senses(wn: Any, lemma: str) -> list[Any]:
    """The noun senses of the word as a common noun, most common first: WordNet lists the poet Hart Crane
    ("Crane") before the machine, so a name's senses are skipped."""
    word = lemma.lower()
    return [s for s in wn.synsets(word, pos="n") if any(n.name() == word for n in s.lemmas())]


@functools.cache
def is_kind_of(lemma: str, general: str) -> bool:
    """Whether a noun, in one of its two most common senses, names a kind of what another noun names: a
    "footbridge" is a kind of "span" (WordNet's bridge is also a span), a "viaduct" of "bridge"; False without
    WordNet."""
    wn = _wordnet()
    if wn is None:
        return False
    targets = set(_common_senses(wn, general))
    return any(targets & {s, *s.closure(lambda x: x.hypernyms())} for s in _common_senses(wn, lemma)[:2])


@functools.cache
def can_name_machine(lemma: str) -> bool:
    """True when any common sense of the noun is a made thing or an animal ("ferry", "tug", "locomotive",
    "horse"): a name after it ("the passenger ferry Lady Corra") is that thing's, however like a person's it
    sounds. "practice" (a firm) has no such sense; False without WordNet."""
    wn = _wordnet()
    return wn is not None and any(s.lexname() in ("noun.artifact", "noun.animal") for s in _common_senses(wn, lemma))


@functools.cache
def is_noun(word: str) -> bool:
    """True when WordNet knows ``word`` as a noun ("contractor", "carrier"; not "older"); True without WordNet."""
    wn = _wordnet()
    return wn is None or bool(wn.synsets(word.lower(), pos="n"))


@functools.cache
def agent_noun(verb_lemma: str) -> str:
    """The noun for who does the verb, from WordNet's derivational links ("design" -> "designer", "found" ->
    "founder"), or "" when WordNet has none: "Who was the designer of X?" asks "X was designed by Y" from
    another side than the verb does."""
    wn = _wordnet()
    if wn is None or " " in verb_lemma:
        return ""
    for synset in wn.synsets(verb_lemma, pos="v")[:3]:
        for lemma in synset.lemmas():
            if lemma.name() != verb_lemma:
                continue
            for form in lemma.derivationally_related_forms():
                name = form.name()
                if form.synset().lexname() == "noun.person" and name.startswith(verb_lemma[:-1]) \
                        and name.endswith(("er", "or")):
                    return name
    return ""


@functools.cache
def noun_class(lemma: str) -> str:
    """WordNet's class of the noun's most common sense ("noun.artifact" for "warehouse", "noun.group" for
    "board"), or "" when WordNet does not know it or is missing."""
    wn = _wordnet()
    synsets = _common_senses(wn, lemma) if wn is not None else []
    return synsets[0].lexname() if synsets else ""
