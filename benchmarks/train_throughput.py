"""Training throughput: how much faster than the official code's setup does drnlib train?

    python benchmarks/train_throughput.py                      # on a GPU: DRN-C-26 and ResNet-50, 224 px, batch 128
    python benchmarks/train_throughput.py --device cpu --batch-size 2 --input-size 64 --iters 2 --modes a b

Modes, measured in the same run:
  (a) fp32, NCHW, eager              -- how fyu/drn's classify.py trains
  (b) bf16 autocast + channels_last
  (c) (b) + torch.compile
For each: training images/s (forward, backward, SGD step on random data), the ratio to (a), and the TFLOP/s
achieved (FLOPs of one step from torch.utils.flop_counter). Then the data loader alone (the ImageNet-style
pipeline at the same size, decoding Tiny-ImageNet JPEGs with N workers), to show whether it keeps up.
Prints a table and, with --output, writes the numbers as JSON (atomically).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

import pandas as pd
import torch

from drnlib.analysis.speed import loader_throughput, training_step_flops, training_throughput
from drnlib.data import build_dataset, build_loader, default_transform
from drnlib.models import build_model

MODES = {
    "a": dict(precision="fp32", channels_last=False, compile=False, label="fp32 NCHW eager"),
    "b": dict(precision="bf16", channels_last=True, compile=False, label="bf16 + channels_last"),
    "c": dict(precision="bf16", channels_last=True, compile=True, label="bf16 + channels_last + compile"),
}


def measure(archs, modes, batch_size, input_size, device, warmup, iters) -> pd.DataFrame:
    rows = []
    for arch in archs:
        flops = training_step_flops(build_model(arch, num_classes=1000).to(device), batch_size, input_size)
        for mode in modes:
            settings = {k: v for k, v in MODES[mode].items() if k != "label"}
            timing = training_throughput(build_model(arch, num_classes=1000), batch_size, input_size, device,
                                         warmup=warmup, iters=iters, num_classes=1000, **settings)
            rows.append({"arch": arch, "mode": f"({mode}) {MODES[mode]['label']}", "images/s": timing.images_per_s,
                         "s/step": timing.seconds_per_iter, "TFLOP/s": flops / timing.seconds_per_iter / 1e12})
        baseline = rows[-len(modes)]["images/s"] if modes[0] == "a" else None
        for row in rows[-len(modes):]:
            row["vs (a)"] = row["images/s"] / baseline if baseline else float("nan")
    return pd.DataFrame(rows)


def loader_rate(batch_size, input_size, workers, batches) -> float:
    dataset = build_dataset("tiny_imagenet", "train", transform=default_transform("imagenet", "train", size=input_size))
    loader = build_loader(dataset, batch_size, train=True, num_workers=workers)
    return loader_throughput(loader, batches=batches, warmup=min(2, batches))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("--archs", nargs="+", default=["drn_c_26", "resnet50"])
    parser.add_argument("--modes", nargs="+", default=list(MODES), choices=list(MODES))
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--input-size", type=int, default=224)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--warmup", type=int, default=5, help="untimed steps (compile happens here)")
    parser.add_argument("--iters", type=int, default=20, help="timed steps")
    parser.add_argument("--workers", type=int, default=min(16, os.cpu_count() or 1), help="data loader workers")
    parser.add_argument("--loader-batches", type=int, default=20, help="batches for the loader measurement (0: skip)")
    parser.add_argument("--output", type=Path, help="also write the numbers to this JSON file")
    args = parser.parse_args(argv)

    table = measure(args.archs, args.modes, args.batch_size, args.input_size, args.device, args.warmup, args.iters)
    pd.set_option("display.width", 140)
    print(f"training throughput, batch {args.batch_size}, {args.input_size}px, {args.device}"
          f" ({torch.cuda.get_device_name(args.device) if args.device.startswith('cuda') else 'CPU'}),"
          f" torch {torch.__version__}")
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3g}"))
    loader = None
    if args.loader_batches:
        loader = loader_rate(args.batch_size, args.input_size, args.workers, args.loader_batches)
        print(f"data loader alone ({args.workers} workers, Tiny-ImageNet JPEGs -> {args.input_size}px crops): "
              f"{loader:.0f} images/s")
    if args.output:
        document = {"settings": {k: str(v) for k, v in vars(args).items()}, "torch": torch.__version__,
                    "device_name": torch.cuda.get_device_name(args.device) if args.device.startswith("cuda") else "cpu",
                    "rows": table.to_dict(orient="records"), "loader_images_per_s": loader}
        args.output.parent.mkdir(parents=True, exist_ok=True)
        handle, tmp = tempfile.mkstemp(dir=args.output.parent, suffix=".tmp")
        with os.fdopen(handle, "w") as out:
            json.dump(document, out, indent=1)
        os.replace(tmp, args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
