"""Turning a model's outputs into class probabilities: 1-crop / 10-crop classification, multi-scale segmentation.

10-crop (DRN Sec. 5.1: centre, four corners and their mirror images, "averaged over these 10 crops"): we average the
per-crop softmax probabilities (not the logits). The paper does not say which; probabilities are the common choice
and keep each crop's vote bounded.

Multi-scale segmentation: the image is resized by each scale, the softmax probabilities of each scale (and of its
mirror image when `flip=True`) are resized bilinearly back to the original size and averaged; the prediction is
their argmax. (DRN's segment.py sums log-softmax maps instead; averaging probabilities is the more common choice.)
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def average_crops(scores: torch.Tensor, num_crops: int) -> torch.Tensor:
    """Average softmax probabilities over crops: (N*num_crops) x C scores, image-major order -> N x C probabilities.

    Image-major means rows [0, num_crops) are the crops of image 0, and so on (what `x.flatten(0, 1)` gives for an
    N x num_crops x 3 x H x W batch).
    """
    if scores.dim() != 2 or scores.shape[0] % num_crops:
        raise ValueError(f"expected (N*{num_crops}) x C scores, got shape {tuple(scores.shape)}")
    probs = scores.float().softmax(dim=1)
    return probs.view(-1, num_crops, probs.shape[1]).mean(dim=1)


def classify_probs(model: torch.nn.Module, images: torch.Tensor) -> torch.Tensor:
    """N x C class probabilities of a classification model (task="classify").

    images: N x 3 x H x W (1-crop) or N x K x 3 x H x W (K crops per image, e.g. 10-crop), averaged as above.
    """
    if images.dim() == 5:
        n, k = images.shape[:2]
        return average_crops(model(images.flatten(0, 1)), k)
    return model(images).float().softmax(dim=1)


def segment_probs(model: torch.nn.Module, images: torch.Tensor, scales=(1.0,), flip: bool = False) -> torch.Tensor:
    """N x C x H x W softmax probabilities of a segmentation model (task="segment") at the input size H x W.

    With several scales and/or flip, the probabilities of every (scale, mirror) pass are resized bilinearly to
    H x W and averaged.
    """
    size = images.shape[-2:]
    total, passes = None, 0
    for scale in scales:
        x = images
        if scale != 1.0:
            scaled = [max(1, round(s * scale)) for s in size]
            x = F.interpolate(images, size=scaled, mode="bilinear", align_corners=False, antialias=scale < 1)
        for mirrored in ((False, True) if flip else (False,)):
            inp = x.flip(-1) if mirrored else x
            probs = model(inp).float().softmax(dim=1)
            if mirrored:
                probs = probs.flip(-1)
            if probs.shape[-2:] != size:
                probs = F.interpolate(probs, size=size, mode="bilinear", align_corners=False)
            total = probs if total is None else total + probs
            passes += 1
    return total / passes


class AveragedModels(nn.Module):
    """Model averaging (WoD Table 6): the mean of several models' softmax probabilities, returned as log-probabilities
    so that anything that takes the softmax of a model's output (segment_probs, drnlib.eval.evaluate) sees the
    averaged probabilities."""

    def __init__(self, models):
        super().__init__()
        if not models:
            raise ValueError("AveragedModels needs at least one model")
        self.models = nn.ModuleList(models)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        probs = torch.stack([model(x).float().softmax(dim=1) for model in self.models]).mean(dim=0)
        return probs.clamp_min(1e-12).log()
