"""Generated scenes with one small or thin key object on clutter: a controlled test of the DRN claim that
output resolution helps with small and thin objects, and the fallback data for smoke runs.

Each sample, drawn from its own generator seeded by (seed, split, index), holds:
  * a smooth random colour background with fine variation and uniform pixel noise (amount: `clutter`);
  * distractors (`round(12 * clutter)` of them): thin arcs and crosses in the same colours and textures as the
    objects, but of shapes no class has, so neither colour nor texture alone gives the class away;
  * the key object, drawn last (never occluded): one of 4 shapes x 3 textures = up to 12 classes,
      shapes   bar, ellipse, wedge (tapers to a point), diamond (tapers at both ends),
      textures solid, bands (5 bands of the colour and its complement along the length),
               ramp (the colour fading into its complement along the length);
    class k uses shape k % 4 and texture k // 4. Length = object_scale * image_size (+-10 %), width =
    max(length / thinness, 1 px), random angle and position (fully inside), random colour.
Its class label, box and pixel mask come from the same rendered coverage: the mask is the pixels at least
half covered by the object (or, for a sub-pixel object, its most covered pixels) and the box is the mask's
extent, so box and mask agree exactly.

Shapes are rendered 4x supersampled within their own window, vectorised with numpy (a few ms a sample at 64 px,
about 4x that at 128 px). Pixels see only + - * / sqrt floor, comparisons and 16-value means in float64, with
trigonometry on Python scalars, and all randomness comes from numpy's PCG64 seeded by (seed, split, index), so
samples are identical across runs, machines and processes.
Targets follow drnlib's convention; for `task="segment"` the mask holds 0 = background and k + 1 for class k.

Sizes. `num_samples` is the size of every split (default: 10,000 train, 2,000 val and test). Since scene i of a
split does not depend on it, a training run takes its scenes with its limits (drnlib.train.tasks): the first
limit_train + holdout scenes of "train" (the last `holdout` of them held out to choose the localization
threshold) and the first limit_val of "val"; num_samples need only be at least as large (a recipe sets it to
limit_train + holdout). `select()` fixes which scenes a set holds; the set is then rendered into memory at once, in
parallel (`precompute`), when it fits RENDER_BUDGET, since a training run reads every scene once an epoch and
rendering is the slow part.
"""

from __future__ import annotations

import colorsys
import math
from collections.abc import Callable

import numpy as np
import torch
from torch.utils.data import Dataset
from torchvision import tv_tensors

from drnlib.data.base import IGNORE_INDEX, check_split
from drnlib.errors import ParameterError

SHAPES = ("bar", "ellipse", "wedge", "diamond")
TEXTURES = ("solid", "bands", "ramp")
SUPERSAMPLE = 4
MAX_DISTRACTORS = 12
_SPLIT_CODES = {"train": 0, "val": 1, "test": 2}
_DEFAULT_SIZES = {"train": 10000, "val": 2000, "test": 2000}
RENDER_BUDGET = 2 * 2**30  # bytes (images and masks) up to which select() renders a set into memory
RENDER_ALONE = 512  # scenes up to which this process renders them faster than starting worker processes


def _upsample(grid: np.ndarray, size: int) -> np.ndarray:
    """Bilinear upsampling of a (C, g, g) grid to (C, size, size) with plain arithmetic."""
    g = grid.shape[-1]
    pos = (np.arange(size, dtype=np.float64) + 0.5) * (g - 1) / size
    i0 = np.minimum(np.floor(pos).astype(np.int64), g - 2)
    frac = pos - i0
    rows = grid[:, i0, :] * (1 - frac)[None, :, None] + grid[:, i0 + 1, :] * frac[None, :, None]
    return rows[:, :, i0] * (1 - frac)[None, None, :] + rows[:, :, i0 + 1] * frac[None, None, :]


def _colour(hue: float, saturation: float, value: float) -> np.ndarray:
    return np.array(colorsys.hsv_to_rgb(hue, saturation, value), dtype=np.float64)[:, None, None]


class SyntheticScenes(Dataset):
    """Deterministic scenes (see the module docstring). `len` = num_samples; sample i is the same on every run."""

    name = "synthetic"
    tasks = ("classify", "localize", "segment")
    splits = tuple(_SPLIT_CODES)
    ignore_index = IGNORE_INDEX

    def __init__(
        self,
        split: str = "train",
        task: str = "classify",
        transform: Callable | None = None,
        num_samples: int | None = None,
        image_size: int = 64,
        num_classes: int = 8,
        object_scale: float = 0.3,
        thinness: float = 1.0,
        clutter: float = 0.5,
        seed: int = 0,
    ):
        check_split(self.name, split, self.splits)
        for option, value, kind in (("num_samples", num_samples, int), ("image_size", image_size, int),
                                    ("num_classes", num_classes, int), ("object_scale", object_scale, float),
                                    ("thinness", thinness, float), ("clutter", clutter, float), ("seed", seed, int)):
            whole = isinstance(value, int) or (isinstance(value, float) and value.is_integer())
            if (value is None and option == "num_samples") or (
                    not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value)
                    and (kind is float or whole)):
                continue
            raise ParameterError(f"synthetic: option {option} must be {'a whole' if kind is int else 'a finite'} "
                                 f"number, got {value!r}")
        num_samples = None if num_samples is None else int(num_samples)
        image_size, num_classes, seed = int(image_size), int(num_classes), int(seed)
        object_scale, thinness, clutter = float(object_scale), float(thinness), float(clutter)
        if num_samples is not None and num_samples < 1:
            raise ParameterError(f"synthetic: num_samples must be >= 1, got {num_samples}")
        if task not in self.tasks:
            raise ParameterError(f"synthetic: task {task!r} not supported; choose one of {', '.join(self.tasks)}")
        if not 2 <= num_classes <= len(SHAPES) * len(TEXTURES):
            raise ParameterError(f"synthetic: num_classes must be 2..{len(SHAPES) * len(TEXTURES)}, got {num_classes}")
        if image_size < 8 or not 0 < object_scale <= 1 or thinness < 1 or not 0 <= clutter <= 1 or seed < 0:
            raise ParameterError(
                "synthetic: need image_size >= 8, 0 < object_scale <= 1, thinness >= 1, 0 <= clutter <= 1, seed >= 0; "
                f"got {image_size}, {object_scale}, {thinness}, {clutter}, {seed}"
            )
        self.split, self.task, self.transform = split, task, transform
        self.num_samples = _DEFAULT_SIZES[split] if num_samples is None else int(num_samples)
        self.image_size, self.num_object_classes = int(image_size), int(num_classes)
        self.object_scale, self.thinness, self.clutter, self.seed = float(object_scale), float(thinness), float(clutter), int(seed)
        names = [f"{TEXTURES[k // len(SHAPES)]} {SHAPES[k % len(SHAPES)]}" for k in range(num_classes)]
        self.class_names = ["background", *names] if task == "segment" else names
        self.num_classes = len(self.class_names)
        self.root = None
        self._cache = None  # (images, labels, boxes, masks) after precompute()

    def __len__(self) -> int:
        return self.num_samples

    def select(self, limit: int | None = None, per_class: int | None = None) -> "SyntheticScenes":
        """Keep the first `limit` samples (classes cycle with the index, so any slice is balanced), then render
        them into memory (`precompute`, with `render_processes` processes) unless they are already or would take
        more than RENDER_BUDGET bytes: what a run selects, it reads every epoch."""
        if per_class is not None:
            limit = per_class * self.num_object_classes if limit is None else min(limit, per_class * self.num_object_classes)
        if limit is not None:
            self.num_samples = min(self.num_samples, int(limit))
            if self._cache is not None:
                self._cache = tuple(t[: self.num_samples] for t in self._cache)
        if self._cache is None and self.num_samples * 4 * self.image_size**2 <= RENDER_BUDGET:
            self.precompute(render_processes(self.num_samples))
        return self

    @property
    def labels(self) -> list[int]:
        return [i % self.num_object_classes for i in range(self.num_samples)]

    def generator(self, index: int) -> np.random.Generator:
        """The random stream of one sample: PCG64 seeded by (seed, split, index), independent of any other."""
        return np.random.default_rng([self.seed, _SPLIT_CODES[self.split], index])

    def render(self, index: int):
        """(image uint8 (3, S, S), class label, box (4,) XYXY float32, mask bool (S, S)) of sample `index`."""
        if not 0 <= index < self.num_samples:
            raise IndexError(f"synthetic: index {index} out of range for {self.num_samples} samples")
        g = self.generator(index)

        def rand(*shape):
            return g.random(shape)

        size = self.image_size
        canvas = _upsample(0.2 + 0.6 * rand(3, 5, 5), size)
        canvas = canvas + self.clutter * 0.3 * (_upsample(rand(3, 9, 9), size) - 0.5)
        for _ in range(round(MAX_DISTRACTORS * self.clutter)):
            self._draw_distractor(canvas, rand(12).tolist())

        label = index % self.num_object_classes
        p = rand(7).tolist()
        length = self.object_scale * size * (0.9 + 0.2 * p[0])
        width = max(length / self.thinness, 1.0)
        angle = math.pi * p[1]
        c, s = math.cos(angle), math.sin(angle)
        half_x = abs(length / 2 * c) + abs(width / 2 * s)
        half_y = abs(length / 2 * s) + abs(width / 2 * c)
        cx = half_x + (size - 2 * half_x) * p[2] if size > 2 * half_x else size / 2
        cy = half_y + (size - 2 * half_y) * p[3] if size > 2 * half_y else size / 2
        window, x, y = self._window(cx, cy, half_x, half_y)
        u = ((x - cx) * c + (y - cy) * s) / (length / 2)  # along the object, -1..1
        v = (-(x - cx) * s + (y - cy) * c) / (width / 2)  # across it, -1..1
        # Object brightness opposite to the background under it, so that it stays visible.
        local = float(canvas[:, min(int(cy), size - 1), min(int(cx), size - 1)].mean())
        colour = _colour(p[4], 0.5 + 0.5 * p[5], 0.8 + 0.2 * p[6] if local < 0.5 else 0.15 + 0.2 * p[6])
        inside = self._shape(SHAPES[label % len(SHAPES)], u, v)
        coverage = np.zeros((size, size))
        x0, x1, y0, y1 = window
        coverage[y0:y1, x0:x1] = self._paint(canvas, window, inside, self._texture(TEXTURES[label // len(SHAPES)], u, colour))

        canvas += self.clutter * 0.1 * (rand(3, size, size) - 0.5)  # pixel noise
        image = torch.from_numpy(np.round(np.clip(canvas, 0, 1) * 255).astype(np.uint8))
        mask = coverage >= 0.5
        if not mask.any():  # thinner than half a pixel everywhere: keep the most covered pixels
            mask = coverage == coverage.max()
        rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
        box = torch.tensor([cols[0], rows[0], cols[-1] + 1, rows[-1] + 1], dtype=torch.float32)
        return image, label, box, torch.from_numpy(mask)

    def _window(self, cx: float, cy: float, rx: float, ry: float):
        """Pixel window (x0, x1, y0, y1) holding a shape of half extents rx, ry at (cx, cy), and the
        coordinates of its supersamples as a row (x) and a column (y), in pixels."""
        size = self.image_size
        x0, x1 = max(0, math.floor(cx - rx) - 1), min(size, math.ceil(cx + rx) + 1)
        y0, y1 = max(0, math.floor(cy - ry) - 1), min(size, math.ceil(cy + ry) + 1)
        x = (np.arange(x0 * SUPERSAMPLE, x1 * SUPERSAMPLE, dtype=np.float64) + 0.5) / SUPERSAMPLE
        y = (np.arange(y0 * SUPERSAMPLE, y1 * SUPERSAMPLE, dtype=np.float64) + 0.5) / SUPERSAMPLE
        return (x0, x1, y0, y1), x[None, :], y[:, None]

    @staticmethod
    def _paint(canvas: np.ndarray, window, inside: np.ndarray, paint: np.ndarray) -> np.ndarray:
        """Composite `paint` where `inside` (supersampled) onto the canvas window; return the pixel coverage."""
        x0, x1, y0, y1 = window
        h, w = y1 - y0, x1 - x0
        coverage = inside.reshape(h, SUPERSAMPLE, w, SUPERSAMPLE).mean(axis=(1, 3))
        ink = (paint * inside).reshape(3, h, SUPERSAMPLE, w, SUPERSAMPLE).mean(axis=(2, 4))
        canvas[:, y0:y1, x0:x1] = canvas[:, y0:y1, x0:x1] * (1 - coverage) + ink
        return coverage

    @staticmethod
    def _shape(shape: str, u: np.ndarray, v: np.ndarray) -> np.ndarray:
        au, av = np.abs(u), np.abs(v)
        if shape == "bar":
            return (au <= 1) & (av <= 1)
        if shape == "ellipse":
            return u * u + v * v <= 1
        if shape == "wedge":  # full width at u = -1, a point at u = +1
            return (au <= 1) & (av <= (1 - u) / 2)
        return au + av <= 1  # diamond

    @staticmethod
    def _texture(texture: str, u: np.ndarray, colour: np.ndarray) -> np.ndarray:
        """Per-pixel colour (3, n, n): a mix of `colour` and its complement along the object's length."""
        if texture == "solid":
            t = np.ones_like(u)
        elif texture == "bands":
            t = (np.floor((u + 1) * 2.5) % 2 == 0).astype(np.float64)
        else:  # ramp
            t = np.clip(1 - (u + 1) / 2, 0, 1)
        return colour * t + (1 - colour) * (1 - t)

    def _draw_distractor(self, canvas: np.ndarray, p: list[float]) -> None:
        """A thin arc or cross (shapes no class has), solid or banded, in a random colour."""
        size = self.image_size
        cx, cy = size * p[1], size * p[2]
        thickness = 1.0 + 2.0 * p[3]
        angle = 2 * math.pi * p[4]
        c, s = math.cos(angle), math.sin(angle)
        if p[0] < 0.5:  # arc: part of a ring of radius r, spanning 60..300 degrees around direction `angle`
            radius = size * (0.08 + 0.22 * p[5])
            window, x, y = self._window(cx, cy, radius + thickness, radius + thickness)
            dx, dy = x - cx, y - cy
            dist = np.sqrt(dx * dx + dy * dy)
            span = math.radians(60 + 240 * p[6])
            along = dx * c + dy * s
            inside = (np.abs(dist - radius) <= thickness / 2) & (along >= dist * math.cos(span / 2))
        else:  # cross: two perpendicular thin bars
            arm = size * (0.05 + 0.15 * p[5])
            window, x, y = self._window(cx, cy, arm + thickness, arm + thickness)
            dx, dy = x - cx, y - cy
            along, across = dx * c + dy * s, -dx * s + dy * c
            inside = ((np.abs(along) <= arm) & (np.abs(across) <= thickness / 2)) | (
                (np.abs(across) <= arm) & (np.abs(along) <= thickness / 2)
            )
        colour = _colour(p[7], 0.3 + 0.7 * p[8], 0.15 + 0.85 * p[9])
        paint = colour
        if p[10] >= 0.5:  # banded
            period = max(size * (0.02 + 0.06 * p[11]), 1.0)
            t = (np.floor(along / period) % 2 == 0).astype(np.float64)
            paint = colour * t + (1 - colour) * (1 - t)
        self._paint(canvas, window, inside, paint)

    def precompute(self, num_workers: int = 0) -> "SyntheticScenes":
        """Render every sample once (with `num_workers` processes) and keep them in memory for fast epochs (uint8
        images and bool masks: 4 x image_size² bytes a scene). The same samples as rendered on demand; the global
        random state is left as it was (a run seeds its weights after building its data)."""
        from torch.utils.data import DataLoader

        self._cache = None
        loader = DataLoader(_Renders(self), batch_size=64, num_workers=num_workers, generator=torch.Generator())
        parts = list(zip(*loader))
        self._cache = (torch.cat(parts[0]), torch.cat(parts[1]), torch.cat(parts[2]), torch.cat(parts[3]))
        return self

    def load(self, index: int):
        if self._cache is not None:
            if not 0 <= index < self.num_samples:
                raise IndexError(f"synthetic: index {index} out of range for {self.num_samples} samples")
            image, label, box, mask = (t[index] for t in self._cache)
            label = int(label)
        else:
            image, label, box, mask = self.render(index)
        image = tv_tensors.Image(image)
        if self.task == "classify":
            return image, label
        if self.task == "localize":
            boxes = tv_tensors.BoundingBoxes(box[None], format="XYXY", canvas_size=(self.image_size, self.image_size))
            return image, {"label": label, "boxes": boxes}
        return image, tv_tensors.Mask(mask.to(torch.int64) * (label + 1))

    def __getitem__(self, index: int):
        image, target = self.load(index)
        if self.transform is not None:
            image, target = self.transform(image, target)
        return image, target

    def verify(self, num_workers: int = 0, progress: bool = False) -> int:
        """Generated data cannot be corrupt; renders every sample once (for symmetry with the file data sets)."""
        for i in range(len(self)):
            self.load(i)
        return len(self)

    def __repr__(self) -> str:
        return (
            f"SyntheticScenes(split={self.split!r}, task={self.task!r}, n={self.num_samples}, size={self.image_size}, "
            f"classes={self.num_object_classes}, scale={self.object_scale}, thinness={self.thinness}, clutter={self.clutter})"
        )


def render_processes(count: int) -> int:
    """Worker processes to render `count` scenes with: none for a few scenes (or inside a worker process, which may
    not start its own); else the CPUs this process may use, shared among the processes of a torchrun run."""
    import multiprocessing
    import os

    if count <= RENDER_ALONE or multiprocessing.current_process().daemon:
        return 0
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    cpus //= max(1, int(os.environ.get("LOCAL_WORLD_SIZE", "1")))
    return min(cpus, -(-count // 64)) if cpus > 1 else 0


class _Renders(Dataset):
    """`render` as a Dataset, so that precompute() can use DataLoader workers."""

    def __init__(self, scenes: SyntheticScenes):
        self.scenes = scenes

    def __len__(self):
        return len(self.scenes)

    def __getitem__(self, index):
        return self.scenes.render(index)
