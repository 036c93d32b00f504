"""What the segmentation pages (Table 3, Figure 8) share: one way to turn the pages' parameters into a training run,
the evaluation of a stored run, results merged architecture by architecture, and label-map pictures.

    config = run_config("drn_c_26", dataset="camvid", epochs=1, batch_size=2, crop_size=96, ...)
    run = experiments.trained(config, profile)          # trained once, shared by both pages (same settings)
    scores = run.evaluate(scales=[1.0], limit_val=2)   # per-class IoU, mIoU, pixel accuracy (cached per protocol)
    entry = arch_entry(run, scores, None, (1.0,))        # what the table keeps of this architecture
    record = store_arch("table3", profile, "drn_c_26", entry, run.metrics(), dataset="camvid",
                        dataset_note="camvid val (2 images)", params={...})

Table 3 trains one architecture per run of the page; `store_arch` adds that architecture to
results/<profile>/table3.json next to those stored before, so running the page for drn_a_50, drn_c_26 and drn_c_42
in turn builds the whole table.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from matplotlib.patches import Patch

from drnlib.errors import ParameterError
from drnlib.eval.metrics import IGNORE_INDEX, confusion_matrix, segmentation_scores
from drnlib.eval.predict import segment_probs
from drnlib.experiments import Run, settings_key
from drnlib.results import Record, load_results, results_path, run_provenance, save_results
from drnlib.train import RunConfig

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

# Settings that say how a run is evaluated rather than what is trained (kept out of `settings_id`).
EVAL_FIELDS = ("scales", "limit_val", "split", "flip")


def run_config(arch: str, *, dataset: str, epochs: int, batch_size: int, crop_size: int, lr: float,
               momentum: float, schedule: str, step: int, scale: float, limit_train: int, limit_val: int,
               init_from: str, seed: int, workers: int, device: str, val_every: int) -> RunConfig:
    """The training run of a segmentation page. Both pages build it here from the same parameters, so that equal
    parameters give the same run folder (experiments.trained shares it). 0 means "all" for the limits and ""
    means "no initialisation" (training from scratch)."""
    return RunConfig(
        arch=arch, dataset=dataset, task="segment", epochs=epochs, batch_size=batch_size, crop_size=crop_size,
        lr=lr, momentum=momentum, schedule=schedule, step=step, scale=scale, rotate=0.0,
        limit_train=limit_train or None, limit_val=limit_val or None, init_from=init_from or None, seed=seed,
        workers=workers, device=device, val_every=val_every, progress=False,
    )


def settings_id(config: RunConfig | dict) -> str:
    """8 hex digits for the training settings of a run, the architecture left out: entries of the table with the
    same id were trained alike and can be compared. Only whether the trunk was initialised counts, not from which
    file (each architecture starts from its own classifier)."""
    settings = config.to_dict() if isinstance(config, RunConfig) else dict(config)
    kept = {k: v for k, v in settings.items() if k != "arch" and k not in EVAL_FIELDS}
    return settings_key({**kept, "init_from": bool(kept.get("init_from"))})


# Results merged architecture by architecture.


def arch_entry(run: Run, scores: dict, ms_scores: dict | None, scales) -> dict:
    """What the table stores for one architecture: its scores and how it was trained and evaluated."""
    names = run.result.get("class_names") or [str(i) for i in range(len(scores["iou"]))]
    config = run.result["config"]
    trained = run_provenance(run)
    entry = {
        "miou": scores["miou"], "pixel_acc": scores["pixel_acc"], "mean_acc": scores["mean_acc"],
        "iou": dict(zip(names, scores["iou"])),
        "run": {"folder": run.dir.name, "settings": settings_id(config), "epochs": run.result["epochs"],
                "crop_size": config["crop_size"], "batch_size": config["batch_size"], "lr": config["lr"],
                "schedule": config["schedule"], "train_images": run.result["train_images"],
                "val_images": scores.get("images") or run.result["val_images"], "params": run.result["params"],
                "train_minutes": run.result["train_seconds"] / 60, "device": run.result["device"],
                # each architecture is stored by its own execution of the page: when and at which commit it trained
                "commit": (trained["commit"] or "unrecorded")[:10], "trained": (trained["date"] or "unrecorded")[:10]},
    }
    if ms_scores is not None:
        entry["miou_ms"] = ms_scores["miou"]
        entry["run"]["scales"] = ",".join(f"{s:g}" for s in scales)
    return entry


def store_arch(name: str, profile: str, arch: str, entry: dict, curves: pd.DataFrame, *, dataset: str,
               dataset_note: str, params: dict, root=None) -> Record:
    """Add (or replace) `arch` in results/<profile>/<name>.json, keeping the architectures stored before.

    values: per-architecture dicts miou / pixel_acc / mean_acc / miou_ms / iou (per class) / run (settings), and
    last_run (the architecture this run trained, for the prose). tables: per_class (one row per architecture) and
    curves (one row per architecture and epoch). A file of another data set is refused, never overwritten.
    """
    stored = {"dataset": dataset, "archs": {}}
    old_curves = pd.DataFrame()
    if results_path(name, profile, root).is_file():
        old = load_results(name, profile, root)
        if old.values.get("dataset") != dataset:
            raise ParameterError(f"{old.path} holds {old.values.get('dataset')} results, not {dataset}; move it "
                                 f"away to start a {dataset} table at profile {profile}")
        stored["archs"] = old.values.get("archs", {})
        if "curves" in old.tables:
            old_curves = old.tables["curves"]
            old_curves = old_curves[old_curves["arch"] != arch]
    archs = {**stored["archs"], arch: entry}
    values = {
        "dataset": dataset, "archs": archs, "last_run": {"arch": arch, **{k: v for k, v in entry.items()
                                                                          if k not in ("iou", "run")}},
        **{metric: {a: e[metric] for a, e in archs.items() if metric in e}
           for metric in ("miou", "miou_ms", "pixel_acc", "mean_acc")},
    }
    curves = pd.concat([old_curves, curves.assign(arch=arch)], ignore_index=True) if len(old_curves) else \
        curves.assign(arch=arch)
    tables = {"per_class": per_class_table(archs), "curves": curves.reset_index(drop=True)}
    return save_results(name, profile, values, dataset=dataset_note, tables=tables, params=params, root=root)


def per_class_table(archs: dict) -> pd.DataFrame:
    """One row per architecture: IoU of every class, then mIoU and pixel accuracy (percentages)."""
    rows = {arch: {**e["iou"], "mIoU": e["miou"], "pixel acc": e["pixel_acc"]} for arch, e in archs.items()}
    frame = pd.DataFrame.from_dict(rows, orient="index")
    frame.index.name = "model"
    return frame


def per_class_vs_paper(archs: dict, paper: pd.DataFrame) -> pd.DataFrame:
    """Ours per class next to the paper's IoU for the same class (Cityscapes) or its closest Cityscapes class
    (CamVid): one row per class of ours, named "ours (paper's)" where they differ, then mIoU; two columns per
    architecture, (arch, "ours") and (arch, "paper"), the paper's left empty for architectures it does not have."""
    names = list(next(iter(archs.values()))["iou"])
    paper_class = {n: PAPER_NAMES.get(n, CITYSCAPES_COUNTERPART.get(n, n)) for n in names}
    labels = {n: n if paper_class[n] == n else f"{n} ({paper_class[n]})" for n in names}
    columns = {}
    for arch, entry in archs.items():
        columns[(arch, "ours")] = {**{labels[n]: entry["iou"][n] for n in names}, "mIoU": entry["miou"]}
        if arch in paper.index:
            row = paper.loc[arch]
            columns[(arch, "paper")] = {**{labels[n]: row.get(paper_class[n]) for n in names}, "mIoU": row["miou"]}
    frame = pd.DataFrame(columns)
    frame.columns = pd.MultiIndex.from_tuples(frame.columns)
    frame.index.name = "class"
    return frame


def run_settings_table(archs: dict) -> pd.DataFrame:
    """How each stored architecture was trained (settings id, epochs, crop, ...): one column per architecture."""
    frame = pd.DataFrame({arch: {**e["run"], "params": e["run"]["params"] / 1e6} for arch, e in archs.items()})
    frame = frame.rename(index={"params": "parameters (M)", "train_minutes": "training minutes"})
    frame.index.name = "setting"
    return frame


def comparable(archs: dict, *names: str) -> str | None:
    """Why `names` cannot be compared (missing, or trained with other settings), or None when they can."""
    missing = [n for n in names if n not in archs]
    if missing:
        return f"not measured: no {', '.join(missing)} result at this profile"
    ids = {archs[n]["run"]["settings"] for n in names}
    if len(ids) > 1:
        return "not comparable: trained with different settings (" + ", ".join(
            f"{n} {archs[n]['run']['settings']}" for n in names) + ")"
    return None


# Pictures of label maps.


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
    1 when the prediction is as fragmented as the truth, above 1 when it is speckled (e.g. by gridding)."""
    valid = mask != IGNORE_INDEX

    def edges(labels: torch.Tensor) -> int:
        right = (labels[:, 1:] != labels[:, :-1]) & valid[:, 1:] & valid[:, :-1]
        down = (labels[1:, :] != labels[:-1, :]) & valid[1:, :] & valid[:-1, :]
        return int(right.sum() + down.sum())

    truth = edges(mask)
    return edges(pred) / truth if truth else float("nan")


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


__all__ = ["CAMVID_COLORS", "CITYSCAPES_COLORS", "CITYSCAPES_COUNTERPART", "PAPER_NAMES", "run_config", "settings_id",
           "arch_entry", "store_arch", "per_class_table", "per_class_vs_paper",
           "run_settings_table",
           "comparable", "palette", "colorize", "legend_handles", "predict", "image_scores", "boundary_ratio",
           "examples_figure"]
