"""Evaluating a saved run: rebuild the model from its checkpoint, build the evaluation data, run drnlib.eval.

    evaluate_run({"out_dir": "runs/drn_c_26_tiny", "task": "localize", "ten_crop": True})

Settings not given are taken from the run's own config (stored in the checkpoint): the same data set, input size
and normalisation as in training.
"""

from __future__ import annotations

from pathlib import Path

import torch

from drnlib.data import DataLoader  # torch's, re-raising worker DataErrors on one line
from drnlib.errors import CheckpointError, ParameterError
from drnlib.eval import evaluate, sweep_threshold
from drnlib.train import distributed
from drnlib.train.checkpoint import atomic_write_json, load_checkpoint
from drnlib.train.config import RunConfig
from drnlib.train.engine import CHECKPOINT, determinism
from drnlib.train.tasks import get_task, holdout_subset, shard

# Settings of the run that evaluation inherits unless they are given.
INHERITED = ("dataset", "data_root", "crop_size", "resize_size", "seed", "limit_train", "holdout")


def evaluate_run(config: RunConfig | dict, output: str | Path | None = None, averaged_with=()) -> dict:
    """Evaluate a checkpoint; returns the scores (percentages, see drnlib.eval) with what was evaluated.

    `config` is a dict of the settings to use (others come from the checkpoint's run config) or a full RunConfig.
    task "localize" evaluates a classification checkpoint as DRN Sec. 5.2; without loc_threshold, the threshold
    is chosen on the run's held-out training images (train with holdout > 0). `output`: also write the result
    there as JSON (atomically). `averaged_with`: checkpoints of other runs of the same data set whose softmax is
    averaged with this one's (model averaging, WoD Table 6).
    """
    given = config.to_dict() if isinstance(config, RunConfig) else dict(config)
    RunConfig.from_dict(given)  # unknown keys / bad values fail here, before anything is loaded
    out_dir = Path(given.get("out_dir") or RunConfig.out_dir)
    path = Path(given.get("checkpoint") or out_dir / CHECKPOINT)
    checkpoint = load_checkpoint(path, arch=given.get("arch"))
    run = checkpoint["config"]
    merged = {**run, "arch": checkpoint["arch"],
              **{k: v for k, v in given.items() if v is not None or k not in INHERITED + ("arch",)}}
    for key in ("resume", "overwrite", "init_from", "init_run"):
        merged[key] = RunConfig.__dataclass_fields__[key].default
    cfg = RunConfig.from_dict(merged)
    task = get_task(cfg.task)
    expected = {"classify": ("classify",), "segment": ("segment",), "localize": ("classify", "dense")}[cfg.task]
    if checkpoint["model_task"] not in expected:
        raise CheckpointError(f"{path} holds a {checkpoint['model_task']} model; task {cfg.task!r} needs a "
                              f"{' or '.join(expected)} model")

    procs = distributed.start(cfg.device)
    try:
        with determinism(cfg.deterministic):
            return _evaluate(cfg, task, checkpoint, path, procs, output, [Path(p) for p in averaged_with])
    finally:
        distributed.stop(procs)


def _model(checkpoint: dict, task, arch: str):
    """The checkpoint's network for `task`, built on the meta device (no random initialisation to throw away: the
    weights come next; Model A's 105M parameters take seconds to initialise on a CPU)."""
    from drnlib.models import build_model, model_from_config

    model_config = dict(checkpoint.get("model_config") or {})
    with torch.device("meta"):
        if model_config.get("name"):
            model = model_from_config({**model_config, "task": task.model_task})
        else:
            model = build_model(arch, num_classes=checkpoint["num_classes"], task=task.model_task)
    model.load_state_dict(checkpoint["model"], assign=True)
    return model


def _evaluate(cfg, task, checkpoint, path, procs, output, averaged_with):
    from drnlib.eval import AveragedModels

    dataset = task.eval_dataset(cfg, cfg.split, ten_crop=cfg.ten_crop)
    info = task.dataset_info(dataset)
    if info["num_classes"] != checkpoint["num_classes"]:
        raise CheckpointError(f"{path} has {checkpoint['num_classes']} classes, {cfg.dataset} has "
                              f"{info['num_classes']}")
    model = _model(checkpoint, task, cfg.arch)
    if averaged_with:
        models = [model]
        for other_path in averaged_with:
            other = load_checkpoint(other_path)
            if other["num_classes"] != checkpoint["num_classes"] or other["config"].get("dataset") != cfg.dataset:
                raise CheckpointError(f"{other_path} was trained on {other['config'].get('dataset')} with "
                                      f"{other['num_classes']} classes; it cannot be averaged with {path}")
            models.append(_model(other, task, other["arch"]))
        model = AveragedModels(models)
    device = procs.device
    channels_last = cfg.channels_last and device.type == "cuda"
    model.to(device)
    if channels_last:
        model.to(memory_format=torch.channels_last)

    def loader(ds, crops):
        batch = task.eval_batch_size(cfg)
        return DataLoader(shard(ds, procs.rank, procs.world_size), batch_size=max(1, batch // crops),
                          shuffle=False, num_workers=cfg.workers, collate_fn=task.collate,
                          pin_memory=device.type == "cuda")

    crops = 10 if cfg.ten_crop and task.eval_task != "segment" else 1
    common = dict(num_classes=checkpoint["num_classes"], device=device, amp=cfg.amp, channels_last=channels_last,
                  progress=cfg.progress and procs.is_main)
    extra = {}
    threshold = cfg.loc_threshold
    if task.eval_task == "localize" and threshold is None:
        if not cfg.holdout:
            raise ParameterError("localization needs a threshold: give loc_threshold, or train with holdout > 0 so "
                                 "it is chosen on held-out training images (never on the evaluation split)")
        held = holdout_subset(task.build(cfg, "train", task.eval_transform(cfg)), cfg)
        sweep = sweep_threshold(model, loader(held, crops), desc="threshold sweep", **common)
        threshold = sweep["threshold"]
        extra = {"threshold_sweep": sweep["sweep"], "threshold_images": len(held)}
    scores = evaluate(model, loader(dataset, crops), task.eval_task, scales=cfg.scales, flip=cfg.flip,
                      thresholds=threshold if threshold is not None else 0.5,
                      class_names=info.get("class_names"), desc=f"evaluate {cfg.split}", **common)
    if task.eval_task != "localize":
        scores.pop("threshold", None)
    result = {
        "arch": cfg.arch, "dataset": cfg.dataset, "split": cfg.split, "task": cfg.task,
        "checkpoint": str(path), "epoch": checkpoint["epoch"], "images": len(dataset),
        "averaged_with": [str(p) for p in averaged_with],
        "protocol": {"ten_crop": cfg.ten_crop, "crop_size": cfg.crop_size, "resize_size": cfg.eval_resize,
                     "scales": list(cfg.scales), "flip": cfg.flip,
                     **({"threshold": threshold} if task.eval_task == "localize" else {})},
        **scores, **extra,
    }
    if output is not None and procs.is_main:
        atomic_write_json(output, result)
    return result


__all__ = ["evaluate_run"]
