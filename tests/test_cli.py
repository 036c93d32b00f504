"""The command line: --help, exact resume after SIGKILL, one-line errors that lose nothing, torchrun on the CPU."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from PIL import Image

from drnlib.cli import main

REPO = Path(__file__).resolve().parents[1]
FAST = ["--device", "cpu", "--workers", "0", "--no-progress", "--deterministic"]


def run_cli(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "drnlib", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=timeout)


def snapshot(folder: Path) -> dict:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: "), err
    return err[0]


def test_help_lists_every_knob(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["train", "--help"])
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    for option in ("--arch", "--dataset", "--data-root", "--task", "--epochs", "--batch-size", "--lr", "--momentum",
                   "--weight-decay", "--schedule", "--step", "--crop-size", "--scale", "--rotate", "--workers",
                   "--device", "--amp", "--channels-last", "--compile", "--freeze-bn", "--out-dir", "--resume",
                   "--seed", "--limit-train", "--limit-val", "--ten-crop", "--scales", "--flip", "torchrun"):
        assert option in text, option
    with pytest.raises(SystemExit):
        main(["evaluate", "--help"])
    text = capsys.readouterr().out
    for option in ("--checkpoint", "--loc-threshold", "--ten-crop", "--scales", "--flip", "localize", "--output"):
        assert option in text, option


# --- exact resume after kill -9 ------------------------------------------------------------------------------------

RESUME_RUN = ["train", "--arch", "resnet18", "--dataset", "tiny_imagenet", "--crop-size", "32", "--batch-size", "4",
              "--epochs", "3", "--lr", "0.01", "--limit-train", "48", "--limit-val", "4", "--val-every", "1",
              "--device", "cpu", "--workers", "1", "--no-progress", "--deterministic"]


def comparable(run: Path):
    rows = json.loads((run / "metrics.json").read_text())
    timing = ("seconds", "images_per_s")
    return [{k: v for k, v in row.items() if k not in timing} for row in rows]


def test_resume_after_sigkill_is_exact(tiny_imagenet_root, tmp_path):
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    assert run_cli(*RESUME_RUN, "--out-dir", str(straight)).returncode == 0

    proc = subprocess.Popen([sys.executable, "-m", "drnlib", *RESUME_RUN, "--out-dir", str(killed)], cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    while not (killed / "checkpoint.pt").exists():  # appears (atomically) when epoch 1 is done
        assert proc.poll() is None and time.time() < deadline, "the run ended before its first checkpoint"
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert not (killed / "result.json").exists()
    assert torch.load(killed / "checkpoint.pt", weights_only=True)["epoch"] < 3

    resumed = run_cli(*RESUME_RUN, "--out-dir", str(killed), "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert comparable(killed) == comparable(straight)  # every epoch's loss and val metrics, bit for bit
    a = torch.load(straight / "checkpoint.pt", weights_only=True)
    b = torch.load(killed / "checkpoint.pt", weights_only=True)
    assert a["model"].keys() == b["model"].keys()
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])
    assert all(torch.equal(a["optimizer"]["state"][k]["momentum_buffer"], b["optimizer"]["state"][k]["momentum_buffer"])
               for k in a["optimizer"]["state"])
    assert json.loads((killed / "result.json").read_text())["val"] == json.loads(
        (straight / "result.json").read_text())["val"]


# --- one-line errors, nothing lost ---------------------------------------------------------------------------------

def _copy_camvid(source: Path, target: Path, train: int = 4, val: int = 1) -> Path:
    for split, count in (("train", train), ("val", val)):
        lines = (source / f"{split}.txt").read_text().split("\n")[:count]
        for line in lines:
            for rel in line.split():
                (target / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(source / rel, target / rel)
        (target / f"{split}.txt").write_text("\n".join(lines) + "\n")
    return target


@pytest.fixture(scope="module")
def good_run(camvid_root, tmp_path_factory):
    """A finished one-epoch DRN-C-26 run on a 4-image copy of CamVid, to fail resuming it in many ways."""
    base = tmp_path_factory.mktemp("errors")
    data = _copy_camvid(camvid_root, base / "camvid")
    run = base / "run"
    args = ["train", "--arch", "drn_c_26", "--dataset", "camvid", "--task", "segment", "--data-root", str(data),
            "--crop-size", "64", "--batch-size", "2", "--epochs", "1", "--lr", "0.01", "--limit-val", "1",
            "--out-dir", str(run), *FAST]
    assert main(args) == 0
    return data, run, args


def _broken_copy(data: Path, tmp_path: Path, how: str) -> Path:
    broken = tmp_path / "broken"
    shutil.copytree(data, broken)
    image, label = (broken / "train.txt").read_text().split("\n")[0].split()
    if how == "empty split":
        (broken / "train.txt").write_text("")
    elif how == "corrupt JPEG":
        (broken / image).write_bytes((broken / image).read_bytes()[:2000])
    elif how == "label out of range":
        ids = Image.open(broken / label)
        pixels = ids.load()
        pixels[5, 5] = 50  # CamVid ids are 0..10 and 11 (void)
        ids.save(broken / label)
    elif how == "size mismatch":
        Image.open(broken / label).resize((100, 80), Image.NEAREST).save(broken / label)
    return broken


@pytest.mark.parametrize("how, message", [
    ("missing root", "does not exist"),
    ("empty split", "has no samples"),
    ("corrupt JPEG", "corrupt or unreadable image"),
    ("label out of range", "out of range"),
    ("size mismatch", "does not match"),
])
def test_bad_data_one_line_error_and_nothing_lost(good_run, tmp_path, capsys, how, message):
    data, run, args = good_run
    before = snapshot(run)
    root = tmp_path / "nowhere" if how == "missing root" else _broken_copy(data, tmp_path, how)
    capsys.readouterr()
    assert main([*args, "--resume", "--epochs", "2", "--data-root", str(root)]) == 2
    assert message in error_line(capsys)
    assert snapshot(run) == before


def test_nan_loss_stops_and_keeps_the_checkpoint_byte_identical(good_run, capsys):
    data, run, args = good_run
    before = snapshot(run)
    capsys.readouterr()
    assert main([*args, "--resume", "--epochs", "2", "--lr", "1e12"]) == 2
    line = error_line(capsys)
    assert "the loss became" in line and "last good checkpoint (epoch 1) is kept" in line
    assert snapshot(run) == before  # checkpoint.pt, metrics, config.json, result.json: byte-identical


def test_checkpoint_of_another_model_is_refused(good_run, capsys):
    data, run, args = good_run
    before = snapshot(run)
    capsys.readouterr()
    assert main([*args, "--resume", "--epochs", "2", "--arch", "resnet18"]) == 2
    assert "holds a drn_c_26 model, not resnet18" in error_line(capsys)
    assert main(["evaluate", "--out-dir", str(run), "--arch", "resnet18", *FAST]) == 2
    assert "holds a drn_c_26 model, not resnet18" in error_line(capsys)
    assert main([*args]) == 2  # a fresh start into a run directory is refused too
    assert "already holds a run" in error_line(capsys)
    assert snapshot(run) == before


def test_unknown_architecture_exits_2_with_one_line(good_run, tmp_path):
    data, _, _ = good_run
    out = tmp_path / "new"
    done = run_cli("train", "--arch", "drn_c_27", "--dataset", "camvid", "--task", "segment", "--data-root",
                   str(data), "--out-dir", str(out), *FAST)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: unknown architecture 'drn_c_27'"), lines
    assert "drn_c_26" in lines[0]  # the closest names are suggested
    assert not (out / "checkpoint.pt").exists()


# --- several processes ----------------------------------------------------------------------------------------------

def test_torchrun_two_cpu_processes(tiny_imagenet_root, tmp_path):
    """DDP with the gloo backend: 2 processes, 2 iterations each; evaluation shards are summed."""
    out = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "-m", "drnlib", "train",
         "--arch", "resnet18", "--dataset", "tiny_imagenet", "--crop-size", "32", "--batch-size", "4", "--epochs",
         "1", "--lr", "0.01", "--limit-train", "8", "--limit-val", "6", "--out-dir", str(out), *FAST],
        cwd=REPO, capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads((out / "result.json").read_text())
    assert result["world_size"] == 2 and result["val"]["images"] == 6  # 3 per process, summed
    assert json.loads((out / "metrics.json").read_text())[0]["epoch"] == 1
