"""Device-resident data: a split decoded once into uint8 tensors, kept on the training device, augmented there.

    train, val = resident_batches(train_set, val_set, batch_size=32, eval_batch_size=32, device="cuda", seed=0)
    for images, labels in train: ...        # float32 (B, 3, S, S), normalised, channels_last on CUDA; on the device

Why: a GPU step of a small network on 64 x 64 images takes less time than decoding and augmenting its batch on the
CPU, so the DataLoader path leaves the GPU waiting. Here the JPEG/PNG files are decoded once (in `workers`
processes) into `images` uint8 (N, 3, H, W) and `targets` (int64 (N,) class labels, or uint8 (N, H, W) masks with
255 = ignore), cached on disk as .npy files (drnlib.data.registry.cache_dir()/resident/, keyed by data set, split,
the selected samples and the size and modification time of their source files, so a later run loads them in a
second), and moved to the device. Every training batch is then gathered and augmented on the device, each sample
with its own random parameters drawn from a seeded torch.Generator on that device; no step waits for the host.

The augmentation is read off the data set's own torchvision.transforms.v2 recipe (drnlib.data.transforms), so
both paths train on the same distribution:
  RandomResizedCrop (Szegedy et al.; torchvision's sampler: 10 tries, then the central crop), RandomRotation,
  RandomScale, RandomCrop (padding, pad_if_needed), RandomHorizontalFlip: composed per sample into ONE affine
  map, sampled with F.affine_grid + F.grid_sample (bilinear for images, nearest for masks; out-of-image pixels
  take the recipe's fill: the mean colour for images, 255 for masks). A recipe of crops and flips only (CIFAR's
  pad-4 crop, CamVid without scaling) moves whole pixels and is done by exact integer indexing instead.
  ColorJitter(brightness, contrast, saturation) as torchvision does it, per sample (factors and order).
Differences from the loader path, all within the recipe's distribution: one resampling instead of one per step,
no antialiasing when a crop is shrunk (torchvision's antialias=True; at the recipes' sizes, Tiny ImageNet 64 ->
56 and CamVid scales of at most 2x, the difference is small), bilinear colours are not rounded to uint8 between
steps, and the random numbers come from other generators (so the two paths train on different samples).

Evaluation: the split's deterministic evaluation transform (resize, centre crop; whole images for segmentation)
runs once per image on the CPU, exactly as the loader path runs it; the result stays resident as uint8 and is
normalised batch by batch on the device with torchvision's arithmetic, so the scores equal the loader path's.

What stays on the DataLoader path (NotResident): data sets whose images differ in size (ImageNet, VOC, ADE20K),
splits that do not fit the memory budget (Cityscapes at the paper profile), recipes with a step this module has
no device version of, and, under data_path "auto", every data set but RESIDENT_DATASETS.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset, Subset
from torchvision import tv_tensors
from torchvision.transforms import v2

from drnlib.data.base import IGNORE_INDEX
from drnlib.data.loader import DataLoader
from drnlib.data.registry import cache_dir
from drnlib.data.synthetic import SyntheticScenes
from drnlib.data.transforms import RandomScale
from drnlib.errors import DataError

# The data sets the "auto" data path keeps resident: equal-size images, and small enough for any machine here.
RESIDENT_DATASETS = ("tiny_imagenet", "cifar10", "camvid", "synthetic")
CACHE_FORMAT = 1  # bump when the arrays' layout or meaning changes: older cache entries are then not used
GRAY_WEIGHTS = (0.2989, 0.587, 0.114)  # torchvision's rgb_to_grayscale (ITU-R 601-2 luma)


class NotResident(DataError):
    """This data set, split or recipe cannot be kept resident; the engine's "auto" path falls back to the
    DataLoader, a "resident" run stops with this one-line message."""


# --- decoding and the on-disk cache ------------------------------------------------------------------------------


def _unwrap(dataset) -> tuple[object, list[int]]:
    """(base data set, its sample indices) of a data set or a (nested) torch Subset of one."""
    if isinstance(dataset, Subset):
        base, indices = _unwrap(dataset.dataset)
        return base, [indices[i] for i in dataset.indices]
    return dataset, list(range(len(dataset)))


def memory_budget(device: torch.device | str) -> int:
    """Bytes the resident arrays of a run may take: half the memory available on the host (the arrays pass
    through it) and, on CUDA, half the device memory free now (the model and its activations need the rest)."""
    device = torch.device(device)
    budget = _available_host_memory() // 2
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        budget = min(budget, free // 2)
    return int(budget)


def _available_host_memory() -> int:
    """MemAvailable of /proc/meminfo (free memory plus what the page cache would give back), else free pages."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 8 << 30


def _fingerprint(base, indices: list[int]) -> str:
    """sha256 over what decides the arrays: the data set's class and label mapping, and for every selected sample
    its files (path relative to the root, size, modification time) and its label / row."""
    digest = hashlib.sha256()
    head = {"format": CACHE_FORMAT, "class": type(base).__qualname__, "name": base.name, "split": base.split,
            "task": base.task, "classes": list(getattr(base, "class_names", []) or [])}
    digest.update(json.dumps(head, sort_keys=True).encode())
    label_map = getattr(base, "label_map", None)
    if isinstance(label_map, torch.Tensor):
        digest.update(label_map.numpy().tobytes())
    root = Path(base.root)
    for index in indices:
        parts = []
        for part in base.samples[index]:
            if isinstance(part, Path):
                stat = os.stat(part)
                name = str(part.relative_to(root)) if part.is_relative_to(root) else str(part)
                parts.append(f"{name}:{stat.st_size}:{stat.st_mtime_ns}")
            elif isinstance(part, (int, str)):
                parts.append(str(part))  # class label; CIFAR pickles: row (boxes play no part in training)
        digest.update(("|".join(parts) + "\n").encode())
    return digest.hexdigest()


class _Raw(Dataset):
    """The checked, untransformed samples of a data set as (uint8 image (3, H, W), int label | uint8 mask)."""

    def __init__(self, base, indices: list[int]):
        self.base, self.indices = base, indices

    def __len__(self):
        return len(self.indices)

    def __getitem__(self, k):
        image, target = self.base.load(self.indices[k])
        if isinstance(target, torch.Tensor):  # a mask: class ids < 255 and 255 = ignore fit in uint8
            target = target.as_subclass(torch.Tensor).to(torch.uint8)
        elif isinstance(target, dict):
            target = int(target["label"])
        return image.as_subclass(torch.Tensor), target


def _as_list(batch):
    return batch


def _check_budget(what: str, count: int, sample_bytes: int, budget: int | None) -> None:
    need = count * sample_bytes
    if budget is not None and need > budget:
        raise NotResident(f"{what}: {count} images need {need / 2**30:.2f} GiB resident, over the "
                          f"{budget / 2**30:.2f} GiB memory budget; use data_path 'loader'")


def decode_split(dataset, workers: int = 0, budget: int | None = None, cache: bool = True,
                 progress: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """Decode every sample of `dataset` (a drnlib data set, or a Subset of one) once, with its own loader and
    checks and without its transform, into CPU tensors:
        images   uint8 (N, 3, H, W)
        targets  int64 (N,) class labels (classify, localize) or uint8 (N, H, W) masks, 255 = ignore (segment)
    Decoding runs in `workers` processes. With `cache`, the arrays are stored as .npy files (written atomically)
    under cache_dir()/resident/ and later calls with the same selection and unchanged files just load them.
    SyntheticScenes are taken from their in-memory rendering (`precompute()`), or rendered, never cached on disk.

    Raises NotResident when the images differ in size or the arrays exceed `budget` bytes, DataError for a
    corrupt file (the data set's own one-line message).
    """
    base, indices = _unwrap(dataset)
    what = f"{getattr(base, 'name', type(base).__name__)}/{getattr(base, 'split', '?')}"
    if not indices:
        raise DataError(f"{what}: no samples to decode")
    if isinstance(base, SyntheticScenes):
        return _synthetic_arrays(base, indices, workers, budget, what)
    if not hasattr(base, "samples") or not hasattr(base, "load"):
        raise NotResident(f"{what}: {type(base).__name__} is not a drnlib data set (no samples / load)")
    folder = None
    if cache:
        key = _fingerprint(base, indices)
        folder = cache_dir() / "resident" / f"{base.name}-{base.split}-{base.task}-{len(indices)}-{key[:16]}"
        loaded = _load_cached(folder, key, what, budget)
        if loaded is not None:
            return loaded
    images, targets = _decode(base, indices, workers, budget, what, progress)
    if folder is not None:
        _store(folder, key, images, targets, what)
    return images, targets


def _decode(base, indices, workers, budget, what, progress):
    raw = _Raw(base, indices)
    first_image, first_target = raw[0]
    shape = tuple(first_image.shape)
    mask = isinstance(first_target, torch.Tensor)
    sample_bytes = first_image.numel() + (first_target.numel() if mask else 8)
    _check_budget(what, len(indices), sample_bytes, budget)
    images = torch.empty((len(indices), *shape), dtype=torch.uint8)
    targets = torch.empty((len(indices), *shape[1:]), dtype=torch.uint8) if mask else torch.empty(
        len(indices), dtype=torch.int64)
    loader = DataLoader(raw, batch_size=64, num_workers=workers, collate_fn=_as_list)
    if progress:
        from tqdm.auto import tqdm
        loader = tqdm(loader, desc=f"decode {what}", leave=False)
    row = 0
    for batch in loader:
        for image, target in batch:
            if tuple(image.shape) != shape:
                raise NotResident(f"{what}: image {row} is {'x'.join(map(str, image.shape))}, the first one "
                                  f"{'x'.join(map(str, shape))}: images differ in size, use data_path 'loader'")
            images[row] = image
            targets[row] = target if mask else int(target)
            row += 1
    return images, targets


def _synthetic_arrays(base: SyntheticScenes, indices, workers, budget, what):
    size = base.image_size
    _check_budget(what, len(indices), 3 * size * size + (size * size if base.task == "segment" else 8), budget)
    rows = torch.as_tensor(indices)
    if base._cache is not None:  # precompute() rendered the split into memory already
        images, labels, _, masks = base._cache
        images, labels = images[rows], labels[rows].to(torch.int64)
        if base.task == "segment":
            return images, (masks[rows].to(torch.uint8) * (labels + 1).to(torch.uint8)[:, None, None])
        return images, labels
    return _decode(base, indices, workers, budget, what, False)


def _load_cached(folder: Path, key: str, what: str, budget):
    try:
        meta = json.loads((folder / "meta.json").read_text())
    except (OSError, ValueError):
        return None
    if meta.get("fingerprint") != key or meta.get("format") != CACHE_FORMAT:
        return None
    _check_budget(what, meta["count"], meta["sample_bytes"], budget)
    try:
        images = torch.from_numpy(np.load(folder / "images.npy"))
        targets = torch.from_numpy(np.load(folder / "targets.npy"))
    except (OSError, ValueError):
        return None  # damaged cache entry: decode again (and replace it)
    if len(images) != meta["count"] or len(targets) != meta["count"]:
        return None
    return images, targets


def _store(folder: Path, key: str, images: torch.Tensor, targets: torch.Tensor, what: str) -> None:
    """Write the arrays into a temporary folder next to `folder` and rename it into place: a killed or concurrent
    write never leaves a half entry under the final name."""
    parent = folder.parent
    parent.mkdir(parents=True, exist_ok=True)
    for stale in parent.glob(f".{folder.name}.tmp-*"):  # leftovers of killed writes, older than an hour
        try:
            if time.time() - stale.stat().st_mtime > 3600:
                shutil.rmtree(stale, ignore_errors=True)
        except OSError:  # removed by another process meanwhile
            pass
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.tmp-", dir=parent))
    try:
        np.save(tmp / "images.npy", images.numpy())
        np.save(tmp / "targets.npy", targets.numpy())
        sample_bytes = images[0].numel() + (targets[0].numel() if targets.dim() > 1 else 8)
        meta = {"format": CACHE_FORMAT, "fingerprint": key, "what": what, "count": len(images),
                "image_shape": list(images.shape[1:]), "sample_bytes": sample_bytes}
        (tmp / "meta.json").write_text(json.dumps(meta, indent=1) + "\n")
        if folder.exists():  # a damaged entry: replace it
            shutil.rmtree(folder, ignore_errors=True)
        os.rename(tmp, folder)
    except OSError:
        pass  # a lost race with another process writing the same entry, or a full disk: train uncached
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# --- the recipe on the device ------------------------------------------------------------------------------------


def _steps(transform) -> list:
    if transform is None:
        return []
    if isinstance(transform, v2.Compose):
        return [s for t in transform.transforms for s in _steps(t)]
    return [transform]


def split_normalize(transform, what: str = "transform") -> tuple[list, tuple, tuple]:
    """(steps before normalisation, mean, std) of a recipe that ends in ToDtype(float32, scale=True) +
    Normalize, as every drnlib.data.transforms recipe does; NotResident for any other transform."""
    steps = _steps(transform)
    if (len(steps) < 2 or not isinstance(steps[-2], v2.ToDtype) or not isinstance(steps[-1], v2.Normalize)
            or not getattr(steps[-2], "scale", False)):
        raise NotResident(f"{what} does not end in ToDtype(float32, scale=True) + Normalize: "
                          f"{', '.join(type(s).__name__ for s in steps) or 'none'}")
    return steps[:-2], tuple(float(m) for m in steps[-1].mean), tuple(float(s) for s in steps[-1].std)


def _fills(step) -> tuple[tuple[float, ...], float]:
    """(image fill, uint8 scale, per channel; mask fill) of a v2 transform's `fill` argument."""
    fill = step.fill
    if isinstance(fill, dict):
        image = fill.get(tv_tensors.Image, fill.get("others", 0))
        mask = fill.get(tv_tensors.Mask, fill.get("others", 0))
    else:
        image = mask = fill
    image = [0.0] if image is None else ([float(v) for v in image] if isinstance(image, (list, tuple))
                                         else [float(image)])
    mask = 0.0 if mask is None else float(mask[0] if isinstance(mask, (list, tuple)) else mask)
    return tuple(image * 3 if len(image) == 1 else image), mask


class DeviceAugment:
    """A drnlib/torchvision v2 training recipe, run on a batch on its device with per-sample random parameters.

    `DeviceAugment(transform)` reads the recipe (see the module docstring for the steps it knows; any other step
    raises NotResident). Calling it on uint8 images (B, 3, H, W), optional uint8 masks (B, H, W) and a
    torch.Generator on the images' device returns float32 images (B, 3, h, w) normalised with the recipe's
    mean/std and int64 masks (B, h, w) with 255 = ignore (or None). `sample()` draws the parameters alone.

    Parameters follow torchvision: RandomResizedCrop's area fraction in `scale` and log-uniform aspect in `ratio`
    (10 tries, then the central crop), RandomRotation's angle uniform in `degrees` (counter-clockwise, about the
    image centre), RandomScale's ratio uniform in [low, high] (DRN segment.py), RandomCrop's integer offset over
    the padded image (pad_if_needed pads both sides by the shortfall), flips with probability p, ColorJitter's
    factors uniform in their ranges, applied in a random order with clamping to [0, 1] after each.
    """

    GEOMETRIC = (v2.RandomResizedCrop, v2.RandomRotation, RandomScale, v2.RandomCrop, v2.RandomHorizontalFlip)

    def __init__(self, transform, what: str = "the training transform"):
        steps, self.mean, self.std = split_normalize(transform, what)
        self.steps: list[tuple] = []
        self.jitter = None
        fills = set()
        fixed_size = True  # is every sample's canvas the same known size at this point?
        for step in steps:
            name = type(step).__name__
            if self.jitter is not None and isinstance(step, self.GEOMETRIC):
                raise NotResident(f"{what}: {name} after ColorJitter has no device version")
            if isinstance(step, v2.RandomResizedCrop):
                self.steps.append(("resized_crop", tuple(step.size), tuple(step.scale), tuple(step.ratio)))
                fixed_size = True
            elif isinstance(step, v2.RandomRotation):
                if step.expand or step.center is not None:
                    raise NotResident(f"{what}: RandomRotation with expand or center has no device version")
                self.steps.append(("rotate", float(step.degrees[0]), float(step.degrees[1])))
                fills.add(_fills(step))
            elif isinstance(step, RandomScale):
                self.steps.append(("scale", float(step.low), float(step.high)))
                fixed_size = False
            elif isinstance(step, v2.RandomCrop):
                if step.padding_mode != "constant":
                    raise NotResident(f"{what}: RandomCrop with padding_mode {step.padding_mode!r}")
                padding = tuple(step.padding) if step.padding is not None else (0, 0, 0, 0)  # left, right, top, bottom
                self.steps.append(("crop", tuple(step.size), padding, bool(step.pad_if_needed)))
                fills.add(_fills(step))
                fixed_size = True
            elif isinstance(step, v2.RandomHorizontalFlip):
                self.steps.append(("flip", float(step.p)))
            elif isinstance(step, v2.ColorJitter):
                if step.hue is not None:
                    raise NotResident(f"{what}: ColorJitter(hue) has no device version")
                ranges = [step.brightness, step.contrast, step.saturation]
                self.jitter = [tuple(r) if r is not None else None for r in ranges]
            else:
                raise NotResident(f"{what}: {name} has no device version")
        if not fixed_size:
            raise NotResident(f"{what}: RandomScale without a crop after it gives images of different sizes")
        if len(fills) > 1:
            raise NotResident(f"{what}: steps with different fill values")
        self.pads = bool(fills)  # may sample outside the image (fill) rather than only at its border
        self.image_fill, self.mask_fill = next(iter(fills)) if fills else ((0.0, 0.0, 0.0), float(IGNORE_INDEX))
        kinds = {s[0] for s in self.steps}
        self.integer = kinds <= {"crop", "flip"}  # whole-pixel moves only: exact indexing, no resampling
        self._constants: dict = {}

    def __repr__(self) -> str:
        return f"DeviceAugment(steps={self.steps}, jitter={self.jitter}, integer={self.integer})"

    # -- parameters ----------------------------------------------------------------------------------------------
    def output_size(self, height: int, width: int) -> tuple[int, int]:
        size = (height, width)
        for step in self.steps:
            if step[0] in ("resized_crop", "crop"):
                size = step[1]
        return int(size[0]), int(size[1])

    def sample(self, batch: int, height: int, width: int, generator: torch.Generator) -> dict:
        """Per-sample parameters for `batch` images of height x width, drawn on the generator's device.

        Returns {"matrix": (B, 3, 3) float64 map from output pixel coordinates to source pixel coordinates
        (continuous: pixel (r, c) covers [c, c+1] x [r, r+1]), "size": (h, w) of the output, and per step what
        was drawn: "angle" (degrees), "ratio" (scale), "box" (B, 4) top, left, height, width of the
        random-resized crop, "offset" (B, 2) top, left of the crop, "flip" (B,) bool}, plus the jitter factors.
        """
        device = generator.device

        def uniform(low, high, *shape):
            return low + (high - low) * torch.rand(shape or (batch,), generator=generator, device=device,
                                                   dtype=torch.float64)

        def randint(low, high):  # integers in [low, high] per sample (tensors of shape (B,))
            draw = torch.floor(torch.rand(batch, generator=generator, device=device, dtype=torch.float64)
                               * (high - low + 1))
            return low + torch.minimum(draw, high - low)

        h = torch.full((batch,), float(height), dtype=torch.float64, device=device)
        w = torch.full((batch,), float(width), dtype=torch.float64, device=device)
        matrix = torch.eye(3, dtype=torch.float64, device=device).repeat(batch, 1, 1)
        params: dict = {}

        def then(m):  # compose: output -> this step's input -> ... -> source
            nonlocal matrix
            matrix = matrix @ m

        def affine(a, b, c, d, e, f):
            m = torch.zeros(batch, 3, 3, dtype=torch.float64, device=device)
            m[:, 0, 0], m[:, 0, 1], m[:, 0, 2], m[:, 1, 0], m[:, 1, 1], m[:, 1, 2] = a, b, c, d, e, f
            m[:, 2, 2] = 1
            return m

        zero, one = torch.zeros_like(h), torch.ones_like(h)
        for step in self.steps:
            kind = step[0]
            if kind == "rotate":
                angle = uniform(step[1], step[2])
                params["angle"] = angle
                cos, sin = torch.cos(torch.deg2rad(angle)), torch.sin(torch.deg2rad(angle))
                cx, cy = w / 2, h / 2  # output -> input of a counter-clockwise rotation about the centre
                then(affine(cos, -sin, cx - cos * cx + sin * cy, sin, cos, cy - sin * cx - cos * cy))
            elif kind == "scale":
                ratio = uniform(step[1], step[2])
                params["ratio"] = ratio
                new_h, new_w = torch.round(h * ratio).clamp(min=1), torch.round(w * ratio).clamp(min=1)
                then(affine(w / new_w, zero, zero, zero, h / new_h, zero))
                h, w = new_h, new_w
            elif kind == "resized_crop":
                (out_h, out_w), scale, ratio = step[1], step[2], step[3]
                top, left, ch, cw = self._resized_crop_box(h, w, scale, ratio, uniform, randint)
                params["box"] = torch.stack([top, left, ch, cw], dim=1)
                then(affine(cw / out_w, zero, left, zero, ch / out_h, top))
                h, w = torch.full_like(h, out_h), torch.full_like(w, out_w)
            elif kind == "crop":
                (out_h, out_w), (pad_l, pad_r, pad_t, pad_b), if_needed = step[1], step[2], step[3]
                tops, lefts = [], []
                for size, pad_lo, pad_hi, extent, store in ((out_h, pad_t, pad_b, h, tops),
                                                            (out_w, pad_l, pad_r, w, lefts)):
                    padded = extent + pad_lo + pad_hi
                    short = (size - padded).clamp(min=0) if if_needed else torch.zeros_like(padded)
                    before = pad_lo + short
                    store.append(randint(zero, (padded + 2 * short - size).clamp(min=0)) - before)
                top, left = tops[0], lefts[0]
                params["offset"] = torch.stack([top, left], dim=1)
                then(affine(one, zero, left, zero, one, top))
                h, w = torch.full_like(h, out_h), torch.full_like(w, out_w)
            elif kind == "flip":
                flip = torch.rand(batch, generator=generator, device=device) < step[1]
                params["flip"] = flip
                sign = torch.where(flip, -one, one)
                then(affine(sign, zero, torch.where(flip, w, zero), zero, one, zero))
        params["matrix"] = matrix
        params["size"] = self.output_size(height, width)
        if self.jitter is not None:
            factors = []
            for rng in self.jitter:
                factors.append(uniform(*rng).float() if rng is not None else torch.ones(batch, device=device))
            params["jitter"] = torch.stack(factors, dim=1)  # brightness, contrast, saturation
            params["jitter_order"] = torch.rand(batch, 3, generator=generator, device=device).argsort(dim=1)
        return params

    @staticmethod
    def _resized_crop_box(h, w, scale, ratio, uniform, randint, tries: int = 10):
        """torchvision's RandomResizedCrop.make_params for every sample at once: `tries` candidates (area fraction
        uniform in `scale`, aspect log-uniform in `ratio`), the first that fits; else the central crop."""
        batch = h.shape[0]
        area = (h * w)[:, None]
        target = area * uniform(scale[0], scale[1], batch, tries)
        aspect = torch.exp(uniform(math.log(ratio[0]), math.log(ratio[1]), batch, tries))
        cw, ch = torch.round(torch.sqrt(target * aspect)), torch.round(torch.sqrt(target / aspect))
        fits = (cw > 0) & (cw <= w[:, None]) & (ch > 0) & (ch <= h[:, None])
        first = fits.to(torch.int8).argmax(dim=1, keepdim=True)
        cw, ch = cw.gather(1, first)[:, 0], ch.gather(1, first)[:, 0]
        top, left = randint(torch.zeros_like(h), h - ch), randint(torch.zeros_like(w), w - cw)
        # fallback: the central crop, its aspect clamped to the range
        in_ratio = w / h
        fb_w = torch.where(in_ratio < min(ratio), w, torch.where(in_ratio > max(ratio), torch.round(h * max(ratio)), w))
        fb_h = torch.where(in_ratio < min(ratio), torch.round(w / min(ratio)),
                           torch.where(in_ratio > max(ratio), h, h))
        ok = fits.any(dim=1)
        cw, ch = torch.where(ok, cw, fb_w), torch.where(ok, ch, fb_h)
        top = torch.where(ok, top, torch.floor((h - ch) / 2))
        left = torch.where(ok, left, torch.floor((w - cw) / 2))
        return top, left, ch, cw

    # -- applying them -------------------------------------------------------------------------------------------
    def _constant(self, name, device: torch.device, values=None, dtype=torch.float32) -> torch.Tensor:
        """A small constant tensor on `device`, made once: copying it from the host at every step would make the
        host wait for the device. Named ones are per-channel (1, C, 1, 1); others give their `values`."""
        key = (name, str(device), dtype)
        if key not in self._constants:
            if values is None:
                values = {"mean": self.mean, "std": self.std, "fill": [v / 255 for v in self.image_fill],
                          "gray": GRAY_WEIGHTS}[name]
                self._constants[key] = torch.tensor(values, dtype=dtype, device=device).view(1, -1, 1, 1)
            else:
                self._constants[key] = torch.tensor(values, dtype=dtype, device=device)
        return self._constants[key]

    def __call__(self, images: torch.Tensor, masks: torch.Tensor | None, generator: torch.Generator,
                 params: dict | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        batch, _, height, width = images.shape
        params = self.sample(batch, height, width, generator) if params is None else params
        out_h, out_w = params["size"]
        if self.integer:
            images, masks = self._move_pixels(images, masks, params["matrix"], out_h, out_w)
            x = images.to(torch.float32).mul_(1.0 / 255)
        else:
            x, masks = self._resample(images, masks, params["matrix"], out_h, out_w)
        if self.jitter is not None:
            x = self._color_jitter(x, params["jitter"], params["jitter_order"])
        x = x.sub_(self._constant("mean", x.device)).div_(self._constant("std", x.device))
        return x, (masks.to(torch.int64) if masks is not None else None)

    def _move_pixels(self, images, masks, matrix, out_h, out_w):
        """Whole-pixel translations and flips: output pixel (r, c) takes source pixel (a r + b) exactly, or the
        fill where that lies outside the image."""
        _, channels, height, width = images.shape
        device = images.device

        def source_index(axis, count, extent):
            k = torch.arange(count, device=device, dtype=torch.float64) + 0.5
            index = matrix[:, axis, axis, None] * k + matrix[:, axis, 2, None] - 0.5
            index = torch.round(index).to(torch.int64)
            return index.clamp(0, extent - 1), (index >= 0) & (index < extent)

        rows, row_ok = source_index(1, out_h, height)
        cols, col_ok = source_index(0, out_w, width)
        inside = row_ok[:, :, None] & col_ok[:, None, :]  # (B, h, w)

        def take(x):  # x: (B, C, H, W) -> (B, C, h, w)
            c = x.shape[1]
            x = x.gather(2, rows[:, None, :, None].expand(-1, c, -1, x.shape[3]))
            return x.gather(3, cols[:, None, None, :].expand(-1, c, out_h, -1))

        fill = self._constant("uint8 fill", device, [round(v) for v in self.image_fill], images.dtype)
        images = torch.where(inside[:, None], take(images), fill.view(1, -1, 1, 1))
        if masks is not None:
            masks = torch.where(inside, take(masks[:, None])[:, 0],
                                torch.full_like(masks[:1, :1, :1], int(self.mask_fill)))
        return images, masks

    def _resample(self, images, masks, matrix, out_h, out_w):
        """One affine resampling per sample: bilinear images, nearest masks, fill outside the image. The whole
        source images pass through memory once (uint8 -> float32, which grid_sample needs); everything else
        happens at the output size, including the fill: sampling with zeros outside and adding the fill times the
        weight that fell outside equals sampling (image - fill) and adding the fill back."""
        batch, channels, height, width = images.shape
        device = images.device
        # pixel coordinates -> affine_grid's [-1, 1] (align_corners=False: -1 and 1 are the outer pixel edges)
        to_source = self._constant(("to source", height, width), device,
                                   [[2 / width, 0, -1], [0, 2 / height, -1], [0, 0, 1]], torch.float64)
        from_output = self._constant(("from output", out_h, out_w), device,
                                     [[out_w / 2, 0, out_w / 2], [0, out_h / 2, out_h / 2], [0, 0, 1]], torch.float64)
        theta = (to_source @ matrix @ from_output)[:, :2].to(torch.float32)
        grid = F.affine_grid(theta, [batch, channels, out_h, out_w], align_corners=False)
        # grid_sample's own source coordinates: pixel centres at integers
        ix = ((grid[..., 0] + 1) * width - 1) / 2
        iy = ((grid[..., 1] + 1) * height - 1) / 2
        if self.pads:
            x = F.grid_sample(images.to(torch.float32), grid, mode="bilinear", padding_mode="zeros",
                              align_corners=False)
            outside = 1 - (self._inside_weight(ix, width) * self._inside_weight(iy, height))[:, None]
            x = x.add_(outside * self._constant("fill255", device, [[v] for v in self.image_fill]).view(1, -1, 1, 1))
        else:  # crops inside the image: the border pixel repeats (torchvision's resize clamps at the border)
            x = F.grid_sample(images.to(torch.float32), grid, mode="bilinear", padding_mode="border",
                              align_corners=False)
        x = x.mul_(1.0 / 255)
        if masks is not None:  # nearest keeps labels integral; grid_sample's nearest rounds half to even
            sampled = F.grid_sample(masks[:, None].to(torch.float32), grid, mode="nearest", padding_mode="zeros",
                                    align_corners=False)[:, 0]
            rows, cols = torch.round(iy), torch.round(ix)
            inside = (rows >= 0) & (rows <= height - 1) & (cols >= 0) & (cols <= width - 1)
            masks = torch.where(inside, sampled, torch.full_like(sampled[:1, :1, :1], self.mask_fill)).to(torch.uint8)
        return x, masks

    @staticmethod
    def _inside_weight(coord: torch.Tensor, extent: int) -> torch.Tensor:
        """The share of a bilinear sample at `coord` (pixel centres at integers) that falls on pixels 0..extent-1."""
        low = torch.floor(coord)
        frac = coord - low
        return (1 - frac) * ((low >= 0) & (low <= extent - 1)) + frac * ((low >= -1) & (low <= extent - 2))

    def _color_jitter(self, x, factors, order):
        """torchvision's ColorJitter on float images in [0, 1], per sample. Each of its adjustments blends the
        image with a reference, clamped to [0, 1]: brightness with black, contrast with the mean grey level,
        saturation with the grey image (x * f + ref * (1 - f)); they run in the sample's own random order, and an
        adjustment that is off has f = 1 (the identity)."""
        gray_weights = self._constant("gray", x.device)
        for position in range(3):
            op = order[:, position]
            f = factors.gather(1, op[:, None]).view(-1, 1, 1, 1)
            gray = (x * gray_weights).sum(dim=1, keepdim=True)
            op = op.view(-1, 1, 1, 1)
            ref = torch.where(op == 2, gray, torch.where(op == 1, gray.mean(dim=(2, 3), keepdim=True),
                                                         torch.zeros_like(gray[:, :, :1, :1])))
            x = (x * f + ref * (1 - f)).clamp_(0, 1)
        return x


# --- batches for the engine ---------------------------------------------------------------------------------------


def _seed(*parts: int) -> int:
    return int(np.random.SeedSequence([int(p) for p in parts]).generate_state(1, np.uint64)[0] >> 1)


class ResidentTrainBatches:
    """An epoch of training batches drawn from device-resident arrays: a random order (one permutation per
    epoch, the same in every process, each process taking every world_size-th sample like DistributedSampler
    with drop_last), then `augment` on the device. Iterating yields (images float32 (B, 3, h, w), targets)
    on the device; len() is the number of batches per epoch (the last incomplete batch is dropped).

    Random state: two generators on the device, the order (seeded by `seed`) and the augmentation (seeded by
    `seed` and the rank); `rng_state()` / `load_rng_state()` carry them through a checkpoint.
    """

    def __init__(self, images: torch.Tensor, targets: torch.Tensor, augment: DeviceAugment, batch_size: int,
                 seed: int, rank: int = 0, world_size: int = 1, channels_last: bool = False):
        self.images, self.targets, self.augment = images, targets, augment
        self.batch_size, self.rank, self.world_size = batch_size, rank, world_size
        self.channels_last = channels_last
        self.device = images.device
        self.order = torch.Generator(device=self.device).manual_seed(_seed(seed, 0))
        self.random = torch.Generator(device=self.device).manual_seed(_seed(seed, 1, rank))
        self.per_process = len(images) // world_size

    def __len__(self) -> int:
        return self.per_process // self.batch_size

    def set_epoch(self, epoch: int) -> None:
        """The generators carry on from epoch to epoch (their state is in the checkpoint)."""

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        order = torch.randperm(len(self.images), generator=self.order, device=self.device)
        order = order[: self.per_process * self.world_size][self.rank:: self.world_size]
        masks = self.targets.dim() == 3
        for k in range(len(self)):
            index = order[k * self.batch_size: (k + 1) * self.batch_size]
            images, targets = self.images[index], self.targets[index]
            with torch.no_grad():
                images, augmented = self.augment(images, targets if masks else None, self.random)
            if self.channels_last:
                images = images.contiguous(memory_format=torch.channels_last)
            yield images, (augmented if masks else targets)

    def rng_state(self) -> dict:
        return {"resident_order": self.order.get_state(), "resident_augment": self.random.get_state(),
                "resident_device": self.device.type}

    def load_rng_state(self, state: dict, epoch: int, seed: int) -> None:
        """Continue a checkpoint's random streams; on another kind of device (whose generators cannot take that
        state) start streams seeded by (seed, epoch) instead."""
        if state.get("resident_device") == self.device.type and "resident_order" in state:
            self.order.set_state(state["resident_order"])
            self.random.set_state(state["resident_augment"])
        else:
            self.order.manual_seed(_seed(seed, 0, epoch))
            self.random.manual_seed(_seed(seed, 1, self.rank, epoch))


class ResidentEvalBatches:
    """Evaluation batches in order from device-resident, already transformed uint8 images: each batch is
    normalised on the device exactly as torchvision's ToDtype(scale=True) + Normalize do it. Targets: int64
    labels (B,) or masks (B, H, W)."""

    def __init__(self, images: torch.Tensor, targets: torch.Tensor, mean, std, batch_size: int,
                 channels_last: bool = False):
        self.images, self.targets, self.batch_size = images, targets, batch_size
        self.channels_last = channels_last
        self.mean = torch.as_tensor(mean, dtype=torch.float32, device=images.device).view(-1, 1, 1)
        self.std = torch.as_tensor(std, dtype=torch.float32, device=images.device).view(-1, 1, 1)

    def __len__(self) -> int:
        return math.ceil(len(self.images) / self.batch_size)

    def __iter__(self):
        for start in range(0, len(self.images), self.batch_size):
            images = self.images[start: start + self.batch_size]
            if images.dtype == torch.uint8:  # torchvision: image.to(float32).mul_(1 / 255), then sub(mean).div_(std)
                images = images.to(torch.float32).mul_(1.0 / 255)
            images = images.sub(self.mean).div_(self.std)
            if self.channels_last:
                images = images.contiguous(memory_format=torch.channels_last)
            targets = self.targets[start: start + self.batch_size]
            yield images, (targets.to(torch.int64) if targets.dim() == 3 else targets)


def eval_arrays(dataset, workers: int = 0, budget: int | None = None, cache: bool = True):
    """(images, targets, mean, std) of an evaluation split: decoded (cached), then the split's deterministic
    transform up to normalisation applied once per image on the CPU, exactly as the loader path applies it.
    images: uint8 (N, 3, h, w) (float32 if the transform makes floats); targets as decode_split. NotResident
    when the transformed images differ in size (whole images of different sizes) or the transform is random."""
    base, _ = _unwrap(dataset)
    what = f"{getattr(base, 'name', '?')}/{getattr(base, 'split', '?')}"
    steps, mean, std = split_normalize(getattr(base, "transform", None), f"{what}: the evaluation transform")
    for step in steps:
        if type(step).__name__.startswith("Random") or isinstance(step, (v2.ColorJitter, v2.TenCrop)):
            raise NotResident(f"{what}: the evaluation transform has a random or multi-crop step "
                              f"({type(step).__name__})")
    images, targets = decode_split(dataset, workers, budget, cache)
    if not steps:
        return images, targets, mean, std
    prefix = v2.Compose(steps)
    masks = targets.dim() == 3
    out_images, out_targets = [], []
    for k in range(len(images)):
        target = tv_tensors.Mask(targets[k].to(torch.int64)) if masks else int(targets[k])
        image, target = prefix(tv_tensors.Image(images[k]), target)
        out_images.append(image.as_subclass(torch.Tensor))
        out_targets.append(target.as_subclass(torch.Tensor).to(torch.uint8) if masks else target)
    if len({tuple(i.shape) for i in out_images}) > 1:
        raise NotResident(f"{what}: the evaluation images differ in size after the transform")
    targets = torch.stack(out_targets) if masks else torch.as_tensor(out_targets, dtype=torch.int64)
    return torch.stack(out_images), targets, mean, std


def resident_batches(train_set, val_set, *, batch_size: int, eval_batch_size: int, device, seed: int = 0,
                     rank: int = 0, world_size: int = 1, channels_last: bool = False, workers: int = 0,
                     require: bool = False, budget: int | None = None, cache: bool = True):
    """(ResidentTrainBatches, ResidentEvalBatches) for a run: both splits decoded (cached), moved to `device`,
    the training recipe read from train_set's transform, the evaluation split sharded by rank.

    require=False ("auto"): NotResident at once for data sets outside RESIDENT_DATASETS. Always NotResident
    (one line, with the reason) for images of different sizes, a split over the memory budget (default
    memory_budget(device), shared by both splits) or a recipe step without a device version.
    """
    device = torch.device(device)
    base, _ = _unwrap(train_set)
    name = getattr(base, "name", type(base).__name__)
    if not require and name not in RESIDENT_DATASETS:
        raise NotResident(f"{name}: not one of the data sets kept resident under data_path 'auto' "
                          f"({', '.join(RESIDENT_DATASETS)})")
    augment = DeviceAugment(getattr(base, "transform", None), f"{name}: the training transform")
    budget = memory_budget(device) if budget is None else budget
    images, targets = decode_split(train_set, workers, budget, cache)
    used = images.numel() + targets.numel() * targets.element_size()
    val_images, val_targets, mean, std = eval_arrays(val_set, workers, budget - used, cache)
    if world_size > 1:
        val_images, val_targets = val_images[rank::world_size], val_targets[rank::world_size]
    train = ResidentTrainBatches(images.to(device), targets.to(device), augment, batch_size, seed, rank,
                                 world_size, channels_last)
    val = ResidentEvalBatches(val_images.to(device), val_targets.to(device), mean, std, eval_batch_size,
                              channels_last)
    return train, val


__all__ = ["RESIDENT_DATASETS", "DeviceAugment", "NotResident", "ResidentEvalBatches", "ResidentTrainBatches",
           "decode_split", "eval_arrays", "memory_budget", "resident_batches", "split_normalize"]
