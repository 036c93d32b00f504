"""Shared fixtures. The real data sets come from the project's shared archives, unpacked once (via
drnlib.data.registry) into the git-ignored cache, so every test session after the first starts in seconds.

Fixtures for everyone:
  shared_data_dir     the folder with the shared archives (skips where there is none)
  camvid_root         unpacked CamVid (SegNet 11-class) folder
  tiny_imagenet_root  unpacked Tiny ImageNet (100 classes) folder
  cifar10_root        unpacked CIFAR-10 JPEG tree
  synthetic_small     a tiny SyntheticScenes split (32 x 32, 4 classes, 16 samples) for engine/CPU tests
  writers             functions that write real JPEG / PNG / palette PNG / MAT v5 files for fixture trees
"""

from __future__ import annotations

import struct
import warnings
import zlib
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from PIL import Image as PILImage
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


# A small MAT v5 writer (the format MATLAB's save -v7 produces), for SBD-style .mat fixtures.
_MI = {"i1": 1, "u1": 2, "i2": 3, "u2": 4, "i4": 5, "u4": 6, "f4": 7, "f8": 9, "i8": 12, "u8": 13}
_MX = {"f8": 6, "f4": 7, "i1": 8, "u1": 9, "i2": 10, "u2": 11, "i4": 12, "u4": 13, "i8": 14, "u8": 15}


class Sparse:
    """A sparse logical matrix for write_mat (MATLAB stores SBD's Boundaries this way)."""

    def __init__(self, dense: np.ndarray):
        self.dense = np.asarray(dense, dtype=bool)


def _mat_element(mtype: int, payload: bytes) -> bytes:
    if 0 < len(payload) <= 4:  # small data element format
        return struct.pack("<I", (len(payload) << 16) | mtype) + payload.ljust(4, b"\0")
    return struct.pack("<II", mtype, len(payload)) + payload + b"\0" * (-len(payload) % 8)


def _mat_matrix(name: str, value, store_as: str | None = None) -> bytes:
    def header(mx_class, dims, flags=0, nzmax=0):
        return (
            _mat_element(6, struct.pack("<II", mx_class | flags, nzmax))
            + _mat_element(5, np.asarray(dims, "<i4").tobytes())
            + _mat_element(1, name.encode())
        )

    if isinstance(value, dict):  # 1x1 struct
        fields = list(value)
        body = header(2, (1, 1)) + _mat_element(5, struct.pack("<i", 32))
        body += _mat_element(1, b"".join(f.encode().ljust(32, b"\0") for f in fields))
        body += b"".join(_mat_matrix("", value[f]) for f in fields)
    elif isinstance(value, list):  # cell column
        body = header(1, (len(value), 1)) + b"".join(_mat_matrix("", v) for v in value)
    elif isinstance(value, str):
        body = header(4, (1, len(value))) + _mat_element(4, np.array([ord(c) for c in value], "<u2").tobytes())
    elif isinstance(value, Sparse):
        columns, rows = np.nonzero(value.dense.T)  # nonzeros in column-major order
        jc = np.searchsorted(columns, np.arange(value.dense.shape[1] + 1))
        body = header(5, value.dense.shape, flags=0x0200, nzmax=max(len(rows), 1))
        body += _mat_element(5, rows.astype("<i4").tobytes()) + _mat_element(5, jc.astype("<i4").tobytes())
        body += _mat_element(2, np.ones(len(rows), "u1").tobytes())
    else:
        array = np.asarray(value)
        stored = np.dtype(store_as or array.dtype).newbyteorder("<")
        body = header(_MX[array.dtype.str[1:]], array.shape)
        body += _mat_element(_MI[stored.str[1:]], array.astype(stored).tobytes(order="F"))
    return struct.pack("<II", 14, len(body)) + body


def write_mat(path: Path, variables: dict, compress: bool = True, store_as: dict | None = None) -> Path:
    """Write variables {name: ndarray | dict (struct) | list (cell) | str | Sparse} as a MAT v5 file.
    store_as: {name: dtype} stores a top-level numeric array in a smaller type, as MATLAB does."""
    path.parent.mkdir(parents=True, exist_ok=True)
    out = b"MATLAB 5.0 MAT-file, written by drnlib tests".ljust(116, b" ") + b"\0" * 8 + struct.pack("<H", 0x0100) + b"IM"
    for name, value in variables.items():
        element = _mat_matrix(name, value, (store_as or {}).get(name))
        out += struct.pack("<II", 15, len(z := zlib.compress(element))) + z if compress else element
    path.write_bytes(out)
    return path


@pytest.fixture
def writers():
    """Namespace of the fixture-tree writers above (write_jpeg, write_png, write_palette_png, write_mat, Sparse)."""
    return SimpleNamespace(
        write_jpeg=write_jpeg, write_png=write_png, write_palette_png=write_palette_png, write_mat=write_mat, Sparse=Sparse
    )
