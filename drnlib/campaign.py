"""The mini profile as GPU work units: what a short GPU lease runs, and how its results come home.

    python -m drnlib.campaign status --profile mini          # units: done / pending, estimated minutes, lease plan
    python -m drnlib.campaign run --profile mini --units drn_classification --budget 480 --out $OUT
    python -m drnlib.campaign run --profile mini --units all --budget 900 --out /tmp/dry --dry-run   # on a CPU
    python -m drnlib.campaign import $OUT/drn_classification.tar.gz ...   # into results/mini/

A unit (params/<profile>/units.yaml) is a set of pages whose runs are trained and analysed in one command on one
machine (trained weights never come back: every analysis that needs them runs there), with the one data archive
it needs carried along. A unit that uses another unit's runs (`needs`) runs after it in the same lease, while the
machine keeps its files. `run` first checks the CUDA paths (every model family forward and backward in bf16 with
channels_last, one fit step, one evaluation, a peak-memory reading, one compiled step; one line and exit 2 if one
fails), then runs each unit's pages as plain scripts (the GPU machine has no Jupyter), in order, skipping a unit
whose estimate does not fit in what is left of the budget, and writes one bundle per unit as soon as it ends:
results/<profile>/<page>.json and figures, every run's config/metrics/result, the logs, and the campaign's timing
record. `import` merges bundles into results/<profile>/ (refusing one trained with other recipes than the
checkout's, naming the difference) and keeps each unit's measured minutes in params/<profile>/unit_minutes.yaml,
which `status` then plans with instead of the FLOP estimate (training FLOPs at ASSUMED_TFLOPS).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import re
import shutil
import signal
import sys
import tarfile
import tempfile
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from drnlib import recipes, runs
from drnlib.errors import DrnError, ParameterError
from drnlib.files import atomic_write_bytes, atomic_write_text, read_json_object, read_yaml
from drnlib.provenance import PROFILES, ROOT_ENV, check_profile, machine_provenance, repo_root

ASSUMED_TFLOPS = 80.0  # the H200's sustained rate we plan with until a unit has been measured
PAGE_OVERHEAD_MINUTES = 0.25  # a page's own start-up, evaluation and analysis, beyond training
LEASE_MINUTES = 15.0
LEASE_START_MINUTES = 2.0
UNIT_LIMIT_MINUTES = 8.0
MAX_UNIT_MINUTES = 1e4  # a unit's measured minutes beyond this are not a lease's (refused on import and on reading)
ARCHIVES = {"tiny_imagenet": "tiny-imagenet-100.tar.gz", "cifar10": "cifar10-jpg.tar.gz",
            "camvid": "camvid-segnet.tar"}
CARRY_DIR = ".device-data"  # git-ignored: the one archive a device command carries


class SelfCheckFailed(DrnError):
    """The CUDA self-check found a path that does not work here."""


@dataclass
class Unit:
    """A work unit of params/<profile>/units.yaml."""

    name: str
    about: str
    pages: list[str]
    data: list[str] = field(default_factory=list)  # data sets whose archives the unit's command needs
    needs: list[str] = field(default_factory=list)  # units whose runs must be on the machine first
    benchmark: dict | None = None  # the training-throughput benchmark's options (benchmarks/train_throughput.py)
    dry_run: dict = field(default_factory=dict)  # page parameters of a dry run ({page: {name: value}})


def units_path(profile: str, root: Path | None = None) -> Path:
    return Path(root or repo_root()) / "params" / check_profile(profile) / "units.yaml"


def load_units(profile: str, root: Path | None = None) -> dict[str, Unit]:
    path = units_path(profile, root)
    if not path.is_file():
        raise ParameterError(f"missing {path}: the profile has no work units")
    units = {}
    for name, fields in read_yaml(path, "work units file").items():
        if not isinstance(fields, dict):
            raise ParameterError(f"{path}: unit {name} must map its fields to values, got {fields!r}")
        try:
            units[name] = Unit(name=name, **fields)
        except TypeError as err:
            raise ParameterError(f"{path}: unit {name}: {err}") from None
        for key in ("pages", "data", "needs"):
            value = getattr(units[name], key)
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ParameterError(f"{path}: unit {name}: {key} must be a list of names, got {value!r}")
        if not isinstance(units[name].dry_run, dict) or not isinstance(units[name].benchmark, (dict, type(None))):
            raise ParameterError(f"{path}: unit {name}: dry_run and benchmark must be mappings")
        unknown = [d for d in units[name].data if d not in ARCHIVES]
        if unknown:
            raise ParameterError(f"{path}: unit {name} needs data {unknown}, not one of {', '.join(ARCHIVES)}")
    for unit in units.values():
        missing = [n for n in unit.needs if n not in units]
        if missing:
            raise ParameterError(f"{path}: unit {unit.name} needs unknown unit(s) {', '.join(missing)}")
    for name in units:  # a unit runs after those it needs: the chain must end
        _with_needs(name, units, path=path)
    return units


def measured_path(profile: str, root: Path | None = None) -> Path:
    return Path(root or repo_root()) / "params" / check_profile(profile) / "unit_minutes.yaml"


def measured_minutes(profile: str, root: Path | None = None) -> dict:
    """{unit: {"minutes": measured wall minutes, "estimated": what we planned, "gpu": ..., "date": ...}}."""
    path = measured_path(profile, root)
    measured = read_yaml(path, "measured minutes file") if path.is_file() else {}
    for unit, entry in measured.items():
        minutes = entry.get("minutes") if isinstance(entry, dict) else None
        if isinstance(minutes, bool) or not isinstance(minutes, (int, float)) or not 0 <= minutes < MAX_UNIT_MINUTES:
            raise ParameterError(f"{path}: unit {unit} needs `minutes: <number>`, got {entry!r}; fix it or delete "
                                 f"the entry (status then plans with the FLOP estimate)")
    return measured


def unit_runs(unit: Unit, profile: str, root: Path | None = None) -> list[runs.RunSpec]:
    """Every run the unit's pages need (trunks included), each once, in training order."""
    from drnlib import pages
    from drnlib.params import read_params

    root = Path(root or repo_root())
    out: list[runs.RunSpec] = []
    for page in unit.pages:
        p = pages.checked(page, read_params(root, profile, page), root)
        for spec in pages.needed_runs(page, p):
            chain = [spec]
            while (parent := runs.trunk(chain[-1], profile, root)) is not None:
                chain.append(parent)
            out += [s for s in reversed(chain) if s not in out]
    return out


def estimate_minutes(unit: Unit, profile: str, root: Path | None = None, units: dict | None = None) -> dict:
    """{"minutes": planned minutes, "source": "measured" | "FLOPs", "tflops": training TFLOPs}: the measured minutes
    of an earlier lease where there are some, else the training FLOPs of the runs this unit trains (not those of
    the units it needs) at ASSUMED_TFLOPS, plus PAGE_OVERHEAD_MINUTES per page (and the benchmark's own minutes)."""
    units = units or load_units(profile, root)
    owned = set(unit_runs(unit, profile, root)) - {s for n in unit.needs for s in unit_runs(units[n], profile, root)}
    flops = sum(runs.training_flops(runs.config(profile, s, root)) for s in owned)
    estimate = flops / (ASSUMED_TFLOPS * 1e12) / 60 + PAGE_OVERHEAD_MINUTES * len(unit.pages)
    if unit.benchmark:
        estimate += float(unit.benchmark.get("minutes", 1.0))
    measured = measured_minutes(profile, root).get(unit.name)
    if measured:
        return {"minutes": float(measured["minutes"]), "source": "measured", "tflops": flops / 1e12,
                "estimated": estimate}
    return {"minutes": estimate, "source": "FLOPs", "tflops": flops / 1e12, "estimated": estimate}


def unit_state(unit: Unit, profile: str, root: Path | None = None) -> str:
    """"done" when results/<profile>/ holds every page of the unit (and its benchmark's table), computed with the
    profile's own settings."""
    from drnlib.results import load_results, results_path

    root = Path(root or repo_root())
    if unit.benchmark and not (root / "results" / profile / "throughput.json").is_file():
        return "pending"
    for page in unit.pages:
        if not results_path(page, profile, root).is_file():
            return "pending"
        if load_results(page, profile, root).provenance.get("overrides"):
            return "pending"
    return "done"


def lease_plan(profile: str, root: Path | None = None) -> list[list[str]]:
    """Pending units grouped into leases: a unit and the units it needs (their runs must be on the machine) always
    share a lease, each lease's estimates plus the machine's start within LEASE_MINUTES, in the order of
    units.yaml (its priority). A chain longer than a lease gets a lease of its own (and `status` says so)."""
    units = load_units(profile, root)
    pending = [name for name, u in units.items() if unit_state(u, profile, root) == "pending"]
    minutes = {n: estimate_minutes(units[n], profile, root, units)["minutes"] for n in pending}
    chains: list[list[str]] = []  # connected by `needs`, in units.yaml order
    for name in pending:
        chain = [n for n in _with_needs(name, units) if n in pending]
        joined = [c for c in chains if set(c) & set(chain)]
        merged = [n for n in pending if n in chain or any(n in c for c in joined)]
        chains = [c for c in chains if c not in joined] + [merged]
    chains.sort(key=lambda c: pending.index(c[0]))
    leases: list[list[str]] = []
    for chain in chains:
        size = sum(minutes[n] for n in chain)
        for lease in leases:
            if sum(minutes[n] for n in lease) + size + LEASE_START_MINUTES <= LEASE_MINUTES:
                lease += chain
                break
        else:
            leases.append(list(chain))
    return leases


def _with_needs(name: str, units: dict, seen: tuple = (), path: Path | None = None) -> list[str]:
    """`name` after every unit it needs, directly or not (ParameterError for a unit that needs itself)."""
    if name in seen:
        raise ParameterError(f"{path or 'units.yaml'}: unit {name} needs itself ({' -> '.join((*seen, name))})")
    out = []
    for need in units[name].needs:
        out += [n for n in _with_needs(need, units, (*seen, name), path) if n not in out]
    return out + [name]


def device_commands(lease: list[str], profile: str, units: dict, budget_s: int = 570,
                    minutes: dict | None = None) -> list[dict]:
    """The device commands of a lease: consecutive units that need the same archive (or none) share a command while
    their planned `minutes` ({unit: minutes}) fit in its `budget_s`; each command carries its one archive, copied
    from the shared data folder; only the first runs the CUDA self-check (the later ones find the same warm machine,
    with the data and runs the earlier ones left)."""
    from drnlib.data.registry import shared_data_dir

    minutes = minutes or {}
    groups: list[list[str]] = []
    for name in lease:
        data = set(units[name].data[:1])
        if groups and len({d for n in groups[-1] for d in units[n].data[:1]} | data) <= 1 and \
                sum(minutes.get(n, 0.0) for n in (*groups[-1], name)) * 60 <= budget_s:
            groups[-1].append(name)
        else:
            groups.append([name])
    shared = shared_data_dir() or Path("../shared/data")
    commands = []
    for position, group in enumerate(groups):
        data = next((units[n].data[0] for n in group if units[n].data), None)
        line = (f"export DRNLIB_SHARED_DATA=$PWD/{CARRY_DIR} PYTHONUNBUFFERED=1; python3 -m drnlib.campaign run "
                f"--profile {profile} --units {' '.join(group)} --budget {budget_s} --out $OUT"
                + ("" if position == 0 else " --skip-self-check"))
        commands.append({"units": group, "command": line, "carry": [CARRY_DIR] if data else [],
                         "prepare": (f"rm -rf {CARRY_DIR} && mkdir -p {CARRY_DIR} && cp {shared / ARCHIVES[data]} "
                                     f"{CARRY_DIR}/") if data else ""})
    return commands


# The CUDA self-check.


def self_check(device: str = "cuda", compile: bool = True) -> list[str]:
    """Exercise every CUDA path a lease uses, in under a minute, and return what was checked (one line each);
    SelfCheckFailed (one line) on the first that fails. `device="cpu"` runs the same code on the CPU (bf16 autocast
    and channels_last exist there too; peak memory is CUDA's only)."""
    import torch

    from drnlib.analysis.speed import peak_training_memory
    from drnlib.eval import evaluate
    from drnlib.models import build_model
    from drnlib.train import RunConfig, fit

    if device == "cuda" and not torch.cuda.is_available():
        raise SelfCheckFailed("no CUDA: torch sees no GPU here (torch.cuda.is_available() is False)")
    dev = torch.device(device)
    done = []

    def step(name, fn):
        try:
            result = fn()
        except Exception as err:  # any failure is the answer: report it on one line
            raise SelfCheckFailed(f"self-check {name} failed: {type(err).__name__}: "
                                  f"{' '.join(str(err).split())[:300]}") from None
        done.append(f"{name}: {result}")

    def forward_backward(arch, task, size, classes=10, **options):
        model = build_model(arch, classes, task, **options).to(dev).to(memory_format=torch.channels_last)
        x = torch.randn(2, 3, size, size, device=dev).contiguous(memory_format=torch.channels_last)
        with torch.autocast(dev.type, dtype=torch.bfloat16):
            out = model(x)
        out.float().mean().backward()
        grads = [p.grad for p in model.parameters() if p.grad is not None]
        if not grads or not all(torch.isfinite(g).all() for g in grads):
            raise RuntimeError("missing or non-finite gradients")
        return f"output {tuple(out.shape)}"

    families = [("resnet18", "classify", 64, {}), ("drn_a_18", "classify", 64, {}), ("drn_c_26", "segment", 64, {}),
                ("drn_d_22", "segment", 64, {}), ("resnet_cifar_20", "classify", 32, {}),
                ("224-0-1-1-1-1-1-1", "segment", 64, {"head": "2conv", "output_stride": 8})]
    for arch, task, size, options in families:
        step(f"bf16 + channels_last {arch} ({task})", lambda a=arch, t=task, s=size, o=options:
             forward_backward(a, t, s, **o))
    with tempfile.TemporaryDirectory() as folder:
        cfg = RunConfig(arch="resnet_cifar_20", dataset="synthetic", crop_size=32, epochs=1, batch_size=8,
                        limit_train=8, limit_val=8, device=device, workers=0, progress=False, out_dir=folder,
                        data_options={"image_size": 32, "num_classes": 4, "num_samples": 16})
        step("one fit step (synthetic scenes)", lambda: f"loss {fit(cfg)['train_loss']:.3f}")
    model = build_model("resnet18", 10).to(dev)
    batches = [(torch.randn(4, 3, 32, 32), torch.randint(0, 10, (4,)))]
    step("one evaluation", lambda: f"top1_error {evaluate(model, batches, 'classify', device=dev, amp=True)['top1_error']:.0f}")
    if dev.type == "cuda":
        step("peak memory", lambda: f"{peak_training_memory(build_model('resnet18', 10), 4, 64, device=device) / 2**20:.0f} MiB")
    if compile:
        def compiled():
            net = torch.compile(build_model("resnet18", 10).to(dev))
            x = torch.randn(2, 3, 32, 32, device=dev)
            net(x).float().mean().backward()
            return "ok"
        step("one compiled step", compiled)
    return done


# Running units.


def _progress(message: str) -> None:
    print(f"[campaign {time.strftime('%H:%M:%S')}] {message}", flush=True)


def run_units(names: list[str], profile: str, budget_s: float, out: Path, root: Path | None = None,
              dry_run: bool = False, check: bool = True) -> list[dict]:
    """Run units in order within `budget_s` seconds (see the module docstring); return one record per unit."""
    root = Path(root or repo_root())
    units = load_units(profile, root)
    if names == ["all"]:
        names = list(units)
    unknown = [n for n in names if n not in units]
    if unknown:
        raise ParameterError(f"unknown unit(s) {', '.join(unknown)}; units: {', '.join(units)}")
    if not 0 < budget_s < 1e6:  # also refuses NaN
        raise ParameterError(f"--budget must be a positive number of seconds, got {budget_s}")
    out.mkdir(parents=True, exist_ok=True)
    with _environ(**{ROOT_ENV: str(root), "DRNLIB_PROGRESS": "1", "DRNLIB_DEADLINE": str(time.time() + budget_s),
                     "MPLBACKEND": "Agg"}):
        return _run_units(names, units, profile, budget_s, out, root, dry_run, check)


@contextlib.contextmanager
def _environ(**changes):
    """Environment variables set for the duration of a campaign, and restored after it."""
    before = {name: os.environ.get(name) for name in changes}
    os.environ.update(changes)
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _run_units(names, units, profile, budget_s, out, root, dry_run, check) -> list[dict]:
    from drnlib.book import NotebookFailed, execute_script_in_process, page_params
    from drnlib.toc import toc_pages

    import torch

    started = time.monotonic()
    cuda = torch.cuda.is_available()
    if not cuda and not dry_run:  # also for a lease's later commands (--skip-self-check): never train on a CPU
        raise SelfCheckFailed("no CUDA: torch sees no GPU here (use --dry-run to rehearse on the CPU)")
    recipes.load(profile, root)  # the recipes (and any $DRNLIB_RECIPE_OVERRIDES) are checked before any unit runs
    if check:
        for line in self_check("cuda" if cuda else "cpu", compile=cuda):
            _progress(f"self-check ok: {line}")
    by_name = {page.name: page for page in toc_pages(root)}
    records = []
    for index, name in enumerate(names, 1):
        unit = units[name]
        left = budget_s - (time.monotonic() - started)
        plan = estimate_minutes(unit, profile, root, units)
        if not dry_run and plan["minutes"] * 60 > left:
            _progress(f"unit {name}: not started, its estimate ({plan['minutes']:.1f} min) exceeds the "
                      f"{left / 60:.1f} min left")
            records.append({"unit": name, "state": "not started", "estimate": plan})
            continue
        _progress(f"unit {index}/{len(names)} {name}: {len(unit.pages)} page(s), estimate {plan['minutes']:.1f} "
                  f"min ({plan['source']}), {left / 60:.1f} min left")
        unit_start = time.monotonic()
        pages_done = []
        for page in unit.pages:
            page_start = time.monotonic()
            _progress(f"  page {page} ...")
            try:
                # the params file (with the dry run's changes), checked as the book checks it, before the page runs
                params = page_params(root, profile, by_name[page], script=True,
                                     overrides=unit.dry_run.get(page) if dry_run else None)
                execute_script_in_process(root, profile, by_name[page], params, echo=not dry_run)
                state, error = "ok", None
            except ParameterError as err:
                state, error = "failed", str(err)
                _progress(f"  page {page} FAILED: {err}")
            except NotebookFailed as err:
                state, error = "failed", str(err)
                _progress(f"  page {page} FAILED: {err}")
            pages_done.append({"page": page, "state": state, "seconds": time.monotonic() - page_start,
                               "error": error})
            _progress(f"  page {page} {state} in {pages_done[-1]['seconds']:.0f} s; "
                      f"{(budget_s - (time.monotonic() - started)) / 60:.1f} min left")
        benchmark = _benchmark(unit, out, profile, dry_run) if unit.benchmark else None
        record = {"unit": name, "state": "ran", "pages": pages_done, "seconds": time.monotonic() - unit_start,
                  "estimate": plan, "benchmark": benchmark, "dry_run": dry_run}
        bundle = write_bundle(unit, profile, root, out, record)
        _progress(f"unit {name}: {sum(p['state'] == 'ok' for p in pages_done)}/{len(pages_done)} page(s) ok in "
                  f"{record['seconds'] / 60:.1f} min (estimate {plan['minutes']:.1f}); bundle {bundle}")
        records.append(record)
    return records


def _benchmark(unit: Unit, out: Path, profile: str, dry_run: bool) -> dict:
    """The training-throughput benchmark (benchmarks/train_throughput.py) with the unit's options."""
    import subprocess

    options = dict(unit.benchmark)
    options.pop("minutes", None)
    if dry_run:
        options.update(options.pop("dry_run", {}))
    else:
        options.pop("dry_run", None)
    output = out / "throughput.json"
    args = [sys.executable, str(repo_root() / "benchmarks" / "train_throughput.py"), "--output", str(output)]
    for key, value in options.items():
        flag = "--" + key.replace("_", "-")
        args += [flag, *map(str, value)] if isinstance(value, list) else [flag, str(value)]
    _progress(f"  benchmark: {' '.join(args[2:])}")
    done = subprocess.run(args, capture_output=True, text=True)
    (out / "throughput.log").write_text(done.stdout + done.stderr)
    return {"returncode": done.returncode, "output": output.name if output.is_file() else None}


def recipes_fingerprint(profile: str, root: Path | None = None) -> dict:
    """The profile's recipes as the campaign ran them (resolved; what `import` compares)."""
    return json.loads(json.dumps(recipes.load(profile, root), default=list))


def write_bundle(unit: Unit, profile: str, root: Path, out: Path, record: dict) -> Path:
    """One .tar.gz per unit, small enough to come back from the device: the pages' results and figures, the
    small files of every run the unit's pages used, the pages' logs, and the campaign's record."""
    from drnlib.results import results_path

    members: dict[str, Path] = {}
    for page in unit.pages:
        result = results_path(page, profile, root)
        if result.is_file():
            members[f"results/{result.name}"] = result
            for figure in result.parent.glob(f"{page}-*.png"):
                members[f"results/{figure.name}"] = figure
        log = root / "_build" / "scripts" / profile / f"{page}.log"
        if log.is_file():
            members[f"logs/{page}.log"] = log
    for name in ("throughput.json", "throughput.log"):
        if unit.benchmark and (out / name).is_file():
            members[f"results/{name}"] = out / name
    trained = []
    for spec in unit_runs(unit, profile, root):
        folder = Path(runs.config(profile, spec, root).out_dir)
        for name in ("config.json", "metrics.csv", "result.json"):
            if (folder / name).is_file():
                members[f"runs/{folder.name}/{name}"] = folder / name
        if (folder / "result.json").is_file():
            result = read_json_object(folder / "result.json", "run result")
            trained.append({"run": spec.label, "folder": folder.name, "train_seconds": result.get("train_seconds"),
                            "epochs": result.get("epochs")})
    campaign = {**record, "profile": profile, "runs": trained, "provenance": machine_provenance(root),
                "recipes": recipes_fingerprint(profile, root)}
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for arcname, path in sorted(members.items()):
            tar.add(path, arcname=arcname)
        data = json.dumps(campaign, indent=1, default=str).encode()
        info = tarfile.TarInfo("campaign.json")
        info.size, info.mtime = len(data), int(time.time())
        tar.addfile(info, io.BytesIO(data))
    path = out / f"{unit.name}.tar.gz"
    atomic_write_bytes(path, buffer.getvalue())
    return path


# Importing bundles.


def import_bundles(paths: list[Path], profile: str, root: Path | None = None) -> list[dict]:
    """Merge bundles into results/<profile>/ (pages' results and figures; runs' files under runs/; logs under
    logs/<unit>/) and record each unit's measured minutes; ParameterError, before anything is written, for a bundle
    of another profile, a broken one, or one whose recipes differ from the checkout's (naming the difference)."""
    root = Path(root or repo_root())
    check_profile(profile)
    local = recipes_fingerprint(profile, root)
    units = load_units(profile, root) if units_path(profile, root).is_file() else {}
    measured_minutes(profile, root)  # a broken measurements file stops here, before anything is written
    target = root / "results" / profile
    opened = []
    for path in paths:
        try:  # a bundle cut short (an interrupted copy) ends in EOFError or zlib.error while it is read
            tar = tarfile.open(path, "r:gz")
            campaign = json.loads(tar.extractfile("campaign.json").read())
            members = tar.getmembers()
        except (OSError, EOFError, zlib.error, tarfile.TarError, KeyError, ValueError, AttributeError) as err:
            raise ParameterError(f"{path}: not a campaign bundle ({type(err).__name__}: {err})") from None
        _check_record(path, campaign, profile, units)
        difference = _recipe_difference(campaign.get("recipes", {}), local)
        if difference:
            commit = ((campaign.get("provenance") or {}).get("git") or {}).get("commit") or "not recorded"
            raise ParameterError(f"{path}: trained with other recipes than params/{profile}/recipes.yaml: "
                                 f"{difference}; check out the commit it ran at ({commit}) or re-run the unit")
        files = []
        for member in members:
            if member.name == "campaign.json":
                continue
            kind, _, rest = member.name.partition("/")
            if not member.isfile() or not _BUNDLE_MEMBER.get(kind, re.compile("(?!)")).fullmatch(rest):
                raise ParameterError(f"{path}: unexpected member {member.name!r} (a bundle holds results/<page>.json "
                                     f"and .png, runs/<run>/<file> and logs/<page>.log only)")
            destination = {"results": target / rest, "runs": target / "runs" / rest,
                           "logs": target / "logs" / campaign["unit"] / rest}[kind]
            files.append((member, destination))
        opened.append((path, tar, campaign, files))
    imported = []
    for path, tar, campaign, files in opened:
        for member, destination in files:
            atomic_write_bytes(destination, tar.extractfile(member).read())
        atomic_write_text(target / "campaigns" / f"{campaign['unit']}.json", json.dumps(campaign, indent=1) + "\n")
        _record_minutes(profile, root, campaign)
        imported.append({"bundle": str(path), "unit": campaign["unit"],
                         "pages": [p["page"] for p in campaign.get("pages", []) if p["state"] == "ok"]})
        tar.close()
    return imported


# What `write_bundle` puts in a bundle, by top folder: one plain file name each (a run's files one folder down).
_PLAIN = r"[A-Za-z0-9_][A-Za-z0-9_.-]*"
_BUNDLE_MEMBER = {"results": re.compile(rf"{_PLAIN}\.(json|png|log)"), "runs": re.compile(rf"{_PLAIN}/{_PLAIN}"),
                  "logs": re.compile(rf"{_PLAIN}\.log")}


def _check_record(path: Path, campaign, profile: str, units: dict) -> None:
    """ParameterError unless a bundle's campaign.json is a record `run` writes: a unit of this checkout's
    units.yaml (its name becomes a file name), the profile, the state, and the timing `import` keeps."""
    def bad(why: str):
        raise ParameterError(f"{path}: not a campaign bundle of this checkout ({why})")

    if not isinstance(campaign, dict):
        bad("campaign.json is not an object")
    if campaign.get("profile") != profile:
        raise ParameterError(f"{path}: a bundle of profile {campaign.get('profile')!r}, not {profile!r}")
    if not isinstance(campaign.get("unit"), str) or campaign["unit"] not in units:
        bad(f"unit {campaign.get('unit')!r} is not one of params/{profile}/units.yaml: {', '.join(units)}")
    pages = campaign.get("pages", [])
    if not isinstance(pages, list) or not all(isinstance(p, dict) and isinstance(p.get("page"), str)
                                              and isinstance(p.get("state"), str) for p in pages):
        bad("its pages are not a list of {page, state} records")
    provenance, recipes_ = campaign.get("provenance", {}), campaign.get("recipes", {})
    if not isinstance(provenance, dict) or not isinstance(provenance.get("git") or {}, dict) \
            or not isinstance(recipes_, dict) or not all(isinstance(r, dict) for r in recipes_.values()):
        bad("its provenance or recipes are not objects")
    if campaign.get("state") == "ran":
        seconds, estimate = campaign.get("seconds"), campaign.get("estimate")
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) \
                or not 0 <= seconds < MAX_UNIT_MINUTES * 60 \
                or not isinstance(estimate, dict) or not isinstance(estimate.get("estimated"), (int, float)):
            bad("a unit that ran needs its seconds and its estimate")


def _recipe_difference(theirs: dict, ours: dict) -> str:
    parts = []
    for name in sorted(set(theirs) | set(ours)):
        if name not in ours or name not in theirs:
            parts.append(f"recipe {name} only in the {'bundle' if name in theirs else 'checkout'}")
            continue
        for key in sorted(set(theirs[name]) | set(ours[name])):
            if key != "about" and theirs[name].get(key) != ours[name].get(key):
                parts.append(f"{name}.{key}: bundle {theirs[name].get(key)!r}, checkout {ours[name].get(key)!r}")
    return "; ".join(parts[:6]) + (f" (and {len(parts) - 6} more)" if len(parts) > 6 else "")


def _record_minutes(profile: str, root: Path, campaign: dict) -> None:
    if campaign.get("dry_run") or campaign.get("state") != "ran":
        return
    measured = measured_minutes(profile, root)
    gpus = (campaign.get("provenance", {}).get("hardware") or {}).get("gpus") or ["CPU"]
    measured[campaign["unit"]] = {"minutes": round(campaign["seconds"] / 60, 2),
                                  "estimated": round(campaign["estimate"]["estimated"], 2), "gpu": gpus[0],
                                  "date": campaign.get("provenance", {}).get("date")}
    header = ("# Measured wall minutes of each work unit on the GPU (written by `python -m drnlib.campaign import`);\n"
              "# `campaign status` plans leases with these instead of the FLOP estimates.\n")
    atomic_write_text(measured_path(profile, root), header + yaml.safe_dump(measured, sort_keys=False))


# Command line.


def status_frame(profile: str, root: Path | None = None):
    import pandas as pd

    units = load_units(profile, root)
    rows = []
    for unit in units.values():
        plan = estimate_minutes(unit, profile, root, units)
        rows.append({"unit": unit.name, "state": unit_state(unit, profile, root), "pages": ",".join(unit.pages),
                     "data": ",".join(unit.data) or "-", "needs": ",".join(unit.needs) or "-",
                     "TFLOPs": plan["tflops"], "minutes": plan["minutes"], "from": plan["source"]})
    return pd.DataFrame(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m drnlib.campaign", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    status = commands.add_parser("status", help="each unit: done or pending, its estimated minutes, a lease plan")
    status.add_argument("--profile", choices=PROFILES, default="mini")
    run = commands.add_parser("run", help="the CUDA self-check, then the units in order, one bundle per unit")
    run.add_argument("--profile", choices=PROFILES, default="mini")
    run.add_argument("--units", nargs="+", required=True, metavar="UNIT", help="unit names, in order, or 'all'")
    run.add_argument("--budget", type=float, required=True, metavar="SECONDS",
                     help="device seconds this command may use: a unit that would not fit is not started")
    run.add_argument("--out", type=Path, required=True, help="folder for the bundles (the device's $OUT)")
    run.add_argument("--skip-self-check", action="store_true",
                     help="a lease's later commands: the machine passed the self-check in its first one")
    run.add_argument("--dry-run", action="store_true",
                     help="rehearse on the CPU: recipes shrunk to a few images and one epoch, in a copy of the "
                          "book (nothing of results/ or runs/ is touched), then import the bundles into the copy")
    imp = commands.add_parser("import", help="merge bundles into results/<profile>/")
    imp.add_argument("bundles", nargs="+", type=Path)
    imp.add_argument("--profile", choices=PROFILES, default="mini")
    args = parser.parse_args(argv)
    try:
        if args.command == "status":
            return _status(args.profile)
        if args.command == "import":
            for done in import_bundles(args.bundles, args.profile):
                print(f"imported {done['unit']} from {done['bundle']}: {', '.join(done['pages']) or 'no page'}")
            return 0
        if args.dry_run:
            return _dry_run(args)
        _handle_term()
        records = run_units(args.units, args.profile, args.budget, args.out, check=not args.skip_self_check)
        if not any(r["state"] == "ran" for r in records):
            _progress("no unit ran: none fits in the budget (see `campaign status` for their estimates)")
            return 1
        return 0 if all(r["state"] != "ran" or all(p["state"] == "ok" for p in r["pages"]) for r in records) else 1
    except DrnError as err:
        print(f"error: {' '.join(str(err).split())}", file=sys.stderr)
        return 2


def _status(profile: str) -> int:
    frame = status_frame(profile)
    shown = frame.copy()
    shown["TFLOPs"] = shown["TFLOPs"].map(lambda v: f"{v:,.0f}")
    shown["minutes"] = shown["minutes"].map(lambda v: f"{v:.1f}")
    print(shown.to_string(index=False))
    print(f"\n{len(frame)} units, {frame['minutes'].sum():.1f} minutes in all "
          f"({(frame['state'] == 'pending').sum()} pending, {frame.loc[frame['state'] == 'pending', 'minutes'].sum():.1f} "
          f"min); over {UNIT_LIMIT_MINUTES:g} min: {', '.join(frame.loc[frame['minutes'] > UNIT_LIMIT_MINUTES, 'unit']) or 'none'}")
    units = load_units(profile)
    for number, lease in enumerate(lease_plan(profile), 1):
        print(f"\nlease {number}: {' -> '.join(lease)}")
        total = sum(frame.set_index("unit").loc[n, "minutes"] for n in lease)
        print(f"  ({total:.1f} min of units + {LEASE_START_MINUTES:g} to start the machine)")
        for command in device_commands(lease, profile, units, minutes=frame.set_index("unit")["minutes"].to_dict()):
            if command["prepare"]:
                print(f"  here:   {command['prepare']}")
            print(f"  device: {command['command']}" + (f"   (carry: {command['carry'][0]})" if command["carry"] else ""))
    return 0


def _dry_run(args) -> int:
    """The rehearsal: a copy of the book, shrunk recipes, every unit's pages, bundles, and their import."""
    units = load_units(args.profile)
    shrink_path = units_path(args.profile).with_name("dry_run.yaml")
    shrink = read_yaml(shrink_path, "dry run's recipe changes") if shrink_path.is_file() else {"epochs": 1}
    with tempfile.TemporaryDirectory(prefix="drnlib-dry-run-") as folder, \
            _environ(**{recipes.OVERRIDES_ENV: json.dumps(shrink)}):
        root = _book_copy(Path(folder) / "book")
        records = run_units(args.units if args.units != ["all"] else list(units), args.profile, args.budget,
                            args.out, root=root, dry_run=True)
        ran = [r for r in records if r["state"] == "ran"]
        bundles = [args.out / f"{r['unit']}.tar.gz" for r in ran]
        imported = import_bundles(bundles, args.profile, root)
        failed = [f"{r['unit']}/{p['page']}" for r in ran for p in r["pages"] if p["state"] != "ok"]
        _progress(f"dry run: {len(ran)} unit(s), {len(imported)} bundle(s) imported into the copy"
                  + (f"; FAILED: {', '.join(failed)}" if failed else "; every page ok"))
        return 1 if failed else 0


def _book_copy(dest: Path) -> Path:
    """The files a campaign reads (config, toc, pages, params, benchmarks), without results or runs."""
    source = repo_root()
    dest.mkdir(parents=True)
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy2(source / name, dest / name)
    for folder in ("book", "params", "benchmarks"):
        shutil.copytree(source / folder, dest / folder, ignore=shutil.ignore_patterns("__pycache__", ".ipynb_*"))
    return dest


def _handle_term() -> None:
    """A command killed at its limit (SIGTERM) stops with the bundles already written kept (they are atomic)."""
    def stop(signum, frame):
        _progress("terminated: the bundles written so far are complete; the unit in progress is lost")
        raise SystemExit(124)

    with contextlib.suppress(ValueError):  # not in the main thread
        signal.signal(signal.SIGTERM, stop)


if __name__ == "__main__":
    sys.exit(main())
