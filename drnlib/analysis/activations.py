"""Activation maps for the DRN paper's figures.

- `class_activation_map` (Fig. 3): the classifier applied at every position of the final map, softmax over classes
  per pixel, the map of one class. For a ResNet this is Zhou et al.'s CAM at 7x7; for a DRN it is 28x28.
- `level_input` (Fig. 6): the input of the first conv of a paper level (e.g. level 3).
- `strongest_map` (Figs. 6, 7): the channel with the highest mean activation.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .architecture import trace_layers


@torch.no_grad()
def class_activation_map(model: nn.Module, image: Tensor, target: int | None = None) -> tuple[Tensor, int]:
    """Per-pixel class probability map of `target` (default: the predicted class) for one image (C,H,W).

    Returns (map h x w, class). The model must have a classifier (`fc`); its task need not be "dense".
    """
    x = image.unsqueeze(0) if image.dim() == 3 else image
    features = model.forward_features(x)
    scores = model.classify_map(features)[0]                 # classes x h x w
    if target is None:
        target = int(scores.mean((1, 2)).argmax())           # global average pooling, then argmax = the prediction
    return F.softmax(scores, dim=0)[target], target


def first_conv_of_level(model: nn.Module, level: int, input_size: int = 224) -> str:
    """Module name of the first main-path conv in a DRN Fig. 5 level (levels are read off the built model)."""
    for record in trace_layers(model, input_size):
        if record.kind == "conv" and record.main_path and record.level == level:
            return record.name
    raise ValueError(f"the model has no conv in level {level}")


@torch.no_grad()
def level_input(model: nn.Module, image: Tensor, level: int) -> Tensor:
    """The feature maps that enter the first conv of `level` (C x h x w), for one image."""
    x = image.unsqueeze(0) if image.dim() == 3 else image
    name = first_conv_of_level(model, level, x.shape[-1])
    captured: list[Tensor] = []
    handle = model.get_submodule(name).register_forward_pre_hook(lambda m, args: captured.append(args[0]))
    try:
        model.forward_features(x)
    finally:
        handle.remove()
    return captured[0][0]


def strongest_map(feature_maps: Tensor) -> tuple[Tensor, int]:
    """The channel of highest mean activation (C x h x w -> h x w, channel index)."""
    channel = int(feature_maps.mean((1, 2)).argmax())
    return feature_maps[channel], channel


@torch.no_grad()
def strongest_map_per_level(model: nn.Module, image: Tensor) -> dict[str, tuple[Tensor, int]]:
    """Fig. 7: for every level's output, the feature map of highest mean activation."""
    x = image.unsqueeze(0) if image.dim() == 3 else image
    return {name: strongest_map(out[0]) for name, out in model.forward_levels(x).items()}
