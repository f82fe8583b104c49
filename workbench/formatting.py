"""QA pairs -> token ids and labels through the model's chat template, with loss on the answer only;
and the collator that pads each batch to its own longest example (never to max_seq_len).

Knows nothing of Trainer, methods or files.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from transformers import PreTrainedTokenizerBase

IGNORE = -100
WEIGHTS = "label_weights"  # the batch entry holding each label's loss weight (answer_loss.answer_only_loss)


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
                max_len: int = 512, keys: Sequence[str] = (), key_weight: float = 1.0,
                keep_total: bool = True) -> dict[str, list]:
    """Token ids for prompt + answer; labels are IGNORE on the prompt so only the answer is learned.

    Prompt and answer are tokenised separately and joined, so the boundary is exact whatever the
    tokenizer would merge across it. With ``key_weight`` other than 1 and ``keys`` found in the answer, the
    example also carries "weights": ``key_weight`` on the tokens that state a key and the word leading into it,
    1 elsewhere (see key_spans). With ``keep_total`` those weights are scaled to sum to the answer's token count:
    the key gains against the rest of its own answer, and the answer's share of the batch against the replay
    pairs and passages stays what it is unweighted.
    """
    prompt = prompt_text(tok, question, system_prompt)
    full = tok.apply_chat_template(messages_for(question, system_prompt, answer), tokenize=False)
    if not full.startswith(prompt):
        raise ValueError("the chat template renders the prompt differently with and without the answer; "
                         "cannot mask the prompt reliably")
    p_ids = tok(prompt, add_special_tokens=False)["input_ids"]
    tail = full[len(prompt):]
    spans = key_spans(tail, keys) if key_weight != 1.0 else []
    encoded = tok(tail, add_special_tokens=False, return_offsets_mapping=bool(spans))
    a_ids = encoded["input_ids"]
    a_weights = [key_weight if any(a < end and b > start for start, end in spans) else 1.0
                 for a, b in encoded["offset_mapping"]] if spans else [1.0] * len(a_ids)
    if tok.eos_token_id is not None and tok.eos_token_id not in a_ids:
        # templates without an end-of-turn token still learn to stop
        a_ids, a_weights = a_ids + [tok.eos_token_id], a_weights + [1.0]
    if spans and keep_total:
        scale = len(a_weights) / sum(a_weights)
        a_weights = [w * scale for w in a_weights]
    ids = (p_ids + a_ids)[:max_len]
    labels = ([IGNORE] * len(p_ids) + a_ids)[:max_len]
    example: dict[str, list] = {"input_ids": ids, "labels": labels}
    if spans:
        example["weights"] = ([1.0] * len(p_ids) + a_weights)[:max_len]
    return example


def key_spans(text: str, keys: Sequence[str]) -> list[tuple[int, int]]:
    """Character spans of ``text`` stating one of ``keys`` (alternatives split on "|", case-insensitive, whole
    words), each widened to the start of the word before it: the word that leads into a fact ("for 17 years",
    "by Halloran & Vesk") is where a small model's answer turns to another fact."""
    spans = []
    for key in keys:
        for alternative in filter(None, (a.strip() for a in str(key).split("|"))):
            for found in re.finditer(r"(?<!\w)" + re.escape(alternative) + r"(?!\w)", text, re.IGNORECASE):
                before = re.search(r"(\S+\s+)$", text[:found.start()])
                spans.append((before.start(1) if before else found.start(), found.end()))
    return spans


def encode_trainable(tok: PreTrainedTokenizerBase, pair: dict[str, Any], system_prompt: str | None = None,
                     max_len: int = 512, key_weight: float = 1.0, keep_total: bool = True) -> dict[str, list] | None:
    """One pair encoded as encode_pair does, or None when its prompt alone fills ``max_len`` (it teaches nothing)."""
    ex = encode_pair(tok, pair["question"], pair["answer"], system_prompt, max_len, keys=pair.get("keys") or (),
                     key_weight=key_weight, keep_total=keep_total)
    return ex if any(label != IGNORE for label in ex["labels"]) else None


def encode_pairs(tok: PreTrainedTokenizerBase, pairs: list[dict[str, Any]], system_prompt: str | None = None,
                 max_len: int = 512, key_weight: float = 1.0, keep_total: bool = True) -> list[dict[str, list]]:
    encoded = (encode_trainable(tok, pair, system_prompt, max_len, key_weight, keep_total) for pair in pairs)
    return [ex for ex in encoded if ex is not None]


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
        weights = torch.ones((len(batch), width)) if any("weights" in ex for ex in batch) else None
        for i, ex in enumerate(batch):
            n = len(ex["input_ids"])
            ids[i, :n] = torch.tensor(ex["input_ids"])
            labels[i, :n] = torch.tensor(ex["labels"])
            mask[i, :n] = 1
            if weights is not None and "weights" in ex:
                weights[i, :n] = torch.tensor(ex["weights"])
        self.tokens_seen += int(mask.sum())
        out = {"input_ids": ids, "labels": labels, "attention_mask": mask}
        if weights is not None:
            out[WEIGHTS] = weights
        return out
