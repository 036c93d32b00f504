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
# # The model zoo

# %% tags=["parameters", "hide-cell"]
profile: str = "smoke"  # smoke | mini | paper: which results/<profile>/ folder this run writes
input_size: int = 224  # side of the input for FLOPs and final resolution, in pixels (a multiple of 32)

# %% tags=["hide-input"]
import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from drnlib.display import claims_table, format_table, glue_results, show_provenance
from drnlib.pages import start
from drnlib.pages.drn_architecture import memory_by_output_stride, memory_verdict, unused_projection_weights, zoo_frame
from drnlib.results import save_results

p = start("zoo", globals())

# %% [markdown]
# Every network of both papers, built by `drnlib.models.build_model` from its spec table: ResNets, DRN-A/B/C and the
# official code's DRN-D, the Wider-or-Deeper models A to F (built from their name strings), Model A1 as the paper
# describes it (pools before B2 and B3, stride-2 convolutions at B4-B6) and `resnet38`, the layout of the released
# ResNet-38 weights (stride-2 convolutions at B2-B6, no pool), and the CIFAR ResNets of the gradient experiment.
# For each: its parameters next to the official code's count, its depth (convolutions on the main path plus the
# classifier, counted on the built model), its forward FLOPs for one image (`torch.utils.flop_counter`, a
# multiply-add counted as 2) and the side of its final feature map.
#
# The official counts come from the project's copy of the published numbers (`drnlib/published.yaml`): fyu/drn's
# `drn.py` and torchvision for the DRNs and ResNets, and a restatement of ademxapp's `resnet_v2.py` for the WoD
# models. Everything else is measured here, on the meta device (no memory, no arithmetic), in seconds.

# %%
zoo = zoo_frame(input_size)
view = zoo.copy()
for column in ["params", "official params", "Δ params"]:
    view[column] = view[column].map(lambda v: "" if pd.isna(v) else f"{int(v):,}")
view["paper (M)"] = view["paper (M)"].map(lambda v: "" if pd.isna(v) else f"{v:.1f}")
format_table(view.rename(columns={"final_resolution": f"final map @{input_size}"}), "{:.2f}")

# %% [markdown]
# {glue:text}`matched` of the {glue:text}`with_official` models that have an official count match it to the integer
# (Δ = 0). DRN-C-58's count includes the {glue:text}`unused_weights` weights of a projection that fyu/drn builds in
# level 7 but never uses (level 7 has no residual connection); `build_model("drn_c_58", drop_unused=True)` leaves it
# out.
#
# Parameters against compute: dilation leaves the parameters of a ResNet unchanged (DRN-A-x sits straight above
# ResNet-x) but multiplies its FLOPs, because the last two groups run at 4× and 16× more positions; the WoD models
# trade depth for width and are by far the largest.

# %%
fig, ax = plt.subplots(figsize=(8, 5))
sns.scatterplot(data=zoo.assign(Mparams=zoo["params"] / 1e6), x="Mparams", y="GFLOPs", hue="family", s=50, ax=ax)
for name, row in zoo.iterrows():
    ax.annotate(row["alias"] or name.replace("resnet_cifar_", "cifar"), (row["params"] / 1e6, row["GFLOPs"]),
                fontsize=7, xytext=(3, 2), textcoords="offset points")
ax.set(xscale="log", yscale="log", xlabel="parameters (millions)", ylabel=f"GFLOPs per image at {input_size}px",
       title="the zoo: parameters vs forward FLOPs")
plt.show()

# %% [markdown]
# ## Resolution costs memory (DRN Sec. 2)
#
# The price of resolution the paper names: the memory of a feature map grows with the square of its side. ResNet-50
# dilated to output stride 16 and 8 (8 is DRN-A-50), one image of {glue:text}`input_size` pixels, float32:

# %%
memory = memory_by_output_stride("resnet50", input_size)
format_table(memory, "{:.3g}")

# %%
with_official = zoo.dropna(subset=["official params"])
verdicts = [memory_verdict(memory, "ResNet-50")]
values = {
    "matched": int((with_official["Δ params"] == 0).sum()), "with_official": len(with_official),
    "unused_weights": f"{unused_projection_weights():,}",
    "params": zoo["params"].astype(int).to_dict(), "gflops": zoo["GFLOPs"].to_dict(),
    "depth": zoo["depth"].astype(int).to_dict(), "input_size": input_size,
    "claims": {v.claim: v.as_dict() for v in verdicts},
}
record = save_results("zoo", profile, values, dataset="none (architectures only)", params=p,
                      tables={"zoo": zoo.reset_index(names="model"), "memory": memory.reset_index()})
glue_results(record)
show_provenance(record)
claims_table(verdicts, record)

# %% [markdown]
# Beyond the paper's claims, a check of our code: every network's parameter count against the official code's
# (the table above, column Δ): {glue:text}`matched` of {glue:text}`with_official` equal.
