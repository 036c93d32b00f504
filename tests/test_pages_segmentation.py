"""The segmentation pages (Table 3, Figure 8) and drnlib.pages.drn_segmentation: the pages run with papermill from the
repository root as the README says (one network added with `-p arch`), share their runs through the
drn_segmentation recipe, train the ResNet-101 baseline at output stride 8, and decide the claims DRN-35 ... DRN-42
from the measured numbers (checked here on per-image confusion matrices whose answer is known); the figure helpers
score and draw label maps.

The papermill tests train on real CamVid images with the smoke recipe (2 crops of 64 px, 2 validation images at
120 px) in a temporary book root ($DRNBOOK_ROOT, with a copy of params/), never in this repository's results/ or
runs/.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import matplotlib
import nbformat
import numpy as np
import pandas as pd
import pytest
import torch

from drnlib import paper, runs
from drnlib.errors import ParameterError
from drnlib.eval.metrics import IGNORE_INDEX
from drnlib.models import build_model
from drnlib.pages import checked
from drnlib.pages import drn_segmentation as segmentation
from drnlib.params import read_params
from drnlib.provenance import PROFILES, ROOT_ENV
from drnlib.results import load_results

matplotlib.use("Agg")

REPO = Path(__file__).resolve().parents[1]
PAPERMILL = str(Path(sys.executable).parent / "papermill")
CLASSES = list(segmentation.CAMVID_COLORS)


@pytest.fixture(scope="module")
def book_root(tmp_path_factory, camvid_root):
    """An empty book root for the pages' results and runs, with the repository's params (recipes) and table of
    contents (the CamVid cache is the repository's)."""
    root = tmp_path_factory.mktemp("segbook")
    shutil.copytree(REPO / "params", root / "params")
    shutil.copy(REPO / "_toc.yml", root / "_toc.yml")
    return root


def papermill(args: list[str], root: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, ROOT_ENV: str(root), "PYDEVD_DISABLE_FILE_VALIDATION": "1"}
    return subprocess.run([PAPERMILL, *args], cwd=REPO, capture_output=True, text=True, env=env, timeout=900)


# The pages, run as a reader runs them.


def test_table3_adds_one_network_with_papermill_as_the_readme_says(book_root):
    out = book_root / "out.ipynb"
    done = papermill(["book/table3.ipynb", str(out), "-p", "arch", "drn_c_26", "-p", "scales", "0.5,1"], book_root)
    assert done.returncode == 0, done.stderr[-3000:]
    executed = nbformat.read(out, as_version=4)
    injected = [c.source for c in executed.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert injected and 'arch = "drn_c_26"' in injected[0]
    assert not any(o.get("output_type") == "error" for c in executed.cells if c.cell_type == "code"
                   for o in c.outputs)

    record = load_results("table3", "smoke", root=book_root)
    assert set(record.values["miou"]) == {"drn_c_26"}  # only `arch` was trained; drn_a_50 (in archs) is not yet
    assert 0 <= record.values["miou"]["drn_c_26"] <= 100 and 0 <= record.values["miou_ms"]["drn_c_26"] <= 100
    assert list(record.values["iou"]["drn_c_26"]) == CLASSES
    assert record.provenance["overrides"] == {"arch": "drn_c_26", "scales": [0.5, 1.0]}
    # every claim of the page has a verdict; those needing the untrained networks say why
    claims = record.values["claims"]
    assert set(claims) == {c.id for c in paper.page_claims("table3")}
    assert claims["DRN-35"]["verdict"] == "holds"
    assert claims["DRN-39"]["verdict"] == "not tested" and "DRN-A-50" in claims["DRN-39"]["why"]
    folders = list((book_root / "runs" / "smoke").iterdir())
    assert [f.name.split("-")[0] for f in folders] == ["drn_c_26"]
    assert len(list(folders[0].glob("eval-*.json"))) == 1  # the multi-scale scores, cached with the run
    assert (book_root / "results" / "smoke" / "table3-curves.png").is_file()


def test_fig8_reuses_the_table3_run_and_says_why_a_claim_is_not_tested(book_root):
    if not (book_root / "runs" / "smoke").is_dir():
        pytest.skip("needs the run of the Table 3 test")
    before = sorted(p.name for p in (book_root / "runs" / "smoke").iterdir())
    done = papermill(["book/fig8.ipynb", str(book_root / "fig8.ipynb"), "-p", "archs", "drn_c_26", "-p",
                      "num_images", "1"], book_root)
    assert done.returncode == 0, done.stderr[-3000:]
    assert sorted(p.name for p in (book_root / "runs" / "smoke").iterdir()) == before  # nothing trained
    record = load_results("fig8", "smoke", root=book_root)
    per_image = record.tables["per_image"]
    assert per_image["arch"].unique().tolist() == ["drn_c_26"] and len(per_image) == record.values["images"]
    assert (per_image["boundary_ratio"].dropna() >= 0).all()
    verdict = record.values["claims"]["DRN-42"]
    assert verdict["verdict"] == "not tested" and "DRN-A-50" in verdict["why"]
    assert (book_root / "results" / "smoke" / "fig8-examples.png").is_file()


def test_table3_refuses_a_bad_parameter_in_one_line(book_root):
    done = papermill(["book/table3.ipynb", str(book_root / "bad.ipynb"), "-p", "arch", "drn_c_27"], book_root)
    assert done.returncode != 0
    assert "ParameterError: parameter arch: unknown value 'drn_c_27'; did you mean" in done.stderr


# Parameters and runs.


@pytest.mark.parametrize("profile", PROFILES)
def test_both_pages_list_their_runs_and_share_them(profile):
    table3 = checked("table3", read_params(REPO, profile, "table3"))
    fig8 = checked("fig8", read_params(REPO, profile, "fig8"))
    specs = segmentation.needed_runs("table3", table3)
    assert [s.arch for s in specs] == table3.archs and table3.arch == ""
    assert set(segmentation.needed_runs("fig8", fig8)) <= set(specs)  # Figure 8 trains nothing Table 3 does not
    for s in specs:
        cfg = runs.config(profile, s)
        assert cfg.recipe == "drn_segmentation" and cfg.task == "segment"
        assert cfg.output_stride == (8 if s.arch.startswith("resnet") else None)
    if profile != "smoke":
        assert {"drn_a_50", "drn_c_26", "drn_c_42", "resnet101"} <= set(table3.archs)


def test_arch_trains_that_network_alone_and_the_baseline_has_output_stride_8():
    p = checked("table3", {"arch": "ResNet-101"})
    assert p.arch == "resnet101"
    assert segmentation.needed_runs("table3", p) == [runs.RunSpec("drn_segmentation", "resnet101", output_stride=8)]
    assert segmentation.table_archs(p) == [*p.archs, "resnet101"]
    with torch.device("meta"):
        dilated = build_model("resnet101", 11, "segment", **runs.config("mini", segmentation.spec(
            "drn_segmentation", "resnet101")).model_options())
        plain = build_model("resnet101", 11, "segment")
        x = torch.empty(1, 3, 224, 224)
        assert dilated.forward_features(x).shape[-1] == 224 // 8
        assert plain.forward_features(x).shape[-1] == 224 // 32
    assert "--output-stride 8" in runs.command("paper", segmentation.spec("drn_segmentation", "resnet101"))


def test_parameters_are_checked_in_one_line():
    assert checked("table3", {"scales": "0.5, 1,1.5"}).scales == [0.5, 1.0, 1.5]
    for bad in ({"scales": "0,1"}, {"scales": "a,1"}, {"arch": "drn_c_27"}, {"recipe": "drn_classifier"}):
        with pytest.raises(ParameterError, match=f"parameter {next(iter(bad))}"):
            checked("table3", bad)
    with pytest.raises(ParameterError, match="at most 4 architectures"):
        checked("fig8", {"archs": ["drn_a_50", "drn_c_26", "drn_c_42", "resnet18", "resnet34"]})
    with pytest.raises(ParameterError, match="num_images=13"):
        checked("fig8", {"num_images": 13})


# The claims, on per-image confusion matrices whose answer is known.


def fake_run(iou: dict, images: int = 40, seed: int = 0) -> SimpleNamespace:
    """A finished run's evaluation on `images` images: per image, 100 truth pixels of every class, of which a share
    iou[class] (0..1, jittered per image) is predicted right and the rest as the next class."""
    rng = np.random.default_rng(seed)
    c = len(CLASSES)
    confusion = np.zeros((images, c, c))
    for k, name in enumerate(CLASSES):
        hit = np.clip(iou.get(name, 0.5) + rng.normal(0, 0.05, images), 0, 1)
        confusion[:, k, k] = np.round(100 * hit)
        confusion[:, k, (k + 1) % c] = 100 - confusion[:, k, k]
    val = {"per_image": {"confusion": confusion.tolist()}, "class_names": CLASSES,
           "miou": float(paper.miou_of(confusion.sum(0)))}
    return SimpleNamespace(config=SimpleNamespace(dataset="camvid"), result={"val_images": images, "val": val})


def trained_like(shares: dict) -> dict:
    """{arch: fake_run} from {arch: share of every class predicted right, or {class: share}}."""
    return {arch: fake_run(share if isinstance(share, dict) else dict.fromkeys(CLASSES, share), seed=i)
            for i, (arch, share) in enumerate(shares.items())}


P = SimpleNamespace(profile="smoke", recipe="drn_segmentation")


def verdicts_of(trained: dict) -> dict:
    verdicts, _ = segmentation.table3_verdicts(P, trained)
    return {v.claim: v for v in verdicts}


def test_table3_claims_follow_the_measured_ious():
    ordered = verdicts_of(trained_like({"drn_a_50": 0.55, "drn_c_26": 0.6, "drn_c_42": 0.7, "resnet101": 0.4}))
    assert [ordered[c].verdict for c in ("DRN-35", "DRN-36", "DRN-37", "DRN-38", "DRN-39", "DRN-40")] == ["holds"] * 6
    assert "26 vs ResNet-101 101 layers" in ordered["DRN-37"].ours
    reversed_ = verdicts_of(trained_like({"drn_a_50": 0.65, "drn_c_26": 0.6, "drn_c_42": 0.5, "resnet101": 0.7}))
    assert {reversed_[c].verdict for c in ("DRN-36", "DRN-37", "DRN-38", "DRN-39", "DRN-40")} == {"does not hold"}
    missing = verdicts_of(trained_like({"drn_a_50": 0.55, "drn_c_26": 0.6}))
    assert missing["DRN-40"].verdict == "not tested" and missing["DRN-40"].why.startswith("DRN-C-42 not trained")
    assert missing["DRN-39"].verdict == "holds"


def test_by_more_than_a_point_needs_the_whole_interval_above_the_point():
    # DRN-C-26 beats the baseline clearly, but by less than DRN-37's point: the margin's interval lies in (0, 1)
    base = dict.fromkeys(CLASSES, 0.6)
    trained = {"drn_c_26": fake_run(base, images=400, seed=1), "resnet101": fake_run(base, images=400, seed=1)}
    conf = np.array(trained["drn_c_26"].result["val"]["per_image"]["confusion"])
    conf[:, 0, 0] += 3  # a few more sky pixels right on every image: a small, certain gain
    trained["drn_c_26"].result["val"]["per_image"]["confusion"] = conf.tolist()
    beats = segmentation.compare("DRN-36", trained, "drn_c_26", "resnet101", "test")
    by_a_point = segmentation.compare("DRN-37", trained, "drn_c_26", "resnet101", "test")
    assert beats.verdict == "holds" and 0 < beats.interval[0] and beats.interval[1] < 1
    assert by_a_point.verdict == "does not hold" and by_a_point.extra["threshold"] == 1.0


def test_per_class_claim_counts_the_classes_drn_c_42_leads_and_drn_c_26_loses():
    theirs = paper.published("drn", "table3_cityscapes_val_iou")
    paper_losses = {n for n in CLASSES if theirs.loc["drn_c_26", segmentation.paper_class(n)]
                    < theirs.loc["drn_a_50", segmentation.paper_class(n)]}
    as_paper = {n: (0.5 if n in paper_losses else 0.7) for n in CLASSES}  # DRN-C-26 loses exactly there
    verdict, table = segmentation.per_class_verdict(trained_like(
        {"drn_a_50": 0.6, "drn_c_26": as_paper, "drn_c_42": 0.8}), "test")
    assert verdict.verdict == "holds" and f"highest on {len(CLASSES)} of {len(CLASSES)}" in verdict.ours
    assert set(table.index[table["paper has DRN-C-26 lose"]]) == {segmentation.class_label(n) for n in paper_losses}

    few = {n: (0.9 if i < 3 else 0.3) for i, n in enumerate(CLASSES)}  # DRN-C-42 leads on 3 classes only
    verdict, table = segmentation.per_class_verdict(trained_like(
        {"drn_a_50": 0.6, "drn_c_26": as_paper, "drn_c_42": few}), "test")
    assert verdict.verdict == "does not hold" and (table["DRN-C-42 highest"] == "holds").sum() == 3

    verdict, table = segmentation.per_class_verdict(trained_like({"drn_a_50": 0.6, "drn_c_26": 0.7}), "test")
    assert verdict.verdict == "not tested" and "DRN-C-42" in table.iloc[0, 0]


def test_transfer_claim_is_computed_on_the_networks_and_the_recipe(monkeypatch):
    verdict = segmentation.transfer_verdict("mini", "drn_segmentation")
    assert verdict.verdict == "holds" and "RandomCrop + RandomHorizontalFlip" in verdict.ours
    monkeypatch.setenv("DRNLIB_RECIPE_OVERRIDES", json.dumps({"drn_segmentation": {"scale": 2.0}}))
    verdict = segmentation.transfer_verdict("mini", "drn_segmentation")
    assert verdict.verdict == "does not hold" and "RandomScale" in verdict.ours


def test_fig8_claim_needs_fewer_boundaries_and_a_higher_miou():
    trained = trained_like({"drn_a_50": 0.5, "drn_c_26": 0.6})
    images = range(trained["drn_c_26"].result["val_images"])
    rng = np.random.default_rng(0)
    gridded = [{"image": i, "arch": "drn_a_50", "boundary_ratio": 2 + rng.random()} for i in images]
    clean = [{"image": i, "arch": "drn_c_26", "boundary_ratio": 1 + rng.random()} for i in images]
    assert segmentation.fig8_verdict(trained, pd.DataFrame(gridded + clean), "test").verdict == "holds"
    swapped = pd.DataFrame(gridded + clean).replace({"arch": {"drn_a_50": "drn_c_26", "drn_c_26": "drn_a_50"}})
    assert segmentation.fig8_verdict(trained, swapped, "test").verdict == "does not hold"
    no_boundary = pd.DataFrame(gridded + clean).assign(boundary_ratio=float("nan"))
    assert segmentation.fig8_verdict(trained, no_boundary, "test").verdict == "not tested"


# drnlib.paper additions the pages use: per-class IoU evidence, a margin held to a threshold.


def test_per_class_evidence_is_the_class_iou_of_the_summed_matrices():
    run = fake_run({"pole": 0.3, "road": 0.9})
    scores = run.result["val"]
    total = np.array(scores["per_image"]["confusion"]).sum(0)
    k = CLASSES.index("pole")
    expected = 100 * total[k, k] / (total[k].sum() + total[:, k].sum() - total[k, k])
    evidence = paper.Evidence.from_scores("x", scores, "miou", ["pole"])
    assert evidence.value == pytest.approx(expected)
    assert paper.Evidence.from_scores("x", scores, "miou", [k]).value == pytest.approx(expected)
    low, high = evidence.interval()
    assert low <= expected <= high
    with pytest.raises(ParameterError, match="no class 'poles'.*did you mean pole"):
        paper.Evidence.from_scores("x", scores, "miou", ["poles"])


def test_a_class_missing_from_some_resamples_keeps_an_interval():
    scores = fake_run({}, images=20).result["val"]
    confusion = np.array(scores["per_image"]["confusion"])
    k = CLASSES.index("fence")
    confusion[2:, k, :] = 0  # fence only in the first two images: most resamples do not show it
    confusion[2:, :, k] = 0
    confusion[1, k, k], confusion[1, k, k + 1] = 20, 80  # and predicted worse in the second
    evidence = paper.Evidence("fence", "iou", confusion, True, classes=(k,))
    low, high = evidence.interval()
    assert np.isfinite([low, high]).all() and low < high and low <= evidence.value <= high


# Pictures and per-image measures.


def test_per_class_table_puts_the_papers_closest_class_beside_ours():
    theirs = paper.published("drn", "table3_cityscapes_val_iou")
    ours = pd.DataFrame({**{n: [45.0, 30.0] for n in CLASSES}, "miou": [45.0, 30.0]}, index=["drn_c_26", "resnet101"])
    table = segmentation.per_class_vs_paper(ours, theirs)
    assert table.loc["pavement (sidewalk)", ("DRN-C-26", "paper")] == theirs.loc["drn_c_26", "sidewalk"]
    assert table.loc["mIoU", ("DRN-C-26", "paper")] == theirs.loc["drn_c_26", "miou"]
    assert table.loc["road", ("DRN-C-26", "ours")] == 45.0
    assert ("ResNet-101 (OS 8)", "ours") in table.columns
    assert ("ResNet-101 (OS 8)", "paper") not in table.columns  # the paper's table has no ResNet-101 row


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

    colors = segmentation.palette(CLASSES)
    picture = segmentation.colorize(void, colors)
    assert picture.shape == (8, 8, 3) and tuple(picture[0, 0]) == segmentation.CAMVID_COLORS["sky"]
    assert tuple(picture[0, 3]) == (0, 0, 0)  # void is black
    assert tuple(picture[0, 7]) == segmentation.CAMVID_COLORS["road"]


def test_examples_figure_has_a_column_per_model_and_a_legend():
    labels = torch.zeros(6, 8, dtype=torch.long)
    rows = [{"image": np.zeros((6, 8, 3), dtype=np.uint8), "maps": [labels, labels, labels],
             "notes": ["a", "b", ""], "name": "val image 0"}]
    titles = segmentation.example_titles(["drn_a_50", "resnet101"])
    assert titles == ["(b) DRN-A-50", "(c) ResNet-101 (OS 8)", "(d) ground truth"]
    fig = segmentation.examples_figure(rows, CLASSES, titles)
    assert len(fig.axes) == 4 and fig.axes[1].get_title() == "(b) DRN-A-50"
    assert len(fig.legends[0].get_texts()) == 12  # 11 classes and void


def test_table3_figure_plots_each_miou_with_a_bootstrap_interval_and_the_papers_baseline():
    trained = trained_like({"drn_a_50": 0.55, "drn_c_26": 0.7})
    frame = segmentation.table3_intervals(trained)
    assert list(frame.columns) == ["value", "low", "high"] and list(frame.index) == ["drn_a_50", "drn_c_26"]
    for arch, run in trained.items():
        assert frame.loc[arch, "value"] == pytest.approx(run.result["val"]["miou"])
        assert frame.loc[arch, "low"] < frame.loc[arch, "value"] < frame.loc[arch, "high"]
    assert frame.loc["drn_a_50", "high"] < frame.loc["drn_c_26", "low"]  # 40 images tell 55% from 70% apart
    # the same image forty times: resampling the images changes nothing, the interval is the value itself
    same = fake_run(dict.fromkeys(CLASSES, 0.6), images=1)
    confusion = np.repeat(np.array(same.result["val"]["per_image"]["confusion"]), 40, axis=0)
    same.result["val"]["per_image"]["confusion"] = confusion.tolist()
    row = segmentation.table3_intervals({"drn_c_26": same}).loc["drn_c_26"]
    assert row["low"] == pytest.approx(row["value"]) and row["high"] == pytest.approx(row["value"])
    published = segmentation.paper_miou()
    assert published["resnet101"] == 66.6  # the baseline of the paper's text
    assert published["drn_c_26"] == paper.published("drn", "table3_cityscapes_val_iou").loc["drn_c_26", "miou"]
    assert published.index.is_unique
