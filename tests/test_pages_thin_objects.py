"""The small-and-thin-objects experiment (drnlib.pages.thin_objects, book/thin_objects.py): the swept conditions really
change the objects' size and thinness, the summaries compute what the page claims, and a run on generated scenes is
trained once, keyed by the scene options, and localized with a cached threshold sweep."""

import json
import math

import pandas as pd
import pytest
import torch

from drnlib.errors import ParameterError
from drnlib.pages.thin_objects import (at_level, compare, degradation, mask_geometry, object_geometry,
                                       paired_difference, predicted_box, scene_options, scene_sets, train_and_evaluate,
                                       train_run)
from drnlib.train import RunConfig

SIZE = 64


def geometry(scale, thinness, count=16):
    return object_geometry(scene_options(SIZE, 8, 0.5, scale, thinness, seed=0), count)


# What the conditions do to the objects.


def test_mask_geometry_measures_a_bar_and_a_pixel():
    bar = torch.zeros(20, 30, dtype=torch.bool)
    bar[5:7, 3:13] = True  # 10 pixels long, 2 wide
    g = mask_geometry(bar)
    assert g["area"] == 20 and g["box_area"] == 20
    assert g["length"] == pytest.approx(10) and g["width"] == pytest.approx(2) and g["elongation"] == pytest.approx(5)
    dot = torch.zeros(5, 5, dtype=torch.bool)
    dot[2, 3] = True
    assert mask_geometry(dot) == {"area": 1, "box_area": 1, "length": 1.0, "width": 1.0, "elongation": 1.0}
    with pytest.raises(ValueError):
        mask_geometry(torch.zeros(4, 4, dtype=torch.bool))


def test_object_scale_sets_the_length_and_area_of_the_key_object():
    scales = [0.15, 0.3, 0.6]
    means = [geometry(s, 1.0).mean() for s in scales]
    lengths = [m["length"] for m in means]
    assert lengths == sorted(lengths) and all(m["area"] < n["area"] for m, n in zip(means, means[1:]))
    for scale, length in zip(scales, lengths):  # equivalent-rectangle length: 0.7..1 of the tip-to-tip length
        assert 0.6 * scale * SIZE < length < 1.1 * scale * SIZE
    # The bars (class 0, every 8th scene) measure their own length: object_scale * size, +-10 %, give or take a pixel.
    bars = geometry(0.5, 1.0, count=24).iloc[::8]
    assert ((bars.length > 0.9 * 0.5 * SIZE - 1) & (bars.length < 1.1 * 0.5 * SIZE + 1)).all()


def test_thinness_sets_the_width_but_not_the_length():
    levels = [1.0, 3.0, 8.0]
    means = [geometry(0.4, t).mean() for t in levels]
    widths, elongations = [m["width"] for m in means], [m["elongation"] for m in means]
    assert widths == sorted(widths, reverse=True) and elongations == sorted(elongations)
    assert all(m["area"] > n["area"] for m, n in zip(means, means[1:]))
    lengths = [m["length"] for m in means]
    assert max(lengths) < 1.25 * min(lengths)  # thinning keeps the length (a thick ellipse measures a bit shorter)
    bars = geometry(0.4, 8.0, count=24).iloc[::8]  # 25.6 px long -> 3.2 px wide
    assert ((bars.width > 2) & (bars.width < 4.5) & (bars.elongation > 5)).all()


def test_impossible_scene_options_and_counts_are_refused():
    with pytest.raises(ParameterError, match="thinness"):
        scene_options(32, 8, 0.5, 0.3, thinness=0.5)
    with pytest.raises(ParameterError, match="val_scenes"):
        scene_sets(scene_options(32), train_scenes=8, val_scenes=0, threshold_scenes=8)


# The summaries behind the claims.


def sweep_frame():
    """Two networks, two seeds, 2 x 2 conditions; errors built so that every summary has a known value."""
    rows = []
    for arch, slope in (("weak", 20.0), ("strong", 5.0)):
        for seed in (0, 1):
            for scale in (0.5, 0.25):
                for thinness in (1.0, 4.0):
                    error = 10 + slope * ((scale == 0.25) + 2 * (thinness == 4.0)) + seed
                    rows.append({"arch": arch, "seed": seed, "object_scale": scale, "thinness": thinness,
                                 "top1_error": error, "box_error": error + 1})
    return pd.DataFrame(rows)


def test_degradation_is_the_error_rise_towards_smaller_and_thinner_objects():
    frame = sweep_frame()
    rise_scale = degradation(frame, "top1_error", "object_scale")
    assert rise_scale[("weak", 0)] == 20 and rise_scale[("strong", 1)] == 5
    rise_thin = degradation(frame, "top1_error", "thinness")
    assert rise_thin[("weak", 1)] == 40 and rise_thin[("strong", 0)] == 10
    with pytest.raises(ParameterError, match="two levels"):
        degradation(frame[frame.thinness == 1.0], "top1_error", "thinness")
    with pytest.raises(ParameterError, match="unknown factor"):
        degradation(frame, "top1_error", "clutter")
    # at one level, averaged over the other factor: the weak network at scale 0.25, seed 0: (30 + 70) / 2
    assert at_level(frame, "top1_error", "object_scale", 0.25)[("weak", 0)] == 50


def test_compare_pairs_by_seed_and_counts_noise():
    frame = sweep_frame()
    result = compare(degradation(frame, "top1_error", "object_scale"), "weak", "strong")
    assert result["weak"] == 20 and result["strong"] == 5 and result["difference"] == 15
    assert result["seeds"] == 2 and result["difference_se"] == 0 and result["holds"]
    assert not compare(degradation(frame, "top1_error", "object_scale"), "strong", "weak")["holds"]
    noisy = paired_difference(pd.Series([1.0, -0.5, 1.2]), pd.Series([0.0, 0.0, 0.0]))
    assert noisy["mean"] > 0 and not noisy["positive"]  # within twice its standard error
    single = paired_difference(pd.Series([0.3]), pd.Series([0.1]))
    assert single["positive"] and single["seeds"] == 1 and math.isnan(single["se"])
    with pytest.raises(ParameterError, match="no seed"):
        paired_difference(pd.Series([1.0], index=[0]), pd.Series([1.0], index=[1]))


# Training and localization on generated scenes.


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("sweep")
    recipe = RunConfig(epochs=1, batch_size=8, lr=0.05, workers=0, device="cpu", progress=False)
    sets = scene_sets(scene_options(32, 4, 0.5, 0.4, 2.0, seed=3), train_scenes=8, val_scenes=8, threshold_scenes=8)
    row, run = train_and_evaluate("resnet_cifar_20", recipe, "smoke", sets, root=root)
    return root, recipe, sets, row, run


def test_a_run_trains_once_on_the_scenes_and_localizes_with_a_held_out_threshold(tiny):
    root, recipe, sets, row, run = tiny
    assert row["arch"] == "resnet_cifar_20" and row["seed"] == 3 and run.config.seed == 3
    assert (row["object_scale"], row["thinness"]) == (0.4, 2.0)
    for key in ("top1_error", "loc_top1_error", "box_error"):
        assert 0 <= row[key] <= 100
    assert row["loc_top1_error"] >= row["box_error"]  # a right top-1 box needs a right box
    assert json.loads((run.dir / "extra_key.json").read_text()) == sets.key
    cached = list(run.dir.glob("localize-*.json"))
    assert len(cached) == 1
    saved = json.loads(cached[0].read_text())
    assert saved["threshold"] == row["threshold"] and saved["threshold_images"] == 8 and saved["images"] == 8
    assert len(saved["threshold_sweep"]) > 1
    stamp = (run.dir / "checkpoint.pt").stat().st_mtime_ns
    again, run_again = train_and_evaluate("resnet_cifar_20", recipe, "smoke", sets, root=root)
    assert again == row and (run_again.dir / "checkpoint.pt").stat().st_mtime_ns == stamp


def test_other_scenes_are_another_run_and_the_paper_profile_trains_in_process(tiny):
    root, recipe, sets, row, run = tiny
    thinner = scene_sets({**sets.options, "thinness": 4.0}, train_scenes=8, val_scenes=8, threshold_scenes=8)
    config = run.config.replace(out_dir="runs/run", resume=False)
    assert train_run(config, "smoke", thinner, root=root).dir != run.dir
    paper = train_run(config, "paper", sets, root=root)  # no torchrun command: the CLI cannot build these scenes
    assert paper.dir.parent == root / "runs" / "paper" and paper.result["epochs"] == 1
    assert train_run(config, "paper", sets, root=root).result == paper.result


class FixedMaps(torch.nn.Module):
    """A "dense model" whose 3-class 4 x 4 logits favour class 1 in cells (row 1, columns 2..3)."""

    def forward(self, images):
        logits = torch.zeros(len(images), 3, 4, 4)
        logits[:, 1, 1, 2:] = 5.0
        return logits


def test_predicted_box_is_the_box_of_the_cells_where_the_class_wins():
    image = torch.zeros(3, 32, 32)  # 4 x 4 cells of 8 x 8 pixels
    box, side = predicted_box(FixedMaps(), image, label=1, threshold=0.5)
    assert side == 4 and box == [16.0, 8.0, 32.0, 16.0]
    assert predicted_box(FixedMaps(), image, label=1, threshold=0.999)[0] is None  # softmax 0.987 < t
    assert predicted_box(FixedMaps(), image, label=2, threshold=0.0)[0] is None  # class 2 wins no cell


def test_predicted_box_with_a_trained_run(tiny):
    root, recipe, sets, row, run = tiny
    (crops, whole), target = sets.val_boxes[0]
    model = run.model(task="dense")
    box, side = predicted_box(model, whole, target["label"], row["threshold"])
    with torch.no_grad():
        assert side == model(whole[None]).shape[-1] == 8  # a CIFAR ResNet keeps 1/4 of 32 px
    assert box is None or (0 <= box[0] < box[2] <= 32 and 0 <= box[1] < box[3] <= 32)
