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

# %% tags=["parameters", "hide-cell"]
profile: str = "smoke"  # smoke | mini | paper: which params/<profile>/recipes.yaml trains, which results/ it writes
archs: list = ["drn_c_26", "drn_a_18"]  # the network looked inside (Figure 7: DRN-C-26), then others drawn alike
recipe: str = "drn_classifier"  # the training recipe of the classifiers (shared with Tables 1-2, Figures 3, 4, 6)
num_images: int = 2  # validation images shown, one row each
image_size: int = 64  # side, in pixels, the whole image is resized to before the networks see it
num_measure: int = 6  # validation images (one per class, spread over the classes) the gridding is measured on
period: int = 4  # period of the gridding measured (4, the largest dilation of the DRNs)

# %% tags=["hide-input"]
import math

import matplotlib.pyplot as plt

from drnlib import recipes
from drnlib.display import (claims_table, compare_profiles, format_table, glue_results, show_provenance,
                            show_stored_figures)
from drnlib.pages import start
from drnlib.pages.drn_classification import (classifiers, compute_device, fig7_verdicts, figure_scale,
                                             level_gridding_per_image, pretty, strongest_level_maps, trained_models,
                                             validation_images)
from drnlib.results import save_figure, save_results

p = start("fig7", globals())

# %% [markdown]
# Figure 7 of the DRN paper looks inside a trained DRN-C-26: for each of its eight levels, the feature map of
# highest average activation among the maps of the level's output, and, last, the class activation map. The
# degridded network's maps stay free of the grid patterns that dilation causes in DRN-A (Figure 3). This page
# redraws the figure, draws the same for DRN-A-18 (the paper's contrast, its levels 3 to 6), and measures the
# gridding of these maps level by level (beyond the paper).
#
# **Data differs from the paper's:** the paper's DRN-C-26 is trained on ImageNet; ours on **Tiny-ImageNet-100**
# (100 classes, 64×64 images) with the profile's `drn_classifier` recipe (shown below), shown on its validation
# images resized to `image_size` pixels instead of 224. At the smoke profile the networks are trained for seconds
# on a CPU: the maps only show that the pipeline runs.

# %% [markdown]
# ## Figure 7
#
# The networks are the classifiers shared with the Table 1 page (trained once, with the recipe below). For each
# image: every level's output map of highest mean activation (each scaled to its own range, drawn cell by cell),
# then the class activation map of the predicted class (probabilities, 0 to 1), ✓ when that class is the true one.

# %%
print(recipes.describe(profile, recipe))
trained = classifiers(p)
models = trained_models(trained)
dataset = next(iter(trained.values())).config.dataset
shown = validation_images(dataset, num_images, image_size)
for name, model in models.items():
    panels, predicted = strongest_level_maps(name, model, shown.images.to(compute_device()))
    count = 1 + len(panels)  # the image, each level, the class map
    columns = count if count <= 6 else math.ceil(count / 2)  # DRN-C: two rows of five per image
    lines = math.ceil(count / columns)
    fig, axes = plt.subplots(num_images * lines, columns, figsize=(1.75 * columns, 1.9 * num_images * lines + 0.4),
                             squeeze=False)
    for row in range(num_images):
        cells = axes[row * lines:(row + 1) * lines].flatten()
        cells[0].imshow(shown.pictures[row])
        cells[0].set_title(shown.class_names[shown.labels[row]][:14], fontsize=10)
        for ax, (level, maps) in zip(cells[1:], panels.items()):
            is_map = level == "class map"
            ax.imshow(maps[row], cmap="inferno" if is_map else "viridis", interpolation="nearest",
                      **({"vmin": 0, "vmax": 1} if is_map else {}))
            mark = "✓" if predicted[row] == shown.labels[row] else "✗"
            ax.set_title(f"class map {mark}" if is_map else f"level {level} ({maps.shape[-1]}²)", fontsize=10)
        for ax in cells[count:]:
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
# Over {glue:text}`num_measure` validation images, image by image, the gridding index at period {glue:text}`period`
# of each level's strongest output map and of the class map (`drnlib.analysis.gridding`, defined on the Figure 4
# page; in percent: 0 for noise, 100 for a pure grid, below 0 for maps smoother than noise; missing where a map
# holds fewer than two periods). The table shows the means over the images. The Figure 4 page measures all
# channels of every level of the four networks of Figure 3.

# %%
measured = validation_images(dataset, num_measure, image_size).images
per_image = level_gridding_per_image(models, measured, period)
wide = per_image.pivot_table(index="level", columns="arch", values="index", sort=False, dropna=False)[archs]
format_table(wide.rename(columns=pretty), "{:.2f}")

# %%
fig, ax = plt.subplots(figsize=(6.5, 3.4))
for name, column in wide.drop(index="class map").items():
    ax.plot(column.index.astype(int), column, marker="o", label=pretty(name))
ax.axhline(0, color="gray", lw=0.8)
ax.set(xlabel="level (as in the paper's Figure 5)", ylabel=f"gridding index (%, period {period})",
       title="gridding of the strongest map of each level")
ax.legend()
fig.tight_layout()
plt.show()

# %% [markdown]
# ## What the figure claims, checked
#
# The paper shows these maps by eye. DRN-32 compares, image by image, the gridding of the network's last level
# with that of its last dilated level (level 6), before the levels of decreasing dilation; DRN-34 asks, level by
# level, that the strongest map and the class map hold no more grid energy than noise (a gridding index at most
# 0; the margin is how far below 0, with its 95% interval from a bootstrap over the images, `drnlib.paper`), and
# holds when every level does.

# %%
scale = figure_scale(p, trained, num_measure, image_size)
verdicts = fig7_verdicts(per_image, archs[0], scale)
values = {"period": period, "num_measure": num_measure, "index": wide.to_dict(),
          "claims": {v.claim: v.as_dict() for v in verdicts}}
record = save_results("fig7", profile, values, dataset=scale, runs=trained, params=p,
                      tables={"gridding": wide.reset_index(), "per_image": per_image})
glue_results(record)
show_provenance(record)
claims_table(verdicts, record)

# %% [markdown]
# ## Every profile
#
# The figure of the other profiles where one is stored, then this run's numbers next to theirs, each with its
# provenance:

# %%
show_stored_figures("fig7", f"maps-{archs[0]}", current=profile)
format_table(compare_profiles("fig7"))
