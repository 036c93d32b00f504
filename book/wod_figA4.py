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
# # WoD Figure A.4: gradient magnitude at the input against path length

# %% tags=["parameters", "hide-cell"]
profile: str = "smoke"  # smoke | mini | paper: which params/<profile>/recipes.yaml trains, which results/ it writes
resnet: str = "resnet_cifar_20"  # the CIFAR ResNet (the paper: resnet_cifar_110)
cifar_recipe: str = "cifar_resnet"  # its training recipe (shared with Figure 1)
wod_net: str = "224-0-1-1-1-1-1-1"  # the Wider-or-Deeper net, a Table 1 row (the paper: model_a)
imagenet_resnets: list = []  # ImageNet ResNets next to it (the paper: resnet101, resnet152)
imagenet_recipe: str = "wod_classifier"  # the training recipe of the ImageNet networks (shared with Table 1)
gradient_images: int = 8  # training images (no augmentation) for the gradient experiment
gradient_batch: int = 4  # images per batch (batches: the units of the uncertainty)
samples_per_k: int = 1  # random sets of k units drawn per batch and path length
k_step: int = 2  # measure every k_step-th path length (plus the longest)
seed: int = 0  # seeds the sampled paths
device: str = "auto"  # auto | cpu | cuda: where the gradients are computed
max_test_error: float = 60.0  # a network above this test error (%) is too poorly trained to test the claims

# %% tags=["hide-input"]
import matplotlib.pyplot as plt
import pandas as pd

from drnlib import plots, recipes
from drnlib.display import (claims_table, compare_profiles, format_table, glue_results, show_provenance,
                            show_stored_figures)
from drnlib.pages import start
from drnlib.pages.wod_classification import figA4_verdicts, path_gradients, pretty, trained, training_table
from drnlib.results import save_figure, save_results

p = start("wod_figA4", globals())

# %% [markdown]
# WoD's Appendix A.2 repeats an experiment of Veit et al. (2016) on trained networks: for a path length $k$, sample
# $k$ of the $n$ residual units; in the backward pass let the gradient through only the branches of those $k$ units
# and only through the shortcuts of the other $n-k$; record the norm of the gradient that reaches the input, divided
# by the number of images in the batch. WoD's Figure 4 shows that ResNet-110 on CIFAR-10 and ResNet-101 and
# ResNet-152 on ImageNet get much smaller gradients from their long paths than from their short ones, while
# **Model A** (17 wide units, ImageNet) gets comparable gradients from paths of every length: the paper's argument
# that its shallow, wide design is trained end to end.
#
# **The networks are the paper's, and so are their data sets, at the paper profile:** ResNet-110 trained on CIFAR-10
# with He et al.'s recipe (`cifar_resnet`, the run the Figure 1 page analyses), Model A, ResNet-101 and ResNet-152
# trained on ImageNet with WoD's recipe (`wod_classifier`, the runs of the Table 1 page). **At the mini profile** the
# ImageNet networks are trained on **Tiny-ImageNet-100** (100 classes, 64×64 px) at a quarter of their design crop
# (Model A at 56 px instead of 224) and ResNet-110 for 120 epochs instead of 164; our CIFAR-10 copy holds JPEG
# re-encodings. At the **smoke** profile the networks are small stand-ins (ResNet-20 for ResNet-110, WoD's 6-unit
# `224-0-1-1-1-1-1-1` for Model A) trained for one epoch on a few dozen images: the numbers only exercise the
# pipeline, and the claims are not tested.
#
# Two choices the papers leave open (see `architectures.md` B.8): the *input* is the image, and a unit with a
# projection shortcut passes the "shortcut" gradient through its 1×1 projection.

# %% [markdown]
# ## The networks
#
# Each trained once per profile with its recipe (`drnlib.runs`), and found here:

# %%
for name in dict.fromkeys((cifar_recipe, imagenet_recipe)):
    print(recipes.describe(profile, name))
nets = trained(p)
NO_WRAP = [{"selector": "th.row_heading", "props": "white-space: nowrap;"}]  # keep name strings on one line
format_table(training_table(nets), "{:,.4g}").set_table_styles(NO_WRAP, overwrite=False)

# %% [markdown]
# ## Gradient magnitude per path length
#
# {glue:text}`gradient_images` training images of each network's data set (no augmentation, its evaluation crop)
# in batches of {glue:text}`gradient_batch`, BatchNorm in inference mode; {glue:text}`samples_per_k` random draws of
# the $k$ units per batch and path length. As in WoD's Figure 4, each network has its own panel, since magnitudes
# and maximum path lengths differ; below them, the networks together, and each path length's total (mean × number
# of paths) as a share of all the gradient (Veit et al.'s view of where the gradient comes from).

# %%
gradients = path_gradients(p, nets)
fig, axes = plt.subplots(1, len(gradients), figsize=(5 * len(gradients), 3.6), squeeze=False)
for i, (ax, (arch, g)) in enumerate(zip(axes[0], gradients.items())):
    ax.errorbar(g.stats.index, g.stats["mean"], yerr=g.stats["std"], marker="o", ms=3, color=f"C{i}", capsize=2)
    ax.set(yscale="log", xlabel="path length k", ylabel="gradient magnitude at input",
           title=f"{pretty(arch)}, {nets[arch].config.dataset} ({g.units} units)")
    ax.grid(alpha=0.3)
fig.tight_layout()
save_figure(fig, "wod_figA4", profile, "gradients")
plt.show()

fig, axes = plt.subplots(1, 2, figsize=(12, 4))
plots.path_gradient_panels(axes, {pretty(arch): g.stats for arch, g in gradients.items()})
fig.tight_layout()
save_figure(fig, "wod_figA4", profile, "effective")
plt.show()
summary = pd.DataFrame({pretty(arch): g.summary() for arch, g in gradients.items()}).T
format_table(summary[["units", "decay_per_unit", "change_over_lengths", "longest_over_shortest", "max_over_min",
                      "peak_k"]].rename(columns={
    "decay_per_unit": "log10 decay per unit", "change_over_lengths": "log10 change, shortest → longest (fit)",
    "longest_over_shortest": "longest / shortest path", "max_over_min": "max / min over k",
    "peak_k": "peak k (total)"}), "{:.3g}").set_table_styles(NO_WRAP, overwrite=False)

# %% [markdown]
# Per network: the slope of $\log_{10}$ of the gradient per path against $k$, the fitted change from the shortest
# path to the longest (slope × $n$: −1 is ten times smaller), the measured gradient of the longest path (through
# every branch) over that of the shortest (through every shortcut), the largest over the smallest mean across path
# lengths, and where the total gradient peaks. {glue:text}`resnet_label`: a fitted change of
# {glue:text}`resnet_change_over_lengths:.2f` orders of magnitude; {glue:text}`wod_label`:
# {glue:text}`wod_change_over_lengths:.2f`.

# %%
verdicts = figA4_verdicts(p, nets, gradients)
values = {
    **{name: p[name] for name in ("gradient_images", "gradient_batch", "samples_per_k", "max_test_error")},
    "nets": {arch: {"test_error": nets[arch].result["val"]["top1_error"], **g.summary()}
             for arch, g in gradients.items()},
    "resnet": {"label": pretty(resnet), **gradients[resnet].summary()},
    "wod": {"label": pretty(wod_net), **gradients[wod_net].summary()},
    "claims": {v.claim: v.as_dict() for v in verdicts},
}
record = save_results("wod_figA4", profile, values, runs=nets, params=p,
                      dataset="; ".join(f"{pretty(arch)}: {nets[arch].config.dataset} "
                                        f"({nets[arch].result['train_images']:,} training images)" for arch in nets),
                      tables={"summary": summary, **{f"paths_{arch}": g.stats for arch, g in gradients.items()}})
glue_results(record)
show_provenance(record)

# %% [markdown]
# ## The claims
#
# Each network's gradient curve is measured once per batch of images; the claims are decided on the per-batch
# values (the fitted slope, the fitted change over all lengths), with 95% intervals from a bootstrap over the
# batches, against the thresholds of `drnlib/claims.yaml` ("much smaller": more than ten times; "comparable": within
# a factor of ten). A network above {glue:text}`max_test_error`% test error has not learned enough to test them.

# %%
claims_table(verdicts, record)

# %% [markdown]
# ## Every profile
#
# This run next to the stored runs of the other profiles (`results/mini/`, `results/paper/`, where they exist), each
# with its provenance, and their figures:

# %%
comparison = compare_profiles("wod_figA4")
format_table(comparison[~comparison.index.str.startswith("claims_")])

# %%
for tag in ("gradients", "effective"):
    show_stored_figures("wod_figA4", tag, current=profile)
