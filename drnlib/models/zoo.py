"""The model zoo: names -> spec tables -> `Net`. `build_model` and `list_models` are the public entry points."""

from __future__ import annotations

import difflib

from ..errors import ParameterError, UnknownModelError
from .network import SEGMENT_HEADS, TASKS, Net
from .specs import (DRN_TABLE, RESNET_DEPTHS, STEMS, WOD_ALIASES, WOD_NAMED, NetSpec, dilate, drn_a_spec, drn_spec,
                    WOD_VARIANTS, is_wod_name, resnet_cifar_spec, resnet_spec, wod_segmentation_spec, wod_spec)

DRN_A_DEPTHS = (18, 34, 50)  # the DRN paper's DRN-A nets (any ResNet depth works: drn_a_101, drn_a_152)
CIFAR_DEPTHS = (20, 56, 110)


def _spec_for(name: str, official_dilation: bool) -> NetSpec:
    if is_wod_name(name):
        return wod_spec(name)
    if name in WOD_ALIASES:
        return wod_spec(WOD_ALIASES[name])
    if name in WOD_VARIANTS:  # Model A's units, downsampled by stride-2 convs (see build_model)
        string, convs = WOD_VARIANTS[name]
        return wod_spec(string, conv_downsamplings=convs)
    if name in DRN_TABLE:
        return drn_spec(name)
    family, _, depth = name.rpartition("_")
    if depth.isdigit():
        if family == "drn_a" and int(depth) in RESNET_DEPTHS:
            return drn_a_spec(int(depth), "official" if official_dilation else "paper")
        if family == "resnet_cifar":
            return resnet_cifar_spec(int(depth))
    if name.startswith("resnet") and name[6:].isdigit() and int(name[6:]) in RESNET_DEPTHS:
        return resnet_spec(int(name[6:]))
    raise UnknownModelError(_unknown_message(name))


def list_models() -> list[str]:
    """Every named network of both papers (WoD nets also build from any name string like '112-1-1-1-1-1-1-1').

    The three 38-layer WoD nets share Model A's units and parameter count (105,070,912 without the classifier)
    and differ only in how they downsample (WoD Section 5; architectures.md B.4):
    - model_a (= '224-0-3-3-6-3-1-1'): the paper's Model A, five 3x3/2 max-pools (before B2 ... B6);
    - model_a1: the paper's A1 sentence, pools before B2 and B3, stride-2 convs in the first unit of B4, B5, B6;
    - resnet38: the layout of the released ResNet-38 weights (ademxapp `rna_feat_a1` and its ports such as psa
      `resnet38d.py`), stride-2 convs in the first unit of every level B2 ... B6 and no pool. Weights converted
      from that release load into model_a1 and model_a as well (same shapes) but compute another function there.
    """
    return ([f"resnet{d}" for d in RESNET_DEPTHS] + [f"drn_a_{d}" for d in DRN_A_DEPTHS] + list(DRN_TABLE)
            + list(WOD_ALIASES) + list(WOD_VARIANTS) + list(WOD_ALIASES.values()) + list(WOD_NAMED)
            + [f"resnet_cifar_{d}" for d in CIFAR_DEPTHS])


def aliases() -> dict[str, str]:
    """Letter names of the Wider-or-Deeper models -> their name strings (`list_models()` holds both)."""
    return dict(WOD_ALIASES)


def _unknown_message(name: str) -> str:
    close = difflib.get_close_matches(name, list_models(), n=5, cutoff=0.5)
    hint = f"; closest: {', '.join(close)}" if close else f"; known: {', '.join(list_models())}"
    return f"unknown architecture {name!r}{hint}"


def normalize_name(name: str) -> str:
    """'DRN-C-26' and 'drn_c_26' are the same net, as are 'ResNet-101' and 'resnet101'; WoD name strings keep their
    dashes."""
    name = name.strip()
    if is_wod_name(name):
        return name
    name = name.lower().replace("-", "_")
    depth = name.removeprefix("resnet_")
    return f"resnet{depth}" if name.startswith("resnet_") and depth.isdigit() else name


def build_model(name: str, num_classes: int = 1000, task: str = "classify", *, head: str | None = None,
                output_stride: int | None = None, official_dilation: bool = False, drop_unused: bool = False,
                dropout: bool = True) -> Net:
    """Build a network of either paper by name.

    Args:
        name: see `list_models()`; WoD nets also by name string ("224-0-3-3-6-3-1-1") or alias ("model_a").
            The ResNet-38 family: "model_a" = the paper's Model A (five max-pools); "model_a1" = the paper's A1
            sentence (pools before B2 and B3, stride-2 convs at B4-B6, WoD Section 5); "resnet38" = the layout of
            the released ResNet-38 weights (stride-2 convs at B2-B6, no pool; ademxapp `rna_feat_a1`, psa
            `resnet38d.py`; architectures.md B.4). All three have the same parameters, so load the released
            weights into "resnet38": they also load into the other two without error but compute something else.
        num_classes: classifier outputs (classify/dense) or segmentation classes.
        task: "classify" | "dense" | "segment" (see `network`).
        head: segmentation head, "linear" (DRN default: 1x1 conv), "1conv" or "2conv" (WoD; default "1conv").
        output_stride: dilate the top levels so the final map is 1/output_stride of the input (8 turns ResNet-x
            into DRN-A-x; WoD segmentation nets default to 8, as in the paper). The conversion keeps every
            receptive field: with the same weights, the final map subsampled by native stride / output_stride
            equals the unconverted net's (`specs.dilate`).
        official_dilation: DRN-A only: fyu/drn's DRN_A leaves the first block of layer3 and layer4 undilated,
            where the paper (and torchvision) dilate layer4's entry conv by 2. Use it to reproduce fyu/drn outputs.
        drop_unused: DRN-C-58 only: leave out layer7's projection, which fyu/drn builds but never uses (its
            1,049,600 weights get no gradient, which DistributedDataParallel refuses).
        dropout: WoD segmentation: dropout 0.3 in B6 and 0.5 in B7 (paper); False turns it off.
    """
    if task not in TASKS:
        raise ParameterError(f"unknown task {task!r}; choose from {', '.join(TASKS)}")
    if not isinstance(num_classes, int) or num_classes < 1:
        raise ParameterError(f"num_classes must be a positive integer, not {num_classes!r}")
    key = normalize_name(name)
    spec = _spec_for(key, official_dilation)
    is_wod = spec.family == "wod"
    if head is None:
        head = "1conv" if is_wod else "linear"
    if head not in SEGMENT_HEADS:
        raise ParameterError(f"unknown segmentation head {head!r}; choose from {', '.join(SEGMENT_HEADS)}")
    if official_dilation and spec.family != "drn_a":
        raise ParameterError("official_dilation applies to DRN-A nets only")
    if is_wod and task == "segment":
        spec = wod_segmentation_spec(spec, dropout=dropout)
    if output_stride is not None:
        if output_stride not in (8, 16, 32) or output_stride > _native_stride(spec):
            raise ParameterError(f"{key}: output_stride must be 8, 16 or 32 and at most the net's own "
                                 f"({_native_stride(spec)}), not {output_stride}")
        spec = dilate(spec, output_stride)
    if drop_unused and key != "drn_c_58":
        raise ParameterError("drop_unused applies to drn_c_58 only")
    model = Net(spec, num_classes, task, head)
    if drop_unused:
        model.layer7[0].downsample = None  # computed-but-unused in fyu/drn; see docstring
    model.name = key
    model.build_config = {"name": key, "num_classes": num_classes, "task": task, "head": head,
                          "output_stride": output_stride, "official_dilation": official_dilation,
                          "drop_unused": drop_unused, "dropout": dropout}
    return model


def _native_stride(spec: NetSpec) -> int:
    stride = STEMS[spec.stem][1]
    for level in spec.levels:
        if level.blocks:
            stride *= level.stride
    return stride


def model_from_config(config: dict) -> Net:
    """Rebuild a model from its `build_config` (as stored in checkpoints)."""
    config = dict(config)
    return build_model(config.pop("name"), config.pop("num_classes"), config.pop("task"), **config)




def design_crop(name: str) -> int:
    """The training crop a network is designed for, in pixels: the first number of a WoD name (224 / 112 / 56;
    WoD Sec. 4), 224 for ResNets and DRNs (ImageNet), 32 for the CIFAR ResNets."""
    return _spec_for(normalize_name(name), False).train_size
