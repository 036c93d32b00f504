"""The training-throughput benchmark runs end to end (tiny settings on the CPU; the real numbers need a GPU)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def test_train_throughput_benchmark_prints_a_table_and_writes_json(tmp_path, tiny_imagenet_root):
    output = tmp_path / "bench.json"
    done = subprocess.run([sys.executable, str(REPO / "benchmarks" / "train_throughput.py"), "--device", "cpu",
                           "--archs", "resnet_cifar_20", "--modes", "a", "b", "--batch-size", "2", "--input-size", "32",
                           "--warmup", "1", "--iters", "1", "--workers", "0", "--loader-batches", "2",
                           "--limit-train", "8", "--output", str(output)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "(a) fp32 NCHW eager" in done.stdout and "(b) bf16 + channels_last" in done.stdout
    assert "data alone (no model)" in done.stdout and "bounds training" in done.stdout
    result = json.loads(output.read_text())
    rows = {(r["mode"][:3], r["data"]): r for r in result["rows"]}
    # every mode on random data (the step alone) and on each data path, with FLOP rates and ratios to (a)
    assert set(rows) == {(m, d) for m in ("(a)", "(b)") for d in ("random (step alone)", "resident", "loader")}
    assert all(rows[("(a)", d)]["vs (a)"] == 1.0 for d in ("random (step alone)", "resident", "loader"))
    assert all(r["images/s"] > 0 and r["TFLOP/s"] > 0 for r in rows.values())
    per_image = [r["TFLOP/s"] / r["images/s"] for r in rows.values()]  # one FLOP count per step
    assert max(per_image) == pytest.approx(min(per_image))
    alone = {r["data"]: r for r in result["data_alone"]}
    assert set(alone) == {"resident", "loader"} and all(r["images/s"] > 0 for r in alone.values())


def test_train_throughput_benchmark_segmentation_on_one_data_path(tmp_path, camvid_root):
    output = tmp_path / "bench.json"
    done = subprocess.run([sys.executable, str(REPO / "benchmarks" / "train_throughput.py"), "--device", "cpu",
                           "--dataset", "camvid", "--task", "segment", "--archs", "resnet_cifar_20", "--modes", "a",
                           "--data-paths", "resident", "--batch-size", "2", "--input-size", "32", "--scale", "2",
                           "--warmup", "1", "--iters", "1", "--workers", "0", "--loader-batches", "0",
                           "--limit-train", "4", "--output", str(output)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    result = json.loads(output.read_text())
    assert [r["data"] for r in result["rows"]] == ["random (step alone)", "resident"] and not result["data_alone"]
