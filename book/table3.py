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
# # Table 3: semantic segmentation

# %% tags=["parameters", "hide-cell"]
profile: str = "smoke"  # smoke | mini | paper: which params/<profile>/recipes.yaml trains, which results/ it writes
archs: list = ["drn_a_50", "drn_c_26"]  # the networks of the table (the paper: drn_a_50, drn_c_26, drn_c_42, resnet101)
arch: str = ""  # train only this network and add it to the table (empty: train every network of archs)
recipe: str = "drn_segmentation"  # the training recipe (shared with Figure 8)
scales: list = [1.0]  # multi-scale testing, e.g. [0.5, 0.75, 1, 1.25, 1.5, 1.75] ([1]: single scale only)

# %% tags=["hide-input"]
import matplotlib.pyplot as plt

from drnlib import recipes
from drnlib.display import (claims_table, compare_profiles, format_table, glue_results, paper_vs_ours,
                            paper_vs_ours_figure, show_provenance, show_stored_figures)
from drnlib.pages import start
from drnlib.pages.drn_segmentation import (curves, curves_figure, label, paper_miou, per_class, per_class_vs_paper,
                                           runs_table, scale_note, scores_table, segmenters, table3_intervals,
                                           table3_verdicts)
from drnlib.paper import published
from drnlib.results import load_all_profiles, save_figure, save_results

p = start("table3", globals())
paper = published("drn", "table3_cityscapes_val_iou")

# %% [markdown]
# The DRN paper (Section 5.3, Table 3) turns its ImageNet classifiers into segmentation networks by dropping the
# global pooling and upsampling the 1/8-resolution class scores bilinearly, fine-tunes them on Cityscapes with
# cropping and mirroring only, and reports per-class IoU on the validation set: DRN-C-26 beats the deeper DRN-A-50,
# DRN-C-42 does better still, and all beat a ResNet-101 baseline (66.6 mIoU, reported elsewhere: a ResNet-101
# dilated to output stride 8, as in the DeepLab line).
#
# **Our data differ.** At the smoke and mini profiles this page trains on **CamVid** instead of Cityscapes: 11
# classes instead of 19, 480×360 images instead of 2048×1024, 367 training images instead of 2,975, validated on
# CamVid's 101 val images. The paper starts from ImageNet-trained weights; no such weights are available offline, so
# these networks are **trained from scratch**. The absolute numbers therefore cannot match the paper's; what can be
# compared is the order of the networks. Our ResNet-101 baseline is trained like the DRNs (same recipe, same 1×1
# head) and, like the paper's, **dilated to output stride 8**. The paper profile uses Cityscapes itself and tunes
# each network from its ImageNet classifier (the `drn_classifier` runs of Table 1), with the official code's recipe.
#
# The page trains every network of `archs`. A reader can also train and add one network at a time:
# `papermill book/table3.ipynb out.ipynb -p arch drn_c_26` (from the repository root) trains only that one and shows
# it next to the networks of `archs` already trained at this profile.

# %% [markdown]
# ## The paper's Table 3 (Cityscapes val, IoU %)
#
# As published: 19 Cityscapes classes (one column per model here, to keep the table narrow). The ResNet-101 baseline
# is given in the text only, as a mean IoU.

# %%
baseline = published("drn", "table3_cityscapes_val_iou.baseline_miou")["baseline_miou"]
paper_table = paper.T.rename(index={"miou": "mIoU"})
paper_table.loc["mIoU", "resnet101 (baseline, OS 8)"] = baseline["resnet101"]
format_table(paper_table, "{:.1f}", caption=f"Source: {paper.attrs['source']}.")

# %% [markdown]
# ## Training
#
# Every network is trained with the recipe below, once per profile (the Figure 8 page reuses the runs): the
# classification network without its pooling and classifier, a 1×1 convolution to class scores and parameter-free
# bilinear upsampling; per-pixel cross-entropy with void pixels ignored; SGD; random crops and mirroring. Evaluation
# uses whole validation images. Training loss and validation mIoU per epoch:

# %%
print(recipes.describe(profile, recipe))
trained = segmenters(p)
history = curves(trained)
fig = curves_figure(history)
save_figure(fig, "table3", profile, "curves")
plt.show()
format_table(runs_table(trained), "{:.3g}")

# %% [markdown]
# ## Ours: per-class IoU (%)
#
# Every network next to the paper's IoU for the same class. CamVid's classes are not Cityscapes': the row names the
# closest Cityscapes class in brackets (CamVid's *bicyclist* is the rider together with the bicycle), so the paper's
# column is a Cityscapes number beside a CamVid one. At the smoke profile the networks see a few crops for seconds on
# the CPU, so our numbers only show that the pipeline works.

# %%
ours = scores_table(trained, scales)
classes = per_class(trained)
format_table(per_class_vs_paper(classes.assign(miou=ours["miou"]), paper), "{:.1f}",
             caption=f"IoU in %: ours on {scale_note(p, trained)}; the paper's on Cityscapes val (Table 3).")

# %% [markdown]
# ## The paper's claims at this profile
#
# Each claim compares networks on the same validation images: the margin is the mIoU difference in the claim's
# favour with its 95% interval from a paired bootstrap over the images (per-image confusion matrices,
# `drnlib.paper`); "by more than a point" asks the whole interval to clear that point. The structural claim (DRN-35)
# is computed on the built networks and the recipe. A claim whose networks this profile does not train is not tested.

# %%
verdicts, per_class_claims = table3_verdicts(p, trained)
values = {**{m: ours[m].to_dict() for m in ours.columns}, "iou": classes.to_dict(orient="index"),
          "networks": {a: label(a) for a in trained}, "claims": {v.claim: v.as_dict() for v in verdicts}}
record = save_results("table3", profile, values, dataset=scale_note(p, trained), runs=trained, params=p,
                      tables={"per_class": classes.reset_index(), "curves": history,
                              "per_class_claims": per_class_claims.reset_index()})
claims_table(verdicts, record)

# %% [markdown]
# DRN-41 class by class (when the three DRNs are trained): DRN-C-42's IoU over the better of the other two, and
# DRN-C-26's against DRN-A-50 beside the paper's difference for the class it stands for (margins in IoU points with
# their 95% intervals):

# %%
format_table(per_class_claims, "{:.1f}")

# %% [markdown]
# ## Paper vs ours: mean IoU
#
# For the networks both have. Δ compares a CamVid number with a Cityscapes one at the smoke and mini profiles
# (different classes, images and amount of data, and no ImageNet pretraining): there it is not a reproduction
# error, only the order of the rows is comparable.

# %%
show_provenance(record)
glue_results(record)
paper_vs_ours(paper, ours.loc[ours.index.isin(paper.index)], record, columns=["miou"], decimals=1)

# %% [markdown]
# As dots, every network of ours: the paper's mIoU (open circle; for ResNet-101 the baseline of its text) beside
# ours (filled) with its 95% interval, a bootstrap over the validation images. Where the two lie too far apart to
# share an axis, the paper's numbers get one of their own (top, red) and only the order of the networks compares.

# %%
fig = paper_vs_ours_figure(paper_miou().reindex(list(trained)).rename(label), table3_intervals(trained).rename(
    index=label), metric="mean IoU (%)", lower_is_better=False,
    title=f"Table 3: the paper (Cityscapes val) vs ours ({scale_note(p, trained)})")
save_figure(fig, "table3", profile, "paper_vs_ours")
plt.show()

# %% [markdown]
# ## Multi-scale testing
#
# The paper's Table 3 is single-scale. The official code also offers multi-scale testing (the class probabilities of
# the image resized by each scale, resized back and averaged); parameter `scales` turns it on.

# %%
format_table(ours.rename(index=label), "{:.1f}", caption=f"mIoU, pixel accuracy and mean class accuracy (%); "
             f"miou_ms: multi-scale testing at scales {', '.join(f'{s:g}' for s in scales)}" if "miou_ms" in ours
             else "mIoU, pixel accuracy and mean class accuracy (%), single scale (multi-scale testing is off).")

# %% [markdown]
# ## Every profile
#
# The mean IoU of every network at every profile with stored results (`results/mini/`, `results/paper/`), each with
# its provenance, and the training curves and "paper vs ours" figures stored by the other profiles.

# %%
names = sorted({a for r in load_all_profiles("table3").values() for a in r.values.get("miou", {})})
format_table(compare_profiles("table3", keys=[f"miou_{a}" for a in names] + [f"pixel_acc_{a}" for a in names]),
             "{:.1f}")

# %%
if not show_stored_figures("table3", "curves", current=profile):
    print("No other profile has stored its training curves yet.")
show_stored_figures("table3", "paper_vs_ours", current=profile);
