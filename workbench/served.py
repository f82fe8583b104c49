"""Evaluation answers from a serving engine: vLLM, SGLang, llama.cpp's server or TGI, reached through the OpenAI
chat-completions API that each of them speaks.

On a GPU, a serving engine answers a few hundred questions many times faster than ``generate``. vLLM serves the
tuned model as a LoRA module beside its base (`vllm serve BASE --enable-lora --lora-modules tuned=RUN/adapter`)
or a merged export as a model of its own, so one server can answer for both sides. The workbench sends the
same chat messages (system prompt included) and the same greedy settings it uses itself; the engine applies
the model's chat template. A different engine may round differently, so the first ``parity`` questions of
each served side are also answered by the workbench's own model and the two answers compared: the result
says how many were the same, and which were not, instead of trusting the server blindly.

Only the answers come from the server; the reference answers' perplexity is still computed by the local
model. No torch (layer 2).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from .endpoint import chat_completion
from .errors import UserError

API_KEY_ENV = "WORKBENCH_SERVE_API_KEY"


class ServeError(UserError, ValueError):
    """A serving-engine setting that cannot work."""


@dataclass(frozen=True)
class ServeSpec:
    """Where evaluation answers come from: an OpenAI-compatible server and the model names it knows."""

    url: str  # base URL, e.g. http://127.0.0.1:8000/v1
    tuned_model: str  # the name the server gives the tuned model (a LoRA module's name in vLLM)
    base_model: str = ""  # the name of the base model there; empty = the base side is answered locally
    parity: int = 8  # questions of each served side also answered locally and compared; 0 = none
    workers: int = 16  # requests in flight at once (a serving engine batches them itself)

    def __post_init__(self) -> None:
        if not self.url.startswith(("http://", "https://")):
            raise ServeError(f"serving URL {self.url!r} must start with http:// or https://")
        if not self.tuned_model.strip():
            raise ServeError("name the tuned model as the server knows it (--serve-model), e.g. the LoRA module "
                             "name given to `vllm serve --lora-modules NAME=RUN/adapter`")
        if self.parity < 0:
            raise ServeError(f"parity {self.parity} must be 0 (no check) or a number of questions")
        if self.workers < 1:
            raise ServeError(f"workers {self.workers} must be at least 1")

    def model_for(self, side: str) -> str | None:
        """The served model that answers for ``side`` ("base" or "tuned"), or None where it is answered locally."""
        return self.tuned_model if side == "tuned" else (self.base_model or None)

    def to_dict(self) -> dict[str, Any]:
        return {"url": self.url, "tuned_model": self.tuned_model, "base_model": self.base_model,
                "parity": self.parity, "workers": self.workers}

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> ServeSpec | None:
        if not data:
            return None
        unknown = sorted(set(data) - {"url", "tuned_model", "base_model", "parity", "workers"})
        if unknown:
            raise ServeError(f"unknown serving setting(s): {', '.join(unknown)}")
        return cls(url=str(data.get("url", "")), tuned_model=str(data.get("tuned_model", "")),
                   base_model=str(data.get("base_model") or ""), parity=int(data.get("parity", 8)),
                   workers=int(data.get("workers", 16)))


def request_body(model: str, messages: list[dict[str, str]], gen: Any) -> dict[str, Any]:
    """One chat-completions request with the evaluation's decoding settings. ``repetition_penalty`` is not in
    the OpenAI API, but vLLM, SGLang and llama.cpp's server read it as an extra sampling parameter; it is sent
    only where it changes anything, so that a strict server accepts the greedy default."""
    greedy = gen.temperature == 0
    body: dict[str, Any] = {"model": model, "messages": messages, "max_tokens": int(gen.max_new_tokens),
                            "temperature": float(gen.temperature), "top_p": 1.0 if greedy else float(gen.top_p)}
    if greedy:
        body["seed"] = 0
    if gen.repetition_penalty != 1.0:
        body["repetition_penalty"] = float(gen.repetition_penalty)
    return body


def served_answers(spec: ServeSpec, model: str, conversations: Sequence[list[dict[str, str]]], gen: Any,
                   progress: Callable[[int], None] | None = None) -> list[str]:
    """The server's replies to ``conversations``, in order. ``progress(1)`` runs in the caller's thread after
    each reply, so it may raise to stop: the requests not yet sent are then cancelled."""
    api_key = os.environ.get(API_KEY_ENV, "")

    def one(messages: list[dict[str, str]]) -> str:
        return chat_completion(spec.url, request_body(model, messages, gen), api_key=api_key, retries=2,
                               key_hint=f"set ${API_KEY_ENV}").strip()

    pool = ThreadPoolExecutor(max_workers=max(1, min(spec.workers, len(conversations))))
    replies: list[str] = []
    try:
        for reply in pool.map(one, conversations):
            replies.append(reply)
            if progress is not None:
                progress(1)
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    return replies


def parity_report(served: Sequence[str], local: Sequence[str], questions: Sequence[str]) -> dict[str, Any]:
    """How many of the checked questions got the same answer from the server and the local model (whitespace at
    the ends ignored), with the first few that did not."""
    same = [s.strip() == loc.strip() for s, loc in zip(served, local)]
    differ = [{"question": q, "served": s, "local": loc}
              for q, s, loc, ok in zip(questions, served, local, same) if not ok]
    return {"checked": len(same), "same": sum(same), "differ": differ[:5]}


def describe(served: dict[str, dict[str, Any]] | None) -> list[str]:
    """One line per served side of an evaluation's settings: who answered and how the parity check went."""
    lines = []
    for side, p in (served or {}).items():
        check = (f"the local model gave the same answer to {p['same']} of the first {p['checked']} questions"
                 if p.get("checked") else "no parity check")
        lines.append(f"{side} answers served by {p.get('model')} at {p.get('url')}; {check}")
        if p.get("differ"):
            first = p["differ"][0]
            lines.append(f"  first difference: {first['question']!r}: served {first['served'][:80]!r}, "
                         f"local {first['local'][:80]!r}")
    return lines
