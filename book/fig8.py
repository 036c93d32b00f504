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
# # Figure 8: segmentation examples, DRN-A-50 vs DRN-C-26

# %% tags=["parameters", "hide-cell"]
profile: str = "smoke"  # smoke | mini | paper: which params/<profile>/recipes.yaml trains, which results/ it writes
archs: list = ["drn_a_50", "drn_c_26"]  # the networks, one column each (the paper: drn_a_50, drn_c_26)
num_images: int = 2  # validation images shown, spread evenly over those the runs are scored on
recipe: str = "drn_segmentation"  # the training recipe (shared with Table 3)

# %% tags=["hide-input"]
import matplotlib.pyplot as plt

from drnlib import recipes
from drnlib.display import (claims_table, compare_profiles, format_table, glue_results, show_provenance,
                            show_stored_figures)
from drnlib.pages import start
from drnlib.pages.drn_segmentation import (example_titles, examples_figure, fig8_verdict, label, measure_images,
                                           runs_table, scale_note, segmenters)
from drnlib.results import save_figure, save_results

p = start("fig8", globals())

# %% [markdown]
# The DRN paper's Figure 8 shows Cityscapes validation images segmented by DRN-A-50 and DRN-C-26 next to the ground
# truth: the predictions of DRN-A-50 "are marred by gridding artifacts", those of the degridded DRN-C-26 are "not
# only more accurate, but also visibly cleaner" (Section 5.3).
#
# **Our data differ.** As on the {doc}`Table 3 <table3>` page, at the smoke and mini profiles the networks are
# trained on **CamVid** instead of Cityscapes (11 classes instead of 19, 480×360 images instead of 2048×1024, 367
# training images) and **from scratch**, since no ImageNet-trained weights are available offline; the paper profile
# uses Cityscapes and the ImageNet classifiers. This page reuses Table 3's runs (the same recipe finds the same
# trained networks, and trains them if Table 3 has not). Beyond the paper, which judges cleanliness by eye, we count
# it: the **boundary ratio** is the number of label boundaries in a prediction per label boundary of the ground
# truth (1: as fragmented as the truth; speckled, gridded maps score higher).

# %% [markdown]
# ## The trained networks
#
# One run per network, found in `runs/<profile>/` (trained by the Table 3 page with the same recipe) or trained now:

# %%
print(recipes.describe(profile, recipe))
trained = segmenters(p)
format_table(runs_table(trained), "{:.3g}")

# %% [markdown]
# ## The examples
#
# Every network segments each validation image its run is scored on (whole image, single scale); the figure shows
# `num_images` of them, spread evenly, with the ground truth. Under each prediction: its mean IoU over the classes in
# that image or in the prediction, and its boundary ratio. Black is void (not scored).

# %%
measures, rows = measure_images(trained, num_images)
class_names = next(iter(trained.values())).result["class_names"]
fig = examples_figure(rows, class_names, example_titles(trained))
save_figure(fig, "fig8", profile, "examples")
plt.show()

# %% [markdown]
# Means over every measured image (mIoU and pixel accuracy in %, boundary ratio):

# %%
summary = measures.groupby("arch", sort=False)[["miou", "pixel_acc", "boundary_ratio"]].mean()
format_table(summary.rename(index=label), "{:.2f}",
             caption=f"{len(measures['image'].unique())} images; per-image mIoU averaged over the images.")

# %% [markdown]
# ## The paper's claim at this profile
#
# Figure 8 is qualitative. We test its two parts on the measured images, each network against the other on the same
# images (paired bootstrap over the images, `drnlib.paper`): *cleaner* as a lower boundary ratio (gridding adds
# spurious label boundaries; images whose truth has no boundary are left out), *more accurate* as a higher mIoU
# (per-image confusion matrices). At the smoke profile both networks are barely trained, so a verdict there says
# nothing about the paper.

# %%
verdict = fig8_verdict(trained, measures, scale_note(p, trained))
values = {"images": len(measures["image"].unique()), "mean_miou": summary["miou"].to_dict(),
          "mean_pixel_acc": summary["pixel_acc"].to_dict(), "mean_boundary_ratio": summary["boundary_ratio"].to_dict(),
          "claims": {verdict.claim: verdict.as_dict()}}
record = save_results("fig8", profile, values, dataset=scale_note(p, trained), runs=trained, params=p,
                      tables={"per_image": measures})
show_provenance(record)
glue_results(record)
claims_table([verdict], record)

# %% [markdown]
# ## Every profile
#
# The examples stored by the other profiles (`results/mini/`, `results/paper/`), each with its provenance, and the
# means of every profile with stored results:

# %%
if not show_stored_figures("fig8", "examples", current=profile):
    print("No other profile has stored this figure yet.")

# %%
format_table(compare_profiles("fig8", keys=[f"{m}_{a}" for m in ("mean_miou", "mean_boundary_ratio") for a in archs]),
             "{:.2f}")
