"""The unravelled view of residual networks (Veit et al. 2016; WoD Section 3 and Appendix A.2).

A net of n residual units is an ensemble of 2^n paths; a path through k residual branches has length k.
- `path_length_distribution(n)`: how many paths have each length (binomial).
- `gradient_by_path_length(...)`: WoD's experiment -- for k = 0..n, sample k units, let the backward pass through
  only their branches (and only through the shortcuts of the others), and record the gradient norm at the input
  divided by the batch size (WoD's change to Veit et al.). Forward values are unchanged (`Residual.gradient_path`).
- `lesion_study(...)`: the error when one unit's branch is deleted (`Residual.lesioned`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from tqdm.auto import tqdm

from ..models.blocks import Residual


def residual_units(model: nn.Module) -> list[Residual]:
    """The units whose branch is added to a shortcut (DRN-C's non-residual levels 7-8 are not units)."""
    return [m for m in model.modules() if isinstance(m, Residual) and getattr(m, "residual", True)]


def path_length_distribution(n: int) -> list[int]:
    """Number of paths of each length k = 0..n through n residual units: C(n, k)."""
    return [math.comb(n, k) for k in range(n + 1)]


@torch.no_grad()
def _reset(units: Iterable[Residual]) -> None:
    for unit in units:
        unit.gradient_path, unit.lesioned = None, False


def gradient_by_path_length(model: nn.Module, batches: Iterable[tuple[Tensor, Tensor]], ks: Iterable[int],
                            samples_per_k: int = 4, seed: int = 0,
                            loss_fn: Callable[[Tensor, Tensor], Tensor] = F.cross_entropy,
                            progress: bool = True) -> dict[int, list[float]]:
    """Gradient norm at the input per example, for paths through k residual branches.

    The model is put in eval mode (inference BatchNorm, as in WoD A.2). For each batch and each k, `samples_per_k`
    random sets of k units are drawn; the returned dict maps k to all measured values (mean them for the curve).
    The input is the image: projection units route the "shortcut" gradient through their 1x1 projection
    (neither paper says how projection units were treated; see architectures.md B.8).
    """
    units = residual_units(model)
    generator = torch.Generator().manual_seed(seed)
    model.eval()
    ks = list(ks)
    results: dict[int, list[float]] = {k: [] for k in ks}
    batches = list(batches)
    try:
        for images, targets in tqdm(batches, desc="gradient paths", disable=not progress):
            for k in ks:
                for _ in range(samples_per_k):
                    chosen = set(torch.randperm(len(units), generator=generator)[:k].tolist())
                    for i, unit in enumerate(units):
                        unit.gradient_path = "branch" if i in chosen else "shortcut"
                    x = images.clone().requires_grad_(True)
                    loss = loss_fn(model(x), targets)
                    grad, = torch.autograd.grad(loss * len(images), x)  # per-example losses summed
                    results[k].append(grad.norm().item() / len(images))
    finally:
        _reset(units)
    return results


@torch.no_grad()
def lesion_study(model: nn.Module, evaluate: Callable[[nn.Module], float], progress: bool = True) -> list[float]:
    """`evaluate(model)` (e.g. top-1 error on a validation set) with each residual unit's branch deleted in turn."""
    units = residual_units(model)
    model.eval()
    scores = []
    try:
        for unit in tqdm(units, desc="lesion", disable=not progress):
            unit.lesioned = True
            scores.append(evaluate(model))
            unit.lesioned = False
    finally:
        _reset(units)
    return scores
