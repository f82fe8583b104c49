"""Question word dropout: each time a pair is drawn for training, some of its question's common words are left out.

A reader asks about a trained fact in words of their own ("staff on the payroll" for "employs", "set up" for
"created"); what their question shares with the trained ones is mostly the names and numbers. Dropping the
other words at random, a new selection every epoch, makes the model answer from what is left, so an answer no
longer hangs on one verb. Names (capitalised words past the first), numbers and the question word stay; the
answer is never changed. The dataset re-encodes a pair on every draw, so the number of steps is unchanged.

Knows nothing of Trainer, methods or files.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from typing import Any

from torch.utils.data import Dataset

_WORD = re.compile(r"\S+")
# a word that carries the question's cue to its fact: a name or a number ("Brackwater", "1958", "£7.6")
_KEPT = re.compile(r"^[^\w]*(?:[A-Z]|\d|[£$€])")


def drop_words(question: str, p: float, rng: random.Random) -> str:
    """``question`` with each common word after the first left out with probability ``p``; names, numbers and
    the closing punctuation stay. Never returns fewer than two words."""
    if p <= 0:
        return question
    words = _WORD.findall(question)
    if len(words) < 3:
        return question
    kept = [words[0]] + [w for w in words[1:] if _KEPT.match(w) or rng.random() >= p]
    if len(kept) < 2:
        kept = words[:2]
    text = " ".join(kept)
    end = question.rstrip()[-1:]
    if end in "?." and not text.endswith(end):
        text = text.rstrip(",;:") + end
    return text


class TrainExamples(Dataset):
    """Encoded training examples, the pairs among them re-encoded on each draw with their question's words
    dropped (``p`` > 0); the other examples (replay pairs, passages) as they are."""

    def __init__(self, fixed: list[dict[str, Any]], pairs: list[dict[str, Any]],
                 encode: Callable[[dict[str, Any]], dict[str, list] | None], p: float, seed: int):
        self.fixed, self.encode, self.p = list(fixed), encode, p
        self.rng = random.Random(seed)
        # a pair whose prompt alone fills max_seq_len teaches nothing, with or without dropped words
        self.pairs = [pair for pair in pairs if encode(pair) is not None]

    def __len__(self) -> int:
        return len(self.pairs) + len(self.fixed)

    def __getitem__(self, i: int) -> dict[str, list]:
        if i >= len(self.pairs):
            return self.fixed[i - len(self.pairs)]
        pair = self.pairs[i]
        dropped = {**pair, "question": drop_words(pair["question"], self.p, self.rng)}
        return self.encode(dropped) or self.encode(pair)
