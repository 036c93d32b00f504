"""RunConfig: every knob of a training or evaluation run, in one dataclass shared by notebooks and the CLI.

Notebooks build one with keyword arguments (`RunConfig(arch="drn_c_26", dataset="camvid", ...)`) or from a dict
(`RunConfig.from_dict(params)`); the CLI parses its options into the same class. Unknown keys and impossible values
raise drnlib.errors.ParameterError.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import numbers
import os
from dataclasses import dataclass, field

import numpy as np

from drnlib.errors import ParameterError
from drnlib.train.schedules import SCHEDULES

TASKS = ("classify", "segment", "localize")
DATA_PATHS = ("auto", "resident", "loader")

# Fields that define what a checkpoint is: resuming or evaluating with other values is refused.
IDENTITY_FIELDS = ("arch", "dataset")
# Fields that may differ between the run that wrote a checkpoint and the one resuming it without being recorded.
VOLATILE_FIELDS = ("out_dir", "resume", "overwrite", "workers", "device", "progress", "log_interval", "limit_val",
                   "eval_batch_size", "ten_crop", "loc_threshold", "scales", "flip", "checkpoint", "split",
                   "data_root", "compile", "eval_size", "recipe")


def knob(default, help: str, scope: str = "both"):
    """A config field with its help text (shown by `python -m drnlib train --help`); scope says which CLI
    commands offer it: "train", "evaluate" or "both"."""
    return field(default=default, metadata={"help": help, "scope": scope})


def knob_dict(help: str, scope: str = "both"):
    """A dict-valued config field (empty by default)."""
    return field(default_factory=dict, metadata={"help": help, "scope": scope})


@dataclass
class RunConfig:
    # What to train / evaluate
    arch: str | None = knob(None, "architecture, a drnlib.models name: drn_c_26, drn_d_22, resnet18, model_a, "
                                  "'224-0-3-3-6-3-1-1', ... (evaluate: default from the checkpoint)")
    dataset: str | None = knob(None, "data set, a drnlib.data name: camvid, tiny_imagenet, cifar10, cityscapes, "
                                     "imagenet, voc_aug, ade20k, pascal_context (evaluate: default from the "
                                     "checkpoint)")
    data_root: str | None = knob(None, "folder holding the data set (default: the data layer's lookup: shared "
                                       "archive, cache)")
    task: str = knob("classify", "classify | segment (train); classify | segment | localize (evaluate)")
    recipe: str | None = knob(None, "the named recipe this run was built from (params/<profile>/recipes.yaml; "
                                    "with --profile, the recipe's settings are the defaults). Not part of the "
                                    "run's identity: equal settings are the same run")
    # The network (drnlib.models.build_model's options)
    head: str | None = knob(None, "segmentation head: linear (DRN: 1x1 conv), 1conv / 2conv (WoD: 3x3 convs with "
                                  "dilation 12); default: the network family's (DRN linear, WoD 1conv)")
    output_stride: int | None = knob(None, "dilate the top levels so the final map is 1/output_stride of the "
                                           "input (8 turns ResNet-x into DRN-A-x); default: the network's own "
                                           "(WoD segmentation nets: 8)")
    dropout: bool = knob(True, "WoD segmentation nets: dropout 0.3 in B6 and 0.5 in B7 (WoD Sec. 5)")
    init_run: str | None = knob(None, "initialise the trunk from the finished run in this folder, a sibling of "
                                      "out_dir (WoD: the classifier a segmentation net is tuned from; a recipe's "
                                      "`init` names it, and --profile resolves it)", "train")
    # Optimisation (DRN: SGD, momentum 0.9, weight decay 1e-4)
    epochs: int = knob(1, "number of training epochs", "train")
    batch_size: int = knob(16, "global batch size (divided among the processes of a torchrun run)")
    lr: float = knob(0.1, "initial learning rate (DRN: 0.1 ImageNet, 0.01 Cityscapes)", "train")
    momentum: float = knob(0.9, "SGD momentum", "train")
    weight_decay: float = knob(1e-4, "SGD weight decay (on every parameter, as DRN's code)", "train")
    schedule: str = knob("step", "learning-rate schedule: step (lr*0.1^(epoch//step)), multistep (x0.1 at each "
                                 "of --milestones), poly (lr*(1-epoch/epochs)^0.9), linear (lr -> lr_end), "
                                 "constant", "train")
    step: int = knob(30, "epochs between the x0.1 steps of the step schedule", "train")
    milestones: tuple = knob((), "epochs at which the multistep schedule multiplies the rate by 0.1 (He et al. "
                                 "CIFAR: 82 123)", "train")
    warmup_epochs: float = knob(0.0, "linear warm-up of the rate from 0 over this many epochs (0: none)", "train")
    lr_end: float = knob(0.0, "final learning rate of the linear schedule (WoD: 1e-6)", "train")
    # Data and augmentation
    crop_size: int = knob(224, "input size: training crop (classification: random-resized crop; segmentation: "
                               "random crop), evaluation centre crop, localization input (whole image resized)")
    resize_size: int | None = knob(None, "classification evaluation: shorter side before the centre crop "
                                         "(default crop_size*256/224, DRN's 256 for 224)")
    scale: float = knob(0.0, "segmentation random scale s: ratio uniform in [1/s, s] (0: off; DRN-D-105: 2)",
                        "train")
    rotate: float = knob(0.0, "segmentation random rotation, degrees uniform in [-r, r] (0: off; DRN-D-105: 10)",
                         "train")
    workers: int = knob(4, "DataLoader worker processes")
    limit_train: int | None = knob(None, "use only this many training images (smoke runs; classification: "
                                         "round-robin over the classes, segmentation: the first ones)")
    limit_val: int | None = knob(None, "use only this many evaluation images (same selection rule)")
    holdout: int = knob(0, "training images kept out of training, to choose the localization threshold on",
                        "train")
    data_options: dict = knob_dict("options of a generated data set (synthetic scenes: image_size, num_classes, "
                                   "clutter, object_scale, thinness, num_samples), as KEY=VALUE")
    data_path: str = knob("auto", "where training batches are made: resident (the split decoded once into uint8 "
                                  "tensors on the training device, cached on disk, augmented there per sample; "
                                  "drnlib.data.resident), loader (DataLoader workers decode and augment every "
                                  "epoch) or auto (resident for tiny_imagenet, cifar10, camvid, synthetic when "
                                  "they fit in memory, else loader). Same recipe, other random streams: part of "
                                  "the run's settings", "train")
    # Hardware and speed
    device: str = knob("auto", "auto | cpu | cuda | cuda:N (torchrun: each process takes cuda:LOCAL_RANK)")
    amp: bool = knob(True, "bf16 autocast on CUDA (ignored on the CPU)")
    channels_last: bool = knob(True, "channels_last memory format on CUDA (ignored on the CPU)")
    compile: bool = knob(False, "torch.compile the model for training", "train")
    freeze_bn: bool = knob(False, "freeze BatchNorm statistics (WoD fine-tuning: BN layers in eval mode, their "
                                  "affine weights still trained)", "train")
    sync_bn: bool = knob(True, "SyncBatchNorm across the GPUs of a torchrun run (CUDA only)", "train")
    ohem: bool = knob(False, "segmentation loss: WoD's online hard example mining (true-class probability "
                             "<= 0.6, at least 256 pixels)", "train")
    deterministic: bool = knob(False, "deterministic algorithms, no cuDNN autotuning (bit-exact resume on the "
                                      "CPU)")
    # Run directory, checkpoints
    out_dir: str = knob("runs/run", "run directory: config.json, checkpoint.pt, metrics.csv, metrics.json, "
                                    "result.json")
    resume: bool = knob(False, "continue the run in out_dir from its checkpoint.pt (weights, optimizer, "
                               "schedule, RNG states)", "train")
    overwrite: bool = knob(False, "start afresh even though out_dir holds a checkpoint", "train")
    init_from: str | None = knob(None, "initialise the trunk from this checkpoint or state_dict (e.g. an ImageNet "
                                       "run for segmentation; the head is not loaded)", "train")
    seed: int = knob(0, "random seed (weights, data order, augmentation)")
    val_every: int = knob(1, "evaluate every N epochs during training (0: only after the last)", "train")
    log_interval: int = knob(20, "iterations between loss checks and progress updates (one device sync each)",
                             "train")
    progress: bool = knob(True, "tqdm progress bars")
    # Evaluation protocol
    split: str = knob("val", "evaluation split")
    eval_batch_size: int | None = knob(None, "evaluation batch size (default: batch_size for classification, "
                                             "1 for segmentation, whose images are evaluated whole)")
    ten_crop: bool = knob(False, "classification: 10-crop testing (softmax averaged over the centre, 4 corner "
                                 "crops and their mirror images)")
    loc_threshold: float | None = knob(None, "localization threshold t on the dense softmax (default: swept on the "
                                             "run's held-out training images)", "evaluate")
    scales: tuple = knob((1.0,), "segmentation multi-scale testing: scales whose softmax maps are averaged, e.g. "
                                 "0.5 0.75 1 1.25 1.5 1.75")
    flip: bool = knob(False, "segmentation testing: also average the mirrored image")
    eval_size: int | None = knob(None, "segmentation evaluation: images resized to this shorter side first "
                                       "(default: as they are)")
    checkpoint: str | None = knob(None, "checkpoint to evaluate (default: out_dir/checkpoint.pt)", "evaluate")

    def __post_init__(self):
        for f in dataclasses.fields(self):
            setattr(self, f.name, _typed(f.name, getattr(self, f.name), f.type))
        self.validate()

    def validate(self) -> "RunConfig":
        def need(ok, message):
            if not ok:
                raise ParameterError(message)
        need(self.task in TASKS, f"unknown task {self.task!r}; expected one of {', '.join(TASKS)}")
        need(self.schedule in SCHEDULES, f"unknown lr schedule {self.schedule!r}; "
                                         f"expected one of {', '.join(SCHEDULES)}")
        need(self.epochs >= 1, f"epochs must be >= 1, got {self.epochs}")
        need(self.batch_size >= 1, f"batch_size must be >= 1, got {self.batch_size}")
        need(self.lr >= 0, f"lr must be >= 0, got {self.lr}")
        need(0 <= self.momentum < 1, f"momentum must be in [0, 1), got {self.momentum}")
        need(self.weight_decay >= 0, f"weight_decay must be >= 0, got {self.weight_decay}")
        need(self.step >= 1, f"step must be >= 1, got {self.step}")
        need(list(self.milestones) == sorted(self.milestones) and all(m > 0 for m in self.milestones),
             f"milestones must be increasing positive epochs, got {list(self.milestones)}")
        need(self.schedule != "multistep" or self.milestones, "the multistep schedule needs --milestones")
        need(self.warmup_epochs >= 0, f"warmup_epochs must be >= 0, got {self.warmup_epochs}")
        need(self.crop_size >= 8, f"crop_size must be >= 8, got {self.crop_size}")
        need(self.scale == 0 or self.scale >= 1, f"scale must be 0 (off) or >= 1, got {self.scale}")
        need(self.rotate >= 0, f"rotate must be >= 0, got {self.rotate}")
        need(self.workers >= 0, f"workers must be >= 0, got {self.workers}")
        need(self.holdout >= 0, f"holdout must be >= 0, got {self.holdout}")
        need(self.data_path in DATA_PATHS, f"unknown data_path {self.data_path!r}; expected one of "
                                           f"{', '.join(DATA_PATHS)}")
        for name in ("limit_train", "limit_val", "eval_batch_size", "resize_size"):
            value = getattr(self, name)
            need(value is None or value >= 1, f"{name} must be >= 1, got {value}")
        need(self.val_every >= 0, f"val_every must be >= 0, got {self.val_every}")
        need(self.log_interval >= 1, f"log_interval must be >= 1, got {self.log_interval}")
        need(self.loc_threshold is None or 0 <= self.loc_threshold < 1,
             f"loc_threshold must be in [0, 1), got {self.loc_threshold}")
        need(len(self.scales) >= 1 and all(s > 0 for s in self.scales), f"scales must be > 0, got {self.scales}")
        need(not (self.resume and self.overwrite), "resume and overwrite exclude each other")
        need(self.head in (None, "linear", "1conv", "2conv"),
             f"unknown segmentation head {self.head!r}; expected linear, 1conv or 2conv")
        need(self.output_stride in (None, 8, 16, 32), f"output_stride must be 8, 16 or 32, got {self.output_stride}")
        need(self.eval_size is None or self.eval_size >= 8, f"eval_size must be >= 8, got {self.eval_size}")
        need(isinstance(self.data_options, dict), f"data_options must be a dict, got {self.data_options!r}")
        need(not (self.init_run and self.init_from), "init_run and init_from exclude each other")
        need(self.init_run is None or ("/" not in self.init_run and not self.init_run.startswith(".")),
             f"init_run names a run folder next to out_dir, got {self.init_run!r}")
        return self

    @classmethod
    def from_dict(cls, values: dict) -> "RunConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = [k for k in values if k not in known]
        if unknown:
            hints = [f"{k} (did you mean {', '.join(difflib.get_close_matches(k, known, 2)) or '?'})"
                     for k in unknown]
            raise ParameterError(f"unknown run parameter(s): {'; '.join(hints)}")
        return cls(**values)

    def to_dict(self) -> dict:
        out = dataclasses.asdict(self)
        out["scales"] = list(self.scales)
        out["milestones"] = list(self.milestones)
        out["data_options"] = dict(sorted(self.data_options.items()))
        return out

    def model_options(self) -> dict:
        """The keyword arguments of drnlib.models.build_model this run's network is built with."""
        return {"head": self.head, "output_stride": self.output_stride, "dropout": self.dropout}

    def replace(self, **changes) -> "RunConfig":
        return self.from_dict({**self.to_dict(), **changes})

    @property
    def eval_resize(self) -> int:
        return self.resize_size or round(self.crop_size * 256 / 224)


def _typed(name: str, value, declared: str):
    """`value` as the field's declared type ("int", "float | None", "tuple", ...), or ParameterError naming the
    field, the value and the type: a recipe's `epochs: "ten"` or `lr: .inf` stops before anything runs. Whole
    floats are ints (YAML's 2.0), numeric strings are floats (YAML 1.1 reads 1e-3 as a string); floats are finite."""
    kind = declared.split(" | ")[0]
    if value is None and "None" in declared:
        return None

    def refuse(expected: str):
        raise ParameterError(f"{name} must be {expected}, got {value!r}")

    def number(item, expected: str) -> float:
        if isinstance(item, str):
            try:
                item = float(item)
            except ValueError:
                refuse(expected)
        if isinstance(item, (bool, np.bool_)) or not isinstance(item, numbers.Real) or not math.isfinite(item):
            refuse(expected)
        return float(item)

    if kind == "bool":
        return bool(value) if isinstance(value, (bool, np.bool_)) else refuse("true or false")
    if kind == "int":  # numpy integers too (a notebook's `for seed in np.arange(3)`)
        if isinstance(value, numbers.Real) and not isinstance(value, numbers.Integral) and float(value).is_integer():
            value = int(value)
        return int(value) if isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_)) \
            else refuse("a whole number")
    if kind == "float":
        return number(value, "a finite number")
    if kind == "str":  # paths too (out_dir=Path(...))
        return os.fspath(value) if isinstance(value, (str, os.PathLike)) else refuse("a string")
    if kind == "tuple":
        items = value if isinstance(value, (list, tuple)) else [value]
        return tuple(number(item, "a list of finite numbers") for item in items)
    if kind == "dict":
        return value if isinstance(value, dict) and all(isinstance(k, str) for k in value) else \
            refuse("a mapping of names to values")
    return value


def config_changes(old: dict, new: dict) -> dict:
    """{field: [old, new]} for the fields that changed and matter for the trained result."""
    return {k: [old.get(k), v] for k, v in new.items()
            if k not in VOLATILE_FIELDS and k != "epochs" and old.get(k) != v}


__all__ = ["RunConfig", "TASKS", "IDENTITY_FIELDS", "config_changes"]
