"""Chat on the tiny model: streaming equals plain greedy generation, base and tuned from one loaded model,
nested adapters switched off for the base side, the topic gate's refusal, loading policy and unloading."""

from __future__ import annotations

import gc
import threading
import weakref

import pytest
from helpers import districts_workspace, train_tiny

from workbench.chat import ChatEngine, ChatError, Side, build_messages, fit_context
from workbench.methods.common import adapters_disabled
from workbench.config import GenParams
from workbench.formatting import messages_for
from workbench.generation import generate_batch
from workbench.rundir import RunDir
from workbench.workspace import Workspace

GEN = GenParams(max_new_tokens=12)
QUESTION = "What is the code name of district 3?"


@pytest.fixture(scope="module")
def ws(tmp_path_factory) -> Workspace:
    return districts_workspace(tmp_path_factory, "chatws")


@pytest.fixture(scope="module")
def lora_run(ws) -> RunDir:
    return train_tiny(ws, ws.datasets / "districts", "lora")


@pytest.fixture(scope="module")
def plain_base():
    from workbench import models

    model, tok, _ = models.load_model("tiny", precision="fp32", device="cpu")
    return model, tok


def greedy(model, tok, question: str, history=(), system: str | None = None) -> str:
    return generate_batch(model, tok, [build_messages(question, history, system)], GEN)[0]


def test_streamed_pieces_join_to_the_non_streamed_greedy_reply(lora_run):
    engine = ChatEngine(device="cpu")
    side = Side(run=str(lora_run.path))
    pieces = list(engine.stream(side, QUESTION, gen=GEN))
    loaded = engine.load(side)
    expected = greedy(loaded.model, loaded.tokenizer, QUESTION)
    assert expected and len(pieces) > 1
    assert "".join(pieces).strip() == expected
    assert engine.reply(side, QUESTION, gen=GEN) == expected


def test_a_beam_search_reply_comes_whole_and_is_the_batch_answer(lora_run):
    beams = GenParams(max_new_tokens=12, num_beams=2)
    engine = ChatEngine(device="cpu")
    side = Side(run=str(lora_run.path))
    pieces = list(engine.stream(side, QUESTION, gen=beams))
    loaded = engine.load(side)
    expected = generate_batch(loaded.model, loaded.tokenizer, [build_messages(QUESTION, (), None)], beams)[0]
    assert len(pieces) == 1 and pieces[0].strip() == expected


def test_base_and_tuned_come_from_one_loaded_model_and_never_mix(lora_run, plain_base):
    from workbench.methods.loading import load_tuned

    engine = ChatEngine(device="cpu")
    tuned_side, base_side = Side(run=str(lora_run.path)), Side(run=str(lora_run.path), base=True)
    history = [{"role": "user", "content": "Hello."}, {"role": "assistant", "content": "Hello, ask me anything."}]
    for _ in range(2):  # alternate sides twice: switching the adapter off and on again leaves no trace
        tuned = engine.reply(tuned_side, QUESTION, history, gen=GEN)
        base = engine.reply(base_side, QUESTION, history, gen=GEN)
        assert base == greedy(*plain_base, QUESTION, history)
        assert tuned != base
    assert len(engine.loaded()) == 1
    fresh = load_tuned(lora_run.path, device="cpu")
    assert tuned == greedy(fresh.model, fresh.tokenizer, QUESTION, history)
    left, right = list(engine.side_by_side(base_side, tuned_side, QUESTION, (history, history), gen=GEN))[-1]
    assert (left, right) == (base, tuned)


def test_base_side_switches_off_nested_adapters_of_a_joint_run(ws, plain_base):
    joint = train_tiny(ws, ws.datasets / "districts", "joint", method="prefix+lora", max_steps=12,
                       method_params={"rank": 4, "virtual_tokens": 4, "mode": "simultaneous"})
    engine = ChatEngine(device="cpu")
    loaded = engine.load(Side(run=str(joint.path)))
    outer_only = loaded.model.disable_adapter()
    with outer_only:
        lora_still_on = greedy(loaded.model, loaded.tokenizer, QUESTION)
    base = engine.reply(Side(run=str(joint.path), base=True), QUESTION, gen=GEN)
    assert base == greedy(*plain_base, QUESTION)
    assert lora_still_on != base  # disable_adapter() alone leaves the inner LoRA layers on
    tuned = engine.reply(Side(run=str(joint.path)), QUESTION, gen=GEN)
    with adapters_disabled(loaded.model):
        pass
    assert engine.reply(Side(run=str(joint.path)), QUESTION, gen=GEN) == tuned  # adapters are back on


def test_gate_refuses_off_topic_questions_without_calling_the_model(ws, tiny_path):
    from workbench.gate import fit_gate
    from workbench.qa.dataset import load_pairs

    gate, report = fit_gate([p["question"] for p in load_pairs(ws.datasets / "districts")],
                            refusal_message="I only know about the districts.")
    assert report.f1 > 0.9
    engine = ChatEngine(device="cpu")
    side = Side(model=tiny_path)
    assert list(engine.stream(side, "What is the capital of France?", gen=GEN, gate=gate)) == [
        "I only know about the districts."]
    assert engine.loaded() == []  # refused before any model was loaded
    answer = engine.reply(side, QUESTION, gen=GEN, gate=gate)
    assert answer != "I only know about the districts." and len(engine.loaded()) == 1
    strict = gate.with_threshold(1.0)
    assert engine.reply(side, QUESTION, gen=GEN, gate=strict) == "I only know about the districts."


def test_two_runs_load_in_turn_unless_both_are_small(ws, lora_run):
    other = train_tiny(ws, ws.datasets / "districts", "other", max_steps=6, seed=7)
    a, b = Side(run=str(lora_run.path)), Side(run=str(other.path))
    frugal = ChatEngine(device="cpu", small_model_params=0)
    left, right = list(frugal.side_by_side(a, b, QUESTION, gen=GEN))[-1]
    assert frugal.loaded() == [f"run:{other.path.resolve()}"]  # the first was freed before the second loaded
    roomy = ChatEngine(device="cpu")
    assert list(roomy.side_by_side(a, b, QUESTION, gen=GEN))[-1] == (left, right)
    assert len(roomy.loaded()) == 2


def test_unload_frees_the_model(tiny_path):
    engine = ChatEngine(device="cpu")
    side = Side(model=tiny_path)
    ref = weakref.ref(engine.load(side).model)
    engine.unload()
    gc.collect()
    assert engine.loaded() == [] and ref() is None


def test_closing_a_stream_early_ends_generation_and_releases_the_engine(tiny_path):
    engine = ChatEngine(device="cpu")
    side = Side(model=tiny_path)
    model = engine.load(side).model
    calls = []
    hook = model.register_forward_hook(lambda *args: calls.append(1))
    long = GenParams(max_new_tokens=600, repetition_penalty=1.0)  # the random base never says end-of-turn
    stream = engine.stream(side, "Say anything.", gen=long)
    next(stream)
    stream.close()
    assert not [t for t in threading.enumerate() if t.name == "chat-generate" and t.is_alive()]
    assert len(calls) < 100, "generation went on after the stream was closed"
    stop = threading.Event()
    calls.clear()
    for _ in engine.stream(side, "Say anything.", gen=long, stop=stop):
        stop.set()  # e.g. a Stop button
    assert len(calls) < 100
    hook.remove()
    assert engine.reply(side, "Say anything.", gen=GenParams(max_new_tokens=2)) is not None  # lock released


def test_messages_and_context_fitting(plain_base):
    _, tok = plain_base
    history = [{"role": "user", "content": "first question " * 30}, {"role": "assistant", "content": "first answer"},
               {"role": "user", "content": "second"}, {"role": "assistant", "content": "second answer"}]
    msgs = build_messages("third", history, "Be brief.")
    assert [m["role"] for m in msgs] == ["system", "user", "assistant", "user", "assistant", "user"]
    assert msgs[-1] == {"role": "user", "content": "third"}
    assert build_messages("q") == messages_for("q")
    fitted = fit_context(tok, msgs, limit=60)
    assert fitted[0]["role"] == "system" and fitted[-1]["content"] == "third"
    assert len(fitted) == 4 and "first question" not in str(fitted)  # the oldest exchange was dropped
    with pytest.raises(ChatError, match="too long"):
        fit_context(tok, build_messages("word " * 200), limit=50)
    with pytest.raises(ChatError, match="empty"):
        build_messages("  ")
    with pytest.raises(ChatError, match="either a run or a model"):
        Side()


def test_a_reply_uses_the_threads_the_engine_is_given_without_touching_the_caller(tiny_path):
    import torch

    seen: list[int] = []
    engine = ChatEngine(device="cpu", threads=lambda: 1)
    side = Side(model=tiny_path)
    model = engine.load(side).model
    hook = model.register_forward_hook(lambda *args: seen.append(torch.get_num_threads()))
    before = torch.get_num_threads()
    engine.reply(side, "Say anything.", gen=GenParams(max_new_tokens=3))
    hook.remove()
    assert seen and set(seen) == {1} and torch.get_num_threads() == before
