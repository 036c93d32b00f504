"""Measured results with provenance, the papers' published numbers, and "paper vs ours" tables.

A notebook writes what it measured once, and the page shows and glues those numbers (never typed by hand):

    record = save_results("fig4", profile, {"share": 0.93}, dataset="synthetic", tables={"nets": frame}, params=...)
    glue_results(record)               # prose: {glue:text}`share:.3f`
    show_provenance(record)            # profile, data set, hardware, torch, git commit, date

Files live in results/<profile>/<name>.json (results/smoke is rebuilt on every book build and git-ignored;
results/mini and results/paper are committed). `load_all_profiles(name)` finds every profile's results for a page.
The papers' numbers live in drnlib/published.yaml: `published("drn", "table1_imagenet_error")` is a DataFrame.
"""

from __future__ import annotations

import datetime
import difflib
import functools
import json
import math
import os
import platform
import subprocess
import tempfile
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import pandas as pd
import yaml

from drnlib.errors import DataError, ParameterError

PROFILES = ("smoke", "mini", "paper")
ROOT_ENV = "DRNBOOK_ROOT"  # set by `python -m drnlib.book` so notebooks write into the book being built
SCHEMA = 1


# Where results live.


def repo_root() -> Path:
    """The book's root folder: $DRNBOOK_ROOT, else the nearest folder above the working directory with a
    `_toc.yml` (notebooks run from book/ in JupyterLab and from the root with papermill), else the folder that
    holds the drnlib package (an editable install), else the working directory."""
    if os.environ.get(ROOT_ENV):
        return Path(os.environ[ROOT_ENV]).resolve()
    cwd = Path.cwd().resolve()
    for folder in (cwd, *cwd.parents):
        if (folder / "_toc.yml").is_file():
            return folder
    package_parent = Path(__file__).resolve().parent.parent
    if (package_parent / "_toc.yml").is_file():
        return package_parent
    return cwd


def check_profile(profile: str) -> str:
    if profile not in PROFILES:
        raise ParameterError(f"unknown profile {profile!r}; choose one of {', '.join(PROFILES)}")
    return profile


def results_path(name: str, profile: str, root: Path | None = None) -> Path:
    check_profile(profile)
    if not name or "/" in name or "\\" in name or name.startswith("."):
        raise ParameterError(f"a results name must be a plain file stem like 'fig4', got {name!r}")
    return Path(root or repo_root()) / "results" / profile / f"{name}.json"


# Provenance.


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def _gpus() -> list[str]:
    import torch

    if not torch.cuda.is_available():
        return []
    return [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]


def git_state(root: Path | None = None) -> dict:
    """The commit checked out at `root` and whether the working tree differs from it (None where unknown)."""
    root = Path(root or repo_root())

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, timeout=20)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return done.stdout if done.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    status = git("status", "--porcelain")
    return {"commit": commit.strip() if commit else None, "dirty": None if status is None else bool(status.strip())}


@functools.lru_cache(maxsize=1)
def _static_provenance() -> dict:
    import torch

    return {
        "hardware": {"cpu": _cpu_model(), "cpu_count": os.cpu_count(), "gpus": _gpus()},
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "python": platform.python_version(),
        "os": platform.platform(terse=True),
    }


def machine_provenance(root: Path | None = None) -> dict:
    """Where and when something is computed: hardware (CPU model, GPU names), torch, git commit, date."""
    from drnlib import __version__

    return {
        **_static_provenance(),
        "drnlib": __version__,
        "git": git_state(root),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }


def provenance(profile: str, dataset: str, root: Path | None = None, runs=None) -> dict:
    """What a result depends on: profile, data set, the machine_provenance of this computation and, with `runs`
    (drnlib.experiments.Run objects, or dicts / lists of them), where and when each trained network was trained."""
    check_profile(profile)
    out = {"profile": profile, "dataset": dataset, **machine_provenance(root)}
    if runs is not None:
        out["runs"] = [run_provenance(run) for run in _flat_runs(runs)]
    return out


def _flat_runs(runs) -> list:
    if isinstance(runs, dict):
        runs = list(runs.values())
    if not isinstance(runs, (list, tuple)):
        return [runs]
    return [run for item in runs for run in _flat_runs(item)]


def run_provenance(run) -> dict:
    """A trained run's folder, and where and when it was trained (as its result.json records it)."""
    trained = run.result.get("provenance") or {}  # runs trained before drnlib recorded it: device only
    return {"folder": run.dir.name, "device": run.result.get("device"), "torch": run.result.get("torch"),
            "gpus": trained.get("hardware", {}).get("gpus"), "cpu": trained.get("hardware", {}).get("cpu"),
            "commit": (trained.get("git") or {}).get("commit"), "date": trained.get("date")}


def _runs_note(runs: list[dict]) -> str:
    """'trained in 3 runs: cpu, commit 4aafa4d2c1, 2026-11-21' (distinct machines, commits and dates)."""
    where = sorted({(r.get("gpus") or [r.get("device") or "?"])[0] for r in runs})
    commits = sorted({(r.get("commit") or "")[:10] or "unrecorded" for r in runs})
    dates = sorted({(r.get("date") or "")[:10] or "date unrecorded" for r in runs})
    return f"trained in {len(runs)} run(s) (`runs/`): {', '.join(where)}, commit {', '.join(commits)}, " \
           f"{', '.join(dates)}"


def provenance_note(record: "Record") -> str:
    """One line for captions: 'smoke profile · data: synthetic · AMD EPYC (CPU) · torch 2.14.1 · commit ...'."""
    p = record.provenance
    hardware = p.get("hardware", {})
    gpus = hardware.get("gpus") or []
    device = f"{len(gpus)}x {gpus[0]}" if len(gpus) > 1 else (gpus[0] if gpus else f"{hardware.get('cpu', '?')} (CPU)")
    git = p.get("git", {})
    commit = (git.get("commit") or "no commit")[:10] + (" + local changes" if git.get("dirty") else "")
    note = (
        f"{p.get('profile', record.profile)} profile · data: {p.get('dataset', '?')} · {device} · "
        f"torch {p.get('torch', '?')} · {commit} · {p.get('date', '?')}"
    )
    return note + (f" · {_runs_note(p['runs'])}" if p.get("runs") else "")


# Reading and writing results.


@dataclass
class Record:
    """One page's results at one profile."""

    name: str
    profile: str
    values: dict
    tables: dict = field(default_factory=dict)  # name -> DataFrame
    params: dict = field(default_factory=dict)
    provenance: dict = field(default_factory=dict)
    path: Path | None = None

    def __getitem__(self, key: str):
        if key in self.values:
            return self.values[key]
        if key in self.tables:
            return self.tables[key]
        raise KeyError(f"{self.name} ({self.profile}) has no result {key!r}; it has {', '.join([*self.values, *self.tables])}")


def _plain(value, where: str):
    """JSON-ready copy of a value: numpy/torch scalars and arrays become numbers and lists, NaN/inf become None."""
    if isinstance(value, dict):
        return {str(k): _plain(v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v, where) for v in value]
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):  # numpy and torch scalars/arrays
        return _plain(value.tolist(), where)
    if isinstance(value, bool) or value is None or isinstance(value, (int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Path):
        return str(value)
    raise ParameterError(f"result {where} is a {type(value).__name__}, which cannot be stored as JSON")


def _table_to_json(frame: pd.DataFrame, where: str) -> dict:
    if not isinstance(frame, pd.DataFrame):
        raise ParameterError(f"table {where} must be a pandas DataFrame, got {type(frame).__name__}")
    return {
        "index_name": frame.index.name,
        "index": _plain(list(frame.index), where),
        "columns": [str(c) for c in frame.columns],
        "data": _plain(frame.to_numpy(dtype=object).tolist(), where),
    }


def _table_from_json(data: dict) -> pd.DataFrame:
    frame = pd.DataFrame(data["data"], index=data["index"], columns=data["columns"]).infer_objects()
    frame.index.name = data.get("index_name")
    return frame


def _write_atomic(path: Path, text: str) -> None:
    """Write `text` to `path` so that readers see the old file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_results(
    name: str,
    profile: str,
    values: dict,
    *,
    dataset: str,
    tables: dict | None = None,
    params: dict | None = None,
    root: Path | None = None,
    runs=None,
) -> Record:
    """Write results/<profile>/<name>.json atomically, with provenance, and return the record.

    `values` holds numbers, strings and small lists (nested dicts allowed); `tables` maps names to DataFrames;
    `runs`: the trained runs behind the values (Run objects, or dicts / lists of them), whose folders and training
    provenance are stored with the record.
    """
    path = results_path(name, profile, root)
    record = Record(
        name=name,
        profile=profile,
        values=_plain(dict(values), name),
        tables={str(k): v for k, v in (tables or {}).items()},
        params=_plain(dict(params or {}), f"{name}.params"),
        provenance=_plain(provenance(profile, dataset, root=path.parent.parent.parent, runs=runs), f"{name}.runs"),
        path=path,
    )
    document = {
        "schema": SCHEMA,
        "name": name,
        "profile": profile,
        "values": record.values,
        "tables": {k: _table_to_json(v, f"{name}.{k}") for k, v in record.tables.items()},
        "params": record.params,
        "provenance": record.provenance,
    }
    _write_atomic(path, json.dumps(document, indent=1, allow_nan=False) + "\n")
    return record


def load_results(name: str, profile: str, root: Path | None = None) -> Record:
    """Read results/<profile>/<name>.json (DataError when missing or malformed)."""
    path = results_path(name, profile, root)
    if not path.is_file():
        raise DataError(f"no {profile} results for {name}: {path} does not exist (run the page at that profile)")
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        return Record(
            name=document["name"],
            profile=document["profile"],
            values=document["values"],
            tables={k: _table_from_json(v) for k, v in document.get("tables", {}).items()},
            params=document.get("params", {}),
            provenance=document["provenance"],
            path=path,
        )
    except (ValueError, KeyError, TypeError) as err:
        raise DataError(f"malformed results file {path}: {type(err).__name__}: {err}") from None


def load_all_profiles(name: str, root: Path | None = None) -> dict[str, Record]:
    """Every profile's stored results for a page, in the order smoke, mini, paper (missing profiles left out)."""
    return {p: load_results(name, p, root) for p in PROFILES if results_path(name, p, root).is_file()}


def compare_profiles(name: str, keys: list[str] | None = None, root: Path | None = None) -> pd.DataFrame:
    """A table with one column per profile that has results: the chosen values, then each profile's provenance."""
    records = load_all_profiles(name, root)
    if not records:
        raise DataError(f"no results for {name} at any profile under {Path(root or repo_root()) / 'results'}")
    flat = {p: flatten(r.values) for p, r in records.items()}
    keys = keys or list(dict.fromkeys(k for values in flat.values() for k in values))
    rows = {k: {p: flat[p].get(k) for p in records} for k in keys}
    for label, get in _PROVENANCE_ROWS.items():
        rows[label] = {p: get(r.provenance) for p, r in records.items()}
    return pd.DataFrame.from_dict(rows, orient="index", columns=list(records))


_PROVENANCE_ROWS = {
    "data set": lambda p: p.get("dataset"),
    "hardware": lambda p: ", ".join(p.get("hardware", {}).get("gpus") or []) or f"{p.get('hardware', {}).get('cpu')} (CPU)",
    "torch": lambda p: p.get("torch"),
    "commit": lambda p: ((p.get("git", {}).get("commit") or "none")[:10] + (" (dirty)" if p.get("git", {}).get("dirty") else "")),
    "date": lambda p: p.get("date"),
}


def flatten(values: dict, prefix: str = "") -> dict:
    """Scalar values of a (nested) dict under names joined by '_': {"index": {"drn_c_26": 0.1}} -> index_drn_c_26.
    These are the names `glue_results` glues and `compare_profiles` shows; lists are left out."""
    flat = {}
    for key, value in values.items():
        name = f"{prefix}_{key}" if prefix else str(key)
        if isinstance(value, dict):
            flat.update(flatten(value, name))
        elif _is_scalar(value):
            flat[name] = value
    return flat


def _is_scalar(value) -> bool:
    return isinstance(value, (int, float, str, bool)) or value is None


# Showing results in a notebook.


def glue_results(record: Record, display: bool = False) -> list[str]:
    """Glue every scalar value (nested keys joined by '_') and every table, so prose cites them by name:
    {glue:text}`share:.3f` on the page itself, {glue:text}`fig4.ipynb::share:.3f` from another page."""
    try:
        from myst_nb import glue
    except ImportError:  # a page run as a plain script (e.g. on the GPU machine, which has no Jupyter)
        def glue(name, value, display=False):
            return None

    names = []
    for name, value in flatten(record.values).items():
        if value is not None:
            glue(name, value, display=display)
            names.append(name)
    for key, frame in record.tables.items():
        glue(key, frame, display=display)
        names.append(key)
    return names


def show_provenance(record: Record):
    """Display where the numbers on a page come from (a small Markdown note)."""
    note = f"*Measured:* {provenance_note(record)}. *Stored in* `{_relative(record.path)}`."
    try:
        from IPython.display import Markdown, display
    except ImportError:  # plain script
        print(note)
        return
    display(Markdown(note))


# Figures: pages store their key figures next to their results, so a page built at one profile can show the
# figures that a larger profile produced elsewhere (a GPU run brings back its JSON and PNG files).


def figure_path(name: str, profile: str, tag: str, root: Path | None = None) -> Path:
    if not tag.replace("_", "").replace("-", "").isalnum():
        raise ParameterError(f"a figure tag must be letters, digits, '-' and '_', got {tag!r}")
    return results_path(name, profile, root).with_name(f"{name}-{tag}.png")


def save_figure(fig, name: str, profile: str, tag: str, root: Path | None = None, dpi: int = 100) -> Path:
    """Write a matplotlib figure to results/<profile>/<name>-<tag>.png atomically."""
    path = figure_path(name, profile, tag, root)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".png")
    os.close(handle)
    try:
        fig.savefig(tmp, dpi=dpi, bbox_inches="tight")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def show_stored_figures(name: str, tag: str, current: str, root: Path | None = None) -> list[str]:
    """Display the figure `tag` of every profile other than `current` that has one stored, each captioned with
    that profile's provenance; returns the profiles shown."""
    shown = []
    for profile in PROFILES:
        path = figure_path(name, profile, tag, root)
        if profile == current or not path.is_file():
            continue
        caption = f"**{profile} profile.** "
        if results_path(name, profile, root).is_file():
            caption += provenance_note(load_results(name, profile, root))
        try:
            from IPython.display import Image, Markdown, display
        except ImportError:
            print(caption, path)
        else:
            display(Markdown(caption), Image(filename=str(path)))
        shown.append(profile)
    return shown


def _relative(path: Path | None) -> str:
    if path is None:
        return "(not stored)"
    try:
        return str(path.relative_to(repo_root()))
    except ValueError:
        return str(path)


def format_table(frame: pd.DataFrame, number_format: str = "{:.4g}", caption: str | None = None):
    """A Styler that prints numbers with `number_format` ("–" for missing) and looks like a plain DataFrame in the
    book (class "dataframe", padded cells); for tables that mix magnitudes, e.g. 1.0 next to 3.5e-08."""
    try:
        style = frame.style
    except (ImportError, AttributeError):  # no jinja2 (pandas 3 raises AttributeError): the GPU machine runs
        return frame                       # pages as plain scripts, and a plain frame serves there
    styler = style.format(lambda v: number_format.format(v) if _is_number(v) else ("–" if v is None or v != v else v))
    styler = styler.set_table_attributes('class="dataframe"').set_table_styles(
        [{"selector": "th, td", "props": "padding: 0.25em 0.6em; text-align: right;"},
         {"selector": "caption", "props": "caption-side: bottom; text-align: left; font-size: 0.85em;"}])
    return styler.set_caption(caption) if caption else styler


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value == value


# The papers' published numbers.


@functools.lru_cache(maxsize=1)
def _published_yaml() -> dict:
    return yaml.safe_load(resources.files("drnlib").joinpath("published.yaml").read_text(encoding="utf-8"))


def _closest(word: str, choices) -> str:
    close = difflib.get_close_matches(word, list(choices), n=3)
    return f"; did you mean {', '.join(close)}?" if close else f"; choose from {', '.join(choices)}"


def published(paper: str, table: str) -> pd.DataFrame:
    """The papers' numbers as a DataFrame, e.g. published("drn", "table1_imagenet_error") (rows = models).

    `table` may be a dotted path into drnlib/published.yaml ("official_code_readme.cityscapes_val_miou").
    The block's source, the cells the paper leaves unknown and its stated relations are in `frame.attrs`.
    """
    data = _published_yaml()
    if paper not in data:
        raise ParameterError(f"unknown paper {paper!r}" + _closest(paper, data))
    block = data[paper]
    for part in table.split("."):
        if not isinstance(block, dict) or part not in block:
            raise ParameterError(f"{paper} has no published table {table!r}" + _closest(part, block if isinstance(block, dict) else []))
        block = block[part]
    if not isinstance(block, dict):
        raise ParameterError(f"{paper}.{table} is a single value ({block!r}), not a table")
    frame = _published_frame(block, table)
    frame.attrs.update({k: block[k] for k in ("source", "unconfirmed", "stated_relations", "text_only", "known") if k in block})
    frame.attrs.update(paper=paper, table=table)
    return frame


def _published_frame(block: dict, table: str) -> pd.DataFrame:
    rows = block.get("rows", block)
    rows = {k: v for k, v in rows.items() if k not in ("source", "unconfirmed", "stated_relations", "text_only", "known", "columns", "classes")}
    if not rows:
        raise ParameterError(f"published table {table!r} has no numbers (only notes: {', '.join(block)})")
    first = next(iter(rows.values()))
    if isinstance(first, list):  # rows of numbers under named columns
        columns = block.get("columns") or [f"col{i}" for i in range(len(first))]
        frame = pd.DataFrame.from_dict(rows, orient="index", columns=columns)
    elif isinstance(first, dict) and "iou" in first:  # per-class IoU rows
        classes = block["classes"]
        frame = pd.DataFrame({k: dict(zip(classes, v["iou"]), miou=v.get("miou")) for k, v in rows.items()}).T
        frame = frame[[*classes, "miou"]].astype(float)
    elif isinstance(first, dict):
        frame = pd.DataFrame.from_dict(rows, orient="index")
    else:  # one number per row
        frame = pd.DataFrame({table.rsplit(".", 1)[-1]: pd.Series(rows)})
    frame.index.name = "model"
    return frame


def paper_vs_ours(paper: pd.DataFrame, ours: pd.DataFrame, record: Record | None = None, columns: list[str] | None = None,
                  decimals: int = 2):
    """The one "paper vs ours" table: for each metric the paper's number, ours and ours - paper, row by row.

    Rows are ours (in our order; the paper's cell is empty where it has no such row); columns are those both
    tables share unless given. Returns a pandas Styler whose caption names the paper's source and our profile and
    provenance; `.data` is the plain DataFrame (columns: (metric, "paper" | "ours" | "Δ")).
    """
    columns = columns or [c for c in paper.columns if c in ours.columns]
    missing = [c for c in columns if c not in paper.columns or c not in ours.columns]
    if not columns or missing:
        raise ParameterError(f"paper and ours share no column {missing or ''}: paper has {list(paper.columns)}, ours {list(ours.columns)}")
    paper_rows = paper.reindex(ours.index)
    parts = {}
    for column in columns:
        p = pd.to_numeric(paper_rows[column], errors="coerce")
        o = pd.to_numeric(ours[column], errors="coerce")
        parts[(column, "paper")], parts[(column, "ours")], parts[(column, "Δ")] = p, o, o - p
    frame = pd.DataFrame(parts, index=ours.index)
    frame.columns = pd.MultiIndex.from_tuples(frame.columns)
    source = paper.attrs.get("source") or f"{paper.attrs.get('paper', 'paper')} {paper.attrs.get('table', '')}".strip()
    ours_note = provenance_note(record) if record is not None else "provenance not given"
    caption = f"Paper: {source}. Ours: {ours_note}. Δ = ours − paper."
    return format_table(frame, f"{{:.{decimals}f}}", caption)


def claims_table(claims: list[dict], record: Record | None = None, profile: str | None = None):
    """The papers' claims and whether our measurements support them at this profile.

    Each claim is a dict with `claim`, `paper` (the paper's evidence), `ours` (our evidence, a string) and `holds`
    (True, False, or None when this profile cannot test it). Returns a Styler with the provenance as caption.
    """
    profile = profile or (record.profile if record is not None else None)
    if profile is None:
        raise ParameterError("claims_table needs a record or a profile")
    check_profile(profile)
    verdict = f"holds at {profile}?"
    rows = []
    for i, claim in enumerate(claims):
        unknown = {"claim", "paper", "ours", "holds"} ^ set(claim)
        if unknown:
            raise ParameterError(f"claim {i} needs exactly the keys claim, paper, ours, holds (check {sorted(unknown)})")
        holds = {True: "yes", False: "no", None: "not tested"}.get(claim["holds"])
        if holds is None:
            raise ParameterError(f"claim {i}: holds must be True, False or None, got {claim['holds']!r}")
        rows.append({"claim": claim["claim"], "paper's evidence": claim["paper"], "ours": claim["ours"], verdict: holds})
    frame = pd.DataFrame(rows, columns=["claim", "paper's evidence", "ours", verdict])
    caption = f"Ours: {provenance_note(record)}." if record is not None else f"Ours: {profile} profile."
    styled = format_table(frame, caption=caption)
    if isinstance(styled, pd.DataFrame):
        return styled
    return styled.hide(axis="index").set_table_styles([{"selector": "td", "props": "text-align: left;"}],
                                                      overwrite=False)
