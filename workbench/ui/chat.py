"""The Chat tab: two panes (a run's base vs its tuned model, or any two runs or models), one input box sending
to both, streaming, multi-turn history, clear, generation settings and the topic gate.

Generation runs in the UI process through one shared workbench.chat.ChatEngine (it holds the loaded models),
behind a concurrency limit of one so two people never generate at once. Each person's conversation lives
in gr.State. This module does not load models itself or fit anything but a run's topic gate.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gradio as gr

from .. import jobs
from ..chat import ChatEngine, Side
from ..config import GenParams, from_dict
from ..workspace import Workspace
from .common import UIError, friendly, run_line, run_of
from .evaluate import trained_runs
from .gate import fit_run_gate
from .forms import Form, build_form

MODEL_PREFIX = "model · "
BASE_SUFFIX = " · base"
TUNED_SUFFIX = " · tuned"
PLAIN_MODELS = ("smollm2", "tiny")
CHAT_CONCURRENCY = "chat"
WAITING = "…"
EMPTY_REPLY = "*(the model ended its reply at once: an empty answer)*"


# choosing who answers (pure functions) ------------------------------------------------------------

def side_choices(ws: Workspace) -> list[str]:
    runs = trained_runs(ws)
    return [c for rid in runs for c in (rid + TUNED_SUFFIX, rid + BASE_SUFFIX)] + [MODEL_PREFIX + m
                                                                                   for m in PLAIN_MODELS]


def default_sides(ws: Workspace) -> tuple[str, str]:
    """The newest trained run's base (left) and tuned model (right); the default model twice without runs."""
    runs = trained_runs(ws)
    if runs:
        return runs[0] + BASE_SUFFIX, runs[0] + TUNED_SUFFIX
    return MODEL_PREFIX + PLAIN_MODELS[0], MODEL_PREFIX + PLAIN_MODELS[0]


def refresh_sides(ws: Workspace, left: str | None, right: str | None, picked: bool) -> list[Any]:
    """Dropdown updates with the current runs; the newest run's base and tuned unless the person chose."""
    choices = side_choices(ws)
    defaults = default_sides(ws)
    keep = picked and left in choices and right in choices
    return [gr.update(choices=choices, value=left if keep else defaults[0]),
            gr.update(choices=choices, value=right if keep else defaults[1])]


def side_text(ws: Workspace, choice: str | None) -> str:
    """What answers in a pane: the run's method, base model and trainable share, or the plain model."""
    try:
        side = parse_side(ws, choice)
    except UIError:
        return ""
    if not side.run:
        return f"the base model **{side.model}**, no fine-tuning"
    line = run_line(run_of(ws, side.run.rstrip("/").rsplit("/", 1)[-1]))
    return ("its **base** model, adapter switched off: " if side.base else "**tuned**: ") + line


def parse_side(ws: Workspace, choice: str | None) -> Side:
    """'<run> · tuned', '<run> · base' or 'model · <alias>' -> Side; anything else is refused."""
    choice = (choice or "").strip()
    if choice.startswith(MODEL_PREFIX):
        model = choice.removeprefix(MODEL_PREFIX).strip()
        if model not in PLAIN_MODELS:
            raise UIError(f"unknown model {model!r}; choose one of {', '.join(PLAIN_MODELS)} or a trained run")
        return Side(model=model)
    for suffix, base in ((TUNED_SUFFIX, False), (BASE_SUFFIX, True)):
        if choice.endswith(suffix):
            return Side(run=str(run_of(ws, choice.removesuffix(suffix)).path), base=base)
    raise UIError("choose who answers in each pane: a trained run (tuned or base) or a model")


def load_gate(ws: Workspace, sides: tuple[Side, Side], threshold: float, refusal: str) -> Any:
    """The topic gate of the run in the panes (fitted now if the run has none), with this threshold and message."""
    from ..gate import TopicGate

    runs = [s.run for s in sides if s.run]
    if not runs:
        raise UIError("the topic gate belongs to a trained run: choose a run in one of the panes, or turn it off")
    run = run_of(ws, runs[-1].rstrip("/").rsplit("/", 1)[-1])
    if not (run.path / "gate" / "gate.json").exists():
        fit_run_gate(ws, run, threshold, refusal)
    gate = TopicGate.load(run.path / "gate")
    return TopicGate(gate.pipeline, threshold, refusal.strip() or gate.refusal_message, gate.report, gate.info)


def turn(history: list[dict[str, str]], message: str, reply: str) -> list[dict[str, str]]:
    return [*history, {"role": "user", "content": message}, {"role": "assistant", "content": reply}]


def shown(history: list[dict[str, str]]) -> list[dict[str, str]]:
    """The conversation as displayed: an empty finished reply says so instead of showing nothing."""
    return [{**m, "content": m["content"] or EMPTY_REPLY} if m["role"] == "assistant" else m for m in history]


# layout -------------------------------------------------------------------------------------------

@dataclass
class ChatTab:
    left: gr.Dropdown
    right: gr.Dropdown
    left_info: gr.Markdown
    right_info: gr.Markdown
    left_chat: gr.Chatbot
    right_chat: gr.Chatbot
    message: gr.Textbox
    send: gr.Button
    clear: gr.Button
    histories: gr.State
    picked: gr.State
    gate_on: gr.Checkbox
    threshold: gr.Slider
    refusal: gr.Textbox
    system: gr.Textbox
    gen_form: Form


def _panes(ws: Workspace) -> dict[str, Any]:
    choices, (left, right) = side_choices(ws), default_sides(ws)
    with gr.Row():
        with gr.Column():
            left_dd = gr.Dropdown(choices, value=left, label="left pane", elem_id="chat-left-side")
            left_info = gr.Markdown(side_text(ws, left), elem_id="chat-left-info")
            left_chat = gr.Chatbot(label="left", show_label=False, height=420, elem_id="chat-left")
        with gr.Column():
            right_dd = gr.Dropdown(choices, value=right, label="right pane", elem_id="chat-right-side")
            right_info = gr.Markdown(side_text(ws, right), elem_id="chat-right-info")
            right_chat = gr.Chatbot(label="right", show_label=False, height=420, elem_id="chat-right")
    with gr.Row():
        message = gr.Textbox(placeholder="Ask both models the same question, then press Enter", show_label=False,
                             scale=5, elem_id="chat-input")
        send = gr.Button("Send", variant="primary", scale=1, elem_id="chat-send")
        clear = gr.Button("Clear", scale=1, elem_id="chat-clear")
    return {"left": left_dd, "right": right_dd, "left_info": left_info, "right_info": right_info,
            "left_chat": left_chat, "right_chat": right_chat, "message": message, "send": send, "clear": clear}


def _settings() -> dict[str, Any]:
    with gr.Accordion("Generation settings and topic gate", open=False):
        gen_form = build_form(GenParams, prefix="chat-gen-", columns=4, skip=("batch_size",))
        system = gr.Textbox(label="system prompt", placeholder="empty = the one the run was trained with")
        with gr.Row():
            gate_on = gr.Checkbox(False, label="topic gate", info="refuse questions outside the run's domain",
                                  elem_id="chat-gate")
            threshold = gr.Slider(0.05, 0.95, value=0.5, step=0.05, label="gate threshold")
            refusal = gr.Textbox(label="refusal message", placeholder="empty = the gate's message", scale=2)
    return {"gen_form": gen_form, "system": system, "gate_on": gate_on, "threshold": threshold, "refusal": refusal}


def build_chat_tab(ws: Workspace, engine: ChatEngine) -> ChatTab:
    gr.Markdown("Both panes get the same message with the same settings; the left answers first, then the right.")
    tab = ChatTab(histories=gr.State({"left": [], "right": []}), picked=gr.State(False), **_panes(ws),
                  **_settings())
    wire_chat_tab(tab, ws, engine)
    return tab


# events -------------------------------------------------------------------------------------------

def threads_beside_jobs(ws: Workspace) -> int:
    """One CPU thread for chat while a job holds the accelerator lock (it uses every core), else all."""
    return 1 if jobs.accelerator_busy(ws.runs) else 0


def wire_chat_tab(tab: ChatTab, ws: Workspace, engine: ChatEngine) -> None:
    if engine.threads is None:
        engine.threads = lambda: threads_beside_jobs(ws)
    @friendly
    def send(message: str, left: str, right: str, histories: dict[str, list], gate_on: bool, threshold: float,
             refusal: str, system: str, *gen_values: Any):
        if not (message or "").strip():
            raise UIError("type a question first")
        sides = parse_side(ws, left), parse_side(ws, right)
        gen = from_dict(GenParams, {k: v for k, v in tab.gen_form.read(list(gen_values)).items() if v is not None})
        gate = load_gate(ws, sides, float(threshold), refusal or "") if gate_on else None
        hl, hr = histories["left"], histories["right"]
        texts = ("", "")
        for texts in engine.side_by_side(*sides, message, (hl, hr), gen, (system or "").strip() or None, gate):
            yield (shown(turn(hl, message, texts[0] or WAITING)), shown(turn(hr, message, texts[1] or WAITING)),
                   gr.skip(), gr.skip())
        new = {"left": turn(hl, message, texts[0]), "right": turn(hr, message, texts[1])}
        yield shown(new["left"]), shown(new["right"]), new, ""

    def clear() -> tuple[list, list, dict[str, list]]:
        return [], [], {"left": [], "right": []}

    inputs = [tab.message, tab.left, tab.right, tab.histories, tab.gate_on, tab.threshold, tab.refusal,
              tab.system, *tab.gen_form.components]
    outputs = [tab.left_chat, tab.right_chat, tab.histories, tab.message]
    gr.on([tab.send.click, tab.message.submit], send, inputs, outputs, concurrency_limit=1,
          concurrency_id=CHAT_CONCURRENCY, api_visibility="private")
    gr.on([tab.clear.click, tab.left.change, tab.right.change], clear, None,
          [tab.left_chat, tab.right_chat, tab.histories], api_visibility="private")
    gr.on([tab.left.input, tab.right.input], lambda: True, None, tab.picked, api_visibility="private")
    tab.left.change(lambda c: side_text(ws, c), tab.left, tab.left_info, api_visibility="private")
    tab.right.change(lambda c: side_text(ws, c), tab.right, tab.right_info, api_visibility="private")


def chat_once(ws: Workspace, engine: ChatEngine, message: str, left: str, right: str) -> dict[str, str]:
    """One question to two sides with default settings (for gradio_client)."""
    if not (message or "").strip():
        raise UIError("the message is empty")
    sides = parse_side(ws, left), parse_side(ws, right)
    answers = ("", "")
    for pieces in engine.side_by_side(*sides, message, ((), ()), GenParams()):
        answers = pieces
    return {"left": answers[0], "right": answers[1], "left_side": left, "right_side": right}
