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
# # WoD Figure 1: residual networks unravelled, and their effective depth
#
# Wider or Deeper (Section 3) starts from the *unravelled view* of Veit et al. (2016). A residual unit computes
# $y_i = y_{i-1} + f_i(y_{i-1})$; expanding the recursion, a network of $n$ units offers $2^n$ paths from input to
# output, each passing through the branch $f_i$ of some units and the shortcut of the others. A path through $k$
# branches has length $k$, and there are $\binom{n}{k}$ of them, so path lengths are binomially distributed around
# $n/2$. Veit et al. found that trained ResNets behave like ensembles of these paths: deleting one unit barely
# changes the error (except at the units that downsample), and the gradient reaching the input shrinks with the path
# length, so most of it comes from paths far shorter than the network: its **effective depth**. WoD's Figure 1 draws
# what follows: units deeper than the effective depth are no longer trained end to end through the long paths, so a
# very deep ResNet is really an ensemble of shallower sub-networks (WoD adds that, the $f_i$ being non-linear, the
# forward pass is a *linearly* growing ensemble of $n+1$ sub-networks rather than $2^n$ independent paths).
#
# WoD's Figure 1 is a diagram. This page measures the quantities behind it on small residual networks trained here
# on **CIFAR-10** (the data set of Veit et al.; our copy holds JPEG re-encodings of the images): the CIFAR ResNets of
# He et al. (`resnet_cifar_20/56/110`, 3n units of two 3×3 convolutions, 16/32/64 channels). At the **smoke**
# profile they train for one epoch on a few hundred images on the CPU: the numbers only exercise the pipeline, and
# the claims below are marked as not tested when a network is too poorly trained to test them.

# %% tags=["parameters"]
profile: str = "smoke"  # smoke | mini | paper: which results/<profile>/ folder this run writes
archs: str = "resnet_cifar_20"  # comma-separated CIFAR ResNets to train and analyse: resnet_cifar_20, _56, _110
epochs: int = 1  # training epochs (He et al.: 164)
batch_size: int = 32  # training batch size (He et al.: 128)
lr: float = 0.1  # initial learning rate (He et al.: 0.1)
milestones: str = "82,123"  # comma-separated epochs at which the learning rate is divided by 10 (He et al.: 82,123)
warmup_epochs: float = 0.0  # linear learning-rate warm-up from 0, in epochs (0: none)
weight_decay: float = 0.0001  # SGD weight decay (He et al.: 1e-4)
limit_train: int = 128  # training images, round-robin over the classes; 0 means all 50000
limit_val: int = 50  # test images of the final evaluation; 0 means all 10000
seed: int = 0  # seeds the weights, the data order and the sampled paths
workers: int = 0  # data-loading worker processes
device: str = "auto"  # auto | cpu | cuda
lesion_images: int = 50  # test images the lesion study evaluates on
gradient_images: int = 8  # training images (no augmentation) for the gradient experiment
gradient_batch: int = 8  # images per batch of the gradient experiment
samples_per_k: int = 1  # random sets of k units drawn per batch and path length
k_step: int = 1  # measure every k_step-th path length (plus the longest)

# %%
import itertools

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

from drnlib import plots
from drnlib.analysis import paths
from drnlib.book import check, check_choice, check_int, check_number, parse_numbers
from drnlib.models import build_model, normalize_name
from drnlib.pages.wod_classification import CifarRecipe
from drnlib.results import (claims_table, compare_profiles, format_table, glue_results, save_figure, save_results,
                            show_provenance, show_stored_figures)

CIFAR_NETS = ["resnet_cifar_20", "resnet_cifar_56", "resnet_cifar_110"]
check_choice("profile", profile, ["smoke", "mini", "paper"])
arch_list = [normalize_name(a) for a in archs.split(",") if a.strip()]
check(len(arch_list) > 0, "archs must name at least one CIFAR ResNet")
for arch in arch_list:
    check_choice("archs", arch, CIFAR_NETS)
check_int("epochs", epochs, 1)
check_int("batch_size", batch_size, 1)
check_number("lr", lr, 0)
milestone_epochs = parse_numbers("milestones", milestones, int)
check(all(b > a for a, b in zip((0, *milestone_epochs), milestone_epochs)),
      f"milestones must be increasing positive epochs, got {milestones!r}")
check_number("warmup_epochs", warmup_epochs, 0, epochs)
check_number("weight_decay", weight_decay, 0)
check_int("limit_train", limit_train, 0)
check_int("limit_val", limit_val, 0)
check_int("seed", seed, 0)
check_int("workers", workers, 0)
check_choice("device", device, ["auto", "cpu", "cuda"])
check_int("lesion_images", lesion_images, 1, 10000)
check_int("gradient_images", gradient_images, 1, 50000)
check_int("gradient_batch", gradient_batch, 1)
check_int("samples_per_k", samples_per_k, 1)
check_int("k_step", k_step, 1)
run_device = "cuda" if device == "auto" and torch.cuda.is_available() else ("cpu" if device == "auto" else device)

# %% [markdown]
# ## The paths of a residual network
#
# Each column below is one path through a 4-unit network: a black cell means that the path runs through that
# unit's branch, white through its shortcut. The $2^4 = 16$ paths are sorted by length $k$; their counts
# $\binom{4}{k}$ = 1, 4, 6, 4, 1 are the binomial coefficients.

# %%
units_drawn = 4
all_paths = sorted(itertools.product([0, 1], repeat=units_drawn), key=lambda p: (sum(p), p[::-1]))
fig, ax = plt.subplots(figsize=(8, 2.2))
ax.imshow(np.array(all_paths).T, cmap="Greys", vmin=0, vmax=1.4, aspect="auto")
for boundary in np.cumsum(paths.path_length_distribution(units_drawn))[:-1]:
    ax.axvline(boundary - 0.5, color="C3", lw=2)
ax.set_xticks(range(len(all_paths)), [str(sum(p)) for p in all_paths])
ax.set_yticks(range(units_drawn), [f"unit {i + 1}" for i in range(units_drawn)])
ax.set(xlabel="path length k of each path (red lines separate the lengths)",
       title=f"the {2 ** units_drawn} paths of a {units_drawn}-unit residual network")
plt.show()

# %% [markdown]
# The networks of this page have far more units, and the same binomial spread of path lengths (units counted on the
# built models by `drnlib.analysis.paths.residual_units`):

# %%
unit_counts = {arch: len(paths.residual_units(build_model(arch, num_classes=10))) for arch in arch_list}
fig, ax = plt.subplots(figsize=(7, 3))
for arch, n in unit_counts.items():
    share = np.array(paths.path_length_distribution(n), dtype=float) / 2.0 ** n
    ax.plot(range(n + 1), share, marker=".", label=f"{arch}: {n} units, 2^{n} paths")
ax.set(xlabel="path length k", ylabel="share of all paths", title="path lengths are binomial: C(n, k) / 2^n")
ax.legend()
plt.show()

# %% [markdown]
# ## Training the networks on CIFAR-10
#
# He et al.'s recipe (SGD, momentum 0.9, batch and learning rate as in the parameters, step decay, 4-pixel padding +
# random 32×32 crop + flip) through `drnlib.experiments.trained`: a run with the same settings, trained by this page
# or by the Figure A.4 page (which shares the ResNet-110 run), is found instead of trained again.

# %%
recipe = CifarRecipe.from_params(globals())
runs = {arch: recipe.run(arch, profile, workers, device) for arch in arch_list}
models = {arch: run.model(device=run_device) for arch, run in runs.items()}
training = pd.DataFrame({arch: {"units": unit_counts[arch], "params": run.result["params"],
                                "epochs": run.result["epochs"], "train images": run.result["train_images"],
                                "test images": run.result["val_images"],
                                "test top-1 error (%)": run.result["val"]["top1_error"]}
                         for arch, run in runs.items()}).T
format_table(training.astype({"units": int, "epochs": int, "train images": int, "test images": int}).assign(
    params=training["params"].map("{:,.0f}".format)), "{:.4g}")

# %% [markdown]
# ## Lesion study: deleting one unit at a time
#
# Veit et al. delete the branch of one residual unit of a trained network (keeping its shortcut) and measure the
# test error. In an ordinary deep network, removing a layer breaks the chain; in an ensemble of paths it only removes
# the paths through that branch, half of all paths, while the other half are left intact. The units with a projection
# shortcut (the first of each level, which halve the resolution and double the width) are marked: removing their
# branch leaves only a 1×1 projection to carry the signal. Evaluated on {glue:text}`lesion_images` test images.

# %%
lesion_batches = paths.load_batches("cifar10", "val", lesion_images, 500, run_device)
error_on_test = paths.top1_error(lesion_batches)
lesions, lesion_summary = {}, {}
for arch, model in models.items():
    table = paths.unit_table(model)
    intact = error_on_test(model)
    table["error (%)"] = paths.lesion_study(model, error_on_test, progress=False)
    lesions[arch] = table
    identity, projection = table[~table["projection"]], table[table["projection"]]
    lesion_summary[arch] = {
        "intact_error": intact,
        "median_increase_identity": float((identity["error (%)"] - intact).median()),
        "max_increase_identity": float((identity["error (%)"] - intact).max()),
        "mean_increase_projection": float((projection["error (%)"] - intact).mean()),
    }

fig, axes = plt.subplots(1, len(lesions), figsize=(5 * len(lesions), 3.4), squeeze=False)
for ax, (arch, table) in zip(axes[0], lesions.items()):
    ax.plot(table.index, table["error (%)"], color="C0", lw=1, marker="o", ms=4, label="identity unit deleted")
    projection = table[table["projection"]]
    ax.plot(projection.index, projection["error (%)"], "o", color="C3", ms=6, label="projection unit deleted")
    ax.axhline(lesion_summary[arch]["intact_error"], color="black", ls="--", lw=1, label="no unit deleted")
    ax.set(xlabel="deleted unit", ylabel="test top-1 error (%)", title=arch)
    ax.legend(fontsize=8)
fig.tight_layout()
save_figure(fig, "wod_fig1", profile, "lesion")
plt.show()
format_table(pd.DataFrame(lesion_summary).T.rename(columns={
    "intact_error": "error, intact (%)", "median_increase_identity": "identity unit deleted: median +",
    "max_increase_identity": "identity unit deleted: max +",
    "mean_increase_projection": "projection unit deleted: mean +"}), "{:.2f}")

# %% [markdown]
# ## Which paths does the gradient come from?
#
# The experiment of Veit et al. that WoD repeats in its Appendix A.2 (see the Figure A.4 page): for a path length
# $k$, draw $k$ units at random, let the backward pass through only their branches and only through the shortcuts of
# the others (the forward pass is unchanged), and record the norm of the gradient at the input image, divided by the
# number of images. Left: the gradient magnitude of one path of length $k$. Right: multiplied by the number of such
# paths, $\binom{n}{k}$, as a share of the total: where the gradient actually comes from, next to the share of
# paths of each length (dashed). {glue:text}`gradient_images` training images (no augmentation), batches of
# {glue:text}`gradient_batch`, {glue:text}`samples_per_k` draws per batch and length.

# %%
gradient_batches = paths.load_batches("cifar10", "train", gradient_images, gradient_batch, run_device)
path_stats, gradient_summary = {}, {}
for arch, model in models.items():
    n = unit_counts[arch]
    ks = sorted(set(range(0, n + 1, k_step)) | {n})
    measured = paths.gradient_by_path_length(model, gradient_batches, ks, samples_per_k, seed=seed, progress=False)
    stats = paths.path_statistics(measured, n)
    path_stats[arch] = stats
    low, high = paths.effective_range(stats, 0.9)
    gradient_summary[arch] = {"units": n, "decay_per_unit": paths.decay_per_unit(stats),
                              "peak_k": int(stats["total"].idxmax()), "range_low": low, "range_high": high,
                              "binomial_mode": n / 2}

fig, axes = plt.subplots(1, 2, figsize=(12, 4))
plots.path_gradient_panels(axes, path_stats)
fig.tight_layout()
save_figure(fig, "wod_fig1", profile, "paths")
plt.show()
effective = pd.DataFrame(gradient_summary).T
format_table(effective.rename(columns={"decay_per_unit": "log10 decay per unit", "peak_k": "peak k",
                                       "range_low": "90% range from", "range_high": "90% range to",
                                       "binomial_mode": "n / 2"}), "{:.3g}")

# %% [markdown]
# The table gives, per network, the slope of $\log_{10}$ of the gradient per path against $k$ (orders of magnitude
# lost per extra branch), the path length that delivers the most gradient in total, and the central range of path
# lengths delivering 90% of it, next to $n/2$, where the paths themselves peak. In the deepest network here,
# {glue:text}`deepest_arch` ({glue:text}`deepest_units` units), 90% of the gradient comes from paths of length
# {glue:text}`deepest_range_low` to {glue:text}`deepest_range_high`, peaking at {glue:text}`deepest_peak_k`.

# %%
deepest = max(arch_list, key=lambda a: unit_counts[a])
lesion_deep, gradient_deep = lesion_summary[deepest], gradient_summary[deepest]
values = {
    "lesion_images": lesion_images, "gradient_images": gradient_images, "gradient_batch": gradient_batch,
    "samples_per_k": samples_per_k,
    "nets": {arch: {"test_error": runs[arch].result["val"]["top1_error"], **lesion_summary[arch],
                    **gradient_summary[arch]} for arch in arch_list},
    "deepest": {"arch": deepest, **lesion_deep, **gradient_deep},
}
record = save_results(
    "wod_fig1", profile, values,
    dataset=f"CIFAR-10 ({training['train images'].max():.0f} training images; {lesion_images} test images "
            f"for lesions)",
    runs=runs, tables={"training": training, "effective": effective,
            **{f"lesion_{a}": t for a, t in lesions.items()}, **{f"paths_{a}": s for a, s in path_stats.items()}},
    params={"archs": arch_list, "epochs": epochs, "batch_size": batch_size, "lr": lr, "milestones": milestones, "warmup_epochs": warmup_epochs,
            "weight_decay": weight_decay, "limit_train": limit_train, "limit_val": limit_val, "seed": seed,
            "k_step": k_step, "runs": {a: str(r.dir) for a, r in runs.items()}})
glue_results(record)
show_provenance(record)

# %% [markdown]
# ## The claims
#
# The claims are tested on the deepest network trained here. A network whose intact test error is above 50% has not
# learned enough to say anything about them (CIFAR-10 chance is 90%), so they are then marked as not tested, though
# the measured numbers are shown. The thresholds (2 points for "barely", $n/2$ for "shorter") are ours.

# %%
well_trained = lesion_deep["intact_error"] < 50
n_deep = gradient_deep["units"]


def verdict(condition: bool):
    return bool(condition) if well_trained else None


claims_table([
    {"claim": "deleting a single residual unit barely changes the error",
     "paper": "Veit et al. (2016), the basis of WoD Sec. 3",
     "ours": f"{deepest}: median +{lesion_deep['median_increase_identity']:.2f} points over identity units "
             f"(intact {lesion_deep['intact_error']:.2f}%)",
     "holds": verdict(lesion_deep["median_increase_identity"] <= 2)},
    {"claim": "deleting a downsampling (projection) unit hurts more",
     "paper": "Veit et al. (2016)",
     "ours": f"mean +{lesion_deep['mean_increase_projection']:.2f} points vs median "
             f"+{lesion_deep['median_increase_identity']:.2f}",
     "holds": verdict(lesion_deep["mean_increase_projection"] > lesion_deep["median_increase_identity"])},
    {"claim": "gradients vanish as the path length grows",
     "paper": "WoD Sec. 3.2, after Veit et al.",
     "ours": f"{gradient_deep['decay_per_unit']:+.3f} orders of magnitude per extra branch",
     "holds": verdict(gradient_deep["decay_per_unit"] < 0)},
    {"claim": "the gradient comes from paths much shorter than the network (its effective depth)",
     "paper": 'WoD Sec. 3.3, after Veit et al.: "seventeen residual units for a 110-layer ResNet"',
     "ours": f"90% from lengths {gradient_deep['range_low']}-{gradient_deep['range_high']}, peak "
             f"{gradient_deep['peak_k']}, of {n_deep} units (n/2 = {n_deep / 2:g})",
     "holds": verdict(gradient_deep["peak_k"] < n_deep / 2)},
], record)

# %% [markdown]
# ## Every profile
#
# This run next to the stored runs of the other profiles (`results/mini/`, `results/paper/`, where they exist), each
# with its provenance, and their figures:

# %%
comparison = compare_profiles("wod_fig1")
format_table(comparison[~comparison.index.str.startswith("nets_")])

# %%
for tag in ("lesion", "paths"):
    show_stored_figures("wod_fig1", tag, current=profile)
