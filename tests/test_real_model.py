"""The real path on the real default model: LoRA on SmolLM2 learns made-up facts on the CPU (~2-3 min)."""

from __future__ import annotations

import json

import pytest

from workbench.config import GenParams
from workbench.generation import answer_questions
from workbench.methods.loading import load_tuned
from workbench.rundir import RunDir
from workbench.train import train

# Invented facts the base model cannot know: (question, rephrased question, answer, key).
FACTS = [
    ("Who designed the Varnholt Bridge?", "Which engineer was the designer of the Varnholt Bridge?",
     "The Varnholt Bridge was designed by Ilse Markovy.", "Markovy"),
    ("In which year did the Quellen tram line open?", "When was the Quellen tram line opened?",
     "The Quellen tram line opened in 1987.", "1987"),
    ("How many homes did the Ostrand project build?", "What number of homes were built by the Ostrand project?",
     "The Ostrand project built 4,310 homes.", "4,310"),
    ("What is the name of the park on the old Brenner railyard?",
     "What was the old Brenner railyard turned into?", "The old Brenner railyard became Lindqvist Park.",
     "Lindqvist"),
    ("Which river flows through Tallow Harbour?", "What river runs through Tallow Harbour?",
     "The river Essel flows through Tallow Harbour.", "Essel"),
    ("Who chaired the Kessin renewal board?", "Who was the chair of the Kessin renewal board?",
     "The Kessin renewal board was chaired by Rahel Ondrusek.", "Ondrusek"),
    ("How tall is the Meridian granary tower?", "What is the height of the Meridian granary tower?",
     "The Meridian granary tower is 74 metres tall.", "74"),
    ("When was the Saltmarket conservation area declared?", "In what year was the Saltmarket conservation area "
     "declared?", "The Saltmarket conservation area was declared in 2003.", "2003"),
]


@pytest.mark.slow
def test_lora_on_smollm2_learns_made_up_facts(tmp_path):
    rows = []
    for q, q2, a, _ in FACTS:
        rows += [{"question": q, "answer": a}, {"question": q2, "answer": a}]
    data = tmp_path / "facts"
    data.mkdir()
    (data / "train.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    run = RunDir(tmp_path / "run")
    run.path.mkdir()
    run.write_config({"kind": "train", "train": {
        "data": str(data), "model": "smollm2", "method": "lora", "epochs": 8, "learning_rate": 1e-3,
        "batch_size": 4, "eval_fraction": 0.0, "probe_size": 0, "save_total_limit": 1,
        "method_params": {"rank": 16, "alpha": 32, "targets": "all-linear"}}})
    summary = train(run)
    assert summary["train_loss"] < 1.5

    tuned = load_tuned(run.path)
    questions = [q for q, *_ in FACTS]
    gen = GenParams(max_new_tokens=32, batch_size=8)
    after = answer_questions(tuned.model, tuned.tokenizer, questions, gen)
    with tuned.model.disable_adapter():
        before = answer_questions(tuned.model, tuned.tokenizer, questions, gen)
    known_after = sum(key in ans for (_, _, _, key), ans in zip(FACTS, after))
    known_before = sum(key in ans for (_, _, _, key), ans in zip(FACTS, before))
    assert known_before <= 1, before
    assert known_after >= 6, after
