"""Shared fixtures. The real data sets come from the project's shared archives, unpacked once (via
drnlib.data.registry) into the git-ignored cache, so every test session after the first starts in seconds.

Fixtures for everyone:
  shared_data_dir     the folder with the shared archives (skips where there is none)
  camvid_root         unpacked CamVid (SegNet 11-class) folder
  tiny_imagenet_root  unpacked Tiny ImageNet (100 classes) folder
  cifar10_root        unpacked CIFAR-10 JPEG tree
  synthetic_small     a tiny SyntheticScenes split (32 x 32, 4 classes, 16 samples) for engine/CPU tests
  writers             functions that write real JPEG / PNG / palette PNG / MAT files for fixture trees
"""

from __future__ import annotations

import warnings
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from PIL import Image as PILImage
from scipy.io import savemat
from torchvision.io import encode_jpeg, encode_png

from drnlib.data import registry
from drnlib.data.synthetic import SyntheticScenes


@pytest.fixture(scope="session")
def shared_data_dir() -> Path:
    folder = registry.shared_data_dir()
    if folder is None or not folder.is_dir():
        pytest.skip("no shared data folder (set DRNLIB_SHARED_DATA or put the archives in ../shared/data)")
    return folder


def _unpacked(name: str, shared: Path) -> Path:
    archive = registry.get_source(name).archive
    if not (shared / archive).is_file():
        pytest.skip(f"{archive} is not in {shared}")
    return registry.locate(name)


@pytest.fixture(scope="session")
def camvid_root(shared_data_dir) -> Path:
    return _unpacked("camvid", shared_data_dir)


@pytest.fixture(scope="session")
def tiny_imagenet_root(shared_data_dir) -> Path:
    return _unpacked("tiny_imagenet", shared_data_dir)


@pytest.fixture(scope="session")
def cifar10_root(shared_data_dir) -> Path:
    return _unpacked("cifar10", shared_data_dir)


@pytest.fixture
def synthetic_small():
    """Factory: synthetic_small(split="train", task="classify", **overrides) -> a 16-sample 32x32 data set."""

    def make(split: str = "train", task: str = "classify", **overrides) -> SyntheticScenes:
        options = dict(num_samples=16, image_size=32, num_classes=4, object_scale=0.4, clutter=0.3)
        return SyntheticScenes(split, task, **{**options, **overrides})

    return make


# --- Writers for fixture trees in the data sets' own file formats ------------------------------------------------


def _quietly(encode, *args, **kwargs):
    with warnings.catch_warnings():  # torchvision 0.29 marks its encoders deprecated (TorchCodec)
        warnings.simplefilter("ignore", DeprecationWarning)
        return bytes(encode(*args, **kwargs).numpy())


def write_jpeg(path: Path, image: torch.Tensor, quality: int = 95) -> Path:
    """uint8 (3, H, W) -> a real JPEG file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(_quietly(encode_jpeg, image, quality=quality))
    return path


def write_png(path: Path, array: torch.Tensor) -> Path:
    """uint8 (H, W) (grayscale ids) or (3, H, W) (RGB) -> a real PNG file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(_quietly(encode_png, array if array.ndim == 3 else array[None]))
    return path


def write_palette_png(path: Path, ids: torch.Tensor) -> Path:
    """uint8 (H, W) class ids -> a palette ("P" mode) PNG like PASCAL VOC's SegmentationClass files."""
    path.parent.mkdir(parents=True, exist_ok=True)
    image = PILImage.fromarray(ids.numpy().astype(np.uint8), mode="P")
    palette = []
    for k in range(256):  # the VOC colour map (bit-interleaved), as in the devkit
        r = g = b = 0
        c = k
        for j in range(8):
            r |= ((c >> 0) & 1) << (7 - j)
            g |= ((c >> 1) & 1) << (7 - j)
            b |= ((c >> 2) & 1) << (7 - j)
            c >>= 3
        palette += [r, g, b]
    image.putpalette(palette)
    image.save(path)
    return path


def write_mat(path: Path, variables: dict) -> Path:
    """Write variables {name: ndarray | dict (a 1x1 struct) | object ndarray (a cell array)} as a compressed MAT v5
    file, the format of MATLAB's default save -v7 (SBD's cls/*.mat)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    savemat(path, variables, do_compression=True)
    return path


@pytest.fixture
def writers():
    """Namespace of the fixture-tree writers above (write_jpeg, write_png, write_palette_png, write_mat)."""
    return SimpleNamespace(write_jpeg=write_jpeg, write_png=write_png, write_palette_png=write_palette_png, write_mat=write_mat)
