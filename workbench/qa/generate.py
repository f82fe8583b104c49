"""LLM question generation: self-instruct style prompts grounded in one passage, batched.

Two generators share one interface, ``chat(conversations, ...) -> replies``:
  LocalGenerator     any model ``workbench.models`` loads (default smollm2): the chat template, left padding,
                     one ``generate`` call per batch
  EndpointGenerator  an OpenAI-compatible HTTP server, through the one client in workbench.endpoint

The prompts are module constants (SYSTEM_PROMPT, QA_PROMPT, PARAPHRASE_PROMPT) that QAGenConfig can
replace. Replies are parsed leniently ("Q1:/A1:" lines, "Question:/Answer:", JSON lists, code fences);
replies with no usable pair and half pairs are counted, never hidden. This module does not filter,
split or store pairs (filters.py, dataset.py) and knows nothing of rule-based generation (fallback.py).
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..endpoint import chat_completion
from ..errors import UserError

SYSTEM_PROMPT = ("You are a careful teacher. You write quiz questions about a text and answer them using only "
                 "what the text says.")
# The passage comes first and the request after it: SmolLM2-135M follows this order far better than an
# instruction block followed by the text (it then tends to echo headings as "questions").
QA_PROMPT = """{passage}

Write {n} questions about the facts in the text above, each followed by its answer taken from the text. \
Use this format:
Q1: question
A1: answer"""
PARAPHRASE_PROMPT = """Rewrite the question below so that it asks for the same information in other words. \
Keep every name, date and number. Reply with the new question only.

Question: {question}"""
API_KEY_ENV = "WORKBENCH_QA_API_KEY"

Progress = Callable[[int, int], None]
Messages = list[dict[str, str]]


class GenerationError(UserError, RuntimeError):
    """Generation cannot run (model, endpoint or prompt problem); the message says what to fix."""


@dataclass(frozen=True)
class PromptTemplates:
    system: str = SYSTEM_PROMPT
    qa: str = QA_PROMPT
    paraphrase: str = PARAPHRASE_PROMPT

    @classmethod
    def from_config(cls, cfg: Any) -> PromptTemplates:
        """Built-in templates with any non-empty override from a QAGenConfig."""
        return cls(system=cfg.system_prompt or SYSTEM_PROMPT, qa=cfg.qa_prompt or QA_PROMPT,
                   paraphrase=cfg.paraphrase_prompt or PARAPHRASE_PROMPT)

    def qa_messages(self, passage: str, n: int) -> Messages:
        return [{"role": "system", "content": self.system},
                {"role": "user", "content": self.qa.format(passage=passage.strip(), n=n)}]

    def paraphrase_messages(self, question: str, answer: str) -> Messages:
        return [{"role": "system", "content": self.system},
                {"role": "user", "content": self.paraphrase.format(question=question, answer=answer)}]


class ChatGenerator(Protocol):
    name: str

    def chat(self, conversations: Sequence[Messages], *, max_new_tokens: int, temperature: float = 0.0,
             top_p: float = 1.0, stop: Sequence[str] = ()) -> list[str]: ...


# generators --------------------------------------------------------------------------------------

@dataclass
class LocalGenerator:
    """A causal LM with a chat template; one left-padded ``generate`` per call."""

    model: Any
    tokenizer: Any
    name: str
    seed: int = 0

    @classmethod
    def load(cls, spec: str, *, threads: int = 0, seed: int = 0) -> LocalGenerator:
        from .. import models

        models.set_threads(threads)
        try:
            model, tok, _ = models.load_model(spec)
        except models.ModelError as exc:
            raise GenerationError(str(exc)) from None
        return cls(model, tok, name=f"local:{spec}", seed=seed)

    def chat(self, conversations: Sequence[Messages], *, max_new_tokens: int, temperature: float = 0.0,
             top_p: float = 1.0, stop: Sequence[str] = ()) -> list[str]:
        """Replies to a batch of conversations; a reply ends at the first of the ``stop`` strings."""
        import torch

        tok = self.tokenizer
        tok.padding_side = "left"
        texts = [tok.apply_chat_template(list(c), tokenize=False, add_generation_prompt=True) for c in conversations]
        enc = tok(texts, return_tensors="pt", padding=True, add_special_tokens=False).to(self.model.device)
        kwargs: dict[str, Any] = {"max_new_tokens": max_new_tokens, "pad_token_id": tok.pad_token_id,
                                  "do_sample": temperature > 0}
        if temperature > 0:
            torch.manual_seed(self.seed)
            kwargs.update(temperature=temperature, top_p=top_p)
        else:
            kwargs.update(temperature=None, top_p=None, top_k=None)
        if stop:
            kwargs.update(stop_strings=list(stop), tokenizer=tok)
        with torch.inference_mode():
            out = self.model.generate(**enc, **kwargs)
        replies = tok.batch_decode(out[:, enc["input_ids"].shape[1]:], skip_special_tokens=True)
        return [_cut_at(r, stop) for r in replies]


def _cut_at(text: str, stop: Sequence[str]) -> str:
    cuts = [text.index(s) for s in stop if s in text]
    return text[:min(cuts)] if cuts else text


@dataclass
class EndpointGenerator:
    """An OpenAI-compatible chat-completions server; requests of one call run in parallel threads."""

    base_url: str
    model: str
    api_key: str = ""
    timeout: float = 120.0
    retries: int = 2
    max_workers: int = 4
    name: str = field(init=False)

    def __post_init__(self) -> None:
        self.name = f"endpoint:{self.model}"

    def chat(self, conversations: Sequence[Messages], *, max_new_tokens: int, temperature: float = 0.0,
             top_p: float = 1.0, stop: Sequence[str] = ()) -> list[str]:
        def one(messages: Messages) -> str:
            return _cut_at(self._post(messages, max_new_tokens, temperature, top_p, stop), stop)

        workers = max(1, min(self.max_workers, len(conversations)))
        with ThreadPoolExecutor(max_workers=workers) as pool:
            return list(pool.map(one, conversations))

    def _post(self, messages: Messages, max_new_tokens: int, temperature: float, top_p: float,
              stop: Sequence[str]) -> str:
        body: dict[str, Any] = {"model": self.model, "messages": messages, "max_tokens": max_new_tokens,
                                "temperature": temperature, "top_p": top_p}
        if stop:
            body["stop"] = list(stop)[:4]  # the OpenAI API accepts up to four stop sequences
        return chat_completion(self.base_url, body, api_key=self.api_key, timeout=self.timeout,
                               retries=self.retries, key_hint=f"set api_key or ${API_KEY_ENV}")


def make_generator(cfg: Any) -> ChatGenerator:
    """The generator a QAGenConfig asks for: the endpoint when endpoint_url is set, else the local model."""
    if cfg.endpoint_url:
        return EndpointGenerator(cfg.endpoint_url, cfg.endpoint_model or cfg.model,
                                 api_key=cfg.api_key or os.environ.get(API_KEY_ENV, ""),
                                 max_workers=min(cfg.batch_size, 8))
    return LocalGenerator.load(cfg.model, threads=cfg.threads, seed=cfg.seed)


# parsing -----------------------------------------------------------------------------------------

@dataclass
class Parsed:
    pairs: list[tuple[str, str]]
    malformed_items: int = 0  # a question without answer, or an answer without question


_MARKER = re.compile(r"(?im)(?:^[ \t*_#>-]*(?:\d+[.)][ \t]*)?|(?<=\s))(?:\*\*)?(Q(?:uestion)?|A(?:nswer)?)[ \t]*"
                     r"(?:\d+)?[ \t]*(?:\*\*)?[ \t]*[:\uff1a](?:\*\*)?")
_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL)


def _clean(text: str) -> str:
    text = re.sub(r"\s+", " ", text.replace("**", "")).strip()
    return text.strip("\"'\u201c\u201d ").strip()


def _json_pairs(text: str) -> list[tuple[str, str]] | None:
    candidates = [m.group(1) for m in _FENCE.finditer(text)]
    for open_, close in (("[", "]"), ("{", "}")):
        if open_ in text and close in text:
            candidates.append(text[text.index(open_):text.rindex(close) + 1])
    for chunk in candidates:
        try:
            data = json.loads(chunk)
        except json.JSONDecodeError:
            continue
        if isinstance(data, dict):
            data = next((v for v in data.values() if isinstance(v, list)), [data])
        if not isinstance(data, list):
            continue
        pairs = []
        for item in data:
            if isinstance(item, dict):
                q = item.get("question") or item.get("q") or item.get("Question") or item.get("Q")
                a = item.get("answer") or item.get("a") or item.get("Answer") or item.get("A")
                if isinstance(q, str) and isinstance(a, str) and q.strip() and a.strip():
                    pairs.append((_clean(q), _clean(a)))
        if pairs:
            return pairs
    return None


def parse_qa_output(text: str) -> Parsed:
    """Question-answer pairs from a model reply: JSON first, then Q:/A: (or Question:/Answer:) markers."""
    from_json = _json_pairs(text)
    if from_json:
        return Parsed(from_json)
    marks = list(_MARKER.finditer(text))
    parsed = Parsed([])
    question: str | None = None
    for i, m in enumerate(marks):
        end = marks[i + 1].start() if i + 1 < len(marks) else len(text)
        body = _clean(text[m.end():end].split("\n\n")[0])
        if m.group(1).upper().startswith("Q"):
            if question is not None:
                parsed.malformed_items += 1
            question = body or None
        elif question is None or not body:
            parsed.malformed_items += 1
            question = None
        else:
            parsed.pairs.append((question, body))
            question = None
    if question is not None:
        parsed.malformed_items += 1
    return parsed


def parse_paraphrase(text: str) -> str | None:
    """The first line of a reply that reads as a question, without labels or quotes."""
    for line in text.strip().splitlines():
        line = re.sub(r"^\s*(?:\d+[.)]\s*)?(?:\**[A-Za-z]+(?: [A-Za-z]+){0,3}\**\s*[:\uff1a]\**\s*)?", "", line)
        line = _clean(line)
        if line.endswith(("?", "\uff1f")) and len(line.split()) >= 3:
            return line
    return None


# batched runs -----------------------------------------------------------------------------------

def run_batched(generator: ChatGenerator, conversations: list[Messages], *, batch_size: int, max_new_tokens: int,
                temperature: float = 0.0, top_p: float = 1.0, stop: Sequence[str] = (),
                progress: Progress | None = None) -> list[str]:
    """Replies in input order; prompts of similar length share a batch (less padding)."""
    order = sorted(range(len(conversations)), key=lambda i: sum(len(m["content"]) for m in conversations[i]))
    replies: list[str] = [""] * len(conversations)
    for start in range(0, len(order), batch_size):
        idx = order[start:start + batch_size]
        out = generator.chat([conversations[i] for i in idx], max_new_tokens=max_new_tokens,
                             temperature=temperature, top_p=top_p, stop=stop)
        if len(out) != len(idx):
            raise GenerationError(f"the generator returned {len(out)} replies for {len(idx)} prompts")
        for i, reply in zip(idx, out, strict=True):
            replies[i] = reply
        if progress:
            progress(min(start + batch_size, len(order)), len(order))
    return replies


def qa_stop(n: int) -> tuple[str, ...]:
    """Small models go on writing pairs well past ``n``: a reply ends at the label of pair n+1. (Stop
    strings are matched against the prompt's end too, so a restart marker like "\nQ1:" cannot be one.)"""
    return f"Q{n + 1}:", f"Q{n + 1}."


@dataclass
class GenerationResult:
    pairs: list[dict[str, Any]] = field(default_factory=list)
    outputs: int = 0
    malformed_outputs: int = 0  # replies from which no pair could be read
    malformed_items: int = 0  # half pairs inside otherwise readable replies
    seconds: float = 0.0
    samples: list[str] = field(default_factory=list)  # the first raw replies, to show what the model wrote

    def to_dict(self) -> dict[str, Any]:
        return {"outputs": self.outputs, "pairs": len(self.pairs), "malformed_outputs": self.malformed_outputs,
                "malformed_items": self.malformed_items, "seconds": round(self.seconds, 2)}


def generate_pairs(passages: Sequence[dict[str, Any]], generator: ChatGenerator, *, n: int = 3,
                   templates: PromptTemplates | None = None, batch_size: int = 8, max_new_tokens: int = 320,
                   temperature: float = 0.0, top_p: float = 1.0, progress: Progress | None = None,
                   ) -> GenerationResult:
    """Ask for ``n`` pairs per passage (dicts with id and text); parsed pairs keep their passage id."""
    templates = templates or PromptTemplates()
    t0 = time.perf_counter()
    conversations = [templates.qa_messages(p["text"], n) for p in passages]
    replies = run_batched(generator, conversations, batch_size=batch_size, max_new_tokens=max_new_tokens,
                          temperature=temperature, top_p=top_p, stop=qa_stop(n), progress=progress)
    result = GenerationResult(outputs=len(replies), samples=replies[:3])
    for passage, reply in zip(passages, replies, strict=True):
        parsed = parse_qa_output(reply)
        result.malformed_items += parsed.malformed_items
        if not parsed.pairs:
            result.malformed_outputs += 1
        for q, a in parsed.pairs[:n]:
            result.pairs.append({"question": q, "answer": a, "passage_id": passage["id"],
                                 "generator": generator.name, "origin": "llm"})
    result.seconds = time.perf_counter() - t0
    return result


def generate_paraphrases(pairs: Sequence[dict[str, Any]], generator: ChatGenerator, *, n: int = 1,
                         templates: PromptTemplates | None = None, batch_size: int = 8, max_new_tokens: int = 64,
                         temperature: float = 0.0, top_p: float = 1.0, progress: Progress | None = None,
                         ) -> tuple[list[list[str]], int]:
    """Up to ``n`` rewordings per pair (round k rewords round k-1's question, so greedy decoding still
    varies) and the number of replies that held no question."""
    templates = templates or PromptTemplates()
    found: list[list[str]] = [[] for _ in pairs]
    current = [p["question"] for p in pairs]
    malformed = 0
    total = len(pairs) * n
    for round_ in range(n):
        def step(done: int, _total: int, base: int = round_ * len(pairs)) -> None:
            if progress:
                progress(base + done, total)

        conversations = [templates.paraphrase_messages(q, p["answer"]) for q, p in zip(current, pairs, strict=True)]
        replies = run_batched(generator, conversations, batch_size=batch_size, max_new_tokens=max_new_tokens,
                              temperature=temperature, top_p=top_p, progress=step)
        for i, reply in enumerate(replies):
            question = parse_paraphrase(reply)
            if question is None:
                malformed += 1
                continue
            if question.lower() not in {q.lower() for q in [pairs[i]["question"], *found[i]]}:
                found[i].append(question)
                current[i] = question
    return found, malformed
