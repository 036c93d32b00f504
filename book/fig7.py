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
# # Figure 7: activations inside a trained DRN-C-26
#
# Figure 7 of the DRN paper looks inside a trained DRN-C-26: for each of its eight levels, the feature map of
# highest average activation among the maps of the level's output, and, last, the class activation map. The
# degridded network's maps stay free of the grid patterns that dilation causes in DRN-A (Figure 3). This page
# redraws the figure, draws the same for DRN-A-18 (the paper's contrast, its levels 3 to 6), and measures the
# gridding of these maps level by level (beyond the paper).
#
# **Data differs from the paper's:** the paper's DRN-C-26 is trained on ImageNet; ours on **Tiny-ImageNet-100**
# (100 classes, 64×64 images), shown on its validation images. At the smoke profile the networks are trained for
# seconds on a CPU: the maps only show that the pipeline runs.

# %% tags=["parameters"]
profile: str = "smoke"  # smoke | mini | paper: which results/<profile>/ folder this run writes
arch: str = "drn_c_26"  # the network looked inside (Figure 7: DRN-C-26)
compare: str = "drn_a_18"  # a second network drawn the same way (empty: none)
num_images: int = 2  # validation images shown, one row each
image_size: int = 64  # side, in pixels, the whole image is resized to before the networks see it
num_measure: int = 6  # validation images the gridding is averaged over
period: int = 4  # period of the gridding measured (4, the largest dilation of the DRNs)
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
import math

import matplotlib.pyplot as plt
import pandas as pd
import torch

from drnlib.analysis import gridding
from drnlib.analysis.activations import strongest_map
from drnlib.analysis.architecture import level_table
from drnlib.book import check_choice, check_int
from drnlib.pages.drn_classification import (class_maps, classifier_config, nowrap, parse_archs, pretty,
                                             train_classifiers, validation_images)
from drnlib.results import (claims_table, compare_profiles, format_table, glue_results, save_figure, save_results,
                            show_provenance, show_stored_figures)
from drnlib.train import resolve_device

check_choice("profile", profile, ["smoke", "mini", "paper"])
arch_list = parse_archs(arch + ("," + compare if compare.strip() else ""))
check_int("num_images", num_images, 1, 8)
check_int("image_size", image_size, 32, 1024)
check_int("num_measure", num_measure, 1, 100)
check_int("period", period, 2, 16)
settings = dict(dataset=dataset, epochs=epochs, batch_size=batch_size, crop_size=crop_size, lr=lr, step=step,
                limit_train=limit_train, limit_val=limit_val, holdout=holdout, seed=seed, workers=workers,
                device=device)
classifier_config(arch_list[0], **settings)  # every training setting checked before anything runs
compute = resolve_device(device)


# %% [markdown]
# ## Figure 7
#
# The networks are the classifiers shared with the Table 1 page (trained once). For each image: every level's
# output map of highest mean activation (each scaled to its own range, drawn cell by cell), then the class
# activation map of the predicted class (probabilities, 0 to 1).

# %%
runs = train_classifiers(arch_list, profile, **settings)
trained = {name: run.model(device=compute) for name, run in runs.items()}
# the paper's numbers (Figure 5) of the levels that forward_levels returns: DRN-A has no levels 1, 2 and 7, 8
level_numbers = {name: [int(level) for level in level_table(name, 224).index][-len(model.level_names):]
                 for name, model in trained.items()}
shown = validation_images(dataset, num_images, image_size)
for name, model in trained.items():
    with torch.no_grad():
        levels = model.forward_levels(shown.images.to(compute))
    cams, predicted = class_maps(model, shown.images.to(compute))
    panels = 1 + len(levels) + 1  # the input, each level, the class map
    columns = panels if panels <= 6 else math.ceil(panels / 2)  # DRN-C: two rows of five per image
    lines = math.ceil(panels / columns)
    fig, axes = plt.subplots(num_images * lines, columns, figsize=(1.75 * columns, 1.9 * num_images * lines + 0.4),
                             squeeze=False)
    for row in range(num_images):
        cells = axes[row * lines:(row + 1) * lines].flatten()
        cells[0].imshow(shown.pictures[row])
        cells[0].set_title(shown.class_names[shown.labels[row]][:14], fontsize=10)
        for ax, number, maps in zip(cells[1:], level_numbers[name], levels.values()):
            feature, channel = strongest_map(maps[row].float().cpu())
            ax.imshow(feature, cmap="viridis", interpolation="nearest")
            ax.set_title(f"level {number} ({feature.shape[0]}²)", fontsize=10)
        mark = "✓" if int(predicted[row]) == shown.labels[row] else "✗"
        cells[panels - 1].imshow(cams[row].cpu(), cmap="inferno", vmin=0, vmax=1, interpolation="nearest")
        cells[panels - 1].set_title(f"class map {mark}", fontsize=10)
        for ax in cells[panels:]:
            ax.axis("off")
    for ax in axes.flat:
        ax.set_xticks([]), ax.set_yticks([])
    fig.suptitle(f"{pretty(name)}: strongest map of each level's output", fontsize=12)
    fig.tight_layout()
    save_figure(fig, "fig7", profile, f"maps-{name}")
    plt.show()

# %% [markdown]
# ## Gridding, level by level (beyond the paper)
#
# Over {glue:text}`num_measure` validation images, the gridding index at period {glue:text}`period` of each
# level's strongest output map (`drnlib.analysis.gridding`, defined on the Figure 4 page: 0 for noise, 1 for a
# pure grid, below 0 for maps smoother than noise; missing where a map holds fewer than two periods). The
# Figure 4 page measures all channels of every level of the four networks of Figure 3.

# %%
measured = validation_images(dataset, num_measure, image_size).images.to(compute)
rows = []
for name, model in trained.items():
    with torch.no_grad():
        levels = model.forward_levels(measured)
    for number, maps in zip(level_numbers[name], levels.values()):
        strongest = torch.stack([strongest_map(m)[0] for m in maps.float().cpu()])
        rows.append({"arch": name, "level": number, "side": strongest.shape[-1],
                     **gridding.measure(strongest, period)})
    cams = class_maps(model, measured)[0].cpu()
    rows.append({"arch": name, "level": "class map", "side": cams.shape[-1], **gridding.measure(cams, period)})
table = pd.DataFrame(rows)
wide = table.pivot(index="level", columns="arch", values="index")[arch_list].rename(columns=pretty)
nowrap(format_table(wide, "{:.4f}"))

# %%
numbers = table[table["level"] != "class map"]
fig, ax = plt.subplots(figsize=(6.5, 3.4))
for name, group in numbers.groupby("arch", sort=False):
    ax.plot(group["level"], group["index"], marker="o", label=pretty(name))
ax.axhline(0, color="gray", lw=0.8)
ax.set(xlabel="level (as in the paper's Figure 5)", ylabel=f"gridding index (period {period})",
       title="gridding of the strongest map of each level")
ax.legend()
fig.tight_layout()
plt.show()

# %%
last = {name: group.iloc[-1] for name, group in numbers.groupby("arch", sort=False)}
values = {"period": period, "num_measure": num_measure,
          "last_level_index": {name: row["index"] for name, row in last.items()},
          "class_map_index": table[table["level"] == "class map"].set_index("arch")["index"].to_dict()}
record = save_results("fig7", profile, values, dataset=f"{dataset} val ({num_measure} images at {image_size} px)",
                      runs=runs, tables={"gridding": table.astype({"level": str})},
                      params={"arch": arch, "compare": compare, "num_images": num_images, "image_size": image_size,
                              **settings})
glue_results(record)
show_provenance(record)

# %% [markdown]
# ## What the figure claims, checked

# %%
claims = []
if len(arch_list) == 2:
    a, b = arch_list[1], arch_list[0]
    index_a, index_b = last[a]["index"], last[b]["index"]
    claims.append({"claim": f"{pretty(b)}'s output (level {last[b]['level']}) shows less gridding than "
                            f"{pretty(a)}'s (level {last[a]['level']})", "paper": "Fig. 7 vs Fig. 3 (c), by eye",
                   "ours": f"gridding index {index_b:.4f} vs {index_a:.4f}",
                   "holds": bool(index_b < index_a) if index_a == index_a and index_b == index_b else None})
claims.append({"claim": f"{pretty(arch)}'s degridding levels 7 and 8 lower the gridding of level 6",
               "paper": "Sec. 4: levels with decreasing dilation remove gridding",
               "ours": "; ".join(f"level {r['level']}: {r['index']:.4f}" for _, r in numbers[
                   (numbers["arch"] == arch) & numbers["level"].isin([6, 8])].iterrows()) or "no levels 6 and 8",
               "holds": None})
levels_of_arch = numbers[numbers["arch"] == arch].set_index("level")["index"]
if {6, 8} <= set(levels_of_arch.index) and levels_of_arch.notna()[[6, 8]].all():
    claims[-1]["holds"] = bool(levels_of_arch[8] < levels_of_arch[6])
claims_table(claims, record)

# %% [markdown]
# ## Every profile
#
# The figure of the other profiles where one is stored, then this run's numbers next to theirs, each with its
# provenance:

# %%
show_stored_figures("fig7", f"maps-{arch}", current=profile)
format_table(compare_profiles("fig7"))
