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
    stride: int = 1               # the level's downsampling: on its entry conv, or on its pool if it has one
    dilation: int = 1             # dilation of the level's 3x3 convs ...
    entry_dilation: int | None = None  # ... except its entry conv, where that conv carries/carried the stride
    residual: bool = True         # False: DRN-C levels 7-8 (degridding without shortcuts)
    pool: str | None = None       # WoD: name of a 3x3 max-pool before the level that does its downsampling
    pool_dilation: int = 1        # that pool's dilation (> 1 once an earlier stride became dilation, WoD Section 5)
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
    """Replace striding beyond `output_stride` by dilation, keeping every receptive field (DRN Section 2; WoD
    Section 5, "Resolution"; architectures.md B.4).

    With the same weights, the converted net's final map subsampled by (native stride / output_stride) equals the
    original's: a 3x3/2 layer with padding 1 samples positions 0, 2, 4, ... of its input, and so does [::2].

    The layer that carried a removed stride still reads its input at the dilation before it; every layer after it
    reads a map that is now denser by the removed factor, so its dilation is multiplied by that factor:
    - stride on the entry conv (ResNet, DRN-A, WoD strided-conv levels): that conv keeps the earlier dilation
      ("paper": G4_1 at 1, G5_1 at 2, as torchvision's replace_stride_with_dilation and the WoD code's B5 first
      conv), or 1 ("official": fyu/drn's DRN_A, whose first block of layer3 and layer4 is undilated -- this
      breaks the equality above in layer4). The projection shortcut is 1x1 and only loses its stride.
    - stride on a max-pool before the level (WoD pooling levels): the pool goes to stride 1 and keeps the earlier
      dilation (WoD Section 5: "Sometimes, we will have to apply a pooling layer with dilation"); all of the
      level's convs, the entry conv included, take the new dilation.
    A stride larger than needed (a 3x3/4 pool after an empty WoD level) keeps the part that fits under
    `output_stride`. Raises ValueError if the stem alone strides more than `output_stride`.
    """
    if entry_rule not in ("paper", "official"):
        raise ValueError(f"entry_rule must be 'paper' or 'official', not {entry_rule!r}")
    stride, factor, levels = STEMS[spec.stem][1], 1, []  # factor: dilation multiplier from strides removed so far
    if stride > output_stride:
        raise ValueError(f"the stem alone has stride {stride} > output_stride {output_stride}")
    for level in spec.levels:
        keep = level.stride
        if stride * level.stride > output_stride:
            keep = max(1, output_stride // stride)
        before, factor = factor, factor * (level.stride // keep)
        stride *= keep
        if factor == 1:
            levels.append(level)
            continue
        if level.pool and keep < level.stride:  # the pool carried the removed stride
            level = replace(level, stride=keep, dilation=level.dilation * factor, entry_dilation=None,
                            pool_dilation=level.pool_dilation * before)
        elif keep < level.stride:  # the entry conv carried it
            entry = level.first_dilation * before if entry_rule == "paper" else 1
            level = replace(level, stride=keep, dilation=level.dilation * factor, entry_dilation=entry)
        else:
            entry = None if level.entry_dilation is None else level.entry_dilation * factor
            level = replace(level, dilation=level.dilation * factor, entry_dilation=entry)
        levels.append(level)
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
# Model A's units with other downsampling layers: name -> (name string, top downsamplings by stride-2 conv).
WOD_VARIANTS = {
    "model_a1": ("224-0-3-3-6-3-1-1", 3),  # the paper's A1 sentence: pools before B2, B3; strided convs at B4-B6
    "resnet38": ("224-0-3-3-6-3-1-1", 5),  # the released weights' layout: strided convs at B2-B6, no pool
}
WOD_NAME = re.compile(r"(\d+)((?:-\d+){7})")


def is_wod_name(name: str) -> bool:
    return WOD_NAME.fullmatch(name) is not None


def wod_spec(name: str, conv_downsamplings: int = 0) -> NetSpec:
    """Wider-or-Deeper net from its name `<train crop>-<units in B1>-...-<units in B7>`.

    The final map is 7x7 at the training crop, so a crop of 7 * 2^k has k downsamplings, before B2 ... B(k+1)
    (224 nets: 5; 112 nets: 4; 56 nets: 3 -- their placement is the paper's lost Fig. 3, our reading). Each is a
    3x3/2 max-pool (`pool1` before B2, ...), except the top `conv_downsamplings` of them, which are stride 2 on the
    first conv and on the projection shortcut of their level's first unit instead:
    - 0: every downsampling by pooling (the paper's Models A-F, WoD Section 4);
    - 3: the paper's Model A1 sentence, "remove the top-most three pooling layers (before B4, B5 and B6), increase
      the strides of the according conv layers to two" (WoD Section 5; architectures.md B.4);
    - all (5 for a 224 net): the released code's layout (ademxapp `rna_feat_a1`, every level with downsample='c';
      the ResNet-38 weights and their ports, e.g. psa `resnet38d.py`).
    The parameter count is the same for every choice (pools have no weights). Raises UnknownModelError for a name
    that is not of this form, and ValueError for a negative `conv_downsamplings`.
    """
    match = WOD_NAME.fullmatch(name)
    if match is None:
        raise UnknownModelError(f"not a Wider-or-Deeper name like '224-0-3-3-6-3-1-1': {name!r}")
    if conv_downsamplings < 0:
        raise ValueError(f"conv_downsamplings must be >= 0, not {conv_downsamplings}")
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
        by_conv = k > downsamplings + 1 - conv_downsamplings  # downsampling k - 1 is among the top ones
        levels.append(Level(f"b{k}", "preact", widths, units, stride=stride, kernels=kernels,
                            pool=None if stride == 1 or by_conv else f"pool{k - 1}"))
        pending = 0
    if not levels:
        raise UnknownModelError(f"{name}: the net has no units")
    return NetSpec("wod", "wod", tuple(levels), final_norm=True, conv_init="fan_in", train_size=size)


def wod_segmentation_spec(spec: NetSpec, dropout: bool = True) -> NetSpec:
    """WoD Section 5 / architectures.md B.4: output stride 8 by `dilate` (strides beyond 8 removed, later layers
    dilated: for Model A, B5 at 2 after its entry layer, B6 and B7 at 4), and dropout 0.3 in B6 and 0.5 in B7
    (before each unit's last conv; `dropout=False` leaves it out). Nets of native stride <= 8 (56 nets) are
    unchanged but for the dropout."""
    spec = dilate(spec, 8)
    rates = {"b6": 0.3, "b7": 0.5} if dropout else {}
    return replace(spec, levels=tuple(replace(lv, dropout=rates.get(lv.name, 0.0)) for lv in spec.levels))
