"""One evaluation loop for the three tasks. It takes a model and an iterable of batches; building them (data sets,
transforms, checkpoints) is done by the caller (`drnlib.train.evaluate_run`, a notebook, a test).

Batch formats (what a DataLoader over the data layer's data sets yields with the task's transforms):

- "classify": (images, labels); images N x 3 x H x W (1-crop) or N x K x 3 x H x W (K crops, e.g. 10-crop).
- "segment":  (images N x 3 x H x W, masks N x H x W int64 with 255 = ignore).
- "localize": (crops, whole, target): crops as for "classify" (the views the class is predicted from), whole =
  N x 3 x S x S (the whole image resized to the network input, the view the box is read from), target = dict with
  "label" (N,), "boxes" (N x M x 4, pixel-edge [x0, y0, x1, y1] in original-image pixels, NaN rows as padding) and
  "size" (N x 2, original (H, W)).

The model for "localize" is the classification network built with task="dense" (no global pooling). Its class
scores are the spatial mean of its dense logits: the classifier's head (a linear map after global average pooling)
commutes with the mean, so they equal the classification logits of the same weights (checked in the tests).
"""

from __future__ import annotations

import contextlib

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from drnlib.eval.localization import DEFAULT_THRESHOLDS, LocalizationMeter, best_threshold
from drnlib.eval.metrics import IGNORE_INDEX, ConfusionMeter, TopKMeter, _all_reduce
from drnlib.eval.predict import average_crops, segment_probs

TASKS = ("classify", "segment", "localize")


def autocast(device: torch.device, amp: bool):
    """bf16 autocast on CUDA when `amp`; a no-op elsewhere (bf16 on CPU is slow and changes results)."""
    if amp and device.type == "cuda":
        return torch.autocast(device_type="cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def to_device(x, device: torch.device, channels_last: bool = False):
    """Move a tensor (4-d images optionally as channels_last), or a dict/list/tuple of them, to `device`."""
    if isinstance(x, torch.Tensor):
        x = x.to(device, non_blocking=True)
        if channels_last and x.dim() == 4 and x.is_floating_point():
            x = x.contiguous(memory_format=torch.channels_last)
        return x
    if isinstance(x, dict):
        return {k: to_device(v, device, channels_last) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return type(x)(to_device(v, device, channels_last) for v in x)
    return x


def _model_device(model: torch.nn.Module) -> torch.device:
    for p in model.parameters():
        return p.device
    return torch.device("cpu")


@torch.inference_mode()
def evaluate(model: torch.nn.Module, loader, task: str, *, num_classes: int | None = None, device=None,
             amp: bool = False, channels_last: bool = False, scales=(1.0,), flip: bool = False,
             thresholds=0.5, class_names=None, progress: bool = False, desc: str = "eval") -> dict:
    """Evaluate `model` on every batch of `loader`; returns percentages (see drnlib.eval.metrics).

    classify: top1_error, top5_error, loss (NLL of the averaged probabilities), images.
    segment:  miou, iou (per class), pixel_acc, mean_acc, loss (per-pixel cross-entropy, 255 ignored), pixels,
              confusion (C x C, rows: true class).
              `scales` / `flip` turn on multi-scale / mirrored testing (probabilities averaged).
    localize: top1_error / top5_error of the classification, and for a single threshold loc_top1_error,
              loc_top5_error, box_error, threshold; for a list of thresholds "sweep" (one row each) and "best".
    Every task (but a threshold sweep) also returns "per_image": what each image contributed, in the data set's
    order (top1_wrong / top5_wrong / loc_top1_wrong / loc_top5_wrong / box_wrong: 0 or 1; confusion: C x C per
    image), from which drnlib.paper computes the uncertainty of a claim.
    In a torch.distributed run every process evaluates its own shard and the counts are summed.
    """
    if task not in TASKS:
        raise ValueError(f"unknown evaluation task {task!r}; expected one of {', '.join(TASKS)}")
    device = torch.device(device) if device is not None else _model_device(model)
    was_training = model.training
    model.eval()
    topk = TopKMeter(device=device)
    conf = ConfusionMeter(num_classes, device=device, class_names=class_names) if task == "segment" else None
    single = isinstance(thresholds, (int, float))
    loc = LocalizationMeter(thresholds, device=device) if task == "localize" else None
    loss_sum = torch.zeros((), dtype=torch.float64, device=device)
    loss_count = torch.zeros((), dtype=torch.float64, device=device)
    try:
        for batch in tqdm(loader, desc=desc, disable=not progress, leave=False):
            batch = to_device(batch, device, channels_last)
            with autocast(device, amp):
                if task == "classify":
                    images, labels = batch
                    probs = _class_probs(model, images, dense=False)
                    topk.update(probs, labels)
                    loss_sum += F.nll_loss(probs.clamp_min(1e-12).log(), labels, reduction="sum").double()
                    loss_count += labels.numel()
                elif task == "segment":
                    images, masks = batch
                    probs = segment_probs(model, images, scales, flip)
                    conf.update(probs.argmax(dim=1), masks)
                    loss_sum += F.nll_loss(probs.clamp_min(1e-12).log(), masks.long(), ignore_index=IGNORE_INDEX,
                                           reduction="sum").double()
                    loss_count += (masks != IGNORE_INDEX).sum()
                else:
                    crops, whole, target = batch
                    probs = _class_probs(model, crops, dense=True)
                    topk.update(probs, target["label"])
                    dense = model(whole).float().softmax(dim=1)
                    loc.update(probs, dense, target["label"], target["boxes"], target["size"])
    finally:
        model.train(was_training)

    topk.all_reduce()
    _all_reduce(loss_sum)
    _all_reduce(loss_count)
    loss = float(loss_sum / loss_count) if float(loss_count) > 0 else float("nan")
    if task == "segment":
        per_image = conf.per_image()
        conf.all_reduce()
        return {**conf.compute(), "loss": loss, "per_image": per_image}
    per_image = topk.per_image()
    out = topk.compute()
    if task == "classify":
        return {**out, "loss": loss, "per_image": per_image}
    loc.all_reduce()
    rows = loc.compute()
    if single:
        return {**out, **rows[0], "per_image": {**per_image, **loc.per_image()}}
    return {**out, "sweep": rows, "best": best_threshold(rows)}


def _class_probs(model, images: torch.Tensor, dense: bool) -> torch.Tensor:
    """N x C probabilities from 1 crop (4-d images) or K crops (5-d), averaging softmax over the crops.

    dense=True: the model outputs N x C x h x w maps and the class logits are their spatial mean.
    """
    crops = images.shape[1] if images.dim() == 5 else 1
    scores = model(images.flatten(0, 1) if crops > 1 or images.dim() == 5 else images)
    if dense:
        scores = scores.float().mean(dim=(2, 3))
    return average_crops(scores, crops)


def sweep_threshold(model: torch.nn.Module, loader, thresholds=DEFAULT_THRESHOLDS, **kw) -> dict:
    """Localization errors for every threshold in one pass over `loader`; returns {"threshold": best t,
    "sweep": rows, "best": row}. Use held-out TRAINING images here, never the evaluation split."""
    out = evaluate(model, loader, "localize", thresholds=list(thresholds), **kw)
    return {"threshold": out["best"]["threshold"], "sweep": out["sweep"], "best": out["best"]}
