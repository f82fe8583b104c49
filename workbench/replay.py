"""Replay pairs against forgetting: general questions answered by the base model itself before training,
mixed into the training set so that the tuned model keeps answering everyday questions as it did.

The questions (``assets/replay_questions.txt``) come in two forms: explanations and how-tos, and one-fact
questions (who, which, when, how many). The second matter most: a document's pairs are all one-fact questions,
so without replay of that form the tuned model learns that any such question is answered from the document.
None is the forgetting probe's: a question the probe also asks is refused, and so is an answer that states what
a probe question asks, so the probe stays a held-out measure. The base model's answers are cached per model,
system prompt, decoding and question list, since every run on the same base would write the same ones.
This module trains nothing and does not decide the share; ``train`` asks for ``count(...)`` pairs.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from pathlib import Path
from typing import Any

from .config import GenParams
from .generation import answer_questions
from .rundir import atomic_write_text
from .workspace import cache_dir

QUESTIONS = Path(__file__).resolve().parent.parent / "assets" / "replay_questions.txt"
# Long enough for a one- or two-sentence everyday answer; longer ones would teach rambling.
GEN = GenParams(max_new_tokens=64, temperature=0.0, repetition_penalty=1.1, batch_size=16)


def _norm(question: str) -> str:
    return re.sub(r"[^a-z0-9 ]+", "", question.lower()).strip()


def questions(probe: list[str] | None = None) -> list[str]:
    """The shipped replay questions, less any the forgetting probe asks."""
    from .metrics import load_forgetting_probe

    asked = {_norm(q) for q in (probe if probe is not None else [i["question"] for i in load_forgetting_probe()])}
    lines = [line.strip() for line in QUESTIONS.read_text(encoding="utf-8").splitlines() if line.strip()]
    # The file is grouped by topic and by form (explanations first, one-fact questions after) and a run takes the
    # first n: a fixed shuffle makes any first n a sample of every topic and of both forms.
    random.Random(0).shuffle(lines)
    return [q for q in lines if _norm(q) not in asked]


def count(share: float, n_train: int, available: int) -> int:
    """Replay pairs for ``n_train`` domain pairs so that they make up ``share`` of the mix."""
    if share <= 0 or n_train <= 0:
        return 0
    return min(available, round(share / (1 - share) * n_train))


def _cache_file(model_key: str, system_prompt: str) -> Path:
    digest = hashlib.sha256(json.dumps([model_key, system_prompt, GEN.__dict__]).encode()).hexdigest()[:16]
    return cache_dir() / "replay" / f"{digest}.json"


def pairs(model: Any, tok: Any, n: int, model_key: str, system_prompt: str = "") -> list[dict[str, Any]]:
    """``n`` replay pairs answered by ``model`` (the base, before any adapter). Answers are cached per model,
    system prompt and decoding, question by question, so a later run generates only the ones it lacks."""
    if n <= 0:
        return []
    items = questions()[:n]
    path = _cache_file(model_key, system_prompt)
    cached: dict[str, str] = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    missing = [q for q in items if q not in cached]
    if missing:
        cached.update(zip(missing, (a.strip() for a in answer_questions(model, tok, missing, GEN, system_prompt))))
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, json.dumps(cached, indent=0))
    out = []
    probe = _probe_facts()
    for i, q in enumerate(items):
        answer = whole_sentences(cached.get(q, ""))
        if answer and not states_probe_fact(answer, probe):
            out.append({"id": f"replay-{i:03d}", "question": q, "answer": answer, "origin": "replay"})
    return out


_COMMON = {"what", "which", "when", "where", "there", "does", "many", "known", "called", "year", "from", "make",
           "take", "need", "with", "around", "human", "people", "first", "largest", "closest"}


def _probe_facts() -> list[tuple[list[str], set[str]]]:
    """Each probe item as (its keys, the telling words of its question: "japan" for the capital of Japan)."""
    from .metrics import load_forgetting_probe

    out = []
    for item in load_forgetting_probe():
        keys = [k for alt in item.get("keys") or [] for k in alt.split("|") if k.strip()]
        words = {w for w in re.findall(r"[a-z]{4,}", item["question"].lower()) if w not in _COMMON}
        if keys and words:
            out.append((keys, words))
    return out


def states_probe_fact(answer: str, probe: list[tuple[list[str], set[str]]]) -> bool:
    """Whether a replay answer states what a probe question asks ("In which country is Kyoto?" answered "The
    capital of Japan is Tokyo."): trained on, it would teach the probe's answer and the probe would no longer
    measure forgetting alone."""
    low = answer.lower()
    words = set(re.findall(r"[a-z]{4,}", low))
    return any(words & telling and any(re.search(rf"(?<!\w){re.escape(k.lower())}(?!\w)", low) for k in keys)
               for keys, telling in probe)


def whole_sentences(answer: str) -> str:
    """An answer cut at the token limit, trimmed to its last whole sentence (a full stop after a word, not after
    a list number): training on a cut-off answer would teach the model to stop mid-sentence."""
    answer = answer.strip()
    ends = [m.end() for m in re.finditer(r"[.!?](?=\s|$)", answer)
            if not re.search(r"(?:^|\n)\s*\d+$", answer[:m.start()])]  # "\n\n1." opens a list
    if not ends:
        return ""
    return answer[:ends[-1]].rstrip(" :")
