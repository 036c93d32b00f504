"""Small and thin objects, measured (beyond the papers; the book page book/thin_objects.py): ResNet-18, DRN-A-18 and
DRN-C-26 trained from scratch on generated scenes (drnlib.data.SyntheticScenes) over a grid of object scale x
thinness, and the DRN paper's motivation (claim DRN-43, DRN Sec. 1-2) decided on how their errors rise from the
easiest to the hardest condition.

    p = start("thin_objects", globals())       # the page's knobs, checked with RULES below
    sweep = trained(p)                         # {(arch, scale, thinness, seed): Run}, found or trained (drnlib.runs)
    frame, scenes = measure(sweep)             # one row per run; one row per (run, evaluation scene)
    verdict, parts = drn43(scenes, scale_note(p, frame))      # the claim's verdict and its comparisons
    object_geometry(scene_options(p, 0.25, 4, seed=0), 200)   # what "small" and "thin" are in pixels

Every run is data: the `thin_objects` recipe of params/<profile>/recipes.yaml (the scenes' image size, classes,
clutter and counts; the training) and, for one condition and seed,
    RunSpec("thin_objects", arch, seed=s, data_options={"object_scale": x, "thinness": t, "seed": s}),
whose data options change the recipe's key by key (drnlib.recipes.config), so
    python -m drnlib train --profile mini --recipe thin_objects --arch drn_a_18 --seed 1 \\
        --data-option object_scale=0.25 --data-option thinness=4 --data-option seed=1
trains the run the page finds (`runs.command` prints it). A run's scenes (drnlib.data.synthetic, "Sizes"):
  training   the first limit_train scenes of split "train"
  held out   the next `holdout` scenes of "train": the localization threshold is chosen on them
             (runs.evaluate(run, task="localize"); the paper leaves the threshold open, and this book never
             chooses it on the evaluation scenes)
  evaluation the first limit_val scenes of split "val": top-1 error (the run's own evaluation) and DRN Sec. 5.2
             weakly-supervised localization (the box of the class's dense map; right when IoU > 0.5)
The seed seeds the scenes and the training. Scene i of a seed has the same background, distractors, class, position
and colour in every condition (its random stream does not depend on scale or thinness; only the object changes),
and every network of a seed sees the same scenes, so errors are paired scene by scene across conditions and
networks: the unit of DRN-43's uncertainty is one evaluation scene of one seed.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from drnlib import paper, recipes, runs
from drnlib.data import DataLoader, SyntheticScenes, collate
from drnlib.errors import ParameterError
from drnlib.eval import class_boxes
from drnlib.pages.drn_classification import pretty
from drnlib.params import between, models, numbers, one_of
from drnlib.train.tasks import get_task

RECIPES = ("thin_objects",)
BASELINE = "resnet18"
DRNS = ("drn_a_18", "drn_c_26")  # the two ways of keeping resolution DRN-43 is decided for
# The harder end of each factor: smaller objects, thinner objects.
HARDER = {"object_scale": "min", "thinness": "max"}
# The errors measured on every evaluation scene (in %: 0 or 100 per scene). DRN-43 is about recognition
# ("accuracy as objects get smaller or thinner"), so its verdict is decided on the top-1 error; the localization
# error is measured the same way and shown beside it.
MEASURES = {"top1_error": "top-1 error", "box_error": "localization error", "loc_top1_error": "top-1 loc. error"}
VERDICT_MEASURE = "top1_error"


def _levels(kind, low, high, at_least):
    """A list parameter of distinct levels (repeats dropped, order kept), each of `kind` in [low, high]."""
    parse = numbers(kind, low, high, at_least)

    def rule(name, value):
        levels = list(dict.fromkeys(parse(name, value)))
        if len(levels) < at_least:
            raise ParameterError(f"parameter {name}={value!r}: needs at least {at_least} distinct value(s)")
        return levels
    return rule


def _claim_archs(name, value):
    names = models()(name, value)
    missing = [a for a in (BASELINE, *DRNS) if a not in names]
    if missing:
        raise ParameterError(f"parameter {name}: must include {BASELINE}, {', '.join(DRNS)} (DRN-43 compares "
                             f"them); missing {', '.join(missing)}")
    return names


RULES = {"thin_objects": {
    "archs": _claim_archs,
    "scales": _levels(float, 0.01, 1.0, at_least=2),  # a degradation needs an easy and a hard level
    "thinness": _levels(float, 1.0, 100.0, at_least=2),
    "seeds": _levels(int, 0, None, at_least=1),
    "geometry_scenes": between(1, 100_000),
    "recipe": one_of(*RECIPES),
}}


# The runs.


def conditions(p) -> list[tuple[float, float]]:
    """(object_scale, thinness) of every condition, from the easiest (largest, thickest) to the hardest."""
    return [(s, t) for t in sorted(p.thinness) for s in sorted(p.scales, reverse=True)]


def condition_options(scale: float, thinness: float, seed: int) -> dict:
    """The data options of one condition and seed, as a run's key stores them (drnlib.recipes.data_options)."""
    return recipes.data_options({"object_scale": float(scale), "thinness": float(thinness), "seed": int(seed)})


def check_recipe(profile: str, name: str) -> dict:
    """The recipe's fields, refused with one line when its scenes cannot serve the experiment: generated scenes,
    a threshold set (holdout > 0), and a train split (num_samples) that holds limit_train + holdout scenes and
    a val split that holds limit_val."""
    fields = recipes.recipe(profile, name)
    options = fields.get("data_options") or {}
    if fields.get("dataset") != "synthetic" or not fields.get("holdout") or not fields.get("limit_train"):
        raise ParameterError(f"recipe {name} ({profile}) must train on dataset synthetic with limit_train and a "
                             "holdout > 0 (the scenes the localization threshold is chosen on)")
    needed = max(fields["limit_train"] + fields["holdout"], fields.get("limit_val") or 0)
    if options.get("num_samples", 0) < needed:
        raise ParameterError(f"recipe {name} ({profile}): data_options num_samples "
                             f"({options.get('num_samples')}) must be at least limit_train + holdout and "
                             f"limit_val ({needed}), or the runs train on fewer scenes than the recipe says")
    return fields


def specs(p) -> dict:
    """{(arch, object_scale, thinness, seed): RunSpec} of the page's sweep, conditions from easy to hard."""
    check_recipe(p.profile, p.recipe)
    return {(arch, s, t, seed): runs.RunSpec(p.recipe, arch, seed=seed, data_options=condition_options(s, t, seed))
            for s, t in conditions(p) for seed in p.seeds for arch in p.archs}


def needed_runs(page: str, p) -> list:
    """The runs the page trains: every network of `archs`, in every condition, for every seed."""
    return list(specs(p).values())


def trained(p) -> dict:
    """{(arch, object_scale, thinness, seed): finished Run} (drnlib.runs.get_all: found, resumed or trained; at the
    paper profile a missing run stops the page with the commands that train it)."""
    wanted = specs(p)
    done = runs.get_all(p.profile, list(wanted.values()))
    return {key: done[spec] for key, spec in wanted.items()}


def scene_options(p, scale: float, thinness: float, seed: int) -> dict:
    """The SyntheticScenes options of one condition: the recipe's with the condition's (as its runs have them),
    without num_samples."""
    cfg = recipes.config(p.profile, p.recipe, BASELINE, data_options=condition_options(scale, thinness, seed))
    return {k: v for k, v in cfg.data_options.items() if k != "num_samples"}


# What the runs measured.


def measure(sweep: dict) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(one row per run: arch, object_scale, thinness, seed, top1_error, box_error, loc_top1_error (%), the
    localization threshold, training seconds, run folder; one row per run and evaluation scene: the same keys,
    `scene` (its index) and each MEASURES error, 0 or 100). The top-1 error is the run's own evaluation; the
    localization errors come from runs.evaluate(run, task="localize") (threshold chosen on the held-out scenes)."""
    rows, scenes = [], []
    for (arch, scale, thinness, seed), run in sweep.items():
        val, loc = run.result["val"], runs.evaluate(run, task="localize")
        key = {"arch": arch, "object_scale": scale, "thinness": thinness, "seed": seed}
        rows.append({**key, "top1_error": val["top1_error"], "box_error": loc["box_error"],
                     "loc_top1_error": loc["loc_top1_error"], "threshold": loc["threshold"],
                     "threshold_scenes": loc["threshold_images"], "val_scenes": loc["images"],
                     "train_seconds": run.result["train_seconds"], "run": run.dir.name})
        wrong = {"top1_error": val["per_image"]["top1_wrong"], "box_error": loc["per_image"]["box_wrong"],
                 "loc_top1_error": loc["per_image"]["loc_top1_wrong"]}
        if len({len(v) for v in wrong.values()}) != 1:
            raise ParameterError(f"{run.dir.name}: its evaluations scored different scenes "
                                 f"({', '.join(f'{k} {len(v)}' for k, v in wrong.items())})")
        count = len(wrong["top1_error"])
        scenes.append(pd.DataFrame({**{k: [v] * count for k, v in key.items()}, "scene": range(count),
                                    **{k: 100.0 * np.asarray(v, dtype=float) for k, v in wrong.items()}}))
    return pd.DataFrame(rows), pd.concat(scenes, ignore_index=True)


def degradation(frame: pd.DataFrame, metric: str, factor: str) -> pd.Series:
    """How much `metric` (an error, in points) rises from the easiest to the hardest level of `factor` (the largest
    to the smallest object_scale; the lowest to the highest thinness), each level averaged over the other factor:
    one value per (arch, seed) of a per-run frame, or per (arch, seed, scene) of a per-scene frame.
    ParameterError for an unknown factor or fewer than two levels."""
    if factor not in HARDER:
        raise ParameterError(f"unknown factor {factor!r}; expected one of {', '.join(HARDER)}")
    levels = sorted(frame[factor].unique())
    if len(levels) < 2:
        raise ParameterError(f"{factor} needs at least two levels to measure a degradation, got {levels}")
    hard, easy = (levels[0], levels[-1]) if HARDER[factor] == "min" else (levels[-1], levels[0])
    units = [c for c in ("arch", "seed", "scene") if c in frame.columns]
    means = frame.groupby([*units, factor])[metric].mean()
    return (means.xs(hard, level=factor) - means.xs(easy, level=factor)).rename(f"{metric} rise")


def factor_ends(frame: pd.DataFrame, factor: str) -> tuple[float, float]:
    """(easiest, hardest) level of `factor` in a frame."""
    levels = sorted(frame[factor].unique())
    return (levels[-1], levels[0]) if HARDER[factor] == "min" else (levels[0], levels[-1])


def drn43(scenes: pd.DataFrame, scale: str = "") -> tuple[paper.Verdict, pd.DataFrame]:
    """DRN-43 (drnlib/claims.yaml): keeping resolution helps recognise small and thin objects. For each factor
    (smaller, thinner) and each DRN of DRNS, the margin is ResNet-18's rise of the error minus the DRN's (points;
    positive = the DRN loses less, as the claim says), with its 95% interval from a paired bootstrap over the
    evaluation scenes of every seed (drnlib.paper.decide, relation `beats`). The verdict (drnlib.paper.all_hold)
    takes the VERDICT_MEASURE comparisons: holds when all four intervals lie above 0, does not hold when any lies
    below 0, else not resolved. Returns it and a table of every comparison (each MEASURES error; per-seed margins
    beside the pooled one) for the page."""
    verdicts, rows, sentences = [], [], []
    for metric in MEASURES:
        for factor in HARDER:
            rise = degradation(scenes, metric, factor).unstack("arch").dropna()  # rows: (seed, scene)
            seeds = rise.groupby(level="seed").mean()
            easy, hard = factor_ends(scenes, factor)
            what = f"{MEASURES[metric]} rise from {factor.replace('object_', '')} {easy:g} to {hard:g}"
            evidence = {arch: paper.Evidence(pretty(arch), "mean", rise[arch].to_numpy(), False, unit="scenes")
                        for arch in (BASELINE, *DRNS)}
            base = evidence[BASELINE]
            if metric == VERDICT_MEASURE:
                sentences.append(f"{what}: " + ", ".join(f"{e.label} {e.value:+.1f}" for e in evidence.values())
                                 + " points")
            for drn in DRNS:
                side = evidence[drn]
                verdict = paper.decide("DRN-43", side, base, scale=scale, words=(
                    f"{what}: {base.label} {base.value:+.1f}, {side.label} {side.value:+.1f} points"))
                rows.append({"measure": MEASURES[metric], "harder": f"{factor} {easy:g} → {hard:g}",
                             "network": side.label, "its rise": side.value, f"{base.label}'s rise": base.value,
                             "margin [95%]": f"{verdict.margin:+.1f} [{verdict.interval[0]:+.1f}, "
                                             f"{verdict.interval[1]:+.1f}]",
                             "margin per seed": ", ".join(f"{m:+.1f}" for m in seeds[BASELINE] - seeds[drn]),
                             "verdict": verdict.verdict, "decides DRN-43": metric == VERDICT_MEASURE})
                if metric == VERDICT_MEASURE:
                    verdicts.append(verdict)
    return paper.all_hold("DRN-43", verdicts, ours="; ".join(sentences), scale=scale), pd.DataFrame(rows)


def rises(scenes: pd.DataFrame, archs: list[str]) -> dict:
    """{metric: {"scale" | "thinness": {arch: mean rise in points}}} of every MEASURES error (the page's numbers,
    under glue names such as rise_top1_error_scale_resnet18)."""
    return {metric: {factor.replace("object_", ""): {arch: float(value) for arch, value in degradation(
        scenes, metric, factor).groupby(level="arch").mean().reindex(archs).items()} for factor in HARDER}
        for metric in MEASURES}


def image_size(p) -> int:
    """The scenes' side in pixels (the recipe's)."""
    return int(recipes.recipe(p.profile, p.recipe)["data_options"]["image_size"])


def scale_note(p, frame: pd.DataFrame) -> str:
    """What DRN-43 is tested at, e.g. "synthetic 96-px scenes, 3 seeds x 1000 evaluation scenes per condition,
    4 x 3 conditions, mini profile"."""
    return (f"synthetic {image_size(p)}-px scenes, {len(p.seeds)} seed(s) × {int(frame['val_scenes'].iloc[0])} evaluation "
            f"scenes per condition, {len(p.scales)} × {len(p.thinness)} conditions, {p.profile} profile")


def per_condition(frame: pd.DataFrame, metric: str, archs: list[str]) -> pd.DataFrame:
    """`metric` per condition (rows: thinness, scale) and network (columns), as "mean ± sd" over the seeds (the mean
    alone for one seed)."""
    def mean_sd(values: pd.Series) -> str:
        return f"{values.mean():.1f}" + (f" ± {values.std():.1f}" if len(values) > 1 else "")

    table = frame.assign(scale=frame.object_scale.map("{:g}".format), thin=frame.thinness.map("{:g}".format))
    table = table.groupby(["thin", "scale", "arch"], sort=False)[metric].agg(mean_sd).unstack("arch")
    return table[archs].rename(columns=pretty).rename_axis(index=["thinness", "scale"], columns=None)


# One scene, seen by a trained network.


def example_scene(run: runs.Run, index: int):
    """Evaluation scene `index` of a run as its localization evaluation sees it: (picture uint8 3 x S x S, label,
    box [x0, y0, x1, y1] in pixel edges, the normalised whole image 3 x S x S its dense map is read from)."""
    options = {k: v for k, v in run.config.data_options.items() if k != "num_samples"}
    scenes = SyntheticScenes("val", "localize", num_samples=index + 1, **options)
    image, label, box, _ = scenes.render(index)
    (_, whole), _ = get_task("localize").eval_transform(run.config)(*scenes.load(index))
    return image, label, box.tolist(), whole


@torch.inference_mode()
def predicted_box(model: torch.nn.Module, image: torch.Tensor, label: int, threshold: float):
    """DRN Sec. 5.2 on one normalised image (3 x H x W) with a dense model: the box of class `label`
    ([x0, y0, x1, y1] pixel edges, or None when no cell qualifies) and the side of the dense map."""
    dense = model(image[None]).float().softmax(dim=1)
    boxes, found = class_boxes(dense, torch.tensor([label]), torch.tensor([list(image.shape[-2:])]), float(threshold))
    return (boxes[0].tolist() if bool(found[0]) else None), dense.shape[-1]


def draw_scene(ax, image: torch.Tensor, box, title: str, colour: str = "yellow") -> None:
    """A scene (uint8 3 x S x S) with a box ([x0, y0, x1, y1] pixel edges) on a matplotlib axis."""
    ax.imshow(image.permute(1, 2, 0).numpy())
    draw_box(ax, box, colour)
    ax.set_title(title, fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])


def draw_box(ax, box, colour: str) -> None:
    from matplotlib.patches import Rectangle

    x0, y0, x1, y1 = box  # pixel edges; imshow puts pixel centres on whole numbers
    ax.add_patch(Rectangle((x0 - 0.5, y0 - 0.5), x1 - x0, y1 - y0, fill=False, edgecolor=colour, linewidth=1.5))


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


__all__ = ["RULES", "RECIPES", "BASELINE", "DRNS", "HARDER", "MEASURES", "VERDICT_MEASURE", "conditions",
           "condition_options", "check_recipe", "specs", "needed_runs", "trained", "scene_options", "measure",
           "degradation", "factor_ends", "drn43", "rises", "image_size", "scale_note", "per_condition", "example_scene",
           "predicted_box", "draw_scene", "draw_box", "mask_geometry", "object_geometry"]
