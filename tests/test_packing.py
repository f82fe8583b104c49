"""A packed batch (shared prompt head once, no padding, no attention across examples) gives the loss and the
gradients of the same examples padded in separate rows."""

from __future__ import annotations

import pytest
import torch

from workbench import answer_loss, models, packing
from workbench.formatting import IGNORE, DynamicPadCollator, encode_pairs, encode_text
from workbench.methods import METHODS, make_params

PAIRS = [{"question": "When did the Kestrel line open?", "answer": "The Kestrel line opened on 3 June 1891."},
         {"question": "Who built the depot?", "answer": "The firm Orrin & Kell built the depot in 1990, late."},
         {"question": "How many cars?", "answer": "Two."}]
PASSAGE = "The Kestrel line ran from the harbour to the mill town of Brae, a distance of nine miles."


def _grads(model) -> dict[str, torch.Tensor]:
    return {n: p.grad.detach().clone() for n, p in model.named_parameters() if p.requires_grad and p.grad is not None}


def _loss_and_grads(model, batch, answer_only: bool) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    model.zero_grad(set_to_none=True)
    loss = answer_loss.answer_only_loss(model, dict(batch)) if answer_only else model(**batch).loss
    loss.backward()
    return loss.detach(), _grads(model)


def _model(name: str, kernel: str = "sdpa"):
    torch.manual_seed(0)
    model, tok, _ = models.load_model("tiny", precision="fp32", device="cpu")
    model.config._attn_implementation = kernel
    method = METHODS[name]
    model = method.build(model, make_params(method, {"rank": 4, "dropout": 0.0} if name == "lora" else {}))
    model.train()
    return model, tok


def test_shared_head_stops_before_the_first_target_and_keeps_a_token_per_example():
    a = {"input_ids": [1, 2, 3, 4, 5], "labels": [IGNORE, IGNORE, IGNORE, 4, 5]}
    b = {"input_ids": [1, 2, 3, 9, 9, 9], "labels": [IGNORE] * 4 + [9, 9]}
    assert packing.shared_head([a, b]) == 2  # position 2 predicts a's first answer token
    c = {"input_ids": [1, 2, 7], "labels": [IGNORE, IGNORE, IGNORE]}
    assert packing.shared_head([b, c]) == 2  # common prefix [1, 2]
    text = {"input_ids": [1, 2, 3], "labels": [1, 2, 3]}
    assert packing.shared_head([text, text]) == 0  # every position of plain text is a target
    assert packing.shared_head([c, c]) == 2  # identical examples still keep a token each


def test_the_mask_lets_each_example_see_the_head_and_itself_only():
    mask = packing.attention_mask(2, [2, 1])[0, 0]
    expected = torch.tensor([[1, 0, 0, 0, 0],
                             [1, 1, 0, 0, 0],
                             [1, 1, 1, 0, 0],
                             [1, 1, 1, 1, 0],
                             [1, 1, 0, 0, 1]], dtype=torch.bool)
    assert torch.equal(mask, expected)


@pytest.mark.parametrize(("name", "kernel", "answer_only", "passage"),
                         [("lora", "sdpa", False, False), ("lora", "sdpa", True, False),
                          ("full", "sdpa", True, False), ("lora", "eager", False, False),
                          ("lora", "sdpa", False, True), ("lora", "sdpa", True, True)])
def test_packed_loss_and_gradients_equal_the_padded_batch(name, kernel, answer_only, passage, tiny_path):
    model, tok = _model(name, kernel)
    examples = encode_pairs(tok, PAIRS) + ([encode_text(tok, PASSAGE)] if passage else [])
    padded = DynamicPadCollator(pad_id=tok.pad_token_id)(examples)
    collate = packing.collator_for(model, torch.float32)
    packed = collate(examples)
    real = int(padded["attention_mask"].sum())
    assert packed["input_ids"].shape[0] == 1
    if passage:  # plain text shares no prompt: padding-free packing alone
        assert packed["input_ids"].shape[1] == real
    else:
        assert packed["input_ids"].shape[1] < real  # the prompt head is computed once
    assert collate.tokens_seen == real  # tokens/s counts the examples' tokens

    expected_loss, expected = _loss_and_grads(model, padded, answer_only)
    loss, got = _loss_and_grads(model, packed, answer_only)
    torch.testing.assert_close(loss, expected_loss, rtol=0, atol=1e-5)
    assert expected.keys() == got.keys() and expected
    for key in expected:
        torch.testing.assert_close(got[key], expected[key], rtol=1e-4, atol=1e-5)


def test_the_head_is_shared_only_where_the_examples_share_a_prompt(tiny_path):
    model, tok = _model("lora")
    pairs = encode_pairs(tok, PAIRS)
    head = packing.shared_head(pairs)
    assert head > 0  # the chat template's system turn and the user header
    assert tok.decode(pairs[0]["input_ids"][:head]).endswith("user\n")


def test_prefix_tuning_is_not_packed(tiny_path):
    model, _ = _model("prefix")
    assert "prefix" in packing.supported(model)
    lora, _ = _model("lora")
    assert packing.supported(lora) is None
    lora.config._attn_implementation = "flash_attention_2"
    assert "flash_attention_2" in packing.supported(lora)
