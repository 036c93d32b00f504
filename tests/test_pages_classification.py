"""The DRN classification pages (Tables 1-2, Figures 3, 4, 6, 7): they share one set of classifier runs per profile
(one recipe, each network trained once), their parameters are checked with one-line errors, their claims are decided
by drnlib.paper's rule from per-image measurements, and the measurements of drnlib.pages.drn_classification are
right on inputs whose answer is known."""

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from drnlib import runs
from drnlib.analysis import activations
from drnlib.errors import ParameterError
from drnlib.models import build_model
from drnlib.pages import checked, needed_runs, profile_runs
from drnlib.pages.drn_classification import (
    DILATED_PAIRS, ImageBatch, advantage_growth, class_maps, didactic_example, fig3_verdicts, fig6_verdicts,
    fig7_verdicts, forward_pass, high_frequency_chance, high_frequency_share, last_dilated_level, lattice_verdict,
    level_inputs, map_measurements, mass_in_box, numbered_levels, paired, peak_to_mean, pretty, radial_spectrum,
    strongest_level_maps, table1_intervals, table2_intervals, table2_verdicts, validation_images)
from drnlib.params import notebook_parameters, read_params
from drnlib.provenance import PROFILES

REPO = Path(__file__).resolve().parents[1]
CLASSIFIER_PAGES = ("fig3", "fig6", "fig7", "table1", "table2")
PAGES = (*CLASSIFIER_PAGES, "fig4")
TEN = ["resnet18", "drn_a_18", "drn_b_26", "drn_c_26", "resnet34", "drn_a_34", "drn_c_42", "resnet50", "drn_a_50",
       "resnet101"]


def _page(profile: str, page: str):
    return checked(page, read_params(REPO, profile, page), REPO)


# One set of classifiers per profile.


@pytest.mark.parametrize("profile", PROFILES)
def test_the_pages_train_each_network_once_with_the_profiles_recipe(profile):
    folders = {}
    for page in CLASSIFIER_PAGES:
        p = _page(profile, page)
        specs = needed_runs(page, p)
        assert [s.arch for s in specs] == p.archs and {s.recipe for s in specs} == {"drn_classifier"}
        assert all(s.options == () for s in specs)  # no page trains a variant of its own
        for spec in specs:
            folders.setdefault(spec.arch, set()).add(runs.config(profile, spec, REPO).out_dir)
    assert needed_runs("fig4", _page(profile, "fig4")) == []  # Figure 4 trains nothing
    assert all(len(found) == 1 for found in folders.values()), folders  # one run folder per network
    assert {"resnet18", "drn_a_18", "drn_b_26", "drn_c_26"} <= set(folders)


def test_the_mini_profile_lists_each_classifier_once_with_the_pages_that_use_it():
    listed = profile_runs("mini", pages=list(PAGES), root=REPO)
    assert sorted(listed["arch"]) == sorted(TEN) and set(listed["recipe"]) == {"drn_classifier"}
    uses = dict(zip(listed["arch"], listed["pages"]))
    assert uses["drn_c_26"] == "fig3,fig7,table1,table2" and uses["drn_a_18"] == "fig3,fig6,fig7,table1,table2"
    assert uses["resnet101"] == "table1,table2" and "fig4" not in ",".join(listed["pages"])


def test_the_tables_compare_the_papers_ten_networks_at_mini_and_paper():
    for profile in ("mini", "paper"):
        assert _page(profile, "table2").archs == TEN
        assert set(TEN) <= set(_page(profile, "table1").archs)


@pytest.mark.parametrize("page", PAGES)
def test_a_page_run_by_hand_with_its_defaults_is_the_smoke_profile(page):
    defaults = {name: info["default"] for name, info in notebook_parameters(REPO / "book" / f"{page}.py").items()}
    smoke = read_params(REPO, "smoke", page)
    assert {k: defaults[k] for k in smoke} == smoke
    assert not any(k in defaults for k in ("epochs", "lr", "batch_size", "limit_train", "holdout", "crop_size"))


@pytest.mark.parametrize("page, values, message", [
    ("table2", {"archs": ["resnet18", "DRN-C-27"]}, "parameter archs: unknown value 'drn_c_27'"),
    ("table2", {"recipe": "wod_classifier"}, "parameter recipe: unknown value 'wod_classifier'"),
    ("fig3", {"num_images": 0}, "parameter num_images=0: must be between 1 and 16"),
    ("fig6", {"archs": ["drn_a_18", "drn_b_26", "drn_c_26"]}, "needs exactly two networks"),
    ("fig6", {"cutoff": 0.5}, "parameter cutoff=0.5: must be between 0.01 and 0.49"),
    ("fig4", {"checkpoint_drn_c_26": "no/such/file.pth"}, "parameter checkpoint_drn_c_26: file no/such/file.pth"),
    ("fig4", {"image_dataset": "imagenette"}, "parameter image_dataset: unknown value 'imagenette'"),
    ("fig7", {"period": "four"}, "parameter period='four': expected an int"),
])
def test_bad_parameters_stop_a_page_with_one_line(page, values, message):
    with pytest.raises(ParameterError, match=message) as error:
        checked(page, {**read_params(REPO, "smoke", page), **values}, REPO)
    assert "\n" not in str(error.value)


def test_the_spellings_of_the_paper_are_accepted():
    p = checked("table2", {"archs": ["ResNet-18", "DRN-C-26", "resnet18"]}, REPO)
    assert p.archs == ["resnet18", "drn_c_26"]
    assert [pretty(a) for a in ("resnet101", "drn_c_26", "model_a")] == ["ResNet-101", "DRN-C-26", "model_a"]


# Table 2's claims, decided from per-image records.


def _scores(wrong: dict[str, tuple[list, list]]) -> dict:
    """Localization score dicts as runs.evaluate returns them: {arch: (loc_top1_wrong, top1_wrong)} per image."""
    out = {}
    for arch, (loc, cls) in wrong.items():
        out[arch] = {"per_image": {"loc_top1_wrong": loc, "loc_top5_wrong": loc, "top1_wrong": cls,
                                   "top5_wrong": cls}}
    return out


def test_table2_claims_hold_when_every_drn_localizes_better_on_the_same_images():
    n = 400
    rng = np.random.default_rng(0)
    # DRNs miss 30% of the boxes, ResNets 60%; both classify as well (20% wrong): the gap grows with the task
    good, bad = (rng.random(n) < 0.3).astype(int), (rng.random(n) < 0.6).astype(int)
    same = (rng.random(n) < 0.2).astype(int)
    wrong = {arch: ((good if arch.startswith("drn") else bad).tolist(), same.tolist()) for arch in TEN}
    wrong["drn_c_26"] = ((good * (rng.random(n) < 0.5)).tolist(), same.tolist())  # C-26 localizes best ...
    wrong["drn_a_50"] = (good.tolist(), (same * (rng.random(n) < 0.3)).tolist())  # ... DRN-A-50 classifies best
    verdicts = {v.claim: v for v in table2_verdicts(_scores(wrong), "test")}
    assert list(verdicts) == [f"DRN-{i}" for i in range(21, 29)]
    for claim in ("DRN-21", "DRN-22", "DRN-23", "DRN-24", "DRN-25", "DRN-28"):
        assert verdicts[claim].verdict == "holds", verdicts[claim]
    assert verdicts["DRN-27"].verdict == "not tested" and "does not give" in verdicts["DRN-27"].why
    # DRN-26 also asks DRN-B-26 to sit between DRN-A-18 and DRN-C-26 on top-1 and to be worse than DRN-A-18 on
    # top-5; here DRN-B-26 and DRN-A-18 localize alike, so that part is not resolved
    assert verdicts["DRN-26"].verdict == "not resolved"
    assert "top-1 localization error: DRN-A-18" in verdicts["DRN-21"].ours


def test_table2_claims_name_the_networks_a_profile_does_not_train():
    four = {arch: ([1, 0, 1, 0], [0, 0, 1, 0]) for arch in ("resnet18", "drn_a_18", "drn_b_26", "drn_c_26")}
    verdicts = {v.claim: v for v in table2_verdicts(_scores(four), "smoke")}
    assert verdicts["DRN-21"].verdict == "not resolved"  # the same errors: the margin is 0
    assert verdicts["DRN-22"].verdict == "not tested" and verdicts["DRN-22"].why == \
        "DRN-A-34 and ResNet-34 not trained at this profile"
    assert verdicts["DRN-22"].ours.count("not trained") == 1  # each reason once
    assert "ResNet-34, DRN-A-34, ResNet-50, DRN-A-50" in verdicts["DRN-28"].why


def test_the_advantage_does_not_grow_when_the_drn_gains_as_much_in_classification():
    n = 300
    rng = np.random.default_rng(1)
    scores = {}
    for resnet, drn in DILATED_PAIRS:
        cls_r = (rng.random(n) < 0.5).astype(int)
        cls_d = cls_r * (rng.random(n) < 0.5)  # the DRN fixes half the ResNet's classification errors ...
        scores |= _scores({resnet: (cls_r.tolist(), cls_r.tolist()), drn: (cls_d.tolist(), cls_d.tolist())})
    verdict = advantage_growth(scores, "test")  # ... and localization adds no error: the same gain in both
    assert verdict.verdict == "not resolved" and verdict.margin == pytest.approx(0.0)


# Figures 3, 6, 7: per-image claims.


def _frame(values: dict[str, list], column: str) -> pd.DataFrame:
    return pd.DataFrame([{"arch": arch, "image": i, column: v} for arch, vs in values.items() for i, v in
                         enumerate(vs)])


def test_paired_claims_leave_out_the_images_one_side_cannot_measure():
    frame = _frame({"drn_c_26": [1.0, 2.0, math.nan, 1.5] * 5, "drn_a_18": [5.0, 6.0, 7.0, math.nan] * 5}, "g")
    lower = paired("DRN-20", frame, "drn_c_26", "drn_a_18", "g", False, "test", "gridding")
    assert lower.verdict == "holds" and lower.margin == pytest.approx(4.0) and "paired bootstrap over 10" in \
        lower.method
    assert paired("DRN-20", frame, "drn_a_18", "drn_c_26", "g", False, "test", "g").verdict == "does not hold"
    missing = paired("DRN-20", frame, "drn_b_26", "drn_a_18", "g", False, "test", "g")
    assert missing.verdict == "not tested" and missing.why == "DRN-B-26 not trained at this profile"
    empty = _frame({"resnet18": [math.nan] * 3, "drn_a_18": [1.0] * 3}, "g")
    assert paired("DRN-19", empty, "drn_a_18", "resnet18", "g", True, "t", "g").verdict == "not tested"


def test_figure3_claims_from_known_measurements():
    n = 30
    ramp = np.linspace(0, 1, n)
    per_image = _frame({"resnet18": list(40 + ramp), "drn_a_18": list(60 + ramp), "drn_b_26": list(61 + ramp),
                        "drn_c_26": list(62 + ramp)}, "mass_in_box")
    per_image["map_side"] = per_image["arch"].map({"resnet18": 2}).fillna(8).astype(int)
    per_image["grid_class_map"] = per_image["arch"].map({"resnet18": math.nan, "drn_a_18": 10.0, "drn_b_26": 5.0,
                                                         "drn_c_26": 1.0}) + np.tile(ramp, 4)
    per_image["grid_output"] = per_image["grid_class_map"]
    facts = pd.DataFrame({"side at 224": [7, 28, 28, 28], "side here": [2, 8, 8, 8],
                          "pooled map vs logits": [1e-7] * 4}, index=["resnet18", "drn_a_18", "drn_b_26", "drn_c_26"])
    verdicts = {v.claim: v for v in fig3_verdicts(per_image, facts, 64, "test")}
    assert [verdicts[c].verdict for c in ("DRN-18", "DRN-19", "DRN-20", "DRN-33")] == ["holds"] * 4
    assert "DRN-A-18 28², DRN-B-26 28², DRN-C-26 28² vs ResNet-18 7²" in verdicts["DRN-18"].ours
    facts.loc["drn_c_26", "pooled map vs logits"] = 0.5  # maps that are not the classifier's own
    assert fig3_verdicts(per_image, facts, 64, "test")[0].verdict == "does not hold"
    swapped = per_image.assign(grid_class_map=per_image["grid_class_map"] * -1)
    assert {v.claim: v.verdict for v in fig3_verdicts(swapped, facts, 64, "t")}["DRN-20"] == "does not hold"


def test_figure6_claims_compare_the_trained_networks_only():
    rows = []
    for arch, hf, peak, grid in (("drn_a_18", 30.0, 5.0, 3.0), ("drn_b_26", 10.0, 2.0, 1.0)):
        for weights, shift in (("trained", 0.0), ("random init", -100.0)):  # the control must not count
            rows += [{"arch": arch, "weights": weights, "image": i, "high_frequency": hf + shift + i % 3,
                      "peak_mean": peak + i % 2, "grid_dilated": grid + shift * (arch == "drn_a_18"),
                      "grid_output": grid + i % 2} for i in range(12)]
    verdicts = fig6_verdicts(pd.DataFrame(rows), "drn_a_18", "drn_b_26", "test")
    assert [(v.claim, v.verdict) for v in verdicts] == [("DRN-30", "holds"), ("DRN-31", "holds")]


def test_figure7_claims_read_the_levels_of_the_network_looked_inside():
    def frame(level6: float, level8: float, others: float) -> pd.DataFrame:
        levels = {str(k): others for k in range(1, 9)} | {"6": level6, "8": level8, "class map": others}
        return pd.DataFrame([{"arch": "drn_c_26", "level": level, "image": i, "side": 8, "index": v + 0.1 * (i % 3)}
                             for level, v in levels.items() for i in range(10)])

    degrids, free = fig7_verdicts(frame(-1.0, -5.0, -3.0), "drn_c_26", "test")
    assert (degrids.verdict, free.verdict) == ("holds", "holds")
    assert "level 8" in degrids.ours and "level 6" in degrids.ours and "class map -2.91" in free.ours
    degrids, free = fig7_verdicts(frame(-5.0, 2.0, -3.0), "drn_c_26", "test")
    assert (degrids.verdict, free.verdict) == ("does not hold", "does not hold")  # level 8 grids
    only_a = frame(-1.0, -5.0, -3.0).assign(arch="drn_a_18")
    only_a = only_a[only_a["level"].isin(["3", "4", "5", "6", "class map"])]
    assert fig7_verdicts(only_a, "drn_a_18", "test")[0].verdict == "not tested"  # no levels after level 6


# Figure 4: the didactic example.


@pytest.mark.parametrize("dilation, size", [(2, 33), (3, 40), (4, 65)])
def test_one_pixel_through_a_dilated_convolution_is_the_papers_lattice(dilation, size):
    verdict = lattice_verdict(dilation, size)
    assert verdict.verdict == "holds" and "9 active pixels, exactly the 3×3 lattice" in verdict.ours
    example = didactic_example(dilation, size, max_layers=2)
    assert example["output"].count_nonzero() == 9 and example["taps"].count_nonzero() == 9
    assert (example["stack"]["index after a 1-dilated conv"] < example["stack"]["index"]).all()


def test_the_didactic_map_must_hold_the_stacked_convolutions():
    with pytest.raises(ParameterError, match="size must be at least 17 to hold 4 stacked 2-dilated"):
        didactic_example(2, 16, 4)


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


def test_map_measurements_on_known_boxes():
    torch.manual_seed(0)
    models = {arch: build_model(arch, num_classes=5).eval() for arch in ("resnet18", "drn_c_26")}
    whole, left = torch.tensor([[0.0, 0.0, 64.0, 64.0]]), torch.tensor([[0.0, 0.0, 32.0, 64.0]])
    batch = ImageBatch(torch.randn(2, 3, 64, 64), torch.rand(2, 64, 64, 3), [1, 3], [whole, left], list("abcde"))
    per_image = map_measurements(models, batch, period=4, device=torch.device("cpu"))
    assert list(per_image["arch"]) == ["resnet18", "resnet18", "drn_c_26", "drn_c_26"]
    assert list(per_image["box_area"]) == pytest.approx([100.0, 50.0] * 2)
    assert per_image.loc[per_image["image"] == 0, "mass_in_box"].tolist() == pytest.approx([100.0, 100.0])
    assert list(per_image["map_side"]) == [2, 2, 8, 8] and list(per_image["class"]) == ["b", "d"] * 2
    resnet, drn = per_image[per_image["arch"] == "resnet18"], per_image[per_image["arch"] == "drn_c_26"]
    assert resnet["grid_class_map"].isna().all()  # a 2 x 2 map holds less than two periods of 4
    assert drn[["grid_class_map", "grid_output"]].notna().all().all()
    maps = class_maps(models["drn_c_26"], batch.images, [1, 3])[0]
    assert drn["mass_in_box"].iloc[1] == pytest.approx(100 * mass_in_box(maps[1], left, 64))


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


def test_levels_are_numbered_as_in_the_papers_figure5():
    torch.manual_seed(0)
    images = torch.randn(1, 3, 64, 64)
    for arch, numbers in (("drn_a_18", [3, 4, 5, 6]), ("drn_c_26", list(range(1, 9)))):
        model = build_model(arch, num_classes=4).train()
        result = forward_pass(model, images, level=3)
        assert model.training  # the pass ran in eval mode and gave the mode back
        levels = numbered_levels(arch, result.levels)
        assert list(levels) == numbers and last_dilated_level(arch) == 6
        assert torch.equal(levels[max(levels)], result.features)
        panels, predicted = strongest_level_maps(arch, model.eval(), images)
        assert list(panels) == [*numbers, "class map"] and panels[numbers[-1]].shape == (1, 8, 8)
        assert predicted == model(images).argmax(1).tolist()
    with pytest.raises(ParameterError, match="DRN-A-18 has no convolution in level 1"):
        forward_pass(build_model("drn_a_18", num_classes=4), images, level=1)


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


# The "paper vs ours" figures: each error with its Clopper-Pearson interval.


def _clopper_pearson(wrong: int, images: int) -> tuple[float, float]:
    """The exact 95% interval (%) of `wrong` errors among `images`, from the beta quantiles that define it."""
    from scipy.stats import beta

    low = beta.ppf(0.025, wrong, images - wrong + 1) if wrong else 0.0
    high = beta.ppf(0.975, wrong + 1, images - wrong) if wrong < images else 1.0
    return 100 * low, 100 * high


def _wrong(count: int, images: int) -> list:
    return [1.0] * count + [0.0] * (images - count)


def test_table1_and_table2_figures_plot_each_error_with_its_clopper_pearson_interval():
    n = 200
    one_crop = {arch: {"per_image": {"top1_wrong": _wrong(k, n), "top5_wrong": _wrong(k // 3, n)}}
                for arch, k in (("resnet18", 60), ("drn_c_26", 30))}
    ten_crop = {arch: {"per_image": {"top1_wrong": _wrong(k, n), "top5_wrong": _wrong(0, n)}}
                for arch, k in (("resnet18", 50), ("drn_c_26", 24))}
    frame = table1_intervals(one_crop, ten_crop)
    assert list(dict.fromkeys(frame.columns.get_level_values(0))) == ["top1_1crop", "top5_1crop", "top1_10crop",
                                                                       "top5_10crop"]
    assert list(frame.index) == ["resnet18", "drn_c_26"]
    assert frame[("top1_1crop", "value")].tolist() == pytest.approx([30.0, 15.0])
    assert frame[("top1_10crop", "value")].tolist() == pytest.approx([25.0, 12.0])
    assert frame[("top5_1crop", "value")].tolist() == pytest.approx([10.0, 5.0])
    low, high = frame.loc["drn_c_26", ("top1_1crop", "low")], frame.loc["drn_c_26", ("top1_1crop", "high")]
    assert (low, high) == pytest.approx(_clopper_pearson(30, n))
    assert 10 < low < 15 < high < 21  # about ±5 points at 200 images
    none = frame.loc["drn_c_26", "top5_10crop"]  # no error at all: the interval still reaches up
    assert (none["value"], none["low"]) == (0.0, 0.0) and none["high"] == pytest.approx(_clopper_pearson(0, n)[1])

    scores = _scores({"resnet18": (_wrong(120, n), _wrong(40, n)), "drn_a_18": (_wrong(70, n), _wrong(40, n))})
    table2 = table2_intervals(scores)
    assert list(dict.fromkeys(table2.columns.get_level_values(0))) == ["top1", "top5"]
    assert table2[("top1", "value")].tolist() == pytest.approx([60.0, 35.0])
    assert tuple(table2.loc["resnet18", "top1"][["low", "high"]]) == pytest.approx(_clopper_pearson(120, n))
    with pytest.raises(ParameterError, match="no per-image"):
        table2_intervals({"resnet18": {"per_image": {}}})
