"""Dropout whose random mask costs a quarter of the random-number draws of torch's own on a CPU.

LoRA applies dropout to the input of every adapted layer: on SmolLM2 with all linear layers adapted that is
about 150,000 random numbers per token, and drawing them one by one was 17% of a CPU training step
(profiled, LoRA r16, 4 QA examples packed). Here each 64-bit draw gives four 16-bit lanes, and a lane keeps
its element when it is at or above p's quantile of the 16-bit range. Every element is still dropped
independently with probability p (rounded to 1/65536) and the kept ones are scaled by 1/(1-p), as in
``torch.nn.Dropout``; on a GPU, where the draws are cheap, the module is torch's own.

Knows nothing of methods, the Trainer or files.
"""

from __future__ import annotations

import torch

LANES = 4  # 16-bit lanes per 64-bit draw
SPAN = 1 << 16


class LaneDropout(torch.nn.Dropout):
    """``torch.nn.Dropout`` with the mask drawn in 16-bit lanes on a CPU; identical in eval mode."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or not 0 < self.p < 1 or x.device.type != "cpu":
            return super().forward(x)
        n = x.numel()
        draws = torch.randint(-(1 << 63), (1 << 63) - 1, (-(-n // LANES),), dtype=torch.int64)
        lanes = draws.view(torch.int16)[:n].view(x.shape)
        keep = lanes >= (-(SPAN // 2) + round(self.p * SPAN))
        return x * keep * (1.0 / (1.0 - self.p))


def swap_dropouts(model: torch.nn.Module) -> int:
    """Replace every plain ``torch.nn.Dropout`` with a non-zero rate by a LaneDropout of the same rate (they
    hold no weights, so nothing saved changes); returns how many were replaced."""
    swapped = 0
    for parent in model.modules():
        for name, child in list(parent.named_children()):
            if type(child) is torch.nn.Dropout and child.p > 0:
                lane = LaneDropout(child.p, inplace=False)
                lane.train(child.training)
                setattr(parent, name, lane)
                swapped += 1
    return swapped
