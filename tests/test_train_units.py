"""Pieces of the engine without data: schedules, config checks, checkpoints and RNG states, atomic files."""

import json
import random

import numpy as np
import pytest
import torch

from drnlib.errors import CheckpointError, ParameterError
from drnlib.train import RunConfig, lr_at, make_scheduler
from drnlib.train.checkpoint import (atomic_write_csv, atomic_write_json, get_rng_state, load_checkpoint,
                                     save_checkpoint, set_rng_state)


def test_step_schedule():
    at = lambda e: lr_at(e, lr=0.1, schedule="step", epochs=120, step=30)  # DRN ImageNet recipe
    assert at(0) == 0.1 and at(29.99) == 0.1
    assert at(30) == pytest.approx(0.01) and at(59) == pytest.approx(0.01)
    assert at(60) == pytest.approx(0.001) and at(119) == pytest.approx(1e-4)


def test_poly_schedule():
    at = lambda e: lr_at(e, lr=0.01, schedule="poly", epochs=500)  # DRN-D-105 Cityscapes recipe
    assert at(0) == 0.01
    assert at(250) == pytest.approx(0.01 * 0.5 ** 0.9)
    assert at(499) == pytest.approx(0.01 * (1 / 500) ** 0.9)
    assert at(500) == 0.0


def test_linear_and_constant_schedules():
    at = lambda e: lr_at(e, lr=0.1, schedule="linear", epochs=90, lr_end=1e-6)  # WoD ImageNet recipe
    assert at(0) == 0.1 and at(90) == pytest.approx(1e-6) and at(45) == pytest.approx((0.1 + 1e-6) / 2)
    assert lr_at(7.5, lr=0.0016, schedule="constant", epochs=140) == 0.0016
    with pytest.raises(ParameterError):
        lr_at(0, lr=0.1, schedule="cosine", epochs=1)


def test_scheduler_per_iteration_and_restart_in_the_middle():
    def run(iterations, start=0):
        param = torch.nn.Parameter(torch.zeros(1))
        opt = torch.optim.SGD([param], lr=0.01)
        if start:
            opt.param_groups[0]["initial_lr"] = 0.01  # as loaded from a resumed optimizer state
        sched = make_scheduler(opt, 4, lr=0.01, schedule="poly", epochs=3, done_iterations=start)
        lrs = []
        for _ in range(start, iterations):
            lrs.append(opt.param_groups[0]["lr"])
            opt.step()
            sched.step()
        return lrs
    full = run(12)
    assert full[0] == 0.01 and full[4] == pytest.approx(0.01 * (2 / 3) ** 0.9)  # start of epoch 2
    assert full[2] == pytest.approx(0.01 * (1 - 0.5 / 3) ** 0.9)  # half-way through epoch 1
    assert run(12, start=5) == full[5:]  # what the engine does when resuming


def test_config_checks():
    cfg = RunConfig(arch="drn_c_26", dataset="camvid", task="segment")
    assert RunConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ParameterError, match="did you mean epochs"):
        RunConfig.from_dict({"epochz": 3})
    with pytest.raises(ParameterError, match="schedule"):
        RunConfig(schedule="cosine")
    with pytest.raises(ParameterError, match="task"):
        RunConfig(task="detect")
    with pytest.raises(ParameterError):
        RunConfig(scale=0.5)
    assert RunConfig(crop_size=56).eval_resize == 64


def test_rng_state_round_trip(tmp_path):
    gen = torch.Generator().manual_seed(3)
    random.seed(1), np.random.seed(2), torch.manual_seed(3)
    state = get_rng_state(gen)
    expected = (random.random(), np.random.rand(), torch.rand(1).item(), torch.rand(1, generator=gen).item())
    save_checkpoint(tmp_path / "c.pt", {"arch": "x", "num_classes": 1, "rng": state})
    loaded = load_checkpoint(tmp_path / "c.pt")["rng"]  # weights_only=True load
    random.seed(9), np.random.seed(9), torch.manual_seed(9)
    gen2 = torch.Generator().manual_seed(9)
    set_rng_state(loaded, gen2)
    assert (random.random(), np.random.rand(), torch.rand(1).item(), torch.rand(1, generator=gen2).item()) == expected


def test_checkpoint_refusals(tmp_path):
    path = tmp_path / "checkpoint.pt"
    save_checkpoint(path, {"arch": "drn_c_26", "num_classes": 11, "model": {"w": torch.ones(2)}})
    assert load_checkpoint(path, arch="drn_c_26", num_classes=11)["model"]["w"].sum() == 2
    with pytest.raises(CheckpointError, match="holds a drn_c_26 model, not resnet18"):
        load_checkpoint(path, arch="resnet18")
    with pytest.raises(CheckpointError, match="11 classes"):
        load_checkpoint(path, num_classes=100)
    torch.save({"w": torch.ones(2)}, tmp_path / "plain.pt")
    with pytest.raises(CheckpointError, match="not a drnlib checkpoint"):
        load_checkpoint(tmp_path / "plain.pt")
    (tmp_path / "broken.pt").write_bytes(path.read_bytes()[:100])
    with pytest.raises(CheckpointError, match="cannot read"):
        load_checkpoint(tmp_path / "broken.pt")
    with pytest.raises(CheckpointError, match="no checkpoint"):
        load_checkpoint(tmp_path / "missing.pt")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken.pt", "checkpoint.pt", "plain.pt"]  # no temp left


def test_atomic_json_and_csv(tmp_path):
    rows = [{"epoch": 1, "loss": 0.5, "iou": [1.0, float("nan")]}, {"epoch": 2, "loss": float("nan"), "x": 3}]
    atomic_write_json(tmp_path / "m.json", rows)
    assert json.loads((tmp_path / "m.json").read_text())[0]["iou"] == [1.0, None]  # NaN -> null (valid JSON)
    atomic_write_csv(tmp_path / "m.csv", rows)
    assert (tmp_path / "m.csv").read_text().splitlines() == ["epoch,loss,x", "1,0.5,", "2,nan,3"]


def test_frozen_batchnorm_keeps_statistics_and_trains_affine_weights():
    from drnlib.train import freeze_batchnorm
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.ReLU(), torch.nn.Conv2d(4, 2, 1))
    bn = net[1]
    bn.running_mean.fill_(0.5)
    stats = bn.running_mean.clone(), bn.running_var.clone(), bn.num_batches_tracked.clone()
    net.train()
    freeze_batchnorm(net)
    assert net.training and net[0].training and not bn.training
    net(torch.randn(2, 3, 8, 8)).sum().backward()
    assert torch.equal(bn.running_mean, stats[0]) and torch.equal(bn.running_var, stats[1])
    assert torch.equal(bn.num_batches_tracked, stats[2])
    assert bn.weight.grad is not None and bn.weight.grad.abs().sum() > 0


def test_ohem_loss_by_hand():
    from drnlib.train.tasks import ohem_cross_entropy
    # 4 pixels, 2 classes. True-class probabilities: 0.9, 0.5, 0.2, ignored.
    p = torch.tensor([0.9, 0.5, 0.2, 0.7])
    logits = torch.stack([torch.zeros(4), torch.log(p / (1 - p))], dim=0)[None, :, None, :]  # 1 x 2 x 1 x 4
    target = torch.tensor([[[1, 1, 1, 255]]])
    # keep p <= 0.6 -> pixels 2 and 3 (min_kept 1 does not raise the threshold)
    expected = -(torch.log(torch.tensor(0.5)) + torch.log(torch.tensor(0.2))) / 2
    assert torch.allclose(ohem_cross_entropy(logits, target, min_kept=1), expected, atol=1e-6)
    # min_kept 3 raises the threshold to the 3rd lowest valid probability (0.9): every valid pixel
    expected_all = -(torch.log(p[:3])).mean()
    assert torch.allclose(ohem_cross_entropy(logits, target, min_kept=3), expected_all, atol=1e-6)
    # min_kept larger than the valid pixels: all valid pixels, the ignored one never
    assert torch.allclose(ohem_cross_entropy(logits, target, min_kept=256), expected_all, atol=1e-6)


def test_multistep_schedule_and_warmup():
    at = lambda e, **kw: lr_at(e, lr=0.1, schedule="multistep", epochs=164, milestones=(82, 123), **kw)
    assert at(0) == 0.1 and at(81.9) == 0.1 and at(82) == pytest.approx(0.01) and at(123.5) == pytest.approx(0.001)
    assert at(0.5, warmup=1.0) == pytest.approx(0.05) and at(1.0, warmup=1.0) == 0.1 and at(0, warmup=1.0) == 0.0
    with pytest.raises(ParameterError, match="multistep schedule needs --milestones"):
        RunConfig(schedule="multistep")
    with pytest.raises(ParameterError, match="milestones must be increasing"):
        RunConfig(schedule="multistep", milestones=(123, 82))
    assert RunConfig(schedule="multistep", milestones=[82, 123]).to_dict()["milestones"] == [82.0, 123.0]
