"""Greedy decoding that drops answered rows gives transformers' generate's answers, row for row."""

from __future__ import annotations

import pytest
import torch

from workbench import decode
from workbench.config import GenParams
from workbench.formatting import prompt_text
from workbench.generation import answer_questions

QUESTIONS = ["When did the Kestrel line open?", "Who built the depot on Kai Street in the year the line opened?",
             "How many cars?", "Which engineer surveyed the route from the harbour to the mill town of Brae?"]


def _batch(tok):
    tok.padding_side = "left"
    return tok([prompt_text(tok, q) for q in QUESTIONS], return_tensors="pt", padding=True, add_special_tokens=False)


@pytest.mark.parametrize("penalty", [1.0, 1.1])
def test_rows_that_stop_early_leave_the_batch_and_every_answer_matches_generate(penalty, tiny):
    model, tok = tiny
    torch.manual_seed(0)
    with torch.no_grad():  # the tiny model as built answers newlines only; noise makes its answers differ
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.5)
    enc = _batch(tok)
    width = enc["input_ids"].shape[1]
    free = model.generate(**enc, max_new_tokens=12, do_sample=False, repetition_penalty=penalty,
                          pad_token_id=tok.pad_token_id, eos_token_id=None)[:, width:]
    # a random model never ends an answer: stop tokens taken from its answers end rows 0-2 at steps 2, 5 and 8
    stop = {int(free[0, 2]), int(free[1, 5]), int(free[2, 8])}
    reference = model.generate(**enc, max_new_tokens=12, do_sample=False, repetition_penalty=penalty,
                               pad_token_id=tok.pad_token_id, eos_token_id=sorted(stop))[:, width:]
    got = decode.greedy(model, enc["input_ids"], enc["attention_mask"], 12, stop, penalty)
    ends = []
    for row, answer in zip(reference.tolist(), got):
        end = next((i for i, t in enumerate(row) if t in stop), len(row))
        ends.append(end)
        assert answer == row[:end]
    assert len(set(ends)) > 2  # rows left the batch at different steps


def test_answers_are_the_same_with_rows_dropped_or_kept(tiny):
    model, tok = tiny
    gen = GenParams(max_new_tokens=10, batch_size=3)
    kept = answer_questions(model, tok, QUESTIONS, GenParams(max_new_tokens=10, batch_size=3, drop_finished=False))
    assert answer_questions(model, tok, QUESTIONS, gen) == kept


def test_prefix_tuning_decodes_with_generate(tiny):
    from workbench.methods import METHODS, make_params

    model, _ = tiny
    assert decode.can_prune(model)
    prefix = METHODS["prefix"].build(model, make_params(METHODS["prefix"], {}))
    assert not decode.can_prune(prefix)


def test_end_tokens_come_from_the_generation_config_or_the_tokenizer(tiny):
    model, tok = tiny
    model.generation_config.eos_token_id = [2, 7]
    assert decode.eos_ids(model, tok.eos_token_id) == {2, 7}
    model.generation_config.eos_token_id = None
    assert decode.eos_ids(model, 5) == {5}
    assert torch.is_tensor(torch.tensor(sorted(decode.eos_ids(model, 5))))


def test_beam_answers_are_transformers_beam_search_and_differ_from_greedy(tiny):
    model, tok = tiny
    torch.manual_seed(1)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.5)
    beams = GenParams(max_new_tokens=8, num_beams=2, repetition_penalty=1.0)
    got = answer_questions(model, tok, QUESTIONS, beams)
    expected = []
    for question in QUESTIONS:  # one question at a time: no padding
        enc = tok(prompt_text(tok, question), return_tensors="pt", add_special_tokens=False)
        out = model.generate(**enc, max_new_tokens=8, do_sample=False, num_beams=2, pad_token_id=tok.pad_token_id)
        expected.append(tok.decode(out[0, enc["input_ids"].shape[1]:], skip_special_tokens=True).strip())
    assert got == expected
    greedy = answer_questions(model, tok, QUESTIONS, GenParams(max_new_tokens=8, repetition_penalty=1.0))
    assert greedy != got
