"""The one training loop, for classification and segmentation alike (task objects hold the differences).

    result = fit(RunConfig(arch="drn_c_26", dataset="camvid", task="segment", crop_size=512, epochs=100, ...))

Run directory (config.out_dir), written by process 0 only, every file atomically:
    config.json     the run's settings (rewritten with the checkpoint, so a failed resume leaves it as it was)
    checkpoint.pt   the latest finished epoch (see drnlib.train.checkpoint); resume=True continues from it exactly
    metrics.csv     one row per epoch: epoch, lr, train_loss, seconds, images/s, val_* scalars
    metrics.json    the same rows, with per-class lists (val_iou)
    result.json     after the last epoch: the final evaluation with the configured protocol and a summary
A NaN or inf loss, weight or validation loss stops the run with TrainingError before anything of that epoch is
written.
"""

from __future__ import annotations

import contextlib
import math
import os
import random
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils.data import DistributedSampler, RandomSampler, Subset
from tqdm.auto import tqdm

import drnlib
from drnlib.analysis.architecture import batchnorm_inputs, smallest_input_side
from drnlib.data import DataLoader  # torch's, re-raising worker DataErrors on one line
from drnlib.errors import CheckpointError, DataError, ParameterError, TrainingError
from drnlib.eval import autocast, evaluate, to_device
from drnlib.files import read_json_object
from drnlib.provenance import machine_provenance
from drnlib.train import distributed
from drnlib.train.checkpoint import (atomic_write_csv, atomic_write_json, get_rng_state, load_checkpoint,
                                     remove_stale_temporaries, save_checkpoint, set_rng_state)
from drnlib.train.config import IDENTITY_FIELDS, RunConfig, config_changes
from drnlib.train.schedules import make_scheduler
from drnlib.train.tasks import get_task, shard

CHECKPOINT = "checkpoint.pt"


def fit(config: RunConfig | dict, *, model: nn.Module | None = None, train_set=None, val_set=None) -> dict:
    """Train as `config` says; returns the result dict (also written to out_dir/result.json).

    By default the model is drnlib.models.build_model(config.arch, ...) and the data sets come from drnlib.data;
    pass `model` / `train_set` / `val_set` to train other ones with the same loop (the checkpoint still records
    config.arch). Raises drnlib.errors.DrnError subclasses for user errors (ParameterError, DataError,
    CheckpointError, TrainingError).
    """
    cfg = config if isinstance(config, RunConfig) else RunConfig.from_dict(config)
    cfg.validate()
    if cfg.task == "localize":
        raise ParameterError("localize is an evaluation of a classification model: train with task 'classify', "
                             "then evaluate with task 'localize'")
    if not cfg.arch or not cfg.dataset:
        raise ParameterError("arch and dataset must be given (--arch, --dataset)")
    procs = distributed.start(cfg.device)
    try:
        with determinism(cfg.deterministic):
            return _fit(cfg, procs, model, train_set, val_set)
    finally:
        distributed.stop(procs)


@contextlib.contextmanager
def determinism(enabled: bool):
    """torch.use_deterministic_algorithms for the duration of a run (warn_only: a few CUDA kernels, such as the
    backward of bilinear upsampling, have no deterministic version; on the CPU everything used here has)."""
    previous = torch.are_deterministic_algorithms_enabled(), torch.backends.cudnn.benchmark
    if enabled:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(enabled, warn_only=True)
    torch.backends.cudnn.benchmark = not enabled
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(previous[0])
        torch.backends.cudnn.benchmark = previous[1]


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def seed_worker(worker_id: int) -> None:
    """DataLoader workers: torch seeds itself and `random` per worker; seed numpy from it too."""
    seed = torch.initial_seed() % 2**32
    np.random.seed(seed)
    random.seed(seed)


def freeze_batchnorm(model: nn.Module) -> None:
    """BatchNorm layers in eval mode: running statistics are used and not updated; their affine weights still
    get gradients (Wider-or-Deeper fine-tuning, `bn_use_global_stats`)."""
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.eval()


def init_checkpoint(cfg: RunConfig) -> Path | None:
    """The checkpoint a run's trunk starts from: `init_from` (a file), or the checkpoint of the finished run
    `init_run` in a sibling folder of out_dir (DataError when that run is missing or unfinished)."""
    if cfg.init_from:
        return Path(cfg.init_from)
    if not cfg.init_run:
        return None
    folder = Path(cfg.out_dir).parent / cfg.init_run
    result = folder / "result.json"
    if not (folder / CHECKPOINT).is_file() or not result.is_file():
        raise DataError(f"init_run {cfg.init_run}: no finished run in {folder}; train that run first")
    return folder / CHECKPOINT


def check_batchnorm_batch(model: nn.Module, cfg: RunConfig, procs, per_process: int, train_set) -> None:
    """Refuse, before the first step, a run in which a BatchNorm layer would see a single value per channel.

    In training, BatchNorm normalises with the statistics of its input, per channel over the batch and the map: with
    batch x H x W == 1 there is nothing to normalise and torch's F.batch_norm raises "Expected more than 1 value per
    channel when training" on the first step (e.g. ResNet-18 at a 32-pixel crop ends in a 1x1 map, so a batch of
    one per process cannot train). Only a batch of 1 per process can hit this; the maps are then traced on the meta
    device at the training input size (drnlib.analysis.architecture.batchnorm_inputs: milliseconds). Frozen
    BatchNorm (freeze_bn: running statistics) and SyncBatchNorm across GPUs (statistics over every process) are
    exempt. Raises ParameterError naming the architecture, the map, the batch per process and what to change: a
    batch of 2 per process, or the smallest crop at which every map is 2x2 or larger.
    """
    if per_process > 1 or cfg.freeze_bn or distributed.syncs_batchnorm(procs, cfg.sync_bn):
        return
    base = train_set
    while isinstance(base, Subset):
        base = base.dataset
    fixed = getattr(base, "image_size", None)  # data sets of one fixed size take no crop (synthetic scenes)
    size = fixed or cfg.crop_size
    model.train()  # as train_one_epoch will: every BatchNorm layer uses batch statistics
    try:
        shapes = batchnorm_inputs(model, size, per_process)
    except (RuntimeError, NotImplementedError):
        return  # a model that does not run on the meta device: its first step will tell
    single = [s for s in shapes if s.numel() == s[1]]  # one value per channel
    if not single:
        return
    fixes = [f"a batch of at least 2 per process (--batch-size {2 * procs.world_size})"]
    crop = smallest_input_side(model, start=size + 1) if all(len(s) > 2 for s in single) else None
    if crop:
        how = "larger images" if fixed else f"--crop-size {crop}"
        fixes.append(f"a crop of at least {crop} ({how}), at which every map is 2x2 or larger")
    raise ParameterError(
        f"{cfg.arch} at a {size}x{size} crop reaches a {'x'.join(map(str, single[0][2:])) or '1'} map "
        f"({single[0][1]} channels) where BatchNorm would see a single value per channel with a batch of "
        f"{per_process} per process; train with {' or '.join(fixes)}")


def _prepare_run_dir(cfg: RunConfig, procs) -> dict | None:
    """The checkpoint to resume from (or None), after refusing to clobber an existing run."""
    path = Path(cfg.out_dir) / CHECKPOINT
    if not path.exists():
        return None
    if cfg.resume:
        checkpoint = load_checkpoint(path, arch=cfg.arch)
        for name in IDENTITY_FIELDS:
            if checkpoint["config"].get(name) != getattr(cfg, name):
                raise CheckpointError(
                    f"{path} was trained with {name}={checkpoint['config'].get(name)!r}, not {getattr(cfg, name)!r}")
        if checkpoint["model_task"] != get_task(cfg.task).model_task:
            raise CheckpointError(
                f"{path} holds a {checkpoint['model_task']} model, the task {cfg.task!r} trains a "
                f"{get_task(cfg.task).model_task} model")
        return checkpoint
    if not cfg.overwrite:
        raise ParameterError(f"{cfg.out_dir} already holds a run ({CHECKPOINT}); resume it (--resume), start "
                             "afresh (--overwrite) or choose another out_dir")
    return None


def _fit(cfg: RunConfig, procs, model, train_set, val_set) -> dict:
    task = get_task(cfg.task)
    out_dir = Path(cfg.out_dir)
    checkpoint = _prepare_run_dir(cfg, procs)
    if checkpoint is not None and checkpoint["epoch"] >= cfg.epochs and (out_dir / "result.json").is_file():
        with contextlib.suppress(DataError):  # a damaged result.json is written again below, from the checkpoint
            result = read_json_object(out_dir / "result.json", "run result")
            if result.get("epochs") == checkpoint["epoch"]:
                return result  # finished before: nothing to do

    seed_everything(cfg.seed)
    if train_set is None or val_set is None:
        built_train, built_val = task.datasets(cfg)
        train_set = train_set if train_set is not None else built_train
        val_set = val_set if val_set is not None else built_val
    info = task.dataset_info(train_set)
    if model is None:
        from drnlib.models import build_model
        model = build_model(cfg.arch, num_classes=info["num_classes"], task=task.model_task, **cfg.model_options())
    init = init_checkpoint(cfg)
    if init is not None and checkpoint is None:
        from drnlib.models import load_weights
        load_weights(model, init, backbone_only=True)
    model_config = dict(getattr(model, "build_config", {"name": cfg.arch}))
    if checkpoint is not None:
        model.load_state_dict(checkpoint["model"])
    device = procs.device
    channels_last = cfg.channels_last and device.type == "cuda"
    model.to(device)
    if channels_last:
        model.to(memory_format=torch.channels_last)

    # Data: a seeded generator fixes the order and the DataLoader workers' seeds; it is saved in every checkpoint.
    data_order = torch.Generator().manual_seed(cfg.seed)
    per_process = cfg.batch_size // procs.world_size
    if per_process * procs.world_size != cfg.batch_size:
        raise ParameterError(f"batch_size {cfg.batch_size} is not divisible by the {procs.world_size} processes")
    check_batchnorm_batch(model, cfg, procs, per_process, train_set)
    loader, val_loader, data_path = make_batches(cfg, task, train_set, val_set, procs, data_order, per_process)
    iterations = len(loader)
    if iterations == 0:
        raise DataError(f"the training split of {cfg.dataset} has {len(train_set)} images, fewer than one batch "
                        f"of {per_process} per process")

    net = distributed.wrap_model(model, procs, cfg.sync_bn)
    # One fused kernel (CUDA) or a few multi-tensor ones for the whole update, instead of a loop over parameters.
    fast = {"fused": True} if device.type == "cuda" else {"foreach": True}
    optimizer = torch.optim.SGD([p for p in net.parameters() if p.requires_grad], lr=cfg.lr,
                                momentum=cfg.momentum, weight_decay=cfg.weight_decay, **fast)
    start_epoch, history, changes, done_iterations = 0, [], [], 0
    if checkpoint is not None:
        optimizer.load_state_dict(checkpoint["optimizer"])
        # A resumed run follows the current settings from the resumed iteration on (and records the changes).
        for group in optimizer.param_groups:
            group.update(initial_lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
        done_iterations = checkpoint["scheduler"]["last_epoch"]
        start_epoch, history = checkpoint["epoch"], list(checkpoint["history"])
        changes = list(checkpoint.get("config_changes", []))
        changed = config_changes(checkpoint["config"], cfg.to_dict())
        if changed:
            changes.append({"epoch": start_epoch, "changes": changed})
        set_rng_state(checkpoint["rng"], data_order)
        loader.load_rng_state(checkpoint["rng"], start_epoch, cfg.seed)
    else:
        seed_everything(cfg.seed + procs.rank)  # augmentation streams differ between processes
    scheduler = make_scheduler(optimizer, iterations, lr=cfg.lr, schedule=cfg.schedule, epochs=cfg.epochs,
                               step=cfg.step, lr_end=cfg.lr_end, milestones=cfg.milestones,
                               warmup=cfg.warmup_epochs, done_iterations=done_iterations)
    step_net = torch.compile(net) if cfg.compile else net

    if procs.is_main:
        out_dir.mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(out_dir)
        if checkpoint is None:
            atomic_write_json(out_dir / "config.json", cfg.to_dict())
            for stale in (CHECKPOINT, "metrics.csv", "metrics.json", "result.json"):  # --overwrite starts clean
                (out_dir / stale).unlink(missing_ok=True)
        _write_metrics(out_dir, history)

    show = cfg.progress and procs.is_main
    # a campaign on a GPU lease wants one line per epoch (with the minutes left of its budget), not bars
    epoch_lines = show or (procs.is_main and bool(os.environ.get("DRNLIB_PROGRESS")))
    last_scores = None  # the last epoch's full evaluation (with per-image records), reused as the final one
    for epoch in range(start_epoch, cfg.epochs):
        loader.set_epoch(epoch)
        lr = optimizer.param_groups[0]["lr"]
        started = time.perf_counter()
        train_loss = train_one_epoch(step_net, loader, optimizer, scheduler, task, cfg, procs, epoch, show)
        _check_finite_weights(model, epoch, optimizer)
        seconds = time.perf_counter() - started
        row = {"epoch": epoch + 1, "lr": lr, "train_loss": train_loss, "seconds": seconds,
               "images_per_s": iterations * cfg.batch_size / seconds}
        last = epoch + 1 == cfg.epochs
        if last or (cfg.val_every and (epoch + 1) % cfg.val_every == 0):
            scores = evaluate(model, val_loader, task.eval_task, num_classes=info["num_classes"], device=device,
                              amp=cfg.amp, channels_last=channels_last, class_names=info.get("class_names"),
                              progress=show, desc=f"val {epoch + 1}")
            # weights so large the outputs overflow (not: nothing counted, as when every pixel is ignored)
            loss, counted = scores.get("loss"), scores.get("pixels") or scores.get("images") or 0
            if isinstance(loss, float) and not math.isfinite(loss) and counted > 0:
                raise TrainingError(f"the validation loss became {loss} after epoch {epoch + 1} (lr {lr:.3g}): the "
                                    f"network's outputs overflow; training stopped, {_kept(epoch)}. Lower the learning "
                                    f"rate or check the data")
            row.update({f"val_{k}": v for k, v in scores.items() if k not in ("class_names", "confusion", "per_image")})
            last_scores = scores
        history.append(row)
        if procs.is_main:
            config_dict = cfg.to_dict()
            save_checkpoint(out_dir / CHECKPOINT, {
                "arch": cfg.arch, "model_task": task.model_task, "num_classes": info["num_classes"],
                "model_config": model_config, "config": config_dict, "epoch": epoch + 1,
                "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(), "rng": {**get_rng_state(data_order), **loader.rng_state()},
                "history": history,
                "config_changes": changes, "class_names": list(info.get("class_names") or []),
            })
            atomic_write_json(out_dir / "config.json", config_dict)
            _write_metrics(out_dir, history)
            if epoch_lines:
                tqdm.write(_summary(row, cfg.epochs, cfg.arch))
        distributed.barrier(procs)

    final = _final_evaluation(cfg, task, model, val_loader, info, procs, channels_last, last_scores)
    result = {
        "arch": cfg.arch, "dataset": cfg.dataset, "task": cfg.task, "recipe": cfg.recipe,
        "num_classes": info["num_classes"],
        "class_names": info.get("class_names"), "epochs": history[-1]["epoch"] if history else 0,
        "train_images": len(train_set), "val_images": len(val_set),
        "params": sum(p.numel() for p in model.parameters()),
        "train_loss": history[-1]["train_loss"] if history else None, "val": final,
        "train_seconds": sum(r["seconds"] for r in history), "device": str(device),
        "world_size": procs.world_size, "data_path": data_path, "torch": torch.__version__,
        "drnlib": drnlib.__version__,
        "config": cfg.to_dict(), "config_changes": changes, "run_dir": str(out_dir),
        "provenance": machine_provenance(),  # where and when these weights were trained
    }
    if procs.is_main:
        atomic_write_json(out_dir / "result.json", result)
    distributed.barrier(procs)
    return result


class LoaderBatches:
    """The DataLoader path behind the interface of drnlib.data.resident.ResidentTrainBatches: the sampler learns
    the epoch (torchrun), and the random state is the data-order generator that get_rng_state saves anyway."""

    def __init__(self, loader, sampler):
        self.loader, self.sampler = loader, sampler

    def __len__(self):
        return len(self.loader)

    def __iter__(self):
        return iter(self.loader)

    def set_epoch(self, epoch: int) -> None:
        if isinstance(self.sampler, DistributedSampler):
            self.sampler.set_epoch(epoch)

    def rng_state(self) -> dict:
        return {}

    def load_rng_state(self, state: dict, epoch: int, seed: int) -> None:
        pass


def make_batches(cfg: RunConfig, task, train_set, val_set, procs, data_order, per_process: int):
    """(training batches, evaluation batches, "resident" | "loader") for cfg.data_path.

    resident: both splits decoded once (cached on disk) into uint8 tensors on the training device, the training
    recipe applied there per sample (drnlib.data.resident); auto takes that path for the data sets it knows
    when they fit in memory and falls back to the loader otherwise; loader (and the fallback): DataLoader workers
    decode and augment every epoch. Either way the batches come as (images, targets) and the training batches
    have set_epoch / rng_state / load_rng_state for the checkpoint.
    """
    device = procs.device
    channels_last = cfg.channels_last and device.type == "cuda"
    if cfg.data_path != "loader":
        from drnlib.data.resident import NotResident, resident_batches
        try:
            train, val = resident_batches(train_set, val_set, batch_size=per_process,
                                          eval_batch_size=task.eval_batch_size(cfg), device=device, seed=cfg.seed,
                                          rank=procs.rank, world_size=procs.world_size, channels_last=channels_last,
                                          workers=cfg.workers, require=cfg.data_path == "resident")
            return train, val, "resident"
        except NotResident:
            if cfg.data_path == "resident":
                raise
    if procs.distributed:
        sampler = DistributedSampler(train_set, procs.world_size, procs.rank, shuffle=True, seed=cfg.seed,
                                     drop_last=True)
    else:
        sampler = RandomSampler(train_set, generator=data_order)
    loader = DataLoader(train_set, batch_size=per_process, sampler=sampler, num_workers=cfg.workers,
                        collate_fn=task.collate, pin_memory=device.type == "cuda", drop_last=True,
                        worker_init_fn=seed_worker, generator=data_order,
                        prefetch_factor=4 if cfg.workers else None)
    val_loader = DataLoader(shard(val_set, procs.rank, procs.world_size), batch_size=task.eval_batch_size(cfg),
                            shuffle=False, num_workers=cfg.workers, collate_fn=task.collate,
                            pin_memory=device.type == "cuda", generator=torch.Generator().manual_seed(cfg.seed))
    return LoaderBatches(loader, sampler), val_loader, "loader"


def train_one_epoch(net, loader, optimizer, scheduler, task, cfg: RunConfig, procs, epoch: int, show: bool) -> float:
    """One pass over the training data; returns the mean loss. The loss is summed on the device and checked
    (one host sync) every `log_interval` iterations and at the end."""
    device = procs.device
    channels_last = cfg.channels_last and device.type == "cuda"
    net.train()
    if cfg.freeze_bn:
        freeze_batchnorm(net)
    loss_sum = torch.zeros((), dtype=torch.float64, device=device)
    steps = 0
    bar = tqdm(loader, desc=f"epoch {epoch + 1}/{cfg.epochs}", disable=not show, leave=False, dynamic_ncols=True)
    for images, target in bar:
        images = to_device(images, device, channels_last)
        target = to_device(target, device)
        with autocast(device, cfg.amp):
            output = net(images)
            loss = task.loss(output, target, cfg)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()
        loss_sum += loss.detach()
        steps += 1
        if steps % cfg.log_interval == 0:
            mean = _checked_mean(loss_sum, steps, procs, epoch, steps, optimizer)
            bar.set_postfix(loss=f"{mean:.4f}", lr=f"{optimizer.param_groups[0]['lr']:.3g}")
    return _checked_mean(loss_sum, steps, procs, epoch, steps, optimizer)


def _checked_mean(loss_sum, steps, procs, epoch, iteration, optimizer) -> float:
    total = loss_sum.clone()
    if procs.distributed:
        torch.distributed.all_reduce(total)
    mean = float(total) / (steps * procs.world_size)
    if not math.isfinite(mean):
        raise TrainingError(f"the loss became {mean} in epoch {epoch + 1} by iteration {iteration} "
                            f"(lr {optimizer.param_groups[0]['lr']:.3g}); training stopped, {_kept(epoch)}. Lower the "
                            f"learning rate or check the data")
    return mean


def _kept(epoch: int) -> str:
    """What a stopped run keeps: epochs are checked before their checkpoint is written."""
    return f"the last good checkpoint (epoch {epoch}) is kept" if epoch else "no checkpoint was written"


def _check_finite_weights(model: nn.Module, epoch: int, optimizer) -> None:
    """TrainingError when a weight or BatchNorm statistic is NaN or inf after an epoch (one host sync): a rate
    large enough can leave the mean loss finite (1e16) while the weights have already overflowed, and such a
    network must neither be stored as finished nor overwrite the last good checkpoint."""
    tensors = [t for t in (*model.parameters(), *model.buffers()) if t.is_floating_point()]
    if tensors and not bool(torch.stack([t.isfinite().all() for t in tensors]).all()):
        raise TrainingError(f"the weights became NaN or inf in epoch {epoch + 1} (lr "
                            f"{optimizer.param_groups[0]['lr']:.3g}); training stopped, {_kept(epoch)}. Lower the "
                            f"learning rate or check the data")


def _final_evaluation(cfg, task, model, val_loader, info, procs, channels_last, last_scores) -> dict:
    """The configured protocol (10-crop, multi-scale, flip) on the evaluation split; reuses the last epoch's
    scores when the protocol is the plain one they were computed with (a resumed, finished run evaluates again)."""
    ten_crop = cfg.ten_crop and task.eval_task == "classify"
    plain = not ten_crop and tuple(cfg.scales) == (1.0,) and not cfg.flip
    if plain and last_scores is not None:
        return last_scores
    loader = val_loader
    if ten_crop:
        loader = DataLoader(shard(task.eval_dataset(cfg, cfg.split, ten_crop=True), procs.rank, procs.world_size),
                            batch_size=max(1, task.eval_batch_size(cfg) // 10), shuffle=False,
                            num_workers=cfg.workers, collate_fn=task.collate,
                            pin_memory=procs.device.type == "cuda")
    return evaluate(model, loader, task.eval_task, num_classes=info["num_classes"], device=procs.device,
                    amp=cfg.amp, channels_last=channels_last, scales=cfg.scales, flip=cfg.flip,
                    class_names=info.get("class_names"), progress=cfg.progress and procs.is_main, desc="final eval")


def _write_metrics(out_dir: Path, history: list[dict]) -> None:
    atomic_write_json(out_dir / "metrics.json", history)
    atomic_write_csv(out_dir / "metrics.csv", history)


def _summary(row: dict, epochs: int, arch: str = "") -> str:
    parts = [f"{arch} epoch {row['epoch']}/{epochs}".strip(), f"lr {row['lr']:.3g}",
             f"train_loss {row['train_loss']:.4f}"]
    for key in ("val_top1_error", "val_top5_error", "val_miou", "val_pixel_acc"):
        if key in row:
            parts.append(f"{key} {row[key]:.2f}")
    parts.append(f"{row['seconds']:.1f}s ({row['images_per_s']:.0f} images/s)")
    deadline = os.environ.get("DRNLIB_DEADLINE")
    if deadline:
        parts.append(f"{(float(deadline) - time.time()) / 60:.1f} min left")
    return "  ".join(parts)
