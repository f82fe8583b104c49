"""Deterministic question generation from declarative sentences: no model, no randomness.

Sentences that state a fact (a date, a number, a name) are turned into questions by rules:
"In 1998 the council approved X." gives "When did the council approve X?" and "What did the council
approve in 1998?"; "X was designed by Y." gives "Who designed X?"; "The plan kept 23 warehouses." gives
"How many warehouses did the plan keep?"; when no rule fits, the fact is questioned in place ("The tram
opened on what date?"). The answer is always the source sentence, so it is grounded and carries the
fact. Rule-based paraphrases give a second phrasing with the same answer.

This module does not check grammar beyond its patterns, does not resolve pronouns ("It opened in 2012"
gives a question about "it", ranked last) and knows English only: sentences in other languages are skipped.
Standard library only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

MONTHS = ("January|February|March|April|May|June|July|August|September|October|November|December")
YEAR = r"(?:1[5-9]\d\d|20\d\d)"
_DAY_DATE = rf"(?:\d{{1,2}} (?:{MONTHS}),? {YEAR}|(?:{MONTHS}) \d{{1,2}}, {YEAR})"
_MONTH_DATE = rf"(?:(?:early |late |mid-)?(?:{MONTHS}) {YEAR})"
_SEASON = rf"(?:(?:the )?(?:spring|summer|autumn|fall|winter|end|start|beginning|middle) of {YEAR})"
DATE = rf"(?:{_DAY_DATE}|{_MONTH_DATE}|{_SEASON}|(?:the )?{YEAR}s|{YEAR})"
_SCALE = r"(?: (?:thousand|million|billion|trillion))?"
_NUM = r"(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?"
_WORD_NUM = ("two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen|"
             "seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|hundred")
MONEY = (rf"(?:[$\u00a3\u20ac\u00a5]{_NUM}{_SCALE}|{_NUM}{_SCALE} (?:pounds|dollars|euros|yuan|yen|francs)"
         rf"(?: sterling)?)")
PERCENT = rf"(?:{_NUM} ?(?:%|per ?cent))"
QUANTITY = rf"(?:(?:{_NUM}{_SCALE}|(?:{_WORD_NUM}))(?= [a-z]))"
NAME = r"(?:[A-Z][\w'\u2019-]+(?: (?:of|and|for|the|de|van|von|la|on) [A-Z][\w'\u2019-]+| [A-Z][\w'\u2019-]+)*)"


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_FACT = re.compile(rf"{DATE}|{MONEY}|{PERCENT}|{_NUM}|\b{NAME}")
_PRONOUN_START = re.compile(r"^(?:it|its|they|their|them|this|these|those|that|he|she|his|her|there|we|our|"
                            r"which|who|one|some|many|most|others?)\b", re.IGNORECASE)
_STARTERS = _words("the a an in on at by for from of to with during since after before until this that these "
                      "those it its they their there he she his her we our as if when while although but and or "
                      "so yet first second third finally however meanwhile also then today")

# past tense -> base form, for irregular verbs (including those whose forms are equal).
IRREGULAR_PAST = {
    "arose": "arise", "became": "become", "began": "begin", "bent": "bend", "bid": "bid", "bore": "bear",
    "bought": "buy", "bound": "bind", "broke": "break", "brought": "bring", "built": "build", "came": "come",
    "caught": "catch", "chose": "choose", "cost": "cost", "cut": "cut", "dealt": "deal", "did": "do",
    "drew": "draw", "drove": "drive", "dug": "dig", "fed": "feed", "fell": "fall", "felt": "feel",
    "fled": "flee", "flew": "fly", "fought": "fight", "found": "find", "froze": "freeze", "gave": "give",
    "got": "get", "grew": "grow", "had": "have", "heard": "hear", "held": "hold", "hit": "hit",
    "hung": "hang", "kept": "keep", "knew": "know", "laid": "lay", "led": "lead", "left": "leave",
    "lent": "lend", "lost": "lose", "made": "make", "meant": "mean", "met": "meet", "oversaw": "oversee",
    "overtook": "overtake", "paid": "pay", "put": "put", "ran": "run", "rebuilt": "rebuild", "rode": "ride",
    "rose": "rise", "said": "say", "sank": "sink", "sat": "sit", "saw": "see", "sent": "send", "set": "set",
    "shed": "shed", "shot": "shoot", "shut": "shut", "sold": "sell", "sought": "seek", "spent": "spend",
    "split": "split", "spoke": "speak", "spread": "spread", "stood": "stand", "struck": "strike",
    "swept": "sweep", "taught": "teach", "told": "tell", "took": "take", "thought": "think", "threw": "throw",
    "understood": "understand", "undertook": "undertake", "upheld": "uphold", "went": "go",
    "withdrew": "withdraw", "won": "win", "wrote": "write",
}
# participles that differ from the past tense (for "Who wrote X?" from "X was written by Y").
PARTICIPLE_PAST = {
    "become": "became", "begun": "began", "broken": "broke", "chosen": "chose", "done": "did", "drawn": "drew",
    "driven": "drove", "fallen": "fell", "flown": "flew", "forgotten": "forgot", "given": "gave",
    "grown": "grew", "hidden": "hid", "known": "knew", "overseen": "oversaw", "risen": "rose", "run": "ran",
    "seen": "saw", "shown": "showed", "spoken": "spoke", "stolen": "stole", "taken": "took", "thrown": "threw",
    "undertaken": "undertook", "withdrawn": "withdrew", "written": "wrote",
}
_NOT_VERBS = _words("red bed need seed speed feed hundred shed bred sled wed based named so-called "
                       "limited united detailed")
_AUX = _words("was were is are has have had")
_DETERMINERS = _words("the a an its their this these those his her our your each every some many most "
                         "well newly so of")
_ADVERBS = _words("also then later still only already soon never once finally first eventually "
                     "immediately originally jointly formally officially")
# Stems (past tense minus "ed") that need their final "e" back: approv-ed, reduc-ed, creat-ed, ...
_E_RESTORE = re.compile(
    r"(?:(?:[^aeiou]|i|u)at|creat|v|c|z|[aeiou]s|[npr]s|(?:an|en|r|d|a)g|(?<!a)ir|ur|[^e]ar|(?:st|pl|gn|sc|d)or"
    r"|[^aeioul]l|[^oa]id|ud|ut|(?:ple|de|mpe)t|(?:m|v|n|qu)ot|[^oe][oai]k|u|[^aeiou]ad|[^aeiou][aeiou]m"
    r"|(?:b|f|cl|m|l|f)in|(?<!i)(?:z|ph|t|cl|h)on|ib|(?:sh|esc|scr)ap|(?:h|c|sc)op|typ|unit|invit|cit|excit)$")
_E_KEEP = frozenset({"focus", "bias", "visit", "limit", "edit", "exhibit", "profit", "benefit", "audit",
                     "credit", "deposit", "inherit", "prohibit", "gas"})


def base_form(past: str) -> str:
    """The base form of a past-tense verb: approved -> approve, planned -> plan, built -> build."""
    v = past.lower()
    if v in IRREGULAR_PAST:
        return IRREGULAR_PAST[v]
    if v in _AUX:
        return {"was": "be", "were": "be", "had": "have"}.get(v, v)
    if not v.endswith("ed") or len(v) < 4:
        return v
    if v.endswith("ied") and len(v) > 4:
        return v[:-3] + "y"
    if v.endswith("eed"):
        return v[:-1]
    stem = v[:-2]
    if len(stem) >= 3 and stem[-1] == stem[-2] and stem[-1] in "bgmnprt" and stem[-3] in "aeiou":
        return stem[:-1]
    if stem not in _E_KEEP and _E_RESTORE.search(stem):
        return stem + "e"
    return stem


def past_of_participle(participle: str) -> str:
    return PARTICIPLE_PAST.get(participle.lower(), participle.lower())


# facts ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Fact:
    kind: str  # date, year, money, percent, quantity, name
    text: str
    start: int
    end: int


def find_facts(sentence: str) -> list[Fact]:
    """Dates, money, percentages, numbers and capitalised names (not the sentence's first word alone)."""
    facts = []
    for m in _FACT.finditer(sentence):
        text = m.group()
        if re.fullmatch(YEAR, text) or re.fullmatch(rf"(?:the )?{YEAR}s", text):
            kind = "year"
        elif re.fullmatch(DATE, text):
            kind = "date"
        elif re.fullmatch(MONEY, text):
            kind = "money"
        elif re.fullmatch(PERCENT, text):
            kind = "percent"
        elif re.fullmatch(_NUM, text):
            kind = "quantity"
        elif m.start() == 0 and " " not in text or text.lower() in _STARTERS:
            continue
        else:
            kind = "name"
        facts.append(Fact(kind, text, m.start(), m.end()))
    return facts


def has_fact(text: str) -> bool:
    """True when ``text`` states a date, number or name (used to judge 'fact-carrying' answers)."""
    return any(find_facts(s) for s in re.split(r"(?<=[.!?])\s+", text))


# clause analysis ------------------------------------------------------------------------------

@dataclass
class Clause:
    subject: str
    verb: str
    rest: str


def _is_verb(word: str, previous: str) -> bool:
    w = word.lower()
    if previous.lower() in _DETERMINERS or not w.isalpha() and "-" not in w:
        return False
    if w in _AUX or w in IRREGULAR_PAST:
        return True
    return w.endswith("ed") and len(w) > 4 and w not in _NOT_VERBS


def split_clause(clause: str) -> Clause | None:
    """Subject, finite verb and the rest of a simple declarative clause, or None."""
    words = clause.split()
    for i, word in enumerate(words[:12]):
        if i == 0 or not _is_verb(word, words[i - 1]):
            continue
        subject = words[:i]
        while subject and subject[-1].lower() in _ADVERBS | {"w" for w in subject[-1:] if w.endswith("ly")}:
            subject = subject[:-1]
        if not subject or any(w.endswith((",", ";", ":")) for w in subject):
            return None
        if subject[0].lower() in ("in", "on", "at", "by", "for", "from", "with", "during", "after", "before"):
            return None
        rest = " ".join(words[i + 1:])
        if word.lower().endswith("ed") and rest.startswith("by ") and word.lower() not in _AUX:
            return None  # "the land owned by the city was ...": a reduced relative, not the main verb
        return Clause(" ".join(subject), word, rest)
    return None


def _lower_first(text: str) -> str:
    first = text.split(" ", 1)[0]
    if first.lower() in _STARTERS or first.lower() in ("residents", "tenants", "people", "average", "about"):
        return text[0].lower() + text[1:]
    return text


def _main_part(rest: str) -> str:
    """The rest of a clause up to the first subordinate clause, list or second coordinated verb."""
    cut = re.split(r",? (?:where|which|while|whereas|although|because|so that|but|of which|who)\b|[;:]|, ",
                   rest, maxsplit=1)[0]
    words = cut.split()
    for i in range(len(words) - 1):
        if words[i] == "and" and (_is_verb(words[i + 1], "and") or words[i + 1].endswith("s") and re.match(
                r"(?:the|a|an|its|their|\d)", words[i + 2] if i + 2 < len(words) else "")):
            words = words[:i]
            break
    return " ".join(words).strip().rstrip(",")


_DISCOURSE = re.compile(r"^(?:However|Meanwhile|In addition|Also|First|Second|Third|Finally|Moreover|"
                        r"Furthermore|Later|Then|Today|Instead|Still|Thus|Therefore|As a result|By contrast|"
                        r"In contrast|At first|In the end|Overall|In total|Together),\s+")
_RELATIVE = re.compile(r",\s(?:who|whose)\s[^,]{1,80},\s")
_APPOSITIVE = re.compile(r",\s(?:the|a|an)\s[^,\d]{1,60},\s")
_NAMED_APPOSITIVE = re.compile(r"^(?:The|A|An) [a-z]+(?: [a-z]+)?, the ((?:[A-Z][\w'-]+ ?)+), ")


def _drop_appositives(s: str) -> str:
    s = _NAMED_APPOSITIVE.sub(lambda m: f"The {m.group(1).strip()} ", s)
    s = _RELATIVE.sub(" ", s)
    return _APPOSITIVE.sub(lambda m: " " if not any(_is_verb(w, "") for w in m.group().split()) else m.group(), s)


def normalise_sentence(sentence: str) -> str | None:
    """A declarative sentence ready for the rules (discourse marker and appositives removed), or None."""
    s = sentence.strip()
    if not s.endswith(".") or not 5 <= len(s.split()) <= 50 or not re.match(r"[A-Z0-9\"'\u201c]", s):
        return None
    s = _drop_appositives(_DISCOURSE.sub("", s))
    return s[0].upper() + s[1:-1].strip()


# rules ----------------------------------------------------------------------------------------------

@dataclass
class Candidate:
    """One fact of one sentence asked in one or more phrasings, all answered by ``answer``."""

    questions: list[str]
    answer: str
    rule: str
    fact: str
    rank: int  # lower is better
    pronoun: bool = field(default=False)


def _q(text: str) -> str:
    text = re.sub(r"\s+", " ", text).strip().rstrip(".,;:")
    return text[0].upper() + text[1:] + "?"


def _has_other_date(text: str, date: str) -> bool:
    return bool(re.search(YEAR, text.replace(date, "")))


def _verb_phrase(clause: Clause) -> tuple[str, str, str] | None:
    """(auxiliary for a question, verb for after the subject, rest): approved -> (did, approve, rest);
    was closed -> (was, closed, rest); had completed -> (had, completed, rest)."""
    verb = clause.verb.lower()
    if verb in ("was", "were", "is", "are"):
        return (verb, "", clause.rest) if clause.rest else None
    if verb in ("has", "have", "had"):
        nxt, _, rest = clause.rest.partition(" ")
        if _is_verb(nxt, verb) and nxt.lower() not in _AUX:
            return verb, nxt, rest
        return ("did", "have", clause.rest) if verb == "had" else None
    return "did", base_form(verb), clause.rest


def _ask_when(clause: Clause, wh: str = "When") -> str | None:
    vp = _verb_phrase(clause)
    if vp is None:
        return None
    aux, verb, rest = vp
    return _q(f"{wh} {aux} {_lower_first(clause.subject)} {verb} {_main_part(rest)}")


def _year_phrase(date: str) -> str:
    if re.fullmatch(_DAY_DATE, date):
        return "on what date"
    return "in which year" if re.fullmatch(YEAR, date) else "when"


_NP_START = re.compile(r"^(?:the|a|an|its|their|his|her|[A-Z0-9\u00a3$\u20ac]|about|some|more|over|nearly)\b")
_TIME_FRONT = re.compile(rf"^(?P<prep>In|On|By|During|Since|From|Before|After|Until) "
                         rf"(?P<date>{DATE}),? (?P<clause>.+)$")
_TIME_END = re.compile(rf"^(?P<clause>.+?),? (?P<prep>in|on|by|during|since|until) (?P<date>{DATE})$")
_WHEN = {"by": "By when", "since": "Since when", "until": "Until when"}


def rule_time_front(s: str, answer: str) -> list[Candidate]:
    """"In 1998 the council approved X" -> When did the council approve X? / What did ... approve in 1998?"""
    m = _TIME_FRONT.match(s)
    clause = split_clause(m.group("clause")) if m else None
    if not m or not clause or _has_other_date(m.group("clause"), ""):
        return []
    date, prep = m.group("date"), m.group("prep").lower()
    out = []
    when = _ask_when(clause, _WHEN.get(prep, "When"))
    if when:
        tail = _year_phrase(date) if prep in ("in", "on", "during") else f"{prep} when"
        echo = _q(f"{_lower_first(clause.subject)} {clause.verb} {_main_part(clause.rest)} {tail}")
        out.append(Candidate([when, echo], answer, "time-front", date, 0))
    verb = clause.verb.lower()
    if verb not in _AUX and _NP_START.match(clause.rest):
        subject, base = _lower_first(clause.subject), base_form(verb)
        what = _q(f"What did {subject} {base} {prep} {date}")
        out.append(Candidate([what, _q(f"{prep} {date}, what did {subject} {base}")], answer, "time-front-object",
                             _main_part(clause.rest), 1))
    return out


def rule_time_end(s: str, answer: str) -> list[Candidate]:
    """"The last berth closed in 1987" -> When did the last berth close?"""
    m = _TIME_END.match(s)
    clause = split_clause(m.group("clause")) if m else None
    if not m or not clause or _main_part(clause.rest) != clause.rest.strip() or _has_other_date(
            m.group("clause"), ""):
        return []
    prep = m.group("prep")
    when = _ask_when(clause, _WHEN.get(prep, "When"))
    if not when:
        return []
    tail = _year_phrase(m.group("date")) if prep in ("in", "on", "during") else f"{prep} when"
    echo = _q(f"{_lower_first(m.group('clause'))} {tail}")
    return [Candidate([when, echo], answer, "time-end", m.group("date"), 0)]


_PASSIVE_BY = re.compile(rf"^(?P<subj>.+?) (?P<aux>was|were) (?P<vbn>[a-z]+) by (?P<agent>(?:the )?"
                         rf"(?:[a-z]+ ){{0,3}}{NAME})(?P<tail>.*)$")


def rule_passive_agent(s: str, answer: str) -> list[Candidate]:
    """"The park was designed by Hollis Green" -> Who designed the park?"""
    m = _PASSIVE_BY.match(s)
    if not m or "," in m.group("subj") or len(m.group("subj").split()) > 10:
        return []
    vbn = m.group("vbn")
    if not (vbn.endswith("ed") or vbn in PARTICIPLE_PAST or vbn in IRREGULAR_PAST):
        return []
    subject = _lower_first(m.group("subj"))
    who = _q(f"Who {past_of_participle(vbn)} {subject}")
    echo = _q(f"{subject} {m.group('aux')} {vbn} by whom")
    return [Candidate([who, echo], answer, "passive-agent", m.group("agent"), 0,
                      bool(_PRONOUN_START.match(m.group("subj"))))]


_COPULA = re.compile(rf"^(?P<subj>(?:The )?{NAME}) (?P<be>is|was|are|were) (?P<np>(?:a|an|the) .+)$")
_PERSON_WORDS = re.compile(r"\b(?:mayor|councillor|professor|engineer|architect|director|chief|chair|head|"
                           r"leader|minister|planner|founder|resident|designer|author|president|officer)\b")


def rule_copula(s: str, answer: str) -> list[Candidate]:
    """"Canal Park is the largest new space" -> What is Canal Park? / What is the largest new space?"""
    m = _COPULA.match(s)
    if not m or m.group("subj").split()[0].lower() in _STARTERS - {"the"}:
        return []
    subj, be, np = _lower_first(m.group("subj")), m.group("be"), _main_part(m.group("np"))
    wh = "Who" if _PERSON_WORDS.search(np) else "What"
    out = [Candidate([_q(f"{wh} {be} {subj}"), _q(f"How does the text describe {subj}")], answer, "copula",
                     m.group("subj"), 1)]
    if np.startswith("the "):
        which = "Which person" if wh == "Who" else "Which place or thing"
        out.append(Candidate([_q(f"{wh} {be} {np}"), _q(f"{which} {be} {np}")], answer, "copula-reverse",
                             m.group("subj"), 0))
    return out


_NAMED_SUBJECT = re.compile(rf"^(?:The {NAME}|[A-Z][\w'-]+ {NAME})$")


def rule_named_subject(s: str, answer: str) -> list[Candidate]:
    """"Councillor Ines Carraway presented the plan" -> Who presented the plan?"""
    clause = split_clause(s)
    if not clause or not _NAMED_SUBJECT.match(clause.subject) or clause.verb.lower() in ("is", "are", "was",
                                                                                          "were"):
        return []
    rest = _main_part(clause.rest)
    if not rest:
        return []
    if clause.subject.startswith("The "):
        return [Candidate([_q(f"What {clause.verb} {rest}"), _q(f"Which place or organisation {clause.verb} {rest}")],
                          answer, "named-subject", clause.subject, 0)]
    return [Candidate([_q(f"Who {clause.verb} {rest}"), _q(f"Which person {clause.verb} {rest}")],
                      answer, "named-subject", clause.subject, 0)]


_MODIFIER = (r"(?:about |around |nearly |almost |over |no more than |more than |less than |up to |at least |some "
             r"|roughly )")
_UNIT_STOP = _words("and or to per in of the a an with from on at for by than as between votes")
_CURRENCY = _words("pounds dollars euros yuan yen francs")
_HOW_MANY = re.compile(rf"(?P<num>{_MODIFIER}?{_NUM}{_SCALE}) (?P<noun>(?:[a-z-]+ ){{0,2}}?[a-z-]+s)\b")


def rule_how_many(s: str, answer: str) -> list[Candidate]:
    """"The plan kept 23 historic warehouses" -> How many historic warehouses did the plan keep?"""
    clause = split_clause(s)
    m = _HOW_MANY.search(s)
    if not clause or not m or re.fullmatch(YEAR, m.group("num").split()[-1]):
        return []
    noun, num = m.group("noun"), m.group("num")
    if noun.split()[0] in _UNIT_STOP or noun.split()[-1] in _CURRENCY or noun.endswith(("ss", "us")):
        return []
    verb = clause.verb.lower()
    pronoun = bool(_PRONOUN_START.match(clause.subject))
    if clause.rest.startswith(m.group()) and verb not in _AUX:
        after = _main_part(clause.rest[len(m.group()):])
        q = _q(f"How many {noun} did {_lower_first(clause.subject)} {base_form(verb)} {after}")
    elif clause.subject.endswith(m.group()):
        q = _q(f"How many {noun} {clause.verb} {_main_part(clause.rest)}")
        pronoun = False
    else:
        return []
    echo = _q(f"What number of {noun} {q.split(noun, 1)[1].strip().rstrip('?')}")
    return [Candidate([q, echo], answer, "how-many", num, 1, pronoun)]


_IN_SITU = (
    ("percent", re.compile(rf"{_MODIFIER}?{PERCENT}"), "what percentage"),
    ("money", re.compile(rf"{_MODIFIER}?{MONEY}"), "how much money"),
    ("date", re.compile(rf"\b(?:on|in|by|since|until) {_DAY_DATE}"), "on what date"),
    ("date", re.compile(rf"\b(?:in|by|since|until|during) (?:{_MONTH_DATE}|{_SEASON})"), "when"),
    ("year", re.compile(rf"\b(?:in|by|since|until|during) {YEAR}\b(?!s| and)"), "in which year"),
    ("quantity", re.compile(rf"(?<![\d,.])(?P<mod>{_MODIFIER}?)(?!{YEAR}\b)(?P<num>{_NUM}{_SCALE}) (?P<unit>[a-z-]+)"),
     "how many"),
)
_PREPOSITION_START = re.compile(r"^(?:in|on|at|by|of|for|from|to|with|during|since|before|after|until|between|"
                                r"about|over|under)\b", re.IGNORECASE)


def _in_situ_question(s: str, kind: str, m: re.Match[str], wh: str) -> str | None:
    head = re.split(r"; |, and |, but |, so ", s[:m.start()])[-1].strip()
    if not head or _PREPOSITION_START.match(head) and not any(
            _is_verb(w, p) for p, w in zip(head.split(), head.split()[1:])):
        return None
    if kind == "quantity":
        if m.group("unit") in _UNIT_STOP | _CURRENCY:
            return None
        wh = f"{m.group('mod')}how many {m.group('unit')}"
    elif kind == "year" and m.group().split()[0] in ("by", "since", "until"):
        wh = f"{m.group().split()[0]} which year"
    q = _q(f"{head} {wh} {_main_part(s[m.end():])}")
    return q if len(q.split()) >= 4 else None


def rule_in_situ(s: str, answer: str) -> list[Candidate]:
    """Ask about a fact where it stands: "The tram opened on 12 September 2009" -> "... opened on what date?"."""
    out = []
    for kind, pattern, wh in _IN_SITU:
        for m in pattern.finditer(s):
            q = _in_situ_question(s, kind, m, wh)
            if q:
                out.append(Candidate([q], answer, f"in-situ-{kind}", m.group().strip(), 2,
                                     bool(_PRONOUN_START.match(q))))
                break
    return out


RULES = (rule_time_front, rule_time_end, rule_passive_agent, rule_copula, rule_named_subject, rule_how_many,
         rule_in_situ)


def sentence_candidates(sentence: str) -> list[Candidate]:
    """Every question the rules can ask about one sentence; empty when it states no fact."""
    s = normalise_sentence(sentence)
    if s is None or not find_facts(s):
        return []
    answer = sentence.strip()
    out: list[Candidate] = []
    asked: set[str] = set()
    for rule in RULES:
        for cand in rule(s, answer):
            if all(len(q.split()) >= 3 for q in cand.questions) and not asked & {q.lower() for q in cand.questions}:
                cand.pronoun = cand.pronoun or bool(_PRONOUN_START.match(cand.questions[0].split(" ", 2)[-1]))
                out.append(cand)
                asked |= {q.lower() for q in cand.questions}
    return out


# paraphrases ------------------------------------------------------------------------------------

_PARAPHRASES = (
    (re.compile(r"^When did (.+)\?$"), ("At what point did {0}?", "In what year did {0}?")),
    (re.compile(r"^When (was|were) (.+)\?$"), ("At what time {0} {1}?",)),
    (re.compile(r"^How many (.+)\?$"), ("What number of {0}?",)),
    (re.compile(r"^How much (.+)\?$"), ("What amount {0}?",)),
    (re.compile(r"^Who (.+)\?$"), ("Which person or organisation {0}?",)),
    (re.compile(r"^What (is|was|are|were) (.+)\?$"), ("Can you describe {1}?",)),
    (re.compile(r"^What did (.+)\?$"), ("What was it that {0}?",)),
)


def paraphrase_question(question: str, answer: str = "") -> list[str]:
    """Other phrasings of ``question`` with the same answer (rule-based; may be empty)."""
    out = []
    for pattern, templates in _PARAPHRASES:
        m = pattern.match(question.strip())
        if not m:
            continue
        for template in templates:
            if "year" in template and not re.search(YEAR, answer):
                continue
            out.append(template.format(*m.groups()))
    q = question.strip().rstrip("?")
    out.append(f"{q}, according to the text?")
    return [p for p in dict.fromkeys(out) if p != question]


# passages ---------------------------------------------------------------------------------------

def _order(candidates: list[tuple[int, Candidate]]) -> list[tuple[int, Candidate]]:
    return sorted(candidates, key=lambda ic: (ic[1].pronoun, ic[1].rank, ic[0]))


def passage_pairs(sentences: list[str], max_pairs: int = 3, paraphrases: int = 1) -> list[dict]:
    """Up to ``max_pairs`` pairs for a passage given as sentences, best first, one per sentence before
    a second from the same sentence. Each pair: question, answer, rule, fact, paraphrases."""
    found = [(i, c) for i, s in enumerate(sentences) for c in sentence_candidates(s)]
    chosen: list[Candidate] = []
    used_sentences: set[int] = set()
    seen: set[str] = set()
    for allow_repeat in (False, True):
        for i, cand in _order(found):
            if len(chosen) >= max_pairs:
                break
            key = cand.questions[0].lower()
            fact = cand.fact.lower()
            if key in seen or fact in seen or (i in used_sentences and not allow_repeat):
                continue
            chosen.append(cand)
            used_sentences.add(i)
            seen |= {key, fact}
    return [_to_pair(c, paraphrases) for c in chosen]


_KEY_LEAD = re.compile(r"^(?:(?:in|on|at|by|since|from|during|until|the|a|an|about|around|some|nearly|almost|over|"
                       r"under|only|no more than|no less than|more than|less than|fewer than|at least)\s+)+",
                       re.IGNORECASE)


_TITLES = frozenset({"Mr", "Mrs", "Ms", "Dr", "Prof", "Professor", "Sir", "Dame", "Lord", "Lady", "Mayor",
                     "Councillor", "Senator", "President", "Minister", "Director", "Chair", "Architect"})


def fact_key(fact: str) -> str:
    """The fact a question asks for, as evaluation should find it in an answer: "in April 2001" -> "April
    2001", "no more than 80 per cent" -> "80 per cent" (a correct answer may phrase the lead-in otherwise).
    A name with a descriptor also accepts the bare name: "landscape practice Hollis Green|Hollis Green"."""
    core = _KEY_LEAD.sub("", fact.strip()).strip(" ,.;:") or fact.strip()
    words = core.split()
    tail: list[str] = []
    for word in reversed(words):
        if not word[:1].isupper():
            break
        tail.insert(0, word)
    while tail and tail[0].rstrip(".") in _TITLES:
        tail.pop(0)
    name = " ".join(tail)
    if len(tail) >= 2 and name != core:
        return f"{core}|{name}"
    amount = re.fullmatch(r"(\d[\d,.]*)\s+(?:per cent|percent|[a-z]+)", core)
    # "30 per cent" may come back as "30%", "11,000 people" as "11,000 residents": the number is the fact.
    return f"{core}|{amount.group(1)}" if amount else core


def _to_pair(cand: Candidate, paraphrases: int) -> dict:
    extra = [q for q in cand.questions[1:]]
    extra += [q for q in paraphrase_question(cand.questions[0], cand.answer) if q not in extra]
    return {"question": cand.questions[0], "answer": cand.answer, "rule": cand.rule, "fact": cand.fact,
            "paraphrases": extra[:paraphrases]}
