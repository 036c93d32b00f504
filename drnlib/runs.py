"""The book's trained runs: each a recipe, an architecture and (rarely) options, found, resumed or trained once per
profile, and evaluated through one cache.

    spec = RunSpec("drn_classifier", "drn_c_26")             # or RunSpec("wod_segmentation", "model_a", head="2conv")
    run = get("mini", spec)                    # found in runs/mini/, resumed, or trained here (paper: the command)
    run.result["val"]["top1_error"]            # the run's final evaluation (drnlib.train.fit's result)
    run.model(task="dense")                    # the trained weights, as any task of the same network
    evaluate(run, task="localize", ten_crop=True)     # another protocol, computed once and cached
    evaluate([run_a, run_c], split="test", scales=[0.75, 1, 1.25])   # model averaging (softmax), cached too
    state("mini", spec)                        # "done" | "partial" | "missing"
    command("paper", spec)                     # the torchrun command that trains it

A run lives in <root>/runs/<profile>/<arch>-<dataset>-<task>-<key>/, where `key` hashes every setting that changes
the trained weights (drnlib.recipes resolves the recipe; the recipe's name itself is not in the key, so two recipes
with the same settings share their runs). A run that starts from another (`init` in its recipe) names that run's
folder in its settings, so retraining the trunk gives the tuned run a new key too.
At the `paper` profile nothing is trained in-process: `get` stops with the torchrun commands that train the missing
runs, trunks first. With $DRNLIB_NO_TRAIN=1 nothing is trained at any profile (a page that would train stops).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import shlex
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import torch
from torch import nn

from drnlib import recipes
from drnlib.errors import DataError, ParameterError
from drnlib.files import read_json_object
from drnlib.provenance import check_profile, repo_root
from drnlib.train import RunConfig, evaluate_run, fit
from drnlib.train.checkpoint import atomic_write_json, load_checkpoint
from drnlib.train.config import VOLATILE_FIELDS
from drnlib.train.engine import CHECKPOINT

NO_TRAIN_ENV = "DRNLIB_NO_TRAIN"
# Settings that do not change what is trained (where it is written, how fast, how it is shown, its name).
NOT_IN_KEY = set(VOLATILE_FIELDS) | {"out_dir", "resume", "overwrite", "val_every", "amp", "channels_last",
                                     "recipe"}
# The settings of an evaluation (beyond the trained weights) that change its scores.
EVAL_FIELDS = ("task", "split", "limit_val", "scales", "flip", "ten_crop", "loc_threshold", "eval_size", "crop_size",
               "resize_size")


@dataclass(frozen=True)
class RunSpec:
    """A run of the book: a recipe of params/<profile>/recipes.yaml, an architecture, and RunConfig options that
    differ from the recipe for this run only (e.g. head="2conv")."""

    recipe: str
    arch: str
    options: tuple = field(default=())

    def __init__(self, recipe: str, arch: str, options: dict | tuple = (), **more):
        from drnlib.models import normalize_name

        merged = {**dict(options), **more}
        object.__setattr__(self, "recipe", recipe)
        object.__setattr__(self, "arch", normalize_name(arch))
        object.__setattr__(self, "options", tuple(sorted((k, _frozen(v)) for k, v in merged.items())))

    @property
    def label(self) -> str:
        """'drn_classifier:drn_c_26' or 'wod_segmentation:model_a[head=2conv]'."""
        extra = ",".join(f"{k}={v}" for k, v in self.options)
        return f"{self.recipe}:{self.arch}" + (f"[{extra}]" if extra else "")

    def option_dict(self) -> dict:
        return {k: (dict(v) if isinstance(v, tuple) and v and isinstance(v[0], tuple) else v)
                for k, v in self.options}


def _frozen(value):
    if isinstance(value, dict):
        return tuple(sorted(value.items()))
    if isinstance(value, list):
        return tuple(value)
    return value


def settings_key(settings: dict, ignore=NOT_IN_KEY) -> str:
    """8 hex digits that identify a run's trained weights (or, with other `ignore`, an evaluation)."""
    kept = {k: v for k, v in sorted(settings.items()) if k not in ignore}
    return hashlib.sha256(json.dumps(kept, sort_keys=True, default=str).encode()).hexdigest()[:8]


def folder_name(config: RunConfig) -> str:
    return f"{config.arch}-{config.dataset}-{config.task}-{settings_key(config.to_dict())}"


def runs_root(profile: str, root: Path | None = None) -> Path:
    return Path(root or repo_root()) / "runs" / check_profile(profile)


def config(profile: str, spec: RunSpec, root: Path | None = None) -> RunConfig:
    """The run's full RunConfig: the recipe at this profile, the spec's options, its trunk's folder (`init_run`)
    and its folder under runs/<profile>/ (`out_dir`)."""
    cfg = recipes.config(profile, spec.recipe, spec.arch, root, **spec.option_dict())
    init = recipes.init_of(profile, spec.recipe, spec.arch, root)
    if init is not None:
        cfg = cfg.replace(init_run=folder_name(config(profile, RunSpec(*init), root)))
    return cfg.replace(out_dir=str(runs_root(profile, root) / folder_name(cfg)), resume=False, overwrite=False)


def trunk(spec: RunSpec, profile: str, root: Path | None = None) -> RunSpec | None:
    """The run whose weights start `spec`'s (its recipe's `init`), or None."""
    init = recipes.init_of(profile, spec.recipe, spec.arch, root)
    return RunSpec(*init) if init is not None else None


def _finished_result(folder: Path, epochs: int) -> dict | None:
    path = folder / "result.json"
    if not path.is_file():
        return None
    result = read_json_object(path, "run result")
    return result if result.get("epochs") == epochs else None


def state(profile: str, spec: RunSpec, root: Path | None = None) -> str:
    """"done" (finished), "partial" (a checkpoint to resume) or "missing"."""
    cfg = config(profile, spec, root)
    folder = Path(cfg.out_dir)
    if _finished_result(folder, cfg.epochs) is not None:
        return "done"
    return "partial" if (folder / CHECKPOINT).is_file() else "missing"


def command(profile: str, spec: RunSpec, processes: int = 8) -> str:
    """The `torchrun ... -m drnlib train --profile P --recipe R --arch A` command that trains (or resumes) a run;
    the CLI rebuilds the same RunConfig (and so the same folder) from it."""
    args = ["--profile", profile, "--recipe", spec.recipe, "--arch", spec.arch]
    for name, value in spec.option_dict().items():
        flag = "--" + name.replace("_", "-")
        if isinstance(value, bool):
            args.append(flag if value else "--no-" + name.replace("_", "-"))
        elif isinstance(value, dict):
            for key, item in value.items():
                args += ["--data-option" if name == "data_options" else flag, f"{key}={item}"]
        elif isinstance(value, (list, tuple)):
            args += [flag, *map(str, value)]
        else:
            args += [flag, str(value)]
    return shlex.join(["torchrun", "--nproc_per_node", str(processes), "-m", "drnlib", "train", *args, "--resume"])


@dataclass
class Run:
    """A finished run: its settings and the result fit() wrote (result.json)."""

    config: RunConfig
    result: dict

    @property
    def dir(self) -> Path:
        return Path(self.config.out_dir)

    def metrics(self) -> pd.DataFrame:
        """One row per epoch (loss, lr, speed, validation scores)."""
        return pd.read_csv(self.dir / "metrics.csv")

    def model(self, task: str | None = None, device: str | torch.device = "cpu") -> nn.Module:
        """The trained network in eval mode; `task` rebuilds it for another task that shares the weights
        (a "classify" run as "dense" gives the DRN paper's localization network)."""
        from drnlib.models import model_from_config

        checkpoint = load_checkpoint(self.dir / CHECKPOINT, arch=self.config.arch)
        options = dict(checkpoint["model_config"])
        if task is not None:
            options["task"] = task
        with torch.device("meta"):  # no random initialisation to throw away: the weights come next
            model = model_from_config(options)
        model.load_state_dict(checkpoint["model"], assign=True)
        return model.to(device).eval()

    def evaluate(self, **protocol) -> dict:
        """`evaluate(self, **protocol)`: this run with another evaluation protocol, cached."""
        return evaluate(self, **protocol)


def _protocol(settings: RunConfig | dict) -> dict:
    """The EVAL_FIELDS of a run's settings, as JSON stores them (tuples as lists)."""
    values = settings.to_dict() if isinstance(settings, RunConfig) else settings
    return json.loads(json.dumps({k: values.get(k) for k in EVAL_FIELDS}, default=list))


def _rescored(run: Run) -> Run:
    """The run with the validation scores of the protocol its config asks for: a run trained (by another page, or
    an earlier build) with other evaluation settings is evaluated again, once (cached)."""
    if _protocol(run.result.get("config", {})) == _protocol(run.config):
        return run
    scores = evaluate(run)
    return Run(run.config, {**run.result, "val": scores, "val_images": scores["images"],
                            "evaluated_with": _protocol(run.config)})


def find(profile: str, spec: RunSpec, root: Path | None = None) -> Run | None:
    """The finished run of `spec` if one is stored, else None (nothing is trained)."""
    cfg = config(profile, spec, root)
    result = _finished_result(Path(cfg.out_dir), cfg.epochs)
    return None if result is None else _rescored(Run(cfg, result))


def get(profile: str, spec: RunSpec, root: Path | None = None) -> Run:
    """The finished run of `spec`: found, resumed or trained here, its trunk first (see the module docstring)."""
    return get_all(profile, [spec], root)[spec]


def get_all(profile: str, specs, root: Path | None = None) -> dict[RunSpec, Run]:
    """{spec: finished Run} for every spec, in order (each trained once, trunks first). At the paper profile, or
    with $DRNLIB_NO_TRAIN set, missing runs stop here with one ParameterError listing the commands that train
    them, trunks first."""
    specs = list(dict.fromkeys(specs))
    needed = []
    for spec in specs:
        chain = [spec]
        while (parent := trunk(chain[-1], profile, root)) is not None:
            chain.append(parent)
        needed += [s for s in reversed(chain) if s not in needed]
    missing = [s for s in needed if find(profile, s, root) is None]
    if missing and (profile == "paper" or os.environ.get(NO_TRAIN_ENV)):
        why = "the paper profile trains with torchrun, outside the notebook" if profile == "paper" else \
            f"${NO_TRAIN_ENV} is set"
        commands = " && ".join(command(profile, s) for s in missing)
        raise ParameterError(f"{len(missing)} run(s) not trained yet ({why}); train them first: {commands}")
    done = {}
    for spec in needed:
        cfg = config(profile, spec, root)
        found = find(profile, spec, root)
        if found is None:
            resume = (Path(cfg.out_dir) / CHECKPOINT).is_file()
            if os.environ.get("DRNLIB_PROGRESS"):
                print(f"run {spec.label}: {'resuming' if resume else 'training'} ({cfg.epochs} epochs) in "
                      f"{Path(cfg.out_dir).name}", flush=True)
            found = Run(cfg, fit(cfg.replace(resume=resume)))
        done[spec] = found
    return {spec: done[spec] for spec in specs}


# Evaluations: one cache for every page (a run's other protocols, model averaging).


def evaluate(runs, **protocol) -> dict:
    """Scores of one run, or of several runs' averaged softmax (model averaging), with an evaluation protocol
    (RunConfig fields: task, split, limit_val, scales, flip, ten_crop, loc_threshold, eval_size, crop_size,
    resize_size; the rest is the first run's own), as drnlib.train.evaluate_run returns them.

    Cached as JSON: a single run's in its folder (eval-<key>.json), an average in runs/<profile>/evaluations/; the
    key holds the protocol and the runs' trained results, so a retrained run is evaluated afresh.
    """
    runs = [runs] if isinstance(runs, Run) else list(runs)
    if not runs:
        raise ParameterError("evaluate needs at least one run")
    unknown = [k for k in protocol if k not in EVAL_FIELDS and k not in ("workers", "device", "eval_batch_size",
                                                                         "progress")]
    if unknown:
        raise ParameterError(f"unknown evaluation setting(s) {', '.join(unknown)}; expected {', '.join(EVAL_FIELDS)}")
    first = runs[0]
    wanted = {**_protocol(first.config), **json.loads(json.dumps(
        {k: v for k, v in protocol.items() if k in EVAL_FIELDS}, default=list))}
    trainings = [hashlib.sha256((r.dir / "result.json").read_bytes()).hexdigest()[:12] for r in runs]
    key = settings_key({**wanted, "runs": [r.dir.name for r in runs], "trainings": trainings}, ignore=())
    path = (first.dir / f"eval-{key}.json" if len(runs) == 1 else
            first.dir.parent / "evaluations" / f"{key}.json")
    if path.is_file():
        with contextlib.suppress(DataError):  # a damaged cache entry is computed again
            return read_json_object(path, "evaluation cache")
    settings = {"out_dir": str(first.dir), "progress": False, **wanted,
                **{k: v for k, v in protocol.items() if k not in EVAL_FIELDS}}
    scores = evaluate_run(settings, averaged_with=[str(r.dir / CHECKPOINT) for r in runs[1:]])
    scores["runs"] = [r.dir.name for r in runs]
    atomic_write_json(path, scores)
    return json.loads(path.read_text())  # as a later call reads it (NaN stored as null)


# What a profile's runs cost.

# Training images of the splits of data sets that may not be on this machine (the official releases).
TRAIN_IMAGES = {"imagenet": 1_281_167, "cityscapes": 2_975, "voc_aug": 10_582, "ade20k": 20_210,
                "pascal_context": 4_998, "camvid": 367, "tiny_imagenet": 30_000, "cifar10": 50_000}


def train_images(cfg: RunConfig) -> int:
    """Images one training epoch of `cfg` sees (limit_train, or the split's size, minus nothing: holdout is
    taken from the limit's extra images)."""
    if cfg.limit_train:
        return int(cfg.limit_train)
    if cfg.dataset == "synthetic":
        return int(cfg.data_options.get("num_samples", 0)) - cfg.holdout
    return TRAIN_IMAGES[cfg.dataset] - cfg.holdout


CLASSES = {"imagenet": 1000, "tiny_imagenet": 100, "cifar10": 10, "camvid": 11, "cityscapes": 19, "voc_aug": 21,
           "ade20k": 150, "pascal_context": 60}


def step_flops(cfg: RunConfig, num_classes: int | None = None) -> int:
    """FLOPs of one training step of `cfg` for one image (forward + backward; torch.utils.flop_counter on the meta
    device, so it costs milliseconds and no memory; each network and input size is traced once per process)."""
    classes = num_classes or CLASSES.get(cfg.dataset) or int(cfg.data_options.get("num_classes", 8))
    task = "segment" if cfg.task == "segment" else "classify"
    return _step_flops(cfg.arch, task, cfg.crop_size, classes, tuple(sorted(cfg.model_options().items())))


@functools.lru_cache(maxsize=512)
def _step_flops(arch: str, task: str, crop_size: int, classes: int, options: tuple) -> int:
    from torch.utils.flop_counter import FlopCounterMode

    from drnlib.models import build_model

    with torch.device("meta"):
        model = build_model(arch, classes, task, **dict(options))
        x = torch.empty(2, 3, crop_size, crop_size)
    # BatchNorm adds no FLOPs the counter counts (convolutions and matrix products), and its meta kernels take most
    # of a trace's time: leave it out
    for name, module in list(model.named_modules()):
        for child_name, child in list(module.named_children()):
            if isinstance(child, nn.modules.batchnorm._BatchNorm):
                setattr(module, child_name, nn.Identity())
    counter = FlopCounterMode(display=False)
    with counter:
        model(x).float().sum().backward()
    return int(counter.get_total_flops()) // 2


def training_flops(cfg: RunConfig) -> float:
    """FLOPs of training `cfg` to its end: one step per image x images per epoch x epochs."""
    return float(step_flops(cfg)) * train_images(cfg) * cfg.epochs


__all__ = ["NO_TRAIN_ENV", "NOT_IN_KEY", "EVAL_FIELDS", "RunSpec", "Run", "settings_key", "folder_name",
           "runs_root", "config", "trunk", "state", "command", "find", "get", "get_all", "evaluate",
           "train_images", "step_flops", "training_flops"]
