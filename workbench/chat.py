"""Multi-turn chat with streaming: a base model, a run's tuned model, or that run's base, side by side.

``ChatEngine`` owns the loaded models. A run's base and tuned sides come from ONE loaded PEFT model: the
base side generates inside ``model.disable_adapter()``, under the engine's lock, so the two sides can never
be mixed up. Full and partial fine-tunes have no adapter to switch off; their base side loads the base model
itself. By default the engine keeps one model in memory (two when both are small) and ``unload()`` frees
everything, so chat does not fight a training job for the GPU. An optional topic gate refuses off-topic
questions before the model is called.

Tokens stream from ``model.generate`` running in a thread through ``TextIteratorStreamer``. This module
does not evaluate, train, or keep chat history between calls (the caller passes it in).
"""

from __future__ import annotations

import contextlib
import gc
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from transformers import PreTrainedTokenizerBase, StoppingCriteria, StoppingCriteriaList, TextIteratorStreamer

from .errors import UserError
from . import models
from .config import GenParams
from .generation import generate_kwargs
from .methods.loading import load_tuned, run_config
from .methods.common import adapters_disabled
from .rundir import RunDir

SMALL_MODEL_PARAMS = 200_000_000  # two models this size or smaller may stay loaded together
STREAM_TIMEOUT_S = 600.0


class ChatError(UserError, ValueError):
    """The chat cannot answer with these settings; the message says what to change."""


@dataclass(frozen=True)
class Side:
    """Who answers: a run's tuned model (``base=False``), the same run's base model (``base=True``), or a
    plain model spec when ``run`` is empty."""

    run: str = ""  # trained run folder
    model: str = ""  # model alias/folder/hub id, used when run is empty
    base: bool = False

    def __post_init__(self) -> None:
        if bool(self.run) == bool(self.model):
            raise ChatError("choose either a run or a model to chat with, not both and not neither")

    @property
    def label(self) -> str:
        if not self.run:
            return self.model
        return f"{RunDir(Path(self.run)).id} ({'base' if self.base else 'tuned'})"


@dataclass
class Loaded:
    model: Any
    tokenizer: PreTrainedTokenizerBase
    params: int
    shares_base: bool  # base reachable with disable_adapter()


def build_messages(message: str, history: Sequence[dict[str, str]] = (), system_prompt: str | None = None,
                   ) -> list[dict]:
    """System turn (None = the chat template's default), then the earlier turns, then the new user message."""
    if not message or not message.strip():
        raise ChatError("the message is empty")
    msgs = [] if system_prompt is None else [{"role": "system", "content": system_prompt}]
    for turn in history:
        role, content = turn.get("role"), turn.get("content")
        if role not in ("user", "assistant") or not isinstance(content, str):
            raise ChatError(f"history turns need role user/assistant and text content, got {turn!r}")
        msgs.append({"role": role, "content": content})
    msgs.append({"role": "user", "content": message.strip()})
    return msgs


def fit_context(tok: PreTrainedTokenizerBase, messages: list[dict], limit: int) -> list[dict]:
    """Drop the oldest turns until the prompt fits in ``limit`` tokens; the system prompt and the new
    message are always kept."""
    system = messages[:1] if messages and messages[0]["role"] == "system" else []
    turns = messages[len(system):]
    while True:
        msgs = system + turns
        prompt = tok.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True)
        size = len(tok(prompt, add_special_tokens=False)["input_ids"])
        if size <= limit:
            return msgs
        if len(turns) <= 1:
            raise ChatError(f"the message is too long for this model ({size} tokens; at most {limit} fit with "
                            "the reply); shorten it or lower max_new_tokens")
        turns = turns[2:] if len(turns) > 2 else turns[-1:]


def whole_model_run(run: str | Path) -> bool:
    """Does the run save a whole model (full or partial fine-tuning) rather than an adapter?"""
    saved = RunDir(Path(run)).saved_model()
    return saved is not None and saved.whole


class _StopOnEvent(StoppingCriteria):
    def __init__(self, *events: threading.Event | None) -> None:
        self.events = [e for e in events if e is not None]

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor, **kwargs: Any) -> torch.BoolTensor:
        stop = any(e.is_set() for e in self.events)
        return torch.full((input_ids.shape[0],), stop, dtype=torch.bool, device=input_ids.device)


def stream_reply(model: Any, tok: PreTrainedTokenizerBase, messages: list[dict], gen: GenParams,
                 stop: threading.Event | None = None, threads: int = 0) -> Iterator[str]:
    """Text pieces as the model writes them. Closing the iterator (or setting ``stop``) ends generation.
    ``threads`` > 0 caps the CPU threads of this generation. With beam search the reply comes in one piece
    (transformers streams a single candidate only)."""
    prompt = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    device = next(model.parameters()).device
    enc = tok(prompt, return_tensors="pt", add_special_tokens=False).to(device)
    streamer = None if gen.num_beams > 1 else TextIteratorStreamer(tok, skip_prompt=True, skip_special_tokens=True,
                                                                   timeout=STREAM_TIMEOUT_S)
    closed = threading.Event()
    result: list[torch.Tensor] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            if threads > 0:  # this thread only: the caller's own setting is left alone
                torch.set_num_threads(threads)
            with torch.inference_mode():
                result.append(model.generate(**enc, **generate_kwargs(gen, tok), streamer=streamer,
                                             stopping_criteria=StoppingCriteriaList([_StopOnEvent(closed, stop)])))
        except BaseException as exc:  # handed to the reading thread, which re-raises it
            errors.append(exc)
            if streamer is not None:
                streamer.end()

    thread = threading.Thread(target=work, name="chat-generate", daemon=True)
    thread.start()
    try:
        for piece in streamer if streamer is not None else ():
            if piece:
                yield piece
    finally:
        if streamer is not None:  # a reader that stops early ends generation; a beam reply is read once complete
            closed.set()
        thread.join()
    if errors:
        raise ChatError(f"generation failed: {errors[0]}") from errors[0]
    if streamer is None:
        yield tok.decode(result[0][0, enc["input_ids"].shape[1]:], skip_special_tokens=True)


class ChatEngine:
    """Holds the loaded model(s) and answers for a ``Side``; one generation at a time."""

    def __init__(self, device: str | None = None, precision: str | None = None,
                 small_model_params: int = SMALL_MODEL_PARAMS, threads: Callable[[], int] | None = None) -> None:
        self.device = device or models.pick_device()
        # CPU threads for the next reply (0 = all); the UI gives a running training job the cores, as two
        # processes each using every core run many times slower than one after the other.
        self.threads = threads
        self.precision = precision
        self.small_model_params = small_model_params
        self._models: OrderedDict[str, Loaded] = OrderedDict()
        # A plain lock (not RLock): a streaming reply holds it across yields, and the UI may resume a
        # generator from another thread.
        self._lock = threading.Lock()

    # loading -----------------------------------------------------------------------------------
    def loaded(self) -> list[str]:
        """Keys of the models in memory, least recently used first."""
        return list(self._models)

    def _key(self, side: Side) -> str:
        if not side.run:
            return f"model:{side.model}"
        if side.base and whole_model_run(side.run):
            return f"model:{run_config(RunDir(Path(side.run))).model}"
        return f"run:{Path(side.run).resolve()}"

    def load(self, side: Side) -> Loaded:
        """The model for ``side``, loading it if needed; evicts others beyond the memory policy."""
        with self._lock:
            return self._ensure(side)

    def _ensure(self, side: Side) -> Loaded:
        key = self._key(side)
        if key in self._models:
            self._models.move_to_end(key)
            return self._models[key]
        if any(m.params > self.small_model_params for m in self._models.values()) or len(self._models) >= 2:
            self._free(None)
        loaded = self._load(key)
        if loaded.params > self.small_model_params:
            self._free(None)
        self._models[key] = loaded
        return loaded

    def _load(self, key: str) -> Loaded:
        kind, _, target = key.partition(":")
        if kind == "run":
            tuned = load_tuned(target, device=self.device, precision=self.precision)
            return Loaded(tuned.model, tuned.tokenizer, tuned.info.params, tuned.shares_base)
        model, tok, info = models.load_model(target, precision=self.precision or "auto", device=self.device)
        return Loaded(model, tok, info.params, False)

    def unload(self, side: Side | None = None) -> None:
        """Free one side's model, or every model; releases cached GPU memory too."""
        with self._lock:
            self._free(None if side is None else self._key(side))

    def _free(self, key: str | None) -> None:
        if key is None:
            self._models.clear()
        else:
            self._models.pop(key, None)
        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()

    # answering -----------------------------------------------------------------------------------
    def stream(self, side: Side, message: str, history: Sequence[dict[str, str]] = (),
               gen: GenParams | None = None, system_prompt: str | None = None, gate: Any = None,
               stop: threading.Event | None = None) -> Iterator[str]:
        """Reply to ``message`` after ``history``, piece by piece.

        ``system_prompt`` None uses the one the run was trained with. ``gate`` (a fitted TopicGate) answers
        its refusal message without calling the model when the question is off-topic.
        """
        refusal = gate_refusal(gate, message)
        if refusal is not None:
            yield refusal
            return
        gen = gen or GenParams()
        if system_prompt is None:
            system_prompt = run_config(RunDir(Path(side.run))).system_message() if side.run else None
        with self._lock:
            loaded = self._ensure(side)
            messages = build_messages(message, history, system_prompt)
            messages = fit_context(loaded.tokenizer, messages, max_context(loaded.model) - gen.max_new_tokens)
            switch_off = side.base and loaded.shares_base
            with adapters_disabled(loaded.model) if switch_off else contextlib.nullcontext():
                threads = self.threads() if self.threads and loaded.model.device.type == "cpu" else 0
                yield from stream_reply(loaded.model, loaded.tokenizer, messages, gen, stop, threads)

    def reply(self, side: Side, message: str, history: Sequence[dict[str, str]] = (),
              gen: GenParams | None = None, system_prompt: str | None = None, gate: Any = None) -> str:
        """The whole reply at once (the streamed pieces joined)."""
        return "".join(self.stream(side, message, history, gen, system_prompt, gate)).strip()

    def side_by_side(self, left: Side, right: Side, message: str,
                     histories: tuple[Sequence[dict], Sequence[dict]] = ((), ()), gen: GenParams | None = None,
                     system_prompt: str | None = None, gate: Any = None) -> Iterator[tuple[str, str]]:
        """(left text so far, right text so far) while the left side answers, then the right one.

        Both sides get the same message, decoding settings and system prompt. Models of two different runs
        are loaded in turn unless both are small enough to stay loaded together.
        """
        texts = ["", ""]
        for i, side in enumerate((left, right)):
            for piece in self.stream(side, message, histories[i], gen, system_prompt, gate):
                texts[i] += piece
                yield texts[0], texts[1]
        yield texts[0].strip(), texts[1].strip()


def gate_refusal(gate: Any, message: str) -> str | None:
    """The gate's refusal message when it finds ``message`` off-topic, else None (also without a gate)."""
    if gate is None:
        return None
    in_domain, _ = gate.predict(message)
    return None if in_domain else gate.refusal_message


def max_context(model: Any) -> int:
    """Longest sequence the model takes (prompt + reply); 2048 when its config does not say."""
    config = getattr(model, "config", None)
    for name in ("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length"):
        value = getattr(config, name, None)
        if isinstance(value, int) and value > 0:
            return value
    return 2048
