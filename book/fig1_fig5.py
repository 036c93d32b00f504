# ---
# jupyter:
#   jupytext:
#     cell_metadata_filter: tags,-all
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Figures 1 and 5: from ResNet to DRN-A, DRN-B and DRN-C, level by level

# %% tags=["parameters", "hide-cell"]
profile: str = "smoke"  # smoke | mini | paper: which results/<profile>/ folder this run writes
archs: list = ["resnet18", "drn_a_18", "drn_b_26", "drn_c_26"]  # architectures compared level by level
input_size: int = 224  # side of the input image, in pixels (the paper's figures assume 224; a multiple of 32)

# %% tags=["hide-input"]
import matplotlib.pyplot as plt
import pandas as pd

from drnlib import plots
from drnlib.analysis.architecture import count_parameters, level_table, module_table, trace_layers
from drnlib.display import claims_table, format_table, glue_results, show_provenance
from drnlib.pages import start
from drnlib.pages.drn_architecture import fig1_fig5_verdicts
from drnlib.results import save_results

p = start("fig1_fig5", globals())
arch_list = archs

# %% [markdown]
# **Figure 1** of the DRN paper turns a ResNet into a DRN: the striding of the first layers of groups G4 and G5 is
# removed, and the layers after them are dilated by 2 and 4 so that every unit keeps its receptive field, while
# the output grows from 7×7 to 28×28 at a 224 input. **Figure 5** then degrids DRN-A into DRN-B (max-pool replaced
# by residual blocks, two levels with decreasing dilation added) and DRN-C (those levels without residual
# connections).
#
# Nothing on this page is typed from the paper's drawings: every resolution, channel count, dilation and receptive
# field is read off the networks that `drnlib.models.build_model` builds, by tracing every convolution and pool in
# the order it runs (`drnlib.analysis.architecture`). No data and no training are involved.

# %% [markdown]
# ## Figure 1: ResNet-18 and DRN-A-18, group by group
#
# The groups G1 to G5 of the paper are the stem and `layer1` to `layer4` of the built networks. For each, the
# output resolution, the dilation of each 3×3 convolution in order, and the receptive field of one unit at its end
# (in input pixels, along the main path; $r \mathrel{+}= (k-1)\,d\,j$ and $j \mathrel{*}= s$ per layer):

# %%
resnet, drn = module_table("resnet18", input_size), module_table("drn_a_18", input_size)
paper_group = {"conv1": "G1", "maxpool": "G2", "layer1": "G2", "layer2": "G3", "layer3": "G4", "layer4": "G5"}
groups = pd.DataFrame({
    "group": [paper_group[m] for m in resnet.index],
    "size: ResNet-18": resnet.resolution, "size: DRN-A-18": drn.resolution,
    "3x3 dilations: ResNet-18": resnet.dilations, "3x3 dilations: DRN-A-18": drn.dilations,
    "field: ResNet-18": resnet.receptive_field, "field: DRN-A-18": drn.receptive_field,
})
format_table(groups)

# %% [markdown]
# Removing the stride of G4 and G5 quadruples the side of their output, and the dilations (Section 2: G4 at 2 from
# its second layer on; G5 at 2 on its first layer and 4 after) give every group the same receptive field as in
# ResNet-18: {glue:text}`rf_resnet18` pixels at the end of both networks. The price is compute: level 5 and 6 now
# run at 28×28 (see the model zoo page for FLOPs).
#
# ## Figure 5: the levels of DRN-A-18, DRN-B-26 and DRN-C-26
#
# The caption of Figure 5 defines a level as a run of layers with one dilation and one spatial resolution; a level
# at 1/2^k of the input is level k+1, and later runs at 28×28 are levels 5 to 8. Per level: output resolution,
# channels, the dilation of its 3×3 convolutions, the number of convolutions, and the receptive field at its end
# ("—": the network has no such level).

# %%
levels = pd.concat({arch: level_table(arch, input_size) for arch in arch_list}, names=["arch"]).reset_index()
summary = levels.assign(cell=levels.apply(lambda r: f"{r.resolution}² · {r.channels} ch · d {r.dilation} · "
                                                    f"{r.layers} conv · field {r.receptive_field}", axis=1))
format_table(summary.pivot(index="level", columns="arch", values="cell")[arch_list].fillna("—"))

# %% [markdown]
# Each box below is one layer of the main path in the order it runs (projection shortcuts left out), its height the
# number of channels (log scale) and its colour the dilation; green lines mark stride 2, and the numbers below are
# the levels:

# %%
records = {arch: trace_layers(arch, input_size) for arch in arch_list}
fig, axes = plt.subplots(len(arch_list), 1, figsize=(12, 1.3 * len(arch_list) + 0.6))
for ax, arch in zip([axes] if len(arch_list) == 1 else axes, arch_list):
    plots.draw_layers(ax, records[arch], f"{arch}: {len([r for r in records[arch] if r.kind == 'conv' and r.main_path])} convolutions")
plots.dilation_legend(fig)
fig.tight_layout(rect=(0, 0.06, 1, 1))
plt.show()

# %% [markdown]
# **A detail where the paper's text and its figure differ.** Section 2 leaves the first layer of G4 undilated (its
# stride is removed, its receptive field is unchanged) and dilates the first layer of G5 by 2. By the caption's own
# definition of a level, that first G4 layer (256 channels, dilation 1, 28×28) therefore belongs to level 4, and
# the first G5 layer (512 channels, dilation 2) to level 5, which is why DRN-A-18's level 4 lists 128 and 256
# channels above; Figure 5 draws all four 256-channel boxes in level 5. We follow Section 2 (torchvision's
# `replace_stride_with_dilation` does the same). The official code's `drn_a_50` leaves the first block of both
# groups undilated; `build_model("drn_a_50", official_dilation=True)` reproduces that.
#
# ## What the figures claim, checked on the built models

# %%
measured = list(dict.fromkeys(["resnet18", "drn_a_18", *arch_list]))  # Figure 1's pair is always measured
final = {arch: trace_layers(arch, input_size)[-1] for arch in measured}
verdicts = fig1_fig5_verdicts(arch_list, input_size)
values = {
    "rf": {arch: final[arch].receptive_field for arch in measured},
    "final_resolution": {arch: final[arch].resolution for arch in measured},
    "params": {arch: count_parameters(arch) for arch in measured},
    "levels": {arch: len(level_table(arch, input_size)) for arch in arch_list},
    "input_size": input_size, "claims": {v.claim: v.as_dict() for v in verdicts},
}
record = save_results("fig1_fig5", profile, values, dataset="none (architectures only)", params=p,
                      tables={"groups": groups.reset_index(names="module"), "levels": levels})
glue_results(record)
show_provenance(record)
claims_table(verdicts, record)

# %% [markdown]
# DRN-4 is where our measurement and the paper's wording part: removing the strides of G4 and G5 without dilating
# makes the output 4× larger in each dimension but the receptive field of an output unit only about 2× smaller,
# because the layers before G4 (whose field is untouched) contribute a good share of it. The argument stands — the
# field shrinks, and dilation restores it exactly (DRN-2) — but the factor is not 4.
