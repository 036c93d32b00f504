"""One entry point for the engine and the notebooks: build_dataset(name, split, task, ...)."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path

from drnlib.data import transforms as T
from drnlib.data.base import ImageDataset
from drnlib.data.classification import CIFAR10, ImageNet, TinyImageNet
from drnlib.data.registry import locate
from drnlib.data.segmentation import ADE20K, CamVid, Cityscapes, PascalContext, VOCAug
from drnlib.data.synthetic import SyntheticScenes
from drnlib.errors import ParameterError

DATASETS: dict[str, type] = {
    "tiny_imagenet": TinyImageNet,
    "imagenet": ImageNet,
    "cifar10": CIFAR10,
    "camvid": CamVid,
    "cityscapes": Cityscapes,
    "voc_aug": VOCAug,
    "ade20k": ADE20K,
    "pascal_context": PascalContext,
    "synthetic": SyntheticScenes,
}

# Default training crop of each segmentation data set (multiples of 8, for output stride 8).
SEGMENT_CROPS = {"camvid": 352, "cityscapes": 896, "voc_aug": 504, "ade20k": 504, "pascal_context": 480}


def list_datasets() -> list[str]:
    return list(DATASETS)


def dataset_class(name: str) -> type:
    if name not in DATASETS:
        raise ParameterError(f"unknown data set {name!r}; known: {', '.join(DATASETS)}")
    return DATASETS[name]


def check_task(name: str, task: str) -> None:
    """Refuse a task that data set `name` cannot serve, before anything of it is read.

    Each data set class lists its tasks in `tasks`: "classify" needs image labels, "localize" labels and bounding
    boxes (DRN Sec. 5.2: ImageNet, Tiny ImageNet), "segment" per-pixel masks. build_dataset and default_transform
    call this first, so the engine, evaluation and notebooks all get this message rather than a failure deeper down.
    Raises ParameterError (unknown data set or task, or a pair that does not fit) naming the tasks the data set
    serves and the data sets that serve `task`.
    """
    cls = dataset_class(name)
    if task in cls.tasks:
        return
    serving = [n for n, c in DATASETS.items() if task in c.tasks]
    if not serving:
        known = sorted({t for c in DATASETS.values() for t in c.tasks})
        raise ParameterError(f"unknown task {task!r}; the data sets serve {', '.join(known)}")
    need = " (localization needs bounding boxes)" if task == "localize" else ""
    served = ", ".join(cls.tasks[:-1]) + " and " + cls.tasks[-1] if len(cls.tasks) > 1 else cls.tasks[0]
    raise ParameterError(f"data set {name} serves {served} only, not {task}{need}; {task} needs one of: "
                         f"{', '.join(serving)}")


def build_dataset(
    name: str,
    split: str = "train",
    task: str | None = None,
    root: str | Path | None = None,
    transform: Callable | str | None = None,
    limit: int | None = None,
    per_class: int | None = None,
    download: bool | None = None,
    **options,
) -> ImageDataset | SyntheticScenes:
    """Data set `name`, split `split`, for `task` ("classify", "localize" or "segment"; default: its first).
    A task the data set cannot serve raises ParameterError before anything is read (see check_task).

    root: the data folder; default: found by drnlib.data.registry.locate (shared archive -> cache -> download).
    transform: a callable (image, target) -> (image, target), "default" for default_transform(...), or None
      for the raw uint8 image and target.
    limit / per_class: keep a deterministic slice (see ClassificationDataset.select).
    options: for "synthetic" only (num_samples, image_size, num_classes, object_scale, thinness, clutter, seed).
    """
    cls = dataset_class(name)
    task = task or cls.tasks[0]
    check_task(name, task)  # before the data are located, unpacked or read
    if transform == "default":
        transform = default_transform(name, split, task)
    elif isinstance(transform, str):
        raise ParameterError(f"transform must be a callable, None or 'default', got {transform!r}")
    if cls is SyntheticScenes:
        if root is not None:
            raise ParameterError("synthetic: generated data has no root")
        unknown = sorted(set(options) - set(inspect.signature(SyntheticScenes).parameters) - {"split", "task",
                                                                                                 "transform"})
        if unknown:
            raise ParameterError(f"{name}: unknown option(s) {', '.join(unknown)}; its options: num_samples, "
                                 "image_size, num_classes, object_scale, thinness, clutter, seed")
        dataset = SyntheticScenes(split, task, transform, **options)
    else:
        if options:
            raise ParameterError(f"{name}: unknown option(s) {', '.join(sorted(options))}")
        dataset = cls(locate(name, root, download), split, task, transform)
    if limit is not None or per_class is not None:
        dataset.select(limit, per_class)
    return dataset


def default_transform(name: str, split: str, task: str | None = None, **overrides) -> Callable:
    """The training or evaluation recipe for a data set (training for splits that start with "train").

    classification: ImageNet 224 (RandomResizedCrop + flip + jitter 0.4; eval 256 -> centre 224);
      Tiny ImageNet 64 (crop scale 0.25..1; eval: the full 64x64 image); CIFAR-10: pad 4 + crop + flip;
      synthetic: flip only, at the generated size unless size= is given (every class is mirror-symmetric as
      a class; object scale and thinness are the experiment, so no scale augmentation).
    segmentation: random scale 0.5..2, crop SEGMENT_CROPS[name] (padded with 255), flip; eval: full image.
    Cityscapes uses its own mean/std (DRN info.json), CIFAR-10 its own, everything else ImageNet's.
    Keyword arguments override the recipe's (e.g. size=, crop_size=, scale=, rotate=, color_jitter=).
    """
    task = task or dataset_class(name).tasks[0]
    check_task(name, task)  # a recipe for a task the data set cannot serve would fail obscurely
    train = split.startswith("train")
    if name == "cifar10":
        return T.cifar_train(**overrides) if train else T.cifar_eval(**overrides)
    if name == "synthetic":  # geometry untouched (object scale and thinness are the experiment): flips only
        if task == "segment":
            recipe = {"crop_size": None, "scale": None, "rotate": 0}
            return T.segment_train(**{**recipe, **overrides}) if train else T.segment_eval(**overrides)
        size = overrides.pop("size", None)  # given: resize the whole image to size x size
        if train:
            recipe = {"size": size, "scale": (1.0, 1.0), "ratio": (1.0, 1.0), "color_jitter": 0}
            return T.classify_train(**{**recipe, **overrides}) if size else T.flip_normalize(**overrides)
        return T.classify_eval(**{"size": size, "resize": size, **overrides}) if size else T.normalize(**overrides)
    if task == "segment":
        stats = {"mean": T.CITYSCAPES_MEAN, "std": T.CITYSCAPES_STD} if name == "cityscapes" else {}
        if train:
            return T.segment_train(**{"crop_size": SEGMENT_CROPS[name], **stats, **overrides})
        return T.segment_eval(**{**stats, **overrides})
    if name == "tiny_imagenet":
        if train:
            return T.classify_train(**{"size": 64, "scale": (0.25, 1.0), **overrides})
        return T.classify_eval(**{"size": 64, "resize": 64, **overrides})
    return T.classify_train(**overrides) if train else T.classify_eval(**overrides)
