"""Trained runs shared between pages: found, resumed or trained once; evaluations cached."""

import json

import pytest
import torch

from drnlib.errors import ParameterError
from drnlib.experiments import cli_command, run_dir, settings_key, trained
from drnlib.train import RunConfig


def tiny_config(**changes):
    settings = dict(arch="resnet_cifar_20", dataset="synthetic", task="classify", crop_size=32, epochs=1,
                    batch_size=8, lr=0.05, limit_train=32, limit_val=16, workers=0, device="cpu", progress=False,
                    holdout=8)
    return RunConfig(**{**settings, **changes})


def test_a_run_is_trained_once_and_then_found(tmp_path):
    first = trained(tiny_config(), "smoke", root=tmp_path)
    checkpoint = first.dir / "checkpoint.pt"
    stamp = checkpoint.stat().st_mtime_ns
    again = trained(tiny_config(workers=1), "smoke", root=tmp_path)  # workers do not change the weights
    assert again.dir == first.dir and checkpoint.stat().st_mtime_ns == stamp
    assert again.result == first.result
    assert first.dir.parent == tmp_path / "runs" / "smoke"
    assert set(first.result["provenance"]) >= {"hardware", "torch", "git", "date"}  # where and when it trained
    other = trained(tiny_config(lr=0.01), "smoke", root=tmp_path)  # a different recipe is a different run
    assert other.dir != first.dir
    assert len(first.metrics()) == 1


def test_a_run_found_with_another_evaluation_protocol_is_scored_with_the_one_asked_for(tmp_path):
    first = trained(tiny_config(), "smoke", root=tmp_path)  # validated on 16 images
    fewer = trained(tiny_config(limit_val=8), "smoke", root=tmp_path)  # the same weights ...
    assert fewer.dir == first.dir and first.result["val_images"] == 16
    assert fewer.result["val"]["images"] == fewer.result["val_images"] == 8  # ... scored on the 8 asked for
    assert fewer.result["evaluated_with"]["limit_val"] == 8
    assert trained(tiny_config(limit_val=8), "smoke", root=tmp_path).result == fewer.result  # cached
    assert trained(tiny_config(), "smoke", root=tmp_path).result == first.result  # its own scores, untouched


def test_a_run_gives_its_model_for_other_tasks_and_caches_evaluations(tmp_path):
    run = trained(tiny_config(), "smoke", root=tmp_path)
    dense = run.model(task="dense")
    with torch.no_grad():
        maps = dense(torch.randn(1, 3, 32, 32))
    assert maps.shape[:2] == (1, run.result["num_classes"])
    scores = run.evaluate(task="localize", loc_threshold=0.2)
    cached = list(run.dir.glob("eval-*.json"))
    assert len(cached) == 1 and json.loads(cached[0].read_text())["loc_top1_error"] == scores["loc_top1_error"]
    assert run.evaluate(task="localize", loc_threshold=0.2) == scores
    other = run.evaluate(task="localize", loc_threshold=0.2, ten_crop=True)  # another protocol, another file
    assert len(list(run.dir.glob("eval-*.json"))) == 2 and other["protocol"]["ten_crop"]
    assert run.evaluate(task="localize", loc_threshold=0.2, workers=1) == scores  # speed settings do not count


def test_an_interrupted_run_resumes(tmp_path):
    config = tiny_config(epochs=2)
    folder = run_dir(config, "smoke", tmp_path)
    from drnlib.train import fit
    fit(config.replace(out_dir=str(folder), epochs=1))  # as if the build had stopped after epoch 1
    run = trained(config, "smoke", root=tmp_path)
    assert run.result["epochs"] == 2 and run.config.resume


def test_the_paper_profile_asks_for_torchrun_instead_of_training(tmp_path):
    with pytest.raises(ParameterError, match=r"torchrun --nproc_per_node 8 -m drnlib train .*--arch resnet_cifar_20"):
        trained(tiny_config(), "paper", root=tmp_path)
    assert not (tmp_path / "runs").exists()


def test_keys_ignore_speed_and_output_settings():
    a, b = tiny_config(), tiny_config(workers=3, device="cuda", out_dir="elsewhere", amp=False)
    assert settings_key(a.to_dict()) == settings_key(b.to_dict())
    assert settings_key(a.to_dict()) != settings_key(tiny_config(seed=1).to_dict())
    command = cli_command(tiny_config(scales=(0.5, 1.0)))
    assert "--scales 0.5 1.0" in command and "--no-progress" not in command
