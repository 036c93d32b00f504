"""What every data set shares: one sample convention, per-sample checks, `verify()`, and small slices.

Convention (before transforms):
  image:  tv_tensors.Image, uint8, (3, H, W)
  target: classification  -> int class label
          localization    -> {"label": int, "boxes": tv_tensors.BoundingBoxes (N, 4), XYXY in pixels, float32}
          segmentation    -> tv_tensors.Mask (H, W) int64 of class ids, 255 = ignore
`dataset[i]` returns `transform(image, target)` when a transform is set (torchvision.transforms.v2 style).

Boxes are continuous pixel coordinates: (x0, y0) is the top-left corner of the first pixel inside the box and
(x1, y1) the bottom-right corner of the last one, so a box covering a whole W x H image is (0, 0, W, H).
Annotations that give inclusive pixel indices (Tiny ImageNet, ImageNet) get +1 on x1 and y1.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import torch
from torch.utils.data import Dataset
from torchvision import tv_tensors

from drnlib.data.io import read_image, read_label_png
from drnlib.data.loader import DataLoader
from drnlib.errors import DataError, ParameterError

IGNORE_INDEX = 255


def check_split(name: str, split: str, splits: Sequence[str]) -> None:
    if split not in splits:
        raise ParameterError(f"{name}: unknown split {split!r}; choose one of {', '.join(splits)}")


def require_dir(path: Path, what: str) -> Path:
    if not path.is_dir():
        raise DataError(f"{path}: {what} not found")
    return path


def read_lines(path: Path) -> list[str]:
    """Non-empty lines of a text file; DataError if the file is missing."""
    try:
        text = path.read_text()
    except OSError:
        raise DataError(f"{path}: file not found") from None
    return [line.strip() for line in text.splitlines() if line.strip()]


class ImageDataset(Dataset):
    """Base: a list of samples decoded in __getitem__, an optional joint transform, and `verify()`."""

    name = "dataset"
    task = "classify"
    tasks: tuple[str, ...] = ("classify",)
    ignore_index = IGNORE_INDEX
    num_classes: int
    class_names: list[str]

    def __init__(self, root: str | Path, split: str, transform: Callable | None = None):
        self.root = Path(root)
        self.split = split
        self.transform = transform
        self.samples: list = []

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int):
        image, target = self.load(index)
        if self.transform is not None:
            image, target = self.transform(image, target)
        return image, target

    def load(self, index: int):
        """The checked (image, target) pair of sample `index`, before any transform."""
        raise NotImplementedError

    def _require_samples(self) -> None:
        if not self.samples:
            raise DataError(f"{self.root}: split {self.split!r} of {self.name} has no samples")

    def verify(self, num_workers: int = 0, progress: bool = False) -> int:
        """Decode and check every sample of the split (in `num_workers` processes); raise a one-line DataError
        naming the first bad file; return the number of samples checked."""
        loader = DataLoader(_Loads(self), batch_size=None, num_workers=num_workers)
        if progress:
            from tqdm.auto import tqdm

            loader = tqdm(loader, total=len(self), desc=f"verify {self.name}/{self.split}")
        return sum(1 for _ in loader)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(root={str(self.root)!r}, split={self.split!r}, task={self.task!r}, n={len(self)})"


class _Loads(Dataset):
    """Dataset view returning nothing but running the checked load (for verify())."""

    def __init__(self, dataset: ImageDataset):
        self.dataset = dataset

    def __len__(self):
        return len(self.dataset)

    def __getitem__(self, index):
        self.dataset.load(index)
        return index


class ClassificationDataset(ImageDataset):
    """Samples are (image path, label, boxes or None); boxes are inclusive pixel indices (N, 4) from the annotation."""

    tasks = ("classify", "localize")

    def __init__(self, root, split, task="classify", transform=None):
        super().__init__(root, split, transform)
        if task not in self.tasks:
            raise ParameterError(f"{self.name}: task {task!r} not supported; choose one of {', '.join(self.tasks)}")
        self.task = task

    @property
    def labels(self) -> list[int]:
        return [s[1] for s in self.samples]

    def select(self, limit: int | None = None, per_class: int | None = None) -> "ClassificationDataset":
        """Keep a deterministic slice: the first `per_class` samples of each class, and/or the first `limit`
        samples taken round-robin over the classes (so a small slice still covers every class)."""
        by_class: dict[int, list] = {}
        for sample in self.samples:
            by_class.setdefault(sample[1], []).append(sample)
        if per_class is not None:
            by_class = {k: v[:per_class] for k, v in by_class.items()}
        if limit is None:
            self.samples = [s for k in sorted(by_class) for s in by_class[k]]
        else:
            rounds = max((len(v) for v in by_class.values()), default=0)
            order = [by_class[k][i] for i in range(rounds) for k in sorted(by_class) if i < len(by_class[k])]
            self.samples = order[:limit]
        self._require_samples()
        return self

    def check_label(self, label: int, where) -> int:
        if not 0 <= label < self.num_classes:
            raise DataError(f"{where}: class label {label} out of range [0, {self.num_classes})")
        return label

    def make_target(self, image: tv_tensors.Image, label: int, boxes, where):
        label = self.check_label(label, where)
        if self.task == "classify":
            return label
        if boxes is None or len(boxes) == 0:
            raise DataError(f"{where}: no bounding box for localization")
        return {"label": label, "boxes": to_boxes(boxes, image.shape[-2:], where)}

    def load(self, index: int):
        path, label, boxes = self.samples[index]
        image = read_image(path)
        return image, self.make_target(image, label, boxes, path)


def to_boxes(inclusive_boxes, size, where) -> tv_tensors.BoundingBoxes:
    """Inclusive pixel boxes (x0, y0, x1, y1) -> continuous XYXY BoundingBoxes, clamped to the image."""
    h, w = int(size[0]), int(size[1])
    boxes = torch.as_tensor(inclusive_boxes, dtype=torch.float32).reshape(-1, 4).clone()
    boxes[:, 2:] += 1
    boxes[:, 0::2] = boxes[:, 0::2].clamp(0, w)
    boxes[:, 1::2] = boxes[:, 1::2].clamp(0, h)
    if ((boxes[:, 2] <= boxes[:, 0]) | (boxes[:, 3] <= boxes[:, 1])).any():
        raise DataError(f"{where}: bounding box {inclusive_boxes} is empty or outside the {w}x{h} image")
    return tv_tensors.BoundingBoxes(boxes, format="XYXY", canvas_size=(h, w))


def make_label_map(valid: dict[int, int] | range) -> torch.Tensor:
    """A 256-entry lookup table raw label value -> training id; 255 stays 255 (ignore); -1 marks invalid values."""
    table = torch.full((256,), -1, dtype=torch.int64)
    pairs = {v: v for v in valid} if isinstance(valid, range) else valid
    for raw, train_id in pairs.items():
        table[raw] = train_id
    table[IGNORE_INDEX] = IGNORE_INDEX
    return table


class SegmentationDataset(ImageDataset):
    """Samples are (image path, label path). Label files hold raw ids mapped through `label_map`."""

    task = "segment"
    tasks = ("segment",)
    label_map: torch.Tensor  # set by subclasses with make_label_map

    def __init__(self, root, split, task="segment", transform=None):
        super().__init__(root, split, transform)
        if task != "segment":
            raise ParameterError(f"{self.name}: task {task!r} not supported; choose segment")

    def select(self, limit: int | None = None, per_class: int | None = None) -> "SegmentationDataset":
        """Keep the first `limit` samples (in split-file order). `per_class` does not apply to segmentation."""
        if per_class is not None:
            raise ParameterError(f"{self.name}: per_class applies to classification data sets only; use limit")
        if limit is not None:
            self.samples = self.samples[:limit]
        self._require_samples()
        return self

    def read_label(self, path: Path) -> torch.Tensor:
        """Raw label ids (H, W) uint8 of a label file; PNG unless a subclass says otherwise."""
        return read_label_png(path)

    def load(self, index: int):
        image_path, label_path = self.samples[index]
        image = read_image(image_path)
        raw = self.read_label(label_path)
        if tuple(raw.shape) != tuple(image.shape[-2:]):
            raise DataError(
                f"{label_path}: label size {tuple(raw.shape)} does not match image {image_path.name} size {tuple(image.shape[-2:])}"
            )
        mask = self.label_map[raw.long()]
        if (mask < 0).any():
            bad = sorted(set(raw[mask < 0].unique().tolist()))
            raise DataError(
                f"{label_path}: label value(s) {bad[:5]} out of range for {self.name} "
                f"({self.num_classes} classes, {IGNORE_INDEX} = ignore)"
            )
        return image, tv_tensors.Mask(mask)
