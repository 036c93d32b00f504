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
#
# Remove the global average pooling of a classifier and apply its last 1×1 convolution at every position of the
# final feature map: a softmax over the classes at each position gives a map of class probabilities (DRN paper,
# Section 3 and Figure 2). Figure 3 of the paper shows these maps for ResNet-18 (7×7 at a 224 input) and for the
# DRNs built from it, DRN-A-18, DRN-B-26 and DRN-C-26 (28×28), and points at the **gridding artifacts** of DRN-A-18
# that the degridded DRN-C-26 removes.
#
# **Data differs from the paper's:** the paper trains on ImageNet; this page trains the four networks on
# **Tiny-ImageNet-100** (100 ImageNet classes, 64×64 images, 300 training images per class) and shows its
# validation images. At the smoke profile the networks see a few hundred images for one epoch on a CPU: the maps
# only show that the pipeline runs; the mini profile (one GPU) trains them for real.

# %% tags=["parameters"]
profile: str = "smoke"  # smoke | mini | paper: which results/<profile>/ folder this run writes
archs: str = "resnet18,drn_a_18,drn_b_26,drn_c_26"  # the networks compared, one column each
num_images: int = 4  # validation images shown, one row each, from classes spread over the data set
image_size: int = 64  # side, in pixels, the whole image is resized to before the networks see it
num_measure: int = 6  # validation images over which the map statistics are averaged
period: int = 4  # period of the gridding measured on the maps (4, the largest dilation of the DRNs)
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
from matplotlib.patches import Rectangle

from drnlib.analysis import gridding
from drnlib.analysis.architecture import final_resolution
from drnlib.book import check_choice, check_int
from drnlib.pages.drn_classification import (class_maps, classifier_config, mass_in_box, nowrap, parse_archs, pretty,
                                             train_classifiers, validation_images)
from drnlib.results import (claims_table, compare_profiles, format_table, glue_results, save_figure, save_results,
                            show_provenance, show_stored_figures)
from drnlib.train import resolve_device

check_choice("profile", profile, ["smoke", "mini", "paper"])
arch_list = parse_archs(archs)
check_int("num_images", num_images, 1, 16)
check_int("image_size", image_size, 16, 1024)
check_int("num_measure", num_measure, 1, 100)
check_int("period", period, 2, 16)
settings = dict(dataset=dataset, epochs=epochs, batch_size=batch_size, crop_size=crop_size, lr=lr, step=step,
                limit_train=limit_train, limit_val=limit_val, holdout=holdout, seed=seed, workers=workers,
                device=device)
classifier_config(arch_list[0], **settings)  # every training setting checked before anything runs
compute = resolve_device(device)

# %% [markdown]
# ## The classifiers
#
# The four networks are trained with the recipe of the paper's Section 5.1 (SGD with momentum 0.9, weight decay
# 1e-4, learning rate divided by 10 every `step` epochs, random-resized crops and flips), with the same settings
# as on the Table 1 and 2 pages, so the networks are trained once and shared. Their validation error (centre crop):

# %%
runs = train_classifiers(arch_list, profile, **settings)
trained_table = pd.DataFrame({arch: {"epochs": run.result["epochs"], "train images": run.result["train_images"],
                                     "val images": run.result["val_images"],
                                     "top-1 error": run.result["val"]["top1_error"],
                                     "top-5 error": run.result["val"]["top5_error"]}
                              for arch, run in runs.items()}).T
trained_table.index.name = "arch"
models = {arch: run.model(device=compute) for arch, run in runs.items()}
nowrap(format_table(trained_table.rename(index=pretty)))

# %% [markdown]
# ## Figure 3
#
# Each row is one validation image (its object box in green) and, for each network, the probability map of the
# class that network predicts, drawn cell by cell at the resolution the network computes it. The title says the
# predicted class, with ✓ when it is the true one.

# %%
shown = validation_images(dataset, num_images, image_size)
columns = len(arch_list) + 1
fig, axes = plt.subplots(num_images, columns, figsize=(1.9 * columns, 2.05 * num_images + 0.3), squeeze=False)
predictions = {arch: class_maps(model, shown.images.to(compute)) for arch, model in models.items()}
for row in range(num_images):
    label = shown.labels[row]
    ax = axes[row, 0]
    ax.imshow(shown.pictures[row])
    for x0, y0, x1, y1 in shown.boxes[row].tolist():
        ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, color="lime", lw=1.5))
    ax.set_title(shown.class_names[label][:16], fontsize=10)
    for col, (arch, (cams, predicted)) in enumerate(predictions.items(), start=1):
        cam, guess = cams[row].cpu(), int(predicted[row])
        ax = axes[row, col]
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
# ## How well do the maps sit on the objects? (beyond the paper)
#
# The paper judges the maps by eye. Over {glue:text}`num_measure` validation images (one per class, spread over
# the classes) we measure, for the map of the **true** class: the share of the map's probability mass that falls
# inside the object's box (a flat map scores the box's share of the image, the "box area" column; maps that are
# zero everywhere, "empty maps", are left out of the mean), and the gridding index of the maps at period
# {glue:text}`period` (`drnlib.analysis.gridding`, defined on the Figure 4 page: 0 for noise, 1 for a pure grid;
# "–" where a map holds fewer than two periods).

# %%
measured = validation_images(dataset, num_measure, image_size)
rows = []
for arch, model in models.items():
    maps = class_maps(model, measured.images.to(compute), measured.labels)[0].cpu()
    in_box = pd.Series([mass_in_box(m, b, image_size) for m, b in zip(maps, measured.boxes)])
    rows.append({"arch": arch, "map side": maps.shape[-1],
                 "mass in box": in_box.mean(),  # over the images whose map is not zero everywhere
                 "box area": sum(mass_in_box(m.new_ones(m.shape), b, image_size)
                                 for m, b in zip(maps, measured.boxes)) / len(maps),
                 "empty maps": int(in_box.isna().sum()), "gridding index": gridding.measure(maps, period)["index"]})
map_stats = pd.DataFrame(rows).set_index("arch")
nowrap(format_table(map_stats.rename(index=pretty)))

# %% [markdown]
# ## What the figure claims, checked

# %%
at_224 = {arch: final_resolution(arch, 224) for arch in arch_list}
stats = map_stats.to_dict(orient="index")
values = {"top1_error": trained_table["top-1 error"].to_dict(), "mass_in_box": map_stats["mass in box"].to_dict(),
          "gridding_index": map_stats["gridding index"].to_dict(), "map_side": map_stats["map side"].to_dict(),
          "num_measure": num_measure, "period": period, "image_size": image_size}
record = save_results("fig3", profile, values, dataset=f"{dataset} val ({num_measure} images at {image_size} px)",
                      runs=runs, tables={"classifiers": trained_table.reset_index(), "maps": map_stats.reset_index()},
                      params={"archs": arch_list, "num_images": num_images, **settings})
glue_results(record)
show_provenance(record)
claims = []  # a verdict needs both numbers: a measure is undefined (NaN) when every map is empty
for drn in [a for a in arch_list if a.startswith("drn")]:
    if "resnet18" in stats:
        claims.append({"claim": f"{pretty(drn)}'s maps are better resolved than ResNet-18's",
                       "paper": f"Sec. 5.2, Fig. 3; at 224 px: {at_224[drn]}² vs {at_224['resnet18']}² cells",
                       "ours": f"{stats[drn]['map side']}² vs {stats['resnet18']['map side']}² cells",
                       "holds": bool(stats[drn]["map side"] > stats["resnet18"]["map side"])})
        ours_mass, resnet_mass = stats[drn]["mass in box"], stats["resnet18"]["mass in box"]
        claims.append({"claim": f"{pretty(drn)}'s maps put more mass on the object than ResNet-18's (ours)",
                       "paper": "not measured (Fig. 3 by eye)", "ours": f"{ours_mass:.3f} vs {resnet_mass:.3f}",
                       "holds": bool(ours_mass > resnet_mass) if pd.notna([ours_mass, resnet_mass]).all() else None})
if {"drn_a_18", "drn_c_26"} <= set(stats):
    a, c = stats["drn_a_18"]["gridding index"], stats["drn_c_26"]["gridding index"]
    claims.append({"claim": "DRN-A-18's maps show gridding that DRN-C-26 removes",
                   "paper": "Fig. 3 (c) vs (e), by eye", "ours": f"gridding index {a:.4f} vs {c:.4f}",
                   "holds": bool(a > c) if pd.notna([a, c]).all() else None})
claims_table(claims, record)

# %% [markdown]
# ## Every profile
#
# The figure of the other profiles where one is stored (e.g. the mini profile's, trained on a GPU), each with its
# provenance, then this run's numbers next to theirs:

# %%
show_stored_figures("fig3", "maps", current=profile)
format_table(compare_profiles("fig3"))
