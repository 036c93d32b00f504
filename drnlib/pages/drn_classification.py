"""The ImageNet classifiers of the DRN paper's Tables 1-2 and Figures 3, 4, 6, 7, shared by those pages.

Every page that looks at the classifiers takes the same training parameters (`SHARED_SETTINGS`) with the same
values in its params files, so that `drnlib.experiments` (which keys a run by its settings) trains each network
once per profile and the later pages reuse it:

    runs = train_classifiers(["resnet18", "drn_c_26"], profile, **settings)   # found, resumed or trained
    run = find_classifier("drn_c_26", profile, **settings)                     # None when not trained yet

The rest are the measurements those pages make on the trained networks: validation images with their boxes,
claims rows comparing two networks, the mass of a class activation map inside the object's box (Fig. 3), and
the high-frequency share of feature maps (Fig. 6).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torchvision.transforms import v2

from drnlib.data import build_dataset
from drnlib.data import transforms as T
from drnlib.errors import ParameterError
from drnlib.experiments import Run, cli_command, run_dir, trained
from drnlib.train import RunConfig

# Page parameters that define the training runs (identical on every page that uses the classifiers).
SHARED_SETTINGS = ("dataset", "epochs", "batch_size", "crop_size", "lr", "step", "limit_train", "limit_val",
                   "holdout", "seed")
# Data sets with ImageNet-style classes and object boxes (Table 2 needs the boxes).
DATASETS = ("tiny_imagenet", "imagenet")


def parse_archs(archs: str) -> list[str]:
    """'ResNet-18, drn_c_26' -> ['resnet18', 'drn_c_26'], each checked against the model zoo (one-line error)."""
    from drnlib.book import check_choice
    from drnlib.models import list_models, normalize_name

    names = [normalize_name(a).replace("resnet_", "resnet") for a in archs.split(",") if a.strip()]  # ResNet-18
    if not names:
        raise ParameterError("archs must name at least one architecture")
    for name in names:
        check_choice("archs", name, list_models())
    return list(dict.fromkeys(names))


def pretty(arch: str) -> str:
    """The paper's spelling of a network: resnet18 -> ResNet-18, drn_c_26 -> DRN-C-26 (others unchanged)."""
    if arch.startswith("resnet") and arch[6:].isdigit():
        return f"ResNet-{arch[6:]}"
    if arch.startswith("drn_"):
        return arch.upper().replace("_", "-")
    return arch


def nowrap(styler):
    """A results table (a pandas Styler, e.g. from drnlib.results.format_table) whose row names do not break at
    the hyphens of network names."""
    return styler.set_table_styles([{"selector": "th.row_heading", "props": "white-space: nowrap;"}],
                                   overwrite=False)


def classifier_config(arch: str, *, dataset: str, epochs: int, batch_size: int, crop_size: int, lr: float,
                      step: int, limit_train: int, limit_val: int, holdout: int, seed: int, workers: int = 4,
                      device: str = "auto") -> RunConfig:
    """The run that trains `arch` as DRN Sec. 5.1 does (SGD, momentum 0.9, weight decay 1e-4, lr divided by 10
    every `step` epochs; random-resized crops and flips) at this page's scale. limit_train / limit_val 0: all.
    Evaluation batches hold 10 crops of `batch_size` images (the batch size of evaluation is not part of a run's
    key: it changes the speed, not the result)."""
    if dataset not in DATASETS:
        raise ParameterError(f"unknown dataset {dataset!r} for the classifiers; choose one of {', '.join(DATASETS)}")
    for name, value in (("limit_train", limit_train), ("limit_val", limit_val)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ParameterError(f"{name} must be an integer >= 0 (0: every image), got {value!r}")
    return RunConfig(arch=arch, dataset=dataset, task="classify", epochs=epochs, batch_size=batch_size,
                     crop_size=crop_size, lr=lr, schedule="step", step=step, limit_train=limit_train or None,
                     limit_val=limit_val or None, holdout=holdout, seed=seed, workers=workers, device=device,
                     eval_batch_size=min(10 * batch_size, 1000), progress=False)


def train_classifiers(archs, profile: str, root=None, **settings) -> dict[str, Run]:
    """{arch: finished Run}: each found, resumed or trained (drnlib.experiments.trained). At the paper profile
    nothing is trained here: missing runs stop the page with the torchrun commands that train all of them.
    `root`: the book's root (default: this one)."""
    if profile == "paper":
        missing = [classifier_config(arch, **settings) for arch in archs
                   if find_classifier(arch, profile, root, **settings) is None]
        if missing:
            commands = [cli_command(c.replace(out_dir=str(run_dir(c, profile, root)))) for c in missing]
            raise ParameterError(f"the paper profile trains with torchrun, outside the notebook; train the "
                                 f"{len(missing)} missing classifier(s) first: {' && '.join(commands)}")
    return {arch: trained(classifier_config(arch, **settings), profile, root=root) for arch in archs}


def find_classifier(arch: str, profile: str, root=None, **settings) -> Run | None:
    """The finished run of `arch` with these settings if one is stored, else None (nothing is trained)."""
    config = classifier_config(arch, **settings)
    folder = run_dir(config, profile, root)
    result_file = folder / "result.json"
    if not result_file.is_file():
        return None
    result = json.loads(result_file.read_text())
    if result.get("epochs") != config.epochs:
        return None
    return Run(config.replace(out_dir=str(folder)), result)


# Validation images for the figures.


@dataclass
class ImageBatch:
    """Validation images resized to size x size: `images` normalised for the networks (N x 3 x S x S),
    `pictures` for display (N x S x S x 3 in [0, 1]), `labels`, `boxes` (a list of M x 4 pixel-edge boxes on the
    resized images) and the data set's `class_names`."""

    images: torch.Tensor
    pictures: torch.Tensor
    labels: list[int]
    boxes: list[torch.Tensor]
    class_names: list[str]


def validation_images(dataset: str, count: int, size: int, root=None) -> ImageBatch:
    """`count` validation images of different classes, spread evenly over the classes, each resized whole to
    size x size (what the localization network sees, DRN Sec. 5.2)."""
    data = build_dataset(dataset, "val", "localize", root=root)
    if count < 1 or count > data.num_classes:
        raise ParameterError(f"count must be between 1 and the {data.num_classes} classes, got {count}")
    data.select(limit=data.num_classes)  # the first image of every class, in class order
    stride = data.num_classes // count
    resize = v2.Resize((size, size), antialias=True)
    normalize = T.normalize()
    images, pictures, labels, boxes = [], [], [], []
    for i in range(0, stride * count, stride):
        image, target = data[i]
        h, w = image.shape[-2:]
        picture = resize(image).as_subclass(torch.Tensor)
        images.append(normalize(picture))
        pictures.append(picture.permute(1, 2, 0).float() / 255)
        labels.append(int(target["label"]))
        scale = torch.tensor([size / w, size / h, size / w, size / h])
        boxes.append(torch.as_tensor(target["boxes"]).float().view(-1, 4) * scale)
    return ImageBatch(torch.stack(images), torch.stack(pictures), labels, boxes, list(data.class_names))


# Claims: one network against another.


def _difference_ci(a: float, b: float, images: int) -> float:
    """Half-width of a 95% interval on the difference of two error rates (percent) measured on the same
    `images` images, treating them as independent (conservative for two models on one test set)."""
    pa, pb = a / 100, b / 100
    return 196 * math.sqrt((pa * (1 - pa) + pb * (1 - pb)) / images)


def comparison_claim(claim: str, better: str, worse: str, ours, paper, column: str, images: int,
                     tolerance: float = 0.0) -> dict:
    """A claims_table row: `better` has a lower error than `worse` in `column` (or, with a tolerance, is at most
    `tolerance` points worse: "matches" / "approaches"). `ours` and `paper` are DataFrames indexed by arch;
    an arch missing from `ours`, or a difference within its 95% interval, makes the row "not tested"."""
    name = pretty
    evidence = f"{name(better)} {paper.loc[better, column]:.2f} vs {name(worse)} {paper.loc[worse, column]:.2f}"
    if better not in ours.index or worse not in ours.index:
        missing = [name(a) for a in (better, worse) if a not in ours.index]
        return {"claim": claim, "paper": evidence, "ours": f"{' and '.join(missing)} not trained at this profile",
                "holds": None}
    a, b = float(ours.loc[better, column]), float(ours.loc[worse, column])
    ci = _difference_ci(a, b, images)
    text = f"{name(better)} {a:.2f} vs {name(worse)} {b:.2f} (Δ {a - b:+.2f} ± {ci:.2f})"
    if tolerance > 0:
        holds = a - b <= tolerance
    elif abs(a - b) <= ci:  # a difference inside the interval is not evidence either way
        return {"claim": claim, "paper": evidence, "ours": text + ": within the noise, not resolved", "holds": None}
    else:
        holds = a < b
    return {"claim": claim, "paper": evidence, "ours": text, "holds": bool(holds)}


# Figure 3: class activation maps, and how much of them lies on the object.


@torch.no_grad()
def class_maps(model: torch.nn.Module, images: torch.Tensor, targets=None) -> tuple[torch.Tensor, torch.Tensor]:
    """`drnlib.analysis.activations.class_activation_map` for a batch: the per-pixel softmax map (N x h x w) of
    each image's `targets` class (default: the class the classifier predicts) and those classes (N)."""
    was_training = model.training
    model.eval()
    try:
        scores = model.classify_map(model.forward_features(images)).float()  # N x classes x h x w
    finally:
        model.train(was_training)
    if targets is None:
        targets = scores.mean((2, 3)).argmax(1)  # global average pooling, then argmax: the prediction
    targets = torch.as_tensor(targets, device=scores.device).long()
    probs = scores.softmax(dim=1)
    return probs[torch.arange(len(images), device=scores.device), targets], targets


def mass_in_box(cam: torch.Tensor, boxes: torch.Tensor, size: int) -> float:
    """Share of a class activation map's mass (h x w, non-negative) inside the union of `boxes` (pixel-edge
    [x0, y0, x1, y1] on the size x size image the map was computed from). Each map cell covers size/h x size/w
    pixels (the network's output stride divides the input into equal cells); the map is spread evenly over them."""
    cam = cam.detach().double().clamp_min(0)
    total = cam.sum()
    if total <= 0:
        return math.nan
    pixels = F.interpolate(cam[None, None], size=(size, size), mode="nearest")[0, 0] / (size * size / cam.numel())
    inside = torch.zeros(size, size, dtype=torch.bool)
    for x0, y0, x1, y1 in boxes.round().long().clamp(0, size).tolist():
        inside[y0:y1, x0:x1] = True
    return float(pixels[inside].sum() / total)


# Figure 6: high-frequency activations.


@torch.no_grad()
def level_inputs(model: torch.nn.Module, images: torch.Tensor, level: int) -> torch.Tensor:
    """`drnlib.analysis.activations.level_input` for a batch: the feature maps that enter the first convolution
    of the paper's `level` (N x C x h x w), in eval mode."""
    from drnlib.analysis.activations import first_conv_of_level

    name = first_conv_of_level(model, level, images.shape[-1])
    captured: list[torch.Tensor] = []
    handle = model.get_submodule(name).register_forward_pre_hook(lambda module, args: captured.append(args[0]))
    was_training = model.training
    model.eval()
    try:
        model.forward_features(images)
    finally:
        handle.remove()
        model.train(was_training)
    return captured[0]


def radial_spectrum(maps: torch.Tensor, bins: int = 12) -> tuple[torch.Tensor, torch.Tensor]:
    """Share of the non-DC spectral energy of maps [..., H, W] (energies of all maps summed) in `bins` equal
    rings of |f| from 0 to 0.5 * sqrt(2) cycles per pixel: (ring centres, shares summing to 1)."""
    maps = maps.detach().double()
    centred = maps - maps.mean((-2, -1), keepdim=True)
    power = torch.fft.fft2(centred).abs().square().reshape(-1, *maps.shape[-2:]).sum(0).flatten()
    radius = radial_frequency(*maps.shape[-2:]).flatten()
    edges = torch.linspace(0, 0.5 * math.sqrt(2) + 1e-9, bins + 1, dtype=torch.float64)
    ring = (torch.bucketize(radius, edges, right=True) - 1).clamp(0, bins - 1)
    shares = torch.zeros(bins, dtype=torch.float64).index_add_(0, ring, power.cpu())
    shares[0] -= power[0].cpu()  # DC (zero after centring, up to rounding) does not count
    return (edges[:-1] + edges[1:]) / 2, shares / shares.sum().clamp_min(1e-300)


def radial_frequency(height: int, width: int) -> torch.Tensor:
    """|f| in cycles per pixel of every 2D DFT bin of a height x width map (0 at DC, up to 0.5 * sqrt(2))."""
    fy = torch.fft.fftfreq(height, dtype=torch.float64).view(-1, 1)
    fx = torch.fft.fftfreq(width, dtype=torch.float64).view(1, -1)
    return (fy.square() + fx.square()).sqrt()


def high_frequency_share(maps: torch.Tensor, cutoff: float = 0.25) -> float:
    """Share of the non-DC spectral energy of maps [..., H, W] at frequencies |f| > cutoff cycles per pixel,
    the energies of all maps summed first (strong maps weigh more, constant maps do not count). White noise
    scores `high_frequency_chance`; a smooth map scores near 0; a map that alternates every pixel scores 1."""
    if not 0 < cutoff < 0.5:
        raise ParameterError(f"cutoff must be between 0 and 0.5 cycles per pixel, got {cutoff}")
    if maps.dim() < 2 or min(maps.shape[-2:]) < 2:
        raise ParameterError(f"feature maps need shape [..., H, W] with H, W >= 2, got {tuple(maps.shape)}")
    maps = maps.detach().double()
    centred = maps - maps.mean((-2, -1), keepdim=True)
    power = torch.fft.fft2(centred).abs().square().reshape(-1, *maps.shape[-2:]).sum(0)
    total = float(power.sum())
    if total <= 1e-20 * float(maps.square().sum()):
        return math.nan
    return float(power[radial_frequency(*maps.shape[-2:]).to(power.device) > cutoff].sum()) / total


def high_frequency_chance(height: int, width: int, cutoff: float = 0.25) -> float:
    """The expected `high_frequency_share` of white noise: the share of non-DC bins above the cutoff."""
    above = int((radial_frequency(height, width) > cutoff).sum())
    return above / (height * width - 1)


def peak_to_mean(maps: torch.Tensor) -> float:
    """Mean over maps [..., H, W] of (largest activation / mean absolute activation): how much a map's peaks
    stand out (1 for a constant map; large for a few isolated strong pixels). Dead maps are left out."""
    flat = maps.detach().double().flatten(-2).abs()
    flat = flat.reshape(-1, flat.shape[-1])
    mean = flat.mean(-1)
    alive = mean > 0
    if not alive.any():
        return math.nan
    return float((flat[alive].amax(-1) / mean[alive]).mean())


__all__ = ["SHARED_SETTINGS", "DATASETS", "parse_archs", "pretty", "nowrap", "classifier_config",
           "train_classifiers", "find_classifier", "ImageBatch", "validation_images", "comparison_claim", "class_maps",
           "mass_in_box", "level_inputs", "radial_frequency", "radial_spectrum", "high_frequency_share",
           "high_frequency_chance", "peak_to_mean"]
