"""Batched answer generation with left padding: used by training probes, evaluation and QA generation.

One function, no state: the caller owns the model. Streaming multi-turn chat lives in chat.py.
"""

from __future__ import annotations

import gc
from typing import Any

import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from . import decode
from .config import GenParams
from .formatting import messages_for


def generate_kwargs(gen: GenParams, tok: PreTrainedTokenizerBase) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"max_new_tokens": gen.max_new_tokens, "pad_token_id": tok.pad_token_id,
                              "repetition_penalty": gen.repetition_penalty, "num_beams": gen.num_beams}
    if gen.temperature > 0:
        kwargs.update(do_sample=True, temperature=gen.temperature, top_p=gen.top_p)
    else:
        kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
    return kwargs


@torch.inference_mode()
def generate_batch(model: PreTrainedModel | torch.nn.Module, tok: PreTrainedTokenizerBase,
                   conversations: list[list[dict[str, str]]], gen: GenParams) -> list[str]:
    """Reply to each conversation (list of chat messages); batches of ``gen.batch_size``, left-padded."""
    if not conversations:
        return []
    prompts = [tok.apply_chat_template(c, tokenize=False, add_generation_prompt=True) for c in conversations]
    device = next(model.parameters()).device
    side = tok.padding_side
    tok.padding_side = "left"  # generation continues at the right edge of every row
    try:
        replies: list[str] = []
        # Longest prompts first keeps padding inside each batch small; the order is restored below.
        order = sorted(range(len(prompts)), key=lambda i: -len(prompts[i]))
        for start in range(0, len(order), gen.batch_size):
            idx = order[start:start + gen.batch_size]
            enc = tok([prompts[i] for i in idx], return_tensors="pt", padding=True,
                      add_special_tokens=False).to(device)
            replies.extend(zip(idx, tok.batch_decode(_new_tokens(model, tok, enc, gen), skip_special_tokens=True)))
    finally:
        tok.padding_side = side
    by_index = dict(replies)
    return [by_index[i].strip() for i in range(len(prompts))]


def _new_tokens(model: PreTrainedModel | torch.nn.Module, tok: PreTrainedTokenizerBase, enc: Any,
                gen: GenParams) -> list[list[int]] | torch.Tensor:
    """The generated ids of each row of a left-padded batch."""
    if gen.drop_finished and gen.temperature == 0 and gen.num_beams == 1 and decode.can_prune(model):
        return decode.greedy(model, enc["input_ids"], enc["attention_mask"], gen.max_new_tokens,
                             decode.eos_ids(model, tok.eos_token_id), gen.repetition_penalty)
    out = model.generate(**enc, **generate_kwargs(gen, tok))
    return out[:, enc["input_ids"].shape[1]:]


def answer_questions(model: PreTrainedModel | torch.nn.Module, tok: PreTrainedTokenizerBase,
                     questions: list[str], gen: GenParams, system_prompt: str | None = None) -> list[str]:
    return generate_batch(model, tok, [messages_for(q, system_prompt) for q in questions], gen)


def free_memory() -> None:
    """Release what a dropped model held, on the GPU too."""
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
