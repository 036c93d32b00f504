"""The ImageNet classifiers of the DRN paper's Tables 1-2 and Figures 3, 4, 6, 7, shared by those pages.

Every page that looks at the classifiers trains them with the profile's `drn_classifier` recipe
(params/<profile>/recipes.yaml), so drnlib.runs trains each network once per profile and the later pages reuse it:

    p = start("table1", globals())          # drnlib.pages.start: the page's parameters, checked with RULES below
    runs = classifiers(p)                   # {arch: Run}, found or trained (drnlib.runs)
    run = find_classifier(p, "drn_c_26")    # None when not trained yet (nothing is trained)
    verdict = compare("DRN-8", runs, "drn_a_18", "resnet18", "top1_error", scale=scale_note(p, runs))

The rest are the measurements those pages make on the trained networks: validation images with their boxes, the
mass of a class activation map inside the object's box (Fig. 3), and the high-frequency share of feature maps
(Fig. 6).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torchvision.transforms import v2

from drnlib import paper, runs
from drnlib.data import build_dataset
from drnlib.data import transforms as T
from drnlib.errors import ParameterError
from drnlib.params import between, models, one_of

CLASSIFIER_RECIPES = ("drn_classifier",)
RULES = {
    "table1": {"archs": models(), "recipe": one_of(*CLASSIFIER_RECIPES)},
    "table2": {"archs": models(), "recipe": one_of(*CLASSIFIER_RECIPES), "num_images": between(1, 12)},
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
            relation: str | None = None) -> paper.Verdict:
    """drnlib.paper.decide for "`better` has a lower `metric` than `worse`" (or matches it, by the claim's relation),
    from per-network score dicts (a run's `result["val"]`, or an evaluation); "not tested" when this profile did not
    train one of the two."""
    missing = [pretty(a) for a in (better, worse) if a not in scores]
    if missing:
        return paper.not_tested(claim_id, f"{' and '.join(missing)} not trained at this profile")
    a = paper.Evidence.from_scores(pretty(better), scores[better], metric)
    b = paper.Evidence.from_scores(pretty(worse), scores[worse], metric)
    return paper.decide(claim_id, a, b, scale=scale, relation=relation)


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


__all__ = ["CLASSIFIER_RECIPES", "RULES", "needed_runs", "classifiers", "find_classifier", "pretty", "scale_note",
           "compare", "ImageBatch", "validation_images", "class_maps",
           "mass_in_box", "level_inputs", "radial_frequency", "radial_spectrum", "high_frequency_share",
           "high_frequency_chance", "peak_to_mean"]


# Table 1: the paper's comparisons of the classifiers.

FOUR_MEASURES = (("one_crop", "top1_error"), ("one_crop", "top5_error"), ("ten_crop", "top1_error"),
                 ("ten_crop", "top5_error"))


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
