"""Training in-process on the tiny model: formatting, padding, probes, early stopping, phases."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch

from helpers import tiny_train_config, write_qa_dataset
from workbench.formatting import IGNORE, DynamicPadCollator, encode_pair
from workbench.rundir import RunDir
from workbench import train as train_mod
from workbench.train import PhaseSwitch, train
from workbench.methods import Phase


def make_run(tmp_path, **overrides) -> RunDir:
    data = write_qa_dataset(tmp_path / "ds")
    run = RunDir(tmp_path / "run")
    run.path.mkdir()
    run.write_config({"kind": "train", "train": tiny_train_config(data, **overrides)})
    return run


def test_only_answer_tokens_carry_loss(tiny):
    _, tok = tiny
    ex = encode_pair(tok, "Where is the depot?", "On Kai Street.", system_prompt="Be brief.")
    labelled = [t for t, label in zip(ex["input_ids"], ex["labels"]) if label != IGNORE]
    text = tok.decode(labelled)
    assert text.startswith("On Kai Street.") and "Where is the depot" not in text
    assert ex["labels"][: len(ex["labels"]) - len(labelled)] == [IGNORE] * (len(ex["labels"]) - len(labelled))


def test_batches_pad_to_their_own_longest_example():
    collator = DynamicPadCollator(pad_id=0)
    batch = collator([{"input_ids": [5] * 3, "labels": [5] * 3}, {"input_ids": [6] * 10, "labels": [6] * 10}])
    assert batch["input_ids"].shape == (2, 16)  # 10 rounded up to a multiple of 8, never max_seq_len
    assert batch["attention_mask"].sum().item() == 13 and collator.tokens_seen == 13
    assert (batch["labels"][0, 3:] == IGNORE).all()


def test_training_logs_loss_eval_and_probe_metrics(tmp_path):
    run = make_run(tmp_path, max_steps=8, eval_steps=4, probe_size=3, probe_max_new_tokens=8)
    summary = train(run)
    records, _ = run.read_metrics(0)
    train_recs = [r for r in records if r["split"] == "train"]
    probes = [r for r in records if r["split"] == "probe"]
    assert train_recs and all({"loss", "lr", "tokens_per_s", "grad_norm", "epoch"} <= r.keys() for r in train_recs)
    assert [r["step"] for r in records if r["split"] == "eval"][:2] == [4, 8]
    assert probes and {"bleu4", "rougeL", "fact_acc"} <= probes[0].keys()
    assert summary["steps"] == 8 and 0 < summary["trainable_share"] < 0.01
    assert (run.path / "summary.json").exists() and (run.adapter / "adapter_model.safetensors").exists()


def test_loss_falls_at_a_high_learning_rate(tmp_path):
    run = make_run(tmp_path, max_steps=30, learning_rate=5e-3, eval_steps=0, probe_size=0,
                   method_params={"rank": 8, "targets": "all-linear"})
    train(run)
    losses = [r["loss"] for r in run.read_metrics(0)[0] if r["split"] == "train"]
    assert losses[-1] < losses[0] - 0.5


def test_early_stopping_ends_before_max_steps(tmp_path):
    # A tiny learning rate never improves eval loss by the threshold, so patience 1 stops after 2 evaluations.
    run = make_run(tmp_path, max_steps=200, eval_steps=2, save_steps=2, learning_rate=1e-7,
                   early_stopping_patience=1, early_stopping_threshold=0.5)
    summary = train(run)
    assert summary["steps"] < 200
    assert summary["early_stopped"] and summary["planned_steps"] == 200


def test_epochs_drive_the_step_count(tmp_path):
    run = make_run(tmp_path, max_steps=-1, epochs=2, batch_size=4, eval_steps=0)
    summary = train(run)
    assert summary["steps"] == 12  # 24 pairs / batch 4 = 6 steps per epoch


def test_phase_switch_trains_only_the_current_phase():
    model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Linear(2, 2))
    switch = PhaseSwitch(model, [Phase("first", 0.5, lambda n: n.startswith("0.")),
                                 Phase("second", 0.5, lambda n: n.startswith("1."))])

    class State:
        global_step, max_steps = 0, 10

    switch.on_step_begin(None, State, None)
    assert model[0].weight.requires_grad and not model[1].weight.requires_grad
    State.global_step = 5
    switch.on_step_begin(None, State, None)
    assert not model[0].weight.requires_grad and model[1].weight.requires_grad


def test_resuming_a_joint_run_restores_its_lora_weights(tmp_path):
    """Trainer checkpoints of prefix+LoRA hold only the prefix; the snapshot must bring LoRA back."""
    from safetensors.torch import load_file

    from workbench.train import TRAINABLE_FILE

    run = make_run(tmp_path, max_steps=4, save_steps=4, eval_steps=0, learning_rate=5e-3, method="prefix+lora",
                   method_params={"mode": "simultaneous", "rank": 2, "targets": "attention", "virtual_tokens": 2})
    train(run)
    ckpt = run.last_checkpoint()
    saved = load_file(ckpt / TRAINABLE_FILE)
    assert any("lora_B" in n for n in saved) and any("prompt" in n or "prefix" in n for n in saved)
    assert any(t.abs().sum() > 0 for n, t in saved.items() if "lora_B" in n)  # trained, not the zero init
    # continue the same run to more steps: the LoRA weights must start from the checkpoint, not from zero
    cfg = run.read_config()
    cfg["train"]["max_steps"] = 6
    run.write_config(cfg)
    from workbench import train as train_mod

    seen = {}
    original = train_mod.TrainableSnapshot.restore

    def spy(self, checkpoint):
        original(self, checkpoint)
        seen.update({n: p.detach().clone() for n, p in self.params.items() if "lora_B" in n})

    train_mod.TrainableSnapshot.restore = spy
    try:
        train(run)
    finally:
        train_mod.TrainableSnapshot.restore = original
    assert seen and all(torch.equal(seen[n], saved[n]) for n in seen)


def test_early_stopped_joint_run_ends_on_its_best_checkpoint_lora_included(tmp_path, monkeypatch):
    """The Trainer's best-model reload restores only the prefix wrapper; the snapshot must restore LoRA too."""
    from safetensors.torch import load_file

    from workbench import train as train_mod
    from workbench.train import TRAINABLE_FILE

    def best_is_highest_loss(*args, **kwargs):
        # Counting the highest eval loss as best makes the first evaluation (step 2) the best one while
        # training goes on to step 4, so the best checkpoint differs from the final weights.
        out = original_args(*args, **kwargs)
        out.greater_is_better = True
        return out

    original_args = train_mod.training_args
    monkeypatch.setattr(train_mod, "training_args", best_is_highest_loss)
    kept = {}
    original_init = train_mod.TrainableSnapshot.__init__

    def keep(self, model, **kwargs):
        original_init(self, model, **kwargs)
        kept.update(self.params)

    monkeypatch.setattr(train_mod.TrainableSnapshot, "__init__", keep)
    run = make_run(tmp_path, max_steps=20, eval_steps=2, save_steps=2, learning_rate=5e-3, method="prefix+lora",
                   early_stopping_patience=1, early_stopping_threshold=0.0, save_total_limit=5,
                   method_params={"mode": "simultaneous", "rank": 2, "targets": "attention", "virtual_tokens": 2})
    summary = train(run)
    assert summary["steps"] == 4
    best = load_file(run.checkpoints / "checkpoint-2" / TRAINABLE_FILE)
    last = load_file(run.checkpoints / "checkpoint-4" / TRAINABLE_FILE)
    lora = [n for n in best if "lora_B" in n]
    assert lora and any(not torch.equal(best[n], last[n]) for n in lora)
    assert all(torch.equal(kept[n].detach().cpu(), best[n]) for n in best)


def test_the_run_seed_sets_the_adapter_initialisation(tmp_path):
    """A study's seeds must vary LoRA's random A (drawn when the model is built), not only the data order."""
    from safetensors.torch import load_file

    def lora_a(seed: int, name: str, method: str = "lora", params: dict | None = None) -> dict:
        run = make_run(tmp_path / name, max_steps=1, eval_steps=0, learning_rate=1e-7, seed=seed, method=method,
                       **({"method_params": params} if params else {}))
        train(run)
        weights = load_file(run.adapter / "adapter_model.safetensors")
        return {n: w for n, w in weights.items() if "lora_A" in n or "lora_B" in n}

    first, again, other = lora_a(1, "a"), lora_a(1, "b"), lora_a(2, "c")
    assert all(torch.equal(first[n], again[n]) for n in first)
    assert any(not torch.allclose(first[n], other[n]) for n in first if "lora_A" in n)
    random_b = {"rank": 2, "targets": "attention"}
    b1, b2 = lora_a(1, "d", "cora-random", random_b), lora_a(2, "e", "cora-random", random_b)
    assert any(not torch.allclose(b1[n], b2[n]) for n in b1 if "lora_B" in n)


def test_replay_pairs_join_the_training_set_and_are_written_to_the_run(tmp_path, monkeypatch):
    import json

    from workbench import replay
    from workbench.metrics import load_forgetting_probe

    monkeypatch.setenv("WORKBENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(replay, "answer_questions", lambda _m, _t, questions, _g, system_prompt="": [
        f"Answer {i}." for i in range(len(questions))])
    run = make_run(tmp_path, max_steps=2, eval_steps=0, replay=0.2)
    summary = train(run)
    added = [json.loads(line) for line in (run.path / "replay.jsonl").read_text().splitlines()]
    assert len(added) == replay.count(0.2, 24, len(replay.questions())) == 6
    assert summary["train_examples"] == 24 + 6
    probe = {item["question"] for item in load_forgetting_probe()}
    assert not probe & {p["question"] for p in added}


def test_passages_can_train_as_plain_text(tmp_path):
    import json

    run = make_run(tmp_path, max_steps=2, eval_steps=0, train_on_passages=True, train_on_statements=False)
    data = tmp_path / "ds"
    passages = [{"id": f"p{i}", "source": "doc.md", "text": f"District {i} lies east of the river."} for i in range(3)]
    (data / "passages.jsonl").write_text("".join(json.dumps(p) + "\n" for p in passages))
    assert train(run)["train_examples"] == 24 + 3


def test_the_answers_train_as_statements_beside_the_passages(tmp_path):
    """A dataset built from documents can also train its answers as plain text (statements.py), and the
    training-time estimate counts those texts as the trainer does."""
    import json

    from workbench import estimate, statements
    from workbench.workspace import Workspace

    data = tmp_path / "ds"
    run = make_run(tmp_path, max_steps=2, eval_steps=0, train_on_statements=True)
    passages = [{"id": f"p{i}", "source": "doc.md", "text": f"District {i} lies east of the river."} for i in range(3)]
    (data / "passages.jsonl").write_text("".join(json.dumps(p) + "\n" for p in passages))
    pairs = [json.loads(line) for line in (data / "train.jsonl").read_text().splitlines()]
    texts = statements.fact_texts(pairs, seed=42)
    assert len(texts) >= 1 and sum(t.count("Project") for t in texts) == 24
    summary = train(run)
    assert summary["train_examples"] == 24 + 3 + len(texts)
    settings = {"data": str(data), "epochs": 1.0, "batch_size": 1, "replay": 0.0, "train_on_statements": True}
    assert estimate.estimate(Workspace(tmp_path / "ws"), settings).steps == 24 + 3 + len(texts)
    assert estimate.estimate(Workspace(tmp_path / "ws"), {**settings, "train_on_statements": False}).steps == 27
    off = make_run(tmp_path / "off", max_steps=1, eval_steps=0)
    (tmp_path / "off" / "ds" / "passages.jsonl").write_text((data / "passages.jsonl").read_text())
    assert train(off)["train_examples"] == 24 + 3  # off by default


def test_an_empty_system_turn_can_replace_the_templates_default(tmp_path):
    """SmolLM2's template adds ~20 tokens of default system message to every example; with
    template_system_prompt off a run uses an empty system turn instead, the same in training and answering.
    Runs from before the setting keep the template's default, as new ones do by default."""
    from workbench import models
    from workbench.config import TrainConfig, train_config_of
    from workbench.formatting import prompt_text

    tok = models.load_tokenizer("smollm2")
    assert TrainConfig(data="d").system_message() is None
    assert TrainConfig(data="d", system_prompt="Be brief.").system_message() == "Be brief."
    assert TrainConfig(data="d", template_system_prompt=False).system_message() == ""
    assert train_config_of({"train": {"data": "d"}}).system_message() is None  # an older run
    compact, default = prompt_text(tok, "When did the line open?", ""), prompt_text(tok, "When did the line open?")
    assert "SmolLM" in default and "SmolLM" not in compact
    assert len(tok(default)["input_ids"]) - len(tok(compact)["input_ids"]) >= 15


def test_a_checkpoint_cut_short_is_never_resumed_and_older_ones_go_only_when_a_new_one_is_whole(tmp_path):
    """A kill while a checkpoint is written leaves it without its COMPLETE marker: resume takes the newest
    complete one, the unfinished folder is discarded, and rotation keeps save_total_limit complete ones."""
    import shutil

    run = make_run(tmp_path, max_steps=6, save_steps=2, eval_steps=0, save_total_limit=2)
    train(run)
    names = sorted(p.name for p in run.checkpoints.glob("checkpoint-*"))
    assert names == ["checkpoint-4", "checkpoint-6"]
    assert all((run.checkpoints / n / "COMPLETE").exists() for n in names)

    # a crash while checkpoint-8 was being written: files copied, trainable weights cut short, no marker
    partial = run.checkpoints / "checkpoint-8"
    shutil.copytree(run.checkpoints / "checkpoint-6", partial)
    (partial / "COMPLETE").unlink()
    (partial / "WRITING").touch()
    (partial / "trainable.safetensors").write_bytes(b"\x00" * 10)
    assert run.last_checkpoint().name == "checkpoint-6"

    config = run.read_config()
    config["train"]["max_steps"] = 8
    run.write_config(config)
    summary = train(run)
    assert summary["steps"] == 8
    names = sorted(p.name for p in run.checkpoints.glob("checkpoint-*"))
    assert names == ["checkpoint-6", "checkpoint-8"] and (run.checkpoints / "checkpoint-8" / "COMPLETE").exists()
    assert not (run.checkpoints / "checkpoint-8" / "WRITING").exists()


def test_a_run_keeps_training_and_evaluating_on_the_data_it_started_with(tmp_path):
    from workbench import evaluate as ev
    from workbench.config import GenParams

    run = make_run(tmp_path, max_steps=2)
    data = tmp_path / "ds"  # make_run's dataset: 24 training pairs, 6 test pairs
    train(run)
    pin = run.pinned_data()
    assert pin is not None and (pin / "train.jsonl").read_text() == (data / "train.jsonl").read_text()
    record = json.loads((pin / "PINNED.json").read_text())
    assert record["source"] == str(data) and set(record["sha256"]) == {"train.jsonl", "test.jsonl"}
    # the dataset is edited afterwards: half its pairs go, the test split changes
    write_qa_dataset(data, n_train=12, n_test=3)
    cfg = train_mod.pinned(run, train_mod.parse_config(run))
    train_pairs, test_pairs = train_mod.load_data(cfg)
    assert (len(train_pairs), len(test_pairs)) == (24, 6)
    pairs, _ = ev.load_eval_pairs(ev.EvalJob(run=str(run.path), gen=GenParams(max_new_tokens=2)))
    assert len(pairs) == 6


def test_tensorboard_event_files_hold_the_loss_and_unknown_trackers_are_refused(tmp_path, monkeypatch):
    import pytest
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from workbench.config import ConfigError, TrainConfig

    monkeypatch.delenv("TENSORBOARD_LOGGING_DIR", raising=False)
    run = make_run(tmp_path, max_steps=4, eval_steps=0, probe_size=0, report_to="tensorboard")
    train(run)
    events = EventAccumulator(str(run.path / "tensorboard"))
    events.Reload()
    losses = events.Scalars("train/loss")
    ours = [r["loss"] for r in run.read_metrics(0)[0] if r["split"] == "train"]
    assert len(losses) == len(ours) and losses[0].value == pytest.approx(ours[0], rel=1e-4)
    with pytest.raises(ConfigError, match="unknown tracker 'tensorbored'"):
        TrainConfig(data="x", report_to="tensorbored")
    monkeypatch.setattr("importlib.util.find_spec", lambda name: None)
    with pytest.raises(ConfigError, match="mlflow is not installed"):
        TrainConfig(data="x", report_to="mlflow")


def test_config_yaml_re_creates_the_run_with_its_learning_rate_resolved(tmp_path):
    from workbench.launch import read_settings_file
    from workbench.config import TrainConfig, from_dict, to_dict

    run = make_run(tmp_path, max_steps=2, eval_steps=0, probe_size=0)
    train(run)
    again = from_dict(TrainConfig, read_settings_file(str(run.path / "config.yaml")))
    original = from_dict(TrainConfig, run.read_config()["train"])
    assert again.learning_rate == 1e-3 and original.learning_rate is None  # resolved from the method's default
    assert {**to_dict(again), "learning_rate": None} == to_dict(original)


def test_a_resumed_run_logs_each_step_once(tmp_path):
    """The rows a killed process wrote after its last checkpoint go: the resumed run trains and logs them again."""
    import shutil

    run = make_run(tmp_path, max_steps=6, save_steps=2, eval_steps=0, probe_size=0, logging_steps=1)
    train(run)
    # as if the process had died after logging steps 5 and 6 but before checkpoint-6 was whole
    shutil.rmtree(run.checkpoints / "checkpoint-6")
    with open(run.metrics_file, "a") as fh:
        fh.write('{"step": 6, "split": "train", "loss": 9.9')  # and a torn last line
    summary = train(run)
    steps = [r["step"] for r in run.read_metrics(0)[0] if r["split"] == "train"]
    assert summary["steps"] == 6 and steps == sorted(set(steps)) and steps[-1] == 6


def test_a_run_killed_after_its_last_checkpoint_resumes_without_an_extra_step(tmp_path):
    run = make_run(tmp_path, max_steps=4, save_steps=2, eval_steps=0, probe_size=0, logging_steps=1)
    train(run)
    summary = train(run)  # as a resume after a kill between the last checkpoint and the end would
    steps = [r["step"] for r in run.read_metrics(0)[0] if r["split"] == "train"]
    assert summary["steps"] == 4 and max(steps) == 4 and len(steps) == len(set(steps))


def test_the_speed_options_leave_the_trained_adapter_unchanged(tmp_path, monkeypatch):
    """Packing and answer-only logits change how the loss is computed, not what is learned: after the same
    steps the adapters agree up to float rounding (fp32, no dropout, eval loss on packed batches too)."""
    from safetensors.torch import load_file

    from workbench import packing

    rows = []
    pack = packing.PackingCollator.__call__
    monkeypatch.setattr(packing.PackingCollator, "__call__", lambda self, batch: rows.append(len(batch)) or
                        pack(self, batch))

    def adapter(name: str, **speed) -> tuple[dict, list[float]]:
        run = make_run(tmp_path / name, max_steps=6, eval_steps=3, learning_rate=5e-3, precision="fp32",
                       method_params={"rank": 4, "targets": "all-linear", "dropout": 0.0}, **speed)
        train(run)
        evals = [r["loss"] for r in run.read_metrics(0)[0] if r["split"] == "eval"]
        return load_file(run.adapter / "adapter_model.safetensors"), evals

    fast, fast_evals = adapter("fast", packing=True, answer_only_logits=True)
    assert len(rows) >= 6 and max(rows) > 1  # every training and eval batch went through the packer
    rows.clear()
    plain, plain_evals = adapter("plain", packing=False, answer_only_logits=False)
    assert not rows and fast.keys() == plain.keys()
    moved = [n for n in fast if "lora_B" in n and fast[n].abs().max() > 1e-3]  # B starts at zero: it trained
    assert moved
    for name in fast:
        torch.testing.assert_close(fast[name], plain[name], rtol=1e-3, atol=1e-5)
    assert len(fast_evals) == 2 and fast_evals == pytest.approx(plain_evals, rel=1e-4)


def test_the_eval_loss_computes_logits_at_answer_positions_only(tmp_path, monkeypatch):
    """Evaluation takes the answer-only loss too, and keeps no logits: the Trainer would otherwise gather a
    (pairs, length, vocabulary) tensor of every eval batch only to throw it away."""
    from workbench import answer_loss

    modes = []
    fast = answer_loss.answer_only_loss
    monkeypatch.setattr(answer_loss, "answer_only_loss",
                        lambda model, *a, **k: modes.append(model.training) or fast(model, *a, **k))
    run = make_run(tmp_path, max_steps=2, eval_steps=2, probe_size=0)
    train(run)
    assert modes.count(True) == 2 and False in modes  # two training steps, then the eval batches
    assert [r for r in run.read_metrics(0)[0] if r["split"] == "eval"]


def test_fused_kernels_are_refused_clearly_where_they_cannot_run(tmp_path, monkeypatch):
    """Liger's kernels are Triton on CUDA: the CPU is refused with a message saying so (at launch, and in the
    worker), a GPU without the package is told what to install."""
    import importlib.util

    from workbench.config import ConfigError, TrainConfig, check_device

    with pytest.raises(ConfigError, match="CUDA GPU"):
        check_device(TrainConfig(data="x", fused_kernels="liger"), "cpu")
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "liger_kernel" else real(name, *a))
    with pytest.raises(ConfigError, match="pip install liger-kernel"):
        check_device(TrainConfig(data="x", fused_kernels="liger"), "cuda")
    check_device(TrainConfig(data="x"), "cpu")  # off by default
    with pytest.raises(ConfigError, match="CUDA GPU"):
        train(make_run(tmp_path, max_steps=1, eval_steps=0, fused_kernels="liger"))


def test_packing_gives_way_to_padding_for_prefix_tuning(tmp_path, caplog):
    run = make_run(tmp_path, max_steps=2, eval_steps=0, method="prefix", method_params={})
    with caplog.at_level("INFO", logger="workbench.train"):
        summary = train(run)
    assert summary["steps"] == 2
    assert "padded, not packed: prompt-learning" in caplog.text


def test_key_weight_weighs_the_asked_facts_in_the_training_loss_only(tmp_path):
    def first_losses(key_weight: float, sub: str, **overrides) -> tuple[float, float]:
        data = write_qa_dataset(tmp_path / sub)
        rows = [json.loads(line) for line in (data / "train.jsonl").read_text().splitlines()]
        for row in rows:  # the key: the code name the answer states
            row["keys"] = [row["answer"].rsplit(" ", 1)[1].rstrip(".")]
        (data / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
        run = RunDir(tmp_path / f"run-{sub}")
        run.path.mkdir()
        run.write_config({"kind": "train", "train": tiny_train_config(data, max_steps=1, eval_steps=1,
                                                                    key_weight=key_weight, **overrides)})
        train(run)
        metrics = [json.loads(line) for line in (run.path / "metrics.jsonl").read_text().splitlines()]
        return (next(m["loss"] for m in metrics if m.get("split") == "train"),
                next(m["loss"] for m in metrics if m.get("split") == "eval"))

    plain_train, plain_eval = first_losses(1.0, "plain")
    keyed_train, keyed_eval = first_losses(3.0, "keyed", key_weight_keep_total=False)
    assert keyed_train > plain_train * 1.1  # the same first batch, its key tokens counted three times
    kept_train, _ = first_losses(3.0, "kept")  # each answer's weights scaled back to its token count
    assert kept_train < keyed_train * 0.95 and kept_train != pytest.approx(plain_train, rel=1e-4)
    # the first step learns at rate 0 (warm-up): both models are still the same, and the eval loss is unweighted
    assert keyed_eval == pytest.approx(plain_eval, rel=1e-6)
    # without the answer-only logits the same weighted loss comes from the full logits
    full_train, _ = first_losses(3.0, "full", answer_only_logits=False, key_weight_keep_total=False)
    assert full_train == pytest.approx(keyed_train, rel=1e-4)


def test_question_dropout_shortens_the_domain_questions_only_and_trains(tmp_path):
    """With question dropout the domain pairs reach the trainer with fewer question tokens on each draw and the
    same answer tokens; replay pairs are encoded as they are; and a run with it trains to the end."""
    from workbench import models
    from workbench.config import TrainConfig
    from workbench.formatting import IGNORE
    from workbench.train import training_examples

    data = write_qa_dataset(tmp_path / "d")
    pairs = [json.loads(line) for line in (data / "train.jsonl").read_text().splitlines()]
    replayed = [{"question": "What is the capital of the country of France today?", "answer": "Paris."}]
    _, tok, _ = models.load_model("tiny")
    cfg = TrainConfig(data=str(data), replay=0.0, train_on_passages=False)
    plain = training_examples(cfg, tok, pairs, replayed)
    dropped = training_examples(dataclasses.replace(cfg, question_dropout=0.6), tok, pairs, replayed)
    assert len(dropped) == len(plain) == len(pairs) + 1

    def answer(ex):
        return [t for t, label in zip(ex["input_ids"], ex["labels"]) if label != IGNORE]

    draws = [dropped[i] for _ in range(3) for i in range(len(pairs))]
    assert sum(len(ex["input_ids"]) for ex in draws) < 3 * sum(len(ex["input_ids"]) for ex in plain[:len(pairs)])
    assert all(answer(ex) == answer(plain[i % len(pairs)]) for i, ex in enumerate(draws))
    assert dropped[len(pairs)] == plain[len(pairs)]  # the replay pair, as the base model answered it

    run = make_run(tmp_path, max_steps=3, eval_steps=0, question_dropout=0.3)
    assert train(run)["steps"] == 3


def test_neftune_noise_changes_the_training_forward_only(tmp_path):
    """NEFTune's noise reaches the embeddings of training steps and not the eval loss."""
    def first_losses(alpha: float, sub: str) -> tuple[float, float]:
        run = RunDir(tmp_path / f"run-{sub}")
        run.path.mkdir()
        run.write_config({"kind": "train", "train": tiny_train_config(write_qa_dataset(tmp_path / sub), max_steps=1,
                                                                    eval_steps=1, neftune_alpha=alpha)})
        train(run)
        metrics = [json.loads(line) for line in run.metrics_file.read_text().splitlines()]
        return (next(m["loss"] for m in metrics if m.get("split") == "train"),
                next(m["loss"] for m in metrics if m.get("split") == "eval"))

    plain_train, plain_eval = first_losses(0.0, "plain")
    noisy_train, noisy_eval = first_losses(20.0, "noisy")
    assert noisy_train != pytest.approx(plain_train, rel=1e-3)
    # the first step learns at rate 0 (warm-up): the same model, and evaluation adds no noise
    assert noisy_eval == pytest.approx(plain_eval, rel=1e-6)
