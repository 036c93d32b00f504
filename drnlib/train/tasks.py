"""Task objects: what differs between classification, segmentation and localization, and nothing else.

A task says which model head it trains (`model_task`), which evaluation it runs (`eval_task`), its loss, its
transforms and how samples are batched. The loop in engine.py is the same for all of them.

    classify  cross-entropy on N x C logits; random-resized crop + flip + colour jitter; 1-crop / 10-crop eval
    segment   cross-entropy on full-resolution N x C x H x W logits, 255 ignored (optionally WoD's OHEM);
              DRN segment.py augmentation (rotate, scale, crop, flip); full-image eval, optional multi-scale
    localize  no training: a classification model evaluated as DRN Sec. 5.2 (dense maps, boxes)
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch.utils.data import Subset
from torchvision.transforms import v2

from drnlib import data
from drnlib.data import transforms as T
from drnlib.errors import ParameterError
from drnlib.eval.localization import pad_boxes
from drnlib.eval.metrics import IGNORE_INDEX


def shard(dataset, rank: int, world_size: int):
    """Every world_size-th sample from `rank` on (all of them in a single process)."""
    if world_size == 1:
        return dataset
    return Subset(dataset, range(rank, len(dataset), world_size))


def recipe(cfg, split: str, task: str, **overrides):
    """The data set's own transform (drnlib.data.default_transform) with the run's sizes and augmentation.
    Synthetic scenes have a fixed size and take no overrides."""
    if cfg.dataset == "synthetic":
        overrides = {}
    return data.default_transform(cfg.dataset, split, task, **overrides)


def _mean_std(dataset: str):
    """The normalisation the data layer uses for `dataset`."""
    if dataset == "cityscapes":
        return T.CITYSCAPES_MEAN, T.CITYSCAPES_STD
    if dataset == "cifar10":
        return T.CIFAR10_MEAN, T.CIFAR10_STD
    return T.IMAGENET_MEAN, T.IMAGENET_STD


class Task:
    name = "task"
    model_task = "classify"
    eval_task = "classify"
    data_task = "classify"  # the `task` argument of drnlib.data.build_dataset

    @staticmethod
    def collate(samples):
        return data.collate(samples)

    def loss(self, output: torch.Tensor, target, cfg) -> torch.Tensor:
        raise NotImplementedError

    def train_transform(self, cfg):
        raise NotImplementedError

    def eval_transform(self, cfg, ten_crop: bool = False):
        raise NotImplementedError

    def eval_batch_size(self, cfg) -> int:
        return cfg.eval_batch_size or cfg.batch_size

    # --- data sets -------------------------------------------------------------------------------------------
    def build(self, cfg, split: str, transform, task: str | None = None):
        return data.build_dataset(cfg.dataset, split, task or self.data_task, root=cfg.data_root,
                                  transform=transform, **cfg.data_options)

    def datasets(self, cfg):
        """(training set, evaluation set) with the task's transforms, limits and hold-out applied."""
        train = self.build(cfg, "train", self.train_transform(cfg))
        train = train_subset(train, cfg)
        return train, self.eval_dataset(cfg, cfg.split)

    def eval_dataset(self, cfg, split: str, ten_crop: bool = False):
        dataset = self.build(cfg, split, self.eval_transform(cfg, ten_crop))
        if cfg.limit_val:
            dataset.select(limit=cfg.limit_val)
        return dataset

    @staticmethod
    def dataset_info(dataset) -> dict:
        base = dataset
        while isinstance(base, Subset):
            base = base.dataset
        if not hasattr(base, "num_classes"):
            raise ParameterError("the training set must say its num_classes")
        return {"num_classes": base.num_classes, "class_names": list(getattr(base, "class_names", []) or [])}


def train_subset(dataset, cfg):
    """Apply limit_train and holdout: the first limit_train + holdout samples in the data set's `select` order
    (classification: round-robin over the classes, so a small slice covers every class); the last `holdout` of
    them are kept out of training (see `holdout_subset`)."""
    if not cfg.limit_train and not cfg.holdout:
        return dataset
    total = len(dataset) if not cfg.limit_train else min(len(dataset), cfg.limit_train + cfg.holdout)
    dataset.select(limit=total)
    if cfg.holdout >= len(dataset):
        raise ParameterError(f"holdout {cfg.holdout} leaves no training images of {len(dataset)}")
    return Subset(dataset, range(len(dataset) - cfg.holdout)) if cfg.holdout else dataset


def holdout_subset(dataset, cfg):
    """The held-out training images of a run (same selection as `train_subset`), e.g. for the threshold sweep."""
    total = len(dataset) if not cfg.limit_train else min(len(dataset), cfg.limit_train + cfg.holdout)
    dataset.select(limit=total)
    return Subset(dataset, range(len(dataset) - cfg.holdout, len(dataset)))


class Classification(Task):
    name = model_task = eval_task = data_task = "classify"

    def loss(self, output, target, cfg):
        return F.cross_entropy(output, target)

    def train_transform(self, cfg):
        """The data set's recipe (drnlib.data.default_transform) at crop_size: random-resized crop, flip, colour
        jitter (CIFAR-10: pad + crop + flip)."""
        return recipe(cfg, "train", "classify", size=cfg.crop_size)

    def eval_transform(self, cfg, ten_crop: bool = False):
        """Shorter side to resize_size, then the centre crop_size crop, or 10 crops (centre, corners, mirrors)."""
        if cfg.dataset in ("cifar10", "synthetic") and not ten_crop:
            return recipe(cfg, "val", "classify")  # whole 32 x 32 images
        mean, std = _mean_std(cfg.dataset)
        return T.classify_eval(cfg.crop_size, cfg.eval_resize, ten_crop=ten_crop, mean=mean, std=std)


class Segmentation(Task):
    name = model_task = eval_task = data_task = "segment"

    def loss(self, output, target, cfg):
        if cfg.ohem:
            return ohem_cross_entropy(output, target)
        return F.cross_entropy(output, target, ignore_index=IGNORE_INDEX)

    def train_transform(self, cfg):
        """DRN segment.py: [rotate] -> [random scale in [1/s, s]] -> random crop (padded, label 255) -> flip."""
        scale = (1 / cfg.scale, cfg.scale) if cfg.scale else None
        return recipe(cfg, "train", "segment", crop_size=cfg.crop_size, scale=scale, rotate=cfg.rotate)

    def eval_transform(self, cfg, ten_crop: bool = False):
        """The whole image (its shorter side resized to eval_size when given), normalised."""
        return recipe(cfg, "val", "segment", **({"size": cfg.eval_size} if cfg.eval_size else {}))

    def eval_batch_size(self, cfg) -> int:
        return cfg.eval_batch_size or 1  # whole images, whose sizes may differ


def ohem_cross_entropy(logits, target, keep_prob: float = 0.6, min_kept: int = 256):
    """WoD's bootstrapped softmax (ademxapp's OHEM): average the cross-entropy over the valid pixels whose true-class
    probability is <= keep_prob, raising that threshold when fewer than `min_kept` pixels pass. No host sync."""
    losses = F.cross_entropy(logits, target, ignore_index=IGNORE_INDEX, reduction="none").flatten()
    valid = target.flatten() != IGNORE_INDEX
    prob = torch.where(valid, torch.exp(-losses.detach()), torch.full_like(losses, 2.0))  # invalid sort last
    kth = prob.sort().values[min(min_kept, prob.numel()) - 1]  # the min_kept-th lowest probability
    threshold = torch.maximum(kth, torch.tensor(keep_prob, device=prob.device))
    keep = valid & (prob <= threshold)
    return (losses * keep).sum() / keep.sum().clamp(min=1)


class LocalizeView:
    """Sample transform for localization: (views the class is predicted from, whole image resized to
    size x size for the dense map) and a target with the label, the boxes in original pixels and the size."""

    def __init__(self, crops, size: int, mean, std):
        self.crops = crops
        self.whole = v2.Compose([v2.Resize((size, size), antialias=True), T.normalize(mean, std)])

    def __call__(self, image, target):
        h, w = image.shape[-2:]
        views = (self.crops(image), self.whole(image))
        return views, {"label": int(target["label"]), "boxes": torch.as_tensor(target["boxes"]).float().view(-1, 4),
                       "size": torch.tensor([h, w])}


def collate_localize(samples):
    """-> (crops, whole, target) with target["boxes"] padded with NaN rows (see drnlib.eval.pad_boxes)."""
    crops = torch.stack([s[0][0] for s in samples])
    whole = torch.stack([s[0][1] for s in samples])
    target = {"label": torch.tensor([s[1]["label"] for s in samples]),
              "boxes": pad_boxes([s[1]["boxes"] for s in samples]),
              "size": torch.stack([s[1]["size"] for s in samples])}
    return crops, whole, target


class Localization(Classification):
    """Evaluation only. The class comes from the classifier (1-crop or 10-crop), the box from the dense map of the
    whole image resized to crop_size x crop_size (224 -> a 28 x 28 map for DRNs, as in the paper)."""

    name = eval_task = data_task = "localize"
    model_task = "dense"
    collate = staticmethod(collate_localize)

    def loss(self, output, target, cfg):
        raise ParameterError("localization is evaluated, not trained; train with task 'classify'")

    def train_transform(self, cfg):
        return self.eval_transform(cfg)

    def eval_transform(self, cfg, ten_crop: bool = False):
        mean, std = _mean_std(cfg.dataset)
        return LocalizeView(super().eval_transform(cfg, ten_crop or cfg.ten_crop), cfg.crop_size, mean, std)


TASK_OBJECTS = {"classify": Classification(), "segment": Segmentation(), "localize": Localization()}


def get_task(name: str) -> Task:
    if name not in TASK_OBJECTS:
        raise ParameterError(f"unknown task {name!r}; expected one of {', '.join(TASK_OBJECTS)}")
    return TASK_OBJECTS[name]
