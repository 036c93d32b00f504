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
# # WoD Table 5: Cityscapes test, classes and categories, one scale or several
#
# Wu et al. score Model A2 (2 conv) on the Cityscapes test server, which reports four numbers: the IoU over the 19
# classes, the IoU over the 7 categories they belong to (flat, construction, object, nature, sky, human, vehicle),
# and an instance-weighted variant of each (iIoU, which weighs the pixels of small objects up). Trained on the fine
# annotations only, the model reaches 78.4 class IoU, which the paper puts 6.6 points above the previous best; the
# authors' released code adds results with multi-scale testing.
#
# **What differs here.** CamVid stands in for Cityscapes: 11 street-scene classes, 367 training images of 480×360
# and its labelled test split (233 images) in place of the server-scored 1,525. We group CamVid's classes into
# Cityscapes' categories (table below) and compute both IoUs, with single-scale testing and with multi-scale +
# mirrored testing (softmax averaged over the scales and mirror images). The iIoU scores need instance labels,
# which CamVid does not have: they stay empty. "Model A2" is the A1 network without Places365 tuning and no network
# starts from ImageNet weights (see [Table 2](wod_table2) for the recipe, shared with Tables 2-4, 6 and 7). At the
# smoke profile the network trains for seconds on a CPU and is scored on two downsized images: the numbers then
# mean nothing.

# %% tags=["parameters"]
profile: str = "smoke"  # smoke | mini | paper: which results/<profile>/ folder this run writes
row: str = "model_a1:2conv"  # the network, as architecture:head (paper: Model A2, 2 conv)
split: str = "test"  # evaluation split (paper profile: val, as the test labels are not public)
scales: str = "0.75,1,1.25"  # multi-scale testing: comma-separated scales whose softmax maps are averaged
flip: bool = True  # multi-scale testing also averages the mirrored images
dataset: str = "camvid"  # segmentation data standing in for Cityscapes (paper profile: cityscapes)
epochs: int = 1  # training epochs
batch_size: int = 1  # images per SGD step
crop_size: int = 48  # random training crop, in pixels
lr: float = 0.0016  # initial learning rate (WoD: 0.0016 for 16 images)
lr_end: float = 1e-6  # final learning rate of the linear schedule
schedule: str = "linear"  # learning-rate schedule: linear | constant | poly | step
momentum: float = 0.9  # SGD momentum
weight_decay: float = 5e-4  # SGD weight decay (WoD: 5e-4)
scale: float = 1.3  # random resizing by a ratio in [1/scale, scale] (WoD: 0.7 to 1.3)
freeze_bn: bool = False  # keep the BatchNorm statistics fixed (WoD: yes, those of the pretrained trunk)
ohem: bool = True  # WoD's bootstrapped cross-entropy on the hardest pixels
limit_train: int = 1  # training images used (0: all)
limit_val: int = 2  # evaluation images used (0: all)
eval_size: int = 48  # evaluation images resized to this shorter side (0: as they are)
pretrain_epochs: int = 0  # classifier pretraining epochs of each trunk (0: none, random weights)
pretrain_dataset: str = "tiny_imagenet"  # pretraining data: tiny_imagenet | imagenet
pretrain_batch_size: int = 128  # pretraining batch size
pretrain_crop_size: int = 64  # pretraining crop (0: each network's own, 224 / 112 / 56)
pretrain_lr: float = 0.05  # pretraining initial learning rate, linear to 0
pretrain_limit: int = 0  # pretraining images used, training and validation (0: all)
seed: int = 0  # random seed
workers: int = 0  # data loader worker processes
device: str = "auto"  # auto | cpu | cuda

# %%
import matplotlib.pyplot as plt
import pandas as pd

from drnlib.book import check, parse_scales
from drnlib.data import dataset_class
from drnlib.pages.wod_segmentation import (CATEGORIES, Recipe, category_scores, evaluate_rows, parse_rows, relation,
                                           shown, train_row)
from drnlib.results import (check_profile, claims_table, compare_profiles, format_table, glue_results, paper_vs_ours,
                            published, save_figure, save_results, show_provenance, show_stored_figures)

check_profile(profile)
recipe = Recipe.from_params(globals())  # the training knobs above, shared with the other WoD tables
networks = parse_rows(row, "row")
check(len(networks) == 1, f"row takes one network, got {row!r}")
network = networks[0]
multi_scales = parse_scales(scales)
check(split in dataset_class(dataset).splits, f"{dataset} has no split {split!r}; it has "
      f"{', '.join(dataset_class(dataset).splits)}")
check(dataset in CATEGORIES, f"no grouping of {dataset}'s classes into categories; known: {', '.join(CATEGORIES)}")

# %% [markdown]
# ## The paper's Table 5
#
# Model A2 (2 conv) on Cityscapes test, trained on the fine annotations (%): the paper's row (single scale), and the
# multi-scale row of the authors' released code.

# %%
paper = published("wider_or_deeper", "table5_cityscapes_test").rename(
    index={"fine_single_scale": "single scale", "fine_multi_scale": "multi-scale"})
format_table(shown(paper), "{:.1f}")

# %% [markdown]
# ## Ours
#
# {glue:text}`network` on the {glue:text}`split` split ({glue:text}`images` images), with single-scale testing and
# with multi-scale testing at scales {glue:text}`scales` (mirrored images: {glue:text}`flip`). The categories group
# {glue:text}`dataset`'s classes as follows:

# %%
pd.DataFrame({"classes": {c: ", ".join(members) for c, members in CATEGORIES[dataset].items()}}).rename_axis(
    "category")

# %%
run = train_row(network, recipe, profile)
protocols = {"single scale": evaluate_rows([run], recipe, split),
             "multi-scale": evaluate_rows([run], recipe, split, scales=multi_scales, flip=flip)}
categories = {name: category_scores(result, CATEGORIES[dataset]) for name, result in protocols.items()}
ours = pd.DataFrame({name: {"class_iou": protocols[name]["miou"], "class_iiou": None,
                            "category_iou": categories[name]["miou"], "category_iiou": None}
                     for name in protocols}).T.rename_axis("testing")
format_table(shown(ours), "{:.2f}", caption="iIoU: needs instance labels, which CamVid lacks.")

# %% [markdown]
# IoU (%) of each category:

# %%
per_category = pd.DataFrame({name: c["iou"] for name, c in categories.items()}).T.rename_axis("testing")
fig, ax = plt.subplots(figsize=(8, 3.2))
per_category.T.plot.bar(ax=ax, rot=0)
ax.set(ylabel="IoU (%)", xlabel="", title=f"{network.label}: category IoU on {dataset} {split} ({profile} profile)")
ax.grid(axis="y", alpha=0.3)
fig.tight_layout()
save_figure(fig, "wod_table5", profile, "categories")
plt.show()
format_table(per_category, "{:.1f}")

# %% [markdown]
# The same figure from the other profiles' stored runs, where they exist:

# %%
if not show_stored_figures("wod_table5", "categories", current=profile):
    print("No other profile has stored this figure yet.")

# %%
values = {"network": network.label, "split": split, "images": protocols["single scale"]["images"],
          "dataset": dataset, "scales": ", ".join(f"{s:g}" for s in multi_scales), "flip": "yes" if flip else "no",
          "recipe": recipe.describe(),
          "single_scale": {k: ours.loc["single scale", k] for k in ("class_iou", "category_iou")},
          "multi_scale": {k: ours.loc["multi-scale", k] for k in ("class_iou", "category_iou")}}
record = save_results("wod_table5", profile, values, dataset=f"{dataset} {split} ({values['images']} images)",
                      runs=run, tables={"scores": ours, "categories": per_category},
                      params={"recipe": recipe.as_dict(), "row": row, "scales": scales, "flip": flip})
glue_results(record)
show_provenance(record)

# %% [markdown]
# ## Paper vs ours
#
# Cityscapes' 19 classes and 7 categories against CamVid's 11 classes in 7 categories: the Δ columns measure the
# distance between the data sets and the training budgets, not the network.

# %%
paper_vs_ours(shown(paper), shown(ours.astype(float)), record, columns=["class IoU", "category IoU"], decimals=1)

# %%
claims = []
for column, what in (("class_iou", "class IoU"), ("category_iou", "category IoU")):
    before, after = paper.loc["single scale", column], paper.loc["multi-scale", column]
    ours_before, ours_after = ours.loc["single scale", column], ours.loc["multi-scale", column]
    claims.append({"claim": f"multi-scale testing raises the {what}",
                   "paper": f"{before:.1f} → {after:.1f} (released code)",
                   "ours": f"{ours_before:.2f} → {ours_after:.2f} ({ours_after - ours_before:+.2f})",
                   "holds": bool(ours_after > ours_before)})
claims.append({"claim": "Model A2 is far ahead of the previous best on Cityscapes test",
               "paper": relation("table5_cityscapes_test", "previous best"),
               "ours": "not tested: the competitors are not run here (their cells are unknown too)", "holds": None})
claims_table(claims, record)

# %% [markdown]
# ## Every profile
#
# This run next to the stored results of the other profiles (`results/mini/`, `results/paper/`), each with its
# provenance:

# %%
format_table(compare_profiles("wod_table5"))
