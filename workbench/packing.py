"""Padding-free packing of a batch into one row, with the prompt head the batch shares computed once.

Every QA example under a chat template starts with the same tokens (SmolLM2's default system turn and the
user turn's header are about 22 of a 60-token example). A causal model's states at those positions depend on
those tokens alone, so they are the same in every example of the batch. The collator here lays out one row:
the shared head once, then the rest of each example, with positions continuing from the head for each example
and an attention mask that lets every example see the head and itself, never another example. Each token then
sees exactly what it saw in its own padded row, at the same position: loss and gradients are those of the
unpacked batch up to float rounding (tests/test_packing.py), with neither padding nor repeated heads computed.

Where examples share nothing (plain-text passages), the head is empty and this is plain padding-free packing.
Only positions whose targets are ignored in every example are shared, so no prediction is lost.

Knows nothing of the Trainer, methods or files.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from . import models
from .formatting import IGNORE, WEIGHTS

# The attention kernels that take a ready 4D mask from transformers' masking code: sdpa a boolean one (True =
# attend), eager an additive one. FlashAttention and flex kernels build their own and are not packed here.
MASKED_KERNELS = ("sdpa", "eager")


def shared_head(batch: list[dict[str, list[int]]]) -> int:
    """Length of the token prefix common to every example whose next-token targets are all ignored.

    The head's last position predicts each example's next token; that target is ignored (a prompt token)
    wherever the head may be shared, and each example keeps at least one token of its own.
    """
    first = batch[0]["input_ids"]
    limit = min(len(ex["input_ids"]) - 1 for ex in batch)
    for ex in batch:
        labels = ex["labels"]
        labelled = next((t for t in range(1, len(labels)) if labels[t] != IGNORE), len(labels))
        limit = min(limit, labelled - 1)
    n = 0
    while n < limit and all(ex["input_ids"][n] == first[n] for ex in batch):
        n += 1
    return n


def segment_ids(head: int, lengths: list[int]) -> torch.Tensor:
    """The segment of each position of a packed row: 0 for the shared head, i + 1 for example i's own tokens."""
    return torch.cat([torch.zeros(head, dtype=torch.long)]
                     + [torch.full((n,), i + 1, dtype=torch.long) for i, n in enumerate(lengths)])


def attention_mask(head: int, lengths: list[int]) -> torch.Tensor:
    """(1, 1, T, T) boolean mask, True where a query may attend to a key: causal, within its own segment or
    to the shared head (segment 0)."""
    segment = segment_ids(head, lengths)
    size = segment.numel()
    causal = torch.ones(size, size, dtype=torch.bool).tril()
    same = (segment[:, None] == segment[None, :]) | (segment[None, :] == 0)
    return (causal & same)[None, None]


def additive(mask: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """The eager kernel's form of a boolean mask: 0 where attended, the dtype's minimum elsewhere."""
    out = torch.zeros(mask.shape, dtype=dtype)
    return out.masked_fill(~mask, torch.finfo(dtype).min)


@dataclass
class PackingCollator:
    """One row per batch: the shared head once, then each example's own tokens; counts the examples' tokens
    (as the padding collator counts its real ones, so tokens/s compares like with like)."""

    additive_dtype: torch.dtype | None = None  # None: boolean mask (sdpa); a float dtype: additive (eager)
    tokens_seen: int = 0

    def __call__(self, batch: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        head = shared_head(batch)
        ids, labels = list(batch[0]["input_ids"][:head]), [IGNORE] * head
        weights: list[float] = [1.0] * head
        positions, lengths = list(range(head)), []
        for ex in batch:
            own = ex["input_ids"][head:]
            ids += own
            # the segment's first token is predicted from the head (ignored, see shared_head) or, with no head,
            # from nothing: in the row it would be the previous example's last target
            labels += [IGNORE] + list(ex["labels"][head + 1:])
            weights += list(ex.get("weights") or [1.0] * len(ex["input_ids"]))[head:]
            positions += range(head, head + len(own))
            lengths.append(len(own))
        mask = attention_mask(head, lengths)
        self.tokens_seen += sum(len(ex["input_ids"]) for ex in batch)
        out = {"input_ids": torch.tensor([ids]), "labels": torch.tensor([labels]),
               "position_ids": torch.tensor([positions]),
               "attention_mask": mask if self.additive_dtype is None else additive(mask, self.additive_dtype)}
        if any("weights" in ex for ex in batch):
            out[WEIGHTS] = torch.tensor([weights])
        return out


def kernel_of(model: torch.nn.Module) -> str | None:
    config = getattr(model, "config", None)
    return getattr(config, "_attn_implementation", None)


def supported(model: torch.nn.Module) -> str | None:
    """None when batches of this model can be packed; else why not (for the log)."""
    if models.prompt_learning(model):
        return "prompt-learning adapters (prefix tuning) extend the attention mask themselves"
    kernel = kernel_of(model)
    if kernel not in MASKED_KERNELS:
        return f"the {kernel} attention kernel builds its own mask"
    return None


def collator_for(model: torch.nn.Module, dtype: torch.dtype) -> PackingCollator:
    return PackingCollator(additive_dtype=dtype if kernel_of(model) == "eager" else None)
