"""The engine on real models and real data (CPU, tiny inputs): DRN-C-26 on CamVid and on Tiny ImageNet-100,
evaluation (11 CamVid IoUs with void ignored; 1-/10-crop error; localization on the val boxes), the run directory."""

import json
from pathlib import Path

import pytest
import torch

from drnlib.data import build_dataset, read_label_png
from drnlib.models import build_model
from drnlib.train import RunConfig, evaluate_run, fit, load_checkpoint

CPU = dict(device="cpu", workers=0, progress=False, deterministic=True)


@pytest.fixture(scope="module")
def camvid_run(camvid_root, tmp_path_factory):
    """DRN-C-26, 8 CamVid training images, 64 px crops, batch 2, 4 epochs (16 iterations); 1 val image."""
    out = tmp_path_factory.mktemp("camvid_run")
    cfg = RunConfig(arch="drn_c_26", dataset="camvid", task="segment", crop_size=64, batch_size=2, epochs=4,
                    lr=0.01, limit_train=8, limit_val=1, val_every=0, out_dir=str(out), **CPU)
    return cfg, fit(cfg)


@pytest.fixture(scope="module")
def tiny_run(tiny_imagenet_root, tmp_path_factory):
    """DRN-C-26 on Tiny ImageNet-100: 8 training images of 8 classes (+4 held out for the localization threshold),
    56 px crops, batch 4, 5 epochs; 8 val images."""
    out = tmp_path_factory.mktemp("tiny_run")
    cfg = RunConfig(arch="drn_c_26", dataset="tiny_imagenet", task="classify", crop_size=56, batch_size=4,
                    epochs=5, lr=0.01, limit_train=8, holdout=4, limit_val=8, val_every=0, out_dir=str(out), **CPU)
    return cfg, fit(cfg)


def metrics(cfg) -> list[dict]:
    return json.loads((Path(cfg.out_dir) / "metrics.json").read_text())


def test_camvid_training_lowers_the_loss(camvid_run):
    cfg, result = camvid_run
    losses = [row["train_loss"] for row in metrics(cfg)]
    assert len(losses) == 4
    assert losses[-1] < losses[0], losses
    assert result["train_images"] == 8 and result["num_classes"] == 11


def test_camvid_evaluation_reports_11_ious_with_void_ignored(camvid_run, camvid_root):
    cfg, result = camvid_run
    val = result["val"]
    assert len(val["iou"]) == 11 and len(result["class_names"]) == 11
    # Every labelled pixel of the val image is counted, void (id 11 in the label file) is not.
    samples = build_dataset("camvid", "val", limit=1).samples
    raw = read_label_png(samples[0][1])
    labelled = int((raw != 11).sum())
    assert labelled < raw.numel()  # the image has void pixels, so this checks that they are left out
    assert val["pixels"] == labelled
    assert 0 <= val["miou"] <= 100 and 0 <= val["pixel_acc"] <= 100
    # the same numbers from the checkpoint through evaluate_run
    again = evaluate_run({"out_dir": cfg.out_dir, **CPU})
    assert again["iou"] == pytest.approx(val["iou"], nan_ok=True) and again["pixels"] == labelled
    # multi-scale testing with flip: probabilities averaged at the original size, still 11 IoUs over the same pixels
    multi = evaluate_run({"out_dir": cfg.out_dir, "scales": [0.5], "flip": True, **CPU})
    assert multi["protocol"]["scales"] == [0.5] and multi["protocol"]["flip"]
    assert len(multi["iou"]) == 11 and multi["pixels"] == labelled


def test_run_directory_and_checkpoint_contents(camvid_run):
    cfg, result = camvid_run
    out = Path(cfg.out_dir)
    assert sorted(p.name for p in out.iterdir()) == ["checkpoint.pt", "config.json", "metrics.csv", "metrics.json",
                                                      "result.json"]
    assert RunConfig.from_dict(json.loads((out / "config.json").read_text())) == cfg
    assert json.loads((out / "result.json").read_text())["val"]["pixels"] == result["val"]["pixels"]
    header = (out / "metrics.csv").read_text().splitlines()[0].split(",")
    assert header[:5] == ["epoch", "lr", "train_loss", "seconds", "images_per_s"] and "val_miou" in header
    ckpt = load_checkpoint(out / "checkpoint.pt", arch="drn_c_26", num_classes=11)
    assert ckpt["epoch"] == 4 and ckpt["model_task"] == "segment"
    assert ckpt["model_config"]["name"] == "drn_c_26" and ckpt["config"]["lr"] == 0.01
    assert {"python", "numpy", "torch", "cuda", "data_order"} <= set(ckpt["rng"])
    assert ckpt["scheduler"]["last_epoch"] == 16 and len(ckpt["history"]) == 4
    assert ckpt["optimizer"]["state"]  # momentum buffers


def test_tiny_imagenet_classification_and_ten_crop(tiny_run):
    cfg, result = tiny_run
    losses = [row["train_loss"] for row in metrics(cfg)]
    assert losses[-1] < losses[0], losses
    assert result["train_images"] == 8 and result["num_classes"] == 100
    one = result["val"]
    assert one["images"] == 8 and 0 <= one["top1_error"] <= 100 and one["top5_error"] <= one["top1_error"]
    ten = evaluate_run({"out_dir": cfg.out_dir, "ten_crop": True, **CPU})
    assert ten["images"] == 8 and ten["protocol"]["ten_crop"] and ten["protocol"]["resize_size"] == 64
    assert 0 <= ten["top5_error"] <= ten["top1_error"] <= 100


def test_tiny_imagenet_localization_on_val_boxes(tiny_run):
    cfg, _ = tiny_run
    swept = evaluate_run({"out_dir": cfg.out_dir, "task": "localize", **CPU})
    # the threshold comes from the 4 held-out TRAINING images, not from the val images
    assert swept["threshold_images"] == 4 and len(swept["threshold_sweep"]) == 20
    best = min(swept["threshold_sweep"], key=lambda r: (r["loc_top1_error"], r["threshold"]))
    assert swept["threshold"] == best["threshold"] == swept["protocol"]["threshold"]
    assert swept["images"] == 8
    for key in ("loc_top1_error", "loc_top5_error"):
        assert 0 <= swept[key] <= 100
    assert swept["loc_top1_error"] >= swept["loc_top5_error"]
    # localization needs the class right: it can never beat classification
    assert swept["loc_top1_error"] >= swept["top1_error"] and swept["loc_top5_error"] >= swept["top5_error"]
    fixed = evaluate_run({"out_dir": cfg.out_dir, "task": "localize", "loc_threshold": 0.0, "ten_crop": True, **CPU})
    assert fixed["threshold"] == 0.0 and "threshold_sweep" not in fixed


def test_dense_class_scores_equal_the_classifier(tiny_run):
    """Localization predicts the class from the spatial mean of the dense logits: equal to the classifier's."""
    cfg, _ = tiny_run
    state = load_checkpoint(Path(cfg.out_dir) / "checkpoint.pt")["model"]
    classify = build_model("drn_c_26", 100, task="classify")
    dense = build_model("drn_c_26", 100, task="dense")
    classify.load_state_dict(state)
    dense.load_state_dict(state)
    x = torch.randn(2, 3, 56, 56)
    with torch.no_grad():
        assert torch.allclose(classify.eval()(x), dense.eval()(x).mean(dim=(2, 3)), atol=1e-4)
