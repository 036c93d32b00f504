"""The Wider-or-Deeper segmentation tables (WoD Tables 2-7): what their six pages share.

The six pages train the same networks with one recipe and differ only in what they show, so everything that
trains or evaluates a network lives here and the pages (book/wod_table2.py ... wod_table7.py) stay thin:

    recipe = Recipe.from_params(globals())       # a page's training knobs (Recipe's fields), the same on every page
    rows = parse_rows("resnet101:1conv, model_a:2conv")   # the table's networks: architecture + WoD head
    runs = train_rows(rows, recipe, profile)     # {Row: Run}; each (network, head, recipe) is trained ONCE
    scores = validation_scores(runs)             # {row label: scores stored with the run (val split)}
    scores_table(scores), class_iou_table(scores)    # pixel acc. / mean acc. / mIoU, and IoU per class
    result = evaluate_rows([run_a, run_c], recipe, split="test", scales=(0.75, 1, 1.25), flip=True)
                                                 # another protocol, cached; several runs: softmax averaged
    category_scores(result, CATEGORIES["camvid"])    # Cityscapes-style category IoU from the confusion matrix
    peak_memory_gb(row, num_classes=21)          # Table 2's memory column (CUDA only, else None)
    margin_claim(...), relation(...), paper_notes(...)   # claims rows with the paper's own words

A run is `drnlib.experiments.trained` with the model built here (RunConfig has no head / output-stride knobs, so
they join the run's key through `extra_key`, with the evaluation protocol of the stored validation scores).
With `pretrain_epochs > 0` each trunk is first trained as a classifier on `pretrain_dataset` (Tiny-ImageNet-100
standing in for ImageNet), itself a shared run, and the segmentation network starts from it; WoD's Model A2 (the
A1 net tuned on Places365) becomes the A1 net started from Model A's classifier, as the paper starts A1 from A.

Not implemented from the WoD recipe (architectures.md B.6): 2x learning rate on biases, labels subsampled to 1/8
(our loss is on logits upsampled to the input), and "constant, then linear" learning rate (we use linear).
"""

from __future__ import annotations

import difflib
import functools
import gc
import hashlib
import json
import math
from dataclasses import asdict, dataclass, fields
from importlib import resources
import pandas as pd
import torch
import yaml
from torch import nn

from drnlib import data
from drnlib.data import transforms as T
from drnlib.errors import ParameterError
from drnlib.eval import AveragedModels, evaluate, segmentation_scores
from drnlib.experiments import Run, run_dir, settings_key, trained
from drnlib.models import build_model, load_weights, normalize_name
from drnlib.train import RunConfig, resolve_device
from drnlib.train.checkpoint import atomic_write_json
from drnlib.train.engine import CHECKPOINT

HEADS = ("1conv", "2conv")
SEGMENT_DATASETS = ("camvid", "voc_aug", "cityscapes", "ade20k", "pascal_context")
OUTPUT_STRIDE = 8  # every network of the tables: score maps at 1/8 of the input (WoD Section 5)

# The networks of the tables: our name -> the paper's row name. WoD's "Model A2" is Model A1's network (Model A
# with its top three pools replaced by stride-2 convolutions) tuned on Places365; we have no Places365, so our A2
# row is the A1 network (see the module docstring for its initialisation).
PAPER_NAMES = {"resnet50": "ResNet-50", "resnet101": "ResNet-101", "resnet152": "ResNet-152",
               **{f"model_{x}": f"Model {x.upper()}" for x in "abcdef"}, "model_a1": "Model A2"}
# Trunk whose classifier initialises a segmentation network (the paper starts A1 from Model A).
PRETRAIN_ARCH = {"model_a1": "model_a"}

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
        """The paper's row name, e.g. "Model A, 2 conv"."""
        return f"{PAPER_NAMES.get(self.arch, self.arch)}, {self.head[0]} conv"

    @property
    def key(self) -> str:
        """A name for results and glue, e.g. "model_a_2conv"."""
        return f"{self.arch.replace('-', '_')}_{self.head}"


def parse_rows(text: str, name: str = "rows") -> list[Row]:
    """'resnet101:1conv, model_a:2conv' -> [Row("resnet101", "1conv"), Row("model_a", "2conv")].

    Unknown architectures or heads raise ParameterError (one line, with the closest valid names)."""
    rows = []
    for item in [part.strip() for part in str(text).split(",") if part.strip()]:
        arch, sep, head = item.partition(":")
        arch, head = normalize_name(arch), head.strip()
        if not sep or head not in HEADS:
            raise ParameterError(f"{name}: {item!r} must be 'architecture:head' with head one of "
                                 f"{', '.join(HEADS)}")
        if arch not in PAPER_NAMES:
            close = difflib.get_close_matches(arch, list(PAPER_NAMES), n=3)
            raise ParameterError(f"{name}: unknown architecture {arch!r} for the WoD tables; "
                                 + (f"did you mean {', '.join(close)}?" if close else
                                    f"choose from {', '.join(PAPER_NAMES)}"))
        rows.append(Row(arch, head))
    if not rows:
        raise ParameterError(f"{name} lists no network")
    if len(set(rows)) != len(rows):
        raise ParameterError(f"{name} lists a network twice: {text!r}")
    return rows


def find_row(rows, arch: str, head: str) -> Row | None:
    """The row (arch, head) if the table has it (a profile may run fewer networks than the paper's table)."""
    row = Row(arch, head)
    return row if row in rows else None


# The training recipe shared by the pages.


@dataclass(frozen=True)
class Recipe:
    """Every setting that changes a trained network or its stored validation scores. Pages that share runs pass
    the same values (tests/test_pages_wod_segmentation.py checks their params files)."""

    dataset: str = "camvid"
    epochs: int = 1
    batch_size: int = 1
    crop_size: int = 48
    lr: float = 0.0016  # WoD: 0.0016 for 16 images
    lr_end: float = 1e-6
    schedule: str = "linear"
    momentum: float = 0.9
    weight_decay: float = 5e-4  # WoD's voc.py
    scale: float = 1.3  # random resize ratio in [1/scale, scale] (WoD: [0.7, 1.3])
    freeze_bn: bool = False  # WoD: True (BN statistics of the pretrained trunk kept)
    ohem: bool = True  # WoD's released code: bootstrapped softmax
    limit_train: int = 0  # 0: every training image
    limit_val: int = 0  # 0: every evaluation image (also for the other splits evaluated here)
    eval_size: int = 0  # evaluation: shorter side resized to this (0: the images as they are)
    pretrain_epochs: int = 0  # 0: no classification pretraining (random initialisation)
    pretrain_dataset: str = "tiny_imagenet"
    pretrain_batch_size: int = 128
    pretrain_crop_size: int = 0  # 0: each network's own (WoD name: 224/112/56; ResNets: 224)
    pretrain_lr: float = 0.1
    pretrain_limit: int = 0  # pretraining images used for training and validation (0: all)
    seed: int = 0
    workers: int = 4
    device: str = "auto"

    def __post_init__(self):
        if self.dataset not in SEGMENT_DATASETS:
            close = difflib.get_close_matches(self.dataset, SEGMENT_DATASETS, n=2)
            hint = f"did you mean {', '.join(close)}?" if close else f"choose from {', '.join(SEGMENT_DATASETS)}"
            raise ParameterError(f"unknown segmentation data set {self.dataset!r}; {hint}")
        for name in ("limit_train", "limit_val", "eval_size", "pretrain_epochs", "pretrain_crop_size",
                     "pretrain_limit"):
            if getattr(self, name) < 0:
                raise ParameterError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.pretrain_dataset not in ("tiny_imagenet", "imagenet"):
            raise ParameterError(f"pretrain_dataset must be tiny_imagenet or imagenet, got {self.pretrain_dataset!r}")
        self.run_config("resnet101")  # RunConfig checks the ranges of the shared knobs (one-line errors)
        if self.pretrain_epochs:
            self.pretrain_config("resnet101")

    @classmethod
    def from_params(cls, params: dict) -> "Recipe":
        """The recipe from a page's parameters (names as the fields; other names are ignored)."""
        return cls(**{f.name: params[f.name] for f in fields(cls) if f.name in params})

    def run_config(self, arch: str) -> RunConfig:
        return RunConfig(arch=arch, dataset=self.dataset, task="segment", epochs=self.epochs,
                         batch_size=self.batch_size, crop_size=self.crop_size, lr=self.lr, lr_end=self.lr_end,
                         schedule=self.schedule, momentum=self.momentum, weight_decay=self.weight_decay,
                         scale=self.scale, freeze_bn=self.freeze_bn, ohem=self.ohem,
                         limit_train=self.limit_train or None, seed=self.seed, workers=self.workers,
                         device=self.device, val_every=0, progress=False)

    def pretrain_config(self, arch: str) -> RunConfig:
        """The classification run that initialises `arch`'s trunk (WoD ImageNet recipe: linear lr to 0)."""
        return RunConfig(arch=PRETRAIN_ARCH.get(arch, arch), dataset=self.pretrain_dataset, task="classify",
                         epochs=self.pretrain_epochs, batch_size=self.pretrain_batch_size,
                         crop_size=self.pretrain_crop_size or own_crop(arch), lr=self.pretrain_lr,
                         schedule="linear", lr_end=0.0, weight_decay=1e-4, limit_train=self.pretrain_limit or None,
                         limit_val=self.pretrain_limit or None, seed=self.seed, workers=self.workers,
                         device=self.device, val_every=0, progress=False)

    def as_dict(self) -> dict:
        return asdict(self)

    def evaluation(self) -> dict:
        """The protocol of the validation scores stored with each run (part of the run's key)."""
        return {"eval_size": self.eval_size, "limit_val": self.limit_val}

    def describe(self) -> str:
        """One line for a page: what the networks were trained with."""
        pre = (f"classifier pretraining {self.pretrain_epochs} epochs on {self.pretrain_dataset}"
               if self.pretrain_epochs else "no pretraining (random initialisation)")
        epochs = f"{self.epochs} epoch{'s' if self.epochs != 1 else ''}"
        return (f"{self.dataset}: {epochs}, batch {self.batch_size}, crop {self.crop_size}, lr {self.lr:g} "
                f"({self.schedule}), weight decay {self.weight_decay:g}, random scale {self.scale:g}, "
                f"BN {'frozen' if self.freeze_bn else 'trained'}, {'OHEM' if self.ohem else 'plain'} cross-entropy, "
                f"{pre}")


def own_crop(arch: str) -> int:
    """A network's ImageNet training crop: the first field of a WoD name (224/112/56); 224 for ResNets."""
    from drnlib.models.specs import WOD_ALIASES

    name = WOD_ALIASES.get(PRETRAIN_ARCH.get(arch, arch), "")
    return int(name.split("-")[0]) if name else 224


def extra_key(row: Row, recipe: Recipe, pretrained: str | None) -> dict:
    """What joins a run's key beyond its RunConfig: the model options and the stored scores' protocol."""
    return {"head": row.head, "output_stride": OUTPUT_STRIDE, "pretrained": pretrained or "", **recipe.evaluation()}


# Training.


def eval_dataset(recipe: Recipe, split: str):
    """The evaluation images of `split` with the recipe's protocol (size, limit)."""
    transform = T.segment_eval(size=recipe.eval_size or None,
                               **({"mean": T.CITYSCAPES_MEAN, "std": T.CITYSCAPES_STD}
                                  if recipe.dataset == "cityscapes" else {}))
    return data.build_dataset(recipe.dataset, split, "segment", transform=transform,
                              limit=recipe.limit_val or None)


def dataset_classes(dataset: str) -> int:
    """Number of classes of a segmentation data set."""
    return data.build_dataset(dataset, "val", "segment").num_classes


def _finished(config: RunConfig, profile: str, extra: dict) -> bool:
    result = run_dir(config, profile, extra_key=extra) / "result.json"
    return result.is_file() and json.loads(result.read_text()).get("epochs") == config.epochs


def pretrain_run(arch: str, recipe: Recipe, profile: str) -> Run | None:
    """The classification run that initialises `arch` (None without pretraining); shared like any run."""
    return trained(recipe.pretrain_config(arch), profile) if recipe.pretrain_epochs else None


def train_row(row: Row, recipe: Recipe, profile: str) -> Run:
    """The finished segmentation run of `row`: found, resumed or trained (drnlib.experiments.trained)."""
    pretrained = pretrain_run(row.arch, recipe, profile)
    config = recipe.run_config(row.arch)
    extra = extra_key(row, recipe, pretrained.dir.name if pretrained else None)
    if _finished(config, profile, extra):
        return trained(config, profile, extra_key=extra)
    if profile == "paper":  # trained() stops with the torchrun command
        try:
            return trained(config, profile, extra_key=extra)
        except ParameterError as err:
            raise ParameterError(f"{err}; NOTE: the train CLI cannot yet build this network's head and output "
                                 f"stride or load its pretrained trunk ({extra})") from None
    model = build_model(row.arch, dataset_classes(recipe.dataset), "segment", head=row.head,
                        output_stride=OUTPUT_STRIDE)
    if pretrained is not None:
        load_weights(model, pretrained.dir / CHECKPOINT, backbone_only=True)
    return trained(config, profile, extra_key=extra, model=model, val_set=eval_dataset(recipe, "val"))


def train_rows(rows, recipe: Recipe, profile: str) -> dict[Row, Run]:
    """Every row's run, in order (each trained once per recipe and profile, whichever page asks first)."""
    return {row: train_row(row, recipe, profile) for row in rows}


# Tables of scores. A "scores" dict maps a row's label to a score dict of drnlib.eval (pixel_acc, mean_acc, miou,
# iou, class_names): the validation scores stored with each run, or the result of `evaluate_rows`.

SCORE_COLUMNS = {"pixel_acc": "pixel acc.", "mean_acc": "mean acc.", "miou": "mean IoU"}
# Column names as the paper's tables print them.
DISPLAY_NAMES = {**SCORE_COLUMNS, "class_iou": "class IoU", "class_iiou": "class iIoU",
                 "category_iou": "category IoU", "category_iiou": "category iIoU"}


def shown(frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` with its score columns named as in the paper ("miou" -> "mean IoU"), for display."""
    out = frame.rename(columns=DISPLAY_NAMES)
    out.attrs = dict(frame.attrs)
    return out


def validation_scores(runs: dict[Row, Run]) -> dict[str, dict]:
    """{row label: the run's validation scores} (computed at the end of training with the recipe's protocol)."""
    out = {}
    for row, run in runs.items():
        val = dict(run.result["val"])
        val["class_names"] = val.get("class_names") or run.result.get("class_names")
        out[row.label] = val
    return out


def scores_table(scores: dict[str, dict]) -> pd.DataFrame:
    """Pixel accuracy, mean class accuracy and mIoU (%), one row per entry of `scores` (in order)."""
    frame = pd.DataFrame({label: {k: s[k] for k in SCORE_COLUMNS} for label, s in scores.items()}).T
    frame.index.name = "network"
    return frame.astype(float)


def class_iou_table(scores: dict[str, dict]) -> pd.DataFrame:
    """IoU (%) of every class (columns, in the data set's order) and the mIoU, one row per entry of `scores`."""
    frame = pd.DataFrame({label: {**dict(zip(s["class_names"], s["iou"])), "miou": s["miou"]}
                          for label, s in scores.items()}).T
    frame.index.name = "network"
    return frame.astype(float)


def wins(frame: pd.DataFrame, row_label: str, columns=None) -> dict:
    """Columns where `row_label` scores strictly above every other row: {"wins": n, "of": m, "classes": [...]};
    columns without any score (a class absent from the images and the predictions) are left out, and a tie for the
    best score is no win."""
    columns = [c for c in (columns if columns is not None else frame.columns) if frame[c].notna().any()]
    mine, best_other = frame.loc[row_label], frame.drop(index=row_label).max()
    won = [c for c in columns if pd.notna(mine[c]) and (pd.isna(best_other[c]) or mine[c] > best_other[c])]
    return {"wins": len(won), "of": len(columns), "classes": won}


# Other protocols: another split, multi-scale / mirrored testing, model averaging.

_LOADED: dict[tuple[str, str], nn.Module] = {}


def load_model(run: Run, device: torch.device) -> nn.Module:
    """The run's trained network in eval mode (the last few are kept, as a page evaluates them repeatedly)."""
    key = (str(run.dir), str(device))
    if key not in _LOADED:
        if len(_LOADED) >= 3:
            _LOADED.pop(next(iter(_LOADED)))
        model = run.model(device=device)
        if device.type == "cuda":
            model.to(memory_format=torch.channels_last)
        _LOADED[key] = model
    return _LOADED[key]


def evaluate_rows(runs, recipe: Recipe, split: str = "val", scales=(1.0,), flip: bool = False) -> dict:
    """Scores (%) of one run, or of several runs' averaged softmax, on `split` with multi-scale (`scales`) and
    mirrored (`flip`) testing: pixel_acc, mean_acc, miou, iou, class_names, confusion, images.

    Cached in runs/<profile>/evaluations/<key>.json; the key holds the runs' folders and training results, so a
    retrained run is evaluated afresh.
    """
    runs = list(runs)
    if not runs:
        raise ParameterError("evaluate_rows needs at least one run")
    scales = tuple(float(s) for s in scales)
    if not scales or any(s <= 0 for s in scales):
        raise ParameterError(f"scales must be positive, got {scales}")
    trainings = [hashlib.sha256((r.dir / "result.json").read_bytes()).hexdigest()[:12] for r in runs]
    protocol = {"runs": [r.dir.name for r in runs], "trainings": trainings, "split": split, "scales": list(scales),
                "flip": bool(flip), **recipe.evaluation()}
    path = runs[0].dir.parent / "evaluations" / f"{settings_key(protocol)}.json"
    if path.is_file():
        return json.loads(path.read_text())
    device = resolve_device(recipe.device)
    dataset = eval_dataset(recipe, split)
    loader = data.DataLoader(dataset, batch_size=1, shuffle=False, num_workers=min(recipe.workers, 4),
                             collate_fn=data.collate, pin_memory=device.type == "cuda")
    models = [load_model(r, device) for r in runs]
    model = models[0] if len(models) == 1 else AveragedModels(models)
    scores = evaluate(model, loader, "segment", num_classes=dataset.num_classes, device=device, amp=True,
                      channels_last=device.type == "cuda", scales=scales, flip=flip, class_names=dataset.class_names)
    result = {**scores, "images": len(dataset), "protocol": protocol}
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(path, result)
    return json.loads(path.read_text())  # as a later call reads it (NaN stored as null)


def category_scores(result: dict, groups: dict[str, list[str]]) -> dict:
    """Category-level IoU (%) from a result of `evaluate_rows`: classes are merged into categories (confusion
    matrix rows and columns summed), then scored like classes. Returns {"miou": mean over categories, "iou":
    {category: IoU}, "pixel_acc": ...}. Every class must belong to exactly one category."""
    names = list(result["class_names"])
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
    merge = torch.zeros(len(categories), len(names), dtype=torch.float64)
    for j, name in enumerate(names):
        merge[categories.index(owner[name]), j] = 1
    matrix = merge @ torch.tensor(result["confusion"], dtype=torch.float64) @ merge.T
    scores = segmentation_scores(matrix, categories)
    return {"miou": scores["miou"], "pixel_acc": scores["pixel_acc"], "iou": dict(zip(categories, scores["iou"]))}


def ade_score(scores: dict) -> float:
    """The ADE20K benchmark's score (WoD Table 6): the mean of pixel accuracy and mean IoU."""
    return (scores["pixel_acc"] + scores["miou"]) / 2


# Table 2's memory column.


def peak_memory_gb(row: Row, num_classes: int = 21, batch_size: int = 4, input_size: int = 504,
                   device: str = "auto") -> float | None:
    """Peak GPU memory (GiB) of fine-tuning `row` in fp32 with `batch_size` images of `input_size`^2 (WoD Table 2:
    4 images of ~500^2 per device, MXNet). None where there is no CUDA device; inf when it runs out of memory."""
    from drnlib.analysis.speed import peak_training_memory

    device = resolve_device(device)
    if device.type != "cuda":
        return None
    gc.collect()  # what earlier cells left on the GPU must not count
    torch.cuda.empty_cache()
    model = build_model(row.arch, num_classes, "segment", head=row.head, output_stride=OUTPUT_STRIDE)
    try:
        return peak_training_memory(model, batch_size, input_size, device=str(device), precision="fp32",
                                    num_classes=num_classes) / 2**30
    except torch.cuda.OutOfMemoryError:
        return math.inf
    finally:
        del model
        torch.cuda.empty_cache()


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


# The paper's side: its notes, and claims rows.


@functools.lru_cache(maxsize=1)
def _published_wod() -> dict:
    text = resources.files("drnlib").joinpath("published.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)["wider_or_deeper"]


def paper_notes(table: str) -> dict:
    """The notes of a WoD table in drnlib/published.yaml (source, unconfirmed, stated_relations, known, ...),
    also for tables without a single published number (which `drnlib.results.published` refuses)."""
    block = _published_wod().get(table)
    if not isinstance(block, dict):
        raise ParameterError(f"wider_or_deeper has no table {table!r}")
    return block


def relation(table: str, words: str) -> str:
    """The paper's stated relation of `table` that contains `words` (its text, from published.yaml)."""
    relations = paper_notes(table).get("stated_relations", [])
    for text in relations:
        if words.lower() in text.lower():
            return text
    raise ParameterError(f"{table}: no stated relation mentions {words!r}; it has {relations}")


def unknown_paper_frame(labels, columns, table: str) -> pd.DataFrame:
    """The paper's side of a table whose cells are not known: every cell NaN (shown as "–"), source noted."""
    frame = pd.DataFrame(math.nan, index=list(labels), columns=list(columns))
    frame.attrs["source"] = f"WoD {table}: cells unknown ({', '.join(paper_notes(table).get('unconfirmed', []))})"
    return frame


def margin_claim(claim: str, paper: str, scores: pd.DataFrame, better, worse, metric: str = "miou") -> dict:
    """A claims_table row: does `better` score higher than `worse` on `metric`? They are Rows or index labels of
    `scores`; holds is None (not tested) when either is None or not in `scores` (not run at this profile)."""
    name = SCORE_COLUMNS.get(metric, metric)
    better, worse = (x.label if isinstance(x, Row) else x for x in (better, worse))
    if better is None or worse is None or better not in scores.index or worse not in scores.index:
        return {"claim": claim, "paper": paper, "ours": "not run at this profile", "holds": None}
    a, b = float(scores.loc[better, metric]), float(scores.loc[worse, metric])
    return {"claim": claim, "paper": paper, "holds": a > b,
            "ours": f"{better} {a:.2f} vs {worse} {b:.2f} {name} ({a - b:+.2f})"}


def describe_rows(rows) -> str:
    """'ResNet-101, 1 conv, Model A, 2 conv': the rows' labels, for prose."""
    return ", ".join(row.label for row in rows)


__all__ = ["CATEGORIES", "DISPLAY_NAMES", "HEADS", "OUTPUT_STRIDE", "PAPER_NAMES", "SCORE_COLUMNS",
           "VOC_SHORT_NAMES", "Recipe", "Row", "ade_score", "category_scores", "class_iou_table",
           "dataset_classes", "describe_rows", "eval_dataset", "evaluate_rows", "extra_key", "find_row",
           "load_model", "margin_claim", "own_crop", "paper_notes", "parse_rows", "peak_memory_gb",
           "pretrain_run", "relation", "score_bars", "scores_table", "shown", "train_row", "train_rows",
           "unknown_paper_frame", "validation_scores", "wins"]
