"""Learning-rate schedules, as functions of the (fractional) epoch.

- step:     lr * gamma^(floor(epoch) // step)        DRN classify.py / segment.py (gamma 0.1, step 30 / 100 / 200)
- multistep: lr * gamma^(milestones passed)          He et al.'s CIFAR ResNets (x0.1 at epochs 82 and 123)
- poly:     lr * (1 - epoch / epochs)^0.9            DRN segment.py --lr-mode poly
- linear:   lr + (lr_end - lr) * epoch / epochs      Wider-or-Deeper (0.1 -> 1e-6 over 90 epochs)
- constant: lr                                       Wider-or-Deeper segmentation's first phase

A warm-up (`warmup` epochs > 0) multiplies any of them by min(1, epoch / warmup): a linear ramp from 0 (Goyal et
al.), which keeps a large initial rate from blowing up a deep net in its first iterations.

The engine sets the rate before every iteration with epoch = e + i / iterations_per_epoch. For "step" that is the
per-epoch rule of the DRN code; "poly" and "linear" decay smoothly and agree with the per-epoch formulas at the start
of every epoch (segment.py updates poly once per epoch).
"""

from __future__ import annotations

import math

import torch

from drnlib.errors import ParameterError

SCHEDULES = ("step", "multistep", "poly", "linear", "constant")


def lr_at(epoch: float, *, lr: float, schedule: str, epochs: int, step: int = 30, gamma: float = 0.1,
          lr_end: float = 0.0, power: float = 0.9, milestones=(), warmup: float = 0.0) -> float:
    """The learning rate at `epoch` (0-based, may be fractional)."""
    ramp = min(1.0, epoch / warmup) if warmup > 0 else 1.0
    return ramp * _decayed(epoch, lr, schedule, epochs, step, gamma, lr_end, power, milestones)


def _decayed(epoch, lr, schedule, epochs, step, gamma, lr_end, power, milestones) -> float:
    if schedule == "step":
        return lr * gamma ** (math.floor(epoch) // step)
    if schedule == "multistep":
        return lr * gamma ** sum(math.floor(epoch) >= m for m in milestones)
    if schedule == "poly":
        return lr * max(0.0, 1.0 - epoch / epochs) ** power
    if schedule == "linear":
        return lr + (lr_end - lr) * min(1.0, epoch / epochs)
    if schedule == "constant":
        return lr
    raise ParameterError(f"unknown lr schedule {schedule!r}; expected one of {', '.join(SCHEDULES)}")


class ScheduleFactor:
    """lr_at(...) / lr as a function of the iteration count, for torch's LambdaLR (a plain object, so LambdaLR
    saves its fields in the scheduler's state_dict)."""

    def __init__(self, iterations_per_epoch: int, lr: float, schedule: str, epochs: int, step: int = 30,
                 gamma: float = 0.1, lr_end: float = 0.0, milestones=(), warmup: float = 0.0):
        lr_at(0.0, lr=lr, schedule=schedule, epochs=epochs, step=step, gamma=gamma, lr_end=lr_end)  # validate
        self.iterations_per_epoch = iterations_per_epoch
        self.lr, self.schedule, self.epochs, self.step, self.gamma, self.lr_end = (
            lr, schedule, epochs, step, gamma, lr_end)
        self.milestones, self.warmup = list(milestones), warmup

    def __call__(self, iteration: int) -> float:
        epoch = iteration / self.iterations_per_epoch
        return lr_at(epoch, lr=self.lr, schedule=self.schedule, epochs=self.epochs, step=self.step,
                     gamma=self.gamma, lr_end=self.lr_end, milestones=self.milestones,
                     warmup=self.warmup) / self.lr if self.lr else 0.0


def make_scheduler(optimizer: torch.optim.Optimizer, iterations_per_epoch: int, *, lr: float, schedule: str,
                   epochs: int, step: int = 30, gamma: float = 0.1, lr_end: float = 0.0, milestones=(),
                   warmup: float = 0.0, done_iterations: int = 0):
    """A LambdaLR stepped once per iteration (call `scheduler.step()` after `optimizer.step()`).

    done_iterations > 0 (resuming): the rates continue from that iteration; the optimizer's param groups must then
    hold "initial_lr" (the base rate), as after loading an optimizer state_dict saved with a scheduler.
    """
    factor = ScheduleFactor(iterations_per_epoch, lr, schedule, epochs, step, gamma, lr_end, milestones, warmup)
    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor, last_epoch=done_iterations - 1)
