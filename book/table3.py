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
#
# The DRN paper (Section 5.3, Table 3) turns its ImageNet classifiers into segmentation networks by dropping the
# global pooling and upsampling the 1/8-resolution class scores bilinearly, fine-tunes them on Cityscapes with
# cropping and mirroring only, and reports per-class IoU on the validation set: DRN-C-26 beats the deeper DRN-A-50,
# DRN-C-42 does better still, and all beat a ResNet-101 baseline (66.6 mIoU, reported elsewhere).
#
# **Our data differ.** This page trains on **CamVid** instead of Cityscapes: 11 classes instead of 19, 480×360
# images instead of 2048×1024, 367 training images instead of 2,975, validated on CamVid's 101 val images. The
# paper starts from ImageNet-pretrained weights; no pretrained weights are available offline here, so our networks
# are **trained from scratch** (parameter `init_from` takes a checkpoint, e.g. a Tiny-ImageNet classifier of the
# classification pages, where one exists). The absolute numbers therefore cannot match the paper's; what can be
# compared is the ranking of the architectures. The paper profile uses Cityscapes itself, with the official code's
# recipe.
#
# Each run of this page trains and evaluates **one** architecture (parameter `arch`) and adds it to
# `results/<profile>/table3.json`; the page shows every architecture stored there. Run it for `drn_a_50`,
# `drn_c_26` and `drn_c_42` in turn (and `resnet101` for the baseline claim) to build the whole table:
# `papermill book/table3.ipynb out.ipynb -p arch drn_c_42` (from the repository root).

# %% tags=["parameters"]
profile: str = "smoke"  # smoke | mini | paper: which results/<profile>/ folder this run writes
arch: str = "drn_c_26"  # the architecture this run trains and adds to the table
dataset: str = "camvid"  # segmentation data set: camvid (the paper: cityscapes)
epochs: int = 1  # training epochs
batch_size: int = 2  # batch size (the paper's code: 32 crops of 896 px on Cityscapes)
crop_size: int = 96  # side of the square training crops, in pixels
lr: float = 0.01  # initial learning rate (DRN segment.py: 0.01)
momentum: float = 0.9  # SGD momentum
schedule: str = "poly"  # learning-rate schedule: poly or step (DRN-D-22 recipe: step)
step: int = 100  # epochs between the x0.1 steps of the step schedule
scale: float = 0.0  # random scaling of the training images in [1/scale, scale]; 0 is off (the paper: off)
limit_train: int = 4  # use only the first N training images; 0 uses all
limit_val: int = 1  # evaluate on the first N validation images; 0 uses all
scales: str = "1"  # multi-scale testing: comma-separated scales, e.g. 0.5,0.75,1,1.25,1.5,1.75 (1: off)
init_from: str = ""  # checkpoint to initialise the trunk from (empty: train from scratch)
val_every: int = 1  # validate every N epochs during training, for the curves (0: only at the end)
seed: int = 0  # random seed (weights, data order, augmentation)
workers: int = 0  # data loader worker processes
device: str = "auto"  # auto | cpu | cuda

# %%
import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.ticker import MaxNLocator

from drnlib import experiments
from drnlib.book import check, check_choice, check_int, check_number, check_path, parse_scales
from drnlib.data.factory import list_datasets
from drnlib.models import list_models, normalize_name
from drnlib.pages import drn_segmentation as segmentation
from drnlib.results import (claims_table, compare_profiles, format_table, glue_results, load_all_profiles,
                            paper_vs_ours, published, save_figure, show_provenance, show_stored_figures)

check_choice("profile", profile, ["smoke", "mini", "paper"])
arch = normalize_name(arch)
check_choice("arch", arch, list_models())
check_choice("dataset", dataset, [d for d in list_datasets() if d != "synthetic"])
check_int("epochs", epochs, 1, 10000)
check_int("batch_size", batch_size, 1, 4096)
check_int("crop_size", crop_size, 32, 4096)
check_number("lr", lr, 0, 10)
check_number("momentum", momentum, 0, 0.999)
check_choice("schedule", schedule, ["poly", "step"])
check_int("step", step, 1)
check_number("scale", scale, 0, 4)
check(scale == 0 or scale >= 1, f"scale must be 0 (off) or at least 1, got {scale}")
check_int("limit_train", limit_train, 0)
check(limit_train == 0 or limit_train >= batch_size,
      f"limit_train {limit_train} is less than one batch of {batch_size}: nothing would be trained")
check_int("limit_val", limit_val, 0)
test_scales = parse_scales(scales)
check_path("init_from", init_from)
check_int("val_every", val_every, 0)
check_int("seed", seed, 0)
check_int("workers", workers, 0, 64)
check_choice("device", device, ["auto", "cpu", "cuda"])
settings = dict(dataset=dataset, epochs=epochs, batch_size=batch_size, crop_size=crop_size, lr=lr, momentum=momentum,
                schedule=schedule, step=step, scale=scale, limit_train=limit_train, limit_val=limit_val,
                init_from=init_from, seed=seed, workers=workers, device=device, val_every=val_every)

# %% [markdown]
# ## The paper's Table 3 (Cityscapes val, IoU %)
#
# As published: 19 Cityscapes classes (one column per model here, to keep the table narrow). The ResNet-101 baseline
# is given in the text only, as a mean IoU.

# %%
paper = published("drn", "table3_cityscapes_val_iou")
baseline = published("drn", "table3_cityscapes_val_iou.baseline_miou")["baseline_miou"]
paper_table = paper.T.rename(index={"miou": "mIoU"})
paper_table.insert(len(paper_table.columns), "resnet101 (baseline)", None)
paper_table.loc["mIoU", "resnet101 (baseline)"] = baseline["resnet101"]
format_table(paper_table, "{:.1f}", caption=f"Source: {paper.attrs['source']}.")

# %% [markdown]
# ## Training and evaluating this run's architecture
#
# `drnlib.experiments.trained` finds the run with these settings in `runs/<profile>/` or trains it (the Figure 8
# page reuses the same runs). The model is the DRN paper's: the classification network without pooling, a 1×1
# convolution to class scores and parameter-free bilinear upsampling; the loss is per-pixel cross-entropy with void
# pixels ignored; the optimiser SGD with weight decay 1e-4; the augmentation random crops and mirroring
# (plus random scaling only if `scale` is set). Evaluation uses whole validation images.

# %%
config = segmentation.run_config(arch, **settings)
run = experiments.trained(config, profile)
protocol = dict(split="val", flip=False, limit_val=limit_val or None, workers=workers, device=device)
single = run.evaluate(scales=[1.0], **protocol)  # each protocol is computed once, then cached with the run
multi = run.evaluate(scales=list(test_scales), **protocol) if test_scales != (1.0,) else None
entry = segmentation.arch_entry(run, single, multi, test_scales)
curves = run.metrics()
curves = curves[[c for c in ("epoch", "lr", "train_loss", "val_loss", "val_miou", "val_pixel_acc") if c in curves]]
val_note = f"{entry['run']['val_images']} images" + ("" if limit_val else ", all")
record = segmentation.store_arch(
    "table3", profile, arch, entry, curves, dataset=dataset,
    dataset_note=f"{dataset} train ({entry['run']['train_images']} images) / val ({val_note})",
    params={"arch": arch, **settings, "scales": scales})
archs = record["archs"]
print(f"{arch}: {entry['run']['epochs']} epoch(s) on {entry['run']['train_images']} training images, "
      f"{entry['run']['train_minutes']:.1f} min on {entry['run']['device']}")
print(f"run folder: runs/{profile}/{entry['run']['folder']}")

# %% [markdown]
# ## Ours: per-class IoU (%)
#
# Every architecture stored at this profile (this run's {glue:text}`last_run_arch` reaches a mean IoU of
# {glue:text}`last_run_miou:.1f` %), each next to the paper's IoU for the same class. CamVid's classes are not
# Cityscapes': the row names the closest Cityscapes class in brackets (CamVid's *bicyclist* is the rider together
# with the bicycle), so the paper's column is a Cityscapes number beside a CamVid one. At the smoke profile the
# networks see a few crops for seconds on the CPU, so our numbers only show that the pipeline works.

# %%
format_table(segmentation.per_class_vs_paper(archs, paper), "{:.1f}",
             caption=f"IoU in %: ours on {dataset} val, the paper's on Cityscapes val (Table 3). mIoU over the "
                     "classes present.")

# %% [markdown]
# How each stored architecture was trained. Columns with the same `settings` id were trained alike; only those are
# compared in the claims below.

# %%
format_table(segmentation.run_settings_table(archs), "{:.3g}")

# %% [markdown]
# ## Paper vs ours: mean IoU
#
# For the architectures both have. Δ compares a CamVid number with a Cityscapes one (different classes, images and
# amount of data, and no ImageNet pretraining here): it is not a reproduction error, only the rows' order is
# comparable.

# %%
ours_miou = pd.DataFrame({"miou": {a: e["miou"] for a, e in archs.items()}})
shared = ours_miou[ours_miou.index.isin(paper.index)]
if len(shared):
    display_table = paper_vs_ours(paper, shared, record, columns=["miou"], decimals=1)
else:
    display_table = format_table(pd.DataFrame({"note": [f"none of {', '.join(archs)} is in the paper's Table 3"]}))
display_table

# %% [markdown]
# ## The paper's claims at this profile
#
# A claim is tested only when both architectures are stored at this profile and were trained alike. The ResNet-101
# baseline of the paper (66.6 mIoU) was reported by another paper with another setup; here it is tested against our
# own ResNet-101, trained like the DRNs (the same head on a ResNet with output stride 32), when that run is stored.
# At the smoke profile the networks are barely trained: a "yes" or "no" there is a coin toss, not evidence.

# %%
published_miou = paper["miou"].to_dict()
paper_params = published("drn", "params_official_code")["params_official_code"]


def compare(better: str, worse: str, paper_evidence: str, fewer_params: bool = False) -> dict:
    why_not = segmentation.comparable(archs, better, worse)
    if why_not:
        return {"paper": paper_evidence, "ours": why_not, "holds": None}
    b, w = archs[better], archs[worse]
    ours_text = (f"{b['miou']:.1f} vs {w['miou']:.1f} mIoU; {b['run']['params'] / 1e6:.1f}M vs "
                 f"{w['run']['params'] / 1e6:.1f}M parameters")
    holds = b["miou"] > w["miou"] and (not fewer_params or b["run"]["params"] < w["run"]["params"])
    return {"paper": paper_evidence, "ours": ours_text, "holds": bool(holds)}


def miou_pair(a: str, b: str) -> str:
    return f"{published_miou[a]:.1f} vs {published_miou[b]:.1f} mIoU"


claims = [
    {"claim": "DRN-C-26 beats DRN-A-50, with fewer parameters",
     **compare("drn_c_26", "drn_a_50", f"{miou_pair('drn_c_26', 'drn_a_50')}; {paper_params['drn_c_26'] / 1e6:.1f}M "
                                       f"vs {paper_params['drn_a_50'] / 1e6:.1f}M parameters (ImageNet models)",
               fewer_params=True)},
    {"claim": "DRN-C-42 beats DRN-C-26", **compare("drn_c_42", "drn_c_26", miou_pair("drn_c_42", "drn_c_26"))},
    {"claim": "DRN-C-42 beats the ResNet-101 baseline",
     **compare("drn_c_42", "resnet101", f"{published_miou['drn_c_42']:.1f} vs {baseline['resnet101']:.1f} mIoU "
                                        "(baseline from another paper)")},
]
claims_table(claims, record)

# %% [markdown]
# ## Training curves
#
# Training loss per epoch and, where the run validated, the validation mean IoU (every `val_every` epochs), for
# every stored architecture.

# %%
stored_curves = record["curves"]
fig, (loss_ax, miou_ax) = plt.subplots(1, 2, figsize=(10, 3.5))
for name, group in stored_curves.groupby("arch", sort=False):
    loss_ax.plot(group["epoch"], group["train_loss"], marker="o", ms=3, label=name)
    if "val_miou" in group and group["val_miou"].notna().any():
        validated = group.dropna(subset=["val_miou"])
        miou_ax.plot(validated["epoch"], validated["val_miou"], marker="o", ms=3, label=name)
loss_ax.set(xlabel="epoch", ylabel="training loss (cross-entropy)", title="training loss")
miou_ax.set(xlabel="epoch", ylabel="val mIoU (%)", title=f"validation mIoU ({entry['run']['val_images']} images)")
for ax in (loss_ax, miou_ax):
    ax.set_xlim(0.5, stored_curves["epoch"].max() + 0.5)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
fig.tight_layout()
save_figure(fig, "table3", profile, "curves")
plt.show()

# %% [markdown]
# ## Multi-scale testing
#
# The paper's Table 3 is single-scale. The official code also offers multi-scale testing (the class probabilities of
# the image resized by each scale, resized back and combined); parameter `scales` turns it on here.

# %%
if multi is None:
    print(f"Multi-scale testing is off in this run (scales {scales!r}).")
ms = {a: {"single scale": e["miou"], "multi-scale": e.get("miou_ms"), "scales": e["run"].get("scales", "")}
      for a, e in archs.items()}
format_table(pd.DataFrame.from_dict(ms, orient="index").rename_axis("model"), "{:.1f}",
             caption="mIoU (%) with single-scale and, where it was run, multi-scale testing.")

# %% [markdown]
# ## Provenance and every profile
#
# This run, then the mean IoU of every architecture at every profile with stored results (`results/mini/`,
# `results/paper/`), each with its provenance, and the training curves stored by the other profiles.

# %%
glue_results(record)
show_provenance(record)

# %%
keys = sorted({a for r in load_all_profiles("table3").values() for a in r.values.get("miou", {})})
format_table(compare_profiles("table3", keys=[f"miou_{a}" for a in keys] + [f"pixel_acc_{a}" for a in keys]),
             "{:.1f}")

# %%
if not show_stored_figures("table3", "curves", current=profile):
    print("No other profile has stored its training curves yet.")
