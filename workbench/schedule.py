"""Step ranges of sequential training phases, and a learning-rate schedule that can restart per phase.

The Trainer builds one schedule over the whole run. A sequential method (train one part, then another)
whose later phase asks for ``restart_schedule`` gets the run's schedule type (warm-up share included)
laid over each segment separately instead, so its second part does not learn at an already decayed rate.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from transformers import TrainingArguments, get_scheduler

from .methods import Phase


def phase_bounds(phases: Sequence[Phase], total: int) -> list[tuple[int, int]]:
    """[start, end) steps of each phase: a step belongs to the first phase whose cumulative share exceeds it."""
    bounds, start, edge = [], 0, 0.0
    for i, phase in enumerate(phases):
        edge += phase.fraction * total
        end = total if i == len(phases) - 1 else min(total, math.ceil(edge))
        bounds.append((start, max(start, end)))
        start = max(start, end)
    return bounds


def restarts(phases: Sequence[Phase]) -> bool:
    return any(p.restart_schedule for p in phases[1:])


def lr_factors(args: TrainingArguments, phases: Sequence[Phase], total: int) -> list[float]:
    """The learning-rate multiplier at every step, the schedule restarting where a phase asks for it."""
    segments: list[int] = []
    for phase, (start, end) in zip(phases, phase_bounds(phases, total)):
        if segments and not phase.restart_schedule:
            segments[-1] += end - start
        else:
            segments.append(end - start)
    factors: list[float] = []
    for length in (n for n in segments if n > 0):
        probe = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
        sched = get_scheduler(args.lr_scheduler_type, probe, num_warmup_steps=args.get_warmup_steps(length),
                              num_training_steps=length, scheduler_specific_kwargs=args.lr_scheduler_kwargs)
        factors.extend(sched.lr_lambdas[0](i) for i in range(length))
    return factors or [1.0]


def phased_scheduler(args: TrainingArguments, optimizer: torch.optim.Optimizer, phases: Sequence[Phase],
                     total: int) -> torch.optim.lr_scheduler.LambdaLR:
    """Scales every parameter group's own learning rate (a prefix group keeps its multiple of LoRA's)."""
    factors = lr_factors(args, phases, total)
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: factors[min(step, len(factors) - 1)])
