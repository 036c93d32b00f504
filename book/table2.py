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
# # Table 2: weakly-supervised object localization

# %% tags=["parameters", "hide-cell"]
profile: str = "smoke"  # smoke | mini | paper: which params/<profile>/recipes.yaml trains, which results/ it writes
archs: list = ["resnet18", "drn_a_18", "drn_b_26", "drn_c_26"]  # the networks of the table (the paper has ten)
recipe: str = "drn_classifier"  # the training recipe of the classifiers (shared with Table 1, Figures 3, 4, 6, 7)
num_images: int = 4  # validation images drawn with their boxes

# %% tags=["hide-input"]
import matplotlib.pyplot as plt
from matplotlib.patches import Rectangle

from drnlib import recipes
from drnlib.display import (claims_table, compare_profiles, format_table, glue_results, paper_vs_ours,
                            paper_vs_ours_figure, show_provenance, show_stored_figures)
from drnlib.pages import start
from drnlib.pages.drn_classification import (classifiers, localization_scores, localization_table, pretty,
                                             table2_intervals, table2_verdicts, threshold_sweeps, true_class_boxes,
                                             validation_images)
from drnlib.paper import published
from drnlib.results import save_figure, save_results

p = start("table2", globals())
paper = published("drn", "table2_localization_error")

# %% [markdown]
# A classifier trained only with image labels can localize objects: remove its global pooling, take the class
# that dominates each cell of the resulting probability maps, and draw the smallest box around the cells where
# the predicted class dominates with a probability above a threshold t (DRN paper, Sections 3 and 5.2; no
# fine-tuning). Table 2 of the paper reports the resulting top-1 and top-5 localization error (a box is right
# when its IoU with the ground truth exceeds 0.5) and claims that every DRN beats its ResNet and that the
# degridded DRN-C-26 beats the deeper DRN-A-50 and ResNet-101.
#
# **Data differs from the paper's:** the paper evaluates on the ImageNet validation set; this page uses the
# networks trained on **Tiny-ImageNet-100** (100 ImageNet classes, 64×64 images) with the profile's
# `drn_classifier` recipe (shown below) and its validation boxes. The paper does not give t; we choose it, per
# network, on held-out **training** images (never on the validation set). At the smoke profile the networks are
# trained for seconds on a CPU and the numbers mean nothing.

# %% [markdown]
# ## The paper's table
#
# Localization error in percent on the ImageNet validation set (top-1: the top class is right and so is its box;
# top-5: one of the five best classes is the right one and its box is right):

# %%
format_table(paper.rename(index=pretty), "{:.1f}", caption=f"{paper.attrs['source']}; not given: "
             f"{', '.join(paper.attrs['unconfirmed'])}")

# %% [markdown]
# ## Our protocol
#
# The networks are the classifiers of the Table 1 page (the same runs, trained once with the recipe below). For
# each validation image:
#
# 1. the class scores come from 10-crop testing, as in the paper;
# 2. the whole image, resized to the training crop (the paper's 224), goes through the network without its global
#    pooling; a softmax over the classes at each cell gives the probability maps;
# 3. the box is the smallest box around the cells whose dominant class is the class in question and whose
#    probability exceeds t, mapped back to the image; it is right when its IoU with a ground-truth box is > 0.5.
#
# The code is `drnlib.eval.localization` (the choices the paper leaves open are written down there), run through
# `drnlib.runs.evaluate(run, task="localize", ten_crop=True)`. The threshold t is swept from 0 to 0.95 on the
# {glue:text}`threshold_images` training images each run held out of training, and the best one is used on the
# validation set.

# %%
print(recipes.describe(profile, recipe))
trained = classifiers(p)
scores = localization_scores(trained)
sweeps = threshold_sweeps(scores)
fig, axes = plt.subplots(1, 2, figsize=(10, 3.6), sharex=True)
for ax, column, title in zip(axes, ["loc_top1_error", "box_error"], ["top-1 localization error", "box error"]):
    for arch, sweep in sweeps.groupby(level="arch", sort=False):
        line, = ax.plot(sweep["threshold"], sweep[column], label=pretty(arch))
        chosen = sweep[sweep["threshold"] == scores[arch]["protocol"]["threshold"]]
        ax.plot(chosen["threshold"], chosen[column], "o", color=line.get_color())
    ax.set(xlabel="threshold t", ylabel="error (%)", title=f"{title}, held-out training images")
axes[0].legend(fontsize=8)
fig.tight_layout()
save_figure(fig, "table2", profile, "sweep")
plt.show()

# %% [markdown]
# The dots mark the threshold each network uses. "Box error" counts the images whose **true** class box is
# wrong, whatever the classification: it isolates how well the maps localize from how well the network
# classifies.
#
# ## Our table

# %%
ours = localization_table(scores, trained)
format_table(ours.rename(index=pretty), "{:.2f}", caption="top1 / top5: localization error; class top1 / top5: "
             "10-crop classification error; t: threshold; map: cells of the probability maps")

# %%
first = scores[archs[0]]
scale = f"{trained[archs[0]].config.dataset} val, {first['images']:,} images with boxes, {profile} profile"
verdicts = table2_verdicts(scores, scale)
values = {"loc": ours.drop(columns="map").to_dict(orient="index"), "val_images": first["images"],
          "threshold_images": first["threshold_images"], "claims": {v.claim: v.as_dict() for v in verdicts}}
record = save_results("table2", profile, values, dataset=scale, runs=trained, params=p,
                      tables={"ours": ours.reset_index(), "sweeps": sweeps.reset_index()})
glue_results(record)
show_provenance(record)
paper_vs_ours(paper.rename(index=pretty), ours.rename(index=pretty), record, columns=["top1", "top5"], decimals=1)

# %% [markdown]
# The same as dots: the paper's localization error (open circle) beside ours (filled) with its 95% interval
# (Clopper-Pearson over the validation images). Where the two lie too far apart to share an axis, the paper's
# numbers get one of their own (top, red) and only the order of the networks compares.

# %%
fig = paper_vs_ours_figure(paper.reindex(list(trained)).rename(index=pretty), table2_intervals(scores).rename(
    index=pretty), metric="localization error (%)", title=f"Table 2: the paper (ImageNet val) vs ours ({scale})")
save_figure(fig, "table2", profile, "paper_vs_ours")
plt.show()

# %% [markdown]
# ## Boxes
#
# The box each network draws for the true class (the box that is scored) on a few validation images, at the
# network's threshold, with the ground truth in green:

# %%
crop = trained[archs[0]].config.crop_size
shown = validation_images(trained[archs[0]].config.dataset, num_images, crop)
pictures = validation_images(trained[archs[0]].config.dataset, num_images, 128)
colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
fig, axes = plt.subplots(1, num_images, figsize=(2.6 * num_images, 3.0), squeeze=False)
for k, (arch, run) in enumerate(trained.items()):
    boxes, found = true_class_boxes(run, scores[arch]["protocol"]["threshold"], shown)
    for ax, box, ok in zip(axes[0], (boxes * 128 / crop).tolist(), found.tolist()):
        x0, y0, x1, y1 = box
        if ok:
            ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, color=colors[k % 10], lw=2, ls="--",
                                   label=pretty(arch)))
for i, ax in enumerate(axes[0]):
    ax.imshow(pictures.pictures[i])
    for x0, y0, x1, y1 in pictures.boxes[i].tolist():
        ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, color="lime", lw=2.5, label="ground truth"))
    ax.set_title(pictures.class_names[pictures.labels[i]][:18], fontsize=10)
    ax.set_xticks([]), ax.set_yticks([])
handles = {name: handle for ax in axes[0] for handle, name in zip(*ax.get_legend_handles_labels())}
fig.legend(handles.values(), handles.keys(), loc="lower center", ncol=len(handles), fontsize=9, frameon=False)
fig.tight_layout(rect=(0, 0.1, 1, 1))
save_figure(fig, "table2", profile, "boxes")
plt.show()

# %% [markdown]
# ## What the table claims, checked
#
# Each claim compares the localization error of two networks (lower is better) on the same
# {glue:text}`val_images` validation images; the margin is the difference in the claim's favour, with its 95%
# interval from a paired bootstrap over the images (`drnlib.paper`). A claim made of several comparisons (top-1
# and top-5, or several pairs) holds when each part holds. DRN-24 also asks that DRN-A-50 *classifies* better
# than DRN-C-26 (the paper's "even though"); DRN-28 compares, image by image, each DRN-A's gain over its ResNet
# in localization with its gain in classification (the same 10-crop evaluation). Claims that need networks this
# profile does not train say so.

# %%
claims_table(verdicts, record)

# %% [markdown]
# ## Every profile
#
# The threshold sweeps and "paper vs ours" figures of the other profiles where stored, then this run's numbers
# next to theirs, each with its provenance:

# %%
show_stored_figures("table2", "sweep", current=profile)
show_stored_figures("table2", "paper_vs_ours", current=profile)
format_table(compare_profiles("table2"))
