"""Training throughput: what bounds drnlib's training, the data or the step, and how much faster than the official
code's setup does it train?

    python benchmarks/train_throughput.py          # on a GPU: DRN-C-26 and ResNet-50, Tiny ImageNet, 224 px, batch 128
    python benchmarks/train_throughput.py --device cpu --archs resnet18 --dataset tiny_imagenet --input-size 56 \\
        --batch-size 32 --modes a --iters 5 --workers 1 --limit-train 640
    python benchmarks/train_throughput.py --device cpu --archs drn_c_26 --dataset camvid --task segment \\
        --input-size 96 --batch-size 4 --scale 2 --modes a --iters 5 --workers 1

Everything below is measured in one run, for each architecture at the given settings:
  step alone      forward, backward and SGD update on random data, for each mode:
                    (a) fp32, NCHW, eager              -- how fyu/drn's classify.py / segment.py train
                    (b) bf16 autocast + channels_last
                    (c) (b) + torch.compile
  data alone      batches per second of each data path, with no model:
                    resident  the split decoded once into uint8 tensors on the device, the recipe applied there
                              per sample (drnlib.data.resident)
                    loader    DataLoader workers (--workers) decode and augment every batch (the official setup)
  training        data + step, as drnlib.train.engine runs them: each data path x each mode
For each row: images/s, seconds per step, TFLOP/s achieved (FLOPs of one training step counted by
torch.utils.flop_counter at these settings) and the ratio to mode (a) on the same data. Data alone against step
alone says which one bounds training. The batches are the engine's own (drnlib.train.engine.make_batches with the
data set's training recipe at --input-size: random-resized crop + flip + colour jitter for classification, [rotate]
+ [scale] + padded crop + flip for segmentation). With --repeats, the data paths take turns and each number is the
median. Prints tables and, with --output, writes the numbers as JSON (atomically). On a CPU shared with other work,
OMP_NUM_THREADS=1 gives steadier numbers (with several threads every small operation waits for all of them).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import torch

from drnlib.analysis.speed import loader_throughput, pipeline_throughput, training_step_flops, training_throughput
from drnlib.models import build_model
from drnlib.train import RunConfig
from drnlib.train.checkpoint import atomic_write_json
from drnlib.train.engine import make_batches
from drnlib.train.tasks import get_task

MODES = {
    "a": dict(precision="fp32", channels_last=False, compile=False, label="fp32 NCHW eager"),
    "b": dict(precision="bf16", channels_last=True, compile=False, label="bf16 + channels_last"),
    "c": dict(precision="bf16", channels_last=True, compile=True, label="bf16 + channels_last + compile"),
}
PATHS = ("resident", "loader")


def run_config(args, channels_last: bool, path: str) -> RunConfig:
    return RunConfig(dataset=args.dataset, task=args.task, crop_size=args.input_size, batch_size=args.batch_size,
                     scale=args.scale, rotate=args.rotate, workers=args.workers, limit_train=args.limit_train,
                     limit_val=1, device=args.device, channels_last=channels_last, data_path=path, seed=args.seed)


def data_paths(args, channels_last: bool) -> tuple[dict, int]:
    """{path: the engine's training batches}, and the data set's number of classes."""
    device = torch.device(args.device)
    procs = SimpleNamespace(device=device, rank=0, world_size=1, distributed=False)
    cfg = run_config(args, channels_last and device.type == "cuda", "loader")
    task = get_task(args.task)
    train, val = task.datasets(cfg)
    batches = {}
    for path in args.data_paths:
        batches[path], _, used = make_batches(cfg.replace(data_path=path), task, train, val, procs,
                                              torch.Generator().manual_seed(args.seed), args.batch_size)
        assert used == path, f"asked for {path}, got {used}"
    return batches, task.dataset_info(train)["num_classes"]


def measure(args) -> tuple[pd.DataFrame, pd.DataFrame]:
    task = get_task(args.task)
    rows, alone = [], []
    batches, num_classes = data_paths(args, channels_last=False)
    if args.loader_batches:
        rates = {path: [] for path in batches}
        for _ in range(args.repeats):
            for path, source in batches.items():
                rates[path].append(loader_throughput(source, batches=args.loader_batches,
                                                     warmup=min(2, args.loader_batches), device=args.device))
        alone = [{"data": path, "images/s": statistics.median(r), "workers": args.workers if path == "loader" else 0}
                 for path, r in rates.items()]
    for arch in args.archs:
        model = build_model(arch, num_classes=num_classes, task=task.model_task).to(args.device)
        flops = training_step_flops(model, args.batch_size, args.input_size)
        del model
        for mode in args.modes:
            settings = {k: v for k, v in MODES[mode].items() if k != "label"}
            label = f"({mode}) {MODES[mode]['label']}"
            step = training_throughput(build_model(arch, num_classes=num_classes, task=task.model_task),
                                       args.batch_size, args.input_size, args.device, warmup=args.warmup,
                                       iters=args.iters, num_classes=num_classes, **settings)
            rows.append({"arch": arch, "mode": label, "data": "random (step alone)", "images/s": step.images_per_s,
                         "s/step": step.seconds_per_iter})
            mode_batches = batches if not settings["channels_last"] else data_paths(args, channels_last=True)[0]
            timings = {path: [] for path in mode_batches}
            for _ in range(args.repeats):  # the paths take turns, so that a busy machine slows both alike
                for path, source in mode_batches.items():
                    torch.manual_seed(args.seed)
                    model = build_model(arch, num_classes=num_classes, task=task.model_task)
                    timings[path].append(pipeline_throughput(
                        model, source, args.device, warmup=args.warmup, iters=args.iters,
                        loss_fn=lambda out, y: task.loss(out.float(), y, RunConfig()), **settings))
            for path, runs in timings.items():
                seconds = statistics.median(t.seconds_per_iter for t in runs)
                rows.append({"arch": arch, "mode": label, "data": path, "images/s": args.batch_size / seconds,
                             "s/step": seconds})
        for row in rows:
            if row["arch"] == arch:
                row["TFLOP/s"] = flops / row["s/step"] / 1e12
                base = [r for r in rows if r["arch"] == arch and r["data"] == row["data"] and r["mode"][:3] == "(a)"]
                row["vs (a)"] = row["images/s"] / base[0]["images/s"] if base else float("nan")
    return pd.DataFrame(rows), pd.DataFrame(alone)


def verdicts(table: pd.DataFrame, alone: pd.DataFrame) -> list[str]:
    """Per architecture and mode: which bounds training with each data path, the data or the step."""
    lines = []
    for (arch, mode), group in table.groupby(["arch", "mode"], sort=False):
        step = group[group["data"] == "random (step alone)"]["images/s"].iloc[0]
        for _, row in alone.iterrows():
            bound = "the data" if row["images/s"] < step else "the step"
            lines.append(f"{arch} {mode[:3]} {row['data']}: data alone {row['images/s']:.0f} images/s, step alone "
                         f"{step:.0f} images/s -> {bound} bounds training")
    return lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("--archs", nargs="+", default=["drn_c_26", "resnet50"])
    parser.add_argument("--dataset", default="tiny_imagenet", help="a drnlib.data name (default: tiny_imagenet)")
    parser.add_argument("--task", default="classify", choices=["classify", "segment"])
    parser.add_argument("--modes", nargs="+", default=list(MODES), choices=list(MODES))
    parser.add_argument("--data-paths", nargs="+", default=list(PATHS), choices=list(PATHS))
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--input-size", "--crop", type=int, default=224, help="training crop (pixels)")
    parser.add_argument("--scale", type=float, default=0.0, help="segmentation random scale s (ratio in [1/s, s])")
    parser.add_argument("--rotate", type=float, default=0.0, help="segmentation random rotation (degrees)")
    parser.add_argument("--limit-train", type=int, default=None, help="training images used (default: the split)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--warmup", type=int, default=5, help="untimed steps (compile happens here)")
    parser.add_argument("--iters", type=int, default=20, help="timed steps")
    parser.add_argument("--repeats", type=int, default=1, help="measure the data paths this many times, in turn")
    parser.add_argument("--workers", type=int, default=min(16, os.cpu_count() or 1),
                        help="DataLoader workers of the loader path (and decoding processes of the resident one)")
    parser.add_argument("--loader-batches", type=int, default=20, help="batches for the data-alone rates (0: skip)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", type=Path, help="also write the numbers to this JSON file")
    args = parser.parse_args(argv)

    table, alone = measure(args)
    device_name = torch.cuda.get_device_name(args.device) if args.device.startswith("cuda") else "cpu"
    pd.set_option("display.width", 160)
    print(f"training throughput: {args.dataset} ({args.task}), batch {args.batch_size}, {args.input_size}px, "
          f"{args.device} ({device_name}), torch {torch.__version__}, {torch.get_num_threads()} threads")
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3g}"))
    if len(alone):
        print("data alone (no model): " + "; ".join(
            r["data"] + (f" ({r['workers']} workers)" if r["data"] == "loader" else " (on the device)")
            + f" {r['images/s']:.0f} images/s" for _, r in alone.iterrows()))
        for line in verdicts(table, alone):
            print(line)
    if args.output:
        atomic_write_json(args.output, {
            "settings": {k: str(v) for k, v in vars(args).items()}, "torch": torch.__version__,
            "device_name": device_name, "threads": torch.get_num_threads(),
            "rows": table.to_dict(orient="records"), "data_alone": alone.to_dict(orient="records")})
    return 0


if __name__ == "__main__":
    sys.exit(main())
