"""The answer-only loss equals the full causal-LM loss, in value and in gradients, for the methods it serves."""

from __future__ import annotations

import pytest
import torch

from workbench import answer_loss, models
from workbench.formatting import DynamicPadCollator, encode_pairs
from workbench.methods import METHODS, make_params

PAIRS = [{"question": "When did the Kestrel line open?", "answer": "The Kestrel line opened on 3 June 1891."},
         {"question": "Who built the depot?", "answer": "The firm Orrin & Kell built the depot in 1990, late."},
         {"question": "How many cars?", "answer": "Two."}]


def _batch(tok) -> dict[str, torch.Tensor]:
    return DynamicPadCollator(pad_id=tok.pad_token_id)(encode_pairs(tok, PAIRS))


def _grads(model) -> dict[str, torch.Tensor]:
    return {n: p.grad.detach().clone() for n, p in model.named_parameters() if p.requires_grad and p.grad is not None}


@pytest.mark.parametrize("name", ["lora", "full", "prefix"])
def test_answer_only_loss_and_gradients_equal_the_full_loss(name, tiny_path):
    torch.manual_seed(0)
    model, tok, _ = models.load_model("tiny", precision="fp32", device="cpu")
    method = METHODS[name]
    model = method.build(model, make_params(method, {"rank": 4, "dropout": 0.0} if name == "lora" else {}))
    model.train()
    batch = _batch(tok)
    assert (batch["labels"] == -100).sum() > batch["labels"].numel() // 3  # the prompts are masked

    full = model(**batch).loss
    full.backward()
    expected = _grads(model)
    model.zero_grad(set_to_none=True)

    assert answer_loss.supported(model)
    fast = answer_loss.answer_only_loss(model, batch)
    fast.backward()
    got = _grads(model)

    torch.testing.assert_close(fast, full, rtol=0, atol=1e-5)
    assert expected.keys() == got.keys() and expected
    for key in expected:
        torch.testing.assert_close(got[key], expected[key], rtol=1e-4, atol=1e-5)
    # the output layer is back in place afterwards: a normal forward gives full-length logits
    assert model(**batch).logits.shape[:2] == batch["input_ids"].shape
