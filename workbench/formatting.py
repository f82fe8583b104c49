"""QA pairs -> token ids and labels through the model's chat template, with loss on the answer only;
and the collator that pads each batch to its own longest example (never to max_seq_len).

Knows nothing of Trainer, methods or files.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from transformers import PreTrainedTokenizerBase

IGNORE = -100


def messages_for(question: str, system_prompt: str | None = None, answer: str | None = None,
                 ) -> list[dict[str, str]]:
    """The chat turns of one question. ``system_prompt`` None leaves the system turn to the chat template (which
    may add a default one); a string, even empty, is the system turn (TrainConfig.system_message)."""
    msgs = [] if system_prompt is None else [{"role": "system", "content": system_prompt}]
    msgs.append({"role": "user", "content": question})
    if answer is not None:
        msgs.append({"role": "assistant", "content": answer})
    return msgs


def prompt_text(tok: PreTrainedTokenizerBase, question: str, system_prompt: str | None = None) -> str:
    return tok.apply_chat_template(messages_for(question, system_prompt), tokenize=False, add_generation_prompt=True)


def encode_pair(tok: PreTrainedTokenizerBase, question: str, answer: str, system_prompt: str | None = None,
                max_len: int = 512) -> dict[str, list[int]]:
    """Token ids for prompt + answer; labels are IGNORE on the prompt so only the answer is learned.

    Prompt and answer are tokenised separately and joined, so the boundary is exact whatever the
    tokenizer would merge across it.
    """
    prompt = prompt_text(tok, question, system_prompt)
    full = tok.apply_chat_template(messages_for(question, system_prompt, answer), tokenize=False)
    if not full.startswith(prompt):
        raise ValueError("the chat template renders the prompt differently with and without the answer; "
                         "cannot mask the prompt reliably")
    p_ids = tok(prompt, add_special_tokens=False)["input_ids"]
    a_ids = tok(full[len(prompt):], add_special_tokens=False)["input_ids"]
    if tok.eos_token_id is not None and tok.eos_token_id not in a_ids:
        a_ids = a_ids + [tok.eos_token_id]  # templates without an end-of-turn token still learn to stop
    ids = (p_ids + a_ids)[:max_len]
    labels = ([IGNORE] * len(p_ids) + a_ids)[:max_len]
    return {"input_ids": ids, "labels": labels}


def encode_pairs(tok: PreTrainedTokenizerBase, pairs: list[dict[str, Any]], system_prompt: str | None = None,
                 max_len: int = 512) -> list[dict[str, list[int]]]:
    out = []
    for pair in pairs:
        ex = encode_pair(tok, pair["question"], pair["answer"], system_prompt, max_len)
        if any(label != IGNORE for label in ex["labels"]):  # a prompt longer than max_len teaches nothing
            out.append(ex)
    return out


def encode_text(tok: PreTrainedTokenizerBase, text: str, max_len: int = 512) -> dict[str, list[int]]:
    """Plain text (a passage of the documents) as a language-modelling example: loss on every token."""
    ids = tok(text, add_special_tokens=False)["input_ids"][: max_len - 1]
    if tok.eos_token_id is not None:
        ids = ids + [tok.eos_token_id]
    return {"input_ids": ids, "labels": list(ids)}


@dataclass
class DynamicPadCollator:
    """Pads to the longest example of the batch (rounded up to a multiple of 8) and counts real tokens."""

    pad_id: int
    multiple: int = 8
    tokens_seen: int = 0

    def __call__(self, batch: list[dict[str, list[int]]]) -> dict[str, torch.Tensor]:
        longest = max(len(ex["input_ids"]) for ex in batch)
        width = -(-longest // self.multiple) * self.multiple
        ids = torch.full((len(batch), width), self.pad_id, dtype=torch.long)
        labels = torch.full((len(batch), width), IGNORE, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for i, ex in enumerate(batch):
            n = len(ex["input_ids"])
            ids[i, :n] = torch.tensor(ex["input_ids"])
            labels[i, :n] = torch.tensor(ex["labels"])
            mask[i, :n] = 1
        self.tokens_seen += int(mask.sum())
        return {"input_ids": ids, "labels": labels, "attention_mask": mask}
