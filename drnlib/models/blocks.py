"""Building blocks: the post-activation blocks of ResNet/DRN and the pre-activation units of Wider-or-Deeper.

Module names follow torchvision's `resnet.py` and fyu/drn's `drn.py` (conv1, bn1, conv2, bn2, ..., downsample.0/1),
so their state_dicts load without renaming.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn


def conv3x3(in_channels: int, out_channels: int, stride: int = 1, dilation: int = 1) -> nn.Conv2d:
    """3x3 conv with 'same' padding (= dilation) and no bias: BatchNorm follows."""
    return nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=dilation, dilation=dilation, bias=False)


def conv1x1(in_channels: int, out_channels: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False)


class Residual(nn.Module):
    """Base of every residual block: adds the branch to the shortcut.

    Two analysis switches (both off by default):
    - `gradient_path` (WoD Appendix A.2, after Veit et al.): "branch" or "shortcut" lets the backward pass through
      one path only while the forward values stay the same.
    - `lesioned` (Veit et al.'s lesion study, the unravelled view): drop the branch, keep only the shortcut.
    """

    gradient_path: str | None = None
    lesioned: bool = False

    def merge(self, branch: Tensor, shortcut: Tensor) -> Tensor:
        if self.lesioned:
            return shortcut
        if self.gradient_path == "branch":
            shortcut = shortcut.detach()
        elif self.gradient_path == "shortcut":
            branch = branch.detach()
        return branch + shortcut


class BasicBlock(Residual):
    """Two 3x3 convs (post-activation). `dilation=(d1, d2)` for conv1/conv2; the stride sits on conv1.

    With `residual=False` (DRN-C levels 7 and 8) the block is two plain conv-BN-ReLU layers; a downsample module is
    still created when shapes change, as in fyu/drn (DRN-C-58 layer7), but its output is never used.
    """

    expansion = 1

    def __init__(self, in_channels: int, planes: int, stride: int = 1, downsample: nn.Module | None = None,
                 dilation: tuple[int, int] = (1, 1), residual: bool = True):
        super().__init__()
        self.conv1 = conv3x3(in_channels, planes, stride, dilation[0])
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(planes, planes, 1, dilation[1])
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample
        self.residual = residual

    def forward(self, x: Tensor) -> Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.residual:
            out = self.merge(out, x if self.downsample is None else self.downsample(x))
        return self.relu(out)


class Bottleneck(Residual):
    """1x1 -> 3x3 -> 1x1 (x4 channels), post-activation; the stride and `dilation[0]` sit on the 3x3 (ResNet v1.5)."""

    expansion = 4

    def __init__(self, in_channels: int, planes: int, stride: int = 1, downsample: nn.Module | None = None,
                 dilation: tuple[int, int] = (1, 1), residual: bool = True):
        super().__init__()
        self.conv1 = conv1x1(in_channels, planes)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = conv3x3(planes, planes, stride, dilation[0])
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = conv1x1(planes, planes * self.expansion)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample
        self.residual = residual

    def forward(self, x: Tensor) -> Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        if self.residual:
            out = self.merge(out, x if self.downsample is None else self.downsample(x))
        return self.relu(out)


class PreActUnit(Residual):
    """Wider-or-Deeper residual unit, full pre-activation (ResNet v2): BN-ReLU before every conv, no post-add ReLU.

    `widths`/`kernels` give its convs: (w, w) with kernels (3, 3) for B1-B5, (w, 2w, 4w) with (1, 3, 1) for the
    B6/B7 bottlenecks. The first conv carries the stride and `dilation[0]`, later 3x3 convs use `dilation[1]`.
    The projection shortcut (a 1x1 conv, no BN) reads the pre-activated input, as in the official code.
    Dropout (segmentation variant) sits before the last conv.
    """

    def __init__(self, in_channels: int, widths: tuple[int, ...], kernels: tuple[int, ...], stride: int = 1,
                 dilation: tuple[int, int] = (1, 1), dropout: float = 0.0):
        super().__init__()
        self.relu = nn.ReLU()
        channels = in_channels
        for i, (width, kernel) in enumerate(zip(widths, kernels), start=1):
            d = dilation[0] if i == 1 else dilation[1]
            conv = conv3x3(channels, width, stride if i == 1 else 1, d) if kernel == 3 else \
                conv1x1(channels, width, stride if i == 1 else 1)
            setattr(self, f"bn{i}", nn.BatchNorm2d(channels))
            setattr(self, f"conv{i}", conv)
            channels = width
        self.num_convs = len(widths)
        self.dropout = nn.Dropout(dropout) if dropout > 0 else None
        needs_projection = stride != 1 or in_channels != widths[-1]
        self.shortcut = conv1x1(in_channels, widths[-1], stride) if needs_projection else None

    def forward(self, x: Tensor) -> Tensor:
        pre = self.relu(self.bn1(x))
        out = self.conv1(pre)
        for i in range(2, self.num_convs + 1):
            out = self.relu(getattr(self, f"bn{i}")(out))
            if i == self.num_convs and self.dropout is not None:
                out = self.dropout(out)
            out = getattr(self, f"conv{i}")(out)
        return self.merge(out, x if self.shortcut is None else self.shortcut(pre))


def max_pool3x3(stride: int, dilation: int = 1) -> nn.Module:
    """3x3 max-pool with 'same' padding (= dilation): N x C x H x W -> N x C x ceil(H/stride) x ceil(W/stride).

    WoD's segmentation nets keep a pool at stride 1 where its stride was removed, at the dilation of the layers
    before it ("a pooling layer with dilation", WoD Section 5; architectures.md B.4). Output i of a strided pool
    reads input positions stride*i + (-1, 0, 1) * dilation, so the stride-1 pool's map [::stride] equals it.
    torch's MaxPool2d caps padding at kernel/2, so a dilated pool pads with -inf itself (`DilatedMaxPool`)."""
    if dilation == 1:
        return nn.MaxPool2d(3, stride=stride, padding=1)
    return DilatedMaxPool(stride, dilation)


class DilatedMaxPool(nn.Module):
    """3x3 max-pool with dilation `dilation` and 'same' padding by -inf (never selected); see `max_pool3x3`."""

    def __init__(self, stride: int, dilation: int):
        super().__init__()
        self.stride, self.dilation = stride, dilation

    def forward(self, x: Tensor) -> Tensor:
        x = F.pad(x, [self.dilation] * 4, value=float("-inf"))
        return F.max_pool2d(x, 3, self.stride, 0, self.dilation)


def conv_bn_relu_layers(in_channels: int, channels: int, convs: int, stride: int = 1,
                        dilation: tuple[int, int] = (1, 1)) -> list[nn.Module]:
    """DRN-D's plain levels: `convs` x [3x3 conv, BN, ReLU] as a flat list (official names layerN.0, .1, .2, ...)."""
    modules: list[nn.Module] = []
    for i in range(convs):
        modules += [conv3x3(in_channels if i == 0 else channels, channels, stride if i == 0 else 1,
                            dilation[0] if i == 0 else dilation[1]),
                    nn.BatchNorm2d(channels), nn.ReLU(inplace=True)]
    return modules


def init_weights(module: nn.Module, conv_fan: str = "fan_out") -> None:
    """He-normal convs (fan_out for ResNet/DRN as in torchvision and fyu/drn, fan_in for WoD), BN gamma=1 beta=0.

    Linear layers keep PyTorch's default init, as in both official codes.
    """
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode=conv_fan, nonlinearity="relu")  # biases keep the default init
        elif isinstance(m, (nn.BatchNorm2d, nn.SyncBatchNorm)):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)

