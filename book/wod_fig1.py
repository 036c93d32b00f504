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

# %% tags=["parameters", "hide-cell"]
profile: str = "smoke"  # smoke | mini | paper: which params/<profile>/recipes.yaml trains, which results/ it writes
archs: list = ["resnet_cifar_20"]  # CIFAR ResNets to train and analyse: resnet_cifar_20, _56, _110
recipe: str = "cifar_resnet"  # their training recipe (shared with Figure A.4)
lesion_images: int = 50  # test images the lesion study evaluates on
gradient_images: int = 8  # training images (no augmentation) for the gradient experiment
gradient_batch: int = 4  # images per batch of the gradient experiment (batches: the units of the uncertainty)
samples_per_k: int = 1  # random sets of k units drawn per batch and path length
k_step: int = 1  # measure every k_step-th path length (plus the longest)
gradient_mass: float = 0.9  # "most of the gradient" (WOD-4): the share the effective depth must carry
seed: int = 0  # seeds the sampled paths
device: str = "auto"  # auto | cpu | cuda: where the lesions and gradients are computed
max_test_error: float = 60.0  # a network above this test error (%) is too poorly trained to test the claims

# %% tags=["hide-input"]
import itertools

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from drnlib import plots, recipes
from drnlib.analysis import paths
from drnlib.display import (claims_table, compare_profiles, format_table, glue_results, show_provenance,
                            show_stored_figures)
from drnlib.pages import start
from drnlib.pages.wod_classification import (fig1_verdicts, lesion_results, path_gradients, pretty, trained,
                                             training_table)
from drnlib.results import save_figure, save_results

p = start("wod_fig1", globals())

# %% [markdown]
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
# WoD's Figure 1 is a diagram. This page measures the quantities behind it on residual networks trained here on
# **CIFAR-10** (the data set of Veit et al.; our copy holds JPEG re-encodings of the images): the CIFAR ResNets of
# He et al. (`resnet_cifar_20/56/110`, 3n units of two 3×3 convolutions, 16/32/64 channels), with the profile's
# `cifar_resnet` recipe (below; the paper profile is He et al.'s, the mini profile shortens it to 120 epochs). At
# the **smoke** profile ResNet-20 trains for one epoch on 128 images on the CPU: the numbers only exercise the
# pipeline, and the claims are marked as not tested, the network being too poorly trained to test them.

# %% [markdown]
# ## The paths of a residual network
#
# Each column below is one path through a 4-unit network: a black cell means that the path runs through that
# unit's branch, white through its shortcut. The $2^4 = 16$ paths are sorted by length $k$; their counts
# $\binom{4}{k}$ = 1, 4, 6, 4, 1 are the binomial coefficients.

# %%
units_drawn = 4
all_paths = sorted(itertools.product([0, 1], repeat=units_drawn), key=lambda path: (sum(path), path[::-1]))
fig, ax = plt.subplots(figsize=(8, 2.2))
ax.imshow(np.array(all_paths).T, cmap="Greys", vmin=0, vmax=1.4, aspect="auto")
for boundary in np.cumsum(paths.path_length_distribution(units_drawn))[:-1]:
    ax.axvline(boundary - 0.5, color="C3", lw=2)
ax.set_xticks(range(len(all_paths)), [str(sum(path)) for path in all_paths])
ax.set_yticks(range(units_drawn), [f"unit {i + 1}" for i in range(units_drawn)])
ax.set(xlabel="path length k of each path (red lines separate the lengths)",
       title=f"the {2 ** units_drawn} paths of a {units_drawn}-unit residual network")
plt.show()

# %% [markdown]
# ## Training the networks on CIFAR-10
#
# Every network is trained once per profile with the recipe below (`drnlib.runs`): the Figure A.4 page finds the
# same ResNet-110 run. Their units (counted on the built models), and where the training left them:

# %%
print(recipes.describe(profile, recipe))
nets = trained(p)
training = training_table(nets)
format_table(training, "{:,.4g}")

# %% [markdown]
# The paths of these networks have the same binomial spread of lengths:

# %%
fig, ax = plt.subplots(figsize=(7, 3))
for name, n in training["units"].astype(int).items():
    ax.plot(range(n + 1), np.array(paths.path_length_distribution(n), dtype=float) / 2.0 ** n, marker=".",
            label=f"{name}: {n} units, 2^{n} paths")
ax.set(xlabel="path length k", ylabel="share of all paths", title="path lengths are binomial: C(n, k) / 2^n")
ax.legend()
plt.show()

# %% [markdown]
# ## Lesion study: deleting one unit at a time
#
# Veit et al. delete the branch of one residual unit of a trained network (keeping its shortcut) and measure the
# test error. In an ordinary deep network, removing a layer breaks the chain; in an ensemble of paths it only removes
# the paths through that branch, half of all paths, while the other half are left intact. The units with a projection
# shortcut (the first of each level, which halve the resolution and double the width) are marked: removing their
# branch leaves only a 1×1 projection to carry the signal. Evaluated on {glue:text}`lesion_images` test images.

# %%
lesions = lesion_results(p, nets)
fig, axes = plt.subplots(1, len(lesions), figsize=(5 * len(lesions), 3.4), squeeze=False)
for ax, (arch, lesion) in zip(axes[0], lesions.items()):
    table = lesion.table
    ax.plot(table.index, table["error (%)"], color="C0", lw=1, marker="o", ms=4, label="identity unit deleted")
    projection = table[table["projection"]]
    ax.plot(projection.index, projection["error (%)"], "o", color="C3", ms=6, label="projection unit deleted")
    ax.axhline(lesion.summary()["intact_error"], color="black", ls="--", lw=1, label="no unit deleted")
    ax.set(xlabel="deleted unit", ylabel="test top-1 error (%)", title=pretty(arch))
    ax.legend(fontsize=8)
fig.tight_layout()
save_figure(fig, "wod_fig1", profile, "lesion")
plt.show()
lesion_summary = pd.DataFrame({pretty(arch): lesion.summary() for arch, lesion in lesions.items()}).T
format_table(lesion_summary.rename(columns={
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
gradients = path_gradients(p, nets)
fig, axes = plt.subplots(1, 2, figsize=(12, 4))
plots.path_gradient_panels(axes, {pretty(arch): g.stats for arch, g in gradients.items()})
fig.tight_layout()
save_figure(fig, "wod_fig1", profile, "paths")
plt.show()
effective = pd.DataFrame({pretty(arch): g.summary(gradient_mass) for arch, g in gradients.items()}).T
format_table(effective[["units", "decay_per_unit", "peak_k", "carrying_length", "long_path_share"]].rename(columns={
    "decay_per_unit": "log10 decay per unit", "peak_k": "peak k", "carrying_length": "effective depth",
    "long_path_share": "share from paths > n/2"}), "{:.3g}")

# %% [markdown]
# Per network: the slope of $\log_{10}$ of the gradient per path against $k$ (orders of magnitude lost per extra
# branch), the path length that delivers the most gradient in total, the **effective depth** (the shortest length
# $L$ such that the paths of length at most $L$ deliver {glue:text}`gradient_mass` of the gradient), and the share
# delivered by the paths through more than half of the units. In the deepest network here,
# {glue:text}`deepest_arch` ({glue:text}`deepest_units` units), the effective depth is
# {glue:text}`deepest_carrying_length` units.

# %%
deepest = max(nets, key=lambda arch: gradients[arch].units)
verdicts = fig1_verdicts(p, nets, lesions, gradients)
values = {
    **{name: p[name] for name in ("lesion_images", "gradient_images", "gradient_batch", "samples_per_k",
                                  "gradient_mass", "max_test_error")},
    "nets": {arch: {"test_error": nets[arch].result["val"]["top1_error"], **lesions[arch].summary(),
                    **gradients[arch].summary(gradient_mass)} for arch in nets},
    "deepest": {"arch": pretty(deepest), **lesions[deepest].summary(), **gradients[deepest].summary(gradient_mass)},
    "claims": {v.claim: v.as_dict() for v in verdicts},
}
record = save_results("wod_fig1", profile, values, dataset=f"CIFAR-10 ({training['train images'].max():,.0f} "
                      f"training images; {lesion_images:,} test images for the lesions)", runs=nets, params=p,
                      tables={"training": training, "effective": effective, "lesions": lesion_summary,
                              **{f"lesion_{arch}": lesions[arch].table for arch in nets},
                              **{f"paths_{arch}": gradients[arch].stats for arch in nets}})
glue_results(record)
show_provenance(record)

# %% [markdown]
# ## The claims
#
# Tested on the deepest network trained here, each against its threshold in `drnlib/claims.yaml`: the lesions
# compare the errors of the intact and the lesioned network on the same test images (paired bootstrap); the
# effective depth and the share of the long paths are measured once per batch of images, and their intervals come
# from a bootstrap over the batches. A network above {glue:text}`max_test_error`% test error (CIFAR-10 chance: 90%)
# has not learned enough to test them. Claims that no measurement here can decide say why.

# %%
claims_table(verdicts, record)

# %% [markdown]
# ## Every profile
#
# This run next to the stored runs of the other profiles (`results/mini/`, `results/paper/`, where they exist), each
# with its provenance, and their figures:

# %%
comparison = compare_profiles("wod_fig1")
format_table(comparison[~comparison.index.str.startswith(("nets_", "claims_"))])

# %%
for tag in ("lesion", "paths"):
    show_stored_figures("wod_fig1", tag, current=profile)
