"""LaneDropout drops each element independently with probability p, scales the kept ones like torch's dropout,
and replaces LoRA's dropouts without changing what is saved."""

from __future__ import annotations

import pytest
import torch

from workbench import lane_dropout, models
from workbench.methods import METHODS, make_params


@pytest.mark.parametrize("p", [0.05, 0.3])
def test_each_element_is_dropped_with_probability_p_and_the_rest_scaled(p):
    torch.manual_seed(0)
    drop = lane_dropout.LaneDropout(p)
    y = drop(torch.ones(1000, 1000))
    kept = y != 0
    assert abs(kept.float().mean().item() - (1 - p)) < 0.002
    assert torch.allclose(y[kept], torch.full_like(y[kept], 1 / (1 - p)))
    rows = kept.float().mean(dim=1)  # no lane pattern: every row keeps about the same share
    assert rows.std().item() < 0.02
    assert not torch.equal(drop(torch.ones(1000, 1000)) != 0, kept)  # a new mask per call


def test_gradient_is_the_mask_scaled_and_seeds_repeat_the_mask():
    x = torch.randn(3, 17, 64, requires_grad=True)
    drop = lane_dropout.LaneDropout(0.2)
    torch.manual_seed(5)
    y = drop(x)
    y.sum().backward()
    expected = (y.detach() != 0).float() / 0.8
    assert torch.allclose(x.grad, expected)
    torch.manual_seed(5)
    assert torch.equal(drop(x), y)


def test_eval_mode_and_zero_rate_are_the_identity():
    x = torch.randn(4, 8)
    assert torch.equal(lane_dropout.LaneDropout(0.5).eval()(x), x)
    assert torch.equal(lane_dropout.LaneDropout(0.0)(x), x)


def test_lora_dropouts_are_swapped_and_the_saved_adapter_keeps_its_keys(tiny_path, tmp_path):
    model, _, _ = models.load_model("tiny", precision="fp32", device="cpu")
    method = METHODS["lora"]
    model = method.build(model, make_params(method, {"rank": 4, "dropout": 0.1, "targets": "all-linear"}))
    before = set(model.state_dict())
    swapped = lane_dropout.swap_dropouts(model)
    assert swapped == sum(1 for n, _ in model.named_modules() if n.endswith("lora_dropout.default"))
    assert swapped > 0 and set(model.state_dict()) == before
    assert all(isinstance(m, lane_dropout.LaneDropout) for n, m in model.named_modules()
               if n.endswith("lora_dropout.default"))
    assert lane_dropout.swap_dropouts(model) == 0  # already swapped
