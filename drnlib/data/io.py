"""Reading image and label files into tensors, with one-line DataErrors that name the file.

Images are decoded with torchvision.io (libjpeg/libpng, no PIL), always to 3-channel uint8 RGB, so
grayscale JPEGs (Tiny ImageNet has some) come out like every other image. torchvision 0.29 marks these
decoders deprecated in favour of TorchCodec (not a dependency here); that warning is silenced around our calls.
MAT files (SBD's labels) are read with scipy.io.loadmat.
"""

from __future__ import annotations

import re
import warnings
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
from torchvision import tv_tensors
from torchvision.io import ImageReadMode, decode_image, decode_png, read_file

from drnlib.errors import DataError


@contextmanager
def _quiet():
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The image decoding and encoding capabilities", category=DeprecationWarning)
        yield


def _read_bytes(path: Path) -> torch.Tensor:
    try:
        with _quiet():
            return read_file(str(path))
    except RuntimeError as err:
        if not Path(path).exists():
            raise DataError(f"{path}: file not found") from None
        raise DataError(f"{path}: cannot read file ({_first_line(err)})") from None


def _first_line(err: BaseException) -> str:
    """The useful part of a torchvision.io error: 'decode_jpeg, .../decode_jpeg.cpp:171, Image is truncated'
    -> 'Image is truncated' (first sentence, at most 120 characters)."""
    lines = str(err).strip().splitlines()
    text = re.sub(r"^\w+, \S+:\d+, ", "", lines[0]) if lines else type(err).__name__
    text = text.split(". ")[0]  # the first sentence
    return text if len(text) <= 120 else text[:117] + "..."


def read_image(path: str | Path) -> tv_tensors.Image:
    """Decode a JPEG/PNG file to a uint8 RGB tv_tensors.Image of shape (3, H, W)."""
    data = _read_bytes(path)
    try:
        with _quiet():
            image = decode_image(data, mode=ImageReadMode.RGB)
    except (RuntimeError, ValueError) as err:
        raise DataError(f"{path}: corrupt or unreadable image ({_first_line(err)})") from None
    if image.dtype != torch.uint8:  # 16-bit PNGs
        raise DataError(f"{path}: expected an 8-bit image, got {image.dtype}")
    return tv_tensors.Image(image)


def read_label_png(path: str | Path) -> torch.Tensor:
    """Decode a single-channel 8-bit label PNG to a uint8 (H, W) tensor of raw ids.

    Palette PNGs (PASCAL VOC) give their palette indices, which are the class ids.
    """
    data = _read_bytes(path)
    try:
        with _quiet():
            label = decode_png(data, mode=ImageReadMode.UNCHANGED)
    except (RuntimeError, ValueError) as err:
        raise DataError(f"{path}: corrupt or unreadable label PNG ({_first_line(err)})") from None
    if label.shape[0] != 1 or label.dtype != torch.uint8:
        raise DataError(
            f"{path}: label PNG must be single-channel 8-bit class ids, got {label.shape[0]} channel(s) of {label.dtype}"
        )
    return label[0]


def read_label_mat(path: str | Path, struct: str = "GTcls", field: str = "Segmentation") -> torch.Tensor:
    """Read the class-id matrix `struct.field` of a MAT file (v4, v6 or v7: what scipy.io.loadmat reads) to a uint8
    (H, W) tensor of raw ids. Default: SBD's benchmark_RELEASE/dataset/cls/<id>.mat (struct GTcls, field
    Segmentation; Hariharan et al., "Semantic Contours from Inverse Detectors", ICCV 2011).

    Raises DataError (one line, naming the file) for a missing or corrupt file, a MAT v7.3 (HDF5) file, a file
    without a 2-D `struct.field`, or values outside 0..255. loadmat is not hardened against damaged files (its
    docstring says so): a corrupted element tag can crash the process instead (SBD comes checksummed in benchmark.tgz).
    """
    from scipy.io import loadmat  # here, not at the top: scipy.io takes ~0.3 s to import and only SBD needs it
    from scipy.io.matlab import MatReadError

    try:
        variables = loadmat(path, variable_names=[struct])
    except NotImplementedError:  # what loadmat raises for v7.3
        raise DataError(f"{path}: MAT v7.3 (HDF5) file, which scipy.io.loadmat does not read (save with -v7)") from None
    except (OSError, ValueError, TypeError, MatReadError) as err:
        if not Path(path).is_file():
            raise DataError(f"{path}: file not found") from None
        raise DataError(f"{path}: corrupt or unreadable MAT file ({_first_line(err)})") from None
    try:
        matrix = variables[struct][field].item()  # a 1x1 MATLAB struct loads as a (1, 1) record array
    except (KeyError, IndexError, ValueError):  # no such variable, not a struct, no such field, a struct array
        matrix = None
    if not isinstance(matrix, np.ndarray) or matrix.ndim != 2 or matrix.dtype.kind not in "biuf":
        raise DataError(f"{path}: no {struct}.{field} matrix (expected a 1x1 struct {struct} with a 2-D {field})")
    if matrix.size and (matrix.min() < 0 or matrix.max() > 255):
        raise DataError(f"{path}: {struct}.{field} value(s) {matrix.min()}..{matrix.max()} outside the 8-bit class ids 0..255")
    return torch.from_numpy(matrix.astype(np.uint8))
