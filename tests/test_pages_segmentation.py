"""The segmentation pages (Table 3, Figure 8) and drnlib.segmentation: the page runs with papermill from the
repository root, with and without an output path, trains and evaluates one architecture on real CamVid images and
adds it to the stored table; the table merges architectures; the figure helpers score and draw label maps.

The pages run with tiny settings (64-pixel crops, 2 training images, 1 validation image) and write into a temporary
book root ($DRNBOOK_ROOT), never into this repository's results/ or runs/.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import matplotlib
import nbformat
import pandas as pd
import pytest
import torch

from drnlib.book import parse_scales
from drnlib.errors import ParameterError
from drnlib.eval.metrics import IGNORE_INDEX
from drnlib.pages import drn_segmentation as segmentation
from drnlib.results import ROOT_ENV, load_results, published

matplotlib.use("Agg")

REPO = Path(__file__).resolve().parents[1]
PAPERMILL = str(Path(sys.executable).parent / "papermill")
SMALL = ["-p", "crop_size", "64", "-p", "batch_size", "2", "-p", "limit_train", "2", "-p", "limit_val", "1",
         "-p", "workers", "0", "-p", "device", "cpu"]


@pytest.fixture(scope="module")
def book_root(tmp_path_factory, camvid_root):
    """An empty book root for the pages' results and runs (the CamVid cache is the repository's)."""
    return tmp_path_factory.mktemp("segbook")


def papermill(args: list[str], root: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, ROOT_ENV: str(root), "PYDEVD_DISABLE_FILE_VALIDATION": "1"}
    return subprocess.run([PAPERMILL, *args], cwd=REPO, capture_output=True, text=True, env=env, timeout=600)


def test_table3_runs_with_papermill_as_written_and_stores_the_arch(book_root):
    out = book_root / "out.ipynb"
    done = papermill(["book/table3.ipynb", str(out), "-p", "arch", "drn_c_26", *SMALL], book_root)
    assert done.returncode == 0, done.stderr[-3000:]
    executed = nbformat.read(out, as_version=4)
    injected = [c.source for c in executed.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert injected and 'arch = "drn_c_26"' in injected[0]

    record = load_results("table3", "smoke", root=book_root)
    entry = record.values["archs"]["drn_c_26"]
    assert list(entry["iou"]) == ["sky", "building", "pole", "road", "pavement", "tree", "sign_symbol", "fence",
                                  "car", "pedestrian", "bicyclist"]
    assert 0 <= entry["miou"] <= 100 and 0 <= entry["pixel_acc"] <= 100
    assert entry["run"]["train_images"] == 2 and entry["run"]["val_images"] == 1 and entry["run"]["crop_size"] == 64
    assert (book_root / "runs" / "smoke" / entry["run"]["folder"] / "checkpoint.pt").is_file()
    assert record.tables["curves"]["arch"].tolist() == ["drn_c_26"]  # one epoch
    assert (book_root / "results" / "smoke" / "table3-curves.png").is_file()


def test_table3_without_output_path_prints_the_executed_notebook(book_root):
    # papermill writes the notebook to stdout when stdout is not a terminal; the run of the previous test is reused,
    # and evaluated once more with multi-scale testing
    done = papermill(["book/table3.ipynb", "-p", "arch", "drn_c_26", *SMALL, "-p", "scales", "0.5,1"], book_root)
    assert done.returncode == 0, done.stderr[-3000:]
    printed = nbformat.reads(done.stdout, as_version=4)
    code = [c for c in printed.cells if c.cell_type == "code"]
    assert all(c.execution_count for c in code)
    assert not any(o.get("output_type") == "error" for c in code for o in c.outputs)
    claims = [c for c in code if "claims_table(claims, record)" in c.source][0]
    assert "not measured: no drn_a_50 result" in json.dumps(claims.outputs)  # only drn_c_26 is stored
    runs = list((book_root / "runs" / "smoke").iterdir())
    assert len(runs) == 1  # the same run, not a second one
    assert len(list(runs[0].glob("eval-*.json"))) == 2  # single- and multi-scale scores, each cached once
    entry = load_results("table3", "smoke", root=book_root).values["archs"]["drn_c_26"]
    assert 0 <= entry["miou_ms"] <= 100 and entry["run"]["scales"] == "0.5,1"


def test_table3_refuses_a_bad_parameter_in_one_line(book_root):
    done = papermill(["book/table3.ipynb", str(book_root / "bad.ipynb"), "-p", "arch", "drn_c_27"], book_root)
    assert done.returncode != 0
    assert "ParameterError: unknown arch 'drn_c_27'; did you mean" in done.stderr


def _entry(miou: float, settings: str = "s1") -> dict:
    iou = {name: miou for name in segmentation.CAMVID_COLORS}
    return {"miou": miou, "pixel_acc": 80.0, "mean_acc": 50.0, "iou": iou,
            "run": {"folder": f"x-{miou}", "settings": settings, "epochs": 1, "params": 10, "val_images": 1}}


def test_store_arch_merges_architectures_and_refuses_another_data_set(tmp_path):
    curves = pd.DataFrame({"epoch": [1, 2], "train_loss": [2.0, 1.5]})
    store = dict(dataset="camvid", dataset_note="camvid val", params={}, root=tmp_path)
    segmentation.store_arch("table3", "smoke", "drn_a_50", _entry(40.0), curves, **store)
    segmentation.store_arch("table3", "smoke", "drn_c_26", _entry(45.0), curves, **store)
    record = segmentation.store_arch("table3", "smoke", "drn_a_50", _entry(42.0), curves.head(1), **store)
    assert record.values["miou"] == {"drn_a_50": 42.0, "drn_c_26": 45.0}  # replaced, and the other kept
    assert record.values["last_run"]["arch"] == "drn_a_50"
    stored = load_results("table3", "smoke", root=tmp_path)
    assert stored.tables["per_class"].loc["drn_c_26", "road"] == 45.0
    assert stored.tables["curves"].groupby("arch").size().to_dict() == {"drn_a_50": 1, "drn_c_26": 2}
    assert segmentation.comparable(record.values["archs"], "drn_c_26", "drn_a_50") is None
    assert "not measured: no drn_c_42" in segmentation.comparable(record.values["archs"], "drn_c_42", "drn_c_26")

    before = stored.path.read_text()
    with pytest.raises(ParameterError, match="holds camvid results, not cityscapes"):
        segmentation.store_arch("table3", "smoke", "drn_c_42", _entry(1.0), curves,
                                **{**store, "dataset": "cityscapes"})
    assert stored.path.read_text() == before  # nothing already written is lost


def test_archs_trained_with_other_settings_are_not_compared(tmp_path):
    archs = {"drn_c_26": _entry(45.0, "s1"), "drn_a_50": _entry(40.0, "s2")}
    assert segmentation.comparable(archs, "drn_c_26", "drn_a_50").startswith("not comparable")


def test_per_class_table_puts_the_papers_closest_class_beside_ours():
    paper = published("drn", "table3_cityscapes_val_iou")
    table = segmentation.per_class_vs_paper({"drn_c_26": _entry(45.0), "resnet101": _entry(30.0)}, paper)
    assert table.loc["pavement (sidewalk)", ("drn_c_26", "paper")] == paper.loc["drn_c_26", "sidewalk"]
    assert table.loc["mIoU", ("drn_c_26", "paper")] == paper.loc["drn_c_26", "miou"]
    assert table.loc["road", ("drn_c_26", "ours")] == 45.0
    assert ("resnet101", "paper") not in table.columns  # the paper's table has no ResNet-101 row


def test_config_is_the_same_for_both_pages_and_keyed_without_the_arch():
    knobs = dict(dataset="camvid", epochs=2, batch_size=2, crop_size=96, lr=0.01, momentum=0.9, schedule="poly",
                 step=100, scale=0.0, limit_train=4, limit_val=2, init_from="", seed=0, workers=0, device="cpu",
                 val_every=1)
    a, c = segmentation.run_config("drn_a_50", **knobs), segmentation.run_config("drn_c_26", **knobs)
    assert a.task == "segment" and a.limit_train == 4 and a.init_from is None and a.rotate == 0
    assert segmentation.settings_id(a) == segmentation.settings_id(c)
    assert segmentation.settings_id(a) != segmentation.settings_id(a.replace(epochs=3))
    assert segmentation.settings_id(a) == segmentation.settings_id(a.replace(scales=(0.5, 1.0), limit_val=7))
    initialised = a.replace(init_from="runs/paper/drn_a_50-imagenet/checkpoint.pt")
    assert segmentation.settings_id(initialised) != segmentation.settings_id(a)
    assert segmentation.settings_id(initialised) == segmentation.settings_id(
        c.replace(init_from="runs/paper/drn_c_26-imagenet/checkpoint.pt"))


def test_parse_scales():
    assert parse_scales("0.5, 1,1.5") == (0.5, 1.0, 1.5)
    for bad in ("", "a,1", "0,1", "-1", "9"):
        with pytest.raises(ParameterError, match="scales"):
            parse_scales(bad)


def test_scores_boundaries_and_colours_of_label_maps():
    truth = torch.zeros(8, 8, dtype=torch.long)
    truth[:, 4:] = 3  # two regions: 8 boundary pairs along one vertical edge
    assert segmentation.boundary_ratio(truth, truth) == 1.0
    speckled = truth.clone()
    speckled[1::2, 1::2] = 5
    assert segmentation.boundary_ratio(speckled, truth) > 4
    assert segmentation.boundary_ratio(torch.zeros_like(truth), truth) == 0.0
    void = truth.clone()
    void[:, 3:5] = IGNORE_INDEX  # the edge itself is void: nothing to score
    assert segmentation.boundary_ratio(truth, void) != segmentation.boundary_ratio(truth, void)  # NaN

    scores = segmentation.image_scores(truth, truth, 11)
    assert scores["miou"] == 100.0 and scores["pixel_acc"] == 100.0
    half = truth.clone()
    half[:, 4:] = 0
    assert segmentation.image_scores(half, truth, 11)["miou"] == pytest.approx(25.0)  # IoU 50 and 0

    colors = segmentation.palette(list(segmentation.CAMVID_COLORS))
    picture = segmentation.colorize(void, colors)
    assert picture.shape == (8, 8, 3) and tuple(picture[0, 0]) == segmentation.CAMVID_COLORS["sky"]
    assert tuple(picture[0, 3]) == (0, 0, 0)  # void is black
    assert tuple(picture[0, 7]) == segmentation.CAMVID_COLORS["road"]


def test_examples_figure_has_a_column_per_model_and_a_legend():
    import numpy as np

    labels = torch.zeros(6, 8, dtype=torch.long)
    rows = [{"image": np.zeros((6, 8, 3), dtype=np.uint8), "maps": [labels, labels, labels],
             "notes": ["a", "b", ""], "name": "val image 0"}]
    fig = segmentation.examples_figure(rows, list(segmentation.CAMVID_COLORS), ["(b) x", "(c) y", "(d) truth"])
    assert len(fig.axes) == 4 and fig.axes[1].get_title() == "(b) x"
    assert len(fig.legends[0].get_texts()) == 12  # 11 classes and void
