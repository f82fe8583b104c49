"""The base model's greedy answers, kept per question across evaluations, and its NLL of reference answers.

Every evaluation asks the base model the forgetting probe, and every evaluation of a dataset asks it that
dataset's test questions. With greedy decoding the base model's answer to a prompt does not change from one
tuned run to the next, so each answer is kept under a key of everything that shapes it (model files, device,
dtype, quantisation, system prompt, generation settings, library versions) and reused. An answer may come
from a batch of other questions than this evaluation would form; it is still the base model's greedy answer
to that prompt. The perplexity pass's per-reference NLL (question and reference answer) is kept the same way.

One JSON file per key under the user's cache folder ($WORKBENCH_BASE_ANSWERS moves it), replaced
atomically; two evaluations writing at once lose at most each other's new answers, never a file.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from .rundir import atomic_write_json, read_json
from .workspace import cache_dir

MAX_ANSWERS = 20000  # a file larger than this starts afresh: a cache, not an archive


def folder() -> Path:
    """$WORKBENCH_BASE_ANSWERS if set, else <cache>/base-answers."""
    return Path(os.environ.get("WORKBENCH_BASE_ANSWERS") or cache_dir() / "base-answers")


def key(settings: dict[str, Any]) -> str:
    """A digest of everything that shapes an answer apart from the question."""
    return hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()[:24]


class BaseAnswers:
    """Answers of one base model under one set of settings, by question."""

    def __init__(self, settings: dict[str, Any], root: Path | None = None):
        self.path = (root or folder()) / f"{key(settings)}.json"
        raw = read_json(self.path, {}) or {}
        raw = raw if isinstance(raw, dict) else {}
        self.answers: dict[str, str] = raw.get("answers", {})
        self.nll: dict[str, list[float]] = raw.get("nll", {})
        self.settings = settings
        self.asked: set[str] = set()  # questions this evaluation put to the model: the answers save() adds
        self.scored: set[str] = set()  # references whose NLL this evaluation computed

    def get(self, question: str) -> str | None:
        return self.answers.get(question)

    def put(self, question: str, answer: str) -> None:
        self.answers[question] = answer
        self.asked.add(question)

    def get_nll(self, question: str, answer: str) -> tuple[float, int] | None:
        """(summed NLL, answer tokens) of a reference answer to a question under the base model, if kept."""
        value = self.nll.get(_pair_key(question, answer))
        return (float(value[0]), int(value[1])) if value else None

    def put_nll(self, question: str, answer: str, value: tuple[float, int]) -> None:
        key_ = _pair_key(question, answer)
        self.nll[key_] = [float(value[0]), int(value[1])]
        self.scored.add(key_)

    def save(self) -> None:
        """Merge this evaluation's new answers into the file as it is now (another evaluation may have added
        some meanwhile) and replace it."""
        if not self.asked and not self.scored:
            return
        current = read_json(self.path, {}) or {}
        current = current if isinstance(current, dict) else {}
        answers, nll = current.get("answers", {}), current.get("nll", {})
        if len(answers) + len(nll) > MAX_ANSWERS:
            answers, nll = {}, {}
        answers.update({q: self.answers[q] for q in self.asked})
        nll.update({k: self.nll[k] for k in self.scored})
        self.path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_json(self.path, {"settings": self.settings, "answers": answers, "nll": nll})


def _pair_key(question: str, answer: str) -> str:
    """One string per (question, reference answer): a JSON array, so no separator can be confused."""
    return json.dumps([question, answer], ensure_ascii=False)
