"""Stored results: what a page measured, with its provenance, one JSON file per page and profile.

A page writes what it measured once; the book shows and glues those numbers (never typed by hand):

    record = save_results("fig4", profile, {"share": 0.93}, dataset="synthetic", tables={"nets": frame},
                          params=p, runs=runs)
    load_results("fig4", "mini")            # a Record: values, tables, params, provenance
    load_all_profiles("fig4")               # {profile: Record} for every profile that has stored results
    save_figure(fig, "fig4", profile, "maps")    # results/<profile>/fig4-maps.png

Files live in results/<profile>/<name>.json (results/smoke is rebuilt on every book build and git-ignored;
results/mini and results/paper are committed). Showing them is drnlib.display's job.
"""

from __future__ import annotations

import json
import math
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from drnlib.errors import DataError, ParameterError
from drnlib.files import atomic_write_text
from drnlib.provenance import PROFILES, check_profile, provenance, repo_root

SCHEMA = 1


_PLAIN_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]*")


def results_path(name: str, profile: str, root: Path | None = None) -> Path:
    """results/<profile>/<name>.json under the book's root."""
    check_profile(profile)
    if not _PLAIN_NAME.fullmatch(name or ""):
        raise ParameterError(f"a results name must be a plain file stem like 'fig4' (ASCII letters, digits, '-', '_'), "
                             f"got {name!r}")
    return Path(root or repo_root()) / "results" / profile / f"{name}.json"


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
        raise KeyError(f"{self.name} ({self.profile}) has no result {key!r}; it has "
                       f"{', '.join([*self.values, *self.tables])}")


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


def save_results(name: str, profile: str, values: dict, *, dataset: str, tables: dict | None = None,
                 params=None, root: Path | None = None, runs=None) -> Record:
    """Write results/<profile>/<name>.json atomically, with provenance, and return the record.

    `values` holds numbers, strings and small lists (nested dicts allowed); `tables` maps names to DataFrames;
    `params`: the page's parameters (a dict, or drnlib.params.PageParams, whose settings that differ from the
    profile's params file are recorded as `provenance["overrides"]`, so every display of the numbers says so);
    `runs`: the trained runs behind the values (Run objects, or dicts / lists of them), whose folders, recipes and
    training provenance are stored with the record.
    """
    path = results_path(name, profile, root)
    overrides = dict(getattr(params, "overrides", None) or {})
    params = params.as_dict() if hasattr(params, "as_dict") else dict(params or {})
    where = provenance(profile, dataset, root=path.parent.parent.parent, runs=runs)
    if overrides:
        where["overrides"] = overrides
    record = Record(name=name, profile=profile, values=_plain(dict(values), name),
                    tables={str(k): v for k, v in (tables or {}).items()},
                    params=_plain(params, f"{name}.params"), provenance=_plain(where, f"{name}.runs"), path=path)
    document = {
        "schema": SCHEMA, "name": name, "profile": profile, "values": record.values,
        "tables": {k: _table_to_json(v, f"{name}.{k}") for k, v in record.tables.items()},
        "params": record.params, "provenance": record.provenance,
    }
    atomic_write_text(path, json.dumps(document, indent=1, allow_nan=False) + "\n")
    return record


def load_results(name: str, profile: str, root: Path | None = None) -> Record:
    """Read results/<profile>/<name>.json (DataError when missing or malformed)."""
    path = results_path(name, profile, root)
    if not path.is_file():
        raise DataError(f"no {profile} results for {name}: {path} does not exist (run the page at that profile)")
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        for key in ("values", "provenance", "params", "tables"):
            if not isinstance(document.get(key, {}), dict):
                raise TypeError(f"its {key} is a {type(document[key]).__name__}, not an object")
        return Record(name=document["name"], profile=document["profile"], values=document["values"],
                      tables={k: _table_from_json(v) for k, v in document.get("tables", {}).items()},
                      params=document.get("params", {}), provenance=document["provenance"], path=path)
    except (ValueError, KeyError, TypeError, AttributeError) as err:
        raise DataError(f"malformed results file {path}: {type(err).__name__}: {err}") from None


def load_all_profiles(name: str, root: Path | None = None) -> dict[str, Record]:
    """Every profile's stored results for a page, in the order smoke, mini, paper (missing profiles left out)."""
    return {p: load_results(name, p, root) for p in PROFILES if results_path(name, p, root).is_file()}


def flatten(values: dict, prefix: str = "") -> dict:
    """Scalar values of a (nested) dict under names joined by '_': {"index": {"drn_c_26": 0.1}} -> index_drn_c_26.
    These are the names `drnlib.display.glue_results` glues and `compare_profiles` shows; lists are left out."""
    flat = {}
    for key, value in values.items():
        name = f"{prefix}_{key}" if prefix else str(key)
        if isinstance(value, dict):
            flat.update(flatten(value, name))
        elif isinstance(value, (int, float, str, bool)) or value is None:
            flat[name] = value
    return flat


# Figures: pages store their key figures next to their results, so a page built at one profile can show the
# figures that a larger profile produced elsewhere (a GPU run brings back its JSON and PNG files).


def figure_path(name: str, profile: str, tag: str, root: Path | None = None) -> Path:
    """results/<profile>/<name>-<tag>.png."""
    if not _PLAIN_NAME.fullmatch(tag or ""):
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
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


__all__ = ["SCHEMA", "Record", "results_path", "save_results", "load_results", "load_all_profiles", "flatten",
           "figure_path", "save_figure"]
