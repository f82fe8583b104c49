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


def test_key_spans_cover_the_key_and_the_word_leading_into_it():
    from workbench.formatting import key_spans

    text = "Cuthbert Anwell headed the board for 17 years; in 1917 he left."
    [(start, end)] = key_spans(text, ["17|seventeen"])
    assert text[start:end] == "for 17"
    assert key_spans("The Kestrel line opened on 3 June 1891.", ["3 June 1891", "absent"]) == [(24, 38)]
    assert key_spans("1917", ["17"]) == []  # whole words only


def test_key_weight_marks_the_key_tokens_and_leaves_ids_and_labels_alone(tiny_path):
    from workbench.formatting import encode_pair

    _, tok, _ = models.load_model("tiny", precision="fp32", device="cpu")
    pair = PAIRS[0]
    plain = encode_pair(tok, pair["question"], pair["answer"])
    weighted = encode_pair(tok, pair["question"], pair["answer"], keys=["3 June 1891"], key_weight=3.0,
                           keep_total=False)
    assert "weights" not in plain and weighted["input_ids"] == plain["input_ids"]
    assert weighted["labels"] == plain["labels"]
    marked = [i for i, w in enumerate(weighted["weights"]) if w == 3.0]
    assert set(weighted["weights"]) == {1.0, 3.0}
    assert all(weighted["labels"][i] != -100 for i in marked)  # only answer tokens
    assert "on 3 June 1891" in tok.decode([weighted["input_ids"][i] for i in marked])
    assert "Kestrel" not in tok.decode([weighted["input_ids"][i] for i in marked])


def test_kept_total_scales_an_answers_weights_to_its_token_count(tiny_path):
    from workbench.formatting import encode_pair

    _, tok, _ = models.load_model("tiny", precision="fp32", device="cpu")
    pair = PAIRS[0]
    added = encode_pair(tok, pair["question"], pair["answer"], keys=["3 June 1891"], key_weight=3.0,
                        keep_total=False)
    kept = encode_pair(tok, pair["question"], pair["answer"], keys=["3 June 1891"], key_weight=3.0)
    answer = [i for i, label in enumerate(kept["labels"]) if label != -100]
    assert sum(added["weights"][i] for i in answer) > len(answer)
    assert sum(kept["weights"][i] for i in answer) == pytest.approx(len(answer))
    key = [i for i in answer if added["weights"][i] == 3.0]
    rest = [i for i in answer if added["weights"][i] == 1.0]
    assert key and rest
    assert kept["weights"][key[0]] == pytest.approx(3.0 * kept["weights"][rest[0]])  # the ratio stays
    assert all(kept["weights"][i] == 1.0 for i, label in enumerate(kept["labels"]) if label == -100)


def test_weighted_loss_is_the_weighted_cross_entropy_padded_or_packed(tiny_path):
    import torch.nn.functional as F

    from workbench import packing

    torch.manual_seed(0)
    model, tok, _ = models.load_model("tiny", precision="fp32", device="cpu")
    keyed = [dict(p, keys=[k]) for p, k in zip(PAIRS, ["3 June 1891", "Orrin & Kell", "Two"])]
    examples = encode_pairs(tok, keyed, key_weight=4.0, keep_total=False)
    assert all("weights" in ex for ex in examples)
    batch = DynamicPadCollator(pad_id=tok.pad_token_id)(examples)
    logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    targets, weights = batch["labels"][:, 1:], batch["label_weights"][:, 1:]
    nll = F.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]), targets.reshape(-1), reduction="none",
                          ignore_index=-100)
    keep = targets.reshape(-1) != -100
    expected = (nll[keep] * weights.reshape(-1)[keep]).sum() / keep.sum()
    padded = answer_loss.answer_only_loss(model, batch)
    packed = answer_loss.answer_only_loss(model, packing.collator_for(model, torch.float32)(examples))
    torch.testing.assert_close(padded, expected, rtol=0, atol=1e-5)
    torch.testing.assert_close(packed, expected, rtol=0, atol=1e-5)
    plain = answer_loss.answer_only_loss(model, DynamicPadCollator(pad_id=tok.pad_token_id)(encode_pairs(tok, keyed)))
    assert padded > plain * 1.2  # the keys' terms count four times
