"""Quality filters for question-answer pairs: each drops pairs for one stated reason and scores every pair.

Filters, in the order they run (a pair is dropped by the first that rejects it):
  malformed    empty text, template leftovers, a "question" that asks nothing, a refusal as answer
  length       question or answer outside the token bounds
  self_answer  the question already contains its answer (the answer adds no new word)
  grounded     the answer's words are not found in its passage (token-overlap or ROUGE-L recall below a
               threshold), or it states a number the passage does not contain
  wrong_fact   the answer does not state its key fact, or names a name or number that its source sentence
               does not give but another sentence of the passage does (a fluent answer with the wrong entity)
  relevance    the answer does not answer the question: too few of the question's content words occur in
               the answer or in the passage sentences the answer comes from (small generators answer with a
               heading or an unrelated sentence of the passage)
  ambiguous    the same question is asked of two different answer sentences (two facts whose questions lost
               the phrases that told them apart: taught both answers, a model learns neither)
  reused       the same short answer was already kept for a different question about the same passage (a
               sentence may answer several questions; a name or a date answers one)
  dedup        the question is a near-duplicate (ROUGE-L F above 0.7, as in self-instruct) of a kept one;
               paraphrases of the same fact are only dropped when almost identical to each other, and
               questions about other facts of the same clause (same ``clause``) are not compared

Every pair gets ``scores`` (grounding, rouge_l_recall, answer_novelty, relevance, max_similarity, token
counts);
dropped pairs keep ``drop_filter`` and ``drop_reason`` so a user can see why. Tokens are lower-case
words and numbers, and single characters for Chinese/Japanese/Korean text (rouge-score's tokenizer would
score Chinese as 0). This module does not generate, rewrite or store pairs. No torch import (layer 2).
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rapidfuzz.distance import LCSseq

_CJK_CHAR = r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]"
_TOKEN = re.compile(rf"{_CJK_CHAR}|\d+(?:\.\d+)?|(?:(?!{_CJK_CHAR})[^\W\d_])+")
_CJK_RE = re.compile(_CJK_CHAR)
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
STOPWORDS = frozenset(re.findall(r"\S+",
    "a an the of in on at to for from by with and or but is are was were be been being it its this that these "
    "those as into about than then so such what when where who whom which why how did do does done has have had "
    "not no can could would should will may might there their they them he she his her we our you your i me my "
    "also very more most some any each other per"))
_QUESTION_START = re.compile(
    r"^(?:what|when|where|who|whom|whose|which|why|how|is|are|was|were|do|does|did|can|could|would|should|will|"
    r"has|have|had|in what|in which|according|name|list|describe|explain)\b", re.IGNORECASE)
_LEFTOVER = re.compile(r"\{[a-z_]+\}|<\|?[a-z_]+\|?>|^\s*(?:Q|A|Question|Answer)\s*\d*\s*[:.]|\[(?:question|answer)\]",
                       re.IGNORECASE)
_REFUSAL = re.compile(r"\b(?:i (?:do not|don't|cannot|can't) (?:know|answer)|not (?:mentioned|stated|given|provided)"
                      r" in the (?:text|passage)|the (?:text|passage) does not (?:say|mention|state))\b",
                      re.IGNORECASE)


def _split_digits(text: str) -> str:
    return re.sub(r"(?<=\d),(?=\d{3}\b)", "", text.lower())


def tokenize(text: str) -> list[str]:
    """Lower-case word and number tokens; CJK characters one token each; "4,800" -> "4800"."""
    return _TOKEN.findall(_split_digits(text))


def content_tokens(text: str) -> list[str]:
    return [t for t in tokenize(text) if t not in STOPWORDS]


def lcs_length(a: list[str], b: list[str]) -> int:
    """Length of the longest common subsequence of two token lists (RapidFuzz's bit-parallel LCS: the dedup
    filter compares every new question with every kept one)."""
    return int(LCSseq.similarity(a, b))


def rouge_l(candidate: list[str], reference: list[str]) -> tuple[float, float, float]:
    """(precision, recall, F1) of the longest common subsequence, as rouge-score computes ROUGE-L."""
    if not candidate or not reference:
        return 0.0, 0.0, 0.0
    lcs = lcs_length(candidate, reference)
    p, r = lcs / len(candidate), lcs / len(reference)
    return p, r, (2 * p * r / (p + r) if lcs else 0.0)


def overlap_recall(answer: str, passage: str) -> float:
    """Share of the answer's content tokens that occur in the passage (1.0 for an answer of stopwords only)."""
    words = content_tokens(answer)
    if not words:
        return 1.0 if tokenize(answer) else 0.0
    present = set(tokenize(passage))
    return sum(1 for w in words if w in present) / len(words)


# Words that say what kind of answer is wanted, not what it is about ("what year", "how many people").
_QUESTION_FRAME = frozenset(re.findall(r"\S+",
    "name names named year years date many much number kind type sort called known main purpose role reason "
    "happened happen according text passage mentioned describe explain list give tell people person"))
_SENTENCE_BREAK = re.compile(r"(?<=[.!?\u3002\uff01\uff1f])\s+|\n+")


def _stem(token: str) -> str:
    """A crude suffix strip, so "designed" meets "design" and "parks" meets "park"."""
    for suffix in ("ing", "ed", "es", "s"):
        if len(token) > len(suffix) + 3 and token.endswith(suffix):
            return token[: -len(suffix)]
    return token


def _stems(text: str) -> set[str]:
    return {_stem(t) for t in content_tokens(text)}


def relevance(question: str, answer: str, passage: str) -> float:
    """Share of the question's content words found in the answer or in the passage sentences that hold
    most of the answer. 1.0 when the question has no content words or the answer no anchor in the passage
    (grounding judges that case)."""
    wanted = {_stem(t) for t in content_tokens(question) if t not in _QUESTION_FRAME}
    answer_stems = _stems(answer)
    if not wanted:
        return 1.0
    sentences = [_stems(s) for s in _SENTENCE_BREAK.split(passage) if s.strip()]
    coverage = [len(answer_stems & s) for s in sentences]
    best = max(coverage, default=0)
    if not best:
        return 1.0 if not passage else len(wanted & answer_stems) / len(wanted)
    context = set(answer_stems).union(*(s for s, c in zip(sentences, coverage) if c == best))
    return len(wanted & context) / len(wanted)


def missing_numbers(answer: str, passage: str) -> list[str]:
    """Numbers stated in the answer that the passage does not contain."""
    have = set(_NUMBER.findall(_split_digits(passage)))
    return [n for n in dict.fromkeys(_NUMBER.findall(_split_digits(answer))) if n not in have]


@dataclass
class FilterSettings:
    """Thresholds; the pipeline builds this from QAGenConfig."""

    min_grounding: float = 0.6
    min_relevance: float = 0.3
    grounding_metric: str = "overlap"  # overlap | rouge_l
    dedup_threshold: float = 0.7
    paraphrase_max_similarity: float = 0.95
    min_question_tokens: int = 3
    max_question_tokens: int = 60
    min_answer_tokens: int = 1
    max_answer_tokens: int = 200


def _grounding_text(pair: dict[str, Any], passage: str) -> str:
    """The text an answer's words and numbers must come from: its passage and the names the reading resolved
    (an answer may name what its sentence called "it"; a year in a title-named subject is the document's own)."""
    resolved = str(pair.get("resolved") or "")
    return f"{passage}\n{resolved}" if resolved else passage


def score_pair(pair: dict[str, Any], passage: str) -> dict[str, float]:
    """The per-pair scores every filter reads (not the set-level max_similarity)."""
    q, a = pair.get("question") or "", pair.get("answer") or ""
    q_tokens, a_content = tokenize(q), content_tokens(a)
    q_set = set(q_tokens)
    novelty = sum(1 for t in a_content if t not in q_set) / len(a_content) if a_content else 0.0
    return {
        "grounding": round(overlap_recall(a, _grounding_text(pair, passage)), 4),
        "rouge_l_recall": round(rouge_l(tokenize(passage), tokenize(a))[1], 4) if passage else 0.0,
        "answer_novelty": round(novelty, 4),
        # the phrase placing a fact at the document's subject is the reading's, not the sentence's, words
        "relevance": round(relevance(q, f"{a} {pair.get('placed') or ''}".strip(), passage), 4),
        "question_tokens": len(q_tokens),
        "answer_tokens": len(tokenize(a)),
    }


# per-pair filters: (pair, passage, scores, settings) -> reason or None -------------------------------

def check_malformed(pair: dict[str, Any], passage: str, scores: dict, s: FilterSettings) -> str | None:
    q, a = (pair.get("question") or "").strip(), (pair.get("answer") or "").strip()
    if not q or not a:
        return "empty question" if not q else "empty answer"
    for name, text in (("question", q), ("answer", a)):
        if _LEFTOVER.search(text):
            return f"template text left in the {name}: {_LEFTOVER.search(text).group().strip()!r}"
    if not (q.endswith(("?", "\uff1f")) or _QUESTION_START.match(q)):
        return "the question is not a question (no '?' and no question word)"
    if q.lower() == a.lower():
        return "the answer repeats the question"
    if _REFUSAL.search(a):
        return "the answer is a refusal, not an answer"
    return None


def check_length(pair: dict[str, Any], passage: str, scores: dict, s: FilterSettings) -> str | None:
    qn, an = scores["question_tokens"], scores["answer_tokens"]
    if not s.min_question_tokens <= qn <= s.max_question_tokens:
        return f"question has {qn} tokens, outside {s.min_question_tokens}-{s.max_question_tokens}"
    if not s.min_answer_tokens <= an <= s.max_answer_tokens:
        return f"answer has {an} tokens, outside {s.min_answer_tokens}-{s.max_answer_tokens}"
    return None


def check_self_answer(pair: dict[str, Any], passage: str, scores: dict, s: FilterSettings) -> str | None:
    q, a = " ".join(tokenize(pair["question"])), " ".join(tokenize(pair["answer"]))
    if a and re.search(rf"(?:^| ){re.escape(a)}(?: |$)", q):
        return "the question contains its own answer"
    if scores["answer_novelty"] == 0.0:
        return "every word of the answer is already in the question"
    return None


def check_grounded(pair: dict[str, Any], passage: str, scores: dict, s: FilterSettings) -> str | None:
    if not passage:
        return None  # imported or hand-written pairs without a passage cannot be checked
    metric = "rouge_l_recall" if s.grounding_metric == "rouge_l" else "grounding"
    if scores[metric] < s.min_grounding:
        return f"only {scores[metric]:.0%} of the answer is found in its passage (need {s.min_grounding:.0%})"
    missing = missing_numbers(pair["answer"], _grounding_text(pair, passage))
    if missing:
        return f"the answer states number(s) not in its passage: {', '.join(missing[:3])}"
    return None


def check_relevance(pair: dict[str, Any], passage: str, scores: dict, s: FilterSettings) -> str | None:
    if scores["relevance"] < s.min_relevance:
        return (f"the answer does not address the question: {scores['relevance']:.0%} of the question's words "
                f"occur in the answer or its sentence (need {s.min_relevance:.0%})")
    return None


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'\u201c])|\n\s*\n")
_FACT_WORD = re.compile(r"\b(?:\d[\d,.]*\d|\d|[A-Z][a-z][\w'-]*)\b")


def _fact_words(text: str) -> set[str]:
    """Numbers and capitalised words (names) of ``text``, the first word of a sentence excepted."""
    words = set()
    for sentence in _SENTENCE_END.split(text):
        for m in _FACT_WORD.finditer(sentence):
            if m.start() > 0 or m.group()[0].isdigit():
                words.add(m.group().replace(",", ""))
    return words


def check_fact(pair: dict[str, Any], passage: str, scores: dict, s: FilterSettings) -> str | None:
    """The answer states the fact of its own source sentence: its asked key is in it, and no name or number
    in it comes from another sentence of the passage (unless the question names it too). This catches a
    fluent answer that attaches another entity of the passage to the asked subject."""
    for key in pair.get("keys") or []:
        if not any(alt.strip() and alt.strip().lower() in pair["answer"].lower() for alt in str(key).split("|")):
            return f"the answer does not state its key fact {key!r}"
    if not passage:
        return None
    sentences = [x for x in _SENTENCE_END.split(passage) if x.strip()]
    answer_words = set(tokenize(pair["answer"]))
    source = pair.get("sentence") or max(sentences, key=lambda x: len(answer_words & set(tokenize(x))), default="")
    elsewhere = _fact_words(passage) - _fact_words(source)
    allowed = _fact_words(pair["question"]) | {m.group().replace(",", "") for m in _FACT_WORD.finditer(
        str(pair.get("resolved") or ""))}
    foreign = sorted(_fact_words(pair["answer"]) & elsewhere - allowed)
    if foreign:
        return f"the answer names {', '.join(foreign[:3])}, which its source sentence does not"
    return None


PAIR_FILTERS: dict[str, Callable[[dict, str, dict, FilterSettings], str | None]] = {
    "malformed": check_malformed,
    "length": check_length,
    "self_answer": check_self_answer,
    "grounded": check_grounded,
    "wrong_fact": check_fact,
    "relevance": check_relevance,
}
FILTER_NAMES = (*PAIR_FILTERS, "ambiguous", "reused", "dedup")


def check_pair(pair: dict[str, Any], passage: str, settings: FilterSettings) -> tuple[dict, str | None, str]:
    """(scores, filter name or None, reason) for one pair, running the per-pair filters in order."""
    scores = score_pair(pair, passage)
    for name, check in PAIR_FILTERS.items():
        reason = check(pair, passage, scores, settings)
        if reason:
            return scores, name, reason
    return scores, None, ""


# ambiguous questions -------------------------------------------------------------------------------

def _said(pair: dict[str, Any]) -> str:
    """What a pair's answer states: its fact's clause where the generator read one (a fact's wordings vary
    their answer sentence), else the answer."""
    return " ".join(tokenize(str(pair.get("clause") or pair["answer"])))


def drop_ambiguous(pairs: list[dict[str, Any]]) -> tuple[list[dict], list[dict]]:
    """Drop every pair whose question (in lower case, spaces collapsed) is also asked with another answer."""
    asked = [" ".join(pair["question"].lower().split()) for pair in pairs]
    said: dict[str, set[str]] = defaultdict(set)
    for pair, question in zip(pairs, asked):
        said[question].add(_said(pair))
    kept, dropped = [], []
    for pair, question in zip(pairs, asked):
        if len(said[question]) > 1:
            dropped.append(_drop(pair, "ambiguous", "the same question is asked with another answer"))
        else:
            kept.append(pair)
    return kept, dropped


# reused answers ------------------------------------------------------------------------------------

REUSE_MAX_TOKENS = 8


def _reuse_key(pair: dict[str, Any]) -> tuple[str, str]:
    tokens = tokenize(pair["answer"])
    if len(tokens) > REUSE_MAX_TOKENS:
        return "", ""
    return str(pair.get("passage_id") or ""), " ".join(tokens)


def drop_reused_answers(pairs: list[dict[str, Any]]) -> tuple[list[dict], list[dict]]:
    """Of pairs from one passage that give the same short answer to questions about different facts
    (groups), keep the most relevant (the earliest on a tie); paraphrases of one fact share their answer
    by design."""
    keys = [_reuse_key(pair) for pair in pairs]
    best: dict[tuple[str, str], dict[str, Any]] = {}
    for pair, key in zip(pairs, keys):
        held = best.get(key)
        if held is None or pair["scores"].get("relevance", 0) > held["scores"].get("relevance", 0):
            best[key] = pair
    kept, dropped = [], []
    for pair, key in zip(pairs, keys):
        if not key[0] or _group(pair) == _group(best[key]) or pair.get("clause") and pair.get(
                "clause") == best[key].get("clause"):
            kept.append(pair)
        else:
            dropped.append(_drop(pair, "reused", f"the same answer is kept for a different question about this "
                                                 f"passage: {best[key]['question']!r}"))
    return kept, dropped


def _group(pair: dict[str, Any]) -> str:
    return str(pair.get("group") or pair.get("id") or id(pair))


# dedup ---------------------------------------------------------------------------------------------

class _QuestionIndex:
    """Kept questions with an inverted index, so each new question is compared only with those sharing
    a content token and whose bag-of-tokens bound can exceed the threshold."""

    def __init__(self) -> None:
        self.tokens: list[list[str]] = []
        self.counts: list[Counter[str]] = []
        self.meta: list[tuple[str, str, str, str]] = []  # (pair id, group, clause, fact id)
        self.by_token: dict[str, list[int]] = defaultdict(list)

    def most_similar(self, tokens: list[str], floor: float, group: str, clause: str = "", fact: str = "",
                     ) -> tuple[float, int | None, float, int | None]:
        """(best F and index among other groups, best F and index within ``group``). Questions about other
        facts of the same clause (same ``clause``, same answer sentence) look alike by design and are not
        compared across groups; nor are questions about two different extracted facts: "By whom was the line
        designed?" and "By which firm was the line built?" share most words and ask different things."""
        counts = Counter(tokens)
        seen: set[int] = set()
        best = (0.0, None, 0.0, None)
        for t in {t for t in tokens if t not in STOPWORDS} or set(tokens):
            for i in self.by_token.get(t, ()):
                if i in seen:
                    continue
                seen.add(i)
                bound = 2 * sum((counts & self.counts[i]).values()) / (len(tokens) + len(self.tokens[i]))
                if bound <= floor and bound <= best[0]:
                    continue
                if self.meta[i][1] != group and (clause and self.meta[i][2] == clause
                                                 or fact and self.meta[i][3] and self.meta[i][3] != fact):
                    continue
                f = rouge_l(tokens, self.tokens[i])[2]
                if self.meta[i][1] == group:
                    if f > best[2]:
                        best = (best[0], best[1], f, i)
                elif f > best[0]:
                    best = (f, i, best[2], best[3])
        return best

    def add(self, tokens: list[str], pair_id: str, group: str, clause: str = "", fact: str = "") -> None:
        index = len(self.tokens)
        self.tokens.append(tokens)
        self.counts.append(Counter(tokens))
        self.meta.append((pair_id, group, clause, fact))
        for t in set(tokens):
            self.by_token[t].append(index)


def dedup(pairs: list[dict[str, Any]], settings: FilterSettings) -> tuple[list[dict], list[dict]]:
    """Keep the first of near-duplicate questions; annotate scores.max_similarity. Returns (kept, dropped)."""
    index = _QuestionIndex()
    kept, dropped = [], []
    asked: dict[tuple[str, ...], str] = {}  # (question tokens, answer tokens) -> the kept pair's id
    for pair in pairs:
        tokens = tokenize(pair["question"])
        same_pair = (*tokens, "\x00", *tokenize(pair["answer"]))
        group = _group(pair)
        clause, fact = str(pair.get("clause") or ""), str(pair.get("fact_id") or "")
        other, other_i, same, same_i = index.most_similar(tokens, settings.dedup_threshold, group, clause, fact)
        pair.setdefault("scores", {})["max_similarity"] = round(max(other, same), 4)
        if other > settings.dedup_threshold:
            dropped.append(_drop(pair, "dedup", f"near-duplicate (ROUGE-L {other:.2f}) of the question "
                                                f"{index.meta[other_i][0]!r}"))
        elif same > settings.paraphrase_max_similarity:
            dropped.append(_drop(pair, "dedup", f"paraphrase too close (ROUGE-L {same:.2f}) to "
                                                f"{index.meta[same_i][0]!r}"))
        elif same_pair in asked:  # the items of a list ask one question with one answer sentence
            dropped.append(_drop(pair, "dedup", f"the same question and answer as {asked[same_pair]!r}"))
        else:
            kept.append(pair)
            asked[same_pair] = str(pair.get("id", ""))
            index.add(tokens, str(pair.get("id", "")), group, clause, fact)
    return kept, dropped


# the whole chain -------------------------------------------------------------------------------------

def _drop(pair: dict[str, Any], name: str, reason: str) -> dict[str, Any]:
    pair["drop_filter"] = name
    pair["drop_reason"] = reason
    return pair


@dataclass
class FilterReport:
    kept: list[dict[str, Any]] = field(default_factory=list)
    dropped: list[dict[str, Any]] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        """Pairs dropped by each filter (every filter listed, zero included)."""
        counts = dict.fromkeys(FILTER_NAMES, 0)
        for pair in self.dropped:
            counts[pair["drop_filter"]] = counts.get(pair["drop_filter"], 0) + 1
        return counts

    def to_dict(self) -> dict[str, Any]:
        return {"kept": len(self.kept), "dropped": len(self.dropped), "dropped_by": self.counts}


def apply_filters(pairs: list[dict[str, Any]], passages: dict[str, str], settings: FilterSettings | None = None,
                  ) -> FilterReport:
    """Score and filter ``pairs`` (each with question, answer, passage_id, optional group/id).
    ``passages`` maps passage id to text. Pairs are annotated in place (scores, drop_filter, drop_reason)."""
    settings = settings or FilterSettings()
    report = FilterReport()
    survivors = []
    for pair in pairs:
        passage = passages.get(pair.get("passage_id") or "", pair.get("passage") or "")
        scores, name, reason = check_pair(pair, passage, settings)
        pair["scores"] = {**pair.get("scores", {}), **scores}
        if name:
            report.dropped.append(_drop(pair, name, reason))
        else:
            survivors.append(pair)
    survivors, ambiguous = drop_ambiguous(survivors)
    survivors, reused = drop_reused_answers(survivors)
    report.kept, deduped = dedup(survivors, settings)
    report.dropped.extend(ambiguous + reused + deduped)
    return report
