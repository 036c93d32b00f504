"""The engine on the device-resident data path (CPU): it trains to the same loss as the DataLoader path at smoke
scale, and a resumed run continues its random streams exactly."""

import json
from pathlib import Path

import pytest
import torch

from drnlib.train import RunConfig, fit, load_checkpoint

CPU = dict(device="cpu", workers=0, progress=False, deterministic=True)

# Smoke recipes, one per task, and the tolerance on the mean training loss of their last 3 epochs, resident vs
# loader. The tolerance is 4 standard deviations of the difference between the paths, measured (on this CPU, when
# this test was written) over 5-6 seeds per path: classification means 4.772 (loader) and 4.787 (resident), sd
# 0.026 and 0.033, so sd(difference) 0.041; segmentation (whose 4-image batches make single steps jump between
# losses of 2 and 20) means 3.30 and 3.17, sd 0.56 and 0.38, sd(difference) 0.67.
SMOKE = {
    "classify": (dict(arch="resnet_cifar_20", dataset="tiny_imagenet", task="classify", crop_size=32, batch_size=16,
                      epochs=4, lr=0.05, limit_train=192, limit_val=20), 4 * 0.041),
    "segment": (dict(arch="drn_c_26", dataset="camvid", task="segment", crop_size=64, batch_size=4, epochs=8,
                     lr=0.01, limit_train=16, limit_val=1), 4 * 0.67),
}


def losses(run: Path) -> list[float]:
    return [row["train_loss"] for row in json.loads((run / "metrics.json").read_text())]


@pytest.mark.parametrize("task", list(SMOKE))
def test_resident_path_trains_to_the_loader_paths_loss(task, tiny_imagenet_root, camvid_root, tmp_path):
    settings, tolerance = SMOKE[task]
    final = {}
    for path in ("resident", "loader"):
        result = fit(RunConfig(**settings, **CPU, val_every=0, data_path=path, out_dir=str(tmp_path / path)))
        assert result["data_path"] == path
        curve = losses(tmp_path / path)
        assert curve[-1] < curve[0], (path, curve)  # both learn
        final[path] = sum(curve[-3:]) / 3
    assert abs(final["resident"] - final["loader"]) < tolerance, final


def comparable(run: Path):
    return [{k: v for k, v in row.items() if k not in ("seconds", "images_per_s")}
            for row in json.loads((run / "metrics.json").read_text())]


def test_resumed_resident_run_equals_an_uninterrupted_one(tiny_imagenet_root, tmp_path):
    settings = dict(arch="resnet_cifar_20", dataset="tiny_imagenet", task="classify", crop_size=32, batch_size=8,
                    lr=0.05, limit_train=32, limit_val=8, val_every=1, data_path="resident", **CPU)
    straight = fit(RunConfig(**settings, epochs=3, out_dir=str(tmp_path / "straight")))
    fit(RunConfig(**settings, epochs=1, out_dir=str(tmp_path / "resumed")))
    resumed = fit(RunConfig(**settings, epochs=3, out_dir=str(tmp_path / "resumed"), resume=True))
    assert straight["data_path"] == resumed["data_path"] == "resident"
    assert comparable(tmp_path / "resumed") == comparable(tmp_path / "straight")  # losses and scores, bit for bit
    a = load_checkpoint(tmp_path / "straight" / "checkpoint.pt")
    b = load_checkpoint(tmp_path / "resumed" / "checkpoint.pt")
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])
    assert {"resident_order", "resident_augment", "resident_device"} <= set(a["rng"])
    # (a fresh process starts the generators at their seeds: without the checkpoint's states, epoch 2 would
    # replay epoch 1's order and crops, and the losses would differ)
    assert torch.equal(a["rng"]["resident_augment"], b["rng"]["resident_augment"])
