"""Greedy decoding of a left-padded batch that drops each row from the batch as soon as it has answered.

transformers' ``generate`` keeps every row of a batch until the longest answer ends: a batch of sixteen
questions whose answers take 12 to 128 tokens computes 16 x 128 steps. Here a row leaves the batch (and its
key/value cache) when it emits an end-of-sequence token, so each step computes only the rows still answering.
The steps of a row are those ``generate`` takes: positions from the attention mask, the repetition penalty
over the row's prompt and answer (transformers' own processor), argmax over float32 logits. Answers are the
same up to float rounding in batches of another size (``bench/eval_throughput.py`` counts them).

Greedy only; sampling and prompt-learning adapters (which manage their own cache) take ``generate``.
Knows nothing of chat templates, files or the UI.
"""

from __future__ import annotations

import torch

from . import models


def eos_ids(model: torch.nn.Module, fallback: int | None) -> set[int]:
    """The token ids that end an answer: the model's generation config's, else the tokenizer's."""
    config = getattr(model, "generation_config", None)
    ids = getattr(config, "eos_token_id", None) if config is not None else None
    if ids is None:
        ids = fallback
    return set(ids if isinstance(ids, (list, tuple)) else [ids]) - {None}


@torch.inference_mode()
def greedy(model: torch.nn.Module, input_ids: torch.Tensor, attention_mask: torch.Tensor, max_new_tokens: int,
           stop: set[int], repetition_penalty: float = 1.0) -> list[list[int]]:
    """New token ids per row (end-of-sequence token excluded), rows dropped from the batch once finished."""
    from transformers import DynamicCache
    from transformers.generation.logits_process import RepetitionPenaltyLogitsProcessor

    penalise = RepetitionPenaltyLogitsProcessor(repetition_penalty) if repetition_penalty != 1.0 else None
    answers: list[list[int]] = [[] for _ in range(input_ids.shape[0])]
    live = torch.arange(input_ids.shape[0], device=input_ids.device)  # batch row -> question index
    seqs, mask = input_ids, attention_mask
    positions = (mask.long().cumsum(-1) - 1).masked_fill(mask == 0, 0)
    step_ids = input_ids
    cache = DynamicCache(config=model.config)
    stop_ids = torch.tensor(sorted(stop), device=input_ids.device)
    for _ in range(max_new_tokens):
        logits = model(input_ids=step_ids, attention_mask=mask, position_ids=positions, past_key_values=cache,
                       use_cache=True, logits_to_keep=1).logits[:, -1, :].to(dtype=torch.float32)
        if penalise is not None:
            logits = penalise(seqs, logits)
        tokens = logits.argmax(dim=-1)
        done = torch.isin(tokens, stop_ids)
        for row, token, finished in zip(live.tolist(), tokens.tolist(), done.tolist()):
            if not finished:
                answers[row].append(token)
        keep = (~done).nonzero().squeeze(-1)
        if keep.numel() == 0:
            break
        if keep.numel() < live.numel():
            cache.batch_select_indices(keep)
            live, seqs, mask, tokens, positions = live[keep], seqs[keep], mask[keep], tokens[keep], positions[keep]
        seqs = torch.cat([seqs, tokens[:, None]], dim=-1)
        mask = torch.cat([mask, mask.new_ones((mask.shape[0], 1))], dim=-1)
        positions = positions[:, -1:] + 1
        step_ids = tokens[:, None]
    return answers


def can_prune(model: torch.nn.Module) -> bool:
    """Greedy with dropped rows serves models whose cache the model keeps itself (not prompt learning)."""
    if models.prompt_learning(model):
        return False
    return getattr(getattr(model, "config", None), "is_encoder_decoder", False) is False
