"""Small and thin objects, measured: classifiers trained and evaluated on synthetic scenes across object scale and
thinness (the experiment of the book page book/thin_objects.py).

    options = scene_options(image_size=96, object_scale=0.25, thinness=3, seed=0)
    sets = scene_sets(options, train_scenes=8000, val_scenes=1000, threshold_scenes=500)
    row, run = train_and_evaluate("drn_a_18", recipe, "mini", sets)  # top-1 error, localization errors, threshold
    geometry = object_geometry(options, count=200)                    # what "small" and "thin" measure in pixels
    compare(degradation(frame_of_rows, "top1_error", "object_scale"), "resnet18", "drn_a_18")  # a claim's numbers

Each (condition, seed) has its own scenes (drnlib.data.SyntheticScenes; the seed seeds the scenes and the run):
  train      split "train", classification, random flips: what every architecture trains on, with one recipe
  val        split "val", classification: the run's final evaluation (top-1 error)
  val_boxes  the same "val" scenes with their boxes: DRN Sec. 5.2 weakly-supervised localization
  threshold  split "test", with boxes: scenes no network trains or is evaluated on, where the localization
             threshold is chosen (the paper leaves it open; we choose it on held-out images, never on "val")
Runs go through drnlib.experiments.trained, keyed by the recipe AND the scene options, so a later build finds them.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from drnlib.data import DataLoader, SyntheticScenes, collate, default_transform
from drnlib.errors import ParameterError
from drnlib.eval import DEFAULT_THRESHOLDS, class_boxes, evaluate, sweep_threshold
from drnlib.experiments import Run, settings_key, trained
from drnlib.train import RunConfig, resolve_device
from drnlib.train.checkpoint import atomic_write_json
from drnlib.train.tasks import get_task

# The harder end of each factor: smaller objects, thinner objects.
HARDER = {"object_scale": "min", "thinness": "max"}


def scene_options(image_size: int = 64, num_classes: int = 8, clutter: float = 0.5, object_scale: float = 0.3,
                  thinness: float = 1.0, seed: int = 0) -> dict:
    """The SyntheticScenes options of one condition (checked by building a one-scene set)."""
    options = dict(image_size=int(image_size), num_classes=int(num_classes), clutter=float(clutter),
                   object_scale=float(object_scale), thinness=float(thinness), seed=int(seed))
    SyntheticScenes("val", num_samples=1, **options)  # ParameterError on impossible values
    return options


@dataclass
class SceneSets:
    options: dict
    train: SyntheticScenes
    val: SyntheticScenes
    val_boxes: SyntheticScenes
    threshold: SyntheticScenes

    @property
    def key(self) -> dict:
        """What, besides the run's recipe, changes the trained weights and the evaluation (joins the run's key)."""
        return {"scenes": {**self.options, "train_scenes": len(self.train), "val_scenes": len(self.val)}}


def localize_transform(image_size: int):
    """The engine's localization view of a scene (drnlib.train.tasks.Localization): the class from the normalised
    image, the box from the dense map of the same image."""
    return get_task("localize").eval_transform(RunConfig(dataset="synthetic", crop_size=image_size))


def scene_sets(options: dict, train_scenes: int, val_scenes: int, threshold_scenes: int,
               workers: int = 0) -> SceneSets:
    """Render the scenes of one condition once, into memory (`workers` processes)."""
    for name, count in (("train_scenes", train_scenes), ("val_scenes", val_scenes),
                        ("threshold_scenes", threshold_scenes)):
        if count < 1:
            raise ParameterError(f"{name} must be >= 1, got {count}")
    boxes = localize_transform(options["image_size"])

    def scenes(split, task, transform, count):
        return SyntheticScenes(split, task, transform, num_samples=count, **options).precompute(workers)

    return SceneSets(
        options=dict(options),
        train=scenes("train", "classify", default_transform("synthetic", "train", "classify"), train_scenes),
        val=scenes("val", "classify", default_transform("synthetic", "val", "classify"), val_scenes),
        val_boxes=scenes("val", "localize", boxes, val_scenes),
        threshold=scenes("test", "localize", boxes, threshold_scenes),
    )


def train_run(config: RunConfig, profile: str, sets: SceneSets, root=None) -> Run:
    """`experiments.trained` on these scenes. The CLI cannot build scenes with these options, and this experiment's
    paper profile is a larger mini (it is beyond the papers), so even that profile trains in-process."""
    return trained(config, profile, root=root, extra_key=sets.key, in_process=True, train_set=sets.train,
                   val_set=sets.val)


def localize(run: Run, sets: SceneSets, batch_size: int, workers: int = 0, device: str = "auto") -> dict:
    """DRN Sec. 5.2 on the evaluation scenes, with the threshold swept on the threshold scenes; cached in the run's
    folder. Returns drnlib.eval's localization scores plus the sweep."""
    key = settings_key({"val": len(sets.val_boxes), "threshold": len(sets.threshold), "options": sets.options,
                        "thresholds": list(DEFAULT_THRESHOLDS), "epochs": run.result.get("epochs")})
    path = run.dir / f"localize-{key}.json"
    if path.is_file():
        return json.loads(path.read_text())
    device = resolve_device(device)
    model = run.model(task="dense", device=device)
    channels_last = run.config.channels_last and device.type == "cuda"
    if channels_last:
        model.to(memory_format=torch.channels_last)
    common = dict(num_classes=run.result["num_classes"], device=device, amp=run.config.amp,
                  channels_last=channels_last)
    task = get_task("localize")

    def loader(scenes):
        return DataLoader(scenes, batch_size=batch_size, shuffle=False, num_workers=workers,
                          collate_fn=task.collate, pin_memory=device.type == "cuda")

    sweep = sweep_threshold(model, loader(sets.threshold), **common)
    scores = evaluate(model, loader(sets.val_boxes), "localize", thresholds=sweep["threshold"], **common)
    result = {**scores, "threshold_images": len(sets.threshold), "threshold_sweep": sweep["sweep"]}
    atomic_write_json(path, result)
    return result


def train_and_evaluate(arch: str, recipe: RunConfig, profile: str, sets: SceneSets, root=None) -> tuple[dict, Run]:
    """Train `arch` on the scenes with `recipe` (its seed is the scenes' seed) and evaluate it: (one row of
    results, the run)."""
    config = recipe.replace(arch=arch, dataset="synthetic", task="classify", crop_size=sets.options["image_size"],
                            seed=sets.options["seed"], holdout=0, val_every=0)
    run = train_run(config, profile, sets, root)
    loc = localize(run, sets, recipe.eval_batch_size or recipe.batch_size, recipe.workers, recipe.device)
    row = {
        "arch": arch, "object_scale": sets.options["object_scale"], "thinness": sets.options["thinness"],
        "seed": sets.options["seed"], "top1_error": run.result["val"]["top1_error"],
        "loc_top1_error": loc["loc_top1_error"], "box_error": loc["box_error"], "threshold": loc["threshold"],
        "train_seconds": run.result["train_seconds"], "run": run.dir.name,
    }
    return row, run


@torch.inference_mode()
def predicted_box(model: torch.nn.Module, image: torch.Tensor, label: int, threshold: float):
    """DRN Sec. 5.2 on one normalised image (3 x H x W) with a dense model: the box of class `label`
    ([x0, y0, x1, y1] pixel edges, or None when no cell qualifies) and the side of the dense map."""
    dense = model(image[None]).float().softmax(dim=1)
    boxes, found = class_boxes(dense, torch.tensor([label]), torch.tensor([list(image.shape[-2:])]), float(threshold))
    return (boxes[0].tolist() if bool(found[0]) else None), dense.shape[-1]


# What the conditions do to the objects, measured on their masks.


def mask_geometry(mask: torch.Tensor) -> dict:
    """Size and shape of one object mask (H x W bool): pixel area, box area, and the sides of the rectangle with
    the same second moments (a filled L x W bar has variance L²/12 along, W²/12 across; each pixel adds 1/12, its
    own extent), so `length` and `width` are in pixels and `elongation` = length / width."""
    ys, xs = np.nonzero(np.asarray(mask, dtype=bool))
    if len(xs) == 0:
        raise ValueError("empty mask")
    coords = np.stack([xs, ys]).astype(np.float64)
    variances = np.linalg.eigvalsh(np.cov(coords, bias=True)) if len(xs) > 1 else np.zeros(2)
    width, length = np.sqrt(12 * np.clip(variances, 0, None) + 1)
    return {"area": int(len(xs)), "box_area": int((xs.max() - xs.min() + 1) * (ys.max() - ys.min() + 1)),
            "length": float(length), "width": float(width), "elongation": float(length / width)}


def object_geometry(options: dict, count: int, workers: int = 0) -> pd.DataFrame:
    """mask_geometry of the key object of the first `count` evaluation scenes of a condition (one row each)."""
    scenes = SyntheticScenes("val", "segment", num_samples=count, **options)
    rows = []
    for _, masks in DataLoader(scenes, batch_size=64, num_workers=workers, collate_fn=collate):
        rows += [mask_geometry(mask > 0) for mask in masks]
    return pd.DataFrame(rows)


# Summaries for the page's claims.


def degradation(frame: pd.DataFrame, metric: str, factor: str) -> pd.Series:
    """How much `metric` (an error, in points) rises from the easiest to the hardest level of `factor` (smallest
    object_scale / largest thinness), each level averaged over the other factor: one value per (arch, seed)."""
    if factor not in HARDER:
        raise ParameterError(f"unknown factor {factor!r}; expected one of {', '.join(HARDER)}")
    levels = sorted(frame[factor].unique())
    if len(levels) < 2:
        raise ParameterError(f"{factor} needs at least two levels to measure a degradation, got {levels}")
    hard, easy = (levels[0], levels[-1]) if HARDER[factor] == "min" else (levels[-1], levels[0])
    means = frame.groupby(["arch", "seed", factor])[metric].mean()
    return (means.xs(hard, level=factor) - means.xs(easy, level=factor)).rename(f"{metric} rise")


def at_level(frame: pd.DataFrame, metric: str, factor: str, level: float) -> pd.Series:
    """`metric` at one level of `factor`, averaged over the other factor: one value per (arch, seed)."""
    rows = frame[np.isclose(frame[factor], level)]
    if rows.empty:
        raise ParameterError(f"no runs at {factor} {level}")
    return rows.groupby(["arch", "seed"])[metric].mean()


def compare(errors: pd.Series, worse: str, better: str) -> dict:
    """Errors per (arch, seed) of two architectures, for a claim that `better` has the lower one: each one's mean
    over the seeds, and their paired difference (see `paired_difference`; `holds` is its `positive`)."""
    a, b = errors.xs(worse, level="arch"), errors.xs(better, level="arch")
    diff = paired_difference(a, b)
    return {worse: float(a.mean()), better: float(b.mean()), "difference": diff["mean"], "difference_se": diff["se"],
            "seeds": diff["seeds"], "holds": diff["positive"]}


def paired_difference(a: pd.Series, b: pd.Series) -> dict:
    """a - b over the seeds both have (Series indexed by seed): mean, its standard error (NaN for one seed), the
    number of seeds, and `positive`: the mean is > 0 and, with two or more seeds, more than twice its standard
    error (a difference within the seed-to-seed noise is not counted as one)."""
    diff = (a - b).dropna()
    n = len(diff)
    if n == 0:
        raise ParameterError("no seed in common to compare")
    mean = float(diff.mean())
    se = float(diff.std(ddof=1) / math.sqrt(n)) if n > 1 else math.nan
    return {"mean": mean, "se": se, "seeds": n, "positive": bool(mean > 0 and (n == 1 or mean > 2 * se))}


__all__ = ["SceneSets", "scene_options", "scene_sets", "localize_transform", "train_run", "localize",
           "train_and_evaluate", "predicted_box", "mask_geometry", "object_geometry", "degradation", "at_level",
           "compare", "paired_difference"]
