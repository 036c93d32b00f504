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
# # WoD Table 1: wider or deeper, on image classification

# %% tags=["parameters", "hide-cell"]
profile: str = "smoke"  # smoke | mini | paper: which params/<profile>/recipes.yaml trains, which results/ it writes
archs: list = ["resnet50", "224-0-1-1-1-1-1-1"]  # rows to train and time: resnet50/101/152, model_a ... model_f, names
recipe: str = "wod_classifier"  # the rows' training recipe (shared with Figure A.4 and the WoD segmentation trunks)
schedule_recipe: str = "wod_classifier_step"  # the same with the step schedule (WOD-22)
schedule_arch: str = ""  # row trained with both schedules (WOD-22; its linear run too); "": none (the mini: resnet50)
speed_scale: float = 0.125  # speed is timed at the paper's crops times this, 10 images per batch
speed_iters: int = 1  # timed iterations per repeat (after warm-up)
speed_repeats: int = 2  # repeats of each timing: the units of its uncertainty
device: str = "auto"  # auto | cpu | cuda: where speed is timed

# %% tags=["hide-input"]
import matplotlib.pyplot as plt
import pandas as pd

from drnlib import recipes
from drnlib.display import (claims_table, compare_profiles, format_table, glue_results, paper_vs_ours,
                            paper_vs_ours_figure, show_provenance, show_stored_figures)
from drnlib.pages import start
from drnlib.pages.wod_classification import (crop_scale, network_table, speed_device, speeds, table1_intervals,
                                             table1_rows, table1_runs, table1_verdicts, test_scores)
from drnlib.paper import published
from drnlib.results import save_figure, save_results

p = start("wod_table1", globals())
rows = table1_rows(crop_scale(p))  # the paper's rows, its crops and ours
NO_WRAP = [{"selector": "td, th.row_heading", "props": "white-space: nowrap;"}]  # keep name strings on one line

# %% [markdown]
# WoD's Table 1 compares its shallow, wide networks with ResNet-50, -101 and -152 on ImageNet: single-crop top-1
# and top-5 error and test speed (images/s at 10 images per batch on a GTX 980). A network's name gives its training
# crop and its units per level: `224-0-3-3-6-3-1-1` (Model A) trains at 224 px with 0, 3, 3, 6, 3, 1, 1 units in
# levels B1 to B7. The paper states that Model A is the best of all rows, that Model B has about the error of
# ResNet-152 and runs slightly faster, that Model D (trained at 112 px) is slightly worse than ResNet-152 but almost
# twice as fast, and that Models C, D and E perform comparably although C is deeper and larger. Of the numbers
# themselves only Model A's (the released model) are confirmed; every other cell is unknown to us.
#
# **Our data differ:** at the mini and smoke profiles ImageNet is replaced by **Tiny-ImageNet-100** (100 classes,
# 300 training and 50 validation images per class, 64×64 px). **Our input sizes:** a WoD net's downsampling count is
# fixed by its name (five for 224, four for 112, three for 56 px, so that the final map is 7×7), so feeding every
# net the native 64 px would break the paper's design. Instead every row keeps the paper's *relative* sizes: the
# `wod_classifier` recipe trains each net at its design crop times `crop_scale` (¼ at the smoke and mini profiles:
# the 224-px nets and the ResNets at 56 px, the 112-px nets at 28 px, Model F at 14 px), and each is tested on the
# whole image resized to the paper's test crop times the same scale (320, 160 and 80 → 80, 40 and 20 px). Every
# network thus ends at the same (2×2) map. Speed does not depend on the training: it is timed on the built networks
# on the page's device, at the paper's own crops at the mini and paper profiles and at an eighth of them at smoke.
#
# At the **smoke** profile two rows are trained, for one iteration on 16 images, on the CPU: the errors are
# meaningless and only exercise the pipeline; the structure of every row (parameters, maps, memory) is exact at
# every profile.

# %% [markdown]
# ## The networks
#
# The rows of the paper's Table 1 that we build, each as the paper describes it, with a 1000-way classifier to
# compare with the official code's parameter counts; depth counts the convolutions on the main path plus the
# classifier. At the paper's training crop: GFLOPs (a multiply-add counts as 2), the side of the final map, and the
# **training memory** of one image: the activations autograd keeps for the backward pass (traced on the meta
# device), the memory that grows with the batch.

# %%
networks = network_table(rows)
view = pd.DataFrame({
    "name": [name if name and name != label else "" for label, name in rows["name"].items()],
    "crops: paper→ours": [f"{a}/{b}→{c}/{d}" for a, b, c, d in rows[
        ["paper train crop", "paper test crop", "our train crop", "our test crop"]].itertuples(index=False)],
    "depth": networks["depth"],
    "params (Δ)": [f"{p:,} ({d:+,})" for p, d in zip(networks["params"], networks["Δ params"])],
    "GFLOPs": networks["GFLOPs"], "final map (ours)": [f"{a} ({b})" for a, b in zip(
        networks["final map"], networks["our final map"])],
    "MB/image": networks["activation MB/image"]})
format_table(view, "{:.3g}", caption="Crops: training/test, in pixels. Δ: our parameter count minus the official "
             "code's (ademxapp resnet_v2.py for WoD, torchvision for ResNets). GFLOPs, final map, MB/image (training "
             "activations): at the paper's training crop; in brackets the final map at ours."
             ).set_table_styles(NO_WRAP, overwrite=False)

# %% [markdown]
# ## The paper's numbers
#
# What is known of the paper's Table 1: the released Model A and its variant A1 (single 320 crop). Every other cell
# is unconfirmed, shown as unknown.

# %%
paper_errors = published("wider_or_deeper", "table1_imagenet_error")
known = paper_errors.reindex(list(rows.index) + [r for r in paper_errors.index if r not in rows.index])
known["source"] = ["released model" if r in paper_errors.index else "unconfirmed" for r in known.index]
format_table(known.rename(columns={"top1_1crop": "top-1 (%)", "top5_1crop": "top-5 (%)"}), "{:.2f}",
             caption=f"Released models: {paper_errors.attrs['source']}. Unknown: "
                     + ", ".join(paper_errors.attrs["unconfirmed"]) + ".").set_table_styles(NO_WRAP, overwrite=False)

# %% [markdown]
# ## Training and testing
#
# Every row is trained once per profile with the recipe below (`drnlib.runs`; Figure A.4 and the WoD segmentation
# pages use the same runs): WoD's recipe as far as our engine goes (SGD with momentum 0.9, where WoD uses MXNet's
# Nesterov variant; the data set's random-resized crops and flips), each net at its own training crop. Two more runs
# test two of the paper's remarks: `schedule_arch` once more with the usual step schedule (WOD-22), and, where
# Model D is trained, D's units designed for 224 px (one more downsampling) trained at D's crop, as Mishkin et al.
# shrank the input (WOD-19). Then the paper's test protocol: one centre crop of the whole image, resized to the test
# crop (`drnlib.runs.evaluate`, cached).

# %%
for name in (recipe, schedule_recipe):
    print(recipes.describe(profile, name))
trained = table1_runs(p)
scores = test_scores(p, rows, trained)
ours = pd.DataFrame({label: {"top1_1crop": s["top1_error"], "top5_1crop": s["top5_error"],
                             "top1 @ train crop": trained[label].result["val"]["top1_error"],
                             "epochs": trained[label].result["epochs"],
                             "train images": trained[label].result["train_images"], "val images": s["images"]}
                     for label, s in scores.items()}).T
format_table(ours.rename(columns={"top1_1crop": "top-1 (%)", "top5_1crop": "top-5 (%)",
                                  "top1 @ train crop": "top-1 at the train crop (%)"}), "{:.4g}",
             caption=f"Errors at the test crop unless said otherwise ({trained[ours.index[0]].config.dataset} "
                     "validation images).").set_table_styles(NO_WRAP, overwrite=False)

# %% [markdown]
# ## Speed
#
# Forward passes of 10 images (`drnlib.analysis.speed.inference_throughput`) in eval mode at the paper's test crop
# times `speed_scale` ({glue:text}`speed_scale`), and SGD steps of 10 images at its training crop times the same,
# on **{glue:text}`speed_device`**: in fp32 (the paper's GTX 980 numbers are fp32), and on a GPU also inference in
# bf16 with channels-last memory (today's fast path). Means over {glue:text}`speed_repeats` repeats. On a CPU the
# numbers only say how the rows compare on that CPU, not how they would on a GPU.

# %%
timed = [label for label in rows.index if label in scores]
speed = speeds(p, rows, timed)
speed_table = pd.DataFrame({label: {measure: sum(v) / len(v) for measure, v in t.items()}
                            for label, t in speed.items()}).T
format_table(speed_table, "{:.4g}", caption="images/s").set_table_styles(NO_WRAP, overwrite=False)

# %%
verdicts = table1_verdicts(p, rows, networks, scores, speed)
ours_rows = ours.loc[timed]
values = {
    "speed_scale": speed_scale, "speed_repeats": speed_repeats, "speed_device": speed_device(p),
    "crop_scale": crop_scale(p), "trained_rows": len(ours_rows), "rows": len(rows),
    "top1": ours["top1_1crop"].to_dict(), "top5": ours["top5_1crop"].to_dict(),
    "images_per_s": speed_table.to_dict(), "params": networks["params"].to_dict(),
    "params_match": int((networks["Δ params"] == 0).sum()),
    "claims": {v.claim: v.as_dict() for v in verdicts},
}
record = save_results("wod_table1", profile, values, runs=trained, params=p,
                      dataset=f"{trained[timed[0]].config.dataset} ({ours['train images'].max():,.0f} training / "
                              f"{ours['val images'].max():,.0f} val images)",
                      tables={"networks": networks, "ours": ours, "speed": speed_table})
glue_results(record)
show_provenance(record)

# %% [markdown]
# ## Ours next to the paper
#
# Top-1 and top-5 error at the test crop. The paper's numbers are ImageNet (1000 classes); at the smoke and mini
# profiles ours are Tiny-ImageNet-100 at a quarter of the resolution: the Δ column is then **not** a reproduction
# gap, only the distance between two different tasks. The paper's claims are about the order of the rows, which is
# what the claims table tests.

# %%
paper_vs_ours(paper_errors, ours_rows[["top1_1crop", "top5_1crop"]], record, decimals=2)

# %% [markdown]
# As dots: our errors (filled) with their 95% intervals (Clopper-Pearson over the validation images). Of the paper
# only the released Models A and A1 are known (open circles; in rows of their own, in red, where we do not train
# that row); every other cell of its table is unknown, so most rows show ours alone.

# %%
title = ("WoD Table 1: the paper's released models (ImageNet val; its other cells unknown)\n"
         f"vs ours ({record.provenance['dataset']}, {profile} profile)")
fig = paper_vs_ours_figure(paper_errors, table1_intervals({label: scores[label] for label in timed}),
                           metric="error (%) at the test crop", title=title)
save_figure(fig, "wod_table1", profile, "paper_vs_ours")
plt.show()

# %%
fig, ax = plt.subplots(figsize=(7, 4.5))
joined = ours_rows.join(speed_table).join(networks[["params"]])
ax.scatter(joined["inference fp32"], joined["top1_1crop"], s=joined["params"] / 1.5e6, alpha=0.6,
           c=["C0" if label.startswith("ResNet") else "C1" for label in joined.index])
for label, row in joined.iterrows():
    ax.annotate(label, (row["inference fp32"], row["top1_1crop"]), fontsize=8, xytext=(4, 3),
                textcoords="offset points")
ax.set(xscale="log", xlabel=f"images/s, fp32, batch 10 ({values['speed_device']})",
       ylabel="top-1 error (%) at the test crop",
       title="error against speed (blue: ResNets, orange: WoD; area ∝ parameters)")
ax.grid(alpha=0.3)
save_figure(fig, "wod_table1", profile, "speed_error")
plt.show()

# %% [markdown]
# ## The claims
#
# The paper's statements, each decided by the one rule of `drnlib.paper`: errors of two networks on the same
# validation images by a paired bootstrap over the images; speeds over the repeats of their timing (fp32, on
# {glue:text}`speed_device`); the structure and memory of the networks exactly, on the built networks. "About the
# same error" means within the tolerance stored with the claim in `drnlib/claims.yaml`, "almost 2× faster" at least
# its threshold; a claim that needs a row this profile does not train is not tested. {glue:text}`params_match` of the
# {glue:text}`rows` rows have exactly the official code's parameter count.

# %%
claims_table(verdicts, record)

# %% [markdown]
# ## Every profile
#
# This run next to the stored runs of the other profiles (`results/mini/`, `results/paper/`, where they exist), each
# with its provenance, and their figures:

# %%
comparison = compare_profiles("wod_table1")
format_table(comparison[~comparison.index.str.startswith(("params_", "claims_"))])

# %%
show_stored_figures("wod_table1", "speed_error", current=profile)
show_stored_figures("wod_table1", "paper_vs_ours", current=profile);
