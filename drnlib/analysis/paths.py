"""The unravelled view of residual networks (Veit et al. 2016; WoD Section 3 and Appendix A.2).

A net of n residual units is an ensemble of 2^n paths; a path through k residual branches has length k.
- `path_length_distribution(n)`: how many paths have each length (binomial).
- `gradient_by_path_length(...)`: WoD's experiment -- for k = 0..n, sample k units, let the backward pass through
  only their branches (and only through the shortcuts of the others), and record the gradient norm at the input
  divided by the batch size (WoD's change to Veit et al.). Forward values are unchanged (`Residual.gradient_path`).
- `lesion_study(...)`: the error when one unit's branch is deleted (`Residual.lesioned`).
- `path_statistics(...)`: per path length, the mean gradient, the number of paths and their product -- Veit et al.'s
  "total gradient magnitude", which shows which path lengths the gradient actually comes from.
- `batch_means`, `total_shares`, `carrying_length`, `share_longer_than`, `decay_per_unit`: the curve per batch of
  images (the units of its uncertainty), where the total gradient comes from, the effective depth, the decay rate.
- `unit_table`, `load_batches`, `wrong_predictions`, `top1_error`: what the book's pages need around these (which
  units project, fixed images, the per-image errors of a lesioned net).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from tqdm.auto import tqdm

from ..models.blocks import Residual


def residual_units(model: nn.Module) -> list[Residual]:
    """The units whose branch is added to a shortcut (DRN-C's non-residual levels 7-8 are not units)."""
    return [m for m in model.modules() if isinstance(m, Residual) and getattr(m, "residual", True)]


def unit_table(model: nn.Module) -> pd.DataFrame:
    """One row per residual unit, in forward order (unit 1 first): its module name, output channels and whether its
    shortcut is a projection (a 1x1 conv: the first unit of a level, where width or resolution changes -- the
    downsampling units of the CIFAR ResNets)."""
    rows = []
    units = set(map(id, residual_units(model)))
    for name, module in model.named_modules():
        if id(module) not in units:
            continue
        projection = getattr(module, "downsample", None) is not None or getattr(module, "shortcut", None) is not None
        convs = [m for m in module.modules() if isinstance(m, nn.Conv2d)]
        rows.append({"unit": len(rows) + 1, "module": name, "channels": convs[-1].out_channels if convs else None,
                     "projection": projection})
    return pd.DataFrame(rows).set_index("unit")


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
def lesion_study(model: nn.Module, evaluate: Callable[[nn.Module], object], progress: bool = True) -> list:
    """`evaluate(model)` (e.g. `top1_error` or `wrong_predictions` on fixed batches) with each residual unit's branch
    deleted in turn: one result per unit, in forward order."""
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


def path_statistics(gradients: dict[int, list[float]], n: int) -> pd.DataFrame:
    """Per measured path length k (rows): the gradient magnitude's mean and standard deviation over the samples, the
    number of paths C(n, k) and its share of all 2^n, and their product `total` = mean x C(n, k) (Veit et al. Fig. 6c:
    how much gradient all paths of length k deliver together) with its share over the measured k."""
    rows = []
    for k in sorted(gradients):
        values = np.asarray(gradients[k], dtype=float)
        paths = math.comb(n, k)
        rows.append({"k": k, "paths": float(paths), "paths_share": paths / 2.0 ** n, "mean": values.mean(),
                     "std": values.std(), "samples": len(values), "total": values.mean() * paths})
    frame = pd.DataFrame(rows).set_index("k")
    frame["total_share"] = frame["total"] / frame["total"].sum()
    return frame


def batch_means(gradients: dict[int, list[float]], batches: int) -> pd.DataFrame:
    """`gradient_by_path_length`'s values per batch: one row per batch (in order), one column per path length k,
    each the mean of that batch's `samples_per_k` draws (the function records batch by batch). Each row is one
    independent measurement of the whole curve: the unit over which the pages bootstrap its uncertainty."""
    columns = {}
    for k, values in sorted(gradients.items()):
        values = np.asarray(values, dtype=float)
        if len(values) % batches:
            raise ValueError(f"{len(values)} values at k={k} do not split into {batches} batches")
        columns[k] = values.reshape(batches, -1).mean(axis=1)
    return pd.DataFrame(columns).rename_axis(index="batch", columns="k")


def total_shares(means: pd.Series, n: int) -> np.ndarray:
    """The share of the total gradient that all paths of each length k = 0..n deliver together (Veit et al.'s
    "total gradient magnitude", Fig. 6c, normalised): the mean gradient of one path of length k (`means`, indexed
    by the measured k; log-linearly interpolated between them) times the number of such paths C(n, k).
    Returns n + 1 shares that sum to 1. Computed in logs: C(54, 27) x a tiny gradient stays finite."""
    from scipy.special import gammaln

    measured = means[means > 0]
    if len(measured) < 1:
        raise ValueError("need a positive mean gradient at one path length or more")
    k = np.arange(n + 1, dtype=float)
    log_mean = np.interp(k, measured.index.to_numpy(dtype=float), np.log(measured.to_numpy(dtype=float)))
    log_total = log_mean + gammaln(n + 1) - gammaln(k + 1) - gammaln(n - k + 1)
    total = np.exp(log_total - log_total.max())
    return total / total.sum()


def carrying_length(means: pd.Series, n: int, mass: float = 0.9) -> int:
    """The shortest path length L such that the paths of length <= L deliver `mass` of the total gradient
    (`total_shares`): the effective depth of Veit et al. / WoD Sec. 3.3 ("most of the gradient runs through at
    most 17 of 54 units" reads L(0.9) <= 17). Raises ValueError unless 0 < mass < 1."""
    if not 0 < mass < 1:
        raise ValueError(f"mass must be in (0, 1), got {mass}")
    cumulative = np.cumsum(total_shares(means, n))
    return int(np.argmax(cumulative >= mass - 1e-12))


def share_longer_than(means: pd.Series, n: int, length: float) -> float:
    """The share of the total gradient (`total_shares`) delivered by the paths longer than `length` units."""
    return float(total_shares(means, n)[np.arange(n + 1) > length].sum())


def decay_per_unit(stats: pd.DataFrame | pd.Series) -> float:
    """Least-squares slope of log10(mean gradient) against k: the orders of magnitude the gradient loses per extra
    residual branch on its path (0: every path length gets the same gradient). `stats`: `path_statistics`' frame,
    or one row of `batch_means` (the means by k)."""
    if isinstance(stats, pd.Series):
        stats = stats.to_frame("mean")
    kept = stats[stats["mean"] > 0]
    if len(kept) < 2:
        raise ValueError("need the mean gradient at two path lengths or more")
    return float(np.polyfit(kept.index.to_numpy(dtype=float), np.log10(kept["mean"].to_numpy()), 1)[0])


def load_batches(dataset: str, split: str, count: int, batch_size: int, device: str | torch.device = "cpu",
                 root: str | None = None, transform: Callable | None = None) -> list[tuple[Tensor, Tensor]]:
    """`count` images of a classification data set with its evaluation transform (no augmentation; `transform`
    replaces it, e.g. a run's own evaluation crop), as (images, labels) batches on `device`. The first `count` in the
    data set's deterministic round-robin order over the classes, so a few images cover every class (a missing data
    set is drnlib.data's one-line DataError)."""
    from ..data import build_dataset, default_transform
    from ..errors import DataError

    transform = transform or default_transform(dataset, "val", "classify")
    data = build_dataset(dataset, split, "classify", root=root, transform=transform, limit=count)
    if len(data) < count:
        raise DataError(f"{dataset} {split} has {len(data)} images, fewer than the {count} asked for")
    samples = [data[i] for i in range(count)]
    images = torch.stack([torch.as_tensor(image) for image, _ in samples])
    labels = torch.tensor([int(label) for _, label in samples])
    return [(images[i:i + batch_size].to(device), labels[i:i + batch_size].to(device))
            for i in range(0, count, batch_size)]


def wrong_predictions(batches: list[tuple[Tensor, Tensor]]) -> Callable[[nn.Module], np.ndarray]:
    """An `evaluate` for `lesion_study`: per image, in batch order, 1.0 where the top-1 prediction is wrong, else
    0.0 (the per-image record a paired comparison of two networks on the same images needs)."""

    @torch.no_grad()
    def evaluate(model: nn.Module) -> np.ndarray:
        return np.concatenate([(model(images).argmax(1) != labels).float().cpu().numpy()
                               for images, labels in batches])

    return evaluate


def top1_error(batches: list[tuple[Tensor, Tensor]]) -> Callable[[nn.Module], float]:
    """An `evaluate` for `lesion_study`: the top-1 error (%) of a model on fixed batches (see `load_batches`)."""
    wrong = wrong_predictions(batches)

    def evaluate(model: nn.Module) -> float:
        return 100.0 * float(wrong(model).mean())

    return evaluate
