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
#
# The first step of the DRN paper's degridding (Section 4, Figure 6) replaces the max pooling that DRN-A inherits
# from ResNet by strided residual blocks (DRN-B). The reason given: max pooling "leads to high-amplitude
# high-frequency activations", which later dilated layers turn into gridding artifacts. Figure 6 shows, for one
# image, the input feature map of the first convolution of level 3 with the highest mean activation, for DRN-A-18
# (after max pooling) and DRN-B-26 (after residual blocks). This page redraws it and then **measures** it (beyond
# the paper): the share of the feature maps' energy at high spatial frequencies and how far their peaks stand
# out, averaged over many images, for the trained networks and, as a control, for the same networks untrained.
#
# **Data differs from the paper's:** the paper's networks are trained on ImageNet; ours on **Tiny-ImageNet-100**
# (100 classes, 64×64 images), and the images are its validation images. At the smoke profile the networks are
# trained for seconds on a CPU: the maps and numbers only show that the pipeline runs.

# %% tags=["parameters"]
profile: str = "smoke"  # smoke | mini | paper: which results/<profile>/ folder this run writes
archs: str = "drn_a_18,drn_b_26"  # the network with max pooling, then the one without (Figure 6 b and c)
level: int = 3  # paper level whose first convolution's input is shown (Figure 6: level 3)
num_images: int = 3  # validation images shown, one row each
image_size: int = 64  # side, in pixels, the whole image is resized to before the networks see it
num_measure: int = 6  # validation images the measurements are averaged over
cutoff: float = 0.25  # high frequencies: above this many cycles per pixel (0.5 is the Nyquist limit)
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

from drnlib.analysis.activations import strongest_map
from drnlib.book import check, check_choice, check_int, check_number
from drnlib.models import build_model
from drnlib.pages.drn_classification import (classifier_config, high_frequency_chance, high_frequency_share,
                                             level_inputs, nowrap, parse_archs, peak_to_mean, pretty, radial_spectrum,
                                             train_classifiers, validation_images)
from drnlib.results import (claims_table, compare_profiles, format_table, glue_results, save_figure, save_results,
                            show_provenance, show_stored_figures)
from drnlib.train import resolve_device

check_choice("profile", profile, ["smoke", "mini", "paper"])
arch_list = parse_archs(archs)
check(len(arch_list) == 2, f"archs must name two networks (with and without max pooling), got {archs!r}")
check_int("level", level, 1, 8)
check_int("num_images", num_images, 1, 12)
check_int("image_size", image_size, 32, 1024)
check_int("num_measure", num_measure, 1, 100)
check_number("cutoff", cutoff, 0.01, 0.49)
settings = dict(dataset=dataset, epochs=epochs, batch_size=batch_size, crop_size=crop_size, lr=lr, step=step,
                limit_train=limit_train, limit_val=limit_val, holdout=holdout, seed=seed, workers=workers,
                device=device)
classifier_config(arch_list[0], **settings)  # every training setting checked before anything runs
compute = resolve_device(device)

# %% [markdown]
# ## Figure 6
#
# The networks are the classifiers shared with the Table 1 page (trained once). Each row: the image, then, for
# each network, the input of the first convolution of level {glue:text}`level` with the highest mean activation
# (its channel number in the title), each map scaled to its own range:

# %%
runs = train_classifiers(arch_list, profile, **settings)
trained = {arch: run.model(device=compute) for arch, run in runs.items()}
shown = validation_images(dataset, num_images, image_size)
inputs = {arch: level_inputs(model, shown.images.to(compute), level).cpu() for arch, model in trained.items()}
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
# Over {glue:text}`num_measure` validation images, for all channels of the level-{glue:text}`level` input:
#
# - **high-frequency share**: the share of the maps' spectral energy (DC excluded, energies of all channels and
#   images summed) at spatial frequencies above {glue:text}`cutoff` cycles per pixel; white noise scores the
#   "chance" column (the share of frequency bins above the cutoff), smooth maps near 0;
# - **peak / mean**: for the strongest channel of each image, its largest activation over its mean, averaged
#   over the images: how much isolated peaks stand out.
#
# Frequencies are counted in cycles per pixel *of each map* (what the next strided or dilated convolution
# samples): DRN-A-18's level-3 input is at 1/4 of the image resolution (after max pooling), DRN-B-26's at 1/2. The
# same networks with their initial random weights (same seed) are the control: they separate what max pooling
# does by itself from what training adds.

# %%
measured = validation_images(dataset, num_measure, image_size).images.to(compute)
rows, spectra, values = [], {}, {"level": level, "cutoff": cutoff, "num_measure": num_measure, "share": {},
                                 "peak": {}}
for arch, run in runs.items():
    torch.manual_seed(seed)
    untrained = build_model(arch, num_classes=run.result["num_classes"]).to(compute)
    for weights, model in (("trained", trained[arch]), ("random init", untrained)):
        maps = level_inputs(model, measured, level).cpu()
        strongest = torch.stack([strongest_map(m)[0] for m in maps])
        rows.append({"arch": pretty(arch), "weights": weights, "channels": maps.shape[1], "side": maps.shape[-1],
                     "high-frequency share": high_frequency_share(maps, cutoff),
                     "chance": high_frequency_chance(*maps.shape[-2:], cutoff), "peak / mean": peak_to_mean(strongest)})
        spectra[(pretty(arch), weights)] = radial_spectrum(maps)
        key = f"{arch}_{weights.split()[0]}"  # e.g. drn_a_18_trained, drn_a_18_random
        values["share"][key], values["peak"][key] = rows[-1]["high-frequency share"], rows[-1]["peak / mean"]
table = pd.DataFrame(rows).set_index(["arch", "weights"])
nowrap(format_table(table))

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

# %%
with_pool, without_pool = (pretty(a) for a in arch_list)
share, peaks = table["high-frequency share"], table["peak / mean"]
record = save_results("fig6", profile, values, dataset=f"{dataset} val ({num_measure} images at {image_size} px)",
                      runs=runs, tables={"measures": table.reset_index()},
                      params={"archs": arch_list, "num_images": num_images, "image_size": image_size, **settings})
glue_results(record)
show_provenance(record)

# %% [markdown]
# ## What the figure claims, checked

# %%
claims = [
    {"claim": f"max pooling ({with_pool}) gives the level-{level} input more high-frequency energy than "
              f"{without_pool}'s residual blocks", "paper": "Fig. 6 (b) vs (c), by eye",
     "ours": f"{share[(with_pool, 'trained')]:.3f} vs {share[(without_pool, 'trained')]:.3f}",
     "holds": bool(share[(with_pool, "trained")] > share[(without_pool, "trained")])},
    {"claim": "... and higher-amplitude peaks", "paper": "Fig. 6 (b) vs (c), by eye",
     "ours": f"peak / mean {peaks[(with_pool, 'trained')]:.2f} vs {peaks[(without_pool, 'trained')]:.2f}",
     "holds": bool(peaks[(with_pool, "trained")] > peaks[(without_pool, "trained")])},
    {"claim": "the difference is there before training (ours)", "paper": "not discussed",
     "ours": f"{share[(with_pool, 'random init')]:.3f} vs {share[(without_pool, 'random init')]:.3f}",
     "holds": bool(share[(with_pool, "random init")] > share[(without_pool, "random init")])},
]
claims_table(claims, record)

# %% [markdown]
# ## Every profile
#
# The figure of the other profiles where one is stored, then this run's numbers next to theirs, each with its
# provenance:

# %%
show_stored_figures("fig6", "maps", current=profile)
format_table(compare_profiles("fig6"))
