"""The DRN classification pages (Tables 1-2, Figures 3, 4, 6, 7): their shared classifier settings agree in every
profile, and the measurements of drnlib.pages.drn_classification are right on inputs whose answer is known."""

import ast
import json
import math
from pathlib import Path

import pandas as pd
import pytest
import torch
import yaml

from drnlib.analysis import activations
from drnlib.book import notebook_parameters
from drnlib.errors import ParameterError
from drnlib.experiments import run_dir
from drnlib.models import build_model
from drnlib.pages.drn_classification import (SHARED_SETTINGS, class_maps, classifier_config, comparison_claim,
                                             find_classifier, high_frequency_chance, high_frequency_share, level_inputs,
                                             mass_in_box, parse_archs, peak_to_mean, pretty, radial_spectrum,
                                             train_classifiers, validation_images)
from drnlib.results import PROFILES

REPO = Path(__file__).resolve().parents[1]
PAGES = ("fig3", "fig4", "fig6", "fig7", "table1", "table2")
SMOKE = dict(dataset="tiny_imagenet", epochs=1, batch_size=8, crop_size=32, lr=0.01, step=30, limit_train=16,
             limit_val=8, holdout=4, seed=0, workers=0, device="cpu")


# The pages share one set of classifiers per profile.


def _params(profile: str, page: str) -> dict:
    return yaml.safe_load((REPO / "params" / profile / f"{page}.yaml").read_text())


@pytest.mark.parametrize("profile", PROFILES)
def test_every_page_spells_out_the_same_classifier_settings(profile):
    shared = {page: {key: _params(profile, page).get(key, "MISSING") for key in SHARED_SETTINGS} for page in PAGES}
    for page, values in shared.items():
        assert "MISSING" not in values.values(), f"params/{profile}/{page}.yaml lacks {values}"
        assert values == shared["table1"], f"params/{profile}/{page}.yaml trains other classifiers than table1.yaml"
    config = {page: classifier_config("drn_c_26", **shared[page], workers=0) for page in PAGES}
    assert len({run_dir(c, profile, Path("/book")) for c in config.values()}) == 1  # one run folder per network


def test_the_notebook_defaults_are_the_smoke_settings():
    """A page run by hand with its defaults (python book/NAME.py) shares the smoke profile's classifiers."""
    smoke = _params("smoke", "table1")
    for page in PAGES:
        defaults = notebook_parameters(REPO / "book" / f"{page}.ipynb")
        for key in SHARED_SETTINGS:
            assert ast.literal_eval(defaults[key]["default"]) == smoke[key], f"{page}: default {key}"


def test_the_tables_train_every_network_they_compare_at_mini_and_paper():
    ten = {"resnet18", "resnet34", "resnet50", "resnet101", "drn_a_18", "drn_a_34", "drn_a_50", "drn_b_26",
           "drn_c_26", "drn_c_42"}
    for profile in ("mini", "paper"):
        for page in ("table1", "table2"):
            assert set(parse_archs(_params(profile, page)["archs"])) == ten
        assert _params(profile, "table2")["holdout"] > 0


# Settings and runs.


def test_classifier_settings_are_checked_and_zero_limits_mean_everything():
    config = classifier_config("drn_a_18", **{**SMOKE, "limit_train": 0, "limit_val": 0})
    assert config.limit_train is None and config.limit_val is None and config.task == "classify"
    with pytest.raises(ParameterError, match="unknown dataset 'camvid' for the classifiers"):
        classifier_config("drn_a_18", **{**SMOKE, "dataset": "camvid"})
    with pytest.raises(ParameterError, match="limit_val must be an integer >= 0"):
        classifier_config("drn_a_18", **{**SMOKE, "limit_val": -1})
    with pytest.raises(ParameterError, match="crop_size must be >= 8"):
        classifier_config("drn_a_18", **{**SMOKE, "crop_size": 4})
    with pytest.raises(ParameterError, match="unknown archs 'drn_c_27'; did you mean"):
        parse_archs("resnet18, DRN-C-27")
    assert parse_archs("ResNet-18, drn_c_26,resnet18") == ["resnet18", "drn_c_26"]
    assert [pretty(a) for a in ("resnet101", "drn_c_26", "model_a")] == ["ResNet-101", "DRN-C-26", "model_a"]


def test_find_classifier_finds_only_a_finished_run_with_these_settings(tmp_path):
    assert find_classifier("drn_c_26", "smoke", root=tmp_path, **SMOKE) is None
    folder = run_dir(classifier_config("drn_c_26", **SMOKE), "smoke", tmp_path)
    folder.mkdir(parents=True)
    (folder / "result.json").write_text(json.dumps({"epochs": 1, "val": {"top1_error": 50.0}}))
    run = find_classifier("drn_c_26", "smoke", root=tmp_path, **{**SMOKE, "workers": 3})  # workers: same run
    assert run is not None and run.dir == folder and run.result["val"]["top1_error"] == 50.0
    assert find_classifier("drn_c_26", "smoke", root=tmp_path, **{**SMOKE, "epochs": 2}) is None
    assert find_classifier("drn_a_18", "smoke", root=tmp_path, **SMOKE) is None


def test_the_paper_profile_lists_the_torchrun_command_of_every_missing_classifier(tmp_path):
    with pytest.raises(ParameterError) as error:
        train_classifiers(["resnet18", "drn_c_26"], "paper", root=tmp_path, **SMOKE)
    message = str(error.value)
    assert "train the 2 missing classifier(s) first" in message and "\n" not in message
    assert message.count("torchrun --nproc_per_node 8 -m drnlib train") == 2 and "--arch drn_c_26" in message
    assert str(run_dir(classifier_config("drn_c_26", **SMOKE), "paper", tmp_path)) in message
    assert not (tmp_path / "runs").exists()


def test_comparison_claims_hold_not_hold_or_are_not_tested():
    paper = pd.DataFrame({"top1": {"a": 20.0, "b": 25.0, "c": 30.0}})
    ours = pd.DataFrame({"top1": {"a": 40.0, "b": 42.0}})
    row = comparison_claim("a beats b", "a", "b", ours, paper, "top1", images=5000)
    assert row["holds"] is True and row["paper"] == "a 20.00 vs b 25.00" and "Δ -2.00 ± 1.9" in row["ours"]
    assert comparison_claim("b beats a", "b", "a", ours, paper, "top1", 5000)["holds"] is False
    assert comparison_claim("b matches a", "b", "a", ours, paper, "top1", 5000, tolerance=2.0)["holds"] is True
    untested = comparison_claim("a beats c", "a", "c", ours, paper, "top1", 5000)
    assert untested["holds"] is None and "c not trained" in untested["ours"]


# Measurements with known answers.


def test_mass_in_box_spreads_each_cell_over_its_pixels():
    box = torch.tensor([[0.0, 0.0, 16.0, 32.0]])  # the left half of a 32 x 32 image
    assert mass_in_box(torch.ones(4, 4), box, 32) == pytest.approx(0.5)
    hot_left = torch.zeros(4, 4)
    hot_left[1, 0] = 1.0
    assert mass_in_box(hot_left, box, 32) == pytest.approx(1.0)
    assert mass_in_box(hot_left.flip(-1), box, 32) == pytest.approx(0.0)
    # a 2 x 2 map: one cell covers 16 x 16 pixels; a box over a quarter of that cell gets a quarter of its mass
    assert mass_in_box(torch.tensor([[1.0, 0.0], [0.0, 0.0]]), torch.tensor([[0.0, 0.0, 8.0, 8.0]]), 32) == \
        pytest.approx(0.25)
    assert math.isnan(mass_in_box(torch.zeros(2, 2), box, 32))


def test_high_frequency_share_is_one_for_a_checkerboard_zero_for_smooth_maps_and_chance_for_noise():
    checker = (torch.arange(16)[:, None] + torch.arange(16)[None, :]) % 2 * 2.0 - 1
    assert high_frequency_share(checker) == pytest.approx(1.0)
    ramp = torch.cos(2 * math.pi * torch.arange(32) / 32)[:, None].expand(32, 32)  # one cycle per 32 pixels
    assert high_frequency_share(ramp) == pytest.approx(0.0, abs=1e-12)
    noise = torch.randn(200, 16, 16, generator=torch.Generator().manual_seed(0))
    assert high_frequency_share(noise) == pytest.approx(high_frequency_chance(16, 16), abs=0.01)
    assert high_frequency_chance(16, 16, 0.25) == pytest.approx(
        sum(math.hypot(min(i, 16 - i), min(j, 16 - j)) / 16 > 0.25 for i in range(16) for j in range(16)) / 255)
    assert math.isnan(high_frequency_share(torch.full((8, 8), 3.0)))
    with pytest.raises(ParameterError, match="cutoff must be between 0 and 0.5"):
        high_frequency_share(noise, cutoff=0.5)
    centres, shares = radial_spectrum(torch.cat([checker[None], noise[:3]]))
    assert shares.sum().item() == pytest.approx(1.0) and len(centres) == 12 and shares[-1] > 0
    assert radial_spectrum(checker)[1][-1].item() == pytest.approx(1.0)


def test_peak_to_mean_of_a_spike_is_the_number_of_pixels():
    spike = torch.zeros(2, 8, 8)
    spike[:, 3, 4] = 5.0
    assert peak_to_mean(spike) == pytest.approx(64.0)
    assert peak_to_mean(torch.full((3, 4, 4), 2.0)) == pytest.approx(1.0)
    assert peak_to_mean(torch.stack([torch.zeros(4, 4), torch.ones(4, 4)])) == pytest.approx(1.0)  # dead map left out


# The batched helpers agree with drnlib.analysis.activations, image by image.


@pytest.mark.parametrize("arch", ["resnet18", "drn_b_26"])
def test_batched_maps_and_level_inputs_equal_the_per_image_ones(arch):
    torch.manual_seed(0)
    model = build_model(arch, num_classes=7).eval()
    images = torch.randn(2, 3, 64, 64)
    maps, classes = class_maps(model, images)
    inputs = level_inputs(model, images, level=3)
    for i in range(2):
        single, predicted = activations.class_activation_map(model, images[i])
        assert predicted == int(classes[i]) and torch.allclose(maps[i], single, rtol=1e-3, atol=1e-5)
        assert torch.allclose(inputs[i], activations.level_input(model, images[i], level=3), rtol=1e-4, atol=1e-5)
    true_class_maps, targets = class_maps(model, images, [3, 5])
    single = activations.class_activation_map(model, images[1], 5)[0]
    assert targets.tolist() == [3, 5] and torch.allclose(true_class_maps[1], single, rtol=1e-3, atol=1e-5)
    assert inputs.shape[1] == (64 if arch == "resnet18" else 32)  # after max pooling / after level 2
    assert not model.training


def test_validation_images_come_from_classes_spread_over_the_data_set(tiny_imagenet_root):
    batch = validation_images("tiny_imagenet", 4, 48, root=tiny_imagenet_root)
    assert batch.images.shape == (4, 3, 48, 48) and batch.pictures.shape == (4, 48, 48, 3)
    assert batch.labels == [0, 25, 50, 75] and len(batch.class_names) == 100
    assert 0 <= batch.pictures.min() and batch.pictures.max() <= 1 and batch.images.mean().abs() < 2
    for boxes in batch.boxes:
        assert boxes.shape[-1] == 4 and (boxes >= 0).all() and (boxes <= 48).all()
        assert (boxes[:, 2] > boxes[:, 0]).all() and (boxes[:, 3] > boxes[:, 1]).all()
    with pytest.raises(ParameterError, match="count must be between 1 and the 100 classes"):
        validation_images("tiny_imagenet", 101, 48, root=tiny_imagenet_root)
