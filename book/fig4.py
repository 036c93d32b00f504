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
# # Figure 4: a gridding artifact

# %% tags=["parameters", "hide-cell"]
profile: str = "smoke"  # smoke | mini | paper: which runs/<profile>/ it looks in, which results/ it writes
dilation: int = 2  # dilation of the didactic convolution (the paper's Figure 4 uses 2)
size: int = 33  # side of the didactic feature map, in pixels
max_layers: int = 4  # the didactic example stacks 1..max_layers dilated convolutions
period: int = 4  # period whose gridding is measured in the networks: 4, the largest dilation of the DRNs
image_dataset: str = "synthetic"  # images for the networks: synthetic needs no data; camvid, tiny_imagenet...
input_size: int = 256  # side of the network input images, in pixels
num_images: int = 1  # number of input images for the network measurements
seed: int = 0  # seeds the random weights (networks not trained yet) and the validation maps
recipe: str = "drn_classifier"  # the recipe whose trained classifiers are measured (trained by the other pages)
checkpoint_resnet18: str = ""  # weights for ResNet-18; empty: the shared classifier if trained, else random
checkpoint_drn_a_18: str = ""  # weights for DRN-A-18; empty: the shared classifier if trained, else random
checkpoint_drn_b_26: str = ""  # weights for DRN-B-26; empty: the shared classifier if trained, else random
checkpoint_drn_c_26: str = ""  # weights for DRN-C-26; empty: the shared classifier if trained, else random

# %% tags=["hide-input"]
import matplotlib.pyplot as plt
import pandas as pd

from drnlib.analysis import gridding
from drnlib.display import claims_table, compare_profiles, format_table, glue_results, show_provenance
from drnlib.pages import start
from drnlib.pages.drn_classification import didactic_example, lattice_verdict, network_gridding, pretty
from drnlib.results import save_results

p = start("fig4", globals())
example = didactic_example(dilation, size, max_layers)

# %% [markdown]
# Yu et al. explain the gridding artifacts of dilated networks with a didactic example (DRN paper, Section 4 and
# Figure 4): a feature map with a single active pixel (a) goes through a 2-dilated convolution (b), and the output
# (c) is a grid. Gridding appears whenever a feature map has higher-frequency content than the sampling rate of the
# dilated convolution that reads it. This page redraws the example for any dilation, then goes beyond the paper: it
# defines a **measure** of gridding, checks it on maps whose answer is known, and applies it to the levels of
# ResNet-18, DRN-A-18, DRN-B-26 and DRN-C-26 as trained on the Table 1 page (on Tiny-ImageNet-100, standing in for
# the paper's ImageNet, at the mini profile).
#
# **Data differs from the paper's:** the didactic example needs no data; the networks' levels are measured on
# generated scenes at the smoke profile and on Tiny-ImageNet-100 validation images at the mini profile, with the
# classifiers the other pages trained (this page trains nothing; networks not trained yet are measured at their
# random initialisation, as the "weights" column says).

# %% [markdown]
# ## The didactic example
#
# One active pixel (a), the taps of a 3×3 convolution with the chosen dilation (b), and the output of that
# convolution with all weights set to one (c): the input pixel is copied onto a lattice with the dilation as period.

# %%
fig, axes = plt.subplots(1, 3, figsize=(9, 3.2))
for ax, key, title in zip(axes, ["pixel", "taps", "output"], ["(a) input", f"(b) dilation {dilation}", "(c) output"]):
    ax.imshow(example[key], cmap="magma", interpolation="nearest")
    ax.set_title(title)
    ax.set_xticks([]), ax.set_yticks([])
plt.show()

# %% [markdown]
# ## A measure of gridding (beyond the paper)
#
# A map that repeats with period $d$ along both axes has a 2D discrete Fourier transform that is zero except at the
# frequencies $(kH/d,\ lW/d)$, $k, l = 0, \dots, d-1$. We measure gridding as the share of a map's energy at those
# aliasing frequencies, the constant (DC) term excluded:
#
# $$ s_d(x) = \frac{\sum_{(k,l) \neq (0,0)} |\hat x(kH/d,\ lW/d)|^2}{\sum_{(u,v) \neq (0,0)} |\hat x(u, v)|^2}. $$
#
# By Parseval, $s_d$ is also the variance of the means of the $d^2$ sub-lattices $x[i{:}{:}d,\ j{:}{:}d]$ divided by
# the variance of the map. White noise scores $(d^2-1)/(HW-1)$ on average (the chance level), so we also report the
# **gridding index** $(s_d - \text{chance}) / (1 - \text{chance})$: 1 for a pure grid, 0 for noise, below 0 for
# maps smoother than noise (the Figure 3, 6 and 7 pages give it in percent). Over many channels (or images) the
# energies are summed before dividing, so strong channels weigh more and dead ones do not count. The code is
# `drnlib.analysis.gridding`.
#
# First, maps whose answer we know:

# %%
maps = gridding.validation_maps(size=64, dilation=dilation, seed=seed)
validation = pd.DataFrame({name: gridding.measure(m, dilation) for name, m in maps.items()}).T
validation.index.name = f"map (64x64, d={dilation})"
format_table(validation)

# %% [markdown]
# The pure grid scores {glue:text}`validation_pure_grid_share:.3f`, a grid buried in noise of equal power
# {glue:text}`validation_grid_noise_share:.3f`, white noise {glue:text}`validation_white_noise_share:.4f` against a
# chance level of {glue:text}`validation_chance:.4f`, and a smooth field {glue:text}`validation_smooth_share:.1e`.
# The measure is global: the single pixel of Figure 4 makes only a small, local grid on a large empty map, so its
# index is small, yet it grows as dilated convolutions are stacked, and one undilated convolution afterwards (the
# DRN-C remedy, levels 7 and 8) cuts it down:

# %%
stack = example["stack"]
stack.plot(marker="o", figsize=(6, 3.5), xticks=stack.index, ylabel=f"gridding index (d={dilation})",
           title=f"one pixel, {size}x{size} map")
plt.show()

# %% [markdown]
# ## Gridding in the networks
#
# Every level's output of the four networks of the paper's Figure 3, on the same images, measured at period
# {glue:text}`period`. The paper's artifacts come from trained networks, so the weights are those of the
# classifiers trained on the Table 1 page (the same runs, found by their recipe; this page trains nothing) unless a
# checkpoint is given (parameters `checkpoint_<arch>`); a network that has not been trained yet is measured at its
# **random initialisation**, which the "weights" column says. The images come from the validation split of
# {glue:text}`image_dataset` (generated scenes at the smoke profile), resized to {glue:text}`input_size` pixels
# square; number of images: {glue:text}`num_images`.

# %%
images = gridding.input_images(image_dataset, num_images, input_size)
levels, strongest, weights_used, found = network_gridding(p, images)
last = levels.groupby("arch", sort=False).tail(1).set_index("arch")
format_table(last.drop(columns=["channels", "width"]).rename(index=pretty))

# %% [markdown]
# The last level's most active channel for the first image, as the paper draws them in its Figure 3:

# %%
fig, axes = plt.subplots(1, 5, figsize=(12, 2.6))
axes[0].imshow(images[0].permute(1, 2, 0).clamp(-2, 2) / 4 + 0.5)
axes[0].set_title("input")
for ax, (arch, image) in zip(axes[1:], strongest.items()):
    ax.imshow(image, cmap="magma", interpolation="nearest")
    ax.set_title(f"{pretty(arch)} ({image.shape[0]}x{image.shape[1]})")
for ax in axes:
    ax.set_xticks([]), ax.set_yticks([])
plt.show()

# %%
fig, ax = plt.subplots(figsize=(7, 3.5))
for arch, group in levels.groupby("arch", sort=False):
    ax.plot(group["level"], group["index"], marker="o", label=pretty(arch))
ax.axhline(0, color="gray", lw=0.8)
ax.set(xlabel="level (numbered as in the paper's Figure 5)", ylabel=f"gridding index (period {period})",
       title="gridding by level" + ("" if any(w != "random init" for w in weights_used.values())
                                    else " (random weights)"))
ax.legend()
plt.show()

# %% [markdown]
# At the last level, DRN-A-18 scores {glue:text}`index_drn_a_18:.4f` and DRN-C-26
# {glue:text}`index_drn_c_26:.4f` (ResNet-18: {glue:text}`index_resnet18:.4f`, on a map 4 times smaller per side,
# whose chance level is correspondingly higher).
#
# ## What the figure claims, checked
#
# The paper's claim on this figure is about the didactic example, so it is checked by computation: the output of
# one active pixel through a 3×3 convolution of dilation {glue:text}`dilation` must be exactly the 3×3 lattice of
# that period around it (a grid, by the measure above), and a smooth map (no content at the dilation's sampling
# rate) must come out without a grid. Whether trained networks grid is measured on the Figure 3, 6 and 7 pages.

# %%
share = validation["share"]
verdicts = [lattice_verdict(dilation, size)]
values = {
    "validation": {"pure_grid_share": share["pure grid"], "grid_noise_share": share["grid + equal-power noise"],
                   "white_noise_share": share["white noise"], "smooth_share": share["smooth field"],
                   "chance": validation.loc["white noise", "chance"]},
    "index": last["index"].to_dict(), "period": period, "image_dataset": image_dataset, "input_size": input_size,
    "num_images": num_images, "dilation": dilation, "weights": weights_used,
    "claims": {v.claim: v.as_dict() for v in verdicts},
}
record = save_results("fig4", profile, values, dataset=f"{image_dataset} val ({num_images} x {input_size} px)",
                      runs=found, params=p, tables={"validation": validation, "stack": stack, "levels": levels})
glue_results(record)
show_provenance(record)
claims_table(verdicts, record)

# %% [markdown]
# ## Every profile
#
# This run next to the stored runs of the other profiles (`results/mini/`, `results/paper/`, where they exist), each
# with its provenance:

# %%
format_table(compare_profiles("fig4"))
