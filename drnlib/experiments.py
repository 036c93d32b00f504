"""Trained runs shared by the book's pages.

    run = trained(RunConfig(arch="drn_c_26", dataset="tiny_imagenet", epochs=2, ...), profile)
    run.result["val"]["top1_error"]         # the run's final evaluation (drnlib.train.fit's result)
    run.model(task="dense")                 # the trained weights, as any task of the same network
    run.evaluate(task="localize", ten_crop=True)   # another protocol, cached next to the checkpoint

A run lives in <root>/runs/<profile>/<arch>-<dataset>-<task>-<key>/, where `key` hashes every setting that changes
the trained weights. A page that asks for a run that another page (or an earlier build) already trained with the
same settings gets it at once; an interrupted run resumes from its last checkpoint. At the `paper` profile nothing
is trained in-process: the page stops with the `torchrun` command that trains the missing run into that folder.
"""

from __future__ import annotations

import hashlib
import json
import shlex
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import torch
from torch import nn

from .errors import ParameterError
from .results import check_profile, repo_root
from .train import RunConfig, evaluate_run, fit
from .train.checkpoint import atomic_write_json, load_checkpoint
from .train.config import VOLATILE_FIELDS
from .train.engine import CHECKPOINT

# Settings that do not change what is trained (where it is written, how fast, how it is shown).
NOT_IN_KEY = set(VOLATILE_FIELDS) | {"out_dir", "resume", "overwrite", "val_every", "amp", "channels_last"}
# ... and those that do not change an evaluation's scores.
EVAL_NOT_IN_KEY = {"out_dir", "workers", "device", "progress", "log_interval", "eval_batch_size", "data_root"}
# The settings of a run's stored validation scores that are not in its key (they do not change the weights): a run
# found with other values is evaluated again with those asked for, so a page never shows another protocol's scores.
EVAL_FIELDS = ("limit_val", "split", "scales", "flip", "ten_crop", "loc_threshold")


def evaluation_protocol(settings: dict) -> dict:
    """The EVAL_FIELDS of a run's settings, as JSON stores them (tuples as lists)."""
    return json.loads(json.dumps({k: settings.get(k) for k in EVAL_FIELDS}))


def settings_key(settings: dict, ignore=NOT_IN_KEY) -> str:
    """8 hex digits that identify a run's trained weights (or, with other `ignore`, an evaluation's protocol)."""
    kept = {k: v for k, v in sorted(settings.items()) if k not in ignore}
    return hashlib.sha256(json.dumps(kept, sort_keys=True, default=str).encode()).hexdigest()[:8]


def run_dir(config: RunConfig, profile: str, root: Path | None = None, extra_key: dict | None = None) -> Path:
    name = f"{config.arch}-{config.dataset}-{config.task}-{settings_key({**config.to_dict(), **(extra_key or {})})}"
    return Path(root or repo_root()) / "runs" / check_profile(profile) / name


def cli_command(config: RunConfig, processes: int = 8) -> str:
    """The `torchrun ... -m drnlib train` command that trains `config` (every non-default setting spelled out)."""
    defaults = RunConfig()
    args = []
    for name, value in config.to_dict().items():
        if name in ("resume", "overwrite", "progress") or value == getattr(defaults, name, None) or value is None:
            continue
        flag = "--" + name.replace("_", "-")
        if isinstance(value, bool):
            args.append(flag if value else "--no-" + name.replace("_", "-"))
        elif isinstance(value, (list, tuple)):
            args += [flag, *map(str, value)]
        else:
            args += [flag, str(value)]
    return shlex.join(["torchrun", "--nproc_per_node", str(processes), "-m", "drnlib", "train", *args, "--resume"])


@dataclass
class Run:
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
        from .models import model_from_config

        checkpoint = load_checkpoint(self.dir / CHECKPOINT, arch=self.config.arch)
        config = dict(checkpoint["model_config"])
        if task is not None:
            config["task"] = task
        with torch.device("meta"):  # no random initialisation to throw away: the weights come next
            model = model_from_config(config)
        model.load_state_dict(checkpoint["model"], assign=True)
        return model.to(device).eval()

    def evaluate(self, **changes) -> dict:
        """`drnlib.train.evaluate_run` with the evaluation protocol this run was asked for (its config's
        EVAL_FIELDS) and these changes (e.g. task="localize", ten_crop=True), cached as eval-<key>.json in the run
        folder."""
        protocol = {**evaluation_protocol(self.config.to_dict()), **changes}
        settings = {"out_dir": str(self.dir), "progress": False, **protocol}
        key = settings_key({**protocol, "epochs": self.result.get("epochs")}, ignore=EVAL_NOT_IN_KEY)
        path = self.dir / f"eval-{key}.json"
        if path.is_file():
            return json.loads(path.read_text())
        return evaluate_run(settings, output=path)

    def rescored(self) -> "Run":
        """This run with the validation scores of the protocol it was asked for: a run that was trained (by another
        page, or an earlier build) with other evaluation settings is evaluated again, once (cached)."""
        wanted = evaluation_protocol(self.config.to_dict())
        if evaluation_protocol(self.result.get("config", {})) == wanted:
            return self
        scores = self.evaluate()
        return Run(self.config, {**self.result, "val": scores, "val_images": scores["images"],
                                 "evaluated_with": wanted})


def trained(config: RunConfig | dict, profile: str, root: Path | None = None, extra_key: dict | None = None,
            in_process: bool = False, **fit_kwargs) -> Run:
    """The finished run for `config` at this profile: found, resumed or trained (see the module docstring).

    `extra_key`: settings outside RunConfig that change the result (e.g. the options of data sets passed to
    `fit` as `train_set` / `val_set` through `fit_kwargs`); they join the folder's key.
    `in_process`: train here even at the paper profile (for runs the CLI cannot express, e.g. generated data).
    """
    config = config if isinstance(config, RunConfig) else RunConfig.from_dict(config)
    folder = run_dir(config, profile, root, extra_key)
    config = config.replace(out_dir=str(folder), resume=False, overwrite=False)
    result_file = folder / "result.json"
    if result_file.is_file():
        result = json.loads(result_file.read_text())
        if result.get("epochs") == config.epochs:
            return Run(config, result).rescored()
    if profile == "paper" and not in_process:
        raise ParameterError(f"the paper profile trains with torchrun, outside the notebook; run: "
                             f"{cli_command(config)}")
    resume = (folder / CHECKPOINT).is_file()
    if extra_key and not resume:
        folder.mkdir(parents=True, exist_ok=True)
        atomic_write_json(folder / "extra_key.json", extra_key)
    return Run(config.replace(resume=resume), fit(config.replace(resume=resume), **fit_kwargs))
