"""What the architecture pages (Figures 1 and 5, the model zoo) measure on the built networks: no data, no training.

    fig1_fig5_verdicts(archs, input_size)   # DRN-2, 3, 4, 7 decided on the traced networks (drnlib.paper.exact)
    zoo_frame(input_size)                   # every network: parameters (ours, official), depth, FLOPs, final map
    memory_by_output_stride("resnet50")     # DRN-5: feature-map memory at output stride 32, 16, 8
    unused_projection_weights()             # DRN-C-58's projection that fyu/drn builds and never uses

Everything is traced on the meta device (drnlib.analysis.architecture): seconds, no memory.
"""

from __future__ import annotations

import pandas as pd
import torch
from torch import nn

from drnlib import paper
from drnlib.analysis.architecture import count_parameters, level_table, module_table, trace_layers, zoo_table
from drnlib.models import aliases, build_model, list_models
from drnlib.params import models, multiple_of

# Its pages compute on the networks as built: no weights, trained or not, change their numbers.
TRAINS_NOTHING = True

RULES = {
    "fig1_fig5": {"archs": models(), "input_size": multiple_of(32, 32, 2048)},
    "zoo": {"input_size": multiple_of(32, 32, 1024)},
}
# The paper's Figure 5(c): the dilation of DRN-C's eight levels.
DRN_C_LEVEL_DILATIONS = ["1", "1", "1", "1", "2", "4", "2", "1"]


def needed_runs(page: str, p) -> list:
    """The architecture pages train nothing."""
    return []


def undilated(arch: str) -> nn.Module:
    """`arch` (a DRN-A) with its dilation removed and its striding left out: what DRN Sec. 2 argues against (the
    receptive field of later units shrinks by the factor the resolution grows). Built on the meta device."""
    with torch.device("meta"):
        model = build_model(arch)
    for module in model.modules():
        if isinstance(module, nn.Conv2d) and module.dilation != (1, 1):
            module.dilation, module.padding = (1, 1), tuple(k // 2 for k in module.kernel_size)
    return model


def fig1_fig5_verdicts(archs: list[str], input_size: int) -> list:
    """DRN-2 (receptive fields kept), DRN-3 (1/8 vs 1/32 output), DRN-4 (undilated: fields shrink by the growth in
    resolution), DRN-7 (the degridded layout of Fig. 5), all computed on the built networks at `input_size`."""
    verdicts = []
    pairs = [(f"resnet{d}", f"drn_a_{d}") for d in (18, 34, 50)]
    kept = {d: module_table(d, input_size).receptive_field.equals(module_table(r, input_size).receptive_field)
            for r, d in pairs}
    fields = {name: trace_layers(name, input_size)[-1].receptive_field for pair in pairs for name in pair}
    verdicts.append(paper.exact("DRN-2", all(kept.values()), "; ".join(
        f"{d}: {fields[d]} px vs {r}: {fields[r]} px at every group end" + ("" if kept[d] else " (differs)")
        for r, d in pairs)))
    final = {name: trace_layers(name, input_size)[-1].resolution for name in ("resnet18", "drn_a_18")}
    verdicts.append(paper.exact(
        "DRN-3", final["resnet18"] == input_size // 32 and final["drn_a_18"] == input_size // 8,
        f"final map {final['drn_a_18']}x{final['drn_a_18']} (DRN-A-18) vs {final['resnet18']}x{final['resnet18']} "
        f"(ResNet-18) at {input_size} px: {final['drn_a_18'] ** 2 // final['resnet18'] ** 2}x the positions "
        f"(the paper's text says 24x; 28²/7² = 16)"))
    plain = module_table(undilated("drn_a_18"), input_size)
    dilated = module_table("drn_a_18", input_size)
    growth = plain.resolution.iloc[-1] / final["resnet18"]
    shrink = dilated.receptive_field.iloc[-1] / plain.receptive_field.iloc[-1]
    # what the layers after the last stride kept (layer2) add to the field, with and without dilation
    added = ((dilated.receptive_field.iloc[-1] - dilated.receptive_field["layer2"])
             / (plain.receptive_field.iloc[-1] - plain.receptive_field["layer2"]))
    verdicts.append(paper.exact(
        "DRN-4", shrink >= growth,
        f"ResNet-18 with the strides of G4-G5 removed and no dilation: output {plain.resolution.iloc[-1]}² "
        f"({growth:g}x the side), receptive field of an output unit {plain.receptive_field.iloc[-1]} px instead of "
        f"{dilated.receptive_field.iloc[-1]} px: {shrink:.2f}x smaller, not {growth:g}x (the part G4-G5 add shrinks "
        f"{added:.2f}x; the early layers' part is unchanged)"))
    levels = level_table("drn_c_26", input_size)
    model = build_model("drn_c_26")
    no_shortcut = all(not block.residual for name in ("layer7", "layer8") for block in getattr(model, name))
    no_pool = not any(isinstance(m, nn.MaxPool2d) for m in model.modules())
    dilations = list(levels.dilation)
    verdicts.append(paper.exact(
        "DRN-7", dilations == DRN_C_LEVEL_DILATIONS and no_shortcut and no_pool,
        f"DRN-C-26 level dilations {' '.join(dilations)}; levels 7-8 without shortcuts: {no_shortcut}; "
        f"max-pooling: {'none' if no_pool else 'present'}"))
    return verdicts


def zoo_frame(input_size: int) -> pd.DataFrame:
    """Every named network (aliases left out), with its letter, parameters, the official code's count and the
    paper's (M), depth, forward GFLOPs at `input_size` and final map side."""
    letters = {string: alias.removeprefix("model_").upper() for alias, string in aliases().items()}
    names = [n for n in list_models() if n not in aliases()]
    zoo = zoo_table(names, input_size)
    letters.update({"model_a1": "A1", "resnet38": "A1 (released)"})
    zoo.insert(1, "alias", [letters.get(n, "") for n in zoo.index])
    official = paper.published("drn", "params_official_code")["params_official_code"].to_dict()
    wod = paper.published("wider_or_deeper", "models")
    official.update(dict(zip(wod["spec"], wod["params"])))
    zoo["official params"] = [official.get(n) for n in zoo.index]
    zoo["Δ params"] = zoo["params"] - zoo["official params"]
    paper_m = paper.published("drn", "table1_imagenet_error")["params_M"]
    zoo["paper (M)"] = [paper_m.get(n) for n in zoo.index]
    zoo["GFLOPs"] = zoo.pop("gflops")
    return zoo


def unused_projection_weights() -> int:
    """Weights of the layer-7 projection of DRN-C-58 that fyu/drn builds but never uses (level 7 has no
    shortcut): the difference between the official layout and `drop_unused=True`."""
    return count_parameters("drn_c_58") - count_parameters(build_model("drn_c_58", drop_unused=True))


def memory_by_output_stride(arch: str = "resnet50", input_size: int = 224) -> pd.DataFrame:
    """DRN Sec. 2 / DRN-5: the memory of the final feature map and of every level's output (float32 MiB for one
    image) when `arch` is dilated to output stride 32 (itself), 16 and 8 (DRN-A). Traced on the meta device."""
    rows = {}
    for stride in (32, 16, 8):
        with torch.device("meta"):
            model = build_model(arch, output_stride=None if stride == 32 else stride).eval()
            levels = model.forward_levels(torch.empty(1, 3, input_size, input_size))
        last = list(levels.values())[-1]
        rows[stride] = {"final map side": last.shape[-1], "final map (MiB)": last.numel() * 4 / 2**20,
                        "all level outputs (MiB)": sum(t.numel() for t in levels.values()) * 4 / 2**20}
    frame = pd.DataFrame(rows).T.rename_axis("output stride")
    return frame


def memory_verdict(frame: pd.DataFrame, arch: str) -> paper.Verdict:
    """DRN-5 on `memory_by_output_stride`: each halving of the output stride doubles the final map's side and
    quadruples its memory."""
    ratios = (frame["final map (MiB)"].iloc[1:].to_numpy() / frame["final map (MiB)"].iloc[:-1].to_numpy())
    sides = frame["final map side"].astype(int).tolist()
    return paper.exact("DRN-5", all(abs(r - 4) < 1e-9 for r in ratios),
                       f"{arch}: final map side {' -> '.join(map(str, sides))} at output stride 32 -> 16 -> 8, its "
                       f"memory x{' then x'.join(f'{r:g}' for r in ratios)}; every level's output together: "
                       + " -> ".join(f"{v:.1f}" for v in frame["all level outputs (MiB)"]) + " MiB per image")


__all__ = ["RULES", "DRN_C_LEVEL_DILATIONS", "needed_runs", "undilated", "fig1_fig5_verdicts", "zoo_frame",
           "unused_projection_weights", "memory_by_output_stride", "memory_verdict"]
