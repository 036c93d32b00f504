"""The WoD segmentation tables (book/wod_table2.py ... wod_table7.py) and their shared module
drnlib.pages.wod_segmentation: pages that share runs use identical training settings at every profile, and the
module's parts (rows, recipe, category IoU, model averaging, claims) on small inputs and one tiny real run."""

from __future__ import annotations

import ast
import json
import math
from pathlib import Path

import pandas as pd
import pytest
import torch
from torch import nn

from drnlib import book
from drnlib.data import CamVid, Cityscapes
from drnlib.errors import ParameterError
from drnlib.eval.predict import AveragedModels, segment_probs
from drnlib.pages import wod_segmentation as st
from drnlib.results import PROFILES, ROOT_ENV

REPO = Path(__file__).resolve().parents[1]
PAGES = [f"wod_table{n}" for n in range(2, 8)]
RECIPE_FIELDS = [f for f in st.Recipe.__dataclass_fields__]


def defaults(page: str) -> dict:
    """The literal defaults of a page's parameters cell (book/NAME.py)."""
    source = (REPO / "book" / f"{page}.py").read_text()
    cell = next(text for _, text in book.percent_cells(source) if 'tags=["parameters"]' in text.splitlines()[0])
    return {s.target.id: ast.literal_eval(s.value) for s in ast.parse(cell).body if isinstance(s, ast.AnnAssign)}


def effective(page: str, profile: str) -> dict:
    """What the page runs with at `profile`: its defaults overlaid with params/<profile>/<page>.yaml."""
    page_entry = next(p for p in book.toc_pages(REPO) if p.name == page)
    return {**defaults(page), **book.read_params(REPO, profile, page_entry)}


def recipes(page: str, profile: str) -> list[st.Recipe]:
    """Every recipe a page trains with (Table 4 has a second block, standing in for ADE20K)."""
    params = effective(page, profile)
    out = [st.Recipe.from_params(params)]
    if "ade20k_dataset" in params:
        out.append(st.Recipe.from_params({**params, "dataset": params["ade20k_dataset"],
                                          "epochs": params["ade20k_epochs"]}))
    return out


# The pages and their params files.


def test_every_wod_page_is_in_the_toc_with_params_for_every_profile():
    names = [p.name for p in book.toc_pages(REPO)]
    assert all(page in names for page in PAGES)
    for page in PAGES:
        for profile in PROFILES:
            path = REPO / "params" / profile / f"{page}.yaml"
            assert path.is_file(), path
            written = book.read_params(REPO, profile, next(p for p in book.toc_pages(REPO) if p.name == page))
            missing = [f for f in RECIPE_FIELDS if f not in written]
            assert not missing, f"{path} leaves {missing} to the notebook's defaults: spell out every training knob"


@pytest.mark.parametrize("profile", PROFILES)
def test_pages_that_share_runs_train_them_with_identical_settings(profile):
    by_dataset: dict[str, dict[str, dict]] = {}
    pretraining = {}
    for page in PAGES:
        for recipe in recipes(page, profile):
            by_dataset.setdefault(recipe.dataset, {})[page] = recipe.as_dict()
            pretraining[page] = {k: v for k, v in recipe.as_dict().items() if k.startswith("pretrain") or k == "seed"}
    for dataset, pages in by_dataset.items():
        first_page, first = next(iter(pages.items()))
        for page, recipe in pages.items():
            differ = {k: (first[k], recipe[k]) for k in first if first[k] != recipe[k]}
            assert not differ, f"{profile}: {page} trains on {dataset} unlike {first_page}: {differ}"
    assert len({json.dumps(p, sort_keys=True) for p in pretraining.values()}) == 1, pretraining
    if profile != "paper":  # on CamVid every page shares one recipe, hence one set of runs
        assert list(by_dataset) == ["camvid"]


@pytest.mark.parametrize("profile", PROFILES)
def test_every_page_names_valid_networks_at_every_profile(profile):
    for page in PAGES:
        params = effective(page, profile)
        for name in ("rows", "ade20k_rows", "row", "average"):
            if name in params:
                assert st.parse_rows(params[name], name)
        if "scales" in params:
            assert book.parse_scales(params["scales"])
    paper_t2 = st.parse_rows(effective("wod_table2", "mini")["rows"])
    assert len(paper_t2) == 10 and st.Row("model_a", "2conv") in paper_t2  # every row of the paper's Table 2


# Rows, scales, recipe.


def test_rows_parse_with_paper_labels_and_refuse_bad_names():
    rows = st.parse_rows(" resnet101:1conv, model_a1:2conv ,MODEL_C:1conv")
    assert rows == [st.Row("resnet101", "1conv"), st.Row("model_a1", "2conv"), st.Row("model_c", "1conv")]
    assert [r.label for r in rows] == ["ResNet-101, 1 conv", "Model A2, 2 conv", "Model C, 1 conv"]
    assert rows[1].key == "model_a1_2conv"
    assert st.find_row(rows, "model_c", "1conv") == rows[2] and st.find_row(rows, "model_c", "2conv") is None
    with pytest.raises(ParameterError, match="unknown architecture 'model_g'.*did you mean"):
        st.parse_rows("model_g:1conv")
    with pytest.raises(ParameterError, match="head one of 1conv, 2conv"):
        st.parse_rows("model_a:3conv")
    with pytest.raises(ParameterError, match="head one of"):
        st.parse_rows("model_a")
    with pytest.raises(ParameterError, match="twice"):
        st.parse_rows("model_a:1conv,model_a:1conv")
    with pytest.raises(ParameterError, match="no network"):
        st.parse_rows(" , ")


def test_recipe_checks_its_knobs_in_one_line():
    recipe = st.Recipe.from_params({"epochs": 3, "lr": 0.01, "rows": "ignored", "profile": "smoke"})
    assert recipe.epochs == 3 and recipe.lr == 0.01
    config = recipe.run_config("model_a")
    assert (config.task, config.freeze_bn, config.ohem, config.schedule) == ("segment", False, True, "linear")
    assert config.limit_train is None  # 0 means every image
    for bad, message in [({"dataset": "camvd"}, "did you mean camvid"), ({"limit_val": -1}, "limit_val must be"),
                         ({"lr": -1.0}, "lr must be"), ({"schedule": "cosine"}, "unknown lr schedule"),
                         ({"pretrain_dataset": "places"}, "pretrain_dataset")]:
        with pytest.raises(ParameterError, match=message):
            st.Recipe(**bad)
    assert "no pretraining" in recipe.describe()


def test_pretraining_uses_each_networks_own_crop_and_model_a_for_a1():
    recipe = st.Recipe(pretrain_epochs=5, pretrain_crop_size=0, pretrain_dataset="imagenet")
    assert [st.own_crop(a) for a in ("resnet152", "model_a", "model_a1", "model_c", "model_f")] == [224, 224, 224,
                                                                                                   112, 56]
    config = recipe.pretrain_config("model_a1")
    assert (config.arch, config.task, config.crop_size, config.epochs) == ("model_a", "classify", 224, 5)
    assert st.Recipe(pretrain_epochs=5, pretrain_crop_size=64).pretrain_config("model_f").crop_size == 64
    key = st.extra_key(st.Row("model_a", "2conv"), recipe, "model_a-imagenet-classify-12345678")
    assert key["head"] == "2conv" and key["output_stride"] == 8 and key["pretrained"].startswith("model_a-")


# Scores, categories, averaging, claims.


def test_category_iou_merges_the_confusion_matrix():
    # classes a, b (category x) and c (category y); rows = truth, columns = prediction
    result = {"class_names": ["a", "b", "c"], "confusion": [[5, 3, 0], [1, 4, 2], [0, 0, 6]]}
    scores = st.category_scores(result, {"x": ["a", "b"], "y": ["c"]})
    # x: truth 15, predicted 13, correct 13 (a<->b confusions stay inside x) -> 13 / 15; y: 6 / (6 + 2) = 0.75
    assert scores["iou"]["x"] == pytest.approx(100 * 13 / 15)
    assert scores["iou"]["y"] == pytest.approx(75.0)
    assert scores["miou"] == pytest.approx((100 * 13 / 15 + 75) / 2)
    assert scores["pixel_acc"] == pytest.approx(100 * 19 / 21)
    with pytest.raises(ParameterError, match="classes in no category: c"):
        st.category_scores(result, {"x": ["a", "b"]})
    with pytest.raises(ParameterError, match="no class 'd'"):
        st.category_scores(result, {"x": ["a", "b", "d"], "y": ["c"]})
    with pytest.raises(ParameterError, match="in categories 'x' and 'y'"):
        st.category_scores(result, {"x": ["a", "b"], "y": ["b", "c"]})


def test_the_category_groupings_cover_each_data_set_once():
    for dataset, classes in (("camvid", CamVid.CLASSES), ("cityscapes", Cityscapes.CLASSES)):
        grouped = [c for members in st.CATEGORIES[dataset].values() for c in members]
        assert sorted(grouped) == sorted(classes)
        assert list(st.CATEGORIES[dataset]) == ["flat", "construction", "object", "nature", "sky", "human", "vehicle"]


class Constant(nn.Module):
    """A 'segmentation model' whose logits are fixed per class (so its softmax is known)."""

    def __init__(self, logits):
        super().__init__()
        self.logits = torch.tensor(logits)

    def forward(self, x):
        n, _, h, w = x.shape
        return self.logits.view(1, -1, 1, 1).expand(n, -1, h, w)


def test_model_averaging_averages_the_softmax_of_each_model():
    images = torch.zeros(2, 3, 8, 8)
    one, two = Constant([2.0, 0.0, 0.0]), Constant([0.0, 0.0, 3.0])
    averaged = segment_probs(AveragedModels([one, two]), images, scales=(1.0, 0.5), flip=True)
    expected = (torch.tensor([2.0, 0, 0]).softmax(0) + torch.tensor([0, 0, 3.0]).softmax(0)) / 2
    assert averaged.shape == (2, 3, 8, 8)
    assert torch.allclose(averaged[1, :, 4, 4], expected)
    assert torch.allclose(segment_probs(AveragedModels([one]), images), segment_probs(one, images))


def test_tables_wins_and_claims_from_scores():
    scores = {"Model A, 2 conv": {"pixel_acc": 90.0, "mean_acc": 70.0, "miou": 60.0, "iou": [80.0, 40.0, math.nan],
                                  "class_names": ["road", "car", "boat"]},
              "ResNet-101, 2 conv": {"pixel_acc": 88.0, "mean_acc": 72.0, "miou": 55.0, "iou": [70.0, 40.0, math.nan],
                                     "class_names": ["road", "car", "boat"]}}
    table = st.scores_table(scores)
    assert list(table.columns) == ["pixel_acc", "mean_acc", "miou"] and table.index.name == "network"
    assert list(st.shown(table).columns) == ["pixel acc.", "mean acc.", "mean IoU"]
    per_class = st.class_iou_table(scores)
    # car is a tie (no win), boat has no score at all (left out)
    assert st.wins(per_class, "Model A, 2 conv", ["road", "car", "boat"]) == {"wins": 1, "of": 2, "classes": ["road"]}
    a, r = st.Row("model_a", "2conv"), st.Row("resnet101", "2conv")
    assert st.margin_claim("A beats R", "paper", table, a, r)["holds"] is True
    lost = st.margin_claim("A beats R", "paper", table, a, r, metric="mean_acc")
    assert lost["holds"] is False and "-2.00" in lost["ours"]
    assert st.margin_claim("C beats R", "paper", table, st.Row("model_c", "2conv"), r)["holds"] is None
    assert st.margin_claim("x", "paper", table, None, r)["holds"] is None
    assert st.ade_score({"pixel_acc": 80.0, "miou": 40.0}) == 60.0


def test_the_papers_notes_and_relations_come_from_published_yaml():
    assert "unconfirmed" in st.paper_notes("table6_ade20k_test")  # a table without a single number
    assert "3.4" in st.relation("table2_voc_val", "beats ResNet-152")
    with pytest.raises(ParameterError, match="no stated relation"):
        st.relation("table2_voc_val", "CRF")
    with pytest.raises(ParameterError, match="no table"):
        st.paper_notes("table9")
    frame = st.unknown_paper_frame(["Model A, 1 conv"], ["miou"], "table2_voc_val")
    assert frame.isna().all().all() and "all cells" in frame.attrs["source"]


def test_the_memory_column_needs_cuda():
    if torch.cuda.is_available():
        pytest.skip("measures on the GPU here")
    assert st.peak_memory_gb(st.Row("model_a", "1conv"), device="cpu") is None


# One tiny real run: pretraining, training, reuse, evaluation protocols and their cache.


def test_runs_are_pretrained_trained_once_and_evaluated_with_a_cache(tmp_path, monkeypatch, camvid_root,
                                                                     tiny_imagenet_root):
    monkeypatch.setenv(ROOT_ENV, str(tmp_path))
    recipe = st.Recipe(epochs=1, batch_size=2, crop_size=32, limit_train=2, limit_val=1, eval_size=32, workers=0,
                       device="cpu", pretrain_epochs=1, pretrain_batch_size=2, pretrain_crop_size=32,
                       pretrain_limit=2)
    rows = st.parse_rows("resnet50:1conv,resnet50:2conv")
    runs = st.train_rows(rows, recipe, "smoke")
    pretrained = st.pretrain_run("resnet50", recipe, "smoke")
    assert pretrained.result["train_images"] == 2 and pretrained.config.dataset == "tiny_imagenet"
    for row, run in runs.items():
        assert json.loads((run.dir / "extra_key.json").read_text()) == st.extra_key(row, recipe, pretrained.dir.name)
        assert run.model().build_config["head"] == row.head
    assert len({run.dir for run in runs.values()}) == 2
    mtime = (runs[rows[0]].dir / "result.json").stat().st_mtime_ns
    again = st.train_row(rows[0], recipe, "smoke")  # found, not retrained
    assert again.dir == runs[rows[0]].dir and (again.dir / "result.json").stat().st_mtime_ns == mtime

    table = st.scores_table(st.validation_scores(runs))
    assert list(table.index) == [r.label for r in rows] and table.notna().all().all()
    single = st.evaluate_rows([runs[rows[0]]], recipe, "test")
    assert single["images"] == 1 and len(single["confusion"]) == 11 and single["class_names"] == CamVid.CLASSES
    assert sum(map(sum, single["confusion"])) == single["pixels"]
    assert st.evaluate_rows([runs[rows[0]]], recipe, "test") == single  # from the cache
    assert len(list((tmp_path / "runs" / "smoke" / "evaluations").glob("*.json"))) == 1
    both = st.evaluate_rows(list(runs.values()), recipe, "test", scales=(1.0, 0.5), flip=True)
    assert both["protocol"]["runs"] == [runs[r].dir.name for r in rows] and both["pixels"] == single["pixels"]
    categories = st.category_scores(both, st.CATEGORIES["camvid"])
    assert set(categories["iou"]) == set(st.CATEGORIES["camvid"])
    assert isinstance(st.class_iou_table({"ours": both}), pd.DataFrame)


def test_the_paper_profile_stops_with_the_training_command(tmp_path, monkeypatch, camvid_root):
    monkeypatch.setenv(ROOT_ENV, str(tmp_path))
    with pytest.raises(ParameterError, match="torchrun .* --dataset camvid .*NOTE: the train CLI cannot yet build"):
        st.train_row(st.Row("model_a", "2conv"), st.Recipe(), "paper")
    with pytest.raises(ParameterError, match="torchrun .* --dataset tiny_imagenet"):  # its pretraining comes first
        st.train_row(st.Row("model_a", "2conv"), st.Recipe(pretrain_epochs=1), "paper")
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").rglob("checkpoint.pt"))
