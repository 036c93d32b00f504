"""Command line for long runs: `python -m drnlib train|evaluate ...` (and `book`, handed to drnlib.book).

The options are the fields of drnlib.train.RunConfig (the notebooks' API), so the CLI and the notebooks run the
same code: the CLI only parses its arguments into a RunConfig and calls fit() / evaluate_run().

    python -m drnlib train --arch drn_c_26 --dataset camvid --task segment --crop-size 448 --epochs 100 \\
        --lr 0.01 --batch-size 8 --out-dir runs/drn_c_26_camvid
    python -m drnlib evaluate --out-dir runs/drn_c_26_camvid --scales 0.75 1 1.25 --flip
    torchrun --nproc_per_node 4 -m drnlib train ...        # several GPUs (DDP, SyncBatchNorm)

User errors (drnlib.errors.DrnError: unknown architecture, bad data, foreign checkpoint, NaN loss, ...) print one
line `error: ...` on stderr and exit with status 2; an interrupt exits with 130. Files already written stay.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys

from drnlib.errors import DrnError, ParameterError

EXAMPLES = {
    "train": """examples:
  DRN-C-26 on CamVid (DRN segment.py recipe: SGD 0.01, momentum 0.9, crop + flip, step lr):
    python -m drnlib train --arch drn_c_26 --dataset camvid --task segment --crop-size 448 \\
        --batch-size 8 --lr 0.01 --epochs 100 --schedule step --step 40 --out-dir runs/drn_c_26_camvid
  DRN-C-26 on Tiny ImageNet, 300 training images kept out to choose the localization threshold:
    python -m drnlib train --arch drn_c_26 --dataset tiny_imagenet --crop-size 56 --epochs 30 --step 10 \\
        --holdout 300 --out-dir runs/drn_c_26_tiny
  smoke run on the CPU:
    python -m drnlib train --arch drn_c_26 --dataset camvid --task segment --crop-size 96 --batch-size 2 \\
        --limit-train 4 --limit-val 2 --device cpu --workers 0 --out-dir /tmp/smoke
  continue a run that was stopped (exactly where its last finished epoch left it):
    python -m drnlib train ... --out-dir runs/drn_c_26_camvid --resume
  several GPUs:
    torchrun --nproc_per_node 4 -m drnlib train ...   (--batch-size is the global batch)
""",
    "evaluate": """examples:
  10-crop classification error of a run:    python -m drnlib evaluate --out-dir runs/drn_c_26_tiny --ten-crop
  weakly-supervised localization (DRN 5.2):  python -m drnlib evaluate --out-dir runs/drn_c_26_tiny \\
        --task localize --ten-crop           (threshold swept on the run's held-out training images)
  multi-scale segmentation with flip:       python -m drnlib evaluate --out-dir runs/drn_c_26_camvid \\
        --scales 0.5 0.75 1 1.25 1.5 1.75 --flip --output runs/drn_c_26_camvid/eval_ms.json
""",
}

SHORT = {"arch": ["-a"], "dataset": ["-d"], "batch_size": ["-b"], "workers": ["-j"], "crop_size": ["-s"],
         "out_dir": ["-o"], "weight_decay": ["--wd"]}
CHOICES = {"task": {"train": ["classify", "segment"], "evaluate": ["classify", "segment", "localize"]},
           "schedule": {"train": None}, "data_path": {"train": ["auto", "resident", "loader"]}}  # filled from drnlib.train.schedules.SCHEDULES in build_parser


def _option_type(annotation: str):
    if "dict" in annotation:
        return dict
    if "bool" in annotation:
        return bool
    if "tuple" in annotation:
        return tuple
    for name, kind in (("int", int), ("float", float)):
        if name in annotation:
            return kind
    return str


def build_parser() -> argparse.ArgumentParser:
    from drnlib.provenance import PROFILES
    from drnlib.train.config import RunConfig
    from drnlib.train.schedules import SCHEDULES

    CHOICES["schedule"]["train"] = list(SCHEDULES)
    parser = argparse.ArgumentParser(prog="python -m drnlib", description=(
        "Dilated Residual Networks / Wider-or-Deeper: train and evaluate. Each option is a field of "
        "drnlib.train.RunConfig, the API the notebooks use."))
    commands = parser.add_subparsers(dest="command", required=True, metavar="{train,evaluate,runs,book}")
    subparsers = {
        "train": commands.add_parser(
            "train", help="train a model (one loop for classification and segmentation)",
            usage="python -m drnlib train --arch ARCH --dataset DATASET [options]",
            description="Train a model. Writes OUT_DIR/{config.json, checkpoint.pt (every epoch), metrics.csv, "
                        "metrics.json, result.json}.",
            epilog=EXAMPLES["train"], formatter_class=argparse.RawDescriptionHelpFormatter),
        "evaluate": commands.add_parser(
            "evaluate", help="evaluate a checkpoint: top-1/5 error (1- or 10-crop), localization, mIoU",
            usage="python -m drnlib evaluate [--out-dir RUN | --checkpoint FILE] [options]",
            description="Evaluate a checkpoint. Settings not given come from the run's own config.",
            epilog=EXAMPLES["evaluate"], formatter_class=argparse.RawDescriptionHelpFormatter),
    }
    commands.add_parser("book", help="run the notebooks and build the book (options: python -m drnlib book "
                                     "--help)", add_help=False)
    for command, sub in subparsers.items():
        for f in dataclasses.fields(RunConfig):
            scope = f.metadata.get("scope", "both")
            if scope not in ("both", command):
                continue
            kind = _option_type(str(f.type))
            flags = [f"--{f.name.replace('_', '-')}", *SHORT.get(f.name, [])]
            shown = _show(f.default) if f.default is not dataclasses.MISSING else ""
            default = f" (default: {shown})" if shown and f.default is not None else ""
            kw = dict(dest=f.name, default=argparse.SUPPRESS, help=f.metadata.get("help", "") + default)
            if kind is bool:
                sub.add_argument(*flags, action=argparse.BooleanOptionalAction, **kw)
            elif kind is dict:  # --data-option KEY=VALUE, repeated
                flags = ["--" + f.name.replace("_", "-").rstrip("s")]
                sub.add_argument(*flags, type=_key_value, action="append", metavar="KEY=VALUE", **kw)
            elif kind is tuple:
                sub.add_argument(*flags, type=float, nargs="+", metavar="S", **kw)
            else:
                choices = CHOICES.get(f.name, {}).get(command)
                sub.add_argument(*flags, type=kind, choices=choices, metavar=f.name.upper() if not choices else None,
                                 **kw)
        sub.add_argument("--profile", choices=PROFILES, default=argparse.SUPPRESS,
                         help="with --recipe: take the run's settings from params/PROFILE/recipes.yaml and its "
                              "folder from runs/PROFILE/ (options given here change the recipe for this run)")
        if command == "evaluate":
            sub.add_argument("--output", default=None, help="also write the scores to this JSON file")
    runs_parser = commands.add_parser(
        "runs", help="list every run the book's pages need at a profile: recipe, arch, state, training FLOPs",
        description="Every run the pages of the book (_toc.yml) need at a profile, from their params files: its "
                    "recipe, architecture and options, whether it is trained (done / partial / missing), its training "
                    "FLOPs (torch.utils.flop_counter) and its share of the profile's total.")
    runs_parser.add_argument("--profile", choices=PROFILES, required=True)
    runs_parser.add_argument("--pages", nargs="+", metavar="PAGE", help="only these pages")
    runs_parser.add_argument("--commands", action="store_true", help="also print the command that trains each run")
    return parser


def _key_value(text: str) -> tuple:
    """'object_scale=0.25' -> ("object_scale", 0.25) (drnlib.params.parse_assignment, as argparse reports it)."""
    from drnlib.params import parse_assignment

    try:
        return parse_assignment(text, "--data-option")
    except ParameterError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _show(value) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, tuple):
        return " ".join(f"{v:g}" for v in value)
    return str(value)


def one_line(err: BaseException) -> str:
    """The message of an error on one line. An error re-raised from a DataLoader worker carries the worker's
    traceback in its message; its last line is the original message."""
    text = str(err).strip() or type(err).__name__
    if "Original Traceback" in text:
        last = [line for line in text.splitlines() if line.strip()][-1]
        text = last.split(": ", 1)[1] if ": " in last else last
    return " ".join(text.split())


def _run(args: argparse.Namespace) -> int:
    from drnlib.train import RunConfig, evaluate_run, fit

    if args.command == "runs":
        return _list_runs(args)
    values = {k: v for k, v in vars(args).items() if k not in ("command", "output", "profile")}
    if "data_options" in values:
        values["data_options"] = dict(values["data_options"])
    profile = getattr(args, "profile", None)
    if profile is not None or values.get("recipe"):
        values = _from_recipe(profile, values, args.command)
    if args.command == "train":
        result = fit(RunConfig.from_dict(values))
        if result and _is_main():
            print(_summary(result.get("val") or {}, prefix=f"{result['arch']} on {result['dataset']}, "
                                                           f"{result['epochs']} epochs:"))
            print(f"run directory: {result['run_dir']}")
        return 0
    result = evaluate_run(values, output=args.output)
    if _is_main():
        print(_summary(result, prefix=f"{result['arch']} on {result['dataset']}/{result['split']} "
                                      f"({result['task']}, epoch {result['epoch']}):"))
        if args.output:
            print(f"written: {args.output}")
    return 0


def _from_recipe(profile: str | None, values: dict, command: str) -> dict:
    """The settings of a recipe run (--profile P --recipe R --arch A): the recipe's, with the options given on the
    command line that change what is trained on top (a run of its own), the others (device, workers, resume, ...)
    only for this process. Training a run whose trunk (the recipe's `init`) is not trained yet is refused."""
    from drnlib import runs

    if profile is None or not values.get("recipe") or not values.get("arch"):
        raise ParameterError("a recipe run needs --profile, --recipe and --arch together")
    given = {k: v for k, v in values.items() if k not in ("recipe", "arch")}
    spec = runs.RunSpec(values["recipe"], values["arch"],
                        {k: v for k, v in given.items() if k not in runs.NOT_IN_KEY})
    cfg = runs.config(profile, spec)
    if command == "train":
        trunk = runs.trunk(spec, profile)
        if trunk is not None and runs.state(profile, trunk) != "done":
            raise ParameterError(f"{spec.label} starts from {trunk.label}, which is not trained at profile "
                                 f"{profile}; train it first: {runs.command(profile, trunk, processes=1)}")
    return {**cfg.to_dict(), **{k: v for k, v in given.items() if k in runs.NOT_IN_KEY}}


def _list_runs(args: argparse.Namespace) -> int:
    """`python -m drnlib runs --profile P`: the table of every run the pages need."""
    import pandas as pd

    from drnlib.pages import profile_runs

    frame = profile_runs(args.profile, pages=args.pages)
    with pd.option_context("display.max_rows", None, "display.width", 200, "display.max_colwidth", 60):
        shown = frame.drop(columns=["command"]).copy()
        shown["pages"] = shown["pages"].map(lambda text: text if text.count(",") < 3 else
                                            ",".join(text.split(",")[:3]) + f" +{text.count(',') - 2}")
        shown["GFLOPs"] = shown["GFLOPs"].map(lambda v: f"{v:,.0f}")
        shown["share"] = shown["share"].map(lambda v: f"{100 * v:.1f}%")
        if not shown["options"].astype(bool).any():  # no run has options of its own: no empty column
            shown = shown.drop(columns=["options"])
        print(shown.to_string(index=False))
    states = frame["state"].value_counts().to_dict()
    print(f"\n{len(frame)} runs at profile {args.profile}: " + ", ".join(f"{n} {s}" for s, n in states.items())
          + f"; {frame['GFLOPs'].sum() / 1e3:,.1f} TFLOPs of training in all")
    if args.commands:
        print("\n" + "\n".join(frame["command"]))
    return 0


def _is_main() -> bool:
    import os
    return os.environ.get("RANK", "0") == "0"


def _summary(scores: dict, prefix: str) -> str:
    keys = ("top1_error", "top5_error", "loc_top1_error", "loc_top5_error", "threshold", "miou", "pixel_acc",
            "mean_acc", "loss")
    parts = [f"{k} {scores[k]:.4g}" for k in keys if isinstance(scores.get(k), (int, float))]
    text = f"{prefix} " + ", ".join(parts)
    if isinstance(scores.get("iou"), list):
        text += "\nper-class IoU: " + json.dumps([None if v != v else round(v, 2) for v in scores["iou"]])
    return text


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["book"]:
        from drnlib import book  # the book machinery has its own options
        return book.main(argv[1:]) or 0
    args = build_parser().parse_args(argv)  # usage errors: argparse prints them and exits with 2
    try:
        return _run(args)
    except DrnError as err:
        print(f"error: {one_line(err)}", file=sys.stderr)
    except FileNotFoundError as err:
        print(f"error: file not found: {err.filename or one_line(err)}", file=sys.stderr)
    except OSError as err:  # a path that is a folder, a file where a folder belongs, no permission, a full disk
        print(f"error: {err.filename or ''}{': ' if err.filename else ''}{err.strerror or one_line(err)}",
              file=sys.stderr)
    except KeyboardInterrupt:
        print("error: interrupted; files already written are kept (train --resume continues from the last "
              "checkpoint)", file=sys.stderr)
        return 130
    except MemoryError as err:
        print(f"error: out of memory ({one_line(err)}); lower --batch-size or --crop-size", file=sys.stderr)
    except RuntimeError as err:
        if "out of memory" not in str(err):
            raise
        print(f"error: out of GPU memory; lower --batch-size or --crop-size ({one_line(err)[:200]})",
              file=sys.stderr)
    return 2
