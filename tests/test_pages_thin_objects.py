"""The small-and-thin-objects page (drnlib.pages.thin_objects, book/thin_objects.py): its parameters are checked, its
runs are data the command line trains identically, the swept conditions really change the objects' size and
thinness, the per-scene errors add up to the runs' scores, and DRN-43's rule decides what the numbers say."""

import json
import shlex

import pandas as pd
import pytest
import torch

import drnlib.train
from drnlib import runs
from drnlib.cli import main
from drnlib.errors import ParameterError
from drnlib.pages import checked, needed_runs
from drnlib.pages.thin_objects import (condition_options, conditions, degradation, drn43, example_scene,
                                       mask_geometry, measure, object_geometry, per_condition, predicted_box, rises,
                                       specs)
from drnlib.params import read_params
from drnlib.provenance import repo_root

SIZE = 64
ARCHS = ["resnet18", "drn_a_18", "drn_c_26"]


def params(profile="smoke", **values):
    return checked("thin_objects", {**read_params(repo_root(), profile, "thin_objects"), **values})


# The page's parameters and runs.


def test_the_parameters_are_checked_with_one_line_each():
    p = params(seeds="2,0,2", scales=[0.25, 0.5])  # papermill passes lists as text
    assert p.seeds == [2, 0] and p.scales == [0.25, 0.5]
    assert conditions(p) == [(0.5, 1.0), (0.25, 1.0), (0.5, 4.0), (0.25, 4.0)]  # easy to hard, whatever the order
    for values, message in [({"archs": ["resnet18", "drn_a_18"]}, "drn_c_26"), ({"scales": [0.5]}, "at least 2"),
                            ({"scales": [0.5, 0.5]}, "distinct"), ({"thinness": [0.5, 2]}, "between"),
                            ({"seeds": [-1]}, ">= 0"), ({"recipe": "drn_classifier"}, "unknown value"),
                            ({"archs": ["resnet18", "drn_a_18", "drn_c_26", "drn_q_99"]}, "drn_q_99")]:
        with pytest.raises(ParameterError, match=message):
            params(**values)


def test_every_condition_seed_and_network_is_one_run_of_the_recipe():
    p = params("mini")
    wanted = needed_runs("thin_objects", p)
    assert len(wanted) == len(set(wanted)) == len(p.scales) * len(p.thinness) * len(p.seeds) * len(p.archs) == 36
    folders = {runs.config("mini", spec).out_dir for spec in wanted}
    assert len(folders) == 36  # every run has its own folder
    cfg = runs.config("mini", specs(p)[("drn_a_18", 0.12, 6.0, 1)])
    assert cfg.seed == 1 and cfg.recipe == "thin_objects" and cfg.limit_train == 8000 and cfg.holdout == 500
    assert cfg.data_options == {"image_size": 96, "num_classes": 8, "clutter": 0.5, "num_samples": 8500,
                                "object_scale": 0.12, "thinness": 6, "seed": 1}


def test_the_command_line_trains_the_run_the_page_finds(monkeypatch):
    trained = []
    monkeypatch.setattr(drnlib.train, "fit", lambda cfg: trained.append(cfg) or {})
    spec = runs.RunSpec("thin_objects", "drn_a_18", seed=1, data_options=condition_options(0.25, 4.0, 1))
    expected = runs.config("mini", spec)
    assert main(["train", "--profile", "mini", "--recipe", "thin_objects", "--arch", "drn_a_18", "--seed", "1",
                 "--data-option", "object_scale=0.25", "--data-option", "thinness=4", "--data-option", "seed=1"]) == 0
    command = shlex.split(runs.command("mini", spec))  # what `python -m drnlib runs --commands` prints
    assert main(command[command.index("drnlib") + 1:]) == 0
    assert main(["train", "--profile", "mini", "--recipe", "thin_objects", "--arch", "drn_a_18", "--seed", "1",
                 "--data-option", "object_scale=0.25", "--data-option", "thinness=4.0", "--data-option",
                 "seed=1"]) == 0  # a whole number written as a float is the same run
    assert [cfg.out_dir for cfg in trained] == [expected.out_dir] * 3
    assert trained[0].data_options == expected.data_options and trained[0].data_options["image_size"] == 96


def test_a_recipe_whose_scenes_cannot_serve_the_page_is_refused(monkeypatch):
    for change, message in [({"limit_train": 100}, "num_samples"), ({"holdout": 0}, "holdout")]:
        monkeypatch.setenv("DRNLIB_RECIPE_OVERRIDES", json.dumps({"thin_objects": change}))
        with pytest.raises(ParameterError, match=message):
            needed_runs("thin_objects", params())


# What the conditions do to the objects.


def geometry(scale, thinness, count=16):
    options = dict(image_size=SIZE, num_classes=8, clutter=0.5, object_scale=scale, thinness=thinness, seed=0)
    return object_geometry(options, count)


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


# The summaries and DRN-43's rule.


def per_scene(fraction, seeds=(0, 1), count=40):
    """A per-scene frame: network `arch` misses the first fraction(arch, scale, thinness) of the scenes."""
    rows = []
    for arch in ARCHS:
        for seed in seeds:
            for scale in (0.5, 0.25):
                for thinness in (1.0, 4.0):
                    wrong = round(count * fraction(arch, scale, thinness))
                    rows += [{"arch": arch, "seed": seed, "object_scale": scale, "thinness": thinness, "scene": i,
                              "top1_error": 100.0 * (i < wrong), "box_error": 100.0 * (i < wrong // 2),
                              "loc_top1_error": 100.0 * (i < wrong)} for i in range(count)]
    return pd.DataFrame(rows)


def drn_loses_less(arch, scale, thinness):
    slope = 0.4 if arch == "resnet18" else 0.1
    return 0.1 + slope * (scale == 0.25) + slope * (thinness == 4.0)


def test_degradation_is_the_error_rise_towards_smaller_and_thinner_objects():
    scenes = per_scene(drn_loses_less)
    rise_scale = degradation(scenes, "top1_error", "object_scale")
    assert len(rise_scale) == 3 * 2 * 40  # one value per (arch, seed, scene)
    per_arch = rise_scale.groupby(level="arch").mean()
    assert per_arch["resnet18"] == pytest.approx(40) and per_arch["drn_a_18"] == pytest.approx(10)
    per_run = scenes.groupby(["arch", "seed", "object_scale", "thinness"], as_index=False)["top1_error"].mean()
    assert degradation(per_run, "top1_error", "thinness")[("resnet18", 1)] == pytest.approx(40)  # a per-run frame
    assert rises(scenes, ARCHS)["top1_error"]["thinness"] == pytest.approx(
        {"resnet18": 40, "drn_a_18": 10, "drn_c_26": 10})
    with pytest.raises(ParameterError, match="two levels"):
        degradation(scenes[scenes.thinness == 1.0], "top1_error", "thinness")
    with pytest.raises(ParameterError, match="unknown factor"):
        degradation(scenes, "top1_error", "clutter")


def test_drn43_holds_fails_or_stays_open_as_the_numbers_say():
    verdict, parts = drn43(per_scene(drn_loses_less), "test")
    assert verdict.verdict == "holds" and verdict.claim == "DRN-43"
    assert verdict.margin == pytest.approx(30) and verdict.interval[0] > 0  # 40 - 10 points, the weakest of four
    assert "ResNet-18 +40.0, DRN-A-18 +10.0, DRN-C-26 +10.0" in verdict.ours
    assert len(parts) == 3 * 2 * 2 and parts["decides DRN-43"].sum() == 4
    assert set(parts["margin per seed"]) == {"+30.0, +30.0", "+15.0, +15.0"}  # top-1; box errors: half the scenes

    def c26_loses_more(arch, scale, thinness):
        return 0.1 + (0.6 if arch == "drn_c_26" else 0.2) * (scale == 0.25)

    assert drn43(per_scene(c26_loses_more), "test")[0].verdict == "does not hold"  # one comparison is enough
    equal, _ = drn43(per_scene(lambda arch, scale, thinness: 0.2 + 0.3 * (scale == 0.25)), "test")
    assert equal.verdict == "not resolved" and equal.margin == 0


def test_per_condition_shows_the_mean_and_spread_over_seeds():
    frame = pd.DataFrame({"arch": ["resnet18"] * 4, "seed": [0, 1, 0, 1], "object_scale": [0.5, 0.5, 0.25, 0.25],
                          "thinness": [1.0] * 4, "top1_error": [10.0, 20.0, 30.0, 30.0]})
    table = per_condition(frame, "top1_error", ["resnet18"])
    assert table.loc[("1", "0.5"), "ResNet-18"] == "15.0 ± 7.1" and table.loc[("1", "0.25"), "ResNet-18"] == "30.0 ± 0.0"


# Runs on generated scenes: their per-scene errors, held-out threshold and pictures.


RECIPE = """\
thin_objects:
  dataset: synthetic
  task: classify
  epochs: 1
  batch_size: 8
  lr: 0.05
  limit_train: 8
  holdout: 6
  limit_val: 10
  val_every: 0
  crop_size: 32
  data_options: {image_size: 32, num_classes: 4, clutter: 0.5, num_samples: 14}
  workers: 0
  device: cpu
  progress: false
"""


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """Two conditions of one seed with a CIFAR ResNet (fast), in a book of their own."""
    root = tmp_path_factory.mktemp("book")
    (root / "params" / "smoke").mkdir(parents=True)
    (root / "params" / "smoke" / "recipes.yaml").write_text(RECIPE)
    keys = [("resnet_cifar_20", 0.5, 1.0, 3), ("resnet_cifar_20", 0.25, 4.0, 3)]
    wanted = {key: runs.RunSpec("thin_objects", key[0], seed=3, data_options=condition_options(*key[1:]))
              for key in keys}
    done = runs.get_all("smoke", list(wanted.values()), root)
    return root, {key: done[spec] for key, spec in wanted.items()}


def test_the_per_scene_errors_add_up_to_the_runs_scores(tiny, monkeypatch):
    root, sweep = tiny
    monkeypatch.setenv("DRNBOOK_ROOT", str(root))
    frame, scenes = measure(sweep)
    assert len(frame) == 2 and len(scenes) == 2 * 10
    for row in frame.itertuples():
        mine = scenes[(scenes.object_scale == row.object_scale) & (scenes.thinness == row.thinness)]
        assert mine.scene.tolist() == list(range(10)) and row.val_scenes == 10
        for metric in ("top1_error", "box_error", "loc_top1_error"):
            assert mine[metric].mean() == pytest.approx(getattr(row, metric))
        assert row.threshold_scenes == 6  # the held-out training scenes, not the evaluation ones
        assert (mine.loc_top1_error >= mine.box_error).all()  # a right top-1 box needs a right box
    run = sweep[("resnet_cifar_20", 0.5, 1.0, 3)]
    assert run.config.seed == 3 and run.config.data_options["object_scale"] == 0.5
    cached = sorted(run.dir.glob("eval-*.json"))
    assert len(cached) == 1  # runs.evaluate's cache: measuring again evaluates nothing
    stamp = cached[0].stat().st_mtime_ns
    again, _ = measure(sweep)
    assert again.equals(frame) and cached[0].stat().st_mtime_ns == stamp


def test_the_example_scene_is_the_runs_own_evaluation_scene(tiny, monkeypatch):
    root, sweep = tiny
    monkeypatch.setenv("DRNBOOK_ROOT", str(root))
    run = sweep[("resnet_cifar_20", 0.25, 4.0, 3)]
    image, label, box, whole = example_scene(run, 2)
    assert image.shape == (3, 32, 32) and image.dtype == torch.uint8 and label == 2 % 4
    assert whole.shape == (3, 32, 32) and whole.dtype == torch.float32
    assert 0 <= box[0] < box[2] <= 32 and 0 <= box[1] < box[3] <= 32
    predicted, side = predicted_box(run.model(task="dense"), whole, label, threshold=0.0)
    assert side == 8  # a CIFAR ResNet keeps 1/4 of 32 px
    assert predicted is None or (0 <= predicted[0] < predicted[2] <= 32 and 0 <= predicted[1] < predicted[3] <= 32)


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
