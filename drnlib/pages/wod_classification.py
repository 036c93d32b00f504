"""What the Wider-or-Deeper classification pages share: the CIFAR-10 recipe of the path pages and Table 1's rows.

    recipe = CifarRecipe.from_params(params)       # book/wod_fig1.py and book/wod_figA4.py
    run = recipe.run("resnet_cifar_110", profile)  # the same run for both pages, trained once
    rows = table1_rows(input_scale=0.25)           # book/wod_table1.py: the paper's rows, crops, ours

The two path pages train the same CIFAR ResNets; their runs are shared because both build their RunConfig here from
the same named settings (tests/test_pages_wod_classification.py checks that the params files agree).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import pandas as pd

from drnlib.book import parse_numbers
from drnlib.experiments import Run, trained
from drnlib.results import published
from drnlib.train import RunConfig


@dataclass(frozen=True)
class CifarRecipe:
    """He et al.'s CIFAR-10 recipe as the path pages parameterise it: SGD with momentum 0.9, the rate divided by 10
    at each of `milestones` (epochs), an optional linear warm-up, 4-pixel padding + random 32x32 crop + flip (the
    data layer's CIFAR recipe). `limit_train` / `limit_val` of 0 mean the whole split."""

    epochs: int
    batch_size: int
    lr: float
    milestones: tuple
    warmup_epochs: float
    weight_decay: float
    limit_train: int
    limit_val: int
    seed: int

    @classmethod
    def from_params(cls, params: dict) -> "CifarRecipe":
        """The recipe from a page's parameters (extra names, such as `profile` or `archs`, are ignored;
        `milestones` is the pages' comma-separated string)."""
        values = {f.name: params[f.name] for f in dataclasses.fields(cls)}
        values["milestones"] = parse_numbers("milestones", values["milestones"], int)
        return cls(**values)

    def config(self, arch: str, workers: int = 0, device: str = "auto") -> RunConfig:
        return RunConfig(arch=arch, dataset="cifar10", task="classify", crop_size=32, epochs=self.epochs,
                         batch_size=self.batch_size, lr=self.lr, schedule="multistep",
                         milestones=self.milestones, warmup_epochs=self.warmup_epochs,
                         weight_decay=self.weight_decay, limit_train=self.limit_train or None,
                         limit_val=self.limit_val or None, seed=self.seed, workers=workers, device=device,
                         progress=False)

    def run(self, arch: str, profile: str, workers: int = 0, device: str = "auto") -> Run:
        """The trained run (found, resumed or trained: `drnlib.experiments.trained`)."""
        return trained(self.config(arch, workers, device), profile)


def table1_rows(input_scale: float = 1.0) -> pd.DataFrame:
    """The rows of WoD's Table 1 that we build, in the paper's order (ResNet-50/101/152, Models F, E, D, C, the
    unnamed 224-0-1-1-1-1-1-1, B, A), indexed by the paper's label, with each net's `arch` (a drnlib.models name),
    the paper's training and test crops (224 -> 320, 112 -> 160, 56 -> 80; ResNets 224 -> 320) and ours: the
    paper's times `input_scale`, rounded. The crops come from drnlib/published.yaml (wider_or_deeper.models)."""
    wod = published("wider_or_deeper", "models")
    test_crop_for = {int(spec.split("-")[0]): int(crop) for spec, crop in zip(wod["spec"], wod["test_crop"])}
    rows = [{"model": f"ResNet-{depth}", "arch": f"resnet{depth}", "paper train crop": 224}
            for depth in (50, 101, 152)]
    rows += [{"model": wod.loc[key, "spec"] if key == "unnamed_16" else key, "arch": wod.loc[key, "spec"],
              "paper train crop": int(wod.loc[key, "spec"].split("-")[0])}
             for key in ("F", "E", "D", "C", "unnamed_16", "B", "A")]
    frame = pd.DataFrame(rows).set_index("model")
    frame["paper test crop"] = frame["paper train crop"].map(test_crop_for)
    frame["our train crop"] = (frame["paper train crop"] * input_scale).round().astype(int)
    frame["our test crop"] = (frame["paper test crop"] * input_scale).round().astype(int)
    return frame


def table1_config(arch: str, dataset: str, crop_size: int, *, epochs: int, batch_size: int, lr: float,
                  lr_end: float, weight_decay: float, limit_train: int = 0, limit_val: int = 0, seed: int = 0,
                  workers: int = 0, device: str = "auto") -> RunConfig:
    """WoD's ImageNet recipe (architectures.md B.6) for one row: SGD momentum 0.9, weight decay, learning rate
    decayed linearly from `lr` to `lr_end` over all epochs, the data set's classification augmentation."""
    return RunConfig(arch=arch, dataset=dataset, task="classify", crop_size=crop_size, epochs=epochs,
                     batch_size=batch_size, lr=lr, schedule="linear", lr_end=lr_end, weight_decay=weight_decay,
                     limit_train=limit_train or None, limit_val=limit_val or None, seed=seed, workers=workers,
                     device=device, progress=False)


__all__ = ["CifarRecipe", "table1_rows", "table1_config"]
