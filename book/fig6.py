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
# # Figure 6: max pooling and high-frequency activations

# %% tags=["parameters", "hide-cell"]
profile: str = "smoke"  # smoke | mini | paper: which params/<profile>/recipes.yaml trains, which results/ it writes
archs: list = ["drn_a_18", "drn_b_26"]  # the network with max pooling, then the one without (Figure 6 b and c)
recipe: str = "drn_classifier"  # the training recipe of the classifiers (shared with Tables 1-2, Figures 3, 4, 7)
level: int = 3  # paper level whose first convolution's input is shown (Figure 6: level 3)
num_images: int = 3  # validation images shown, one row each
image_size: int = 64  # side, in pixels, the whole image is resized to before the networks see it
num_measure: int = 6  # validation images (one per class, spread over the classes) the measurements are made on
cutoff: float = 0.25  # high frequencies: above this many cycles per pixel (0.5 is the Nyquist limit)
period: int = 4  # period of the gridding measured after the dilated levels (4, the largest dilation of the DRNs)
seed: int = 0  # seeds the random weights of the untrained control networks

# %% tags=["hide-input"]
import matplotlib.pyplot as plt

from drnlib import recipes
from drnlib.analysis.activations import strongest_map
from drnlib.display import (claims_table, compare_profiles, format_table, glue_results, show_provenance,
                            show_stored_figures)
from drnlib.pages import start
from drnlib.pages.drn_classification import (classifiers, compute_device, fig6_verdicts, figure_scale,
                                             level_input_measurements, level_inputs, pretty, trained_models,
                                             validation_images)
from drnlib.results import save_figure, save_results

p = start("fig6", globals())

# %% [markdown]
# The first step of the DRN paper's degridding (Section 4, Figure 6) replaces the max pooling that DRN-A inherits
# from ResNet by strided residual blocks (DRN-B). The reason given: max pooling "leads to high-amplitude
# high-frequency activations", which later dilated layers turn into gridding artifacts. Figure 6 shows, for one
# image, the input feature map of the first convolution of level 3 with the highest mean activation, for DRN-A-18
# (after max pooling) and DRN-B-26 (after residual blocks). This page redraws it and then **measures** it (beyond
# the paper): the share of the feature maps' energy at high spatial frequencies and how far their peaks stand
# out, image by image, for the trained networks and, as a control, for the same networks untrained; and the
# gridding that follows further on.
#
# **Data differs from the paper's:** the paper's networks are trained on ImageNet; ours on **Tiny-ImageNet-100**
# (100 classes, 64×64 images) with the profile's `drn_classifier` recipe (shown below), and the images are its
# validation images, resized to `image_size` pixels instead of 224. At the smoke profile the networks are trained
# for seconds on a CPU: the maps and numbers only show that the pipeline runs.

# %% [markdown]
# ## Figure 6
#
# The networks are the classifiers shared with the Table 1 page (trained once, with the recipe below). Each row:
# the image, then, for each network, the input of the first convolution of level {glue:text}`level` with the
# highest mean activation (its channel number in the title), each map scaled to its own range:

# %%
print(recipes.describe(profile, recipe))
trained = classifiers(p)
models = trained_models(trained)
dataset = next(iter(trained.values())).config.dataset
shown = validation_images(dataset, num_images, image_size)
inputs = {arch: level_inputs(model, shown.images.to(compute_device()), level).cpu() for arch, model in models.items()}
fig, axes = plt.subplots(num_images, 3, figsize=(7.5, 2.6 * num_images), squeeze=False)
for row in range(num_images):
    axes[row, 0].imshow(shown.pictures[row])
    axes[row, 0].set_title(shown.class_names[shown.labels[row]][:18], fontsize=10)
    for ax, (arch, maps) in zip(axes[row, 1:], inputs.items()):
        feature, channel = strongest_map(maps[row])
        ax.imshow(feature, cmap="magma", interpolation="nearest")
        ax.set_title(f"{pretty(arch)}, channel {channel} ({feature.shape[0]}×{feature.shape[1]})", fontsize=10)
for ax in axes.flat:
    ax.set_xticks([]), ax.set_yticks([])
fig.tight_layout()
save_figure(fig, "fig6", profile, "maps")
plt.show()

# %% [markdown]
# ## Measured (beyond the paper)
#
# Over {glue:text}`num_measure` validation images, image by image, for all channels of the level-{glue:text}`level`
# input:
#
# - **high-frequency share**: the share of the maps' spectral energy (DC excluded, energies of all channels
#   summed) at spatial frequencies above {glue:text}`cutoff` cycles per pixel, in percent; white noise scores the
#   "chance" column (the share of frequency bins above the cutoff), smooth maps near 0;
# - **peak / mean**: for the strongest channel, its largest activation over its mean: how much isolated peaks
#   stand out;
# - **gridding** further on (Section 4's consequence): the gridding index at period {glue:text}`period` (in
#   percent, defined on the Figure 4 page) of the output of the last dilated level ("grid dilated", level 6) and
#   of the network ("grid output"), all channels.
#
# Frequencies are counted in cycles per pixel *of each map* (what the next strided or dilated convolution
# samples): DRN-A-18's level-3 input is at 1/4 of the image resolution (after max pooling), DRN-B-26's at 1/2. The
# same networks with their initial random weights (same seed) are the control: they separate what max pooling
# does by itself from what training adds. The table shows the means over the images.

# %%
measured = validation_images(dataset, num_measure, image_size).images
per_image, spectra = level_input_measurements(trained, measured, level, cutoff, period, seed)
summary = per_image.groupby(["arch", "weights"], sort=False)[
    ["channels", "side", "high_frequency", "chance", "peak_mean", "grid_dilated", "grid_output"]].mean()
format_table(summary.rename(index=pretty, level="arch"), "{:.3g}")

# %% [markdown]
# How the energy of the level-{glue:text}`level` input spreads over spatial frequency (rings of equal width;
# the dashed line marks the cutoff):

# %%
fig, ax = plt.subplots(figsize=(7, 3.6))
for (arch, weights), (centres, shares) in spectra.items():
    shares = shares.masked_fill(shares == 0, float("nan"))  # empty rings (no DFT bin) are not drawn on a log scale
    ax.plot(centres, shares, marker="o", ls="-" if weights == "trained" else ":", label=f"{arch}, {weights}")
ax.axvline(cutoff, color="gray", ls="--", lw=1)
ax.set(xlabel="spatial frequency |f| (cycles per pixel)", ylabel="share of the energy", yscale="log",
       title=f"level-{level} input, {num_measure} images")
ax.legend(fontsize=8)
fig.tight_layout()
plt.show()

# %% [markdown]
# ## What the figure claims, checked
#
# The paper's claims are judged by eye; here they are decided on the measurements above for the trained networks:
# the margin is the mean difference over the images in the claim's favour, with its 95% interval from a paired
# bootstrap over the images (`drnlib.paper`); a claim of two comparisons holds when both hold. Whether the
# difference is there before training (the random-init rows) is ours, not the paper's, and is not a verdict.

# %%
scale = figure_scale(p, trained, num_measure, image_size)
verdicts = fig6_verdicts(per_image, archs[0], archs[1], scale)
keyed = summary.set_axis([f"{arch}_{weights.split()[0]}" for arch, weights in summary.index])  # drn_a_18_random
values = {"level": level, "cutoff": cutoff, "period": period, "num_measure": num_measure,
          **keyed[["high_frequency", "peak_mean", "grid_dilated", "grid_output"]].to_dict(),
          "claims": {v.claim: v.as_dict() for v in verdicts}}
record = save_results("fig6", profile, values, dataset=scale, runs=trained, params=p,
                      tables={"measures": summary.reset_index(), "per_image": per_image})
glue_results(record)
show_provenance(record)
claims_table(verdicts, record)

# %% [markdown]
# ## Every profile
#
# The figure of the other profiles where one is stored, then this run's numbers next to theirs, each with its
# provenance:

# %%
show_stored_figures("fig6", "maps", current=profile)
format_table(compare_profiles("fig6"))
