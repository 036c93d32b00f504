"""The Wider-or-Deeper segmentation tables (WoD Tables 2-7): what their six pages share.

Every row of the tables is a network with a WoD classifier head ("1 conv" / "2 conv", WoD Sec. 5 (2)) trained with
one of the profile's segmentation recipes (params/<profile>/recipes.yaml: `wod_segmentation`, and at the paper
profile `wod_segmentation_cityscapes` / `_ade20k` / `_context`), a run of drnlib.runs shared by every page that
lists it. The recipe's `init: wod_classifier` starts each network from its own classifier, a WoD Table 1 run (Model
A1 from Model A's: drnlib.recipes.TUNED_FROM), so drnlib.runs trains the trunks first.

    p = start("wod_table2", globals())         # drnlib.pages.start: the page's parameters, checked with RULES
    trained = segmenters(p)                    # {Row: Run}, found or trained (Table 4: segmenters(p, "ade20k"))
    scores = validation_scores(trained)        # {Row: the run's val scores, with per-image confusion matrices}
    scores_table(scores), class_iou_table(scores)      # pixel acc. / mean acc. / mIoU, and IoU per class
    runs.evaluate(run, split="test", scales=[0.75, 1, 1.25], flip=True)   # another protocol (drnlib.runs, cached)
    category_scores(result, CATEGORIES["camvid"])      # Cityscapes-style category IoU from the confusion matrix
    peak_memory_gb(p, row)                     # Table 2's memory column (CUDA only, else None)
    table2_verdicts(p, trained, memory)        # the page's claims of drnlib/claims.yaml, by drnlib.paper's rule
    score_intervals(scores), table2_paper_points()     # the "paper vs ours" figure: ours with 95% intervals, theirs

Our "Model A1" is WoD's A1 network (Model A with its top three pools replaced by stride-2 convolutions) tuned from
Model A's classifier. WoD's "Model A2" is that network further tuned on Places365, which we do not have: our Model
A1 stands in for the paper's A2 rows only in claims that do not rest on Places365 (each page says so), and claims
that do (WOD-31, 37, 42) are not tested.

Not implemented from the WoD recipe (architectures.md B.6): 2x learning rate on biases, labels subsampled to 1/8
(our loss is on logits upsampled to the input), and "constant, then linear" learning rate (we use linear).
"""

from __future__ import annotations

import difflib
import gc
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from drnlib import paper, runs
from drnlib.errors import ParameterError
from drnlib.params import between, numbers, one_of

HEADS = ("1conv", "2conv")
PAPER = "wider_or_deeper"
SEGMENTATION_RECIPES = ("wod_segmentation", "wod_segmentation_cityscapes", "wod_segmentation_ade20k",
                        "wod_segmentation_context")

# The networks of the tables: our name -> the name on the page. Model A1 keeps its own name (see the docstring).
PAPER_NAMES = {"resnet50": "ResNet-50", "resnet101": "ResNet-101", "resnet152": "ResNet-152",
               **{f"model_{x}": f"Model {x.upper()}" for x in "abcdef"}, "model_a1": "Model A1"}

# Cityscapes' seven categories (its benchmark's category IoU), and CamVid's 11 classes grouped the same way.
# CamVid's "bicyclist" is the rider together with the bicycle; we count it as human (Cityscapes: rider -> human).
CATEGORIES = {
    "camvid": {"flat": ["road", "pavement"], "construction": ["building", "fence"],
               "object": ["pole", "sign_symbol"], "nature": ["tree"], "sky": ["sky"],
               "human": ["pedestrian", "bicyclist"], "vehicle": ["car"]},
    "cityscapes": {"flat": ["road", "sidewalk"], "construction": ["building", "wall", "fence"],
                   "object": ["pole", "traffic light", "traffic sign"], "nature": ["vegetation", "terrain"],
                   "sky": ["sky"], "human": ["person", "rider"],
                   "vehicle": ["car", "truck", "bus", "train", "motorcycle", "bicycle"]},
}

# The column names of the paper's Table 3 for VOC's classes.
VOC_SHORT_NAMES = {"aeroplane": "aero", "bicycle": "bike", "diningtable": "table", "motorbike": "mbike",
                   "pottedplant": "plant", "tvmonitor": "tv", "miou": "mIoU"}


# The networks of a table.


@dataclass(frozen=True, order=True)
class Row:
    """One network of a table: an architecture (a drnlib.models name) and its WoD classifier head."""

    arch: str
    head: str

    @property
    def label(self) -> str:
        """The row's name on the page, e.g. "Model A, 2 conv"."""
        return f"{PAPER_NAMES.get(self.arch, self.arch)}, {self.head[0]} conv"

    @property
    def key(self) -> str:
        """A name for results and glue, e.g. "model_a_2conv"."""
        return f"{self.arch}_{self.head}"

    @property
    def text(self) -> str:
        """The parameter spelling, e.g. "model_a:2conv"."""
        return f"{self.arch}:{self.head}"

    def spec(self, recipe: str) -> runs.RunSpec:
        """The run of this row under `recipe` (its head is the run's own option)."""
        return runs.RunSpec(recipe, self.arch, head=self.head)


def parse_row(text: str, name: str = "rows") -> Row:
    """'ResNet-101:1conv' -> Row("resnet101", "1conv"); ParameterError (one line, closest names) otherwise."""
    from drnlib.models import normalize_name

    arch, sep, head = str(text).partition(":")
    arch, head = normalize_name(arch).replace("resnet_", "resnet"), head.strip()
    if not sep or head not in HEADS:
        raise ParameterError(f"parameter {name}: {text!r} must be 'architecture:head' with head one of "
                             f"{', '.join(HEADS)}")
    if arch not in PAPER_NAMES:
        close = difflib.get_close_matches(arch, list(PAPER_NAMES), n=3)
        hint = f"did you mean {', '.join(close)}?" if close else f"choose from {', '.join(PAPER_NAMES)}"
        raise ParameterError(f"parameter {name}: unknown architecture {arch!r} for the WoD tables; {hint}")
    return Row(arch, head)


def wod_rows(at_least: int = 1):
    """A drnlib.params rule: networks as 'architecture:head' (a list parameter, or a str parameter for one network),
    normalised to our spelling ("ResNet-101:1conv" -> "resnet101:1conv"), without repeats."""
    def rule(name, value):
        items = value if isinstance(value, list) else [value]
        rows = [parse_row(item, name) for item in items]
        if len(set(rows)) != len(rows):
            raise ParameterError(f"parameter {name} lists a network twice: {value!r}")
        if len(rows) < at_least:
            raise ParameterError(f"parameter {name} needs at least {at_least} network(s), got {value!r}")
        texts = [row.text for row in rows]
        return texts if isinstance(value, list) else texts[0]
    return rule


def rows_of(texts) -> list[Row]:
    """[Row] of checked parameter values ("arch:head" strings)."""
    return [parse_row(text) for text in ([texts] if isinstance(texts, str) else texts)]


def describe_rows(rows) -> str:
    """'ResNet-101, 1 conv, Model A, 2 conv': the rows' labels, for prose."""
    return ", ".join(row.label for row in rows)


RECIPE = one_of(*SEGMENTATION_RECIPES)
SPLIT = one_of("val", "test")
SCALES = numbers(float, 0.25, 4.0)
RULES = {
    "wod_table2": {"rows": wod_rows(), "recipe": RECIPE, "memory_batch": between(1, 64),
                   "memory_size": between(32, 2048), "memory_classes": between(2, 1000)},
    "wod_table3": {"rows": wod_rows(at_least=2), "recipe": RECIPE, "split": SPLIT},
    "wod_table4": {"rows": wod_rows(), "recipe": RECIPE, "ade20k_rows": wod_rows(), "ade20k_recipe": RECIPE},
    "wod_table5": {"row": wod_rows(), "recipe": RECIPE, "split": SPLIT, "scales": SCALES},
    "wod_table6": {"row": wod_rows(), "average": wod_rows(at_least=2), "recipe": RECIPE, "split": SPLIT,
                   "scales": SCALES},
    "wod_table7": {"rows": wod_rows(at_least=2), "recipe": RECIPE},
}


# The runs of a page.


def blocks(p) -> dict[str, tuple[str, list[Row]]]:
    """{block: (recipe, rows)}: the networks a page trains, in its blocks ("main"; Table 4: "cityscapes" and
    "ade20k", each with its own recipe)."""
    if p.page == "wod_table4":
        return {"cityscapes": (p.recipe, rows_of(p.rows)), "ade20k": (p.ade20k_recipe, rows_of(p.ade20k_rows))}
    if p.page == "wod_table5":
        return {"main": (p.recipe, rows_of(p.row))}
    if p.page == "wod_table6":
        return {"main": (p.recipe, rows_of(list(dict.fromkeys([p.row, *p.average]))))}
    return {"main": (p.recipe, rows_of(p.rows))}


def needed_runs(page: str, p) -> list:
    """The segmentation runs a page trains, each once (drnlib.runs adds their classifier trunks)."""
    return list(dict.fromkeys(row.spec(recipe) for recipe, rows in blocks(p).values() for row in rows))


def segmenters(p, block: str = "main") -> dict[Row, runs.Run]:
    """{Row: finished Run} of one block of the page (drnlib.runs.get_all: found, resumed or trained, trunks
    first). Every run of the page is asked for at once, so at the paper profile one error lists them all."""
    parts = blocks(p)
    if block not in parts:
        raise ParameterError(f"{p.page} has no block {block!r}; it has {', '.join(parts)}")
    trained = runs.get_all(p.profile, needed_runs(p.page, p))
    recipe, rows = parts[block]
    return {row: trained[row.spec(recipe)] for row in rows}


def trunks(p, recipe: str, rows) -> dict:
    """{Row: the finished classifier run its network was tuned from} (WoD Table 1 runs, `wod_classifier`, whose
    validation scores keep per-image top-1 errors); rows whose recipe starts from no classifier, or whose classifier
    is not stored, are left out."""
    out = {}
    for row in rows:
        spec = runs.trunk(row.spec(recipe), p.profile)
        run = runs.find(p.profile, spec) if spec is not None else None
        if run is not None:
            out[row] = run
    return out


def validation_scores(trained: dict) -> dict:
    """{row: the run's validation scores} (computed at the end of training with the recipe's protocol)."""
    return {row: run.result["val"] for row, run in trained.items()}


def scale_note(p, run: runs.Run, split: str, images: int) -> str:
    """What a page's claims are tested at, e.g. "camvid test, 233 images, mini profile"."""
    return f"{run.config.dataset} {split}, {images:,} images, {p.profile} profile"


# Tables of scores. A "scores" dict maps a row (a Row or a label) to a score dict of drnlib.eval (pixel_acc,
# mean_acc, miou, iou, class_names, per_image): a run's validation scores, or a runs.evaluate result.

SCORE_COLUMNS = {"pixel_acc": "pixel acc.", "mean_acc": "mean acc.", "miou": "mean IoU"}
# Column names as the paper's tables print them.
DISPLAY_NAMES = {**SCORE_COLUMNS, "class_iou": "class IoU", "class_iiou": "class iIoU",
                 "category_iou": "category IoU", "category_iiou": "category iIoU", "score": "score"}
# Axis labels of the figures.
AXIS_LABELS = {column: f"{name} (%)" for column, name in DISPLAY_NAMES.items()}


def _label(row) -> str:
    return row.label if isinstance(row, Row) else str(row)


def shown(frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` with its score columns named as in the paper ("miou" -> "mean IoU"), for display."""
    out = frame.rename(columns=DISPLAY_NAMES)
    out.attrs = dict(frame.attrs)
    return out


def scores_table(scores: dict) -> pd.DataFrame:
    """Pixel accuracy, mean class accuracy and mIoU (%), one row per entry of `scores` (in order)."""
    frame = pd.DataFrame({_label(row): {k: s[k] for k in SCORE_COLUMNS} for row, s in scores.items()}).T
    frame.index.name = "network"
    return frame.astype(float)


def class_iou_table(scores: dict) -> pd.DataFrame:
    """IoU (%) of every class (columns, in the data set's order) and the mIoU, one row per entry of `scores`."""
    frame = pd.DataFrame({_label(row): {**dict(zip(s["class_names"], s["iou"])), "miou": s["miou"]}
                          for row, s in scores.items()}).T
    frame.index.name = "network"
    return frame.astype(float)


def wins(frame: pd.DataFrame, row_label: str, columns=None) -> dict:
    """Columns where `row_label` scores strictly above every other row: {"wins": n, "of": m, "classes": [...],
    "won": [True/False per counted column]}; columns without any score (a class absent from the images and the
    predictions) are left out, and a tie for the best score is no win."""
    columns = [c for c in (columns if columns is not None else frame.columns) if frame[c].notna().any()]
    mine, best_other = frame.loc[row_label], frame.drop(index=row_label).max()
    won = [pd.notna(mine[c]) and (pd.isna(best_other[c]) or mine[c] > best_other[c]) for c in columns]
    return {"wins": sum(won), "of": len(columns), "classes": [c for c, w in zip(columns, won) if w], "won": won}


def merge_categories(confusion, class_names, groups: dict[str, list[str]]) -> np.ndarray:
    """Confusion matrices [..., C, C] (rows: truth) merged into categories [..., K, K]: each category's rows and
    columns summed. Every class must belong to exactly one category (ParameterError otherwise)."""
    names = list(class_names)
    owner = {}
    for category, members in groups.items():
        for name in members:
            if name not in names:
                raise ParameterError(f"category {category!r}: no class {name!r} (classes: {', '.join(names)})")
            if name in owner:
                raise ParameterError(f"class {name!r} is in categories {owner[name]!r} and {category!r}")
            owner[name] = category
    missing = [n for n in names if n not in owner]
    if missing:
        raise ParameterError(f"classes in no category: {', '.join(missing)}")
    categories = list(groups)
    merge = np.zeros((len(categories), len(names)))
    for j, name in enumerate(names):
        merge[categories.index(owner[name]), j] = 1
    return merge @ np.asarray(confusion, dtype=np.float64) @ merge.T


def category_scores(result: dict, groups: dict[str, list[str]]) -> dict:
    """Category-level IoU (%) from a score dict with its confusion matrix (Cityscapes' category IoU): classes are
    merged into categories, then scored like classes. Returns {"miou": mean over categories, "iou": {category:
    IoU}, "pixel_acc": ...}."""
    from drnlib.eval import segmentation_scores

    matrix = merge_categories(result["confusion"], result["class_names"], groups)
    scores = segmentation_scores(torch.from_numpy(matrix), list(groups))
    return {"miou": scores["miou"], "pixel_acc": scores["pixel_acc"], "iou": dict(zip(groups, scores["iou"]))}


def ade_score(scores: dict) -> float:
    """The ADE20K benchmark's score (WoD Table 6): the mean of pixel accuracy and mean IoU."""
    return (scores["pixel_acc"] + scores["miou"]) / 2


# Claims: evidence from per-image confusion matrices, one comparison rule (drnlib.paper).


def confusion_metric(confusion: np.ndarray, metric: str) -> np.ndarray:
    """A score (%) of summed confusion matrices [..., C, C] (rows: truth), as drnlib.eval.segmentation_scores
    computes it: miou, pixel_acc, mean_acc (over classes present in the truth), or score (ADE20K's mean of pixel
    accuracy and mIoU)."""
    if metric == "miou":
        return paper.miou_of(confusion)
    tp = np.diagonal(confusion, axis1=-2, axis2=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        pixel_acc = 100 * tp.sum(-1) / confusion.sum((-2, -1))
        if metric == "pixel_acc":
            return pixel_acc
        if metric == "mean_acc":
            truth = confusion.sum(-1)
            return 100 * np.nanmean(np.where(truth > 0, tp / np.where(truth > 0, truth, 1), np.nan), axis=-1)
    if metric == "score":
        return (pixel_acc + paper.miou_of(confusion)) / 2
    raise ParameterError(f"unknown segmentation metric {metric!r}; expected miou, pixel_acc, mean_acc or score")


@dataclass
class ConfusionEvidence(paper.Evidence):
    """drnlib.paper.Evidence of kind "iou" (per-image confusion matrices) scored by `metric` (confusion_metric)
    instead of the mIoU: pixel accuracy, mean accuracy, or ADE20K's score."""

    metric: str = "miou"

    def statistic(self, index: np.ndarray) -> np.ndarray:
        return confusion_metric(self.data[index].sum(axis=-3), self.metric)


def evidence(label: str, scores: dict, metric: str = "miou", groups: dict | None = None) -> paper.Evidence:
    """One side of a comparison from a score dict's per-image confusion matrices: `metric` (miou, pixel_acc,
    mean_acc, score) of the classes, or with `groups` of the categories (Cityscapes' category IoU)."""
    per_image = (scores.get("per_image") or {}).get("confusion")
    if per_image is None:
        raise ParameterError(f"{label}: the scores have no per-image confusion matrices; evaluate again")
    data = np.asarray(per_image, dtype=np.float64)
    if groups is not None:
        data = merge_categories(data, scores["class_names"], groups)
    return ConfusionEvidence(label, "iou", data, True, metric=metric)


def compare(claim_id: str, scores: dict, better: Row, worse: Row, metric: str = "miou", scale: str = "",
            words: str | None = None) -> paper.Verdict:
    """drnlib.paper.decide for "`better` scores above `worse` on `metric`" (or matches it, by the claim's relation
    in claims.yaml); "not tested" when the page does not list one of them at this profile."""
    missing = [row.label for row in (better, worse) if row not in scores]
    if missing:
        return paper.not_tested(claim_id, f"{' and '.join(missing)} not among this profile's rows")
    a, b = (evidence(row.label, scores[row], metric) for row in (better, worse))
    if words is None and metric != "miou":  # name the score when it is not the tables' usual mIoU
        words = f"{DISPLAY_NAMES.get(metric, metric)}: {a.describe()} vs {b.describe()}"
    return paper.decide(claim_id, a, b, scale=scale, words=words)


def _classifies(p, claim_id: str, classifiers: dict, better: Row, worse: Row) -> paper.Verdict:
    """`better`'s classifier (the WoD Table 1 run it was tuned from, `trunks`) has a lower top-1 error than
    `worse`'s, on the same validation images."""
    missing = [row.label for row in (better, worse) if row not in classifiers]
    if missing:
        return paper.not_tested(claim_id, f"no stored classifier for {' and '.join(missing)}")
    a, b = (paper.Evidence.from_scores(f"{row.label.split(',')[0]} classifier", classifiers[row].result["val"],
                                       "top1_error") for row in (better, worse))
    run = classifiers[better]
    return paper.decide(claim_id, a, b, relation="beats",
                        scale=scale_note(p, run, "val", run.result["val_images"]) + " (classifiers)")


def page_verdicts(page: str, verdicts: list) -> list:
    """Every claim of `page` in claims.yaml's order: the computed `verdicts`, and "not tested" with the reason for
    those marked untestable with our data. A testable claim without a verdict is a bug (ParameterError)."""
    computed = {v.claim: v for v in verdicts}
    out = []
    for info in paper.page_claims(page):
        if not info.testable:
            out.append(paper.not_tested(info.id, info.why_not or "not testable with our data"))
        elif info.id in computed:
            out.append(computed[info.id])
        else:
            raise ParameterError(f"{page}: no verdict for claim {info.id}")
    return out


def claims_values(verdicts) -> dict:
    """{claim id: verdict as a dict}: what a page stores as values["claims"]."""
    return {v.claim: v.as_dict() for v in verdicts}


# Table 2: backbones, heads, memory.


def peak_memory_gb(p, row: Row, recipe: str | None = None) -> float | None:
    """Peak GPU memory (GiB) of fine-tuning `row` (built as its recipe builds it) in fp32 with p.memory_batch
    images of p.memory_size² and p.memory_classes classes (WoD Table 2: 4 images of ~500² per device, MXNet).
    None where there is no CUDA device; inf when it runs out of memory."""
    from drnlib.analysis.speed import peak_training_memory
    from drnlib.models import build_model

    if not torch.cuda.is_available():
        return None
    cfg = runs.config(p.profile, row.spec(recipe or p.recipe))
    gc.collect()  # what earlier cells left on the GPU must not count
    torch.cuda.empty_cache()
    model = build_model(row.arch, p.memory_classes, "segment", **cfg.model_options())
    try:
        return peak_training_memory(model, p.memory_batch, p.memory_size, device="cuda", precision="fp32",
                                    num_classes=p.memory_classes) / 2**30
    except torch.cuda.OutOfMemoryError:
        return math.inf
    finally:
        del model
        torch.cuda.empty_cache()


def head_field_cells(head: str = "2conv") -> int:
    """Receptive field, in cells of the final feature map, of a WoD classifier head (its dilated 3x3 convs)."""
    from drnlib.models.network import make_segment_head

    with torch.device("meta"):
        module = make_segment_head(head, 8, 2)
    convs = [m for m in module.modules() if isinstance(m, torch.nn.Conv2d)]
    return 1 + sum((c.kernel_size[0] - 1) * c.dilation[0] for c in convs)


def output_stride(p, row: Row, recipe: str, side: int = 224) -> float:
    """Input side / final feature map side of `row`'s segmentation network as its recipe builds it (meta device)."""
    from drnlib.analysis.architecture import final_resolution

    cfg = runs.config(p.profile, row.spec(recipe))
    return side / final_resolution(row.arch, side, num_classes=2, task="segment", **cfg.model_options())


def design_verdict(p, rows, recipe: str) -> paper.Verdict:
    """WOD-25 on the built networks: every row's score maps are 1/8 of the input, and the 2-conv head spans
    392 pixels (WoD Sec. 5 (1)-(2); the paper's numbers in published.yaml)."""
    known = paper.notes(PAPER, "table2_voc_val")["known"]
    strides = {row: output_stride(p, row, recipe) for row in rows}
    cells = head_field_cells("2conv")
    field = cells * known["output_stride"]
    holds = all(s == known["output_stride"] for s in strides.values()) and field == known["head_receptive_field"]
    odd = [f"{row.label} 1/{s:g}" for row, s in strides.items() if s != known["output_stride"]]
    ours = (f"score maps at 1/{known['output_stride']} for all {len(rows)} rows" if not odd else
            f"score maps not at 1/{known['output_stride']}: {', '.join(odd)}")
    ours += f"; 2-conv head: {cells}x{cells} cells = {field}x{field} pixels at stride {known['output_stride']}"
    return paper.exact("WOD-25", holds, ours)


def memory_verdicts(memory: dict) -> list:
    """WOD-23 (the WoD models tune in less memory than ResNet-152) and WOD-29 (ResNet-152 needs more than 12 GB,
    the WoD models fit), from Table 2's memory column ({Row: GiB or None}) of the 1-conv rows."""
    if any(value is None for value in memory.values()):
        why = "needs a GPU: peak CUDA memory of a training step"
        return [paper.not_tested("WOD-23", why), paper.not_tested("WOD-29", why)]
    deep = Row("resnet152", "1conv")
    ours = [row for row in memory if row.arch.startswith("model_") and row.head == "1conv"]
    if deep not in memory or not ours:
        why = "needs the ResNet-152 and WoD model rows with 1 conv"
        return [paper.not_tested("WOD-23", why), paper.not_tested("WOD-29", why)]
    limit = paper.claims()["WOD-29"].threshold
    scale = f"peak memory of a training step, PyTorch fp32, {torch.cuda.get_device_name()}"
    listed = ", ".join(f"{row.label.split(',')[0]} {memory[row]:.1f}" for row in ours)
    words = f"ResNet-152 {memory[deep]:.1f} GiB; {listed} GiB"
    return [paper.exact("WOD-23", all(memory[row] < memory[deep] for row in ours), words, scale),
            paper.exact("WOD-29", memory[deep] > limit and all(memory[row] <= limit for row in ours),
                        f"{words} (limit {limit:g} GiB)", scale)]


def table2_verdicts(p, trained: dict, memory: dict) -> list:
    """The claims of WoD Table 2 (WOD-23 ... 31) from the page's runs ({Row: Run}) and memory column."""
    scores = validation_scores(trained)
    first = next(iter(trained.values()))
    scale = scale_note(p, first, "val", first.result["val_images"])
    r101, r152, model_b = Row("resnet101", "1conv"), Row("resnet152", "1conv"), Row("model_b", "1conv")
    a, a1, a_2conv = Row("model_a", "1conv"), Row("model_a1", "1conv"), Row("model_a", "2conv")
    segments = compare("WOD-30", scores, r101, model_b, scale=scale)
    classifiers = trunks(p, p.recipe, [r101, model_b] if segments.verdict != "not tested" else [])
    verdicts = [
        *memory_verdicts(memory),
        compare("WOD-24", scores, a1, a, scale=scale),  # strided downsampling (A1) beats pooling (A)
        design_verdict(p, list(trained), p.recipe),
        compare("WOD-26", scores, r152, r101, scale=scale),  # a `matches` claim (claims.yaml)
        compare("WOD-27", scores, a, r152, scale=scale),
        compare("WOD-28", scores, a_2conv, a, scale=scale),
        segments if segments.verdict == "not tested" else paper.all_hold(
            "WOD-30", [segments, _classifies(p, "WOD-30", classifiers, model_b, r101)]),
    ]
    return page_verdicts("wod_table2", verdicts)


# Table 3: class by class.


def table3_verdicts(p, scores: dict, scale: str) -> list:
    """The claims of WoD Table 3 (WOD-32 ... 34) from the rows' scores on the page's split ({Row: evaluation}):
    Model A (2 conv) against the page's other rows, which stand in for the earlier methods."""
    model_a = Row("model_a", "2conv")
    others = [row for row in scores if row != model_a]
    if model_a not in scores:
        why = "Model A (2 conv) not among this profile's rows"
        return page_verdicts("wod_table3", [paper.not_tested("WOD-32", why), paper.not_tested("WOD-33", why)])
    best = paper.all_hold("WOD-32", [compare("WOD-32", scores, model_a, other, scale=scale) for other in others],
                          ours=None)
    best.ours = f"{best.ours} ({describe_rows(others)} with our recipe stand in for VeryDeep, a ResNet-101 FCN)"
    table = class_iou_table(scores)
    counted = wins(table, model_a.label, [c for c in table.columns if c != "miou"])
    share = paper.Evidence(f"{model_a.label}: classes won", "mean", 100.0 * np.asarray(counted["won"], dtype=float),
                           True, unit="classes")
    won = paper.decide("WOD-33", share, scale=f"{scale}; bootstrap over the classes", words=(
        f"best on {counted['wins']} of {counted['of']} classes ({', '.join(counted['classes']) or 'none'}) against "
        f"{describe_rows(others)}"))
    return page_verdicts("wod_table3", [best, won])


# Table 4: Cityscapes and ADE20K blocks.


def table4_verdicts(p, city: dict, ade: dict) -> list:
    """The claims of WoD Table 4 (WOD-35 ... 43) from the two blocks' runs ({Row: Run} each). Our Model A1 stands
    in for the paper's A2 rows where the claim does not rest on Places365 (WOD-41, 43)."""
    def block_scale(trained):
        first = next(iter(trained.values()))
        return scale_note(p, first, "val", first.result["val_images"])

    city_scores, ade_scores = validation_scores(city), validation_scores(ade)
    city_scale, ade_scale = block_scale(city), block_scale(ade)
    r101, r152, a1 = Row("resnet101", "1conv"), Row("resnet152", "1conv"), Row("model_a1", "1conv")
    r101_2, r152_2, a1_2 = Row("resnet101", "2conv"), Row("resnet152", "2conv"), Row("model_a1", "2conv")
    verdicts = [compare("WOD-35", city_scores, r152, r101, scale=city_scale),  # a `matches` claim (claims.yaml)
                compare("WOD-36", city_scores, a1, r101, scale=city_scale),
                compare("WOD-40", ade_scores, r152_2, r101_2, scale=ade_scale),
                compare("WOD-41", ade_scores, a1_2, r152_2, scale=ade_scale), second_best(p, ade, ade_scale)]
    return page_verdicts("wod_table4", verdicts)


def second_best(p, ade: dict, scale: str) -> paper.Verdict:
    """WOD-43: Model C (2 conv) beats every ADE20K row but the paper's first (Model A2; ours: Model A1), although
    its classifier is worse than Model A's."""
    scores = validation_scores(ade)
    model_c, model_a, first = Row("model_c", "2conv"), Row("model_a", "2conv"), Row("model_a1", "2conv")
    missing = [row.label for row in (model_c, model_a, first) if row not in scores]
    if missing:
        return paper.not_tested("WOD-43", f"{' and '.join(missing)} not among this profile's rows")
    rank = 1 + sum(scores[row]["miou"] > scores[model_c]["miou"] for row in scores)
    beaten = [compare("WOD-43", scores, model_c, row, scale=scale) for row in scores if row not in (model_c, first)]
    classifiers = trunks(p, p.ade20k_recipe, [model_a, model_c])
    verdict = paper.all_hold("WOD-43", [*beaten, _classifies(p, "WOD-43", classifiers, model_a, model_c)])
    verdict.ours = f"Model C ranks {rank} of {len(scores)} by mIoU; {verdict.ours}"
    return verdict


# Table 5: single- and multi-scale testing, classes and categories.


def table5_verdicts(p, protocols: dict, groups: dict, scale: str) -> list:
    """The claims of WoD Table 5 (WOD-38, 39) from the network's evaluations {"single scale": ..., "multi-scale":
    ...} on the page's split: multi-scale testing raises the class IoU and the category IoU (paired over the
    images). The iIoU half of WOD-39 needs instance labels, which CamVid lacks: said in the verdict's words."""
    single, multi = protocols["single scale"], protocols["multi-scale"]
    parts = []
    for what, grouping in (("class IoU", None), ("category IoU", groups)):
        a = evidence(f"multi-scale {what}", multi, groups=grouping)
        b = evidence(f"single scale {what}", single, groups=grouping)
        parts.append(paper.decide("WOD-39", a, b, scale=scale))
    verdict = paper.all_hold("WOD-39", parts)
    verdict.ours += "; the iIoU half is not tested (no instance-level scoring here; CamVid has no instance labels)"
    return page_verdicts("wod_table5", [verdict])


# Table 6: the steps of the ADE20K test entry.


def testing_steps(p, single: runs.Run, members: list) -> dict:
    """WoD Table 6's steps on the page's split: the single network at one scale and at p.scales (p.flip), then
    the softmax average of `members` ([Run]) the same two ways: {name: evaluation} (drnlib.runs.evaluate, cached)."""
    single_name = next(row.label for row in rows_of(p.row))
    average = "average of " + " and ".join(row.label.split(",")[0] for row in rows_of(p.average))
    multi = {"scales": list(p.scales), "flip": p.flip}
    return {f"{single_name}, single scale": runs.evaluate(single, split=p.split),
            f"{single_name}, multi-scale": runs.evaluate(single, split=p.split, **multi),
            f"{average}, single scale": runs.evaluate(members, split=p.split),
            f"{average}, multi-scale": runs.evaluate(members, split=p.split, **multi)}


def table6_verdicts(p, steps: dict, scale: str) -> list:
    """The claims of WoD Table 6 (WOD-44 ... 46) from `testing_steps`: multi-scale testing and model averaging
    each raise the benchmark's score (mean of pixel accuracy and mIoU; paired over the images). There is no CRF
    in this project: that step is said in the words, not tested."""
    (single, single_ms, average, average_ms) = steps.values()
    names = list(steps)

    def raises(a, b):
        return paper.decide("WOD-44", evidence(names[a], steps[names[a]], "score"),
                            evidence(names[b], steps[names[b]], "score"), scale=scale)

    verdict = paper.all_hold("WOD-44", [raises(1, 0), raises(2, 0), raises(3, 1)])
    verdict.ours += "; CRF post-processing not tested (no CRF here)"
    return page_verdicts("wod_table6", [verdict])


# Table 7: PASCAL Context.


def table7_verdicts(p, trained: dict) -> list:
    """The claims of WoD Table 7 (WOD-47, 48): the first row (Model A1 standing in for A2, 2 conv) beats every
    other row (standing in for the earlier methods) on pixel accuracy, mean accuracy and mIoU."""
    scores = validation_scores(trained)
    first = next(iter(trained.values()))
    scale = scale_note(p, first, "val", first.result["val_images"])
    mine, *others = list(trained)
    verdict = paper.all_hold("WOD-47", [compare("WOD-47", scores, mine, other, metric, scale)
                                        for metric in SCORE_COLUMNS for other in others])
    verdict.ours = (f"{mine.label} vs {describe_rows(others)} (standing in for the earlier methods) on pixel acc., "
                    f"mean acc. and mIoU: {verdict.ours}")
    return page_verdicts("wod_table7", [verdict])


# The paper's side of tables whose cells are unknown.


def unknown_paper_frame(labels, columns, table: str) -> pd.DataFrame:
    """The paper's side of a table whose cells are not known: every cell NaN (shown as "–"), source noted."""
    frame = pd.DataFrame(math.nan, index=list(labels), columns=list(columns))
    unconfirmed = paper.notes(PAPER, table).get("unconfirmed", [])
    frame.attrs["source"] = f"WoD {table}: cells unknown ({', '.join(unconfirmed)})"
    return frame


# The "paper vs ours" figures: ours with their 95% intervals, the paper's known numbers beside them.

BLOCK_NAMES = {"main": "", "cityscapes": "Cityscapes", "ade20k": "ADE20K"}
# Where the paper's number is Model A2's (2 conv), our Model A1 (2 conv) stands in for it (see the docstring).
A2_STAND_IN = Row("model_a1", "2conv")


def score_intervals(scores: dict, metrics=tuple(SCORE_COLUMNS), groups: dict | None = None) -> pd.DataFrame:
    """Each entry of `scores` ({row: score dict with per-image confusion matrices}) on each of `metrics` (miou,
    pixel_acc, mean_acc, score; %) with its 95% interval, a bootstrap over the images (`evidence`; the mIoU by
    drnlib.paper.Evidence.from_scores); with `groups`, of the categories (Cityscapes' category IoU). Rows by label,
    columns (metric, value | low | high)."""
    def side(label, s, metric):
        if metric == "miou" and groups is None:
            return paper.Evidence.from_scores(label, s, "miou")
        return evidence(label, s, metric, groups)

    return pd.concat({metric: paper.interval_table({_label(row): side(_label(row), s, metric)
                                                    for row, s in scores.items()}) for metric in metrics}, axis=1)


def table4_intervals(blocks_scores: dict) -> pd.DataFrame:
    """`score_intervals` of both blocks of Table 4 ({block: {row: scores}}), rows labelled with their block
    ("Cityscapes: ResNet-101, 1 conv"): one figure shows both."""
    frames = [score_intervals(scores).rename(index=lambda label, b=block: f"{BLOCK_NAMES[b]}: {label}")
              for block, scores in blocks_scores.items()]
    return pd.concat(frames)


def table5_intervals(protocols: dict, groups: dict) -> pd.DataFrame:
    """Table 5's class IoU and category IoU (`groups`: CATEGORIES of the data set) of each testing protocol
    ({"single scale": scores, "multi-scale": scores}), with their bootstrap 95% intervals: columns (class_iou |
    category_iou, value | low | high), named as published.yaml names the paper's columns."""
    return pd.concat({"class_iou": score_intervals(protocols, ["miou"])["miou"],
                      "category_iou": score_intervals(protocols, ["miou"], groups)["miou"]}, axis=1)


def _stand_in_label(labels, prefix: str = "") -> str:
    """The row that carries the paper's Model A2 (2 conv) number: our Model A1 (2 conv) where the page has it,
    else a row of the paper's own."""
    ours = f"{prefix}{A2_STAND_IN.label}"
    return ours if ours in list(labels) else f"{prefix}Model A2, 2 conv"


def table2_paper_points() -> pd.DataFrame:
    """What is known of WoD Table 2 (every cell is lost): the VOC val mIoU of the released Model A1 (2 conv), as rows
    of their own (columns as `scores_table`)."""
    released = paper.notes(PAPER, "table2_voc_val")["released_models"]
    return pd.DataFrame({"miou": {f"{A2_STAND_IN.label} (released, VOC + SBD)": released["A1_2conv_voc_sbd_val_miou"],
                                  f"{A2_STAND_IN.label} (released, VOC + SBD + COCO)":
                                      released["A1_2conv_voc_sbd_coco_val_miou"]}},
                        columns=list(SCORE_COLUMNS))


def table3_paper_points(published: pd.DataFrame) -> pd.Series:
    """WoD Table 3's mean IoU per row (VOC test): Model A (2 conv) on our row of that name, the earlier methods
    as rows of their own (our competitors only stand in for them in the claims)."""
    names = {"ModelA_2conv": Row("model_a", "2conv").label, "Context_COCO": "Context (+COCO)",
             "DeepLabv2_COCO": "DeepLab-v2 (+COCO)"}
    return published["miou"].rename(index=lambda name: names.get(name, name)).rename("miou")


def table4_paper_points(labels) -> pd.DataFrame:
    """What is known of WoD Table 4, as `table4_intervals` labels its rows: Model A2's ADE20K mIoU (a third-party
    reading) on our ADE20K Model A1 (2 conv) where the page has it, and the released Model A1 (2 conv) on both data
    sets as rows of their own."""
    notes = paper.notes(PAPER, "table4_val")
    released, prefix = notes["released_models"], f"{BLOCK_NAMES['ade20k']}: "
    return pd.DataFrame({
        _stand_in_label(labels, prefix): {"miou": notes["known"]["ade20k_A2_2conv_miou"]},
        f"{BLOCK_NAMES['cityscapes']}: {A2_STAND_IN.label} (released)": {
            "miou": released["cityscapes_val_A1_2conv_miou"]},
        f"{prefix}{A2_STAND_IN.label} (released)": dict(released["ade20k_val_A1_2conv"])},
        index=list(SCORE_COLUMNS)).T


def table7_paper_points(labels) -> pd.Series:
    """What is known of WoD Table 7: Model A2's PASCAL Context mIoU, on our Model A1 (2 conv) where the page has
    it."""
    known = paper.notes(PAPER, "table7_pascal_context_val")["known"]
    return pd.Series({_stand_in_label(labels): known["A2_2conv_miou"]}, name="miou")


# Figures.


def score_bars(frame: pd.DataFrame, columns=("miou",), title: str = "", xlabel: str = "%"):
    """Horizontal bars of `columns` per row of `frame` (first row on top); returns the figure."""
    import matplotlib.pyplot as plt

    bars = frame[list(columns)].rename(columns=DISPLAY_NAMES).iloc[::-1]
    fig, ax = plt.subplots(figsize=(8, 0.42 * len(bars) * max(1, len(columns)) ** 0.5 + 1.3))
    bars.plot.barh(ax=ax, width=0.8, legend=len(columns) > 1)
    ax.set(xlabel=xlabel, ylabel="", title=title)
    if len(columns) > 1:
        handles, labels = ax.get_legend_handles_labels()
        ax.legend(handles[::-1], labels[::-1], loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return fig


__all__ = ["AXIS_LABELS", "CATEGORIES", "DISPLAY_NAMES", "HEADS", "PAPER_NAMES", "RULES", "SCORE_COLUMNS",
           "SEGMENTATION_RECIPES", "VOC_SHORT_NAMES", "ConfusionEvidence", "Row", "ade_score", "blocks",
           "category_scores", "claims_values", "class_iou_table", "compare", "confusion_metric", "describe_rows",
           "design_verdict", "evidence", "head_field_cells", "memory_verdicts", "merge_categories", "needed_runs",
           "output_stride", "page_verdicts", "parse_row", "score_intervals", "table4_intervals", "table5_intervals",
           "table2_paper_points", "table3_paper_points", "table4_paper_points", "table7_paper_points", "BLOCK_NAMES",
           "A2_STAND_IN", "peak_memory_gb", "rows_of", "scale_note", "score_bars", "scores_table", "second_best",
           "segmenters", "shown", "table2_verdicts", "table3_verdicts", "table4_verdicts", "table5_verdicts",
           "table6_verdicts", "table7_verdicts", "testing_steps", "trunks", "unknown_paper_frame", "validation_scores",
           "wins", "wod_rows"]
