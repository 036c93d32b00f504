"""Joint image/target transforms (torchvision.transforms.v2): the recipes of the papers.

Every transform here is called as `transform(image, target)` and returns `(image, target)`; v2 moves boxes
(tv_tensors.BoundingBoxes) and masks (tv_tensors.Mask) with the image, resizes masks with nearest neighbour,
and fills padded or rotated-in mask pixels with 255 (ignore). Images stay uint8 through the geometric steps
(fast) and become float32, normalised, at the end.

  classify_train:  RandomResizedCrop, horizontal flip, colour jitter        (DRN Sec. 5.1; WoD B.6)
  classify_eval:   resize the shorter side, centre crop; or 10-crop -> (10, C, H, W)
  cifar_train/eval: 4-pixel padding + random crop + flip (He et al.), CIFAR mean/std
  segment_train:   [rotate] -> [random scale] -> random crop (padded: image mean colour, mask 255) -> flip  (DRN segment.py)
  segment_eval:    normalise only (full image), optionally resized (shorter side)
  flip_normalize / normalize: flip + normalise / normalise only
In the segmentation recipes masks are resized with "nearest-exact" (see `resize`): aligned with image and boxes.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torchvision import tv_tensors
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as F

from drnlib.data.base import IGNORE_INDEX

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)
# fyu/drn datasets/cityscapes/info.json (RGB, [0, 1] scale).
CITYSCAPES_MEAN = (0.29010095242892997, 0.32808144844279574, 0.28696394422942517)
CITYSCAPES_STD = (0.1829540508368939, 0.18656561047509476, 0.18447508988480435)


def _normalize(mean, std) -> list:
    return [v2.ToDtype(torch.float32, scale=True), v2.Normalize(mean=list(mean), std=list(std))]


def _mean_fill(mean) -> tuple[int, ...]:
    """The mean colour as uint8 (padding with it gives ~0 after normalisation)."""
    return tuple(int(round(m * 255)) for m in mean)


def resize(inpt, size: list[int], antialias: bool = True):
    """F.resize, except that masks use "nearest-exact" (pixel centres aligned with the image and boxes).

    torchvision resizes masks with torch's "nearest", which samples source pixel floor(i * scale) and so shifts
    labels by up to half an output pixel against the (centre-aligned) image when shrinking.
    """
    if not isinstance(inpt, tv_tensors.Mask):
        return F.resize(inpt, size, antialias=antialias)
    mask = inpt.as_subclass(torch.Tensor)
    flat = mask.reshape(-1, 1, *mask.shape[-2:]).to(torch.float32)  # exact for label ids
    out = torch.nn.functional.interpolate(flat, size=list(size), mode="nearest-exact")
    return tv_tensors.wrap(out.to(mask.dtype).reshape(*mask.shape[:-2], *out.shape[-2:]), like=inpt)


class RandomScale(v2.Transform):
    """Resize image and targets by one ratio drawn uniformly from [low, high] (masks: nearest-exact)."""

    def __init__(self, low: float, high: float, antialias: bool = True):
        super().__init__()
        if not 0 < low <= high:
            raise ValueError(f"RandomScale: need 0 < low <= high, got {low}, {high}")
        self.low, self.high, self.antialias = low, high, antialias

    def make_params(self, flat_inputs):
        first = next(x for x in flat_inputs if isinstance(x, (tv_tensors.Image, tv_tensors.Mask)))
        h, w = F.get_size(first)
        ratio = float(torch.empty(1).uniform_(self.low, self.high))
        return {"size": [max(1, round(h * ratio)), max(1, round(w * ratio))]}

    def transform(self, inpt, params):
        if isinstance(inpt, (tv_tensors.Image, tv_tensors.Mask, tv_tensors.BoundingBoxes)):
            return resize(inpt, params["size"], antialias=self.antialias)
        return inpt


class ResizeShorter(v2.Transform):
    """Resize so that the shorter side is `size` (aspect kept); masks use nearest-exact."""

    def __init__(self, size: int, antialias: bool = True):
        super().__init__()
        self.size, self.antialias = int(size), antialias

    def make_params(self, flat_inputs):
        first = next(x for x in flat_inputs if isinstance(x, (tv_tensors.Image, tv_tensors.Mask)))
        h, w = F.get_size(first)
        if h <= w:
            return {"size": [self.size, max(1, round(w * self.size / h))]}
        return {"size": [max(1, round(h * self.size / w)), self.size]}

    def transform(self, inpt, params):
        if isinstance(inpt, (tv_tensors.Image, tv_tensors.Mask, tv_tensors.BoundingBoxes)):
            return resize(inpt, params["size"], antialias=self.antialias)
        return inpt


class StackCrops(torch.nn.Module):
    """After TenCrop: the tuple of 10 crops -> one (10, C, H, W) image."""

    def forward(self, crops, target=None):
        image = tv_tensors.Image(torch.stack(list(crops)))
        return image if target is None else (image, target)


def classify_train(
    size: int = 224,
    scale: tuple[float, float] = (0.08, 1.0),
    color_jitter: float = 0.4,
    mean: Sequence[float] = IMAGENET_MEAN,
    std: Sequence[float] = IMAGENET_STD,
    ratio: tuple[float, float] = (3 / 4, 4 / 3),
) -> v2.Compose:
    """Scale/aspect augmentation (Szegedy: area `scale`, aspect `ratio`) + flip + colour jitter
    (brightness/contrast/saturation; 0 = off)."""
    steps = [v2.RandomResizedCrop(size, scale=scale, ratio=ratio, antialias=True), v2.RandomHorizontalFlip()]
    if color_jitter:
        steps.append(v2.ColorJitter(brightness=color_jitter, contrast=color_jitter, saturation=color_jitter))
    return v2.Compose(steps + _normalize(mean, std))


def classify_eval(
    size: int = 224,
    resize: int = 256,
    ten_crop: bool = False,
    mean: Sequence[float] = IMAGENET_MEAN,
    std: Sequence[float] = IMAGENET_STD,
) -> v2.Compose:
    """Shorter side -> `resize`, then the centre `size` crop, or 10 crops (centre + 4 corners, and flips)."""
    crop = [v2.TenCrop(size), StackCrops()] if ten_crop else [v2.CenterCrop(size)]
    return v2.Compose([v2.Resize(resize, antialias=True), *crop, *_normalize(mean, std)])


def cifar_train(size: int = 32, padding: int = 4, mean=CIFAR10_MEAN, std=CIFAR10_STD) -> v2.Compose:
    return v2.Compose([v2.RandomCrop(size, padding=padding), v2.RandomHorizontalFlip(), *_normalize(mean, std)])


def cifar_eval(mean=CIFAR10_MEAN, std=CIFAR10_STD) -> v2.Compose:
    return v2.Compose(_normalize(mean, std))


def segment_train(
    crop_size: int | tuple[int, int] | None,
    scale: tuple[float, float] | None = (0.5, 2.0),
    rotate: float = 0,
    flip: bool = True,
    mean: Sequence[float] = IMAGENET_MEAN,
    std: Sequence[float] = IMAGENET_STD,
) -> v2.Compose:
    """DRN segment.py order: rotate -> random scale -> random crop -> flip -> normalise.

    Rotation: bilinear image, nearest mask, both filled (image: mean colour, mask: 255). Crops larger than the
    (scaled) image are padded the same way. crop_size None: no crop (whole images; batch only equal sizes).
    """
    fill = {tv_tensors.Image: _mean_fill(mean), tv_tensors.Mask: IGNORE_INDEX}
    steps = []
    if rotate:
        steps.append(v2.RandomRotation(rotate, interpolation=v2.InterpolationMode.BILINEAR, fill=fill))
    if scale is not None:
        steps.append(RandomScale(*scale))
    if crop_size:
        steps.append(v2.RandomCrop(crop_size, pad_if_needed=True, fill=fill))
    if flip:
        steps.append(v2.RandomHorizontalFlip())
    return v2.Compose(steps + _normalize(mean, std))


def segment_eval(
    size: int | None = None, mean: Sequence[float] = IMAGENET_MEAN, std: Sequence[float] = IMAGENET_STD
) -> v2.Compose:
    """Full image, normalised; with `size`, the shorter side is first resized to it (mask: nearest-exact)."""
    steps = [ResizeShorter(size)] if size else []
    return v2.Compose(steps + _normalize(mean, std))


def flip_normalize(mean: Sequence[float] = IMAGENET_MEAN, std: Sequence[float] = IMAGENET_STD) -> v2.Compose:
    """Random horizontal flip, then normalise (geometry otherwise untouched)."""
    return v2.Compose([v2.RandomHorizontalFlip(), *_normalize(mean, std)])


def normalize(mean: Sequence[float] = IMAGENET_MEAN, std: Sequence[float] = IMAGENET_STD) -> v2.Compose:
    """uint8 -> float32 in [0, 1] -> (x - mean) / std; targets unchanged."""
    return v2.Compose(_normalize(mean, std))
