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
#
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

# %% tags=["parameters"]
profile: str = "smoke"  # smoke | mini | paper: which results/<profile>/ folder this run writes
input_size: int = 224  # side of the input for FLOPs and final resolution, in pixels

# %%
import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from drnlib.analysis.architecture import zoo_table
from drnlib.book import check, check_int
from drnlib.models import aliases, list_models
from drnlib.results import (check_profile, claims_table, format_table, glue_results, published, save_results,
                            show_provenance)

check_profile(profile)
check_int("input_size", input_size, 32, 1024)
check(input_size % 32 == 0, f"input_size must be a multiple of 32, got {input_size}")

# %%
letters = {string: alias.removeprefix("model_").upper() for alias, string in aliases().items()}
names = [n for n in list_models() if n not in aliases()]
zoo = zoo_table(names, input_size)
letters.update({"model_a1": "A1", "resnet38": "A1 (released)"})
zoo.insert(1, "alias", [letters.get(n, "") for n in zoo.index])

official = published("drn", "params_official_code")["params_official_code"].to_dict()
wod = published("wider_or_deeper", "models")
official.update(dict(zip(wod["spec"], wod["params"])))
zoo["official params"] = [official.get(n) for n in zoo.index]
zoo["Δ params"] = zoo["params"] - zoo["official params"]
paper_m = published("drn", "table1_imagenet_error")["params_M"]
zoo["paper (M)"] = [paper_m.get(n) for n in zoo.index]
zoo["GFLOPs"] = zoo.pop("gflops")
view = zoo.copy()
for column in ["params", "official params", "Δ params"]:
    view[column] = view[column].map(lambda v: "" if pd.isna(v) else f"{int(v):,}")
view["paper (M)"] = view["paper (M)"].map(lambda v: "" if pd.isna(v) else f"{v:.1f}")
format_table(view.rename(columns={"final_resolution": f"final map @{input_size}"}), "{:.2f}")

# %% [markdown]
# {glue:text}`matched` of the {glue:text}`with_official` models that have an official count match it to the integer
# (Δ = 0). DRN-C-58's count includes the 1,049,600 weights of a projection that fyu/drn builds in level 7 but never
# uses (level 7 has no residual connection); `build_model("drn_c_58", drop_unused=True)` leaves it out.
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

# %%
pairs = [(f"resnet{d}", f"drn_a_{d}") for d in (18, 34, 50)]
with_official = zoo.dropna(subset=["official params"])
values = {
    "matched": int((with_official["Δ params"] == 0).sum()), "with_official": len(with_official),
    "params": zoo["params"].astype(int).to_dict(), "gflops": zoo["GFLOPs"].to_dict(),
    "depth": zoo["depth"].astype(int).to_dict(), "input_size": input_size,
}
record = save_results("zoo", profile, values, dataset="none (architectures only)",
                      tables={"zoo": zoo.reset_index(names="model")},
                      params={"input_size": input_size, "num_classes": 1000})
glue_results(record)
show_provenance(record)
claims_table([
    {"claim": "every parameter count equals the official code's", "paper": "fyu/drn drn.py; ademxapp resnet_v2.py",
     "ours": f"{values['matched']} of {values['with_official']} equal", "holds": values["matched"] == values["with_official"]},
    {"claim": "DRN-A-x has exactly the parameters of ResNet-x", "paper": "DRN Sec. 2",
     "ours": ", ".join(f"{zoo.loc[d, 'params']:,}" for _, d in pairs),
     "holds": all(zoo.loc[r, "params"] == zoo.loc[d, "params"] for r, d in pairs)},
    {"claim": "Model A has 38 layers ('ResNet-38') and 17 residual units", "paper": "WoD Sec. 4",
     "ours": f"depth {zoo.loc['224-0-3-3-6-3-1-1', 'depth']}", "holds": zoo.loc["224-0-3-3-6-3-1-1", "depth"] == 38},
    {"claim": "Models D and F differ only in input size: same parameters", "paper": "WoD Table 1",
     "ours": f"{zoo.loc['112-1-1-1-1-9-1-1', 'params']:,} and {zoo.loc['56-1-1-1-1-9-1-1', 'params']:,}",
     "holds": zoo.loc["112-1-1-1-1-9-1-1", "params"] == zoo.loc["56-1-1-1-1-9-1-1", "params"]},
], record)
