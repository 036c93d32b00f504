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
# # Figure 3: class activation maps of ResNet-18 and the DRNs

# %% tags=["parameters", "hide-cell"]
profile: str = "smoke"  # smoke | mini | paper: which params/<profile>/recipes.yaml trains, which results/ it writes
archs: list = ["resnet18", "drn_a_18", "drn_b_26", "drn_c_26"]  # the networks compared, one column each
recipe: str = "drn_classifier"  # the training recipe of the classifiers (shared with Tables 1-2, Figures 4, 6, 7)
num_images: int = 4  # validation images shown, one row each, from classes spread over the data set
image_size: int = 64  # side, in pixels, the whole image is resized to before the networks see it
num_measure: int = 6  # validation images (one per class, spread over the classes) the maps are measured on
period: int = 4  # period of the gridding measured on the maps (4, the largest dilation of the DRNs)

# %% tags=["hide-input"]
import matplotlib.pyplot as plt
from matplotlib.patches import Rectangle

from drnlib import recipes
from drnlib.display import (claims_table, compare_profiles, format_table, glue_results, show_provenance,
                            show_stored_figures)
from drnlib.pages import start
from drnlib.pages.drn_classification import (class_map_facts, class_maps, classifier_table, classifiers,
                                             compute_device, fig3_verdicts, figure_scale, map_measurements,
                                             map_summary, pretty, trained_models, validation_images)
from drnlib.results import save_figure, save_results

p = start("fig3", globals())

# %% [markdown]
# Remove the global average pooling of a classifier and apply its last 1×1 convolution at every position of the
# final feature map: a softmax over the classes at each position gives a map of class probabilities (DRN paper,
# Section 3 and Figure 2). Figure 3 of the paper shows these maps for ResNet-18 (7×7 at a 224 input) and for the
# DRNs built from it, DRN-A-18, DRN-B-26 and DRN-C-26 (28×28), and points at the **gridding artifacts** of DRN-A-18
# that the degridded DRN-C-26 removes.
#
# **Data differs from the paper's:** the paper trains on ImageNet; this page trains the four networks on
# **Tiny-ImageNet-100** (100 ImageNet classes, 64×64 images, 300 training images per class) with the profile's
# `drn_classifier` recipe (shown below) and shows its validation images, resized to `image_size` pixels instead
# of 224. At the smoke profile the networks see a few dozen images for one epoch on a CPU: the maps only show that
# the pipeline runs; the mini profile (one GPU) trains them for real.

# %% [markdown]
# ## The classifiers
#
# The four networks are trained with the recipe below, once per profile, and shared with the Table 1 and 2 pages.
# Their validation error (centre crop):

# %%
print(recipes.describe(profile, recipe))
trained = classifiers(p)
models = trained_models(trained)
dataset = next(iter(trained.values())).config.dataset
format_table(classifier_table(trained).rename(index=pretty))

# %% [markdown]
# ## Figure 3
#
# Each row is one validation image (its object box in green) and, for each network, the probability map of the
# class that network predicts, drawn cell by cell at the resolution the network computes it. The title says the
# predicted class, with ✓ when it is the true one.

# %%
shown = validation_images(dataset, num_images, image_size)
columns = len(archs) + 1
fig, axes = plt.subplots(num_images, columns, figsize=(1.9 * columns, 2.05 * num_images + 0.3), squeeze=False)
predictions = {arch: class_maps(model, shown.images.to(compute_device())) for arch, model in models.items()}
for row in range(num_images):
    label = shown.labels[row]
    axes[row, 0].imshow(shown.pictures[row])
    for x0, y0, x1, y1 in shown.boxes[row].tolist():
        axes[row, 0].add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, color="lime", lw=1.5))
    axes[row, 0].set_title(shown.class_names[label][:16], fontsize=10)
    for ax, (arch, (cams, predicted)) in zip(axes[row, 1:], predictions.items()):
        cam, guess = cams[row].cpu(), int(predicted[row])
        ax.imshow(cam, cmap="inferno", vmin=0, vmax=1, interpolation="nearest", extent=(0, image_size, image_size, 0))
        ax.set_title(f"{'✓' if guess == label else '✗'} {shown.class_names[guess][:14]}", fontsize=10)
        if row == 0:
            ax.text(0.5, 1.22, f"{pretty(arch)} ({cam.shape[0]}×{cam.shape[1]})", transform=ax.transAxes,
                    ha="center", fontsize=11, weight="bold")
for ax in axes.flat:
    ax.set_xticks([]), ax.set_yticks([])
fig.tight_layout()
save_figure(fig, "fig3", profile, "maps")
plt.show()

# %% [markdown]
# ## How well do the maps sit on the objects, and do they grid? (beyond the paper)
#
# The paper judges the maps by eye. Over {glue:text}`num_measure` validation images (one per class, spread over
# the classes) we measure, image by image, for the map of the **true** class:
#
# - **mass in box**: the share of the map's probability mass inside the object's box, in percent (a flat map
#   scores the box's share of the image, the "box area" column; maps that are zero everywhere, "empty maps", are
#   left out);
# - **gridding**: the gridding index at period {glue:text}`period` (`drnlib.analysis.gridding`, defined on the
#   Figure 4 page), in percent: 0 for noise, 100 for a pure grid, below 0 for maps smoother than noise; of the class
#   map ("grid class map") and of the network's output features, all channels ("grid output"); "–" where a map
#   holds fewer than two periods (ResNet-18's).
#
# The table shows the means over the images; the claims below compare the networks image by image.

# %%
measured = validation_images(dataset, num_measure, image_size)
per_image = map_measurements(models, measured, period)
summary = map_summary(per_image)
format_table(summary.rename(index=pretty), "{:.3g}")

# %% [markdown]
# ## What the figure claims, checked
#
# DRN-18 is a fact about the networks, computed on them: the size of their class maps (at the paper's 224 pixels
# and at ours) and that the maps are the trained classifier itself, applied at every position (their average over
# the positions gives the network's logits). The other claims are the paper's "by eye" statements, decided on the
# measurements above: the margin is the mean difference over the images in the claim's favour, with its 95%
# interval from a paired bootstrap over the images (`drnlib.paper`); a claim of several comparisons holds when each
# holds. "Better resolved" (DRN-19) is read as "more of the true class's map on the object".

# %%
facts = class_map_facts(models, measured.images[:2])  # a fact of the networks: two images show it
scale = figure_scale(p, trained, num_measure, image_size)
verdicts = fig3_verdicts(per_image, facts, image_size, scale)
values = {"top1_error": classifier_table(trained)["top-1 error"].to_dict(), "num_measure": num_measure,
          "period": period, "image_size": image_size, "map_side": summary["map_side"].to_dict(),
          "mass_in_box": summary["mass_in_box"].to_dict(), "grid_class_map": summary["grid_class_map"].to_dict(),
          "grid_output": summary["grid_output"].to_dict(), "claims": {v.claim: v.as_dict() for v in verdicts}}
record = save_results("fig3", profile, values, dataset=scale, runs=trained, params=p,
                      tables={"maps": summary.reset_index(), "per_image": per_image, "facts": facts.reset_index()})
glue_results(record)
show_provenance(record)
claims_table(verdicts, record)

# %% [markdown]
# ## Every profile
#
# The figure of the other profiles where one is stored (e.g. the mini profile's, trained on a GPU), each with its
# provenance, then this run's numbers next to theirs:

# %%
show_stored_figures("fig3", "maps", current=profile)
format_table(compare_profiles("fig3"))
