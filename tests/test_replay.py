"""Replay pairs: general questions that are never the forgetting probe's, answered by the base model once
per model and cached, trimmed to whole sentences, mixed in at the share asked for."""

from __future__ import annotations

import re

import pytest

from workbench import models, replay
from workbench.metrics import load_forgetting_probe


def _norm(q: str) -> str:
    return re.sub(r"[^a-z0-9 ]+", "", q.lower()).strip()


def test_replay_questions_never_contain_a_probe_question():
    probe = {_norm(item["question"]) for item in load_forgetting_probe()}
    questions = replay.questions()
    assert len(questions) >= 100 and len(set(questions)) == len(questions)
    assert not probe & {_norm(q) for q in questions}
    # a probe that happens to ask a replay question takes it out of the replay set
    first = questions[0]
    assert first not in replay.questions(probe=[first.upper(), "Something else?"])


def test_replay_share_sets_the_number_of_pairs():
    assert replay.count(0.0, 200, 120) == 0
    assert replay.count(0.1, 180, 120) == 20  # 20 of 200 = 10%
    assert replay.count(0.5, 1000, 120) == 120  # no more than there are questions


@pytest.mark.parametrize("answer,kept", [
    ("Boil water. Add the egg. \n\nSteps:\n\n1.", "Boil water. Add the egg."),
    ("It costs 3.5 dollars. Then", "It costs 3.5 dollars."),
    ("no sentence end at all", ""),
])
def test_cut_off_answers_are_trimmed_to_whole_sentences(answer, kept):
    assert replay.whole_sentences(answer) == kept


def test_replay_answers_come_from_the_model_once_then_from_the_cache(tiny_path, tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_CACHE", str(tmp_path))
    model, tok, info = models.load_model("tiny", precision="fp32", device="cpu")
    calls = []

    def fake_answers(_model, _tok, questions, _gen, system_prompt=""):
        calls.append(list(questions))
        return [f"An answer to question {i}." for i, _ in enumerate(questions)]

    monkeypatch.setattr(replay, "answer_questions", fake_answers)
    first = replay.pairs(model, tok, 3, model_key="tiny")
    again = replay.pairs(model, tok, 5, model_key="tiny")
    assert [len(c) for c in calls] == [3, 2]  # the second call answers only the two it lacks
    assert [p["question"] for p in again[:3]] == [p["question"] for p in first]
    assert all(p["origin"] == "replay" and p["answer"].endswith(".") for p in again)


def test_any_first_replay_questions_mix_explanations_and_one_fact_questions():
    # a run takes the first n; both forms must be in them, not only the file's first section
    one_fact = re.compile(r"^(who|which|when|in which|how many|what is the name)\b", re.I)
    for n in (30, 60, 95):
        first = replay.questions()[:n]
        facts = sum(bool(one_fact.match(q)) for q in first)
        assert 0.2 * n <= facts <= 0.8 * n


def test_a_replay_answer_that_states_a_probe_answer_is_left_out():
    # "In which country is Kyoto?" answered with the capital of Japan would teach the probe's answer
    probe = replay._probe_facts()
    assert replay.states_probe_fact("The capital city of Japan is Tokyo.", probe)
    assert replay.states_probe_fact("Romeo and Juliet was written by William Shakespeare in the 1590s.", probe)
    assert not replay.states_probe_fact("Kyoto is a city in Japan, famous for its temples.", probe)
    assert not replay.states_probe_fact("To boil an egg, put it in boiling water for eight minutes.", probe)
