"""Classification (and weakly supervised localization) data sets, each read from its own on-disk layout."""

from __future__ import annotations

import functools
import os
import pickle
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import torch
from torchvision import tv_tensors

from drnlib.data.base import ClassificationDataset, check_split, read_lines, require_dir
from drnlib.errors import DataError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


def _image_files(folder: Path) -> list[Path]:
    """Image files of a folder, sorted by name. Listings are cached per folder and its modification time (which
    changes when a file is added or removed): every training run and evaluation builds its data sets anew, and
    listing Tiny ImageNet's 30,000 files each time cost about half a second."""
    return list(_listing(str(folder), os.stat(folder).st_mtime_ns))


@functools.lru_cache(maxsize=4096)
def _listing(folder: str, mtime_ns: int) -> tuple[Path, ...]:
    with os.scandir(folder) as entries:
        return tuple(sorted(
            (Path(e.path) for e in entries if e.is_file() and e.name.lower().endswith(IMAGE_SUFFIXES)), key=lambda p: p.name
        ))


def _class_folders(folder: Path) -> list[str]:
    with os.scandir(folder) as entries:
        return sorted(e.name for e in entries if e.is_dir() and not e.name.startswith("."))


def _parse_box_line(fields: list[str], where) -> list[float]:
    try:
        box = [float(v) for v in fields]
    except ValueError:
        raise DataError(f"{where}: bounding box {' '.join(fields)!r} is not four numbers") from None
    if len(box) != 4 or box[2] < box[0] or box[3] < box[1] or min(box) < 0:
        raise DataError(f"{where}: bad bounding box {' '.join(fields)!r} (want x0 y0 x1 y1 with x0<=x1, y0<=y1)")
    return box


class TinyImageNet(ClassificationDataset):
    """Tiny ImageNet in Stanford's layout (tiny-imagenet-200, or the project's 100-class cut):

        wnids.txt  words.txt
        train/<wnid>/images/<wnid>_<k>.JPEG   train/<wnid>/<wnid>_boxes.txt   ("file x0 y0 x1 y1", inclusive)
        val/images/val_<k>.JPEG               val/val_annotations.txt        ("file wnid x0 y0 x1 y1")

    Classes are the sorted wnids of wnids.txt; names are the first synonym in words.txt.
    The test split has no labels and is not offered.
    """

    name = "tiny_imagenet"
    splits = ("train", "val")

    def __init__(self, root, split="train", task="classify", transform=None):
        super().__init__(root, split, task, transform)
        check_split(self.name, split, self.splits)
        require_dir(self.root, "Tiny ImageNet root")
        self.wnids = sorted(read_lines(self.root / "wnids.txt"))
        if not self.wnids:
            raise DataError(f"{self.root / 'wnids.txt'}: no classes listed")
        index = {w: i for i, w in enumerate(self.wnids)}
        words = self._words()
        self.class_names = [words.get(w, w) for w in self.wnids]
        self.num_classes = len(self.wnids)
        self.samples = self._train(index) if split == "train" else self._val(index)
        self._require_samples()

    def _words(self) -> dict[str, str]:
        path = self.root / "words.txt"
        if not path.is_file():
            return {}
        names = {}
        for line in read_lines(path):
            wnid, _, text = line.partition("\t")
            names[wnid] = text.split(",")[0].strip()
        return names

    def _train(self, index):
        samples = []
        for wnid in self.wnids:
            folder = require_dir(self.root / "train" / wnid / "images", f"images of class {wnid}")
            boxes = {}
            box_file = self.root / "train" / wnid / f"{wnid}_boxes.txt"
            if box_file.is_file():
                for n, line in enumerate(read_lines(box_file), 1):
                    fields = line.split()
                    boxes[fields[0]] = [_parse_box_line(fields[1:], f"{box_file}:{n}")]
            elif self.task == "localize":
                raise DataError(f"{box_file}: file not found (needed for localization)")
            samples += [(p, index[wnid], boxes.get(p.name)) for p in _image_files(folder)]
        return samples

    def _val(self, index):
        annotations = self.root / "val" / "val_annotations.txt"
        images = require_dir(self.root / "val" / "images", "Tiny ImageNet val/images")
        samples = []
        for n, line in enumerate(read_lines(annotations), 1):
            fields = line.split()
            if len(fields) != 6:
                raise DataError(f"{annotations}:{n}: expected 'file wnid x0 y0 x1 y1', got {line!r}")
            if fields[1] not in index:
                raise DataError(f"{annotations}:{n}: wnid {fields[1]} is not in wnids.txt (class label out of range)")
            samples.append((images / fields[0], index[fields[1]], [_parse_box_line(fields[2:], f"{annotations}:{n}")]))
        return sorted(samples, key=lambda s: s[0].name)


class ImageNet(ClassificationDataset):
    """ILSVRC-2012 CLS-LOC as ImageFolder trees, with the validation boxes from either source:

        train/<wnid>/*.JPEG
        val/<wnid>/*.JPEG        (class folders)  or  val/*.JPEG  (flat, labels from the box files)
        Annotations/CLS-LOC/val/<image>.xml       (ILSVRC XML: <object><name>wnid</name><bndbox>xmin..)
        LOC_val_solution.csv                      (Kaggle: "ImageId,PredictionString" = "wnid x0 y0 x1 y1 ...")
        LOC_synset_mapping.txt                    (optional: "wnid name, synonyms" for class names)

    The Kaggle layout (ILSVRC/Data/CLS-LOC/..., ILSVRC/Annotations/CLS-LOC/...) is found too. Classes are the
    sorted wnid folders of train/ (else val/, else LOC_synset_mapping.txt). Box coordinates are read as
    inclusive pixel indices (like Tiny ImageNet's, which derive from them) and clamped to the image.
    Localization keeps only the images that have boxes.
    """

    name = "imagenet"
    splits = ("train", "val")

    def __init__(self, root, split="train", task="classify", transform=None):
        super().__init__(root, split, task, transform)
        check_split(self.name, split, self.splits)
        require_dir(self.root, "ImageNet root")
        kaggle = self.root / "ILSVRC"
        self.images_root = kaggle / "Data" / "CLS-LOC" if (kaggle / "Data" / "CLS-LOC").is_dir() else self.root
        self.annotations_root = next(
            (p for p in (self.root / "Annotations" / "CLS-LOC", kaggle / "Annotations" / "CLS-LOC") if p.is_dir()), None
        )
        self.wnids, names = self._classes()
        self.class_names = [names.get(w, w) for w in self.wnids]
        self.num_classes = len(self.wnids)
        index = {w: i for i, w in enumerate(self.wnids)}
        folder = require_dir(self.images_root / split, f"ImageNet {split} folder")
        boxes = self._boxes(index) if (task == "localize" or not _class_folders(folder)) else {}
        samples = []
        if _class_folders(folder):
            for wnid in _class_folders(folder):
                if wnid not in index:
                    raise DataError(f"{folder / wnid}: class folder {wnid} is not one of the {self.num_classes} classes")
                samples += [(p, index[wnid], boxes.get(p.stem, (None, None))[1]) for p in _image_files(folder / wnid)]
        else:  # flat folder: labels come from the box annotations
            for p in _image_files(folder):
                if p.stem not in boxes:
                    raise DataError(f"{p}: no label (no entry in the box annotations for a flat {split}/ folder)")
                samples.append((p, *boxes[p.stem]))
        if task == "localize":
            samples = [s for s in samples if s[2] is not None]
        self.samples = samples
        self._require_samples()

    def _classes(self) -> tuple[list[str], dict[str, str]]:
        names = {}
        for mapping in (self.root / "LOC_synset_mapping.txt", self.images_root / "LOC_synset_mapping.txt"):
            if mapping.is_file():
                for line in read_lines(mapping):
                    wnid, _, text = line.partition(" ")
                    names[wnid] = text.split(",")[0].strip()
                break
        for split in ("train", "val"):
            folder = self.images_root / split
            if folder.is_dir() and _class_folders(folder):
                return _class_folders(folder), names
        if names:
            return sorted(names), names
        raise DataError(f"{self.root}: cannot tell the ImageNet classes (no train/<wnid>/ folders, no LOC_synset_mapping.txt)")

    def _boxes(self, index) -> dict[str, tuple[int, list]]:
        """{image stem: (label, inclusive boxes)} for this split, from the CSV if present, else the XML files."""
        csv = next((p for p in (self.root / f"LOC_{self.split}_solution.csv",) if p.is_file()), None)
        if csv is not None:
            return self._boxes_csv(csv, index)
        xml_dir = self.annotations_root / self.split if self.annotations_root is not None else None
        if xml_dir is None or not xml_dir.is_dir():
            raise DataError(
                f"{self.root}: no ImageNet {self.split} boxes (need LOC_{self.split}_solution.csv or Annotations/CLS-LOC/{self.split}/*.xml)"
            )
        result = {}
        for xml in sorted(xml_dir.rglob("*.xml")):
            try:
                tree = ET.parse(xml).getroot()
            except ET.ParseError as err:
                raise DataError(f"{xml}: malformed XML ({err})") from None
            objects = [(o.findtext("name"), o.find("bndbox")) for o in tree.iter("object")]
            if not objects:
                continue
            wnids = {w for w, _ in objects}
            for wnid in wnids:
                if wnid not in index:
                    raise DataError(f"{xml}: wnid {wnid} is not one of the {len(index)} classes (class label out of range)")
            # CLS-LOC images have boxes of a single class; keep the boxes of the first object's class.
            label_wnid = objects[0][0]
            try:
                boxes = [
                    [float(b.findtext(k)) for k in ("xmin", "ymin", "xmax", "ymax")] for w, b in objects if w == label_wnid
                ]
            except (TypeError, ValueError, AttributeError):
                raise DataError(f"{xml}: malformed <bndbox>") from None
            result[xml.stem] = (index[label_wnid], boxes)
        return result

    @staticmethod
    def _boxes_csv(csv: Path, index) -> dict[str, tuple[int, list]]:
        result = {}
        lines = read_lines(csv)
        for n, line in enumerate(lines[1:], 2):  # first line is the header "ImageId,PredictionString"
            image_id, _, prediction = line.partition(",")
            fields = prediction.split()
            if not fields or len(fields) % 5:
                raise DataError(f"{csv}:{n}: expected 'wnid x0 y0 x1 y1' groups, got {prediction!r}")
            groups = [fields[i : i + 5] for i in range(0, len(fields), 5)]
            for g in groups:
                if g[0] not in index:
                    raise DataError(f"{csv}:{n}: wnid {g[0]} is not one of the {len(index)} classes (class label out of range)")
            label_wnid = groups[0][0]
            boxes = [_parse_box_line(g[1:], f"{csv}:{n}") for g in groups if g[0] == label_wnid]
            result[image_id] = (index[label_wnid], boxes)
        return result


class CIFAR10(ClassificationDataset):
    """CIFAR-10 in either layout (found automatically):

    * ImageFolder JPEG trees `train/<class>/*.jpg`, `test/<class>/*.jpg` (the project's shared archive);
    * the official python pickles `cifar-10-batches-py/{data_batch_1..5, test_batch, batches.meta}` (what
      torchvision.datasets.CIFAR10 downloads). Read directly (same format as torchvision reads) so that any copy,
      not only one with the official md5s, can be used; the pixels stay in memory as a uint8 tensor.

    Splits: train, test ("val" is accepted as the test set, which is what CIFAR papers evaluate on).
    """

    name = "cifar10"
    splits = ("train", "test", "val")
    tasks = ("classify",)
    CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]

    def __init__(self, root, split="train", task="classify", transform=None):
        super().__init__(root, split, task, transform)
        check_split(self.name, split, self.splits)
        require_dir(self.root, "CIFAR-10 root")
        folder = "train" if split == "train" else "test"
        batches = next((p for p in (self.root / "cifar-10-batches-py", self.root) if (p / "batches.meta").is_file()), None)
        self.pixels = None
        if batches is not None:
            self._load_pickles(batches, split == "train")
        else:
            tree = require_dir(self.root / folder, f"CIFAR-10 {folder}/ folder (or cifar-10-batches-py/)")
            self.class_names = _class_folders(tree)
            self.num_classes = len(self.class_names)
            self.samples = [(p, k, None) for k, c in enumerate(self.class_names) for p in _image_files(tree / c)]
        self._require_samples()

    def _load_pickles(self, folder: Path, train: bool) -> None:
        meta = self._unpickle(folder / "batches.meta")
        self.class_names = [n.decode() if isinstance(n, bytes) else n for n in meta.get("label_names", self.CLASSES)]
        self.num_classes = len(self.class_names)
        files = [f"data_batch_{i}" for i in range(1, 6)] if train else ["test_batch"]
        pixels, labels, files_of_rows = [], [], []
        for name in files:
            batch = self._unpickle(folder / name)
            data = np.asarray(batch.get("data"))
            if data.ndim != 2 or data.shape[1] != 3 * 32 * 32 or "labels" not in batch:
                raise DataError(f"{folder / name}: not a CIFAR-10 batch (want 'data' N x 3072 and 'labels')")
            pixels.append(torch.from_numpy(data.astype(np.uint8).reshape(-1, 3, 32, 32)))
            labels += [int(y) for y in batch["labels"]]
            files_of_rows += [folder / name] * len(batch["labels"])
        if sum(len(p) for p in pixels) != len(labels):
            raise DataError(f"{folder}: CIFAR-10 batches have different numbers of images and labels")
        self.pixels = torch.cat(pixels)
        # Samples are (batch file, label, row in self.pixels): errors can name the file, slices keep their rows.
        self.samples = [(f, y, row) for row, (f, y) in enumerate(zip(files_of_rows, labels))]

    @staticmethod
    def _unpickle(path: Path) -> dict:
        try:
            with open(path, "rb") as f:
                data = pickle.load(f, encoding="latin1")
        except OSError:
            raise DataError(f"{path}: file not found") from None
        except Exception as err:  # a damaged pickle can fail in many ways
            raise DataError(f"{path}: corrupt pickle ({type(err).__name__}: {err})") from None
        if not isinstance(data, dict):
            raise DataError(f"{path}: not a CIFAR-10 pickle (no dict inside)")
        return {k.decode() if isinstance(k, bytes) else k: v for k, v in data.items()}

    def load(self, index: int):
        if self.pixels is None:
            return super().load(index)
        path, label, row = self.samples[index]
        return tv_tensors.Image(self.pixels[row].clone()), self.check_label(label, f"{path} row {row}")
