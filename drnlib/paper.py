"""The papers' side: their published numbers, their claims, and the one rule that decides whether a claim holds.

    published("drn", "table1_imagenet_error")     # the paper's table as a DataFrame (rows = models)
    notes("wider_or_deeper", "table2_voc_val")     # a block's notes: source, unconfirmed cells, stated relations
    CLAIMS["DRN-8"]                                # a claim of drnlib/claims.yaml: its words, page, paper numbers

    a = Evidence.from_scores("DRN-A-18", run_a.result["val"], "top1_error")   # per-image errors of one network
    b = Evidence.from_scores("ResNet-18", run_b.result["val"], "top1_error")
    verdict = decide("DRN-8", a, b, scale="Tiny-ImageNet-100 val, 5,000 images (mini)")
    verdict.verdict   # "holds" | "does not hold" | "not resolved" | "not tested"
    interval_table({"DRN-A-18": a, "ResNet-18": b})   # value, low, high per side: the figures' error bars

The rule (one for every page): a claim compares two measured sides (or one side and a threshold) with their
uncertainty. The margin is the difference in the claim's favour (positive = as the paper says), in the metric's
points; its 95% interval comes from a bootstrap over the units the numbers were measured on (images, or seeds),
paired when both sides were measured on the same units (`scipy.stats.bootstrap`); a single error rate has its
Clopper-Pearson interval (`scipy.stats.binomtest`). Then, by the claim's relation (drnlib/claims.yaml):
- beats:    holds when the whole interval is above 0, does not hold when it is below 0, else not resolved;
- matches:  holds when the interval lies within [-tolerance, +tolerance], does not hold when it lies wholly
            outside, else not resolved (the tolerance is our reading of "as accurate as", stored with the claim);
- at_least / at_most: one measured value against a threshold t (in the value's own terms, e.g. "an error of at
            most 50%"; t is the call's `threshold`, else the claim's in claims.yaml): holds when the whole interval is
            on the claimed side of t, does not hold when it is on the other; with two sides (at_least), "a beats b
            by more than t points": the margin's interval against t;
- exact:    a fact computed on the built networks (parameter counts, map sizes): holds or does not hold.
A claim that a profile cannot test (a network it does not train, a quantity it does not measure) is "not tested"
with the reason; one that our data cannot test at all is marked in claims.yaml (`testable: false`).
"""

from __future__ import annotations

import difflib
import functools
import inspect
import math
import warnings
from dataclasses import asdict, dataclass, field
from importlib import resources

import numpy as np
import pandas as pd
import yaml

from drnlib.errors import ParameterError

VERDICTS = ("holds", "does not hold", "not resolved", "not tested")
RELATIONS = ("beats", "matches", "at_least", "at_most", "exact")
CONFIDENCE = 0.95
RESAMPLES = 2000


# The papers' published numbers (drnlib/published.yaml).


@functools.lru_cache(maxsize=1)
def _published_yaml() -> dict:
    return yaml.safe_load(resources.files("drnlib").joinpath("published.yaml").read_text(encoding="utf-8"))


def _closest(word: str, choices) -> str:
    close = difflib.get_close_matches(word, list(choices), n=3)
    return f"; did you mean {', '.join(close)}?" if close else f"; choose from {', '.join(choices)}"


NOTE_KEYS = ("source", "unconfirmed", "stated_relations", "text_only", "known")


def notes(paper: str, table: str) -> dict:
    """The raw block of `table` (a dotted path) of drnlib/published.yaml: its numbers and its notes (source,
    unconfirmed cells, stated relations, known values), also for tables without a single known number."""
    data = _published_yaml()
    if paper not in data:
        raise ParameterError(f"unknown paper {paper!r}" + _closest(paper, data))
    block = data[paper]
    for part in table.split("."):
        if not isinstance(block, dict) or part not in block:
            raise ParameterError(f"{paper} has no published table {table!r}"
                                 + _closest(part, block if isinstance(block, dict) else []))
        block = block[part]
    return block


def relation(paper: str, table: str, words: str) -> str:
    """The stated relation of a table that contains `words` (the paper's own sentence, from published.yaml)."""
    relations = notes(paper, table).get("stated_relations", []) if isinstance(notes(paper, table), dict) else []
    for text in relations:
        if words.lower() in text.lower():
            return text
    raise ParameterError(f"{paper}.{table}: no stated relation mentions {words!r}; it has {relations}")


def published(paper: str, table: str) -> pd.DataFrame:
    """The papers' numbers as a DataFrame, e.g. published("drn", "table1_imagenet_error") (rows = models).

    `table` may be a dotted path into drnlib/published.yaml ("official_code_readme.cityscapes_val_miou").
    The block's source, the cells the paper leaves unknown and its stated relations are in `frame.attrs`.
    """
    block = notes(paper, table)
    if not isinstance(block, dict):
        raise ParameterError(f"{paper}.{table} is a single value ({block!r}), not a table")
    frame = _published_frame(block, table)
    frame.attrs.update({k: block[k] for k in NOTE_KEYS if k in block})
    frame.attrs.update(paper=paper, table=table)
    return frame


def _published_frame(block: dict, table: str) -> pd.DataFrame:
    rows = block.get("rows", block)
    rows = {k: v for k, v in rows.items() if k not in (*NOTE_KEYS, "columns", "classes")}
    if not rows:
        raise ParameterError(f"published table {table!r} has no numbers (only notes: {', '.join(block)})")
    first = next(iter(rows.values()))
    if isinstance(first, list):  # rows of numbers under named columns
        columns = block.get("columns") or [f"col{i}" for i in range(len(first))]
        frame = pd.DataFrame.from_dict(rows, orient="index", columns=columns)
    elif isinstance(first, dict) and "iou" in first:  # per-class IoU rows
        classes = block["classes"]
        frame = pd.DataFrame({k: dict(zip(classes, v["iou"]), miou=v.get("miou")) for k, v in rows.items()}).T
        frame = frame[[*classes, "miou"]].astype(float)
    elif isinstance(first, dict):
        frame = pd.DataFrame.from_dict(rows, orient="index")
    else:  # one number per row
        frame = pd.DataFrame({table.rsplit(".", 1)[-1]: pd.Series(rows)})
    frame.index.name = "model"
    return frame


# The claims (drnlib/claims.yaml).


@dataclass(frozen=True)
class ClaimInfo:
    """One claim of either paper as drnlib/claims.yaml states it."""

    id: str
    paper: str
    claim: str
    where: str
    compared: str
    paper_numbers: str
    page: str
    testable: bool = True
    why_not: str | None = None
    relation: str | None = None
    tolerance: float | None = None
    threshold: float | None = None


@functools.lru_cache(maxsize=1)
def _claims() -> dict[str, ClaimInfo]:
    data = yaml.safe_load(resources.files("drnlib").joinpath("claims.yaml").read_text(encoding="utf-8"))
    return {cid: ClaimInfo(id=cid, **entry) for cid, entry in data.items()}


class _Claims(dict):
    def __missing__(self, key):
        raise ParameterError(f"unknown claim {key!r}" + _closest(str(key), list(self)))


def claims() -> dict[str, ClaimInfo]:
    """Every claim of both papers, by id ("DRN-1" ... "DRN-43", "WOD-1" ... "WOD-48")."""
    return _Claims(_claims())


def page_claims(page: str) -> list[ClaimInfo]:
    """The claims a book page tests, in the papers' order."""
    return [c for c in _claims().values() if c.page == page]


# Evidence: what one side of a claim measured, on which units.


@dataclass
class Evidence:
    """One side of a comparison: a metric measured on units (images or seeds), kept per unit so that its
    uncertainty can be computed.

    kind "error": `data` holds one 0/1 per image (1 = an error), the value is the error rate in percent;
    kind "iou": `data` is N x C x C per-image confusion matrices, the value is the mIoU (%) of their sum (with
    `classes`, class indices: the mean IoU of those classes only, e.g. one class's IoU);
    kind "mean": `data` holds one number per unit (e.g. a seed's error), the value is their mean.
    `higher_is_better` says which way is better (False for errors).
    """

    label: str
    kind: str
    data: np.ndarray
    higher_is_better: bool
    unit: str = "images"
    classes: tuple | None = None

    def __post_init__(self):
        self.data = np.asarray(self.data, dtype=np.float64)
        if self.kind not in ("error", "iou", "mean"):
            raise ParameterError(f"unknown evidence kind {self.kind!r}; expected error, iou or mean")
        if len(self.data) == 0:
            raise ParameterError(f"{self.label}: no {self.unit} measured")

    @classmethod
    def from_scores(cls, label: str, scores: dict, metric: str, classes=None) -> "Evidence":
        """From a score dict of drnlib.eval.evaluate (a run's `result["val"]` or an evaluation): `metric` is
        top1_error, top5_error, loc_top1_error, loc_top5_error (per-image errors) or miou (per-image confusion
        matrices; `classes`, names of scores["class_names"] or indices: the mean IoU of those classes only).
        Raises ParameterError when the scores lack their per-image record (scores computed before drnlib kept
        it: evaluate again) or a class is unknown."""
        per_image = scores.get("per_image") or {}
        if metric == "miou":
            if "confusion" not in per_image:
                raise ParameterError(f"{label}: the scores have no per-image confusion matrices; evaluate again")
            if classes is not None:
                names = list(scores.get("class_names") or [])
                unknown = [c for c in classes if not isinstance(c, int) and c not in names]
                if unknown:
                    raise ParameterError(f"{label}: no class {unknown[0]!r} in the scores"
                                         + _closest(unknown[0], names))
                classes = tuple(c if isinstance(c, int) else names.index(c) for c in classes)
            return cls(label, "iou", np.asarray(per_image["confusion"]), True, classes=classes)
        key = metric.replace("_error", "_wrong")
        if key not in per_image:
            raise ParameterError(f"{label}: the scores have no per-image {metric}; evaluate again")
        return cls(label, "error", np.asarray(per_image[key]), False)

    @property
    def size(self) -> int:
        return len(self.data)

    def statistic(self, index: np.ndarray) -> np.ndarray:
        """The metric on the units `index` (a k x n array of resampled unit indices gives k values)."""
        picked = self.data[index]
        if self.kind == "iou":
            return miou_of(picked.sum(axis=-3), self.classes)
        return picked.mean(axis=-1) * (100.0 if self.kind == "error" else 1.0)

    @property
    def value(self) -> float:
        return float(self.statistic(np.arange(self.size)))

    def interval(self) -> tuple[float, float]:
        """95% interval of the value: Clopper-Pearson for an error rate, else a bootstrap over the units."""
        if self.kind == "error":
            from scipy.stats import binomtest

            ci = binomtest(int(round(self.data.sum())), self.size).proportion_ci(CONFIDENCE)
            return 100 * ci.low, 100 * ci.high
        return _bootstrap(lambda idx: self.statistic(idx), self.size)

    def describe(self, decimals: int = 2) -> str:
        lo, hi = self.interval()
        return f"{self.label} {self.value:.{decimals}f} [{lo:.{decimals}f}, {hi:.{decimals}f}]"


def interval_table(evidence: dict) -> pd.DataFrame:
    """Each side's value and 95% interval as rows: {label: Evidence} -> a DataFrame indexed by label with columns
    value, low, high (in the metric's units, e.g. % error or % mIoU; Evidence.interval(): Clopper-Pearson for an
    error rate, else a bootstrap over the units), in the order given. What the "paper vs ours" figures plot
    (drnlib.display.paper_vs_ours_figure)."""
    rows = {}
    for label, side in evidence.items():
        low, high = side.interval()
        rows[label] = {"value": side.value, "low": low, "high": high}
    frame = pd.DataFrame.from_dict(rows, orient="index", columns=["value", "low", "high"], dtype=float)
    frame.index.name = "network"
    return frame


def miou_of(confusion: np.ndarray, classes=None) -> np.ndarray:
    """Mean IoU (%) of confusion matrices [..., C, C] (rows: truth, columns: prediction), over the classes present
    in the truth or the prediction (as drnlib.eval.segmentation_scores); `classes` (indices): over those only.
    NaN where none of them is present."""
    tp = np.diagonal(confusion, axis1=-2, axis2=-1)
    union = confusion.sum(-1) + confusion.sum(-2) - tp
    with np.errstate(invalid="ignore", divide="ignore"):
        iou = np.where(union > 0, tp / np.where(union > 0, union, 1), np.nan)
    if classes is not None:
        iou = iou[..., list(classes)]
    present = np.isfinite(iou).any(axis=-1)
    return 100 * np.where(present, np.nansum(iou, axis=-1) / np.maximum(np.isfinite(iou).sum(axis=-1), 1), np.nan)


def _bootstrap(statistic, n: int, paired_with=None) -> tuple[float, float]:
    """95% percentile interval of statistic(index) over `n` units resampled with replacement (seeded: the same
    numbers give the same interval). `statistic` takes a k x n index array and returns k values."""
    from scipy.stats import DegenerateDataWarning, bootstrap

    if n < 2:
        value = float(statistic(np.arange(n)[None])[0])
        return value, value
    seed = {"rng" if "rng" in inspect.signature(bootstrap).parameters else "random_state": np.random.default_rng(0)}
    units = np.arange(n)

    def vectorised(sample, axis=-1):
        return statistic(np.asarray(sample, dtype=np.int64))

    with warnings.catch_warnings():  # undefined resamples are handled below
        warnings.simplefilter("ignore", DegenerateDataWarning)
        result = bootstrap((units,), vectorised, vectorized=True, n_resamples=RESAMPLES, batch=250,
                           confidence_level=CONFIDENCE, method="percentile", **seed)
    low, high = result.confidence_interval
    if not (math.isfinite(low) and math.isfinite(high)):
        # resamples on which the statistic is undefined (a class that none of the resampled images shows) are left
        # out; the percentile interval of the others
        defined = result.bootstrap_distribution[np.isfinite(result.bootstrap_distribution)]
        if len(defined) == 0:
            value = float(statistic(units[None])[0])
            return value, value
        tail = 50 * (1 - CONFIDENCE)
        low, high = np.percentile(defined, [tail, 100 - tail])
    return float(low), float(high)


# Verdicts.


@dataclass
class Verdict:
    """The outcome of one claim at one profile: what we measured and whether it supports the paper."""

    claim: str  # id, e.g. "DRN-8"
    verdict: str  # one of VERDICTS
    ours: str  # our numbers in words
    scale: str = ""  # what it was tested at: data, units, profile
    margin: float | None = None  # the difference in the claim's favour (positive = as the paper says)
    interval: tuple[float, float] | None = None  # 95% interval of the margin
    method: str = ""  # how the interval was computed
    why: str | None = None  # for "not tested": why
    extra: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.margin is not None:
            self.margin = float(self.margin) + 0.0  # no "-0.00"
        if self.interval is not None:
            self.interval = (float(self.interval[0]) + 0.0, float(self.interval[1]) + 0.0)
        if self.verdict not in VERDICTS:
            raise ParameterError(f"verdict must be one of {', '.join(VERDICTS)}, got {self.verdict!r}")
        claims()[self.claim]  # an unknown claim id fails here

    def as_dict(self) -> dict:
        out = asdict(self)
        out["interval"] = list(self.interval) if self.interval is not None else None
        return out


def _relation(info: ClaimInfo, relation: str | None, tolerance: float | None) -> tuple[str, float]:
    relation = relation or info.relation or "beats"
    if relation not in RELATIONS:
        raise ParameterError(f"{info.id}: unknown relation {relation!r}; expected one of {', '.join(RELATIONS)}")
    tolerance = tolerance if tolerance is not None else (info.tolerance or 0.0)
    if relation == "matches" and tolerance <= 0:
        raise ParameterError(f"{info.id}: 'matches' needs a tolerance > 0 (claims.yaml or the call)")
    return relation, float(tolerance)


def _judge(relation: str, low: float, high: float, tolerance: float, threshold: float = 0.0) -> str:
    if relation in ("beats", "at_least", "at_most"):
        if low > threshold:
            return "holds"
        if high < threshold:
            return "does not hold"
        return "not resolved"
    if -tolerance <= low and high <= tolerance:  # matches
        return "holds"
    if low > tolerance or high < -tolerance:
        return "does not hold"
    return "not resolved"


def decide(claim_id: str, a: Evidence, b: Evidence | None = None, *, threshold: float | None = None,
           relation: str | None = None, tolerance: float | None = None, scale: str = "",
           words: str | None = None) -> Verdict:
    """The verdict on claim `claim_id`: does `a` beat / match `b` (or clear `threshold`, for at_least / at_most;
    default: the claim's `threshold` in claims.yaml)?

    The margin is a - b in the better direction (for errors: b - a), in the metric's points; its 95% interval is a
    bootstrap over the units, paired when `a` and `b` have the same units (same size: the same images in the same
    order, as every evaluation of one split gives). `words`: our numbers in words (default: each side's value and
    interval). Raises ParameterError on an unknown claim, relation or mismatched evidence.
    """
    info = claims()[claim_id]
    relation, tolerance = _relation(info, relation, tolerance)
    threshold = threshold if threshold is not None else info.threshold
    sign = 1.0 if a.higher_is_better else -1.0
    if b is None:
        if threshold is None or relation not in ("at_least", "at_most"):
            raise ParameterError(f"{claim_id}: one side needs relation at_least / at_most and a threshold")
        direction = 1.0 if relation == "at_least" else -1.0  # on the value itself, whichever way is better
        low, high = a.interval()
        margin = direction * (a.value - threshold)
        low, high = sorted((direction * (low - threshold), direction * (high - threshold)))
        method = "Clopper-Pearson" if a.kind == "error" else f"bootstrap over {a.unit}"
        ours = words or f"{a.describe()} vs threshold {threshold:g}"
        return Verdict(claim_id, _judge("beats", low, high, 0.0), ours, scale, margin, (low, high), method)
    if a.kind != b.kind or a.higher_is_better != b.higher_is_better:
        raise ParameterError(f"{claim_id}: {a.label} ({a.kind}) and {b.label} ({b.kind}) measure different things")
    margin = sign * (a.value - b.value)
    if a.size == b.size:
        low, high = _bootstrap(lambda idx: sign * (a.statistic(idx) - b.statistic(idx)), a.size)
        method = f"paired bootstrap over {a.size} {a.unit}"
    else:  # different units: independent intervals, combined conservatively
        (al, ah), (bl, bh) = a.interval(), b.interval()
        low, high = sorted((sign * (al - bh), sign * (ah - bl)))
        method = f"independent intervals ({a.size} vs {b.size} {a.unit})"
    ours = words or f"{a.describe()} vs {b.describe()}"
    if relation == "at_least" and threshold is not None:  # "a beats b by more than `threshold` points"
        return Verdict(claim_id, _judge(relation, low, high, tolerance, threshold), ours, scale, margin, (low, high),
                       method, extra={"relation": relation, "threshold": threshold})
    return Verdict(claim_id, _judge(relation, low, high, tolerance), ours, scale, margin, (low, high), method,
                   extra={"relation": relation, "tolerance": tolerance})


def exact(claim_id: str, holds: bool, ours: str, scale: str = "computed on the built networks") -> Verdict:
    """A claim about structure, decided by computation on the networks (no uncertainty)."""
    return Verdict(claim_id, "holds" if holds else "does not hold", ours, scale, method="exact")


def not_tested(claim_id: str, why: str, ours: str = "") -> Verdict:
    """A claim this profile cannot test (e.g. a network it does not train), with the reason."""
    return Verdict(claim_id, "not tested", ours or why, why=why)


def all_hold(claim_id: str, verdicts: list[Verdict], ours: str | None = None, scale: str = "") -> Verdict:
    """A claim made of several comparisons (e.g. "best of all rows"): holds when each holds, does not hold when any
    does not, else not resolved (not tested when any part is)."""
    if not verdicts:
        raise ParameterError(f"{claim_id}: no comparison to combine")
    kinds = {v.verdict for v in verdicts}
    verdict = ("not tested" if "not tested" in kinds else "does not hold" if "does not hold" in kinds else
               "not resolved" if "not resolved" in kinds else "holds")
    # a claim not tested as a whole has no margin: the weakest tested part would read as the claim's
    worst = None if verdict == "not tested" else \
        min((v for v in verdicts if v.margin is not None), key=lambda v: v.margin, default=None)
    why = next((v.why for v in verdicts if v.verdict == "not tested"), None)
    return Verdict(claim_id, verdict, ours or "; ".join(dict.fromkeys(v.ours for v in verdicts)),
                   scale or verdicts[0].scale,
                   worst.margin if worst else None, worst.interval if worst else None,
                   (worst.method + ", the weakest of the comparisons") if worst else "", why)


__all__ = ["VERDICTS", "RELATIONS", "published", "notes", "relation", "ClaimInfo", "claims", "page_claims",
           "Evidence", "interval_table", "miou_of", "Verdict", "decide", "exact", "not_tested", "all_hold"]
