"""Reading image and label files into tensors, with one-line DataErrors that name the file.

Images are decoded with torchvision.io (libjpeg/libpng, no PIL), always to 3-channel uint8 RGB, so
grayscale JPEGs (Tiny ImageNet has some) come out like every other image. torchvision 0.29 marks these
decoders deprecated in favour of TorchCodec (not a dependency here); that warning is silenced around our calls.
"""

from __future__ import annotations

import re
import warnings
from contextlib import contextmanager
from pathlib import Path

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
