"""Counting metrics: top-k error (classification) and the confusion matrix (segmentation).

Every metric here is a running sum kept on the device of its inputs, so a loop can call `update` on each batch
without a host sync; `compute` turns the sums into percentages once at the end. `all_reduce` adds the sums of
every process of a torch.distributed run (sums are exact, so a sharded evaluation equals a single-process one).

All reported numbers are percentages (0-100), like the papers' tables.
"""

from __future__ import annotations

import math

import torch
import torch.distributed as dist

from drnlib.errors import DataError

IGNORE_INDEX = 255


def _all_reduce(tensor: torch.Tensor) -> torch.Tensor:
    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        dist.all_reduce(tensor)
    return tensor


def gather_per_image(rows: list[torch.Tensor]) -> torch.Tensor | None:
    """Per-image rows collected batch by batch (each N x ...), as one tensor on the CPU in the order of the data
    set. In a torch.distributed run each process evaluated every world_size-th image from its rank on
    (drnlib.train.tasks.shard); the processes' rows are gathered and interleaved back into that order."""
    local = torch.cat(rows).cpu() if rows else None
    if not (dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1):
        return local
    parts = [None] * dist.get_world_size()
    dist.all_gather_object(parts, local)
    parts = [p for p in parts if p is not None]
    if not parts:
        return None
    out = torch.empty((sum(len(p) for p in parts), *parts[0].shape[1:]), dtype=parts[0].dtype)
    for rank, part in enumerate(parts):
        out[rank::len(parts)] = part
    return out


def topk_correct(scores: torch.Tensor, target: torch.Tensor, ks=(1, 5)) -> torch.Tensor:
    """Number of samples whose true class is among the k highest scores, for each k in `ks`.

    scores: N x C (logits or probabilities; only their order matters), target: N class indices.
    A k larger than C is clamped to C (with 3 classes, "top-5" means "any of the 3"). Ties between scores are
    broken by torch.topk, which is not specified to prefer any index; exact ties are rare with float scores.
    """
    if scores.dim() != 2:
        raise ValueError(f"scores must be N x C, got shape {tuple(scores.shape)}")
    maxk = min(max(ks), scores.shape[1])
    top = scores.topk(maxk, dim=1).indices  # N x maxk, best first
    hit = top.eq(target.view(-1, 1))  # at most one True per row
    return torch.stack([hit[:, : min(k, maxk)].any(dim=1).sum() for k in ks])


class TopKMeter:
    """Running top-k error over batches: `update(scores, target)`, then `compute()` -> {"top1_error": .., ...}."""

    def __init__(self, ks=(1, 5), device=None):
        self.ks = tuple(ks)
        self.correct = torch.zeros(len(self.ks), dtype=torch.int64, device=device)
        self.count = torch.zeros((), dtype=torch.int64, device=device)
        self.hits: list[torch.Tensor] = []  # per image: N x len(ks) bool, kept on the device until compute()

    def update(self, scores: torch.Tensor, target: torch.Tensor) -> None:
        if self.correct.device != scores.device:
            self.correct, self.count = self.correct.to(scores.device), self.count.to(scores.device)
        maxk = min(max(self.ks), scores.shape[1])
        hit = scores.topk(maxk, dim=1).indices.eq(target.view(-1, 1))
        per_image = torch.stack([hit[:, : min(k, maxk)].any(dim=1) for k in self.ks], dim=1)
        self.hits.append(per_image)
        self.correct += per_image.sum(dim=0)
        self.count += target.numel()

    def per_image(self) -> dict:
        """{"top1_wrong": [0/1 per image], ...} in the data set's order (the claims' bootstrap needs them)."""
        hits = gather_per_image(self.hits)
        if hits is None:
            return {}
        return {f"top{k}_wrong": (~hits[:, i]).int().tolist() for i, k in enumerate(self.ks)}

    def all_reduce(self) -> None:
        _all_reduce(self.correct)
        _all_reduce(self.count)

    def compute(self) -> dict:
        n = int(self.count)
        correct = self.correct.tolist()
        out = {f"top{k}_error": (100.0 * (1 - c / n) if n else math.nan) for k, c in zip(self.ks, correct)}
        out["images"] = n
        return out


def confusion_matrix(pred: torch.Tensor, target: torch.Tensor, num_classes: int,
                     ignore_index: int = IGNORE_INDEX) -> torch.Tensor:
    """C x C int64 matrix, rows = true class, columns = predicted class; pixels labelled `ignore_index` are skipped.

    pred and target are integer tensors of the same shape (any shape). A target id outside [0, C) that is not the
    ignore index is a data error, raised as DataError (this check syncs once per call).
    """
    if pred.shape != target.shape:
        raise DataError(f"prediction shape {tuple(pred.shape)} does not match label shape {tuple(target.shape)}")
    target = target.reshape(-1).long()
    pred = pred.reshape(-1).long()
    valid = target != ignore_index
    target, pred = target[valid], pred[valid]
    if target.numel() and bool(((target < 0) | (target >= num_classes)).any()):
        bad = sorted(set(target[(target < 0) | (target >= num_classes)].unique().tolist()))[:5]
        raise DataError(f"label ids {bad} out of range for {num_classes} classes (and not the ignore id {ignore_index})")
    return torch.bincount(target * num_classes + pred, minlength=num_classes * num_classes).view(
        num_classes, num_classes)


def segmentation_scores(conf: torch.Tensor, class_names=None) -> dict:
    """Per-class IoU, mIoU, pixel accuracy and mean class accuracy (percentages) from a confusion matrix.

    IoU_c = TP / (TP + FP + FN) = diag / (row sum + column sum - diag), as DRN's segment.py.
    A class with no pixel in the labels *and* none in the predictions has IoU NaN and is left out of the mean
    (nanmean over classes present in labels or predictions). A class that is predicted but absent from the labels
    has IoU 0 and counts. Class accuracy = TP / (row sum), NaN for classes absent from the labels; mean accuracy
    is its nanmean. Pixel accuracy = trace / total (ignored pixels are not in the matrix).
    """
    conf = conf.double().cpu()
    tp = conf.diag()
    in_labels = conf.sum(dim=1)
    in_preds = conf.sum(dim=0)
    union = in_labels + in_preds - tp
    iou = torch.where(union > 0, tp / union.clamp(min=1), torch.full_like(tp, math.nan))
    acc = torch.where(in_labels > 0, tp / in_labels.clamp(min=1), torch.full_like(tp, math.nan))
    total = conf.sum()
    out = {
        "miou": 100.0 * float(iou.nanmean()) if (union > 0).any() else math.nan,
        "pixel_acc": 100.0 * float(tp.sum() / total) if total > 0 else math.nan,
        "mean_acc": 100.0 * float(acc.nanmean()) if (in_labels > 0).any() else math.nan,
        "iou": [100.0 * v for v in iou.tolist()],
        "pixels": int(total),
    }
    if class_names is not None:
        out["class_names"] = list(class_names)
    return out


class ConfusionMeter:
    """Running confusion matrix on the device: `update(pred, target)` per batch, then `compute()`."""

    def __init__(self, num_classes: int, ignore_index: int = IGNORE_INDEX, device=None, class_names=None):
        self.num_classes = num_classes
        self.ignore_index = ignore_index
        self.class_names = class_names
        self.matrix = torch.zeros(num_classes, num_classes, dtype=torch.int64, device=device)
        self.images: list[torch.Tensor] = []  # per image: N x C x C, kept on the device until compute()

    def update(self, pred: torch.Tensor, target: torch.Tensor) -> None:
        """pred, target: N x H x W class ids (255 = ignore in target)."""
        if self.matrix.device != pred.device:
            self.matrix = self.matrix.to(pred.device)
        target = target.to(pred.device)
        c = self.num_classes
        if pred.dim() < 3:
            pred, target = pred.unsqueeze(0), target.unsqueeze(0)
        # check the labels once for the batch, then one confusion matrix per image (offset bincount, no loop)
        self.matrix += confusion_matrix(pred, target, c, self.ignore_index)
        image = torch.arange(len(pred), device=pred.device).view(-1, *[1] * (pred.dim() - 1)).expand_as(pred)
        valid = target != self.ignore_index
        index = (image * c * c + target.long() * c + pred.long())[valid]
        self.images.append(torch.bincount(index, minlength=len(pred) * c * c).view(len(pred), c, c))

    def per_image(self) -> dict:
        """{"confusion": N x C x C nested lists}: each image's own confusion matrix, in the data set's order."""
        images = gather_per_image(self.images)
        return {} if images is None else {"confusion": images.tolist()}

    def all_reduce(self) -> None:
        _all_reduce(self.matrix)

    def compute(self) -> dict:
        """The scores of segmentation_scores, and the matrix itself as "confusion" (rows: true class)."""
        return {**segmentation_scores(self.matrix, self.class_names), "confusion": self.matrix.tolist()}
