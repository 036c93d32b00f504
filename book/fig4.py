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
#
# Yu et al. explain the gridding artifacts of dilated networks with a didactic example (DRN paper, Section 4 and
# Figure 4): a feature map with a single active pixel (a) goes through a 2-dilated convolution (b), and the output
# (c) is a grid. Gridding appears whenever a feature map has higher-frequency content than the sampling rate of the
# dilated convolution that reads it. This page redraws the example for any dilation, then goes beyond the paper: it
# defines a **measure** of gridding, checks it on maps whose answer is known, and applies it to the levels of
# ResNet-18, DRN-A-18, DRN-B-26 and DRN-C-26 as trained on the Table 1 page (on Tiny-ImageNet-100, standing in for
# the paper's ImageNet, at the mini profile).

# %% tags=["parameters"]
profile: str = "smoke"  # smoke | mini | paper: which results/<profile>/ folder this run writes
dilation: int = 2  # dilation of the didactic convolution (the paper's Figure 4 uses 2)
size: int = 33  # side of the didactic feature map, in pixels
max_layers: int = 4  # the didactic example stacks 1..max_layers dilated convolutions
period: int = 4  # period whose gridding is measured in the networks: 4, the largest dilation of the DRNs
image_dataset: str = "synthetic"  # images for the networks: synthetic needs no data; camvid, tiny_imagenet...
input_size: int = 256  # side of the network input images, in pixels
num_images: int = 1  # number of input images for the network measurements
seed: int = 0  # seeds the random weights and the validation maps; classifiers: random seed
checkpoint_resnet18: str = ""  # weights for ResNet-18; empty: the shared classifier if trained, else random
checkpoint_drn_a_18: str = ""  # weights for DRN-A-18; empty: the shared classifier if trained, else random
checkpoint_drn_b_26: str = ""  # weights for DRN-B-26; empty: the shared classifier if trained, else random
checkpoint_drn_c_26: str = ""  # weights for DRN-C-26; empty: the shared classifier if trained, else random
dataset: str = "tiny_imagenet"  # classifiers: training data (tiny_imagenet stands in for imagenet)
epochs: int = 1  # classifiers: training epochs
batch_size: int = 16  # classifiers: batch size
crop_size: int = 24  # classifiers: training crop and evaluation centre crop, in pixels
lr: float = 0.01  # classifiers: initial learning rate, divided by 10 every step epochs
step: int = 30  # classifiers: epochs between learning-rate steps
limit_train: int = 32  # classifiers: training images, taken round-robin over the classes (0: all)
limit_val: int = 10  # classifiers: validation images (0: all)
holdout: int = 8  # classifiers: training images held out to choose the localization threshold on
workers: int = 0  # data loader worker processes
device: str = "auto"  # auto | cpu | cuda

# %%
import matplotlib.pyplot as plt
import pandas as pd
import torch

from drnlib.analysis import gridding
from drnlib.analysis.activations import strongest_map
from drnlib.book import check, check_choice, check_int, check_path
from drnlib.data.factory import list_datasets
from drnlib.models import build_model, load_weights
from drnlib.pages.drn_classification import classifier_config, find_classifier
from drnlib.results import compare_profiles, format_table, glue_results, save_results, show_provenance
from drnlib.train import resolve_device

check_choice("profile", profile, ["smoke", "mini", "paper"])
check_int("dilation", dilation, 2, 16)
check_int("max_layers", max_layers, 1, 16)
check_int("size", size, 4 * dilation, 1024)
check(size >= 2 * dilation * max_layers + 1, f"size must be at least {2 * dilation * max_layers + 1} to hold "
      f"{max_layers} stacked {dilation}-dilated 3x3 convolutions, got {size}")
check_int("period", period, 2, 64)
check_choice("image_dataset", image_dataset, list_datasets())
check_int("input_size", input_size, 32, 4096)
check_int("num_images", num_images, 1, 256)
check_int("seed", seed, 0)
checkpoints = {arch: check_path(f"checkpoint_{arch}", path) for arch, path in {
    "resnet18": checkpoint_resnet18, "drn_a_18": checkpoint_drn_a_18,
    "drn_b_26": checkpoint_drn_b_26, "drn_c_26": checkpoint_drn_c_26}.items()}
settings = dict(dataset=dataset, epochs=epochs, batch_size=batch_size, crop_size=crop_size, lr=lr, step=step,
                limit_train=limit_train, limit_val=limit_val, holdout=holdout, seed=seed, workers=workers,
                device=device)
classifier_config("resnet18", **settings)  # the shared classifiers' settings, checked (nothing is trained here)

# %% [markdown]
# ## The didactic example
#
# One active pixel (a), the taps of a 3×3 convolution with the chosen dilation (b), and the output of that
# convolution with all weights set to one (c): the input pixel is copied onto a lattice with the dilation as period.

# %%
pixel = gridding.single_pixel(size)
taps = gridding.dilated_response(gridding.single_pixel(2 * dilation + 1), dilation)
output = gridding.dilated_response(pixel, dilation)
fig, axes = plt.subplots(1, 3, figsize=(9, 3.2))
for ax, image, title in zip(axes, [pixel, taps, output], ["(a) input", f"(b) dilation {dilation}", "(c) output"]):
    ax.imshow(image, cmap="magma", interpolation="nearest")
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
# maps smoother than noise. Over many channels (or images) the energies are summed before dividing, so strong
# channels weigh more and dead ones do not count. The code is `drnlib.analysis.gridding`.
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
stack = []
for layers in range(1, max_layers + 1):
    dilated = gridding.dilated_response(pixel, dilation, layers=layers)
    degridded = gridding.dilated_response(dilated, 1)
    stack.append({"dilated convolutions": layers,
                  "index": gridding.measure(dilated, dilation)["index"],
                  "index after a 1-dilated conv": gridding.measure(degridded, dilation)["index"]})
stack = pd.DataFrame(stack).set_index("dilated convolutions")
stack.plot(marker="o", figsize=(6, 3.5), xticks=stack.index, ylabel=f"gridding index (d={dilation})",
           title=f"one pixel, {size}x{size} map")
plt.show()

# %% [markdown]
# ## Gridding in the networks
#
# Every level's output of the four networks of the paper's Figure 3, on the same images, measured at period
# {glue:text}`period`. The paper's artifacts come from trained networks, so the weights are those of the
# classifiers trained on the Table 1 page (the same runs, found by their settings; this page trains nothing)
# unless a checkpoint is given (parameters `checkpoint_<arch>`); a network that has not been trained yet is
# measured at its **random initialisation**, which the "weights" column says. The images come from the validation
# split of {glue:text}`image_dataset` (generated scenes at the smoke profile), resized to {glue:text}`input_size`
# pixels square; number of images: {glue:text}`num_images`.

# %%
compute = resolve_device(device)
images = gridding.input_images(image_dataset, num_images, input_size).to(compute)
rows, strongest, weights_used = [], {}, {}
for arch, checkpoint in checkpoints.items():
    run = None if checkpoint is not None else find_classifier(arch, profile, **settings)
    torch.manual_seed(seed)
    model = run.model(device=compute) if run is not None else build_model(arch).to(compute)
    if checkpoint is not None:
        load_weights(model, checkpoint, backbone_only=True)
    outputs = gridding.level_outputs(model, images)
    epochs_trained = run.result["epochs"] if run else 0
    weights = str(checkpoint) if checkpoint else (f"trained ({epochs_trained} ep.)" if run else "random init")
    weights_used[arch] = weights
    rows += [{"arch": arch, "weights": weights, **row} for row in gridding.level_gridding(outputs, period)]
    strongest[arch] = strongest_map(list(outputs.values())[-1][0])[0].cpu()
levels = pd.DataFrame(rows)
last = levels.groupby("arch", sort=False).tail(1).set_index("arch")
format_table(last.drop(columns=["channels", "width"]))

# %% [markdown]
# The last level's most active channel for the first image, as the paper draws them in its Figure 3:

# %%
fig, axes = plt.subplots(1, 5, figsize=(12, 2.6))
axes[0].imshow(images[0].permute(1, 2, 0).cpu().clamp(-2, 2) / 4 + 0.5)
axes[0].set_title("input")
for ax, (arch, image) in zip(axes[1:], strongest.items()):
    ax.imshow(image, cmap="magma", interpolation="nearest")
    ax.set_title(f"{arch} ({image.shape[0]}x{image.shape[1]})")
for ax in axes:
    ax.set_xticks([]), ax.set_yticks([])
plt.show()

# %%
fig, ax = plt.subplots(figsize=(7, 3.5))
for arch, group in levels.groupby("arch", sort=False):
    first_level = 3 if len(group) == 4 else 1  # ResNet and DRN-A have the paper's levels 3-6 only
    ax.plot(range(first_level, first_level + len(group)), group["index"], marker="o", label=arch)
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

# %%
share = validation["share"]
values = {
    "validation": {"pure_grid_share": share["pure grid"], "grid_noise_share": share["grid + equal-power noise"],
                   "white_noise_share": share["white noise"], "smooth_share": share["smooth field"],
                   "chance": validation.loc["white noise", "chance"]},
    "index": last["index"].to_dict(), "period": period, "image_dataset": image_dataset, "input_size": input_size,
    "num_images": num_images, "weights": weights_used,
}
record = save_results("fig4", profile, values, dataset=f"{image_dataset} val ({num_images} x {input_size} px)",
                      tables={"validation": validation, "stack": stack, "levels": levels},
                      params={"dilation": dilation, "size": size, "max_layers": max_layers, "seed": seed,
                              "checkpoints": {a: str(c or "") for a, c in checkpoints.items()}, **settings})
glue_results(record)
show_provenance(record)

# %% [markdown]
# ## Every profile
#
# This run next to the stored runs of the other profiles (`results/mini/`, `results/paper/`, where they exist), each
# with its provenance:

# %%
format_table(compare_profiles("fig4"))
