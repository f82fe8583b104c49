"""The LLM judge: marks each answer for fluency, relevance and accuracy (0-100), from a local model or a model
behind an OpenAI-compatible API (through the one client in endpoint.py). Reads the marks leniently from the
reply (a JSON object, or "fluency: 80" lines) and never invents one: an unreadable reply is counted. This
module answers no question and computes no other metric (evaluate.py, metrics.py); a local judge model is
loaded only when asked for (layer 3).
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from .config import GenParams
from .endpoint import EndpointError, chat_completion
from .errors import UserError
from .eval_results import JUDGE_CRITERIA, SIDES, EvalError, delta

log = logging.getLogger(__name__)

JUDGE_KEY_ENV = "WORKBENCH_JUDGE_KEY"
JUDGE_MAX_NEW_TOKENS = 160
JUDGE_TIMEOUT_S = 120.0

JUDGE_PROMPT = """You are a strict examiner grading one answer to a question.

Question: {question}
Reference answer: {reference}
Answer to grade: {answer}

Give three marks from 0 (worst) to 100 (best):
- fluency: is the answer well-formed, readable language?
- relevance: does it address the question that was asked?
- accuracy: does it state the same facts as the reference answer, without contradicting it?

Reply with one JSON object and nothing else, for example:
{{"fluency": 90, "relevance": 80, "accuracy": 40, "reason": "Fluent and on topic, but gives the wrong year."}}"""


class JudgeError(UserError, ValueError):
    """The LLM judge cannot be reached or used; the message says what to check."""


@dataclass(frozen=True)
class JudgeSpec:
    """Who grades the answers: a local model (alias or folder) or a model behind an OpenAI-compatible API."""

    model: str = ""  # local alias/path, or the model name sent to the endpoint
    url: str = ""  # base URL of an OpenAI-compatible API; empty = run `model` locally

    def __post_init__(self) -> None:
        if self.url and not self.url.startswith(("http://", "https://")):
            raise EvalError(f"judge URL {self.url!r} must start with http:// or https://")
        if not self.url and not self.model:
            raise EvalError("a judge needs a local model (alias or folder) or the URL of an OpenAI-compatible API")

    @classmethod
    def parse(cls, target: str, model: str = "") -> JudgeSpec:
        """``--judge MODEL|URL``: a URL names an endpoint (``model`` is the name sent to it), else a local model."""
        target = (target or "").strip()
        if target.startswith(("http://", "https://")):
            return cls(model=model, url=target)
        if "://" in target:
            raise EvalError(f"judge {target!r}: only http:// and https:// endpoints are supported")
        return cls(model=target or model)

    def describe(self) -> str:
        return f"{self.model or 'default model'} at {self.url}" if self.url else f"local model {self.model}"


_NUMBER = r"(\d{1,3}(?:\.\d+)?)\s*(?:/\s*(100|10)\b|%)?"


def _mark(value: Any, scale: str | None = None) -> float | None:
    """A mark on 0-100 from a number or numeric text ("85", "85/100", "8.5/10", "85%")."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        m = re.search(_NUMBER, value)
        if not m:
            return None
        value, scale = m.group(1), m.group(2)
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    if scale == "10":
        number *= 10
    return max(0.0, min(100.0, number)) if math.isfinite(number) else None


def _json_objects(text: str) -> Iterator[dict[str, Any]]:
    decoder = json.JSONDecoder()
    for m in re.finditer(r"\{", text):
        try:
            obj, _ = decoder.raw_decode(text[m.start():])
        except json.JSONDecodeError:
            continue
        if isinstance(obj, dict):
            yield obj


def parse_judgement(text: str) -> dict[str, Any]:
    """Marks for fluency, relevance and accuracy (0-100, None when missing) and a short reason.

    Reads the first JSON object holding any of the marks (keys in any case, numbers or numeric text); without
    one, looks for "fluency: 80"-style lines. ``parsed`` says whether all three marks were found.
    """
    text = text or ""
    marks: dict[str, float | None] = dict.fromkeys(JUDGE_CRITERIA)
    reason = ""
    for obj in _json_objects(text):
        lowered = {str(k).strip().lower(): v for k, v in obj.items()}
        if any(c in lowered for c in JUDGE_CRITERIA):
            marks = {c: _mark(lowered.get(c)) for c in JUDGE_CRITERIA}
            reason = str(lowered.get("reason") or lowered.get("explanation") or "")
            break
    else:
        for c in JUDGE_CRITERIA:
            m = re.search(rf"\b{c}\b[\"'*\s]*[:=\-]?\s*[\"']?" + _NUMBER, text, flags=re.IGNORECASE)
            marks[c] = _mark(m.group(1), m.group(2)) if m else None
        m = re.search(r"\breason\b[\"'*\s]*[:=\-]\s*[\"']?(.+)", text, flags=re.IGNORECASE)
        reason = m.group(1).strip().strip("\"'}") if m else ""
    return {**marks, "reason": " ".join(reason.split())[:300], "parsed": all(v is not None for v in marks.values())}


def judge_prompts(pairs: Sequence[dict[str, Any]], answers: Sequence[str]) -> list[str]:
    return [JUDGE_PROMPT.format(question=p["question"], reference=p["answer"], answer=a or "(no answer)")
            for p, a in zip(pairs, answers)]


def ask_endpoint(spec: JudgeSpec, prompt: str, timeout: float = JUDGE_TIMEOUT_S) -> str:
    """One greedy chat completion from an OpenAI-compatible API; the API key is read from $WORKBENCH_JUDGE_KEY."""
    body = {"model": spec.model or "default", "messages": [{"role": "user", "content": prompt}],
            "temperature": 0, "max_tokens": JUDGE_MAX_NEW_TOKENS}
    try:
        return chat_completion(spec.url, body, api_key=os.environ.get(JUDGE_KEY_ENV, ""), timeout=timeout,
                               key_hint=f"${JUDGE_KEY_ENV}")
    except EndpointError as exc:
        prefix = "cannot reach the judge" if exc.kind in ("connect", "timeout") else "the judge failed"
        raise JudgeError(f"{prefix}: {exc}") from None


def ask_local(spec: JudgeSpec, prompts: list[str]) -> list[str]:
    """Greedy replies of a local judge model (loaded here, freed after)."""
    from . import models
    from .generation import free_memory, generate_batch

    model, tok, _ = models.load_model(spec.model)
    try:
        gen = GenParams(max_new_tokens=JUDGE_MAX_NEW_TOKENS, repetition_penalty=1.0)
        return generate_batch(model, tok, [[{"role": "user", "content": p}] for p in prompts], gen)
    finally:
        del model
        free_memory()


def run_judge(spec: JudgeSpec, pairs: Sequence[dict[str, Any]], answers: dict[str, list[str]],
              progress: Any) -> tuple[dict[str, Any], dict[str, list[dict[str, Any]]]]:
    """Mean marks per side and each answer's marks; an unreachable judge is reported in the summary."""
    t0 = time.perf_counter()
    per_side: dict[str, list[dict[str, Any]]] = {}
    try:
        for side in SIDES:
            prompts = judge_prompts(pairs, answers[side])
            if spec.url:
                replies = []
                for prompt in prompts:
                    replies.append(ask_endpoint(spec, prompt))
                    progress.advance(1, f"judging {side} answers")
            else:
                replies = ask_local(spec, prompts)
                progress.advance(len(prompts), f"judging {side} answers")
            per_side[side] = [{**parse_judgement(r), "raw": r[:1000]} for r in replies]
    except JudgeError as exc:
        log.warning("judge failed: %s", exc)
        return {"judge": spec.describe(), "error": str(exc)}, {}
    summary: dict[str, Any] = {"judge": spec.describe(), "prompt": JUDGE_PROMPT,
                               "seconds": round(time.perf_counter() - t0, 2)}
    for side in SIDES:
        marks = per_side[side]
        summary[side] = {c: _mean([m[c] for m in marks if m[c] is not None]) for c in JUDGE_CRITERIA}
        summary[side]["unparsed"] = sum(not m["parsed"] for m in marks)
    summary["delta"] = delta(summary["base"], summary["tuned"])
    summary["delta"].pop("unparsed", None)
    return summary, per_side


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None
