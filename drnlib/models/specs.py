"""Spec tables: every network of both papers as a stem plus a tuple of levels.

A `Level` says what one group of layers is (block type, width, how many blocks, stride, dilation, residual or not).
ResNet, DRN-A/B/C/D and the Wider-or-Deeper nets differ only in their tables; `network.Net` builds any of them.

Two derived constructions are functions on tables rather than tables of their own:
- `dilate(spec, output_stride)` removes the striding of the top levels and dilates what follows, keeping every
  receptive field (DRN paper Section 2). DRN-A-x is `dilate(resnet_x, 8)`; the WoD segmentation nets are
  `dilate(wod_net, 8)` plus dropout (WoD Section 5).
- `wod_spec("224-0-3-3-6-3-1-1")` reads a Wider-or-Deeper name string.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace

from ..errors import UnknownModelError


@dataclass(frozen=True)
class Level:
    name: str                     # module name (official names: layer1..layer8 in DRN, layer1..4 in ResNet, b1..b7)
    block: str                    # "basic" | "bottleneck" | "conv" (DRN-D's plain conv-BN-ReLU) | "preact" (WoD unit)
    width: int | tuple[int, ...]  # planes (basic/bottleneck/conv); the convs' widths of a WoD unit
    blocks: int                   # blocks (or convs, for "conv") in the level; 0 = the level is absent
    stride: int = 1
    dilation: int = 1             # dilation of the level's 3x3 convs ...
    entry_dilation: int | None = None  # ... except its entry conv (the one that carries/carried the stride)
    residual: bool = True         # False: DRN-C levels 7-8 (degridding without shortcuts)
    pool: str | None = None       # WoD: name of a 3x3 max-pool before the level that does its downsampling
    kernels: tuple[int, ...] = ()  # WoD unit kernels: (3, 3) or (1, 3, 1)
    dropout: float = 0.0          # WoD segmentation: dropout before the last conv of each unit

    @property
    def first_dilation(self) -> int:
        return self.dilation if self.entry_dilation is None else self.entry_dilation


@dataclass(frozen=True)
class NetSpec:
    family: str                   # "resnet", "drn_a", "drn_b", "drn_c", "drn_d", "wod", "resnet_cifar"
    stem: str                     # key of STEMS
    levels: tuple[Level, ...]
    fc: str = "linear"            # "linear" (torchvision, WoD) or "conv" (fyu/drn's 1x1 conv classifier)
    final_norm: bool = False      # WoD: bn7 + ReLU after the last unit (pre-activation nets end un-normalised)
    conv_init: str = "fan_out"    # He-normal mode: fan_out (torchvision, fyu/drn), fan_in (WoD)
    train_size: int = 224         # the training crop the design assumes (first number of a WoD name)


# Stems: (output channels, stride). Their modules are built in network.py under the official names.
STEMS = {
    "resnet": (64, 4),  # conv1 7x7/2, bn1, relu, maxpool 3x3/2
    "drn_c": (16, 1),   # conv1 7x7/1, bn1, relu (DRN-B and DRN-C)
    "drn_d": (16, 1),   # layer0 = [7x7/1 conv, BN, ReLU]
    "wod": (64, 1),     # conv1a 3x3/1, no BN (the first unit pre-activates)
    "cifar": (16, 1),   # conv1 3x3/1, bn1, relu (He et al. 2016, CIFAR ResNets)
}


# --- ResNet and DRN-A ---------------------------------------------------------------------------------------------

RESNET_DEPTHS = {18: ("basic", (2, 2, 2, 2)), 34: ("basic", (3, 4, 6, 3)), 50: ("bottleneck", (3, 4, 6, 3)),
                 101: ("bottleneck", (3, 4, 23, 3)), 152: ("bottleneck", (3, 8, 36, 3))}


def resnet_spec(depth: int) -> NetSpec:
    block, counts = RESNET_DEPTHS[depth]
    widths, strides = (64, 128, 256, 512), (1, 2, 2, 2)
    levels = tuple(Level(f"layer{i + 1}", block, w, n, stride=s)
                   for i, (w, n, s) in enumerate(zip(widths, counts, strides)))
    return NetSpec("resnet", "resnet", levels)


def dilate(spec: NetSpec, output_stride: int, entry_rule: str = "paper") -> NetSpec:
    """Replace striding beyond `output_stride` by dilation, keeping every receptive field (DRN Section 2).

    A level whose stride is removed gets dilation x stride; its entry conv (the one that carried the stride) keeps
    the dilation before it ("paper": G4_1 at 1, G5_1 at 2 -- torchvision's replace_stride_with_dilation does the
    same) or 1 ("official": fyu/drn's DRN_A, whose first block of layer3 and layer4 is undilated).
    A pooling level keeps its max-pool at stride 1, dilated like its entry conv (WoD Section 5).
    """
    if entry_rule not in ("paper", "official"):
        raise ValueError(f"entry_rule must be 'paper' or 'official', not {entry_rule!r}")
    stride, dilation, levels = STEMS[spec.stem][1], 1, []
    for level in spec.levels:
        if level.stride > 1 and stride * level.stride > output_stride:
            entry = dilation if entry_rule == "paper" else 1
            dilation *= level.stride
            level = replace(level, stride=1, dilation=dilation, entry_dilation=entry)
        else:
            stride *= level.stride
            if dilation > 1:
                level = replace(level, dilation=dilation, entry_dilation=None)
        levels.append(level)
    if stride > output_stride:
        raise ValueError(f"the stem alone has stride {stride} > output_stride {output_stride}")
    return replace(spec, levels=tuple(levels))


def drn_a_spec(depth: int, entry_rule: str = "paper") -> NetSpec:
    """DRN-A-x: ResNet-x with the striding of groups 4 and 5 (layer3, layer4) replaced by dilation 2 and 4."""
    return replace(dilate(resnet_spec(depth), 8, entry_rule), family="drn_a")


def resnet_cifar_spec(depth: int) -> NetSpec:
    """CIFAR ResNet-(6n+2) of He et al. 2016 (16/32/64 channels), with 1x1 projection shortcuts (option B)."""
    if (depth - 2) % 6:
        raise UnknownModelError(f"CIFAR ResNet depth must be 6n+2, not {depth}")
    n = (depth - 2) // 6
    levels = (Level("layer1", "basic", 16, n), Level("layer2", "basic", 32, n, stride=2),
              Level("layer3", "basic", 64, n, stride=2))
    return NetSpec("resnet_cifar", "cifar", levels, train_size=32)


# --- DRN-B, DRN-C, DRN-D ------------------------------------------------------------------------------------------

# name -> (arch, block of levels 3-6, blocks per level 1..8); fyu/drn drn.py for C and D, paper Fig. 5 for B.
DRN_TABLE = {
    "drn_b_26": ("B", "basic", (1, 1, 2, 2, 2, 2, 1, 1)),
    "drn_c_26": ("C", "basic", (1, 1, 2, 2, 2, 2, 1, 1)),
    "drn_c_42": ("C", "basic", (1, 1, 3, 4, 6, 3, 1, 1)),
    "drn_c_58": ("C", "bottleneck", (1, 1, 3, 4, 6, 3, 1, 1)),
    "drn_d_22": ("D", "basic", (1, 1, 2, 2, 2, 2, 1, 1)),
    "drn_d_24": ("D", "basic", (1, 1, 2, 2, 2, 2, 2, 2)),
    "drn_d_38": ("D", "basic", (1, 1, 3, 4, 6, 3, 1, 1)),
    "drn_d_40": ("D", "basic", (1, 1, 3, 4, 6, 3, 2, 2)),
    "drn_d_54": ("D", "bottleneck", (1, 1, 3, 4, 6, 3, 1, 1)),
    "drn_d_56": ("D", "bottleneck", (1, 1, 3, 4, 6, 3, 2, 2)),
    "drn_d_105": ("D", "bottleneck", (1, 1, 3, 4, 23, 3, 1, 1)),
    "drn_d_107": ("D", "bottleneck", (1, 1, 3, 4, 23, 3, 2, 2)),
}


def drn_spec(name: str) -> NetSpec:
    """DRN-B/C/D: levels 1-2 at full and half resolution replace the max-pool (B, C: residual blocks; D: plain
    convs), levels 3-6 as DRN-A, then degridding levels 7 (dilation 2) and 8 (dilation 1), residual only in B."""
    arch, block, counts = DRN_TABLE[name]
    edge = "conv" if arch == "D" else "basic"  # levels 1, 2, 7, 8
    rows = [  # (block, width, stride, dilation)
        (edge, 16, 1, 1), (edge, 32, 2, 1), (block, 64, 2, 1), (block, 128, 2, 1),
        (block, 256, 1, 2), (block, 512, 1, 4), (edge, 512, 1, 2), (edge, 512, 1, 1),
    ]
    levels = tuple(Level(f"layer{i + 1}", b, w, n, stride=s, dilation=d, residual=(arch == "B" or i < 6))
                   for i, ((b, w, s, d), n) in enumerate(zip(rows, counts)))
    return NetSpec(f"drn_{arch.lower()}", "drn_d" if arch == "D" else "drn_c", levels, fc="conv")


# --- Wider or Deeper ----------------------------------------------------------------------------------------------

# B1..B7: the widths and kernels of one unit (WoD Section 4.1, Fig. 3): 2-conv units, then bottlenecks.
WOD_UNITS = (((64, 64), (3, 3)), ((128, 128), (3, 3)), ((256, 256), (3, 3)), ((512, 512), (3, 3)),
             ((512, 1024), (3, 3)), ((512, 1024, 2048), (1, 3, 1)), ((1024, 2048, 4096), (1, 3, 1)))
WOD_ALIASES = {
    "model_a": "224-0-3-3-6-3-1-1", "model_b": "224-0-1-1-1-3-1-1", "model_c": "112-1-1-1-1-13-1-1",
    "model_d": "112-1-1-1-1-9-1-1", "model_e": "112-1-1-1-1-5-1-1", "model_f": "56-1-1-1-1-9-1-1",
}
WOD_NAMED = ("224-0-1-1-1-1-1-1",)  # the paper's unnamed 16-layer net
WOD_NAME = re.compile(r"(\d+)((?:-\d+){7})")


def is_wod_name(name: str) -> bool:
    return WOD_NAME.fullmatch(name) is not None


def wod_spec(name: str, strided_top: bool = False) -> NetSpec:
    """Wider-or-Deeper net from its name `<train crop>-<units in B1>-...-<units in B7>`.

    The final map is 7x7 at the training crop, so a crop of 7 * 2^k has k downsamplings, before B2 ... B(k+1)
    (224 nets: 5; 112 nets: 4; 56 nets: 3 -- their placement is the paper's lost Fig. 3, our reading). Each is a
    3x3/2 max-pool (`pool1` before B2, ...); `strided_top=True` turns the top three into stride-2 convs in the first
    unit of their level (Model A1, paper Section 5).
    """
    match = WOD_NAME.fullmatch(name)
    if match is None:
        raise UnknownModelError(f"not a Wider-or-Deeper name like '224-0-3-3-6-3-1-1': {name!r}")
    size, counts = int(match.group(1)), [int(c) for c in match.group(2)[1:].split("-")]
    downsamplings = math.log2(size / 7) if size >= 7 else -1
    if downsamplings != int(downsamplings) or not 0 <= downsamplings <= 6:
        raise UnknownModelError(f"{name}: the train crop must be 7 * 2^k (56, 112, 224, ...), not {size}")
    downsamplings = int(downsamplings)
    levels, pending = [], 0
    for k, (units, ((widths, kernels))) in enumerate(zip(counts, WOD_UNITS), start=1):
        if 2 <= k <= downsamplings + 1:
            pending += 1
        if units == 0:
            continue  # an empty level hands its downsampling to the next one
        stride = 2 ** pending
        by_conv = strided_top and k > downsamplings + 1 - 3
        levels.append(Level(f"b{k}", "preact", widths, units, stride=stride, kernels=kernels,
                            pool=None if stride == 1 or by_conv else f"pool{k - 1}"))
        pending = 0
    if not levels:
        raise UnknownModelError(f"{name}: the net has no units")
    return NetSpec("wod", "wod", tuple(levels), final_norm=True, conv_init="fan_in", train_size=size)


def wod_segmentation_spec(spec: NetSpec, dropout: bool = True) -> NetSpec:
    """WoD Section 5: output stride 8 by dilation, dropout 0.3 in B6 and 0.5 in B7 (before each unit's last conv)."""
    spec = dilate(spec, 8)
    rates = {"b6": 0.3, "b7": 0.5} if dropout else {}
    return replace(spec, levels=tuple(replace(lv, dropout=rates.get(lv.name, 0.0)) for lv in spec.levels))
