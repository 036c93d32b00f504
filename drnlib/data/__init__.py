"""Data layer: data sets in their own on-disk layouts, one sample convention, transforms, synthetic scenes.

    from drnlib.data import build_dataset, build_loader, default_transform
    train = build_dataset("camvid", "train", transform="default")      # found via the registry
    loader = build_loader(train, batch_size=8, train=True)

Sample convention (before transforms): a uint8 tv_tensors.Image (3, H, W) and a target that is an int label
(classify), {"label": int, "boxes": BoundingBoxes XYXY pixels} (localize) or a Mask (H, W) int64 with
255 = ignore (segment). Every data set has num_classes, class_names, task, ignore_index and verify().

Modules: io (decoding images, label PNGs and SBD's MAT labels), registry (sources, cache, unpacking), base,
classification, segmentation, synthetic, transforms, loader, factory, resident (splits decoded once into uint8
tensors on the training device and augmented there; imported on its own: drnlib.data.resident).
"""

from drnlib.data.base import IGNORE_INDEX, ClassificationDataset, ImageDataset, SegmentationDataset
from drnlib.data.classification import CIFAR10, ImageNet, TinyImageNet
from drnlib.data.factory import DATASETS, build_dataset, check_task, dataset_class, default_transform, list_datasets
from drnlib.data.io import read_image, read_label_mat, read_label_png
from drnlib.data.loader import DataLoader, build_loader, collate
from drnlib.data.registry import SOURCES, cache_dir, locate, shared_data_dir, unpack
from drnlib.data.segmentation import ADE20K, CamVid, Cityscapes, PascalContext, VOCAug
from drnlib.data.synthetic import SyntheticScenes

__all__ = [
    "ADE20K", "CIFAR10", "DATASETS", "IGNORE_INDEX", "SOURCES", "CamVid", "Cityscapes", "ClassificationDataset",
    "DataLoader", "ImageDataset", "ImageNet", "PascalContext", "SegmentationDataset", "SyntheticScenes",
    "TinyImageNet", "VOCAug", "build_dataset", "build_loader", "cache_dir", "check_task", "collate", "dataset_class",
    "default_transform", "list_datasets", "locate", "read_image", "read_label_mat", "read_label_png",
    "shared_data_dir", "unpack",
]  # fmt: skip
