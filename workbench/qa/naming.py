"""Questions that name the document's subject where their clause does not (``qa --name-subject true``).

Readers' questions name what a document is about ("How long had Cuthbert Anwell led the board of the Brackwater
Sound Harbour Authority?"), while many clauses do not ("Cuthbert Anwell had led the board for 17 years"). Three
rules, applied while ``facts`` reads a document: a bare "the board" the subject owns gets its name; a clause that
names it nowhere is placed at it ("at", "on", "in" or "during", by its head noun); in a biography, a work the
person made or that the text calls hers is asked as hers. Measured on the knowledge benchmark it did not raise the
score (README), so it is off by default. Nothing here reads files or loads a model.
"""

from __future__ import annotations

import re
from typing import Any

from . import facts as F
from .lexicon import noun_class

# nouns whose "the" points past the document's subject: times, the places around it, people at large
_UNOWNED = {"year", "month", "week", "day", "time", "period", "season", "summer", "winter", "spring", "autumn",
            "decade", "century", "end", "start", "beginning", "morning", "evening", "night", "moment", "rest",
            "public", "world", "town", "city", "village", "country", "county", "region", "area", "sea", "coast",
            "river", "weather", "government", "way", "number", "total", "same", "first", "last", "other", "age"}


def owned_np(part: Any, tokens: list[Any], swap: dict[int, str], ctx: F.Context) -> str | None:
    """The text of a clause part's bare definite noun phrase that belongs to the document's subject unnamed
    ("led the board", "dredged the approach channel"), where the subject is no person; else None."""
    if ctx.topic_is_person:
        return None
    top = part if part.dep_ in ("dobj", "dative", "attr") else next(
        (c for c in part.children if c.dep_ == "pobj"), None) if part.dep_ in ("prep", "agent") else None
    if top is None or top.pos_ != "NOUN" or top.lemma_.lower() in _UNOWNED | ctx.topic_words:
        return None
    np = list(top.subtree)
    ids = {t.i for t in tokens}
    if not 2 <= len(np) <= 4 or np[0].lower_ != "the" or np[-1].i != top.i or any(t.i not in ids for t in np):
        return None
    if any(t.ent_type_ or t.pos_ == "PROPN" or t.is_title and t.i != np[0].i or t.like_num for t in np):
        return None
    if any(t.dep_ not in ("det", "amod", "compound") or t.pos_ not in ("DET", "ADJ", "NOUN") for t in np[:-1]):
        return None
    return F._text(np, swap)


def name_owner(parts: list[dict[str, Any]], subject: str, arg: F.Arg, ctx: F.Context) -> None:
    """Name the document's subject as the owner of the first part that belongs to it unnamed: "led the board"
    -> "led the board of the Brackwater Sound Harbour Authority". Readers' questions name the document's
    subject (every benchmark question does); a training question that never names it leaves the name
    pointing at the document's other facts. Takes the parts' ``owned`` marks (``owned_np``) off."""
    owned = [part.pop("owned", None) for part in parts]
    topic = F.mid_sentence(ctx.topic)
    named = (subject, " ".join(t.text for t in arg.whole), *(p.get("text", "") for p in parts))
    if any(topic.lower().removeprefix("the ") in x.lower() for x in named):
        return
    for part, phrase in zip(parts, owned):
        if phrase and phrase in part["text"]:
            part["text"] = part["text"].replace(phrase, f"{phrase} of {topic}", 1)
            return
    place = _topic_place(ctx)
    if place:  # "Who succeeded Captain Odile Vranck at the Brackwater Sound Harbour Authority?"
        parts.append({"text": f"{place} {topic}", "pre": False, "dep": "topic"})


# how a clause is placed at a document's subject, by the subject's head noun ("at the authority", "on the line")
_PLACED_ON = {"railway", "line", "tramway", "tram", "railroad", "funicular", "ferry", "canal", "route", "island",
              "estate", "bridge", "viaduct", "pier", "ship", "vessel", "road", "street", "lift"}
_PLACED_IN = {"plan", "scheme", "project", "programme", "program", "strategy", "district", "quarter", "valley",
              "park", "town", "city", "village", "county", "region", "parish", "area", "borough", "reserve",
              "survey", "study", "report", "review", "census"}
_PLACED_DURING = {"flood", "fire", "storm", "war", "battle", "strike", "riot", "siege", "campaign", "eruption",
                  "earthquake", "disaster", "epidemic", "outbreak", "famine", "drought", "blizzard", "voyage"}
_PLACED_AT = {"authority", "company", "works", "museum", "gallery", "library", "school", "college", "university",
              "hospital", "festival", "society", "trust", "council", "institute", "institution", "station",
              "harbour", "port", "factory", "mill", "brewery", "farm", "orchard", "garden", "centre", "center",
              "club", "firm", "agency", "department", "ministry", "office", "theatre", "zoo", "observatory",
              "laboratory", "plant", "mine", "quarry", "abbey", "church", "cathedral", "castle", "hall", "hotel",
              "market", "airport", "stadium", "ropeworks", "foundation", "board", "corporation", "cooperative",
              "association", "archive", "collection", "fair", "show", "dock", "docks", "yard", "shipyard",
              "exhibition", "regatta", "race", "match", "competition", "conference", "games", "tournament",
              "congress", "summit", "concert", "event"}


_KINDS_OF_LIFE = {"species", "genus", "family", "breed", "variety", "subspecies", "population"}


_PLACED_BY_CLASS = {"noun.group": "at", "noun.artifact": "at", "noun.location": "in", "noun.event": "during",
                    "noun.act": "during", "noun.phenomenon": "during", "noun.cognition": "in",
                    "noun.communication": "in"}


def _topic_place(ctx: F.Context) -> str | None:
    """The preposition that places a fact at the document's subject, where its head noun says which."""
    if ctx.topic_is_person:
        return None
    head_word = F.topic_head(ctx.topic)
    for prep, nouns in (("on", _PLACED_ON), ("in", _PLACED_IN), ("at", _PLACED_AT), ("during", _PLACED_DURING)):
        if head_word in nouns:
            return prep
    # a head noun the lists lack goes by WordNet's class of its common sense: "at the X Lighthouse"; a person,
    # an animal or a substance is no place
    if not head_word.isalpha() or head_word in _KINDS_OF_LIFE:
        return None
    return _PLACED_BY_CLASS.get(noun_class(head_word))


# verbs whose object, done by the person a biography is about, is that person's work
_MAKING = {"design", "build", "write", "publish", "found", "create", "compose", "paint", "invent", "draw",
           "sculpt", "complete", "plan", "construct", "engineer", "establish", "carve", "direct", "record"}


def works_of(facts: list[F.Fact], person: str) -> list[str]:
    """The named things a biography gives as its person's own work: the object of a making verb she is the
    subject of ("she designed the Corvane pontoon"), or a name described as hers ("Her best-known work, the
    Saltmere Estuary Bridge"; "Her first major commission was the Ambry Footbridge")."""
    own = f"{person.lower()}'s "
    works: list[str] = []
    for f in facts:
        name = re.sub(r"^the\s+", "", f.span.strip(), flags=re.IGNORECASE)
        if name == f.span.strip() or not name[:1].isupper() or "person" in (f.kind, f.frame.get("name_kind")):
            continue  # a work is "the X Bridge"; a bare name is more often a person's or a firm's
        made = f.role == "object" and f.frame.get("subject") == person and f.frame.get("lemma") in _MAKING
        described = f.role == "appos-name" and str(f.frame.get("about", "")).lower().startswith(own)
        equated = f.role == "attr" and str(f.frame.get("subject", "")).lower().startswith(own)
        if (made or described or equated) and name not in works:
            works.append(name)
    return works


def own_works(facts: list[F.Fact], person: str) -> None:
    """A fact that names one of the person's works but not the person asks it as hers ("When was Theodora
    Vask-Hallam's Saltmere Estuary Bridge opened to traffic?"): readers ask about a biography's works by the
    person's name, and a question that never names her leaves her name pointing at her other facts."""
    works = [re.compile(rf"\bthe\s+({re.escape(w)})\b") for w in works_of(facts, person)]
    if not works:
        return
    surname = person.split()[-1].lower()
    for f in facts:
        frame = f.frame
        if not frame.get("subject") or "parts" not in frame:
            continue
        if any(surname in t.lower() for t in (f.span, frame["subject"], *(p.get("text", "") for p in frame["parts"]))):
            continue
        hers = _as_hers(frame["subject"], works, person)
        if hers:
            frame["subject"] = hers
        else:
            for part in frame["parts"]:
                hers = _as_hers(part.get("text", ""), works, person)
                if hers:
                    part["text"] = hers
                    break
        if hers:
            frame["owner"] = person


def _as_hers(text: str, works: list[re.Pattern[str]], person: str) -> str | None:
    """``text`` with the first of the works it names ("the Saltmere Estuary Bridge") as the person's
    ("Theodora Vask-Hallam's Saltmere Estuary Bridge"), or None where it names none."""
    hit = next((m for work in works for m in [work.search(text)] if m), None)
    return f"{text[:hit.start()]}{person}'s {hit.group(1)}{text[hit.end():]}" if hit else None
