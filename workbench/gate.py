"""Topic gate: decides whether a question belongs to the tuned model's domain before it is answered.

A TF-IDF representation (word 1-2-grams plus character 2-5-grams within words, so that CJK text and typos
still share features) feeds a logistic regression with balanced class weights. It is fitted on the
in-domain questions (typically the QA set's questions) against general off-topic questions
(``assets/offtopic_questions.txt``) plus optional user negatives. Quality is measured on a stratified
held-out split; the saved gate is then refit on all questions. A question is in-domain when its
probability reaches the threshold.

Saved as a folder (e.g. ``runs/<id>/gate/``): ``model.safetensors`` (the fitted numbers: each vectoriser's
idf weights, the regression's coefficients), ``vocab.json`` (each vectoriser's vocabulary) and ``gate.json``
(threshold, refusal message, report, versions; written last, so its presence marks a complete gate). No
pickle: loading a gate runs no code from the folder, whoever wrote it. This module knows nothing of models
or chat; it does not decide what to do with a refused question. Layer 2: scikit-learn, no torch.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from .errors import UserError
from .rundir import atomic_write_json, read_json

log = logging.getLogger(__name__)

OFFTOPIC_FILE = Path(__file__).resolve().parent.parent / "assets" / "offtopic_questions.txt"
DEFAULT_REFUSAL = ("Sorry, I can only answer questions about the documents I was trained on. "
                   "Please ask me something about that topic.")
MODEL_FILE = "model.safetensors"
VOCAB_FILE = "vocab.json"
META_FILE = "gate.json"
FORMAT_VERSION = 2  # 1 was a pickled pipeline (model.joblib), which ran code on load
MIN_PER_CLASS = 5
LABELS = ("off-topic", "in-domain")  # class 0, class 1


def saved_report(folder: str | Path) -> dict[str, Any] | None:
    """The held-out report of the gate saved in ``folder`` (a run's ``gate/``), or None when there is none."""
    meta = read_json(Path(folder) / META_FILE)
    return meta.get("report") if isinstance(meta, dict) else None


class GateError(UserError, ValueError):
    """The gate cannot be fitted, saved or loaded; the message says what to change."""


@dataclass(frozen=True)
class GateReport:
    """Held-out quality, with in-domain as the positive class.

    ``confusion[i][j]`` counts questions of true class i predicted as class j, classes in ``labels`` order
    (0 = off-topic, 1 = in-domain).
    """

    precision: float
    recall: float
    f1: float
    accuracy: float
    confusion: list[list[int]]
    threshold: float
    n_train: int
    n_test: int
    n_in_domain: int
    n_off_topic: int
    labels: tuple[str, str] = LABELS

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "labels": list(self.labels)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GateReport:
        return cls(**{**data, "labels": tuple(data.get("labels", LABELS))})


def _clean(questions: Sequence[str]) -> list[str]:
    """Strip, collapse whitespace, drop empties and exact duplicates (order kept)."""
    return list(dict.fromkeys(" ".join(q.split()) for q in questions if isinstance(q, str) and q.strip()))


def load_offtopic_questions(path: str | Path | None = None) -> list[str]:
    """General questions on many subjects, one per line (default: ``assets/offtopic_questions.txt``)."""
    path = Path(path) if path is not None else OFFTOPIC_FILE
    try:
        return _clean(path.read_text(encoding="utf-8").splitlines())
    except FileNotFoundError:
        raise GateError(f"off-topic question file {path} does not exist") from None


def build_pipeline(c: float = 4.0, seed: int = 0) -> Any:
    """TF-IDF (word 1-2-grams + char_wb 2-5-grams, sublinear tf) and balanced logistic regression (liblinear)."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import FeatureUnion, Pipeline

    features = FeatureUnion([
        ("words", TfidfVectorizer(analyzer="word", ngram_range=(1, 2), sublinear_tf=True, min_df=1)),
        ("chars", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=1)),
    ])
    # liblinear: exact and quick on small sparse problems (lbfgs was 2-3x slower here).
    clf = LogisticRegression(C=c, class_weight="balanced", solver="liblinear", max_iter=1000, random_state=seed)
    return Pipeline([("tfidf", features), ("clf", clf)])


def _check_threshold(threshold: float) -> float:
    if not 0.0 <= threshold <= 1.0:
        raise GateError(f"threshold {threshold} must be between 0 and 1 (the in-domain probability needed)")
    return float(threshold)


class TopicGate:
    """A fitted gate: ``predict(question) -> (in_domain, probability)``."""

    def __init__(self, pipeline: Any, threshold: float = 0.5, refusal_message: str = DEFAULT_REFUSAL,
                 report: GateReport | None = None, info: dict[str, Any] | None = None) -> None:
        self.pipeline = pipeline
        self.threshold = _check_threshold(threshold)
        self.refusal_message = refusal_message or DEFAULT_REFUSAL
        self.report = report
        self.info = dict(info or {})

    def probabilities(self, questions: Sequence[str]) -> list[float]:
        """Probability that each question is in-domain."""
        if isinstance(questions, str):
            raise GateError("probabilities() takes a list of questions; use predict() for one")
        if not questions:
            return []
        return [float(p) for p in self.pipeline.predict_proba(list(questions))[:, 1]]

    def predict(self, question: str) -> tuple[bool, float]:
        """``(in_domain, probability)``: in-domain when the probability reaches the threshold."""
        prob = self.probabilities([question])[0]
        return prob >= self.threshold, prob

    def predict_many(self, questions: Sequence[str]) -> list[tuple[bool, float]]:
        return [(p >= self.threshold, p) for p in self.probabilities(questions)]

    def with_threshold(self, threshold: float) -> TopicGate:
        """The same fitted gate with another threshold (the stored report keeps the threshold it measured)."""
        return TopicGate(self.pipeline, threshold, self.refusal_message, self.report, self.info)

    def evaluate(self, in_domain: Sequence[str], off_topic: Sequence[str], n_train: int = 0) -> GateReport:
        """Precision, recall, F1, accuracy and confusion matrix at this gate's threshold."""
        return _report(self, _clean(in_domain), _clean(off_topic), n_train)

    def save(self, folder: str | Path) -> Path:
        """Write the numbers, the vocabularies, then ``gate.json`` (its presence marks a complete gate)."""
        import sklearn

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        arrays, vocab = _pipeline_parts(self.pipeline)
        _atomic_write_arrays(folder / MODEL_FILE, arrays)
        atomic_write_json(folder / VOCAB_FILE, vocab)
        meta = {"format": FORMAT_VERSION, "threshold": self.threshold, "refusal_message": self.refusal_message,
                "report": self.report.to_dict() if self.report else None, "sklearn_version": sklearn.__version__,
                "saved_at": time.time(), **{k: v for k, v in self.info.items() if k not in ("format",)}}
        atomic_write_json(folder / META_FILE, meta)
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> TopicGate:
        """Load a gate saved by ``save``: plain arrays and JSON, nothing executed."""
        import sklearn

        folder = Path(folder)
        meta = read_json(folder / META_FILE)
        if meta is None:
            raise GateError(f"no topic gate in {folder} ({META_FILE} missing); fit one first")
        if meta.get("format") != FORMAT_VERSION:
            raise GateError(f"{folder / META_FILE} has format {meta.get('format')!r}; this version reads "
                            f"{FORMAT_VERSION} (no pickled models): fit the gate again")
        vocab = read_json(folder / VOCAB_FILE)
        if vocab is None or not (folder / MODEL_FILE).is_file():
            raise GateError(f"topic gate in {folder} is incomplete ({MODEL_FILE} or {VOCAB_FILE} missing); "
                            "fit it again")
        if meta.get("sklearn_version") != sklearn.__version__:
            log.info("gate in %s was saved with scikit-learn %s, loading with %s", folder,
                     meta.get("sklearn_version"), sklearn.__version__)
        pipeline = _pipeline_from_parts(_read_arrays(folder / MODEL_FILE), vocab, meta.get("C", 4.0),
                                        meta.get("seed", 0))
        report = GateReport.from_dict(meta["report"]) if meta.get("report") else None
        info = {k: v for k, v in meta.items() if k not in ("threshold", "refusal_message", "report")}
        return cls(pipeline, meta.get("threshold", 0.5), meta.get("refusal_message") or DEFAULT_REFUSAL, report,
                   info)


# the fitted pipeline as arrays and vocabularies -------------------------------------------------------

def _pipeline_parts(pipeline: Any) -> tuple[dict[str, Any], dict[str, dict[str, int]]]:
    """The numbers ``build_pipeline``'s steps learned: idf weights and vocabularies per vectoriser, then the
    regression's coefficients, intercept and classes."""
    import numpy as np

    arrays: dict[str, Any] = {}
    vocab: dict[str, dict[str, int]] = {}
    for name, vectoriser in pipeline.named_steps["tfidf"].transformer_list:
        arrays[f"{name}.idf"] = np.ascontiguousarray(vectoriser.idf_, dtype=np.float64)
        vocab[name] = {term: int(i) for term, i in vectoriser.vocabulary_.items()}
    clf = pipeline.named_steps["clf"]
    arrays.update({"clf.coef": np.ascontiguousarray(clf.coef_, dtype=np.float64),
                   "clf.intercept": np.ascontiguousarray(clf.intercept_, dtype=np.float64),
                   "clf.classes": np.ascontiguousarray(clf.classes_, dtype=np.int64)})
    return arrays, vocab


def _pipeline_from_parts(arrays: dict[str, Any], vocab: dict[str, dict[str, int]], c: float, seed: int) -> Any:
    """``build_pipeline``'s steps with the saved numbers set: the same predictions as the fitted pipeline."""
    pipeline = build_pipeline(c, seed)
    try:
        for name, vectoriser in pipeline.named_steps["tfidf"].transformer_list:
            vectoriser.vocabulary_ = {term: int(i) for term, i in vocab[name].items()}
            vectoriser.idf_ = arrays[f"{name}.idf"]
        clf = pipeline.named_steps["clf"]
        clf.coef_, clf.intercept_, clf.classes_ = arrays["clf.coef"], arrays["clf.intercept"], arrays["clf.classes"]
    except (KeyError, ValueError, TypeError) as exc:
        raise GateError(f"topic gate files do not match this version's features ({exc}); fit the gate again") \
            from None
    return pipeline


def _atomic_write_arrays(path: Path, arrays: dict[str, Any]) -> None:
    from safetensors.numpy import save_file

    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        save_file(arrays, tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _read_arrays(path: Path) -> dict[str, Any]:
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    try:
        return load_file(str(path))
    except (SafetensorError, OSError) as exc:
        raise GateError(f"cannot read the topic gate's {path.name} ({exc}); fit the gate again") from None


def _report(gate: TopicGate, in_domain: list[str], off_topic: list[str], n_train: int) -> GateReport:
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

    y_true = [1] * len(in_domain) + [0] * len(off_topic)
    y_pred = [int(ok) for ok, _ in gate.predict_many(in_domain + off_topic)]
    p, r, f, _ = precision_recall_fscore_support(y_true, y_pred, average="binary", pos_label=1, zero_division=0)
    cm = confusion_matrix(y_true, y_pred, labels=[0, 1]).tolist()
    acc = (cm[0][0] + cm[1][1]) / max(1, len(y_true))
    return GateReport(float(p), float(r), float(f), float(acc), cm, gate.threshold, n_train, len(y_true),
                      len(in_domain), len(off_topic))


def fit_gate(in_domain: Sequence[str], negatives: Sequence[str] = (), *, use_builtin_offtopic: bool = True,
             threshold: float = 0.5, test_fraction: float = 0.2, seed: int = 0, c: float = 4.0,
             refusal_message: str = DEFAULT_REFUSAL, refit_all: bool = True) -> tuple[TopicGate, GateReport]:
    """Fit a gate on in-domain questions vs off-topic ones; report quality on a held-out split.

    Off-topic questions are ``negatives`` plus, unless ``use_builtin_offtopic`` is False, the shipped list.
    A question in both sets counts as in-domain. ``test_fraction`` of each class is held out (stratified)
    for the report; with ``refit_all`` the returned gate is then refit on every question (the report is
    the held-out estimate for that procedure).
    """
    from sklearn.model_selection import train_test_split

    _check_threshold(threshold)
    if not 0.05 <= test_fraction <= 0.5:
        raise GateError(f"test_fraction {test_fraction} must be between 0.05 and 0.5")
    pos = _clean(in_domain)
    neg_all = _clean([*negatives, *(load_offtopic_questions() if use_builtin_offtopic else [])])
    pos_set = set(pos)
    neg = [q for q in neg_all if q not in pos_set]
    for name, items in (("in-domain", pos), ("off-topic", neg)):
        if len(items) < MIN_PER_CLASS:
            raise GateError(f"need at least {MIN_PER_CLASS} distinct {name} questions to fit a gate, got "
                            f"{len(items)}")
    texts, labels = pos + neg, [1] * len(pos) + [0] * len(neg)
    x_train, x_test, y_train, y_test = train_test_split(texts, labels, test_size=test_fraction, stratify=labels,
                                                        random_state=seed)
    held_out = TopicGate(build_pipeline(c, seed).fit(x_train, y_train), threshold, refusal_message)
    report = _report(held_out, [q for q, y in zip(x_test, y_test) if y == 1],
                     [q for q, y in zip(x_test, y_test) if y == 0], len(x_train))
    pipeline = build_pipeline(c, seed).fit(texts, labels) if refit_all else held_out.pipeline
    info = {"n_in_domain": len(pos), "n_off_topic": len(neg), "user_negatives": len(_clean(negatives)),
            "builtin_offtopic": use_builtin_offtopic, "refit_all": refit_all, "test_fraction": test_fraction,
            "seed": seed, "C": c, "features": "tfidf word 1-2 + char_wb 2-5", "fitted_at": time.time()}
    return TopicGate(pipeline, threshold, refusal_message, report, info), report
