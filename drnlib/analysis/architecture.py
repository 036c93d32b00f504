"""Read a network's structure off the built modules: every conv and pool in the order it runs, its resolution,
dilation and receptive field; the paper's levels; depth, parameters and FLOPs.

Shapes are traced on the meta device (no memory, no arithmetic), so even Model C at 224 traces in milliseconds.
`batchnorm_inputs` and `smallest_input_side` trace an already built model (its own weights stay where they are).
"""

from __future__ import annotations

import inspect
from dataclasses import asdict, dataclass

import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call
from torch.overrides import TorchFunctionMode
from torch.utils.flop_counter import FlopCounterMode

from ..models import build_model
from ..models.blocks import DilatedMaxPool

SHORTCUT_NAMES = ("downsample", "shortcut")  # projections beside the main path: not layers of the paper's depth


@dataclass
class LayerRecord:
    name: str
    kind: str            # "conv" or "pool"
    kernel: int
    stride: int
    dilation: int
    in_channels: int
    out_channels: int
    resolution: int      # output height
    main_path: bool      # False for shortcut projections
    receptive_field: int = 0  # of one output unit, in input pixels, along the main path
    level: int = 0       # the DRN paper's level (Fig. 5): a run of layers with one resolution and one dilation


def _meta_model(arch: str | nn.Module, **build_options) -> nn.Module:
    if isinstance(arch, nn.Module):
        return arch
    with torch.device("meta"):
        return build_model(arch, **build_options).eval()


def trace_layers(arch: str | nn.Module, input_size: int = 224, **build_options) -> list[LayerRecord]:
    """Every Conv2d and max-pool of the trunk (not the task head) in forward order, with receptive fields and paper
    levels filled in."""
    model = _meta_model(arch, **build_options)
    device = next(model.parameters()).device
    records: list[LayerRecord] = []

    def hook(name):
        def record(module, inputs, output):
            main = not any(part in name for part in SHORTCUT_NAMES)
            if isinstance(module, nn.Conv2d):
                records.append(LayerRecord(name, "conv", module.kernel_size[0], module.stride[0], module.dilation[0],
                                           module.in_channels, module.out_channels, output.shape[-2], main))
            else:
                k = module.kernel_size if isinstance(module, nn.MaxPool2d) else 3
                records.append(LayerRecord(name, "pool", _int(k), _int(module.stride), _int(module.dilation),
                                           inputs[0].shape[1], output.shape[1], output.shape[-2], main))
        return record

    handles = [m.register_forward_hook(hook(n)) for n, m in model.named_modules()
               if isinstance(m, (nn.Conv2d, nn.MaxPool2d, DilatedMaxPool))]
    was_training = model.training
    model.eval()  # a trace must not move BatchNorm statistics
    try:
        with torch.no_grad():
            model.forward_features(torch.zeros(1, 3, input_size, input_size, device=device))
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    _fill_receptive_fields(records)
    _fill_levels(records, input_size)
    return records


def _int(value) -> int:
    return value[0] if isinstance(value, (tuple, list)) else int(value)


def _fill_receptive_fields(records: list[LayerRecord]) -> None:
    """r grows by (k - 1) * dilation * jump per layer on the main path; jump (input pixels per step) by stride."""
    field, jump = 1, 1
    for r in records:
        if r.main_path:
            field += (r.kernel - 1) * r.dilation * jump
            jump *= r.stride
        r.receptive_field = field


def _fill_levels(records: list[LayerRecord], input_size: int) -> None:
    """DRN Fig. 5 caption: 'all layers within a given level have the same dilation and spatial resolution'.

    Levels are the runs of main-path layers with one (resolution, dilation). Only spatial convs (k > 1) define a
    run: a 1x1 conv joins the first spatial conv of its own block, a pool the next spatial conv. Numbering follows
    the figure: a run at 1/2^k of the input is level k + 1 (224 -> 1, 112 -> 2, 56 -> 3, 28 -> 4), and each later
    run at the same resolution is the next level (5, 6, 7, 8).
    """
    main = [r for r in records if r.main_path]
    spatial = [r for r in main if r.kind == "conv" and r.kernel > 1]

    def block(r: LayerRecord) -> str:
        return r.name.rsplit(".", 1)[0]

    level, previous = 0, None
    for i, r in enumerate(main):
        if r.kind == "conv" and r.kernel > 1:
            ref = r
        else:
            same_block = [s for s in spatial if block(s) == block(r)] if r.kind == "conv" else []
            later = [s for s in main[i + 1:] if s in spatial]
            ref = (same_block or later or [main[i - 1]])[0]
        key = (ref.resolution, ref.dilation)
        if key != previous:
            new_resolution = previous is None or key[0] != previous[0]
            level = (input_size // key[0]).bit_length() if new_resolution else level + 1
            previous = key
        r.level = level
    for i, r in enumerate(records):  # a shortcut belongs to the level of the next main-path layer
        if not r.main_path:
            r.level = next((m.level for m in records[i:] if m.main_path), level)


def layer_table(arch: str | nn.Module, input_size: int = 224, **build_options) -> pd.DataFrame:
    return pd.DataFrame([asdict(r) for r in trace_layers(arch, input_size, **build_options)])


def level_table(arch: str | nn.Module, input_size: int = 224, **build_options) -> pd.DataFrame:
    """One row per paper level: resolution, channels, dilations of its 3x3 convs, layers, receptive field."""
    rows = []
    for level, group in layer_table(arch, input_size, **build_options).query("main_path").groupby("level"):
        convs = group[group.kind == "conv"]
        rows.append({
            "level": level,
            "resolution": int(group.resolution.iloc[-1]),
            "channels": ",".join(str(c) for c in dict.fromkeys(convs.out_channels)),
            "dilation": ",".join(str(d) for d in sorted(set(convs[convs.kernel == 3].dilation))) or "-",
            "layers": len(convs),
            "receptive_field": int(group.receptive_field.iloc[-1]),
        })
    return pd.DataFrame(rows).set_index("level")


def depth(arch: str | nn.Module, **build_options) -> int:
    """The papers' depth: convs on the main path plus the classifier (ResNet-18 -> 18, DRN-C-26 -> 26)."""
    records = trace_layers(arch, 224, **build_options)
    return sum(r.kind == "conv" and r.main_path for r in records) + 1


def count_parameters(arch: str | nn.Module, **build_options) -> int:
    return sum(p.numel() for p in _meta_model(arch, **build_options).parameters())


def count_flops(arch: str | nn.Module, input_size: int = 224, **build_options) -> int:
    """Forward FLOPs of one image (torch.utils.flop_counter: a multiply-add counts as 2)."""
    model = _meta_model(arch, **build_options)
    device = next(model.parameters()).device
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(torch.zeros(1, 3, input_size, input_size, device=device))
    return counter.get_total_flops()


def final_resolution(arch: str | nn.Module, input_size: int = 224, **build_options) -> int:
    model = _meta_model(arch, **build_options)
    device = next(model.parameters()).device
    with torch.no_grad():
        return model.forward_features(torch.zeros(1, 3, input_size, input_size, device=device)).shape[-1]


def summarize(arch: str | nn.Module, input_size: int = 224, **build_options) -> dict:
    """Parameters, depth, forward GFLOPs and final map side at `input_size`, from one built (meta) model."""
    model = _meta_model(arch, **build_options)
    return {"params": count_parameters(model), "depth": depth(model),
            "gflops": count_flops(model, input_size) / 1e9, "final_resolution": final_resolution(model, input_size)}


def module_table(arch: str | nn.Module, input_size: int = 224, **build_options) -> pd.DataFrame:
    """One row per top-level module of the trunk (conv1, layer1, ...; the DRN paper's groups G1-G5 for a ResNet):
    output resolution, the dilations of its 3x3 convs in forward order, and the receptive field at its end."""
    rows = {}
    for r in trace_layers(arch, input_size, **build_options):
        if not r.main_path:
            continue
        row = rows.setdefault(r.name.split(".")[0], {"resolution": 0, "dilations": [], "receptive_field": 0})
        row["resolution"], row["receptive_field"] = r.resolution, r.receptive_field
        if r.kind == "conv" and r.kernel == 3:
            row["dilations"].append(r.dilation)
    for row in rows.values():
        row["dilations"] = " ".join(map(str, row["dilations"])) or "-"
    return pd.DataFrame.from_dict(rows, orient="index")


def zoo_table(names: list[str], input_size: int = 224) -> pd.DataFrame:
    """`summarize` for many models, one row each (family from the spec: resnet, drn_a, ..., wod)."""
    rows = {}
    for name in names:
        model = _meta_model(name)
        rows[name] = {"family": model.spec.family, **summarize(model, input_size)}
    return pd.DataFrame.from_dict(rows, orient="index")


class _BatchNormInputs(TorchFunctionMode):
    """While active, every F.batch_norm call that normalises with batch statistics records its input's shape; every
    call returns its input unchanged (a trace needs shapes only, and torch's meta batch norm is slow and refuses the
    very one-value maps `batchnorm_inputs` looks for)."""

    signature = inspect.signature(F.batch_norm)

    def __init__(self):
        super().__init__()
        self.shapes: list[torch.Size] = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        if func is not F.batch_norm:
            return func(*args, **(kwargs or {}))
        call = self.signature.bind(*args, **(kwargs or {})).arguments
        if call.get("training", False):
            self.shapes.append(call["input"].shape)
        return call["input"]


def batchnorm_inputs(model: nn.Module, input_size: int, batch: int = 1) -> list[torch.Size]:
    """Input shapes (N, C, H, W) of the BatchNorm calls that normalise with batch statistics, in forward order, when
    `model` (in its current modes: after model.train(), every BN layer; BN layers in eval mode use running statistics
    and are left out) runs on `batch` RGB images of input_size x input_size. torch refuses such a call when its input
    holds one value per channel, N x H x W == 1 ("Expected more than 1 value per channel when training",
    torch.nn.functional.batch_norm).

    Traced on the meta device with the model's parameters and buffers swapped for meta stand-ins
    (torch.func.functional_call): no copy, no arithmetic, milliseconds even for ResNet-152, and the model itself
    (weights, statistics, modes, device) is left as it was. Raises what the model's forward raises on the meta device.
    """
    stand_ins = {name: torch.empty_like(t, device="meta")
                 for name, t in [*model.named_parameters(), *model.named_buffers()]}
    with _BatchNormInputs() as trace, torch.no_grad():
        functional_call(model, stand_ins, (torch.empty(batch, 3, input_size, input_size, device="meta"),))
    return trace.shapes


def smallest_input_side(model: nn.Module, min_side: int = 2, start: int = 8, limit: int = 4096) -> int | None:
    """The smallest input side >= `start` (pixels) at which every map a batch-statistics BatchNorm of `model` sees is
    at least min_side x min_side, or None if no side up to `limit` is. Map sides never shrink as the input grows, so
    a doubling search and a bisection find it in about 2 log2(side) traces of `batchnorm_inputs`."""
    def fits(side: int) -> bool:
        return all(min(shape[2:], default=min_side) >= min_side for shape in batchnorm_inputs(model, side))

    if fits(start):
        return start
    low, high = start, start
    while not fits(high):
        if high >= limit:
            return None
        low, high = high, min(2 * high, limit)
    while high - low > 1:  # fits(high) and not fits(low)
        middle = (low + high) // 2
        low, high = (low, middle) if fits(middle) else (middle, high)
    return high
