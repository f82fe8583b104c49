"""The causal-LM loss with the output layer computed only where there are labels (the answer tokens).

With a 49,152-word vocabulary the output projection is about a fifth of SmolLM2's work per token, and the
prompt (chat template, question) is about half of each QA example; its logits are computed and thrown away
by the usual loss. Here the model's output layer is swapped, for one forward pass, for a stand-in that
projects only the positions whose next token is a label. The loss is the same cross-entropy, summed and
divided by the same count, so values and gradients match the full computation up to float rounding.

Knows nothing of the Trainer or of files.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import torch
import torch.nn.functional as F

from .formatting import IGNORE, WEIGHTS


class _SelectedRows(torch.nn.Module):
    """Applies ``head`` to the flattened hidden states at ``keep`` only; returns (1, kept, vocab) logits."""

    def __init__(self, head: torch.nn.Module, keep: torch.Tensor) -> None:
        super().__init__()
        self.head = head
        self.keep = keep

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        if hidden.shape[:2] != self.keep.shape:
            raise ValueError(f"hidden states {tuple(hidden.shape[:2])} do not line up with the labels "
                             f"{tuple(self.keep.shape)} (a method that prepends tokens); use the full loss")
        rows = hidden.reshape(-1, hidden.shape[-1])[self.keep.reshape(-1)]
        return self.head(rows).unsqueeze(0)


def _owner_of_head(model: torch.nn.Module) -> tuple[torch.nn.Module, str] | None:
    """(module, attribute name) holding the model's output layer, or None when it cannot be found."""
    base = getattr(model, "module", model)  # inside DistributedDataParallel
    base = base.get_base_model() if hasattr(base, "get_base_model") else base
    get = getattr(base, "get_output_embeddings", None)
    head = get() if get else None
    if not isinstance(head, torch.nn.Module):
        return None
    for name, child in base.named_children():
        if child is head:
            return base, name
    return None


def supported(model: torch.nn.Module) -> bool:
    return _owner_of_head(model) is not None


@contextlib.contextmanager
def _head_swapped(model: torch.nn.Module, keep: torch.Tensor) -> Iterator[None]:
    found = _owner_of_head(model)
    if found is None:
        raise ValueError("the model's output layer cannot be found; use the full loss")
    owner, name = found
    head = getattr(owner, name)
    setattr(owner, name, _SelectedRows(head, keep))
    try:
        yield
    finally:
        setattr(owner, name, head)


def _next(values: torch.Tensor, fill: float | int) -> torch.Tensor:
    """Each position's value taken from the position after it (t -> t+1), ``fill`` at the end of each row."""
    return torch.cat([values[:, 1:], torch.full_like(values[:, :1], fill)], dim=1)


def _targets(labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(the label each position predicts; the mask of positions that predict one)."""
    targets = _next(labels, IGNORE)
    return targets, targets != IGNORE


def _model_inputs(inputs: dict[str, Any]) -> dict[str, Any]:
    """The batch without what only the loss reads."""
    return {k: v for k, v in inputs.items() if k not in ("labels", WEIGHTS)}


def answer_token_nll(model: torch.nn.Module, inputs: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor]:
    """(negative log-likelihood in nats of each labelled next token, float32; the (batch, length) mask of the
    positions that predict them), with logits computed at those positions only."""
    targets, keep = _targets(inputs["labels"])
    with _head_swapped(model, keep):
        logits = model(**_model_inputs(inputs)).logits
    nll = F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), targets[keep], reduction="none")
    return nll, keep


def full_token_nll(model: torch.nn.Module, inputs: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor]:
    """What answer_token_nll gives, from the logits of every position (the path for models whose output layer
    cannot be swapped); logits of tokens a method prepends (prompt tuning) are left out."""
    targets, keep = _targets(inputs["labels"])
    logits = model(**_model_inputs(inputs)).logits[:, -targets.shape[1]:]
    nll = F.cross_entropy(logits[keep].float(), targets[keep], reduction="none")
    return nll, keep


def answer_only_loss(model: torch.nn.Module, inputs: dict[str, Any],
                     num_items_in_batch: torch.Tensor | int | None = None, full_logits: bool = False) -> torch.Tensor:
    """Cross-entropy of the next-token predictions at labelled positions, logits computed only there (or
    everywhere with ``full_logits``). With per-label weights in the batch (formatting.WEIGHTS) each token's term
    is weighted; the divisor stays the count of labelled tokens, so weights of 1 give the plain loss."""
    nll, keep = (full_token_nll if full_logits else answer_token_nll)(model, inputs)
    weights = inputs.get(WEIGHTS)
    if weights is not None:
        nll = nll * _next(weights, 1.0)[keep].to(nll.device, nll.dtype)  # aligned with the targets
    loss = nll.sum()
    count = num_items_in_batch if num_items_in_batch is not None else keep.sum()
    if isinstance(count, torch.Tensor):
        count = count.to(loss.device)
    return loss / count
