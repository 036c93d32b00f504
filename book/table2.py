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
#
# A classifier trained only with image labels can localize objects: remove its global pooling, take the class
# that dominates each cell of the resulting probability maps, and draw the smallest box around the cells where
# the predicted class dominates with a probability above a threshold t (DRN paper, Sections 3 and 5.2; no
# fine-tuning). Table 2 of the paper reports the resulting top-1 and top-5 localization error (a box is right
# when its IoU with the ground truth exceeds 0.5) and claims that every DRN beats its ResNet and that the
# degridded DRN-C-26 beats the deeper DRN-A-50 and ResNet-101.
#
# **Data differs from the paper's:** the paper evaluates on the ImageNet validation set; this page uses the
# networks trained on **Tiny-ImageNet-100** (100 ImageNet classes, 64×64 images) and its validation boxes. The
# paper does not give t; we choose it, per network, on held-out **training** images (never on the validation
# set). At the smoke profile the networks are trained for seconds on a CPU and the numbers mean nothing.

# %% tags=["parameters"]
profile: str = "smoke"  # smoke | mini | paper: which results/<profile>/ folder this run writes
archs: str = "resnet18,drn_a_18,drn_b_26,drn_c_26"  # the networks of the table (the paper has ten)
num_images: int = 4  # validation images drawn with their boxes
dataset: str = "tiny_imagenet"  # classifiers: training data (tiny_imagenet stands in for imagenet)
epochs: int = 1  # classifiers: training epochs
batch_size: int = 16  # classifiers: batch size
crop_size: int = 24  # classifiers: training crop and evaluation centre crop, in pixels
lr: float = 0.01  # classifiers: initial learning rate, divided by 10 every step epochs
step: int = 30  # classifiers: epochs between learning-rate steps
limit_train: int = 32  # classifiers: training images, taken round-robin over the classes (0: all)
limit_val: int = 10  # classifiers: validation images (0: all)
holdout: int = 8  # classifiers: training images held out to choose the localization threshold on
seed: int = 0  # classifiers: random seed
workers: int = 0  # data loader worker processes
device: str = "auto"  # auto | cpu | cuda

# %%
import matplotlib.pyplot as plt
import pandas as pd
import torch
from matplotlib.patches import Rectangle

from drnlib.analysis.architecture import final_resolution
from drnlib.book import check, check_choice, check_int
from drnlib.eval.localization import class_boxes
from drnlib.pages.drn_classification import (classifier_config, comparison_claim, nowrap, parse_archs, pretty,
                                             train_classifiers, validation_images)
from drnlib.results import (claims_table, compare_profiles, format_table, glue_results, paper_vs_ours, published,
                            save_figure, save_results, show_provenance, show_stored_figures)
from drnlib.train import resolve_device

check_choice("profile", profile, ["smoke", "mini", "paper"])
arch_list = parse_archs(archs)
check_int("num_images", num_images, 1, 12)
settings = dict(dataset=dataset, epochs=epochs, batch_size=batch_size, crop_size=crop_size, lr=lr, step=step,
                limit_train=limit_train, limit_val=limit_val, holdout=holdout, seed=seed, workers=workers,
                device=device)
classifier_config(arch_list[0], **settings)  # every training setting checked before anything runs
check(holdout > 0, "holdout must be > 0: the localization threshold is chosen on held-out training images")
compute = resolve_device(device)
paper = published("drn", "table2_localization_error")

# %% [markdown]
# ## The paper's table
#
# Localization error in percent on the ImageNet validation set (top-1: the top class is right and so is its box;
# top-5: one of the five best classes is the right one and its box is right):

# %%
nowrap(format_table(paper.rename(index=pretty), "{:.1f}", caption=f"{paper.attrs['source']}; not given: "
                    f"{', '.join(paper.attrs['unconfirmed'])}"))

# %% [markdown]
# ## Our protocol
#
# The networks are the classifiers of the Table 1 page (the same runs, trained once). For each validation image:
#
# 1. the class scores come from 10-crop testing, as in the paper;
# 2. the whole image, resized to `crop_size` × `crop_size` pixels (the paper's 224), goes through the network
#    without its global pooling; a softmax over the classes at each cell gives the probability maps;
# 3. the box is the smallest box around the cells whose dominant class is the class in question and whose
#    probability exceeds t, mapped back to the image; it is right when its IoU with a ground-truth box is > 0.5.
#
# The code is `drnlib.eval.localization` (the choices the paper leaves open are written down there) run through
# `Run.evaluate(task="localize", ten_crop=True)`. The threshold t is swept from 0 to 0.95 on the
# {glue:text}`threshold_images` training images each run held out of training, and the best one is used on the
# validation set.

# %%
runs = train_classifiers(arch_list, profile, **settings)
scores = {arch: run.evaluate(task="localize", ten_crop=True) for arch, run in runs.items()}
sweeps = pd.concat({arch: pd.DataFrame(s["threshold_sweep"]) for arch, s in scores.items()}, names=["arch", "row"])
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
ours = pd.DataFrame({arch: {
    "top1": s["loc_top1_error"], "top5": s["loc_top5_error"], "box error": s["box_error"],
    "class top1": s["top1_error"], "class top5": s["top5_error"], "t": s["protocol"]["threshold"],
    "map": f"{final_resolution(arch, crop_size)}²"} for arch, s in scores.items()}).T
ours.index.name = "model"
val_images = scores[arch_list[0]]["images"]
nowrap(format_table(ours.rename(index=pretty), "{:.2f}", caption="top1 / top5: localization error; class top1 / "
                    "top5: 10-crop classification error; t: threshold; map: cells of the probability maps"))

# %%
values = {"loc": ours.drop(columns="map").to_dict(orient="index"), "val_images": val_images,
          "threshold_images": scores[arch_list[0]]["threshold_images"]}
record = save_results("table2", profile, values, dataset=f"{dataset} val ({val_images} images with boxes)",
                      runs=runs, tables={"ours": ours.reset_index(), "sweeps": sweeps.reset_index()},
                      params={"archs": arch_list, "num_images": num_images, **settings})
glue_results(record)
show_provenance(record)
nowrap(paper_vs_ours(paper.rename(index=pretty), ours.rename(index=pretty), record, columns=["top1", "top5"],
                     decimals=1))

# %% [markdown]
# ## Boxes
#
# The box each network draws for the true class (the box that is scored) on a few validation images, at the
# network's threshold, with the ground truth in green:

# %%
shown = validation_images(dataset, num_images, crop_size)
pictures = validation_images(dataset, num_images, 128)
colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
fig, axes = plt.subplots(1, num_images, figsize=(2.6 * num_images, 3.0), squeeze=False)
labels = torch.tensor(shown.labels)
for k, (arch, run) in enumerate(runs.items()):
    with torch.no_grad():
        dense = run.model(task="dense", device=compute)(shown.images.to(compute)).float().softmax(dim=1)
    sizes = torch.tensor([[crop_size, crop_size]] * num_images)
    boxes, found = class_boxes(dense.cpu(), labels, sizes, scores[arch]["protocol"]["threshold"])
    for i, ax in enumerate(axes[0]):
        if found[i]:
            x0, y0, x1, y1 = (boxes[i] * 128 / crop_size).tolist()
            ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, color=colors[k % 10], lw=2,
                                   ls="--", label=pretty(arch)))
for i, ax in enumerate(axes[0]):
    ax.imshow(pictures.pictures[i])
    for x0, y0, x1, y1 in pictures.boxes[i].tolist():
        ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, color="lime", lw=2.5, label="ground truth"))
    ax.set_title(pictures.class_names[pictures.labels[i]][:18], fontsize=10)
    ax.set_xticks([]), ax.set_yticks([])
handles, names = axes[0, 0].get_legend_handles_labels()
unique = dict(zip(names, handles))
fig.legend(unique.values(), unique.keys(), loc="lower center", ncol=len(unique), fontsize=9, frameon=False)
fig.tight_layout(rect=(0, 0.1, 1, 1))
save_figure(fig, "table2", profile, "boxes")
plt.show()

# %% [markdown]
# ## What the table claims, checked
#
# Each row compares the top-1 localization error of two networks (lower is better); the ± is the 95%
# uncertainty of our difference on {glue:text}`val_images` validation images.

# %%
COMPARISONS = [  # (claim, better, worse): the relations of Section 5.2 and Table 2
    ("DRN-A-18 localizes better than ResNet-18", "drn_a_18", "resnet18"),
    ("DRN-A-34 localizes better than ResNet-34", "drn_a_34", "resnet34"),
    ("DRN-A-50 localizes better than ResNet-50", "drn_a_50", "resnet50"),
    ("DRN-C-26 localizes better than DRN-A-18 (degridding)", "drn_c_26", "drn_a_18"),
    ("DRN-C-26 localizes better than the deeper DRN-A-50", "drn_c_26", "drn_a_50"),
    ("DRN-C-26 localizes better than ResNet-101", "drn_c_26", "resnet101"),
]
claims_table([comparison_claim(text, better, worse, ours, paper, "top1", val_images)
              for text, better, worse in COMPARISONS], record)

# %% [markdown]
# ## Every profile
#
# The threshold sweeps of the other profiles where stored, then this run's numbers next to theirs, each with its
# provenance:

# %%
show_stored_figures("table2", "sweep", current=profile)
format_table(compare_profiles("table2"))
