"""The ImageNet classifiers of the DRN paper's Tables 1-2 and Figures 3, 4, 6, 7, shared by those pages.

Every page that looks at the classifiers trains them with the profile's `drn_classifier` recipe
(params/<profile>/recipes.yaml), so drnlib.runs trains each network once per profile and the later pages reuse it:

    p = start("table1", globals())          # drnlib.pages.start: the page's parameters, checked with RULES below
    runs = classifiers(p)                   # {arch: Run}, found or trained (drnlib.runs)
    run = find_classifier(p, "drn_c_26")    # None when not trained yet (nothing is trained)
    verdict = compare("DRN-8", runs, "drn_a_18", "resnet18", "top1_error", scale=scale_note(p, runs))

The rest are the measurements those pages make on the trained networks, and their claims (drnlib/claims.yaml),
decided by drnlib.paper's one rule:

- all figures: validation images with their boxes (`validation_images`), one pass of a network (`forward_pass`:
  final features, every level's output numbered as in the paper's Fig. 5, a level's input), per-image verdicts
  (`paired`, `per_image_verdict`: paired bootstrap over the images);
- Tables 1 and 2: each error with its 95% interval for the "paper vs ours" figures (`table1_intervals`,
  `table2_intervals`);
- Table 2: `localization_scores` (runs.evaluate(task="localize", ten_crop=True)), `table2_verdicts` (DRN-21 ... 28);
- Figure 3: class activation maps (`class_maps`), their mass in the object's box and their gridding per image
  (`map_measurements`), `fig3_verdicts` (DRN-18, 19, 20, 33);
- Figure 4: the didactic example (`didactic_example`, `lattice_verdict`: DRN-29) and every level's gridding of the
  classifiers other pages trained (`network_gridding`; this page trains nothing);
- Figure 6: the level-3 input's high-frequency share and peaks, and the gridding further on
  (`level_input_measurements`), `fig6_verdicts` (DRN-30, 31);
- Figure 7: the strongest map of every level (`strongest_level_maps`), its gridding per image, `fig7_verdicts`
  (DRN-32, 34).

The paper judges Figures 3, 6 and 7 by eye; we decide those claims on measurements of our own (box mass, the
gridding index of drnlib.analysis.gridding, the high-frequency share), in percent, image by image.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torchvision.transforms import v2

from drnlib import paper, runs
from drnlib.analysis import gridding
from drnlib.data import build_dataset
from drnlib.data import transforms as T
from drnlib.data.factory import list_datasets
from drnlib.errors import ParameterError
from drnlib.params import between, models, one_of, path

CLASSIFIER_RECIPES = ("drn_classifier",)
# The four networks of the paper's Figure 3, whose gridding Figure 4's page measures level by level.
FIG3_ARCHS = ("resnet18", "drn_a_18", "drn_b_26", "drn_c_26")


def _two_models(name: str, value):
    """Rule: exactly two architectures (Figure 6: the network with max pooling, then the one without)."""
    names = models(at_least=2)(name, value)
    if len(names) != 2:
        raise ParameterError(f"parameter {name}: needs exactly two networks (with max pooling, then without), "
                             f"got {value!r}")
    return names


_CLASSIFIERS = {"archs": models(), "recipe": one_of(*CLASSIFIER_RECIPES)}
RULES = {
    "table1": dict(_CLASSIFIERS),
    "table2": {**_CLASSIFIERS, "num_images": between(1, 12)},
    "fig3": {**_CLASSIFIERS, "num_images": between(1, 16), "image_size": between(16, 1024),
             "num_measure": between(1, 1000), "period": between(2, 16)},
    "fig4": {"recipe": one_of(*CLASSIFIER_RECIPES), "dilation": between(2, 16), "size": between(8, 1024),
             "max_layers": between(1, 16), "period": between(2, 64), "image_dataset": one_of(*list_datasets()),
             "input_size": between(32, 4096), "num_images": between(1, 256), "seed": between(0),
             **{f"checkpoint_{arch}": path() for arch in FIG3_ARCHS}},
    "fig6": {"archs": _two_models, "recipe": one_of(*CLASSIFIER_RECIPES), "level": between(1, 8),
             "num_images": between(1, 12), "image_size": between(32, 1024), "num_measure": between(1, 1000),
             "cutoff": between(0.01, 0.49), "period": between(2, 16), "seed": between(0)},
    "fig7": {**_CLASSIFIERS, "num_images": between(1, 8), "image_size": between(32, 1024),
             "num_measure": between(1, 1000), "period": between(2, 16)},
}


def needed_runs(page: str, p) -> list:
    """The classifier runs a page trains: one per architecture of its `archs` (Figure 4 trains none: it uses the
    classifiers other pages trained, or random weights)."""
    if "archs" not in p or "recipe" not in p or page == "fig4":
        return []
    return [runs.RunSpec(p.recipe, arch) for arch in p.archs]


def classifiers(p) -> dict:
    """{arch: finished Run} for the page's `archs` with its recipe (drnlib.runs.get_all: found, resumed or trained;
    at the paper profile a missing run stops the page with the commands that train it)."""
    specs = needed_runs(p.page, p)
    return {spec.arch: run for spec, run in runs.get_all(p.profile, specs).items()}


def find_classifier(p, arch: str):
    """The finished run of `arch` with the page's recipe if one is stored, else None (nothing is trained)."""
    return runs.find(p.profile, runs.RunSpec(p.recipe, arch))


def pretty(arch: str) -> str:
    """The paper's spelling of a network: resnet18 -> ResNet-18, drn_c_26 -> DRN-C-26 (others unchanged)."""
    if arch.startswith("resnet") and arch[6:].isdigit():
        return f"ResNet-{arch[6:]}"
    if arch.startswith("drn_"):
        return arch.upper().replace("_", "-")
    return arch


def scale_note(p, trained: dict) -> str:
    """What the page's claims are tested at: data set, evaluation images and profile, e.g.
    "tiny_imagenet val, 5,000 images, mini profile"."""
    run = next(iter(trained.values()))
    return f"{run.config.dataset} {run.config.split}, {run.result['val_images']:,} images, {p.profile} profile"


def compare(claim_id: str, scores: dict, better: str, worse: str, metric: str, scale: str = "",
            relation: str | None = None, what: str = "") -> paper.Verdict:
    """drnlib.paper.decide for "`better` has a lower `metric` than `worse`" (or matches it, by the claim's relation),
    from per-network score dicts (a run's `result["val"]`, or an evaluation); "not tested" when this profile did not
    train one of the two. `what` names the metric in the verdict's words (for claims made of several metrics)."""
    missing = [pretty(a) for a in (better, worse) if a not in scores]
    if missing:
        return paper.not_tested(claim_id, f"{' and '.join(missing)} not trained at this profile")
    a = paper.Evidence.from_scores(pretty(better), scores[better], metric)
    b = paper.Evidence.from_scores(pretty(worse), scores[worse], metric)
    return paper.decide(claim_id, a, b, scale=scale, relation=relation,
                        words=f"{what}: {a.describe()} vs {b.describe()}" if what else None)


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


# Figure 3: class activation maps, and how much of them lies on the object.


@dataclass
class Pass:
    """One pass of a network over a batch (forward_pass): its final `features` (N x C x h x w), every level's
    output ({level module name: N x C x h x w}, in order) and the input of one level's first convolution."""

    features: torch.Tensor
    levels: dict
    level_input: torch.Tensor | None = None


@functools.lru_cache(maxsize=None)
def _layers(arch: str) -> pd.DataFrame:
    """drnlib.analysis.architecture.layer_table at 224 (traced once per network: levels do not depend on size)."""
    from drnlib.analysis.architecture import layer_table

    return layer_table(arch, 224)


def first_conv_of_level(arch: str, level: int) -> str:
    """Module name of the first main-path convolution of a paper level (DRN Fig. 5) of `arch`."""
    layers = _layers(arch)
    convs = layers[(layers["kind"] == "conv") & layers["main_path"] & (layers["level"] == level)]
    if convs.empty:
        raise ParameterError(f"{pretty(arch)} has no convolution in level {level}; it has levels "
                             f"{', '.join(map(str, sorted(set(layers['level']))))}")
    return str(convs["name"].iloc[0])


@torch.no_grad()
def forward_pass(model: torch.nn.Module, images: torch.Tensor, level: int | None = None) -> Pass:
    """`model` over `images` once, in eval mode (its mode restored after): final features, every level's output,
    and with `level` the input of that paper level's first convolution (a forward pre-hook)."""
    captured: list[torch.Tensor] = []
    handle = None
    if level is not None:
        handle = model.get_submodule(first_conv_of_level(model.name, level)).register_forward_pre_hook(
            lambda module, args: captured.append(args[0]))
    was_training = model.training
    model.eval()
    levels: dict = {}
    try:
        features = model.forward_features(images, levels)
    finally:
        if handle is not None:
            handle.remove()
        model.train(was_training)
    return Pass(features, levels, captured[0] if captured else None)


@torch.no_grad()
def class_maps(model: torch.nn.Module, images: torch.Tensor, targets=None,
               features: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """`drnlib.analysis.activations.class_activation_map` for a batch: the per-pixel softmax map (N x h x w) of
    each image's `targets` class (default: the class the classifier predicts) and those classes (N). `features`:
    the images' final features when a forward_pass already computed them."""
    if features is None:
        features = forward_pass(model, images).features
    scores = model.classify_map(features).float()  # N x classes x h x w
    if targets is None:
        targets = scores.mean((2, 3)).argmax(1)  # global average pooling, then argmax: the prediction
    targets = torch.as_tensor(targets, device=scores.device).long()
    probs = scores.softmax(dim=1)
    return probs[torch.arange(len(scores), device=scores.device), targets], targets


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


def level_inputs(model: torch.nn.Module, images: torch.Tensor, level: int) -> torch.Tensor:
    """`drnlib.analysis.activations.level_input` for a batch: the feature maps that enter the first convolution
    of the paper's `level` (N x C x h x w), in eval mode."""
    return forward_pass(model, images, level).level_input


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


# Shared by the figure pages: where they compute, what they are tested at, per-image verdicts.


def compute_device() -> torch.device:
    """Where the pages compute maps: the GPU when there is one (drnlib.train.resolve_device("auto"))."""
    from drnlib.train import resolve_device

    return resolve_device("auto")


def trained_models(trained: dict, device=None) -> dict:
    """{arch: the trained network in eval mode} for {arch: Run}, on `device` (default: compute_device())."""
    device = device or compute_device()
    return {arch: run.model(device=device) for arch, run in trained.items()}


def classifier_table(trained: dict) -> pd.DataFrame:
    """One row per trained classifier: epochs, training and validation images, top-1 / top-5 error (%, the run's
    own centre-crop evaluation)."""
    table = pd.DataFrame({arch: {"epochs": run.result["epochs"], "train images": run.result["train_images"],
                                 "val images": run.result["val_images"], "top-1 error": run.result["val"]["top1_error"],
                                 "top-5 error": run.result["val"]["top5_error"]} for arch, run in trained.items()}).T
    table.index.name = "arch"
    return table


def figure_scale(p, trained: dict, count: int, size: int) -> str:
    """What a figure page's claims are tested at, e.g. "tiny_imagenet val, 60 images at 96 px, mini profile"."""
    dataset = next(iter(trained.values())).config.dataset
    return f"{dataset} val, {count:,} images at {size} px, {p.profile} profile"


def numbered_levels(arch: str, outputs: dict) -> dict[int, torch.Tensor]:
    """A network's level outputs (Pass.levels, in order) keyed by the paper's level number (DRN Fig. 5: a ResNet's
    and a DRN-A's four groups are levels 3-6; DRN-B/C have levels 1-8)."""
    numbers = sorted(set(_layers(arch)["level"]))[-len(outputs):]
    return dict(zip(numbers, outputs.values()))


def gridding_per_image(maps: torch.Tensor, period: int) -> list[float]:
    """The gridding index (drnlib.analysis.gridding.measure) of each image's maps, in percent (0: noise, 100: a pure
    period-`period` grid): maps N x h x w, or N x C x h x w with the channels' energies summed per image. NaN where
    a map holds fewer than two periods or is constant."""
    return [100 * gridding.measure(m.float().cpu(), period)["index"] for m in maps]


def per_image_verdict(claim_id: str, a: pd.Series, b: pd.Series, labels: tuple[str, str], higher_is_better: bool,
                      scale: str, what: str) -> paper.Verdict:
    """drnlib.paper.decide on a measurement made per image: is `a` better than `b` (two Series indexed by image)?
    The images where either value is undefined (NaN) are left out of both sides, so the bootstrap over the images
    stays paired; "not tested" when no image gives both. `what` names the measure in the verdict's words."""
    both = pd.concat([a.rename("a"), b.rename("b")], axis=1).dropna()
    if both.empty:
        return paper.not_tested(claim_id, f"{what} is undefined for {labels[0]} or {labels[1]} on every image")
    first = paper.Evidence(labels[0], "mean", both["a"].to_numpy(), higher_is_better)
    second = paper.Evidence(labels[1], "mean", both["b"].to_numpy(), higher_is_better)
    return paper.decide(claim_id, first, second, scale=scale,
                        words=f"{what}: {first.describe()} vs {second.describe()}")


def combine(claim_id: str, parts: list, scale: str = "", ours: str | None = None) -> paper.Verdict:
    """paper.all_hold of a claim made of several comparisons, its words each part's once (parts that are not
    tested for the same reason say it once)."""
    return paper.all_hold(claim_id, parts, ours=ours or "; ".join(dict.fromkeys(v.ours for v in parts)), scale=scale)


def paired(claim_id: str, frame: pd.DataFrame, better: str, worse: str, column: str, higher_is_better: bool,
           scale: str, what: str) -> paper.Verdict:
    """per_image_verdict of two networks: `frame` holds one row per `arch` and `image`; does `better` score better
    than `worse` in `column`? "Not tested" when this profile did not train one of the two."""
    missing = [pretty(a) for a in (better, worse) if a not in set(frame["arch"])]
    if missing:
        return paper.not_tested(claim_id, f"{' and '.join(missing)} not trained at this profile")
    wide = frame.pivot(index="image", columns="arch", values=column)
    return per_image_verdict(claim_id, wide[better], wide[worse], (pretty(better), pretty(worse)), higher_is_better,
                             scale, what)


# Table 2: weakly-supervised object localization (DRN Sec. 5.2).

LOCALIZATION = ("loc_top1_error", "loc_top5_error")
# DRN-28: each DRN-A next to the ResNet it is built from (Table 2's pairs).
DILATED_PAIRS = (("resnet18", "drn_a_18"), ("resnet34", "drn_a_34"), ("resnet50", "drn_a_50"))


def localization_scores(trained: dict) -> dict:
    """{arch: scores} of every classifier used as DRN Sec. 5.2's localizer without fine-tuning:
    drnlib.runs.evaluate(run, task="localize", ten_crop=True) (computed once, cached): 10-crop class scores, the
    whole image through the network without its global pooling, a box around the cells where the class dominates
    above a threshold chosen on the run's held-out training images. Each score dict holds loc_top1_error,
    loc_top5_error, box_error, top1_error, top5_error (%), the threshold sweep and the per-image records."""
    return {arch: runs.evaluate(run, task="localize", ten_crop=True) for arch, run in trained.items()}


def localization_table(scores: dict, trained: dict) -> pd.DataFrame:
    """One row per network: top1 / top5 localization error, box error (the true class's box is wrong), the 10-crop
    class top1 / top5 error (all %), the threshold t and the side of the probability maps at the run's crop."""
    from drnlib.analysis.architecture import final_resolution

    table = pd.DataFrame({arch: {
        "top1": s["loc_top1_error"], "top5": s["loc_top5_error"], "box error": s["box_error"],
        "class top1": s["top1_error"], "class top5": s["top5_error"], "t": s["protocol"]["threshold"],
        "map": f"{final_resolution(arch, trained[arch].config.crop_size)}²"} for arch, s in scores.items()}).T
    table.index.name = "model"
    return table


def threshold_sweeps(scores: dict) -> pd.DataFrame:
    """The threshold sweeps on the held-out training images, one block of rows per network (index arch, row)."""
    return pd.concat({arch: pd.DataFrame(s["threshold_sweep"]) for arch, s in scores.items()}, names=["arch", "row"])


def error_intervals(scores: dict, metric: str) -> pd.DataFrame:
    """Each network's error `metric` (top1_error, top5_error, loc_top1_error, loc_top5_error; %) with its
    Clopper-Pearson 95% interval, from the per-image records of its score dict ({arch: scores}): rows by arch,
    columns value, low, high (drnlib.paper.interval_table). What the "paper vs ours" figures plot."""
    return paper.interval_table({arch: paper.Evidence.from_scores(pretty(arch), s, metric)
                                 for arch, s in scores.items()})


def table2_intervals(scores: dict) -> pd.DataFrame:
    """Table 2's top-1 and top-5 localization errors (%) of every network of `localization_scores`, each with its
    95% interval: rows by arch, columns (top1 | top5, value | low | high), named as the paper's table names them."""
    return pd.concat({"top1": error_intervals(scores, "loc_top1_error"),
                      "top5": error_intervals(scores, "loc_top5_error")}, axis=1)


@torch.no_grad()
def true_class_boxes(run, threshold: float, batch: ImageBatch, device=None) -> tuple[torch.Tensor, torch.Tensor]:
    """The box the localizer draws for each image's true class at `threshold` (N x 4 pixel edges on the batch's
    square images) and whether it found one (N bools): drnlib.eval.localization.class_boxes on the softmax of the
    run's network without its pooling (task "dense")."""
    from drnlib.eval.localization import class_boxes

    device = device or compute_device()
    dense = run.model(task="dense", device=device)(batch.images.to(device)).float().softmax(dim=1).cpu()
    size = batch.images.shape[-1]
    return class_boxes(dense, torch.tensor(batch.labels), torch.tensor([[size, size]] * len(batch.labels)),
                       threshold)


def table2_verdicts(scores: dict, scale: str) -> list:
    """The verdicts on DRN-21 ... DRN-28 (Table 2, Sec. 5.2) from localization_scores: each comparison is paired
    over the same validation images; DRN-27 (state of the art) cannot be tested here (claims.yaml says why)."""
    def one(claim_id, better, worse, metric):
        return compare(claim_id, scores, better, worse, metric, scale, what=METRIC_WORDS[metric])

    def both(claim_id, better, worse):
        return [one(claim_id, better, worse, metric) for metric in LOCALIZATION]

    untestable = paper.claims()["DRN-27"]
    return [
        combine("DRN-21", both("DRN-21", "drn_a_18", "resnet18"), scale),
        combine("DRN-22", both("DRN-22", "drn_a_34", "resnet34"), scale),
        combine("DRN-23", both("DRN-23", "drn_a_50", "resnet50"), scale),
        combine("DRN-24", [*both("DRN-24", "drn_c_26", "drn_a_50"),  # ... even though DRN-A-50 classifies better
                           one("DRN-24", "drn_a_50", "drn_c_26", "top1_error")], scale),
        combine("DRN-25", both("DRN-25", "drn_c_26", "resnet101"), scale),
        combine("DRN-26", [*both("DRN-26", "drn_c_26", "drn_a_18"), *both("DRN-26", "drn_c_42", "drn_a_34"),
                           one("DRN-26", "drn_b_26", "drn_a_18", "loc_top1_error"),  # DRN-B-26 in between on top-1
                           one("DRN-26", "drn_c_26", "drn_b_26", "loc_top1_error"),
                           one("DRN-26", "drn_a_18", "drn_b_26", "loc_top5_error")], scale),  # but worse on top-5
        paper.not_tested("DRN-27", untestable.why_not),
        advantage_growth(scores, scale),
    ]


METRIC_WORDS = {"loc_top1_error": "top-1 localization error", "loc_top5_error": "top-5 localization error",
                "top1_error": "top-1 classification error (10-crop)", "top5_error": "top-5 classification error"}


def advantage_growth(scores: dict, scale: str) -> paper.Verdict:
    """DRN-28: the DRN-A's advantage over its ResNet is larger in localization than in classification. Per image
    and pair, (ResNet - DRN-A) localization top-1 wrong minus (ResNet - DRN-A) classification top-1 wrong (both
    from the same 10-crop evaluation), in points, bootstrapped over the images; it must be above 0 for every pair."""
    needed = [arch for pair in DILATED_PAIRS for arch in pair]
    missing = [pretty(arch) for arch in needed if arch not in scores]
    if missing:
        return paper.not_tested("DRN-28", f"{', '.join(missing)} not trained at this profile")
    parts = []
    for resnet, drn in DILATED_PAIRS:
        wrong = {arch: {key: np.asarray(scores[arch]["per_image"][key], dtype=float)
                        for key in ("loc_top1_wrong", "top1_wrong")} for arch in (resnet, drn)}
        loc_gain = 100 * (wrong[resnet]["loc_top1_wrong"] - wrong[drn]["loc_top1_wrong"])
        class_gain = 100 * (wrong[resnet]["top1_wrong"] - wrong[drn]["top1_wrong"])
        growth = paper.Evidence(f"{pretty(drn)} localization gain - classification gain", "mean",
                                loc_gain - class_gain, True)
        parts.append(paper.decide("DRN-28", growth, threshold=0.0, scale=scale,
                                  words=f"{pretty(drn)} over {pretty(resnet)}: {loc_gain.mean():+.2f} top-1 points "
                                        f"in localization vs {class_gain.mean():+.2f} in classification"))
    return combine("DRN-28", parts, scale)


# Figure 3: class activation maps, measured.


def map_measurements(models: dict, batch: ImageBatch, period: int, device=None) -> pd.DataFrame:
    """Figure 3's maps measured per image (one row per network and image): the class activation map of the image's
    TRUE class, its side (`map_side`), the share of its mass inside the object's boxes (`mass_in_box`, %; NaN for a
    map that is zero everywhere) next to the boxes' share of the image (`box_area`, %: what a flat map scores), its
    gridding index (`grid_class_map`, %) and that of the network's output features (`grid_output`, %, all channels),
    both at `period` (gridding_per_image)."""
    device = device or compute_device()
    images, size = batch.images.to(device), batch.images.shape[-1]
    rows = []
    for arch, model in models.items():
        result = forward_pass(model, images)
        maps = class_maps(model, images, batch.labels, features=result.features)[0].cpu()
        output = list(result.levels.values())[-1]
        for i, (cam, boxes, grid_map, grid_out) in enumerate(zip(maps, batch.boxes, gridding_per_image(maps, period),
                                                                  gridding_per_image(output, period))):
            rows.append({"arch": arch, "image": i, "class": batch.class_names[batch.labels[i]],
                         "map_side": cam.shape[-1], "mass_in_box": 100 * mass_in_box(cam, boxes, size),
                         "box_area": 100 * mass_in_box(torch.ones_like(cam), boxes, size),
                         "grid_class_map": grid_map, "grid_output": grid_out})
    return pd.DataFrame(rows)


def map_summary(per_image: pd.DataFrame) -> pd.DataFrame:
    """map_measurements averaged over the images, per network (means skip undefined values; `empty maps` counts
    the maps that are zero everywhere)."""
    grouped = per_image.groupby("arch", sort=False)
    summary = grouped[["map_side", "mass_in_box", "box_area", "grid_class_map", "grid_output"]].mean()
    summary.insert(3, "empty maps", grouped["mass_in_box"].apply(lambda s: int(s.isna().sum())))
    return summary.astype({"map_side": int})


@torch.no_grad()
def class_map_facts(models: dict, images: torch.Tensor) -> pd.DataFrame:
    """Per network: the side of its class maps at a 224 input (the paper's) and at ours, and the largest difference
    between the class maps averaged over their positions and the classifier's own logits (relative to the largest
    logit): ~0 means the maps are the trained classifier itself, applied at every position, with no retraining
    (DRN Sec. 3)."""
    from drnlib.analysis.architecture import final_resolution

    rows = {}
    for arch, model in models.items():
        device = next(model.parameters()).device
        x = images.to(device)
        logits = model(x).float()
        averaged = model.classify_map(model.forward_features(x)).float().mean((2, 3))
        rows[arch] = {"side at 224": final_resolution(arch, 224), "side here": final_resolution(arch, x.shape[-1]),
                      "pooled map vs logits": float((averaged - logits).abs().max() / logits.abs().max())}
    return pd.DataFrame(rows).T.astype({"side at 224": int, "side here": int})


# Float rounding (TF32 convolutions on a GPU) leaves ~1e-3 of the logits' range between two equal computations.
SAME_COMPUTATION = 1e-2


def fig3_verdicts(per_image: pd.DataFrame, facts: pd.DataFrame, image_size: int, scale: str) -> list:
    """The verdicts on DRN-18 (dense maps from the classifier, finer than ResNet-18's: computed on the networks),
    DRN-19 (better resolved: more of the true class's map on the object's box), DRN-20 (gridding: DRN-A-18 >
    DRN-B-26 > DRN-C-26 on the class maps) and DRN-33 (DRN-C-26 degrids better than DRN-B-26: output features and
    class maps), each per image, paired over the images."""
    archs = list(facts.index)
    drns = [a for a in archs if a.startswith("drn_")]
    if "resnet18" not in archs or not drns:
        verdicts = [paper.not_tested("DRN-18", "needs ResNet-18 and a DRN"),
                    paper.not_tested("DRN-19", "needs ResNet-18 and a DRN")]
    else:
        base = facts.loc["resnet18"].to_dict()
        finer = all(facts.loc[d, "side at 224"] > base["side at 224"] and facts.loc[d, "side here"] > base["side here"]
                    for d in drns)
        same = bool((facts["pooled map vs logits"] <= SAME_COMPUTATION).all())
        sides = ", ".join(f"{pretty(d)} {int(facts.loc[d, 'side at 224'])}²" for d in drns)
        verdicts = [paper.exact("DRN-18", finer and same, (
            f"at 224 px {sides} vs ResNet-18 {int(base['side at 224'])}² cells (at our "
            f"{image_size} px: {int(facts.loc[drns[0], 'side here'])}² vs {int(base['side here'])}²); "
            f"the maps averaged over their cells equal the classifiers' logits (largest difference "
            f"{facts['pooled map vs logits'].max():.1e} of the largest logit): no retraining")),
            combine("DRN-19", [paired("DRN-19", per_image, d, "resnet18", "mass_in_box", True, scale,
                                      "true-class map mass in the object's box (%)") for d in drns], scale)]

    def less_gridding(claim_id, better, worse, column, what):
        return paired(claim_id, per_image, better, worse, column, False, scale, what)

    class_map, output = "gridding index of the class maps (%)", "gridding index of the output features (%)"
    verdicts.append(combine("DRN-20", [
        less_gridding("DRN-20", "drn_c_26", "drn_a_18", "grid_class_map", class_map),
        less_gridding("DRN-20", "drn_b_26", "drn_a_18", "grid_class_map", class_map),
        less_gridding("DRN-20", "drn_c_26", "drn_b_26", "grid_class_map", class_map)], scale=scale))
    verdicts.append(combine("DRN-33", [
        less_gridding("DRN-33", "drn_c_26", "drn_b_26", "grid_output", output),
        less_gridding("DRN-33", "drn_c_26", "drn_b_26", "grid_class_map", class_map)], scale=scale))
    return verdicts


# Figure 4: the didactic example, and the measure of gridding applied to the networks.


def didactic_example(dilation: int, size: int, max_layers: int) -> dict:
    """Figure 4 for any dilation: a size x size map with one active pixel (`pixel`), the taps of a 3x3 convolution
    with that dilation (`taps`), and the output of that convolution with all weights one (`output`); `stack`: the
    gridding index (drnlib.analysis.gridding) of the pixel after 1..max_layers such convolutions, and after one
    undilated convolution more (the DRN-C remedy). Raises ParameterError when the map cannot hold the stack."""
    if size < 2 * dilation * max_layers + 1:
        raise ParameterError(f"size must be at least {2 * dilation * max_layers + 1} to hold {max_layers} stacked "
                             f"{dilation}-dilated 3x3 convolutions, got {size}")
    pixel = gridding.single_pixel(size)
    stack = []
    for layers in range(1, max_layers + 1):
        dilated = gridding.dilated_response(pixel, dilation, layers=layers)
        stack.append({"dilated convolutions": layers, "index": gridding.measure(dilated, dilation)["index"],
                      "index after a 1-dilated conv": gridding.measure(gridding.dilated_response(dilated, 1),
                                                                       dilation)["index"]})
    return {"pixel": pixel, "taps": gridding.dilated_response(gridding.single_pixel(2 * dilation + 1), dilation),
            "output": gridding.dilated_response(pixel, dilation),
            "stack": pd.DataFrame(stack).set_index("dilated convolutions")}


def lattice_verdict(dilation: int, size: int) -> paper.Verdict:
    """DRN-29, computed: one active pixel through a `dilation`-dilated 3x3 convolution comes out as the 3 x 3
    lattice of period `dilation` around it (and nothing else), a grid by the gridding index; a smooth map
    (Gaussian-blurred noise, std `dilation` pixels: no content at the dilation's sampling rate) through the same
    convolution shows no grid (index at most that of noise, 0)."""
    centre = size // 2
    output = gridding.dilated_response(gridding.single_pixel(size), dilation)
    support = {tuple(ij) for ij in (output != 0).nonzero().tolist()}
    lattice = {(centre + dilation * i, centre + dilation * j) for i in (-1, 0, 1) for j in (-1, 0, 1)}
    smooth = gridding.smooth_field(size, sigma=float(dilation), generator=torch.Generator().manual_seed(0))[0]
    grid_index = gridding.measure(output, dilation)["index"]
    smooth_index = gridding.measure(gridding.dilated_response(smooth, dilation), dilation)["index"]
    holds = support == lattice and grid_index > 0 >= smooth_index
    return paper.exact("DRN-29", holds, (
        f"one pixel through a {dilation}-dilated 3×3 conv: {len(support)} active pixels, "
        f"{'exactly' if support == lattice else 'not'} the 3×3 lattice of period {dilation} (gridding index "
        f"{grid_index:.4f}); a smooth map through it: index {smooth_index:.4f}"), scale=f"{size}×{size} map, computed")


def network_gridding(p, images: torch.Tensor, device=None) -> tuple[pd.DataFrame, dict, dict, dict]:
    """Every level's gridding (drnlib.analysis.gridding.level_gridding at `p.period`) of the four networks of
    Figure 3 on `images`: with the weights of `p.checkpoint_<arch>` when given, else of the classifier another page
    trained with `p.recipe` (find_classifier: nothing is trained here), else at random initialisation (seed
    `p.seed`). Returns (levels: one row per network and paper level, {arch: last level's strongest map of the first
    image}, {arch: which weights}, {arch: Run used})."""
    from drnlib.analysis.activations import strongest_map
    from drnlib.models import build_model, load_weights

    device = device or compute_device()
    images = images.to(device)
    rows, strongest, weights, used = [], {}, {}, {}
    for arch in FIG3_ARCHS:
        checkpoint = p[f"checkpoint_{arch}"]
        run = None if checkpoint is not None else find_classifier(p, arch)
        torch.manual_seed(p.seed)
        model = run.model(device=device) if run is not None else build_model(arch).to(device).eval()
        if checkpoint is not None:
            load_weights(model, checkpoint, backbone_only=True)
        levels = numbered_levels(arch, forward_pass(model, images).levels)
        weights[arch] = str(checkpoint) if checkpoint else (f"trained ({run.result['epochs']} ep.)" if run
                                                            else "random init")
        if run is not None:
            used[arch] = run
        rows += [{"arch": arch, "weights": weights[arch], **row} for row in gridding.level_gridding(levels, p.period)]
        strongest[arch] = strongest_map(levels[max(levels)][0].float())[0].cpu()
    return pd.DataFrame(rows), strongest, weights, used


# Figure 6: what max pooling leaves at the input of level 3, and what it does to gridding further on.


def last_dilated_level(arch: str) -> int:
    """The last level with the network's largest dilation (DRN Fig. 5: level 6, dilation 4, in DRN-A/B/C)."""
    layers = _layers(arch)
    main = layers[layers["main_path"] & (layers["kind"] == "conv")]
    return int(main.loc[main["dilation"] == main["dilation"].max(), "level"].max())


def level_input_measurements(trained: dict, images: torch.Tensor, level: int, cutoff: float, period: int,
                             seed: int, device=None) -> tuple[pd.DataFrame, dict]:
    """Figure 6's maps measured per image, for each trained network and, as a control, the same network at its
    random initialisation (seed `seed`): one row per network, weights and image with the level-`level` input's
    `channels` and `side`, its `high_frequency` share (%, above `cutoff` cycles per pixel, all channels),
    the white-noise `chance` of that share (%), the strongest channel's `peak_mean`, and the gridding index (%) at
    `period` of the output of the last dilated level (`grid_dilated`) and of the network (`grid_output`).
    Also returns {(network, weights): radial_spectrum of all images' level inputs}."""
    from drnlib.analysis.activations import strongest_map
    from drnlib.models import build_model

    device = device or compute_device()
    images = images.to(device)
    rows, spectra = [], {}
    for arch, run in trained.items():
        torch.manual_seed(seed)
        untrained = build_model(arch, num_classes=run.result["num_classes"]).to(device).eval()
        for weights, model in (("trained", run.model(device=device)), ("random init", untrained)):
            result = forward_pass(model, images, level)
            maps = result.level_input.float().cpu()
            outputs = numbered_levels(arch, result.levels)
            dilated = gridding_per_image(outputs[last_dilated_level(arch)], period)
            output = gridding_per_image(outputs[max(outputs)], period)
            chance = 100 * high_frequency_chance(*maps.shape[-2:], cutoff)
            for i, image_maps in enumerate(maps):
                rows.append({"arch": arch, "weights": weights, "image": i, "channels": maps.shape[1],
                             "side": maps.shape[-1], "high_frequency": 100 * high_frequency_share(image_maps, cutoff),
                             "chance": chance, "peak_mean": peak_to_mean(strongest_map(image_maps)[0]),
                             "grid_dilated": dilated[i], "grid_output": output[i]})
            spectra[(pretty(arch), weights)] = radial_spectrum(maps)
    return pd.DataFrame(rows), spectra


def fig6_verdicts(per_image: pd.DataFrame, with_pool: str, without_pool: str, scale: str) -> list:
    """DRN-30 (max pooling leaves more high-frequency energy and higher peaks at the level-3 input) and DRN-31
    (without max pooling, less gridding after the last dilated level and at the output), on the trained networks,
    per image, paired over the images."""
    trained = per_image[per_image["weights"] == "trained"]

    def check(claim_id, better, worse, column, higher, what):
        return paired(claim_id, trained, better, worse, column, higher, scale, what)

    return [
        combine("DRN-30", [
            check("DRN-30", with_pool, without_pool, "high_frequency", True, "high-frequency share (%)"),
            check("DRN-30", with_pool, without_pool, "peak_mean", True, "strongest channel's peak / mean")],
            scale=scale),
        combine("DRN-31", [
            check("DRN-31", without_pool, with_pool, "grid_dilated", False,
                  "gridding index after the last dilated level (%)"),
            check("DRN-31", without_pool, with_pool, "grid_output", False, "gridding index of the output (%)")],
            scale=scale),
    ]


# Figure 7: the strongest map of every level.


def strongest_level_maps(arch: str, model: torch.nn.Module, images: torch.Tensor) -> tuple[dict, list[int]]:
    """DRN Fig. 7's panels: ({paper level number: N x h x w strongest output map of each image
    (drnlib.analysis.activations.strongest_map), "class map": N x h x w class activation map of each image's
    predicted class}, the predicted classes)."""
    from drnlib.analysis.activations import strongest_map

    result = forward_pass(model, images)
    maps = {level: torch.stack([strongest_map(m)[0] for m in out.float().cpu()])
            for level, out in numbered_levels(arch, result.levels).items()}
    cams, predicted = class_maps(model, images, features=result.features)
    maps["class map"] = cams.float().cpu()
    return maps, predicted.tolist()


def level_gridding_per_image(models: dict, images: torch.Tensor, period: int, device=None) -> pd.DataFrame:
    """One row per network, level ("1" ... "8", "class map") and image: the map's `side` and the gridding index
    (%, gridding_per_image at `period`) of the strongest map of the level's output (Figure 7's panels)."""
    device = device or compute_device()
    rows = []
    for arch, model in models.items():
        for level, maps in strongest_level_maps(arch, model, images.to(device))[0].items():
            rows += [{"arch": arch, "level": str(level), "image": i, "side": maps.shape[-1], "index": value}
                     for i, value in enumerate(gridding_per_image(maps, period))]
    return pd.DataFrame(rows)


def fig7_verdicts(per_image: pd.DataFrame, arch: str, scale: str) -> list:
    """DRN-32 (the levels of decreasing dilation lower the gridding of the last dilated level: level 8 vs level 6
    of `arch`, paired over the images) and DRN-34 (every level's strongest map and the class map of `arch` hold no
    more grid energy than noise: gridding index at most 0, each level bootstrapped over the images)."""
    own = per_image[per_image["arch"] == arch].pivot(index="image", columns="level", values="index")
    last, dilated = str(max(int(c) for c in own.columns if c.isdigit())), str(last_dilated_level(arch))
    what = f"gridding index (%) of {pretty(arch)}'s strongest map"
    if last == dilated:
        degridding = paper.not_tested("DRN-32", f"{pretty(arch)} has no levels after its last dilated level")
    else:
        degridding = per_image_verdict("DRN-32", own[last], own[dilated], (f"level {last}", f"level {dilated}"), False,
                                       scale, what)
    parts, words = [], []
    for level in own.columns:
        values = own[level].dropna()
        label = level if level == "class map" else f"level {level}"
        if values.empty:
            continue  # a map below two periods has no gridding index
        evidence = paper.Evidence(label, "mean", values.to_numpy(), False)
        parts.append(paper.decide("DRN-34", evidence, threshold=0.0, scale=scale))
        words.append(f"{label} {evidence.value:+.2f}")
    free = (combine("DRN-34", parts, ours=f"{what}, mean over the images: " + "; ".join(words), scale=scale)
            if parts else paper.not_tested("DRN-34", "every map is below two periods"))
    return [degridding, free]


__all__ = ["CLASSIFIER_RECIPES", "FIG3_ARCHS", "RULES", "needed_runs", "classifiers", "find_classifier", "pretty",
           "scale_note", "compare", "ImageBatch", "validation_images", "class_maps", "mass_in_box", "level_inputs",
           "radial_frequency", "radial_spectrum", "high_frequency_share", "high_frequency_chance", "peak_to_mean",
           "compute_device", "trained_models", "classifier_table", "figure_scale", "numbered_levels",
           "gridding_per_image", "per_image_verdict", "paired", "localization_scores", "localization_table",
           "threshold_sweeps", "error_intervals", "table2_intervals", "true_class_boxes", "table2_verdicts",
           "advantage_growth", "map_measurements", "map_summary", "class_map_facts", "fig3_verdicts",
           "didactic_example", "lattice_verdict", "network_gridding", "last_dilated_level", "level_input_measurements",
           "fig6_verdicts", "strongest_level_maps", "level_gridding_per_image", "fig7_verdicts", "TABLE1_COLUMNS",
           "table1_intervals", "depth", "table1_verdicts", "gain_versus_depth"]


# Table 1: the paper's comparisons of the classifiers.

FOUR_MEASURES = (("one_crop", "top1_error"), ("one_crop", "top5_error"), ("ten_crop", "top1_error"),
                 ("ten_crop", "top5_error"))

# The paper's Table 1 columns for each of FOUR_MEASURES.
TABLE1_COLUMNS = {("one_crop", "top1_error"): "top1_1crop", ("one_crop", "top5_error"): "top5_1crop",
                  ("ten_crop", "top1_error"): "top1_10crop", ("ten_crop", "top5_error"): "top5_10crop"}


def table1_intervals(one_crop: dict, ten_crop: dict) -> pd.DataFrame:
    """Table 1's four errors (%) of every trained classifier, 1-crop and 10-crop ({arch: score dict with per-image
    records} each), with their Clopper-Pearson 95% intervals: rows by arch, columns (top1_1crop | top5_1crop |
    top1_10crop | top5_10crop, value | low | high), named as the paper's table names them."""
    protocols = {"one_crop": one_crop, "ten_crop": ten_crop}
    return pd.concat({column: error_intervals(protocols[protocol], metric)
                      for (protocol, metric), column in TABLE1_COLUMNS.items()}, axis=1)



def depth(arch: str) -> int:
    """The paper's depth of a network: convolutions on the main path plus the classifier (DRN Table 1)."""
    from drnlib.analysis.architecture import trace_layers

    return sum(r.kind == "conv" and r.main_path for r in trace_layers(arch, 224)) + 1


def table1_verdicts(one_crop: dict, ten_crop: dict, scale: str) -> list:
    """The verdicts on DRN-1, 6 and 8-17 (Table 1 and Sec. 5.1) from the trained classifiers' 1-crop and 10-crop
    scores ({arch: score dict with per-image records}); structural claims are computed on the built networks."""
    from drnlib.analysis.architecture import count_parameters

    protocols = {"one_crop": one_crop, "ten_crop": ten_crop}

    def four(claim_id, better, worse):
        return paper.all_hold(claim_id, [compare(claim_id, protocols[p], better, worse, m, scale)
                                         for p, m in FOUR_MEASURES])

    def top1(claim_id, better, worse):
        return compare(claim_id, one_crop, better, worse, "top1_error", scale)

    verdicts = []
    pairs = [(f"drn_a_{d}", f"resnet{d}") for d in (18, 34, 50)]
    same = [(count_parameters(a) == count_parameters(r), depth(a) == depth(r)) for a, r in pairs]
    verdicts.append(paper.exact("DRN-1", all(p and d for p, d in same), "; ".join(
        f"{pretty(a)} {count_parameters(a):,} vs {pretty(r)} {count_parameters(r):,} parameters, depth "
        f"{depth(a)} vs {depth(r)}" for a, r in pairs)))
    c26, a18, b26, c42, a34 = (count_parameters(n) for n in ("drn_c_26", "drn_a_18", "drn_b_26", "drn_c_42",
                                                              "drn_a_34"))
    verdicts.append(paper.exact(
        "DRN-6", c26 > a18 and c42 > a34 and b26 == c26 and depth("drn_c_26") > depth("drn_a_18"),
        f"DRN-C-26 {c26:,} vs DRN-A-18 {a18:,} parameters (depth {depth('drn_c_26')} vs {depth('drn_a_18')}); "
        f"DRN-C-42 {c42:,} vs DRN-A-34 {a34:,}; DRN-B-26 {b26:,} = DRN-C-26 {c26:,}"))
    verdicts += [four("DRN-8", "drn_a_18", "resnet18"), four("DRN-9", "drn_a_34", "resnet34"),
                 top1("DRN-10", "drn_a_50", "resnet50"), gain_versus_depth(one_crop, scale),
                 four("DRN-12", "drn_b_26", "drn_a_18"), four("DRN-13", "drn_c_26", "drn_b_26"),
                 paper.all_hold("DRN-14", [top1("DRN-14", "drn_c_26", "drn_a_18"),
                                           top1("DRN-14", "drn_c_42", "drn_a_34")]),
                 top1("DRN-15", "drn_c_26", "drn_a_34"), top1("DRN-16", "drn_c_42", "drn_a_50"),
                 top1("DRN-17", "drn_c_42", "resnet101")]
    return verdicts


def gain_versus_depth(one_crop: dict, scale: str) -> paper.Verdict:
    """DRN-11: dilating ResNet-50 (-> DRN-A-50) lowers the top-1 error more than going from ResNet-101 to
    ResNet-152; the margin is the difference of the two gains, per image, bootstrapped over the images."""
    import numpy as np

    needed = ("resnet50", "drn_a_50", "resnet101", "resnet152")
    missing = [pretty(a) for a in needed if a not in one_crop]
    if missing:
        return paper.not_tested("DRN-11", f"{', '.join(missing)} not trained at this profile")
    wrong = {a: np.asarray(one_crop[a]["per_image"]["top1_wrong"], dtype=float) for a in needed}
    gains = (wrong["resnet50"] - wrong["drn_a_50"]) - (wrong["resnet101"] - wrong["resnet152"])
    evidence = paper.Evidence("(ResNet-50 - DRN-A-50) - (ResNet-101 - ResNet-152)", "mean", 100 * gains, True)
    return paper.decide("DRN-11", evidence, threshold=0.0, relation="at_least", scale=scale,
                        words=f"gain of dilation {100 * (wrong['resnet50'] - wrong['drn_a_50']).mean():.2f} vs gain "
                              f"of depth {100 * (wrong['resnet101'] - wrong['resnet152']).mean():.2f} top-1 points")
