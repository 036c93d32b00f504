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
# # Table 1: image classification error of ResNets and DRNs

# %% tags=["parameters", "hide-cell"]
profile: str = "smoke"  # smoke | mini | paper: which params/<profile>/recipes.yaml trains, which results/ it writes
archs: list = ["resnet18", "drn_a_18", "drn_b_26", "drn_c_26"]  # the networks of the table (the paper has ten)
recipe: str = "drn_classifier"  # the training recipe of the classifiers (shared with Table 2, Figures 3, 4, 6, 7)

# %% tags=["hide-input"]
import matplotlib.pyplot as plt
import pandas as pd

from drnlib import recipes, runs
from drnlib.analysis.architecture import count_parameters
from drnlib.display import (claims_table, compare_profiles, format_table, glue_results, paper_vs_ours,
                            paper_vs_ours_figure, show_provenance, show_stored_figures)
from drnlib.pages import start
from drnlib.pages.drn_classification import classifiers, depth, pretty, scale_note, table1_intervals, table1_verdicts
from drnlib.paper import published
from drnlib.results import save_figure, save_results

p = start("table1", globals())
paper = published("drn", "table1_imagenet_error")

# %% [markdown]
# Table 1 of the DRN paper reports the ImageNet validation error of ResNet-18/34/50/101 and of the DRNs built from
# them, 1-crop and 10-crop, top-1 and top-5, with the parameter counts. Its claims: each DRN-A beats the ResNet it
# is made from with the same depth and parameters; degridding (DRN-B, then DRN-C) helps further, so that DRN-C-26
# matches the deeper DRN-A-34 and DRN-C-42 matches DRN-A-50 and approaches ResNet-101.
#
# **Data differs from the paper's:** the paper trains on ImageNet (1.28 M images, 1000 classes, 224-pixel crops,
# 120 epochs); the smoke and mini profiles train on **Tiny-ImageNet-100** (100 ImageNet classes, 300 training and 50
# validation images per class, 64×64 pixels) with the `drn_classifier` recipe of their profile (shown below). The
# numbers are therefore not comparable one to one with the paper's; the question is whether the paper's
# *orderings* hold.

# %% [markdown]
# ## The paper's table
#
# Errors in percent on the ImageNet 2012 validation set; P is the number of parameters in millions:

# %%
format_table(paper.rename(index=pretty), "{:.2f}", caption=paper.attrs["source"])

# %% [markdown]
# ## Training
#
# Every network is trained with the recipe below, once per profile, and shared with the Table 2 and Figure 3, 4,
# 6, 7 pages. The validation error after each epoch (centre crop):

# %%
print(recipes.describe(profile, recipe))
trained = classifiers(p)
curves = pd.concat({arch: run.metrics().set_index("epoch") for arch, run in trained.items()}, names=["arch"])
fig, ax = plt.subplots(figsize=(7, 3.6))
for arch, curve in curves.groupby(level="arch", sort=False):
    ax.plot(curve.index.get_level_values("epoch"), curve["val_top1_error"], marker="o" if len(curve) < 4 else None,
            label=pretty(arch))
ax.set(xlabel="epoch", ylabel="top-1 error (%), centre crop", title="validation error while training")
ax.legend(fontsize=8, ncol=2)
fig.tight_layout()
save_figure(fig, "table1", profile, "curves")
plt.show()

# %% [markdown]
# ## Our table
#
# 1-crop: the centre crop of the image resized to crop·256/224 pixels (the paper's 224 of 256); 10-crop: the centre
# and four corner crops and their mirror images, softmax probabilities averaged. Then the parameters in millions of
# each network with the paper's 1000-way classifier (the paper's P, counted on the built models), its depth and
# its training time.

# %%
one_crop = {arch: run.result["val"] for arch, run in trained.items()}
ten_crop = {arch: runs.evaluate(run, ten_crop=True) for arch, run in trained.items()}
ours = pd.DataFrame({arch: {"top1_1crop": one_crop[arch]["top1_error"], "top5_1crop": one_crop[arch]["top5_error"],
                            "top1_10crop": ten_crop[arch]["top1_error"], "top5_10crop": ten_crop[arch]["top5_error"]}
                     for arch in trained}).T.rename_axis("model")
details = pd.DataFrame({arch: {"params_M": count_parameters(arch) / 1e6, "depth": depth(arch),
                               "train minutes": run.result["train_seconds"] / 60, "device": run.result["device"]}
                        for arch, run in trained.items()}).T
format_table(ours.rename(index=pretty), "{:.2f}")

# %%
format_table(details.rename(index=pretty), "{:.3g}")

# %% [markdown]
# ## Paper vs ours
#
# The paper's numbers next to ours, with Δ = ours − paper (expect large positive Δ: a smaller data set, smaller
# images, shorter training).

# %%
scale = scale_note(p, trained)
verdicts = table1_verdicts(one_crop, ten_crop, scale)
shared = ours.index.intersection(paper.index)
values = {"error": ours.to_dict(orient="index"), "params_M": details["params_M"].to_dict(),
          "val_images": next(iter(trained.values())).result["val_images"],
          "rank_correlation": ours.loc[shared, "top1_1crop"].rank().corr(paper.loc[shared, "top1_1crop"].rank()),
          "claims": {v.claim: v.as_dict() for v in verdicts}}
values["rank_correlation_text"] = (f"{values['rank_correlation']:.2f}" if pd.notna(values["rank_correlation"])
                                   else "undefined (fewer than two distinct errors)")
record = save_results("table1", profile, values, dataset=scale, runs=trained, params=p,
                      tables={"ours": ours.reset_index(), "details": details.reset_index()})
glue_results(record)
show_provenance(record)
paper_vs_ours(paper.rename(index=pretty), ours.rename(index=pretty), record, columns=["top1_1crop", "top5_1crop"])

# %%
paper_vs_ours(paper.rename(index=pretty), ours.rename(index=pretty), record, columns=["top1_10crop", "top5_10crop"])

# %% [markdown]
# The same as dots, one panel per column: the paper's error (open circle) beside ours (filled) with its 95%
# interval (Clopper-Pearson over the validation images). Where the two lie too far apart to share an axis, the
# paper's numbers get one of their own (top, red) and only the order of the networks compares.

# %%
fig = paper_vs_ours_figure(paper.reindex(list(trained)).rename(index=pretty),
                           table1_intervals(one_crop, ten_crop).rename(index=pretty), metric="error (%)",
                           title=f"Table 1: the paper (ImageNet val) vs ours ({scale})")
save_figure(fig, "table1", profile, "paper_vs_ours")
plt.show()

# %% [markdown]
# Does the paper's ranking of the networks carry over? Our 1-crop top-1 error against the paper's; the Spearman
# rank correlation of the two is {glue:text}`rank_correlation_text` (1: the same order):

# %%
fig, ax = plt.subplots(figsize=(5.2, 4.2))
ax.scatter(paper.loc[shared, "top1_1crop"], ours.loc[shared, "top1_1crop"])
for arch in shared:
    ax.annotate(pretty(arch), (paper.loc[arch, "top1_1crop"], ours.loc[arch, "top1_1crop"]), fontsize=8,
                xytext=(3, 3), textcoords="offset points")
ax.set(xlabel="paper: ImageNet top-1 error (%)", ylabel="ours: top-1 error (%)", title="1-crop top-1 error")
fig.tight_layout()
save_figure(fig, "table1", profile, "ranking")
plt.show()

# %% [markdown]
# ## What the table claims, checked
#
# Each claim compares two networks on the same validation images; the margin is the difference in the claim's
# favour, with its 95% interval from a paired bootstrap over the images (`drnlib.paper`). "As accurate as" means
# within the tolerance stored with the claim.

# %%
claims_table(verdicts, record)

# %% [markdown]
# ## Every profile
#
# This run next to the stored results of the other profiles (each with its provenance), and their training
# curves and "paper vs ours" figures where stored:

# %%
show_stored_figures("table1", "curves", current=profile)
show_stored_figures("table1", "paper_vs_ours", current=profile)
format_table(compare_profiles("table1"))
