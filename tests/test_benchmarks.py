"""The training-throughput benchmark runs end to end (tiny settings on the CPU; the real numbers need a GPU)."""

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_train_throughput_benchmark_prints_a_table_and_writes_json(tmp_path, tiny_imagenet_root):
    output = tmp_path / "bench.json"
    done = subprocess.run([sys.executable, str(REPO / "benchmarks" / "train_throughput.py"), "--device", "cpu",
                           "--archs", "resnet_cifar_20", "--modes", "a", "b", "--batch-size", "2", "--input-size", "32",
                           "--warmup", "1", "--iters", "1", "--workers", "0", "--loader-batches", "2",
                           "--output", str(output)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "(a) fp32 NCHW eager" in done.stdout and "(b) bf16 + channels_last" in done.stdout
    assert "data loader alone" in done.stdout
    result = json.loads(output.read_text())
    rows = {r["mode"][:3]: r for r in result["rows"]}
    assert rows["(a)"]["vs (a)"] == 1.0 and rows["(b)"]["images/s"] > 0 and rows["(a)"]["TFLOP/s"] > 0
    assert result["loader_images_per_s"] > 0
