"""The training pairs' answer sentences as plain text, to be learned without their questions.

A document's passages teach its facts in the source's words only, and the pairs teach them only as answers to
questions. The pairs' answers are the same facts restated (subjects named, leading phrases moved, other verbs),
so training on them as text as well shows each fact in several statements, which is what lets a model recall a
fact from new wordings (Allen-Zhu & Li, "Physics of Language Models 3.1", 2023: knowledge augmentation of the
text, sentences in varied order). Off by default (``train_on_statements``): on the knowledge benchmark's
biography it answered fewer reworded questions and made each step slower (config.py, README).

The distinct answers of one passage, in a seeded shuffled order, are joined into texts about as long as the
passages. Pure Python: the training-time estimate counts these texts without torch.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from typing import Any

MIN_WORDS = 4  # "Yes." or "1957." states nothing without its question
MAX_CHARS = 800  # about a passage of the QA step's default split


def fact_texts(pairs: Iterable[dict[str, Any]], seed: int = 0, max_chars: int = MAX_CHARS) -> list[str]:
    """Texts of the pairs' distinct answer sentences, grouped by passage (in order of first appearance), each
    group shuffled with ``seed`` and cut into texts of at most ``max_chars`` (a longer sentence stands alone)."""
    groups: dict[str, list[str]] = {}
    seen: set[str] = set()
    for pair in pairs:
        answer = " ".join(str(pair.get("answer") or "").split())
        if len(answer.split()) < MIN_WORDS or answer in seen:
            continue
        seen.add(answer)
        groups.setdefault(str(pair.get("passage_id") or pair.get("source") or ""), []).append(answer)
    rng = random.Random(seed)
    texts: list[str] = []
    for sentences in groups.values():
        rng.shuffle(sentences)
        current: list[str] = []
        for sentence in sentences:
            if current and len(" ".join([*current, sentence])) > max_chars:
                texts.append(" ".join(current))
                current = []
            current.append(sentence)
        if current:
            texts.append(" ".join(current))
    return texts
