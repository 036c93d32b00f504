"""`Net`: the one network class. It builds any `NetSpec` (stem, levels, final norm) and a task head.

Tasks:
- "classify": global average pooling (adaptive, so any input size works), then the classifier -> N x classes.
- "dense":    the classifier applied at every position of the final map, no pooling -> N x classes x h x w
              (h = H/8 for DRNs: DRN Section 3's localization network; the per-pixel softmax is the caller's).
- "segment":  a segmentation head on the final map, then parameter-free bilinear upsampling to the input size.
              Heads: "linear" (DRN: 1x1 conv), "1conv" / "2conv" (WoD: 3x3 convs with dilation 12).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .blocks import BasicBlock, Bottleneck, PreActUnit, conv1x1, conv_bn_relu_layers, init_weights, max_pool3x3
from .specs import STEMS, Level, NetSpec

TASKS = ("classify", "dense", "segment")
SEGMENT_HEADS = ("linear", "1conv", "2conv")


def make_stem(kind: str) -> dict[str, nn.Module]:
    """The stem's modules under their official names (torchvision / fyu/drn / ademxapp), in forward order."""
    if kind == "resnet":
        return {"conv1": nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False), "bn1": nn.BatchNorm2d(64),
                "relu": nn.ReLU(inplace=True), "maxpool": nn.MaxPool2d(3, stride=2, padding=1)}
    if kind == "drn_c":
        return {"conv1": nn.Conv2d(3, 16, 7, padding=3, bias=False), "bn1": nn.BatchNorm2d(16),
                "relu": nn.ReLU(inplace=True)}
    if kind == "drn_d":
        return {"layer0": nn.Sequential(nn.Conv2d(3, 16, 7, padding=3, bias=False), nn.BatchNorm2d(16),
                                        nn.ReLU(inplace=True))}
    if kind == "wod":
        return {"conv1a": nn.Conv2d(3, 64, 3, padding=1, bias=False)}
    if kind == "cifar":
        return {"conv1": nn.Conv2d(3, 16, 3, padding=1, bias=False), "bn1": nn.BatchNorm2d(16),
                "relu": nn.ReLU(inplace=True)}
    raise ValueError(f"unknown stem {kind!r}")


def make_level(level: Level, in_channels: int) -> tuple[list[nn.Module], int]:
    """The blocks of one level (strided first block, then stride 1) and its output width.

    A pooling level's pool is built by `Net` (before the level); its units do not stride, and its entry conv
    takes `level.first_dilation` (= `level.dilation` unless the spec says otherwise, see `specs.dilate`)."""
    stride = 1 if level.pool else level.stride
    first, rest = (level.first_dilation, level.dilation), (level.dilation, level.dilation)
    if level.block == "conv":
        return conv_bn_relu_layers(in_channels, level.width, level.blocks, stride, first), level.width
    if level.block == "preact":
        out = level.width[-1]
        units = [PreActUnit(in_channels if i == 0 else out, level.width, level.kernels, stride if i == 0 else 1,
                            first if i == 0 else rest, level.dropout) for i in range(level.blocks)]
        return units, out
    block = {"basic": BasicBlock, "bottleneck": Bottleneck}[level.block]
    out = level.width * block.expansion
    downsample = None
    if stride != 1 or in_channels != out:
        downsample = nn.Sequential(conv1x1(in_channels, out, stride), nn.BatchNorm2d(out))
    blocks = [block(in_channels, level.width, stride, downsample, first, level.residual)]
    blocks += [block(out, level.width, 1, None, rest, level.residual) for _ in range(1, level.blocks)]
    return blocks, out


def make_segment_head(kind: str, in_channels: int, num_classes: int) -> nn.Module:
    if kind == "linear":  # DRN: 1x1 conv, N(0, sqrt(2 / classes)) weights and zero bias as in fyu/drn segment.py
        head = nn.Conv2d(in_channels, num_classes, 1)
        nn.init.normal_(head.weight, 0.0, (2.0 / num_classes) ** 0.5)
        nn.init.zeros_(head.bias)
        return head
    # WoD "1 conv" / "2 conv": 3x3 convs with dilation 12 (a 49x49 field on the 1/8 map for two of them)
    def dilated(cin: int, cout: int) -> nn.Conv2d:
        conv = nn.Conv2d(cin, cout, 3, padding=12, dilation=12)
        nn.init.kaiming_normal_(conv.weight, mode="fan_in", nonlinearity="relu")
        nn.init.zeros_(conv.bias)
        return conv
    if kind == "1conv":
        return dilated(in_channels, num_classes)
    if kind == "2conv":
        return nn.Sequential(dilated(in_channels, 512), nn.ReLU(inplace=True), dilated(512, num_classes))
    raise ValueError(f"unknown segmentation head {kind!r}; choose from {SEGMENT_HEADS}")


class Net(nn.Module):
    """Stem -> levels -> (final norm) -> task head, built from a `NetSpec`.

    `forward_levels(x)` returns every level's output by name (fyu/drn's `out_middle`: the stem is not included).
    """

    def __init__(self, spec: NetSpec, num_classes: int = 1000, task: str = "classify", head: str = "linear"):
        super().__init__()
        if task not in TASKS:
            raise ValueError(f"unknown task {task!r}; choose from {TASKS}")
        self.spec, self.task = spec, task
        stem = make_stem(spec.stem)
        for name, module in stem.items():
            self.add_module(name, module)
        self.stem_names = list(stem)
        self.body_names: list[str] = []  # forward order of pools and levels
        self.level_names: list[str] = []
        channels = STEMS[spec.stem][0]
        for level in spec.levels:
            if level.blocks == 0:
                continue
            if level.pool:
                self.add_module(level.pool, max_pool3x3(level.stride, level.pool_dilation))
                self.body_names.append(level.pool)
            blocks, channels = make_level(level, channels)
            self.add_module(level.name, nn.Sequential(*blocks))
            self.body_names.append(level.name)
            self.level_names.append(level.name)
        self.out_channels = channels
        if spec.final_norm:
            self.bn7 = nn.BatchNorm2d(channels)
        init_weights(self, spec.conv_init)
        if task in ("classify", "dense"):
            self.fc = nn.Conv2d(channels, num_classes, 1) if spec.fc == "conv" else nn.Linear(channels, num_classes)
            if spec.fc == "conv":
                init_weights(self.fc, spec.conv_init)
        else:
            self.seg = make_segment_head(head, channels, num_classes)

    def forward_features(self, x: Tensor, levels: dict[str, Tensor] | None = None) -> Tensor:
        for name in self.stem_names:
            x = getattr(self, name)(x)
        for name in self.body_names:
            x = getattr(self, name)(x)
            if levels is not None and name in self.level_names:
                levels[name] = x
        if self.spec.final_norm:
            x = F.relu(self.bn7(x))
        return x

    def forward_levels(self, x: Tensor) -> dict[str, Tensor]:
        levels: dict[str, Tensor] = {}
        self.forward_features(x, levels)
        return levels

    def classify_map(self, features: Tensor) -> Tensor:
        """The classifier at every position of a feature map (a Linear fc is used as a 1x1 conv)."""
        if isinstance(self.fc, nn.Linear):
            return F.conv2d(features, self.fc.weight[:, :, None, None], self.fc.bias)
        return self.fc(features)

    def forward(self, x: Tensor) -> Tensor:
        size = x.shape[-2:]
        features = self.forward_features(x)
        if self.task == "classify":
            pooled = F.adaptive_avg_pool2d(features, 1)
            return self.fc(torch.flatten(pooled, 1)) if isinstance(self.fc, nn.Linear) else self.fc(pooled).flatten(1)
        if self.task == "dense":
            return self.classify_map(features)
        return F.interpolate(self.seg(features), size=size, mode="bilinear", align_corners=False)
