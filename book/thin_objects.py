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
# # Small and thin objects: does output resolution help?
#
# The DRN paper's motivation (Sections 1 and 2) is that a classifier which shrinks the image to a 7×7 map may lose
# the signal of a key object that is **small** or **thin** (its example: a tripod), and that a network which keeps a
# 28×28 output "can help the classifier recognize objects that cover a smaller number of pixels". The paper never
# tests this directly: its evidence is ImageNet accuracy (Table 1), localization (Table 2) and activation maps.
#
# This page tests it directly, **beyond the papers**, on generated scenes (`drnlib.data.SyntheticScenes`, not
# ImageNet): one key object on clutter, whose length (`object_scale`, a fraction of the image side) and
# length-to-width ratio (`thinness`) we set. For every condition of a grid of scales × thinness, ResNet-18,
# DRN-A-18 and DRN-C-26 train from scratch on the same scenes with the same recipe, and are evaluated on new scenes
# for classification (top-1 error) and for weakly-supervised localization exactly as in DRN Sec. 5.2 (the box of
# the dense class map, with the threshold chosen on held-out scenes; correct when IoU > 0.5).
#
# There is no paper protocol for this experiment: the `mini` profile is the real sweep (one GPU), the `paper`
# profile a larger version of it (more conditions, scenes and seeds). The `smoke` profile only exercises the
# pipeline (tiny images, a handful of scenes, one epoch on the CPU): its numbers are noise.

# %% tags=["parameters"]
profile: str = "smoke"  # smoke | mini | paper: which results/<profile>/ folder this run writes
archs: str = "resnet18,drn_a_18,drn_c_26"  # comma-separated architectures (must include these three)
scales: str = "0.5,0.25"  # object_scale levels: object length as a fraction of the image side
thinness: str = "1,4"  # thinness levels: object length divided by its width
seeds: str = "0"  # comma-separated seeds: each draws new scenes and trains every network anew
image_size: int = 32  # side of the generated scenes, in pixels (a multiple of 32)
num_classes: int = 8  # object classes: 4 shapes x 2 textures for 8
clutter: float = 0.5  # background texture, noise and distractors, from 0 to 1
train_scenes: int = 8  # training scenes per condition and seed
val_scenes: int = 8  # evaluation scenes per condition and seed
threshold_scenes: int = 8  # held-out scenes that choose the localization threshold
geometry_scenes: int = 8  # scenes per condition whose objects are measured
epochs: int = 1  # training epochs
batch_size: int = 8  # batch size
lr: float = 0.05  # initial learning rate (SGD, momentum 0.9, weight decay 1e-4)
schedule: str = "poly"  # learning-rate schedule: step, poly, linear or constant
render_workers: int = 0  # processes that render the scenes (0 renders in this process)
workers: int = 0  # DataLoader worker processes for training and evaluation
device: str = "auto"  # auto | cpu | cuda

# %%
import itertools
import time

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
from matplotlib.patches import Rectangle

from drnlib.analysis.architecture import trace_layers
from drnlib.book import check, check_choice, check_int, check_number
from drnlib.data import SyntheticScenes
from drnlib.models import list_models, normalize_name
from drnlib.pages.thin_objects import (at_level, compare, degradation, localize_transform, object_geometry,
                                       predicted_box, scene_options, scene_sets, train_and_evaluate)
from drnlib.results import (claims_table, compare_profiles, format_table, glue_results, published, save_figure,
                            save_results, show_provenance, show_stored_figures)
from drnlib.train import SCHEDULES, RunConfig


def number_list(name: str, text: str, cast=float) -> list:
    """'0.5,0.25' -> [0.25, 0.5] (sorted, without repeats)."""
    try:
        values = sorted({cast(word) for word in str(text).split(",") if word.strip()})
    except ValueError:
        values = []
    check(len(values) > 0, f"{name} must be comma-separated numbers, got {text!r}")
    return values


check_choice("profile", profile, ["smoke", "mini", "paper"])
arch_list = list(dict.fromkeys(normalize_name(a.strip()) for a in archs.split(",") if a.strip()))
for arch in arch_list:
    check_choice("archs", arch, list_models())
check({"resnet18", "drn_a_18", "drn_c_26"} <= set(arch_list), f"archs must include resnet18, drn_a_18 and drn_c_26 "
      f"(the claims compare them), got {archs!r}")
scale_list, thinness_list = number_list("scales", scales), number_list("thinness", thinness)
check(len(scale_list) > 1 and len(thinness_list) > 1, f"the sweep needs at least two scales and two thinness levels, "
      f"got scales {scales!r} and thinness {thinness!r}")
seed_list = number_list("seeds", seeds, int)
check_int("image_size", image_size, 32, 512)
check(image_size % 32 == 0, f"image_size must be a multiple of 32 (ResNet-18's output stride), got {image_size}")
for s in scale_list:
    check_number("scales", s, 0.01, 1.0)
for t in thinness_list:
    check_number("thinness", t, 1.0, 100.0)
for s in seed_list:
    check_int("seeds", s, 0)
check_number("clutter", clutter, 0.0, 1.0)
check_int("num_classes", num_classes, 2, 12)
for name, value in [("train_scenes", train_scenes), ("val_scenes", val_scenes), ("threshold_scenes", threshold_scenes),
                    ("geometry_scenes", geometry_scenes), ("epochs", epochs), ("batch_size", batch_size)]:
    check_int(name, value, 1)
check(train_scenes >= batch_size, f"train_scenes ({train_scenes}) must hold at least one batch of {batch_size}")
check_number("lr", lr, 0.0, 10.0)
check_choice("schedule", schedule, SCHEDULES)
check_int("render_workers", render_workers, 0, 256)
check_int("workers", workers, 0, 64)
check_choice("device", device.split(":")[0], ["auto", "cpu", "cuda"])
conditions = [(s, t) for t in thinness_list for s in reversed(scale_list)]  # easy to hard
recipe = RunConfig(epochs=epochs, batch_size=batch_size, lr=lr, schedule=schedule, workers=workers, device=device,
                   progress=False)

# %% [markdown]
# ## The scenes: what "small" and "thin" mean
#
# Every scene holds one key object on a smooth coloured background with noise and thin distractor arcs and crosses
# in the same colours, so that neither colour nor texture alone gives the class away. A class is a shape (bar,
# ellipse, wedge, diamond) with a texture (solid, bands, ramp): the first `num_classes` of these 12. The object's
# length is `object_scale` × image side (±10 %), its width length / `thinness` (at least 1 pixel). Below, the same
# evaluation scene in every condition (the random stream of a scene does not depend on scale or thinness, so only
# the object changes), with its box in yellow:

# %%
def draw_scene(ax, image, box, title, colour="yellow"):
    ax.imshow(image.permute(1, 2, 0).numpy())
    draw_box(ax, box, colour)
    ax.set_title(title, fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])


def draw_box(ax, box, colour):
    x0, y0, x1, y1 = box  # pixel edges; imshow puts pixel centres on whole numbers
    ax.add_patch(Rectangle((x0 - 0.5, y0 - 0.5), x1 - x0, y1 - y0, fill=False, edgecolor=colour, linewidth=1.5))


example = 4  # class 4 is a banded bar: its bands and square ends show the width best
fig, axes = plt.subplots(len(thinness_list), len(scale_list), squeeze=False,
                         figsize=(2.1 * len(scale_list) + 0.4, 2.2 * len(thinness_list)))
for (row, t), (col, s) in itertools.product(enumerate(thinness_list), enumerate(scale_list)):
    options = scene_options(image_size, num_classes, clutter, s, t, seed_list[0])
    image, label, box, mask = SyntheticScenes("val", num_samples=example + 1, **options).render(example)
    draw_scene(axes[row, col], image, box.tolist(), f"scale {s:g}, thinness {t:g}")
fig.suptitle(f"{image_size}×{image_size} scenes: the key object (yellow box) in each condition", fontsize=10)
fig.tight_layout()
save_figure(fig, "thin_objects", profile, "scenes")
plt.show()

# %% [markdown]
# **Choice of image size.** The paper's ImageNet networks end on 7×7 (ResNet) and 28×28 (DRN) maps at 224 px. At
# Tiny-ImageNet's 64 px, ResNet-18 would end on a 2×2 map, so coarse that localization is decided by the map's
# cells rather than by what the network learned; 128 px gives 4×4 against 16×16 but costs four times the compute of
# 64 px. The `mini` profile uses 96 px (3×3 against 12×12), the `paper` profile 128 px, and the `smoke` profile
# 32 px (1×1 against 4×4), for speed only. This run: {glue:text}`image_size` px.
#
# The networks see the objects through their final feature map. ResNet-18 divides the side of the image by 32, the
# DRNs by 8, so that one cell of the final map covers (read off the built networks):

# %%
final_map = {arch: trace_layers(arch, image_size)[-1].resolution for arch in arch_list}
cell = {arch: image_size / final_map[arch] for arch in arch_list}
format_table(pd.DataFrame({"final map": [f"{final_map[a]}×{final_map[a]}" for a in arch_list],
                           "one cell (pixels)": [f"{cell[a]:g}×{cell[a]:g}" for a in arch_list]}, index=arch_list))

# %% [markdown]
# What each condition does to the objects, measured on the masks of the first evaluation scenes: the object's
# length and width (the sides of the rectangle with the same second moments; for a bar, its sides), its area and
# the area of its box in pixels, and how many cells of each network's final map that box covers:

# %%
geometry = pd.DataFrame([{"scale": s, "thinness": t, **object_geometry(
    scene_options(image_size, num_classes, clutter, s, t, seed_list[0]), geometry_scenes, render_workers).mean()}
    for s, t in conditions])
geometry["box / ResNet-18 cell"] = geometry["box_area"] / cell["resnet18"] ** 2
geometry["box / DRN cell"] = geometry["box_area"] / cell["drn_a_18"] ** 2
format_table(geometry.rename(columns={"area": "area (px)", "box_area": "box (px)"}).drop(columns="elongation"),
             "{:.3g}", caption=f"Means over {geometry_scenes} evaluation scenes per condition; length and width in "
                               "pixels.").hide(axis="index")

# %% [markdown]
# ## Training: one recipe for every network and condition
#
# For each condition and seed the scenes are rendered once; each network then trains from scratch on them with the
# recipe below (random horizontal flips, no other augmentation: scale and shape are the experiment), through
# `drnlib.experiments.trained`, so that later builds find the runs. The top-1 error is measured on the evaluation
# scenes (the generator's `val` split). Localization uses the same scenes with their boxes, and a threshold swept
# on separate held-out scenes (the generator's `test` split, used for nothing else), as the paper leaves the
# threshold open and this book never chooses it on the evaluation images.

# %%
shown = ["epochs", "batch_size", "lr", "momentum", "weight_decay", "schedule", "amp", "channels_last"]
format_table(pd.DataFrame([{k: str(getattr(recipe, k)) for k in shown}]), caption=(
    f"Per condition and seed: {train_scenes} training, {val_scenes} evaluation and {threshold_scenes} threshold "
    "scenes.")).hide(axis="index")

# %%
started = time.perf_counter()
rows, runs = [], {}
for s, t in conditions:
    for seed in seed_list:
        sets = scene_sets(scene_options(image_size, num_classes, clutter, s, t, seed), train_scenes, val_scenes,
                          threshold_scenes, render_workers)
        for arch in arch_list:
            row, runs[(arch, s, t, seed)] = train_and_evaluate(arch, recipe, profile, sets)
            rows.append(row)
    print(f"scale {s:g}, thinness {t:g}: done after {time.perf_counter() - started:.0f} s")
frame = pd.DataFrame(rows)
print(f"{len(frame)} runs: {len(conditions)} conditions × {len(seed_list)} seed(s) × {len(arch_list)} networks; "
      f"training took {frame.train_seconds.sum():.0f} s in all")

# %% [markdown]
# ## Results
#
# Each point is the mean over the seeds (bars: one standard deviation where there are several), with the other
# factor averaged out; harder conditions are to the right in both columns. The localization error is the share of
# evaluation scenes whose box for the true class misses (IoU ≤ 0.5), whatever class the network predicts.

# %%
metrics = {"top1_error": "top-1 error (%)", "box_error": "localization error (%)"}
fig, axes = plt.subplots(2, 2, figsize=(10, 7), squeeze=False)
for col, factor in enumerate(["object_scale", "thinness"]):
    per_seed = frame.groupby(["arch", "seed", factor], sort=False)[list(metrics)].mean().reset_index()
    levels = sorted(per_seed[factor].unique())
    for row, (metric, label) in enumerate(metrics.items()):
        ax = axes[row, col]
        sns.lineplot(data=per_seed, x=factor, y=metric, hue="arch", hue_order=arch_list, marker="o", ax=ax,
                     errorbar="sd" if len(seed_list) > 1 else None, legend=(row, col) == (0, 0))
        ax.set(xscale="log", ylim=(0, 100), ylabel=label,
               xlabel="object scale (smaller →)" if factor == "object_scale" else "thinness (thinner →)")
        ax.set_xticks(levels, [f"{v:g}" for v in levels])
        ax.minorticks_off()
        if factor == "object_scale":
            ax.invert_xaxis()
fig.suptitle(f"{profile} profile: {image_size}-px scenes, {len(seed_list)} seed(s), {train_scenes} training scenes, "
             f"{epochs} epoch(s)", fontsize=10)
fig.tight_layout()
save_figure(fig, "thin_objects", profile, "curves")
plt.show()

# %% [markdown]
# Per condition, in % (mean over the seeds, ± one standard deviation where there are several): the top-1 error,

# %%
def per_condition(metrics: list[str]) -> pd.DataFrame:
    """mean ± sd over the seeds, one row per condition, one column per (metric, arch)."""
    def mean_sd(values: pd.Series) -> str:
        return f"{values.mean():.1f}" + (f" ± {values.std():.1f}" if len(values) > 1 else "")
    table = frame.assign(scale=frame.object_scale.map("{:g}".format), thin=frame.thinness.map("{:g}".format))
    table = table.groupby(["thin", "scale", "arch"], sort=False)[metrics].agg(mean_sd).unstack("arch")
    table = table[[(m, a) for m in metrics for a in arch_list]].rename_axis(["thinness", "scale"])
    return table.rename(columns={"top1_error": "top-1 error", "box_error": "localization error",
                                 "loc_top1_error": "top-1 localization error"}, level=0)


format_table(per_condition(["top1_error"]))

# %% [markdown]
# the localization error,

# %%
format_table(per_condition(["box_error"]))

# %% [markdown]
# and the paper's own localization metric, the top-1 localization error (the predicted class is right AND its box
# is right):

# %%
format_table(per_condition(["loc_top1_error"]))

# %% [markdown]
# ## The claims, tested
#
# An accuracy drop is the rise of the top-1 error from the largest to the smallest objects (or from the thickest to
# the thinnest), each level averaged over the other factor. Differences are paired by seed (the networks of a seed
# share their scenes); a claim holds when the difference has the claimed sign and, with several seeds, exceeds twice
# its standard error. With one seed there is no error bar, and at the smoke profile nothing means anything.

# %%
smallest, thinnest = min(scale_list), max(thinness_list)
evidence = {
    "rise_scale": compare(degradation(frame, "top1_error", "object_scale"), "resnet18", "drn_a_18"),
    "rise_thin": compare(degradation(frame, "top1_error", "thinness"), "resnet18", "drn_a_18"),
    "box_error_thinnest": compare(at_level(frame, "box_error", "thinness", thinnest), "drn_a_18", "drn_c_26"),
    "box_error_smallest": compare(at_level(frame, "box_error", "object_scale", smallest), "resnet18", "drn_a_18"),
}


def ours(key: str, what: str) -> str:
    e = evidence[key]
    worse, better = [k for k in e if k in arch_list]  # the two networks compared, in that order
    spread = f" ± {e['difference_se']:.1f}" if e["seeds"] > 1 else " (1 seed: no error bar)"
    return f"{what}: {worse} {e[worse]:.1f}, {better} {e[better]:.1f}; difference {e['difference']:.1f}{spread}"


t1, t2 = published("drn", "table1_imagenet_error"), published("drn", "table2_localization_error")
claims = [
    {"claim": "DRNs keep small objects: DRN-A-18's accuracy drops less than ResNet-18's as objects shrink",
     "paper": "Sec. 2: a 28×28 output 'can help the classifier recognize objects that cover a smaller number of "
              f"pixels' (not tested); ImageNet top-1 error {t1.loc['resnet18', 'top1_1crop']:.2f} (ResNet-18) vs "
              f"{t1.loc['drn_a_18', 'top1_1crop']:.2f} (DRN-A-18), Table 1",
     "ours": ours("rise_scale", f"top-1 error rise from scale {max(scale_list):g} to {smallest:g}")},
    {"claim": "DRNs keep thin objects: DRN-A-18's accuracy drops less than ResNet-18's as objects get thinner",
     "paper": "Sec. 2: the signal of a thin key object ('a tripod') can be lost to downsampling (not tested)",
     "ours": ours("rise_thin", f"top-1 error rise from thinness {min(thinness_list):g} to {thinnest:g}")},
    {"claim": "DRN-C-26 localizes thin objects better than DRN-A-18 (degridding)",
     "paper": f"Table 2, ImageNet top-1 localization error: {t2.loc['drn_a_18', 'top1']:.1f} (DRN-A-18) vs "
              f"{t2.loc['drn_c_26', 'top1']:.1f} (DRN-C-26); Fig. 3: gridded DRN-A maps",
     "ours": ours("box_error_thinnest", f"localization error at thinness {thinnest:g}")},
    {"claim": "DRN-A-18 localizes small objects better than ResNet-18",
     "paper": f"Table 2, ImageNet top-1 localization error: {t2.loc['resnet18', 'top1']:.1f} (ResNet-18) vs "
              f"{t2.loc['drn_a_18', 'top1']:.1f} (DRN-A-18)",
     "ours": ours("box_error_smallest", f"localization error at scale {smallest:g}")},
]
for claim, key in zip(claims, evidence):
    claim["holds"] = evidence[key]["holds"]

# %%
values = {"image_size": image_size, "final_map": final_map, "run_count": len(frame), "seeds": len(seed_list),
          "conditions": len(conditions), "train_seconds": float(frame.train_seconds.sum()), **evidence}
record = save_results(
    "thin_objects", profile, values,
    dataset=f"synthetic scenes ({image_size} px, {num_classes} classes, clutter {clutter:g}; {train_scenes} train / "
            f"{val_scenes} val / {threshold_scenes} threshold scenes per condition and seed)",
    runs=runs, tables={"per_run": frame, "geometry": geometry},
    params={"archs": arch_list, "scales": scale_list, "thinness": thinness_list, "seeds": seed_list,
            "recipe": {k: getattr(recipe, k) for k in shown}})
glue_results(record)
show_provenance(record)
claims_table(claims, record)

# %% [markdown]
# At this profile, as objects shrink the top-1 error of ResNet-18 rises by {glue:text}`rise_scale_resnet18:.1f`
# points and that of DRN-A-18 by {glue:text}`rise_scale_drn_a_18:.1f`; as they get thinner, by
# {glue:text}`rise_thin_resnet18:.1f` and {glue:text}`rise_thin_drn_a_18:.1f`. On the thinnest objects DRN-A-18
# misses {glue:text}`box_error_thinnest_drn_a_18:.1f` % of the boxes and DRN-C-26
# {glue:text}`box_error_thinnest_drn_c_26:.1f` %; on the smallest, ResNet-18 misses
# {glue:text}`box_error_smallest_resnet18:.1f` % and DRN-A-18 {glue:text}`box_error_smallest_drn_a_18:.1f` %.
#
# A ResNet-18 box is a union of whole cells of its final map, so a box much smaller than one cell (see the
# geometry table) cannot reach IoU > 0.5, however good the map: on small objects, part of the DRNs' localization
# advantage is this quantization, which is the paper's very argument for a finer output. The classification
# claims have no such built-in answer: there both networks see the same pixels and average their final map.
#
# ## A hard scene, seen by each network
#
# The smallest and thinnest objects (first seed): the true box (yellow), the box each network reads off its dense
# map with its chosen threshold (cyan; none when no cell qualifies), and the cells of its final map:

# %%
options = scene_options(image_size, num_classes, clutter, smallest, thinnest, seed_list[0])
scene = SyntheticScenes("val", "localize", num_samples=example + 1, **options)
image, label, box, _ = scene.render(example)
(_, whole), _ = localize_transform(image_size)(*scene.load(example))  # the normalised view the map is read from
fig, axes = plt.subplots(1, len(arch_list), figsize=(3 * len(arch_list), 3.2), squeeze=False)
for ax, arch in zip(axes[0], arch_list):
    key = (arch, smallest, thinnest, seed_list[0])
    threshold = frame.set_index(["arch", "object_scale", "thinness", "seed"]).loc[key, "threshold"]
    predicted, side = predicted_box(runs[key].model(task="dense"), whole, label, threshold)
    draw_scene(ax, image, box.tolist(), f"{arch}: {side}×{side} map, threshold {threshold:g}")
    for k in range(1, side):
        ax.axhline(k * image_size / side - 0.5, color="white", linewidth=0.5, alpha=0.7)
        ax.axvline(k * image_size / side - 0.5, color="white", linewidth=0.5, alpha=0.7)
    if predicted is not None:
        draw_box(ax, predicted, "cyan")
fig.tight_layout()
plt.show()

# %% [markdown]
# ## Other profiles
#
# Where the `mini` or `paper` sweep has been run (on a GPU) and its results are stored, its curves and numbers:

# %%
if not show_stored_figures("thin_objects", "curves", current=profile):
    print("No other profile's results are stored yet.")
keys = [f"{claim}_{arch}" for claim, archs_ in [("rise_scale", ["resnet18", "drn_a_18"]),
                                                ("rise_thin", ["resnet18", "drn_a_18"]),
                                                ("box_error_thinnest", ["drn_a_18", "drn_c_26"]),
                                                ("box_error_smallest", ["resnet18", "drn_a_18"])] for arch in archs_]
format_table(compare_profiles("thin_objects", keys=keys + ["run_count", "seeds", "image_size"]))
