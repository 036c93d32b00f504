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
#
# WoD's Table 1 compares its shallow, wide networks with ResNet-50, -101 and -152 on ImageNet: single-crop top-1
# and top-5 error and test speed (images/s at 10 images per batch on a GTX 980). A network's name gives its training
# crop and its units per level: `224-0-3-3-6-3-1-1` (Model A) trains at 224 px with 0, 3, 3, 6, 3, 1, 1 units in
# levels B1 to B7. The paper states that Model A is the best of all rows, that Model B has about the error of
# ResNet-152 and runs slightly faster, that Model D (trained at 112 px) is slightly worse than ResNet-152 but almost
# twice as fast, and that Models C, D and E perform comparably although C is deeper and larger. Of the numbers
# themselves only Model A's (the released model) are confirmed; every other cell is unknown to us.
#
# **Our data differ:** ImageNet is replaced by **Tiny-ImageNet-100** (100 classes, 300 training and 50 validation
# images per class, 64×64 px). **Our input sizes:** a WoD net's downsampling count is fixed by its name (five for
# 224, four for 112, three for 56 px, so that the final map is 7×7), so feeding every net the native 64 px would
# break the paper's design: the 56-px Model F would then work at 8×8 and the 224-px nets at 2×2. Instead every row
# keeps the paper's *relative* sizes, scaled by `input_scale` (¼ at the smoke and mini profiles): the 224-px nets
# and the ResNets train at 56 px (about Tiny-ImageNet's native size), the 112-px nets at 28 px and Model F at 14 px,
# and all are tested on the whole image resized to ¼ of the paper's test crops (320, 160 and 80 → 80, 40 and 20 px).
# Every network thus ends at the same (2×2) map and sees the images at the same scale relative to the paper as the
# others. Speed does not depend on the training, so it is timed on the built networks at the paper's own test
# crops at the mini and paper profiles (`speed_scale` 1), and at an eighth of them on the CPU at smoke.
#
# At the **smoke** profile only two rows are trained, for one epoch on a few dozen images, on the CPU: the errors
# are meaningless and only exercise the pipeline; the parameter counts are exact at every profile.

# %% tags=["parameters"]
profile: str = "smoke"  # smoke | mini | paper: which results/<profile>/ folder this run writes
archs: str = "resnet50,224-0-1-1-1-1-1-1"  # rows to train and time: resnet50/101/152, model_a ... model_f, names
dataset: str = "tiny_imagenet"  # data set: tiny_imagenet (mini) or imagenet (paper)
input_scale: float = 0.25  # our training and test crops are the paper's times this (224 -> 56, 320 -> 80)
epochs: int = 1  # training epochs (WoD: 90)
batch_size: int = 16  # training batch size (WoD: 256)
lr: float = 0.1  # initial learning rate, decayed linearly to lr_end (WoD: 0.1)
lr_end: float = 0.000001  # final learning rate of the linear schedule (WoD: 1e-6)
weight_decay: float = 0.0001  # SGD weight decay (WoD: 1e-4)
limit_train: int = 16  # training images, round-robin over the classes; 0 means all
limit_val: int = 10  # validation images; 0 means all
seed: int = 0  # seeds the weights and the data order
workers: int = 0  # data-loading worker processes
device: str = "auto"  # auto | cpu | cuda: training, evaluation and timing
speed_scale: float = 0.125  # speed is timed at the paper's test crop times this, 10 images per batch
speed_iters: int = 1  # timed forward passes per network and precision (after 1 warm-up pass, 3 on a GPU)

# %%
import matplotlib.pyplot as plt
import pandas as pd
import torch

from drnlib.analysis.architecture import summarize
from drnlib.analysis.speed import inference_throughput
from drnlib.book import check, check_choice, check_int, check_number
from drnlib.experiments import trained
from drnlib.models import aliases, normalize_name
from drnlib.pages.wod_classification import table1_config, table1_rows
from drnlib.results import (claims_table, compare_profiles, format_table, glue_results, paper_vs_ours, published,
                            save_figure, save_results, show_provenance, show_stored_figures)

check_choice("profile", profile, ["smoke", "mini", "paper"])
to_spec = aliases()
arch_list = [to_spec.get(normalize_name(a), normalize_name(a)) for a in archs.split(",") if a.strip()]
check(len(arch_list) > 0, "archs must name at least one row of the table")
for arch in arch_list:
    check_choice("archs", arch, list(table1_rows()["arch"]))
check_choice("dataset", dataset, ["tiny_imagenet", "imagenet"])
check_number("input_scale", input_scale, 0.01, 4)
rows = table1_rows(input_scale)  # the paper's rows, its crops and ours
too_small = rows[rows["arch"].isin(arch_list) & (rows["our train crop"] < 8)]
check(too_small.empty, f"input_scale {input_scale} makes the training crop of {', '.join(too_small.index)} smaller "
      f"than 8 px")
check_int("epochs", epochs, 1)
check_int("batch_size", batch_size, 1)
check_number("lr", lr, 0)
check_number("lr_end", lr_end, 0, lr)
check_number("weight_decay", weight_decay, 0)
check_int("limit_train", limit_train, 0)
check_int("limit_val", limit_val, 0)
check_int("seed", seed, 0)
check_int("workers", workers, 0)
check_choice("device", device, ["auto", "cpu", "cuda"])
check_number("speed_scale", speed_scale, 0.01, 4)
check_int("speed_iters", speed_iters, 1)
run_device = "cuda" if device == "auto" and torch.cuda.is_available() else ("cpu" if device == "auto" else device)
NO_WRAP = [{"selector": "td, th.row_heading", "props": "white-space: nowrap;"}]  # keep name strings on one line

# %% [markdown]
# ## The networks
#
# The rows of the paper's Table 1 that we build, each as the paper describes it, with a 1000-way classifier to
# compare with the official code's parameter counts; depth counts the convolutions on the main path plus the
# classifier; FLOPs (a multiply-add counts as 2) and the side of the final feature map are for one image at our
# training crop: the final map is the same for every row, as designed.

# %%
wod = published("wider_or_deeper", "models")
official = {**published("drn", "params_official_code")["params_official_code"].to_dict(),
            **dict(zip(wod["spec"], wod["params"]))}
built = pd.DataFrame({label: summarize(arch, int(rows.loc[label, "our train crop"]))
                      for label, arch in rows["arch"].items()}).T
networks = rows.copy()
networks["depth"] = built["depth"].astype(int)
networks["params"] = built["params"].astype(int)
networks["official params"] = networks["arch"].map(official).astype(int)
networks["Δ"] = networks["params"] - networks["official params"]
networks["GFLOPs"] = built["gflops"].astype(float)
view = pd.DataFrame({
    "name": [arch if "-" in arch and arch != label else "" for label, arch in networks["arch"].items()],
    "crops: paper→ours": [f"{a}/{b}→{c}/{d}" for a, b, c, d in networks[
        ["paper train crop", "paper test crop", "our train crop", "our test crop"]].itertuples(index=False)],
    "depth": networks["depth"],
    "params (Δ)": [f"{p:,} ({d:+,})" for p, d in zip(networks["params"], networks["Δ"])],
    "GFLOPs": networks["GFLOPs"], "final map": built["final_resolution"].astype(int)})
format_table(view, "{:.3g}", caption="Crops: training/test, in pixels. Δ: our parameter count minus the official "
             "code's (ademxapp resnet_v2.py for WoD, torchvision for ResNets). GFLOPs, final map: at our training "
             "crop.").set_table_styles(NO_WRAP, overwrite=False)

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
# WoD's recipe for every row (as far as our engine goes): SGD with momentum 0.9 (WoD uses MXNet's Nesterov variant),
# weight decay, a learning rate decayed linearly to `lr_end`, the data set's augmentation (random-resized crops and
# flips), each net at its own training crop. Runs go through `drnlib.experiments.trained`. Then the test protocol of
# the paper: one centre crop of the whole image, resized to the test crop (cached next to each run).

# %%
scores, runs = {}, {}
for label, arch in rows["arch"].items():
    if arch not in arch_list:
        continue
    train_crop, test_crop = int(rows.loc[label, "our train crop"]), int(rows.loc[label, "our test crop"])
    run = trained(table1_config(arch, dataset, train_crop, epochs=epochs, batch_size=batch_size, lr=lr,
                                lr_end=lr_end, weight_decay=weight_decay, limit_train=limit_train,
                                limit_val=limit_val, seed=seed, workers=workers, device=device), profile)
    test = run.evaluate(crop_size=test_crop, resize_size=test_crop, device=device, workers=workers)
    runs[label] = run
    scores[label] = {"top1_1crop": test["top1_error"], "top5_1crop": test["top5_error"],
                     "top1 @ train crop": run.result["val"]["top1_error"], "epochs": run.result["epochs"],
                     "train images": run.result["train_images"], "val images": test["images"]}
ours = pd.DataFrame(scores).T
format_table(ours.rename(columns={"top1_1crop": "top-1 (%)", "top5_1crop": "top-5 (%)",
                                  "top1 @ train crop": "top-1 at the train crop (%)"}), "{:.4g}",
             caption="Errors at the test crop unless said otherwise (Tiny-ImageNet-100 validation images)."
             ).set_table_styles(NO_WRAP, overwrite=False)

# %% [markdown]
# ## Speed
#
# Forward passes of 10 images (`drnlib.analysis.speed.inference_throughput`), in eval mode, at the paper's test crop
# times `speed_scale` ({glue:text}`speed_scale`), on {glue:text}`speed_device`: in fp32 (the paper's GTX 980
# numbers are fp32), and on a GPU also in bf16 with channels-last memory (today's fast path).

# %%
precisions = [("fp32", False)] + ([("bf16", True)] if run_device.startswith("cuda") else [])
speed = {}
for label, run in runs.items():
    model = run.model(device=run_device)
    size = max(8, round(rows.loc[label, "paper test crop"] * speed_scale))
    speed[label] = {"speed input": size}
    for precision, channels_last in precisions:
        timing = inference_throughput(model, batch_size=10, input_size=size, device=run_device,
                                      precision=precision, channels_last=channels_last,
                                      warmup=3 if run_device.startswith("cuda") else 1, iters=speed_iters)
        speed[label][f"images/s {precision}"] = timing.images_per_s
    del model
speed = pd.DataFrame(speed).T
format_table(speed, "{:.4g}").set_table_styles(NO_WRAP, overwrite=False)

# %%
values = {
    "speed_scale": speed_scale, "speed_device": str(run_device), "input_scale": input_scale,
    "trained_rows": len(ours), "rows": len(rows),
    "top1": ours["top1_1crop"].to_dict(), "top5": ours["top5_1crop"].to_dict(),
    "images_per_s": {p: speed[f"images/s {p}"].to_dict() for p, _ in precisions},
    "params": networks["params"].to_dict(), "params_match": int((networks["Δ"] == 0).sum()),
}
record = save_results(
    "wod_table1", profile, values,
    dataset=f"{dataset} ({ours['train images'].max():.0f} training / {ours['val images'].max():.0f} val images)",
    runs=runs, tables={"networks": networks, "ours": ours, "speed": speed},
    params={"archs": arch_list, "dataset": dataset, "input_scale": input_scale, "epochs": epochs,
            "batch_size": batch_size, "lr": lr, "lr_end": lr_end, "weight_decay": weight_decay,
            "limit_train": limit_train, "limit_val": limit_val, "seed": seed, "speed_scale": speed_scale,
            "speed_iters": speed_iters, "runs": {label: str(r.dir) for label, r in runs.items()}})
glue_results(record)
show_provenance(record)

# %% [markdown]
# ## Ours next to the paper
#
# Top-1 and top-5 error at the test crop. The paper's numbers are ImageNet (1000 classes), ours Tiny-ImageNet-100
# at a quarter of the resolution: the Δ column is **not** a reproduction gap, only the distance between two
# different tasks. The paper's claims are about the order of the rows, which is what the claims table tests.

# %%
paper_vs_ours(paper_errors, ours[["top1_1crop", "top5_1crop"]], record, decimals=2)

# %%
fig, ax = plt.subplots(figsize=(7, 4.5))
joined = ours.join(speed).join(networks[["params"]])
column = f"images/s {precisions[-1][0]}"
ax.scatter(joined[column], joined["top1_1crop"], s=joined["params"] / 1.5e6, alpha=0.6,
           c=["C0" if label.startswith("ResNet") else "C1" for label in joined.index])
for label, row in joined.iterrows():
    ax.annotate(label, (row[column], row["top1_1crop"]), fontsize=8, xytext=(4, 3), textcoords="offset points")
ax.set(xscale="log", xlabel=f"{column} (batch 10)", ylabel="top-1 error (%) at the test crop",
       title="error against speed (blue: ResNets, orange: WoD; area ∝ parameters)")
ax.grid(alpha=0.3)
save_figure(fig, "wod_table1", profile, "speed_error")
plt.show()

# %% [markdown]
# ## The claims
#
# The paper's stated relations, tested on the rows trained here ("not tested" where a row is missing). Our reading
# of the words: "about the error" and "comparable" mean within 1 point of top-1, "slightly worse" worse by at most
# 2 points, "slightly faster" faster, "almost 2× faster" between 1.5× and 2.5×, with speed in the fastest precision
# measured ({glue:text}`speed_device`). {glue:text}`params_match` of the {glue:text}`rows` rows have exactly the
# official code's parameter count.

# %%
top1 = ours["top1_1crop"]
fast = speed[column] if len(speed) else pd.Series(dtype=float)


def have(*labels):
    return all(label in top1.index for label in labels)


def evidence(*labels, timed=True):
    """Our top-1 errors (and speeds) of these rows, or which of them this profile did not train."""
    if not have(*labels):
        return "not trained here: " + ", ".join(label for label in labels if label not in top1.index)
    text = "top-1 " + ", ".join(f"{label} {top1[label]:.2f}" for label in labels)
    return text + ("; images/s " + ", ".join(f"{label} {fast[label]:.3g}" for label in labels) if timed else "")


relations = paper_errors.attrs["stated_relations"]
claims_table([
    {"claim": relations[0], "paper": "WoD Sec. 6.1; released Model A: top-1 "
                                     f"{paper_errors.loc['A', 'top1_1crop']:.2f}",
     "ours": f"best: {top1.idxmin()} ({top1.min():.2f}) of {len(top1)} trained rows" if len(top1) else "not trained",
     "holds": bool(top1.idxmin() == "A") if have("A") and len(top1) == len(rows) else None},
    {"claim": relations[1], "paper": "WoD Sec. 6.1 (cells unconfirmed)",
     "ours": evidence("B", "ResNet-152"),
     "holds": bool(abs(top1["B"] - top1["ResNet-152"]) <= 1 and fast["B"] > fast["ResNet-152"])
     if have("B", "ResNet-152") else None},
    {"claim": relations[2], "paper": "WoD Sec. 6.1 (cells unconfirmed)",
     "ours": evidence("D", "ResNet-152"),
     "holds": bool(0 < top1["D"] - top1["ResNet-152"] <= 2 and 1.5 <= fast["D"] / fast["ResNet-152"] <= 2.5)
     if have("D", "ResNet-152") else None},
    {"claim": relations[3], "paper": "WoD Sec. 6.1 (cells unconfirmed)",
     "ours": evidence("C", "D", "E", timed=False),
     "holds": bool(top1[["C", "D", "E"]].max() - top1[["C", "D", "E"]].min() <= 1) if have("C", "D", "E") else None},
    {"claim": "every row has the official code's parameter count", "paper": "ademxapp resnet_v2.py; torchvision",
     "ours": f"{values['params_match']} of {len(rows)} equal", "holds": values["params_match"] == len(rows)},
], record)

# %% [markdown]
# ## Every profile
#
# This run next to the stored runs of the other profiles (`results/mini/`, `results/paper/`, where they exist), each
# with its provenance, and their figure:

# %%
comparison = compare_profiles("wod_table1")
format_table(comparison[~comparison.index.str.startswith("params_")])

# %%
show_stored_figures("wod_table1", "speed_error", current=profile)
