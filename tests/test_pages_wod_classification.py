"""The WoD classification and path pages (book/wod_fig1.py, wod_table1.py, wod_figA4.py) and what they share:
the CIFAR recipe and Table 1's rows (drnlib.pages.wod_classification), the path statistics (drnlib.analysis.paths).
Pages that share runs must use identical training settings at every profile; bad parameters stop a page with one
line. The pages themselves run end to end in tests/test_book.py (the smoke book build)."""

from __future__ import annotations

import ast
import math
from pathlib import Path

import pytest
import torch
from torch import nn

from drnlib import book
from drnlib.analysis.architecture import final_resolution
from drnlib.analysis.paths import (decay_per_unit, effective_range, load_batches, path_statistics, top1_error,
                                   unit_table)
from drnlib.errors import DataError, ParameterError
from drnlib.experiments import run_dir
from drnlib.models import build_model
from drnlib.pages.wod_classification import CifarRecipe, table1_config, table1_rows
from drnlib.results import PROFILES

REPO = Path(__file__).resolve().parents[1]
PAGES = ["wod_fig1", "wod_table1", "wod_figA4"]


def cells(page: str) -> list[str]:
    return [text for _, text in book.percent_cells((REPO / "book" / f"{page}.py").read_text())]


def defaults(page: str) -> dict:
    """The literal defaults of a page's parameters cell."""
    cell = next(text for text in cells(page) if 'tags=["parameters"]' in text.splitlines()[0])
    return {s.target.id: ast.literal_eval(s.value) for s in ast.parse(cell).body if isinstance(s, ast.AnnAssign)}


def effective(page: str, profile: str) -> dict:
    """What the page runs with at `profile`: its defaults overlaid with params/<profile>/<page>.yaml."""
    entry = next(p for p in book.toc_pages(REPO) if p.name == page)
    return {**defaults(page), **book.read_params(REPO, profile, entry)}


# The pages, their order and their params files.


def test_pages_are_in_the_wider_or_deeper_part_in_order():
    names = [p.name for p in book.toc_pages(REPO)]
    positions = [names.index(page) for page in PAGES]
    assert positions == sorted(positions) and positions[-1] - positions[0] == 2
    if "wod_table2" in names:
        assert names.index("wod_table2") == positions[-1] + 1


@pytest.mark.parametrize("page", PAGES)
def test_every_profile_has_a_params_file_that_names_it(page):
    for profile in PROFILES:
        assert effective(page, profile)["profile"] == profile
    # the notebook's defaults are the smoke profile
    assert effective(page, "smoke") == defaults(page)


@pytest.mark.parametrize("profile", PROFILES)
def test_the_path_pages_share_their_cifar_runs(profile):
    fig1, figA4 = effective("wod_fig1", profile), effective("wod_figA4", profile)
    recipe = CifarRecipe.from_params(fig1)
    assert recipe == CifarRecipe.from_params(figA4)
    # Figure A.4's ResNet is one that Figure 1 trains: the same folder, trained once (workers and device aside)
    assert figA4["resnet"] in fig1["archs"].split(",")
    ours = recipe.config(figA4["resnet"], fig1["workers"], fig1["device"])
    theirs = CifarRecipe.from_params(figA4).config(figA4["resnet"], figA4["workers"] + 3, "cpu")
    assert run_dir(ours, profile, REPO) == run_dir(theirs, profile, REPO)


def test_the_paper_profile_follows_he_et_al_and_wod():
    cifar = CifarRecipe.from_params(effective("wod_fig1", "paper"))
    assert (cifar.epochs, cifar.batch_size, cifar.lr, cifar.weight_decay) == (164, 128, 0.1, 1e-4)
    assert cifar.limit_train == cifar.limit_val == 0  # the whole data set
    assert effective("wod_figA4", "paper")["wod_arch"] == "224-0-3-3-6-3-1-1"  # Model A itself
    imagenet = effective("wod_table1", "paper")
    assert imagenet["dataset"] == "imagenet" and imagenet["input_scale"] == 1
    assert (imagenet["epochs"], imagenet["batch_size"], imagenet["lr"], imagenet["lr_end"]) == (90, 256, 0.1, 1e-6)


@pytest.mark.parametrize("profile", ["mini", "paper"])
def test_table1_trains_every_row_beyond_smoke(profile):
    params = effective("wod_table1", profile)
    rows = table1_rows(params["input_scale"])
    aliases = {"model_" + k.lower(): v for k, v in zip(rows.index, rows["arch"]) if len(k) == 1}
    archs = [aliases.get(a, a) for a in params["archs"].split(",")]
    assert sorted(archs) == sorted(rows["arch"])
    assert (rows["our train crop"] >= 8).all()


# Table 1's rows and recipe.


def test_table1_rows_follow_the_paper_and_scale_every_crop_alike():
    rows = table1_rows(0.25)
    assert list(rows.index) == ["ResNet-50", "ResNet-101", "ResNet-152", "F", "E", "D", "C", "224-0-1-1-1-1-1-1",
                                "B", "A"]
    assert rows.loc["A", "arch"] == "224-0-3-3-6-3-1-1" and rows.loc["ResNet-152", "arch"] == "resnet152"
    wod = rows.iloc[3:]
    assert (wod["paper train crop"] == wod["arch"].str.split("-").str[0].astype(int)).all()
    assert dict(zip(rows["paper train crop"], rows["paper test crop"])) == {224: 320, 112: 160, 56: 80}
    assert dict(zip(rows["paper train crop"], rows["our train crop"])) == {224: 56, 112: 28, 56: 14}
    assert dict(zip(rows["paper test crop"], rows["our test crop"])) == {320: 80, 160: 40, 80: 20}
    unscaled = table1_rows(1.0)
    assert (unscaled["our train crop"] == unscaled["paper train crop"]).all()
    # the design the scaling keeps: every row ends at the same final map, at the paper's crops and at ours
    for column in ("paper train crop", "our train crop"):
        sides = {final_resolution(arch, int(crop)) for arch, crop in zip(rows["arch"], rows[column])}
        assert len(sides) == 1


def test_table1_config_is_wods_linear_recipe():
    config = table1_config("model_b", "tiny_imagenet", 56, epochs=30, batch_size=128, lr=0.05, lr_end=1e-6,
                           weight_decay=1e-4, limit_train=0, limit_val=20)
    assert (config.schedule, config.lr, config.lr_end, config.crop_size) == ("linear", 0.05, 1e-6, 56)
    assert config.limit_train is None and config.limit_val == 20 and config.task == "classify"


# Bad parameters stop a page with one line, before anything is trained.


@pytest.mark.parametrize("page, changes, message", [
    ("wod_fig1", {"archs": "resnet_cifar_21"}, "unknown archs 'resnet_cifar_21'"),
    ("wod_fig1", {"lesion_images": 0}, "lesion_images must be between"),
    ("wod_figA4", {"wod_arch": "resnet50"}, "wod_arch must be a Wider-or-Deeper name string"),
    ("wod_figA4", {"device": "tpu"}, "unknown device 'tpu'"),
    ("wod_table1", {"archs": "model_z"}, "unknown archs 'model_z'"),
    ("wod_table1", {"archs": "model_f", "input_scale": 0.1}, "training crop of F smaller than 8 px"),
    ("wod_table1", {"lr_end": 0.5}, "lr_end must be within"),
])
def test_a_bad_parameter_stops_the_page_with_one_line(page, changes, message):
    checks = next(text for text in cells(page) if text.startswith("# %%\n"))  # imports and parameter checks
    namespace = {**defaults(page), **changes}
    with pytest.raises(ParameterError, match=message) as error:
        exec(compile(checks, f"{page} checks", "exec"), namespace)
    assert "\n" not in str(error.value)


# The path statistics behind Figures 1 and A.4.


def test_unit_table_marks_the_projection_units():
    table = unit_table(build_model("resnet_cifar_20", num_classes=10))
    assert list(table.index) == list(range(1, 10))
    assert list(table.index[table["projection"]]) == [4, 7]  # the first units of levels 2 and 3
    assert list(table["channels"].unique()) == [16, 32, 64]
    with torch.device("meta"):
        model_a = build_model("model_a", num_classes=10)
    table = unit_table(model_a)
    assert len(table) == 17  # "exactly seventeen residual units"
    assert list(table.index[table["projection"]]) == [1, 4, 7, 13, 16, 17]  # every first unit of B2..B7
    assert table["channels"].iloc[-1] == 4096


def test_path_statistics_weigh_each_length_by_its_number_of_paths():
    stats = path_statistics({0: [4.0], 1: [1.0, 3.0], 2: [1.0]}, n=2)
    assert list(stats["paths"]) == [1, 2, 1] and list(stats["paths_share"]) == [0.25, 0.5, 0.25]
    assert list(stats["mean"]) == [4.0, 2.0, 1.0] and list(stats["std"]) == [0.0, 1.0, 0.0]
    assert list(stats["total"]) == [4.0, 4.0, 1.0]
    assert stats["total_share"].sum() == pytest.approx(1.0)
    assert decay_per_unit(stats) == pytest.approx(math.log10(1 / 4) / 2)


def test_a_geometric_decay_is_found_exactly_and_shifts_the_gradient_to_short_paths():
    n = 54  # ResNet-110
    stats = path_statistics({k: [10.0 ** (-0.5 * k)] for k in range(n + 1)}, n)
    assert decay_per_unit(stats) == pytest.approx(-0.5)
    low, high = effective_range(stats, 0.9)
    peak = int(stats["total"].idxmax())
    assert low <= peak <= high < n / 2  # the gradient comes from paths shorter than most paths
    flat = path_statistics({k: [1.0] for k in range(n + 1)}, n)
    assert decay_per_unit(flat) == pytest.approx(0.0, abs=1e-12)
    assert int(flat["total"].idxmax()) == n // 2  # no decay: the binomial mode
    low, high = effective_range(flat, 0.9)
    assert low + high == n  # symmetric around n / 2
    with pytest.raises(ValueError):
        effective_range(flat, 1.0)


def test_top1_error_counts_the_wrong_predictions_over_all_batches():
    logits = torch.eye(4)  # predicts class i for sample i
    batches = [(logits[:3], torch.tensor([0, 1, 0])), (logits[3:], torch.tensor([3]))]
    assert top1_error(batches)(nn.Identity()) == pytest.approx(25.0)


def test_load_batches_reads_whole_cifar_images_round_robin_over_the_classes(cifar10_root):
    batches = load_batches("cifar10", "val", 12, 5, root=str(cifar10_root))
    assert [len(labels) for _, labels in batches] == [5, 5, 2]
    images = torch.cat([b[0] for b in batches])
    labels = torch.cat([b[1] for b in batches])
    assert images.shape == (12, 3, 32, 32) and images.dtype == torch.float32
    assert labels.tolist() == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]
    assert -3 < images.mean() < 3 and images.std() > 0.3  # normalised pixels, not raw bytes
    with pytest.raises(DataError, match="fewer than the 10001 asked for"):
        load_batches("cifar10", "val", 10001, 100, root=str(cifar10_root))
