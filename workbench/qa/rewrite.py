"""Questions for a fact, in several real wordings: the question word fronted, the fact asked where it stands,
another question word, the other voice (active/passive) and another verb.

"The new wall was built by Halloran & Vesk" asked for its agent gives "Which organisation built the new
wall?", "The new wall was built by which organisation?", "By whom was the new wall built?" and "Who
constructed the new wall?". Every wording names the clause's subject as ``facts`` resolved it.
``check_question`` is the gate each wording (and any model-written one) passes: a question that parses as
one and does not give its answer away. Nothing here reads files or loads a model.
"""

from __future__ import annotations

import re
from .facts import Fact, inflect, mid_sentence
from .lexicon import DIMENSIONS, agent_noun, is_noun

_DO = {"VBD": "did", "VBZ": "does", "VBP": "do", "VB": "do"}
# verbs whose synonym keeps the sentence's meaning and frame in these texts (lemma -> lemma)
SYNONYMS = {
    "build": "construct", "construct": "build", "create": "set up", "found": "establish", "establish": "set up",
    "begin": "start", "start": "begin", "finish": "complete", "complete": "finish", "buy": "purchase",
    "purchase": "buy", "sell": "sell off", "win": "receive", "receive": "get", "employ": "have", "design": "draw up",
    "manage": "run", "run": "operate", "operate": "run", "hold": "contain", "carry": "transport", "make": "produce",
    "produce": "make", "replace": "supersede", "succeed": "replace", "retire": "step down", "die": "pass away",
    "marry": "wed",
    "publish": "bring out", "write": "author", "appoint": "name", "award": "give", "give": "grant", "grant": "give",
    "move": "relocate", "close": "shut", "deliver": "supply", "supply": "provide", "provide": "supply",
    "fund": "finance", "pay": "spend", "raise": "increase", "rise": "increase", "fall": "drop", "drop": "fall",
    "record": "log", "remove": "take out", "hand": "pass", "use": "employ", "power": "drive", "link": "connect",
    "connect": "link", "reach": "amount to", "cover": "span", "invent": "devise", "develop": "devise",
    "leave": "quit", "lead": "head", "teach": "instruct", "study": "train in", "serve": "work", "describe": "portray",
    "name": "call", "call": "name", "visit": "tour", "host": "stage", "hire": "employ", "attract": "draw",
}
_WH_START = re.compile(r"^(?:who|whom|whose|what|which|when|where|why|how|in|on|at|by|for|from|to|with|"
                       r"during|since|until|after|before|under|into|of|is|are|was|were|did|does|do|has|have|had)\b",
                       re.IGNORECASE)


def _inflect(lemma: str, tag: str) -> str:
    return inflect(lemma, tag) or lemma


_LOWER_START = re.compile(r"\b(?P<w>In|On|At|By|During|After|Before|Since|Until|From|With|For|Under|Its|Their|The|"
                          r"Later|Then|Next|Finally|Meanwhile|Afterwards|Today|Now|Eventually|Soon|"
                          r"Recently|Originally|Initially)\b(?=\s|\?|$)")


def _q(text: str) -> str:
    text = re.sub(r"\s+", " ", text).strip(" ,;:")
    # a fronted phrase moved after the verb keeps no capital ("... In its first summer?")
    text = text[:1] + _LOWER_START.sub(lambda m: m.group("w").lower(), text[1:])
    text = re.sub(r"\s+([,?;:])", r"\1", text).rstrip(",;:.")
    text = re.sub(r"[£$€]\s*(?=(?:how much|what sum)\b)", "", text, flags=re.IGNORECASE)  # "for £ how much?"
    return text[:1].upper() + text[1:] + "?"


_NUMBER_WORDS = {"one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
                 "twenty", "thirty", "forty", "fifty", "hundred", "thousand", "million", "billion", "dozen"}


_HEDGES = {"about", "some", "nearly", "over", "more", "than", "almost", "around", "the", "a", "an", "estimated",
           "approximately", "roughly", "just", "under", "fewer", "less", "up", "to", "exactly", "only"}


def _count_noun(fact: Fact) -> str:
    """What is counted: "sets of the Corvane pontoon" in "More than 1,900 sets ... were made"."""
    if fact.role == "number":
        return fact.frame.get("head_noun") or ""
    # a counted subject keeps its owner in the question: "How many sets of X were manufactured?"
    said = fact.span
    if fact.role == "subject" and fact.subject.lower().startswith(fact.span.lower()):
        said = fact.subject
    words = said.split()
    while words and (re.fullmatch(r"[\d.,]+", words[0]) or words[0].lower() in _NUMBER_WORDS | _HEDGES):
        words = words[1:]
    return " ".join(words) if words and len(words) < len(said.split()) else ""


_NUMBER_WORD = (r"(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|"
                r"sixteen|seventeen|eighteen|nineteen|(?:twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety)"
                r"(?:-\w+)?|a hundred|a dozen|a few|several|many)")
_DURATION = re.compile(r"^(?:about |some |nearly |almost |over |more than |under )?"
                       rf"(?:\d[\d.,]*|an?|{_NUMBER_WORD})"
                       r"\s+(seconds?|minutes?|hours?|days?|weeks?|months?|years?|decades?)$", re.IGNORECASE)


# nouns that, closing a name, say what kind of thing it names ("the Tansy Spring", "the Garnet Medal")
_TYPE_TAILS = {"spring", "medal", "prize", "award", "bridge", "viaduct", "street", "road", "point", "quay", "pier",
               "river", "lake", "college", "school", "university", "council", "company", "works", "society", "trust",
               "railway", "station", "hall", "park", "museum", "church", "tower", "building", "house", "bank",
               "report", "act", "plan", "island", "bay", "harbour", "hill", "valley", "canal", "dock", "library",
               "institute", "institution", "ministry", "board", "authority", "agency", "commission", "club"}
_TYPE_HEADS = {"storm", "hurricane", "cyclone", "typhoon", "lake", "mount", "river", "fort", "port", "cape"}
_DESCRIBED = re.compile(r"^((?:[a-z][a-z-]+ ){1,2})(?=[A-Z0-9])")


def type_noun(span: str) -> str:
    """The kind of thing a name names, where the span says it: "the contractor Halloran & Vesk" -> contractor,
    "the bulk carrier Merrow Dawn" -> bulk carrier, "the Tansy Spring" -> spring, "Storm Idris" -> storm."""
    bare = re.sub(r"^(?:the|a|an) ", "", span)
    described = _DESCRIBED.match(bare)
    if described and is_noun(described.group(1).split()[-1]):  # not "the older Quillmarsh Pier Trust"
        return described.group(1).strip()
    words = bare.split(" of ")[0].split()
    if len(words) >= 2 and words[-1][:1].isupper() and words[-1].lower() in _TYPE_TAILS:
        return words[-1].lower()
    if len(words) >= 2 and words[0].lower() in _TYPE_HEADS:
        return words[0].lower()
    return ""


_DOUBLE_WH = re.compile(r"\b(?:who|whom|what|which)\s+(?:who|whom|what|which|its|her|his|their|our|my)\b",
                        re.IGNORECASE)
_WHOM_SUBJECT = re.compile(r"^Whom (?!(?:did|does|do|was|were|is|are|has|have|had|will|would|can|could|should|might|"
                           r"may|must)\b)")
_BROKEN_HOLE = re.compile(r"\b(?:(?:the|a|an|its|their|his|her|\d[\d,.]*) (?:which|what|how many|how much)|"
                          r"(?:the|a|an|its|their|his|her) (?:who|whom|whose|when|where))\b", re.IGNORECASE)
_SHARE = re.compile(r"^(?:about |nearly |almost |over |more than |under |some |roughly |just )?"
                    r"(?:(?:a|an|one|two|three|four) (?:half|thirds?|quarters?|fifths?|tenths?)|half|"
                    r"\d+(?:\.\d+)? ?(?:per cent|percent|%)) of (the .+|its .+|their .+)$", re.IGNORECASE)
_DATED = re.compile(r"^(?:the|a|an) (?:1[5-9]\d\d|20\d\d) [a-z]", re.IGNORECASE)
_AGE = re.compile(r"^(?:the )?age of \w+$", re.IGNORECASE)
_MONTH = re.compile(r"(?:January|February|March|April|May|June|July|August|September|October|November|December)")


def wh_words(fact: Fact) -> tuple[str, str, str]:
    """(fronted question word, in-place question word, another fronted question word) for the fact's kind."""
    kind, prep, span = fact.kind, fact.frame.get("prep", ""), fact.span
    if prep in ("because", "due"):  # "because of the salt air"
        return "Why", "why", "For what reason"
    if _AGE.match(span):  # "at the age of twelve"
        return "At what age", "what age", "At which age"
    share = _SHARE.match(span)
    if share and kind in ("number", "quantity", "percent", "money", "thing"):  # "nearly a third of the crop"
        whole = share.group(1)
        return f"How much of {whole}", f"how much of {whole}", f"What share of {whole}"
    if kind == "date" and prep in ("from", "to", "until") and any(
            _RANGE_END.match(p.get("text", "")) for p in fact.frame.get("parts", [])):
        # "closed from 1940 to 1946": each end asked as an end, not both as "When was it closed?"
        return ("From when", "which year", "From what year") if prep == "from" else (
            "Until when", "which year", "Until what year")
    if kind == "date" and prep == "since":  # "has looked after the hives since 2011"
        year = re.fullmatch(r"\d{4}", span)
        return "Since when", "which year" if year else "when", "Since what year" if year else "Since what date"
    duration = _DURATION.match(span)
    if duration and kind in ("date", "time", "quantity", "number"):  # "74 seconds", "for 17 years"
        unit = duration.group(1).lower()
        unit = unit if unit.endswith("s") else unit + "s"
        return "How long", "how long", f"How many {unit}"
    if kind == "date":
        if _MONTH.fullmatch(span):  # "August was the busiest month"
            return "Which month", "which month", "What month"
        if re.search(r"\b\d{1,2}\s+[A-Z][a-z]+|\b[A-Z][a-z]+\s+\d{1,2},", span):
            return "When", "what date", "On what date"
        if re.fullmatch(r"(?:the )?(?:year )?\d{4}", span):
            return "When", "which year", "In what year"
        if re.search(r"\b\d{4}\b", span):
            if _MONTH.match(span) and prep in ("in", ""):  # "in January 2020", as readers ask for it
                return "When", "what month and year", "In what month and year"
            return "When", "what month and year", "At what time"
        if re.search(r"\b(?:years?|months?|weeks?|days?|decades?)\b", span) and re.search(
                rf"\d|\b{_NUMBER_WORD}\b", span, re.IGNORECASE):
            return "How long", "how long", "For how long"
        return "When", "what time", "At what point"
    if kind == "time":
        return "When", "what time", "At what time"
    if kind == "money":
        return "How much", "how much", "What sum"
    if kind == "percent":
        return "What percentage", "what percentage", "What share"
    if kind in ("number", "quantity"):
        noun = _count_noun(fact)
        if noun:
            # "How many of the boats ...?" -> "What number of the boats ...?"
            other = f"What number {noun}" if noun.startswith("of ") else f"What number of {noun}"
            return f"How many {noun}", f"how many {noun}", other
        return "How many", "how many", "What number"
    noun = type_noun(span) if kind in ("person", "organisation", "place", "name", "thing") else ""
    if not noun and kind in ("organisation", "place", "name", "thing"):
        noun = fact.frame.get("type", "")  # the name's description in the sentence ("a suction dredger")
    if kind == "person":
        return ("Whom" if prep else "Who"), "whom" if prep else "who", f"Which {noun or 'person'}"
    if kind == "organisation":
        return f"Which {noun or 'organisation'}", f"which {noun or 'organisation'}", "What organisation"
    if kind == "place":
        if prep in ("in", "at", "near", "on"):
            return "Where", "where", f"In which {noun or 'place'}"
        return f"Which {noun or 'place'}", f"which {noun or 'place'}", f"What {noun or 'place'}"
    if noun:  # "the Tansy Spring" is asked as "Which spring ...", "Storm Idris" as "Which storm ..."
        return f"Which {noun}", f"which {noun}", "What"
    # a subject, or a thing dated by a year ("at the 2019 festival"), is also asked by its kind
    head = head_noun(span) if fact.role == "subject" or _DATED.match(span) else ""
    if head and fact.role != "subject":
        return f"Which {head}", f"which {head}", "What"
    return "What", "what", f"Which {head}" if head else ""


_HEAD_END = re.compile(r"\s+(?:of|on|in|at|for|with|from|by|to|near)\s+")


def head_noun(span: str) -> str:
    """The common noun a described thing is named by: "the disused signal tower on Tern Stack" -> tower, "the
    local fishing fleet of X" -> fleet; "" for a bare noun ("Work") or a name. Asked as "Which tower was handed
    over to ...?" beside "What was handed over to ...?", as readers ask for a thing by its kind."""
    words = re.sub(r"^(?:the|a|an)\s+", "", _HEAD_END.split(span, 1)[0], flags=re.IGNORECASE).split()
    head = words[-1] if len(words) >= 2 else ""
    return head if head.isalpha() and head.islower() and is_noun(head) else ""


_RANGE_END = re.compile(r"^(?:to|until|till|from)\s+(?:\w+\s+)?\d{3,4}\b")


def _placed(fact: Fact, part: dict) -> bool:
    """Whether a part that places the clause at the document's subject ("at the X Authority") adds a name the
    question lacks: not where the asked span or another subject (see ``_about``) names it already."""
    topic = part["text"].split(" ", 1)[-1].lower().removeprefix("the ")
    frame = fact.frame
    others = [p.get("text", "") for p in frame.get("parts", []) if p is not part]
    return not any(topic in x.lower() for x in (fact.span, frame.get("subject", ""), *others))


_NOT_MANNER = {"only", "early", "daily", "weekly", "monthly", "yearly", "likely", "family", "rally", "italy"}


def _verb_adverb(part: dict) -> bool:
    """A one-word "-ly" adverb that stood before the verb ("partly collapsed", "briefly grounded"): it goes back
    before the verb, not to the question's end ("... during Storm Idris partly?")."""
    text = part.get("text", "").strip(" ,")
    return bool(part.get("pre") and part.get("dep") == "advmod" and not part.get("asked")
                and re.fullmatch(r"[A-Za-z]+ly", text) and text.lower() not in _NOT_MANNER)


def _adverb(fact: Fact) -> str:
    return " ".join(p["text"].strip(" ,").lower() for p in fact.frame.get("parts", []) if _verb_adverb(p))


def _parts(fact: Fact, inner: str = "", placed: bool = True) -> tuple[str, str]:
    """(words after the verb, fronted phrases moved to the end) without the asked phrase; ``inner``
    fills the hole when the asked span sits inside a phrase; ``placed`` keeps a phrase that places the clause
    at the document's subject."""
    post, pre = [], []
    ranged = fact.kind == "date" and fact.role in ("prep:from", "prep:to", "prep:until")
    for part in fact.frame.get("parts", []):
        if part.get("asked") or ranged and _RANGE_END.match(part.get("text", "")):
            continue  # "closed from 1940 to 1946" asked for 1940 is not "When was it closed to 1946?"
        if part.get("dep") == "topic" and not (placed and _placed(fact, part)) or _verb_adverb(part):
            continue  # a verb's adverb is said with the verb (``_verb_bits``, ``_finite``)
        text = part["text"]
        if part.get("hole"):
            if not inner and not part.get("gap"):
                continue
            text = f"{part['before']} {inner} {part['after']}"
        (pre if part.get("pre") else post).append(text)
    return " ".join(post), " ".join(pre)


def _verb_bits(fact: Fact, lemma: str | None = None) -> tuple[str, str]:
    """(inverted auxiliary, verb after the subject): "did", "build" / "was", "built" / "is", ""."""
    f = fact.frame
    auxes, lemma = list(f.get("auxes", [])), lemma or f.get("lemma", "")
    prt = f.get("prt", "")
    adverb = _adverb(fact)
    if auxes:
        verb = _inflect(lemma, f["tag"]) if lemma != f.get("lemma") else f["verb"]
        return auxes[0], " ".join(" ".join([*auxes[1:], adverb, verb, prt]).split())
    if f.get("lemma") == "be":
        return f["verb"], adverb
    return _DO.get(f.get("tag", ""), "did"), " ".join(f"{adverb} {lemma} {prt}".split())


def _finite(fact: Fact, lemma: str | None = None) -> str:
    """The verb group as the subject would use it: "was built", "built", "is"."""
    f = fact.frame
    lemma = lemma or f.get("lemma", "")
    verb = f["verb"] if lemma == f.get("lemma") else _inflect(lemma, f.get("tag", "VBD"))
    return " ".join(" ".join([*f.get("auxes", []), _adverb(fact), verb, f.get("prt", "")]).split())


def fronted(fact: Fact, wh: str, lemma: str | None = None) -> str | None:
    f = fact.frame
    if not f:
        return None
    inner = "inner" in fact.role
    if inner:
        return None
    post, pre = _parts(fact)
    if fact.role == "subject":
        return _q(f"{wh} {_finite(fact, lemma)} {post} {pre}")
    aux, verb = _verb_bits(fact, lemma)
    prep = f.get("prep", "")
    if prep and not wh.lower().startswith(("when", "where", "how long", "in ", "on ", "at ", "for ", "why", "from ",
                                           "until ", "since ")) \
            and fact.role.startswith("prep"):
        wh = f"{prep.capitalize()} {wh[0].lower() + wh[1:]}"
    if fact.role == "agent":
        wh = f"By {wh[0].lower() + wh[1:]}" if not wh.startswith("By") else wh
    return _q(f"{wh} {aux} {mid_sentence(f['subject'])} {verb} {post} {pre}")


def in_place(fact: Fact, wh: str) -> str | None:
    """The clause as a statement with the fact replaced by a question word: "... opened on what date?"."""
    f = fact.frame
    if not f or wh == "why":  # "... because why?" is no question
        return None
    if "inner" in fact.role or fact.role == "number":
        if fact.role == "number":
            wh = "how many" if wh.startswith("how many") else "what number of"
        post, pre = _parts(fact, inner=wh, placed=False)
        if not any(p.get("hole") for p in f.get("parts", [])):
            return None
    else:
        post, pre = _parts(fact, placed=False)  # "... will become at the X Authority what?" reads badly
    if fact.role == "subject":
        return None
    asked = "" if "inner" in fact.role or fact.role == "number" else wh
    prep = f.get("prep", "") if fact.role.startswith("prep") and "inner" not in fact.role else ""
    if fact.role == "agent":
        prep = "by"
    if wh in ("where",) and prep:
        prep = ""
    return _q(f"{pre} {f['subject']} {_finite(fact)} {post} {prep} {asked}")


# verbs whose object is a measure or a state, which has no passive: "The shed cost £2 million"
_STATIVE = {"be", "cost", "have", "become", "weigh", "measure", "last", "earn", "remain", "seem", "total",
            "number", "reach", "lack", "mean", "resemble", "contain"}


def other_voice(fact: Fact, wh: str) -> str | None:
    """A passive clause asked for its agent in the active, or an active one asked for its object in the
    passive: "Who built the wall?" / "What was built by Halloran & Vesk?"."""
    f = fact.frame
    if not f or "inner" in fact.role:
        return None
    post, pre = _parts(fact)
    if fact.role == "agent" and f.get("passive"):
        past = _inflect(f["lemma"], "VBD")
        return _q(f"{wh} {past} {mid_sentence(f['subject'])} {post} {pre}")
    # "went on to design the viaduct": the object is the infinitive's, and "go" has no passive
    in_infinitive = any(p.get("gap") for p in f.get("parts", []))
    if fact.role == "object" and not f.get("passive") and not f.get("auxes") and f.get("lemma") not in _STATIVE \
            and fact.kind not in ("money", "percent", "quantity") and not in_infinitive:
        participle = _inflect(f["lemma"], "VBN")
        be = "was" if f.get("tag") == "VBD" else "is"
        return _q(f"{wh} {be} {participle} by {mid_sentence(f['subject'])} {post} {pre}")
    return None


def doer_question(fact: Fact) -> str | None:
    """Who did it, asked with the doer's noun: "X was designed by Y" -> "Who was the designer of X?";
    "Y founded X" -> "Who was the founder of X?"."""
    f = fact.frame
    if fact.kind not in ("person", "organisation") or not f or "inner" in fact.role:
        return None
    noun = agent_noun(f.get("lemma", ""))
    if not noun or f.get("prt"):
        return None  # "carried out" has no doer noun: "the carrier of 1,092 acts of pilotage" is someone else
    be = "is" if f.get("tag") in ("VBZ", "VBP") else "was"
    if fact.role == "agent" and f.get("passive"):
        thing = f["subject"]
    elif fact.role == "subject" and not f.get("passive"):
        thing = next((p["text"] for p in f.get("parts", []) if p.get("dep") == "dobj" and p.get("text")), "")
    else:
        return None
    return _q(f"Who {be} the {noun} of {mid_sentence(thing)}") if thing else None


def measure_questions(fact: Fact) -> list[str]:
    """"The line is 168 metres long" asked for its length: "How long is the line?", "What is the length of
    the line?", "How many metres long is the line?" and "The line is how many metres long?"."""
    f = fact.frame
    dim, be, subject = f["dimension"], _finite(fact), f["subject"]
    noun = DIMENSIONS[dim]
    post, pre = _parts(fact)
    unit = _count_noun(fact)
    rest = f"{post} {pre}".strip()
    found = [_q(f"How {dim} {be} {subject} {rest}"), _q(f"What {be} the {noun} of {subject} {rest}")]
    if unit:
        found += [_q(f"How many {unit} {dim} {be} {subject} {rest}"),
                  _q(f"{pre} {subject} {be} how many {unit} {dim}")]
    return found


_AMOUNT_KINDS = {"money", "quantity", "number", "percent", "date", "time"}
_PREPS = r"(?:at|for|after|before|in|on|by|with|to|from|of|during|until|since|within|over|under)"
# a preposition alone or with the noun it measures: "after", "at a cost of" (not "to an engineer under")
_FRONTABLE = re.compile(rf"^(?:{_PREPS}(?:\s+(?:a|an|the)\s+[a-z]+\s+of)?)?$")
_NOMINAL = re.compile(r"^(?:at|for|with|to|of|by)?\s*(?:a|an|the)\s+(?P<noun>[a-z]+)\s+of$")


def inner_questions(fact: Fact) -> list[str]:
    """An amount inside a phrase asked with that phrase fronted, as a reader asks it: "finished in February 2022
    at a cost of £7.6 million" -> "What was the cost of the reconstruction of the North Quay wall?", "How much
    did the reconstruction of the North Quay wall cost?", "At a cost of how much did ... finish in February
    2022?"; "bought the line for £8,750" -> "For how much did ... buy the line?". Only a preposition, alone or
    with the noun it measures, is fronted: a longer phrase ("To an engineer under what age ...") reads as no
    question."""
    f = fact.frame
    if "inner" not in fact.role or fact.kind not in _AMOUNT_KINDS or not f:
        return []
    hole = next((p for p in f.get("parts", []) if p.get("hole")), None)
    before = re.sub(r"\s*[£$€]$", "", hole["before"]) if hole else ""  # "for £8,750": the wh word asks the sum
    if hole is None or hole.get("gap") or not _FRONTABLE.match(before) or len(hole["after"].split()) > 3:
        return []
    _, wh_in, _ = wh_words(fact)
    post, pre = _parts(fact)
    aux, verb = _verb_bits(fact)
    subject = mid_sentence(f["subject"])
    found = []
    nominal = _NOMINAL.match(before) if not hole["after"] else None
    if nominal:  # "at a cost of": the cost of the subject
        be = "is" if f.get("tag") in ("VBZ", "VBP") else "was"
        found.append(_q(f"What {be} the {nominal['noun']} of {subject}"))
        if nominal["noun"] in ("cost", "price") and fact.kind == "money":
            found.append(_q(f"How much {'does' if be == 'is' else 'did'} {subject} cost"))
    found.append(_q(f"{before} {wh_in} {hole['after']} {aux} {subject} {verb} {post} {pre}"))
    return found


def how_old(fact: Fact) -> str | None:
    """"At the age of twelve she built a model bridge": "How old was X when X built a model bridge?"."""
    f = fact.frame
    if not f.get("subject") or f.get("auxes") and f.get("passive"):
        return None
    post, pre = _parts(fact)
    be = "is" if f.get("tag") in ("VBZ", "VBP") else "was"
    return _q(f"How old {be} {f['subject']} when {f['subject']} {_finite(fact)} {post} {pre}")


_POSSESSIVE = re.compile(r"^(?P<the>the\s+)?(?P<owner>[^']+?)'s\s+(?P<thing>[^',]+)$", re.IGNORECASE)


def of_form(phrase: str) -> str | None:
    """"the Brackwater Sound Harbour Authority's chair" -> "the chair of the Brackwater Sound Harbour
    Authority": the same thing named from its other end, as readers ask it as often; None without a
    possessive (or with a long one, whose end the pattern cannot find)."""
    m = _POSSESSIVE.match(phrase.strip())
    if m is None or len(m["thing"].split()) > 4 or len(m["owner"].split()) > 6 or re.search(r"\bof\b", m["owner"]):
        return None  # "the structure of X's bridge" is no possessive of "the structure of X"
    return f"the {m['thing']} of {m['the'] or ''}{m['owner']}"


def _about(fact: Fact, subject: str) -> Fact:
    """The fact with its clause's subject named another way."""
    return Fact(**{**fact.to_dict(), "frame": {**fact.frame, "subject": subject}})


# prepositions that set a clause in time or place, or name its doer: the verb means the same without them
# ("spent three years on remediation" needs its "on"; "opened in September 2021 at East Quay" needs neither)
_ADJUNCT_PREPS = {"in", "at", "during", "after", "before", "since", "until", "by", "through", "across", "over",
                  "under", "near", "within", "throughout", "around", "between", "along", "beside"}
_DATED_PART = re.compile(rf"\b(?:1[5-9]\d\d|20\d\d)\b|{_MONTH.pattern}")


def _adjunct(part: dict) -> bool:
    """A phrase a reader's question may leave out: fronted, the doer, an adverb, a time, or a place."""
    text = part.get("text", "")
    if part.get("dep") == "topic":
        return False
    if part.get("pre") or part.get("dep") in ("agent", "advmod", "npadvmod"):
        return True
    return part.get("dep") == "prep" and (text.split(" ", 1)[0].lower() in _ADJUNCT_PREPS
                                          or bool(_DATED_PART.search(text)))


def _plain_wh(wh: str, wh_alt: str) -> str:
    """The question word a short question reads best with: "In what year" before "When", but "When" before "At
    what time" or "At what point"."""
    return wh_alt if wh_alt and not wh_alt.startswith("At ") else wh


def short_question(fact: Fact, wh: str, lemma: str | None = None) -> str | None:
    """The fronted question without the clause's other phrases, as a reader asks it: "In what year was the
    Brackwater Sound Harbour Authority created?" beside "... created by an order of the Dunholt County
    Council?". None where nothing would be left out, or where a subject would be asked with no object to
    tell it from the document's other subjects ("What arrived?")."""
    f = fact.frame
    if not f or "inner" in fact.role or fact.role in ("number", "measure"):
        return None
    parts = f.get("parts", [])
    kept = [p for p in parts if p.get("asked") or p.get("hole") or not _adjunct(p)]
    if len(kept) == len(parts):
        return None
    if fact.role == "subject" and not any(p.get("dep") in ("dobj", "attr") and re.search(r"[\dA-Z]", p.get("text", ""))
                                          for p in kept):
        return None  # "Which person took office?", "What traced the grounding?" fit many subjects
    return fronted(Fact(**{**fact.to_dict(), "frame": {**f, "parts": kept}}), wh, lemma)


def _other_subjects(fact: Fact) -> list[str]:
    """Other names of the clause's subject a question may use: a description of it and the possessive turned."""
    subject = fact.frame.get("subject", "")
    return [s for s in (fact.frame.get("alt_subject"), of_form(subject)) if s and s.lower() != subject.lower()]


def appos_questions(fact: Fact) -> list[str]:
    be, about, kind = fact.frame["copula"], fact.frame["about"], fact.frame.get("name_kind", "name")
    if fact.role == "appos-name":  # asked: the name, given its description
        who = "Who" if kind == "person" else "What"
        which = {"person": "Which person", "organisation": "Which organisation", "place": "Which place"}.get(
            kind, "Which one")
        turned = of_form(mid_sentence(about))
        return [_q(f"{who} {be} {mid_sentence(about)}"), _q(f"{who} {be} {turned}") if turned else "",
                _q(f"{which} {be} {mid_sentence(about)}"), _q(f"What {be} the name of {mid_sentence(about)}")]
    who = "Who" if kind == "person" else "What"
    return [_q(f"{who} {be} {about}"), _q(f"How is {about} described"),
            _q(f"What kind of {'person' if kind == 'person' else 'entity'} {be} {about}")]


def life_questions(fact: Fact) -> list[str]:
    """"X (1903–1978)" asked for either end: "When was X born?", "In what year did X die?"."""
    person = fact.frame["person"]
    year = "In what year" if re.fullmatch(r"\d{4}", fact.span) else "On what date"
    if fact.role == "born":
        return [_q(f"When was {person} born"), _q(f"{year} was {person} born"),
                _q(f"What is the date of birth of {person}"), _q(f"{person} was born in which year")]
    return [_q(f"When did {person} die"), _q(f"{year} did {person} die"),
            _q(f"What was the date of death of {person}"), _q(f"{person} died in which year")]


def np_measure_questions(fact: Fact) -> list[str]:
    """"its main span of 412 metres": "How long is its main span?", "What is the length of ..."."""
    f = fact.frame
    be, thing, adj, noun, unit = f["copula"], f["subject"], f["dimension"], f["noun"], f.get("unit", "")
    found = [_q(f"What {be} the {noun} of {thing}")]
    if adj:
        found += [_q(f"How {adj} {be} {thing}"), _q(f"How many {unit} {adj} {be} {thing}") if unit else None]
    elif noun == "capacity":
        have = "has" if be == "is" else "had"
        found += [_q(f"How much {'does' if be == 'is' else 'did'} {thing} hold"),
                  _q(f"How many {unit} {'does' if be == 'is' else 'did'} {thing} hold") if unit else None,
                  _q(f"What capacity {have} {thing}")]
    elif noun == "diameter" and unit:
        found.append(_q(f"How many {unit} across {be} {thing}"))
    found.append(_q(f"The {noun} of {thing} {be} how many {unit}") if unit else None)
    return [q for q in found if q]


def np_maker_questions(fact: Fact) -> list[str]:
    """"a statue by the sculptor Nell Gaudry": "Who made the statue?", "By whom was the statue made?"."""
    be, thing = fact.frame["copula"], fact.frame["subject"]
    who = "Who" if fact.kind == "person" else "Which organisation"
    by = "By whom" if fact.kind == "person" else "By which organisation"
    return [_q(f"{who} made {thing}"), _q(f"{by} {be} {thing} made"), _q(f"{who} created {thing}"),
            _q(f"Whose work {be} {thing}")]


def dated_questions(fact: Fact) -> list[str]:
    """"The Honest Span (1948)": "When is The Honest Span from?" and "Which work of X is from 1948?"."""
    name, year, work = fact.frame["name"], fact.frame["year"], fact.frame.get("work", "")
    if fact.role == "dated":
        return [_q(f"When does {name} date from"), _q(f"From what year is {name}"),
                _q(f"In which year did {name} appear")]
    if work:
        owner = work.removeprefix("a work of ")
        return [_q(f"Which work of {owner} is from {year}"), _q(f"What did {owner} produce in {year}"),
                _q(f"Name the work of {owner} from {year}")]
    return [_q(f"What dates from {year}"), _q(f"Which one is from {year}")]


def family_questions(fact: Fact) -> list[str]:
    """"X was the youngest of five children of A and B": "Who were X's parents?", "Whose child was X?"; and
    "How many children did A and B have?"."""
    f = fact.frame
    child, noun, be, relation = f["child"], f["noun"], f["copula"], f["relation"]
    if fact.role == "family-count":
        do = "do" if be == "is" else "did"
        few = re.sub(r"\b(?:of )?\S+ (children|sons|daughters)$", r"of how many \1", relation)
        return [_q(f"How many children {do} {f['parents']} have"), _q(f"{child} {be} {few}") if few != relation
                else "", _q(f"How many children {do} {child}'s parents have")]
    if f["plural"]:
        are = "are" if be == "is" else "were"
        return [_q(f"Who {are} the parents of {child}"), _q(f"Whose {noun} {be} {child}"),
                _q(f"Who {are} {child}'s mother and father"), _q(f"{child} {be} {relation} of whom")]
    return [_q(f"Whose {noun} {be} {child}"), _q(f"{child} {be} {relation} of whom"),
            _q(f"Who {be} a parent of {child}")]


_OWN_QUESTIONS = {"parents": family_questions, "family-count": family_questions,
                  "dated": dated_questions, "dated-name": dated_questions, "born": life_questions,
                  "died": life_questions, "np-measure": np_measure_questions,
                  "np-maker": np_maker_questions}


def questions(fact: Fact, n: int = 4, short: bool = False) -> list[str]:
    """Up to ``n`` distinct wordings of the question the fact answers, best first; those that fail
    ``check_question`` are left out."""
    return [q for q, _ in wordings(fact, n, short)]


def wordings(fact: Fact, n: int = 4, short: bool = False) -> list[tuple[str, str]]:
    """Up to ``n`` (question, answer) pairs for one fact: distinct question wordings, best first, each with an
    answer sentence that states the fact. The answers vary with the questions: a question asked with another
    verb ("When did construction start?") is answered with that verb ("Construction of X started in October
    1889."), and others alternate between the source's clause and the same clause with its leading phrases
    moved to the end. Each fact is then seen in several statements, not one sentence repeated; a model
    recalls a fact from new wordings far better when it was trained on several (Allen-Zhu & Li, Physics of
    Language Models 3.1, 2023). ``short`` adds the question without the clause's other phrases
    (``short_question``)."""
    if fact.role in _OWN_QUESTIONS:
        found = [(q, None) for q in _OWN_QUESTIONS[fact.role](fact)]
    elif fact.role.startswith("appos"):
        found = [(q, None) for q in appos_questions(fact)]
    elif fact.role == "measure":
        found = [(q, None) for q in measure_questions(fact)]
        for other in _other_subjects(fact):
            found.insert(1, (measure_questions(_about(fact, other))[0], None))
    else:
        wh, wh_in, wh_alt = wh_words(fact)
        synonym = _synonym(fact)
        # most different first: only ``n`` are kept, and each should add words the others lack
        # the second leaves out the clause's other phrases, as readers do ("In what year was X set up?")
        found = [(fronted(fact, wh), None),
                 (short_question(fact, _plain_wh(wh, wh_alt), synonym) if short else None, synonym),
                 (other_voice(fact, wh_alt or wh), None),
                 (fronted(fact, wh_alt or wh, synonym) if synonym else None, synonym), (doer_question(fact), None),
                 (in_place(fact, wh_in), None), (fronted(fact, wh_alt) if wh_alt else None, None),
                 (other_voice(fact, wh), None), (fronted(fact, wh, synonym) if synonym else None, synonym)]
        if _AGE.match(fact.span) and fact.frame.get("prep", "at") == "at":
            # "at the age of 75" is the subject's age; "to an engineer under the age of 35" is not
            found.insert(1, (how_old(fact), None))
        found[:0] = [(q, None) for q in inner_questions(fact)]
        if fact.role != "subject":
            for other in reversed(_other_subjects(fact)):
                found.insert(1, (fronted(_about(fact, other), wh_alt or wh), None))
    out: list[tuple[str, str | None]] = []
    for q, lemma in found:
        q = _WHOM_SUBJECT.sub("Who ", q) if q else q  # "Whom published X?" asks the subject: "Who published X?"
        if q and check_question(q, fact.span) is None and all(distinct(q, o) for o, _ in out):
            out.append((q, lemma))
    out = out[:n]
    plain = [fact.answer, statement(fact) or fact.answer]
    return [(q, statement(fact, lemma) or fact.answer if lemma else plain[i % 2]) for i, (q, lemma) in enumerate(out)]


_CAPACITY_VERBS = {"hold"}


def _synonym(fact: Fact) -> str | None:
    """The table's other verb for the clause's verb; none for a phrasal verb ("carried out" is not
    "transported out") or a verb with a state after it ("was left unfinished" is not "was quitted unfinished")."""
    parts = fact.frame.get("parts", [])
    if fact.frame.get("prt") or any(p.get("dep") in ("oprd", "acomp") for p in parts):
        return None
    lemma = fact.frame.get("lemma", "")
    counted = any(p.get("dep") == "dobj" and re.search(r"\d", p.get("span") or p.get("text", "")) for p in parts)
    if lemma in _CAPACITY_VERBS and not counted:
        return None  # "holds 24 trams" contains them; "holds a festival" and "held the post" do not
    return SYNONYMS.get(lemma)


def statement(fact: Fact, lemma: str | None = None) -> str | None:
    """The fact's clause as one sentence from its parts: the subject, the verb (``lemma`` in its place, in
    the clause's tense and voice), the phrases after it, then the phrases that stood before the subject.
    None where the clause cannot be rebuilt or the result would not state the asked span."""
    f = fact.frame
    if not f or "inner" in fact.role or fact.role in _OWN_QUESTIONS or fact.role.startswith("appos") \
            or fact.role in ("measure", "number") or not f.get("subject"):
        return None
    post, pre = [], []
    for part in f.get("parts", []):
        text = part.get("span", "") if part.get("asked") else part.get("text", "")
        if part.get("hole"):
            return None
        if part.get("dep") == "topic" and not _placed(fact, part) or _verb_adverb(part):
            continue
        (pre if part.get("pre") else post).append(text)
    moved = [_LOWER_START.sub(lambda m: m.group("w").lower(), x, count=1) if _LOWER_START.match(x) else x
             for x in pre]
    body = " ".join(x for x in (f["subject"], _finite(fact, lemma), *post, *moved) if x)
    body = re.sub(r"\s+", " ", body).strip(" ,;:")
    body = re.sub(r"\s+([,;:.])", r"\1", body)
    sentence = body[:1].upper() + body[1:] + "."
    if fact.span.lower() not in sentence.lower() or len(sentence.split()) < 3:
        return None
    return sentence


def distinct(a: str, b: str) -> bool:
    """True when two wordings differ by more than a suffix or a word or two."""
    wa, wb = re.findall(r"\w+", a.lower()), re.findall(r"\w+", b.lower())
    if wa[:len(wb)] == wb or wb[:len(wa)] == wa:
        return False
    shared = len(set(wa) & set(wb)) / max(1, len(set(wa) | set(wb)))
    return shared < 0.9 or wa[:2] != wb[:2]


def _key_words(span: str) -> list[str]:
    stop = {"the", "a", "an", "of", "in", "on", "at", "by", "for", "and", "to", "its", "their", "his", "her"}
    return [w for w in re.findall(r"[\w£$€%.,'-]+", span.lower()) if w not in stop]


def check_question(question: str, answer_span: str) -> str | None:
    """None when ``question`` is a question that does not contain its answer; else the reason."""
    q = question.strip()
    if not q.endswith("?") or len(q.split()) < 4:
        return "not a question"
    if not _WH_START.match(q) and not re.search(r"\b(?:who|whom|what|which|when|where|how)\b", q, re.IGNORECASE):
        return "no question word"
    words = set(re.findall(r"[\w£$€%.,'-]+", q.lower()))
    key = [w for w in _key_words(answer_span) if len(w) > 2 or w.isdigit()]
    if key and all(w in words for w in key):
        return "gives the answer away"
    if re.search(r"\b(?:it|they|he|she|him|them)\b", q, re.IGNORECASE):
        return "unresolved reference"
    if _DOUBLE_WH.search(q):  # "after the retirement of who who had led ...", "Which its empty ...?"
        return "not a question"
    if _BROKEN_HOLE.search(q):  # "at the which year Ambry County Show?", "... and the who bridges?"
        return "not a question"
    return None
