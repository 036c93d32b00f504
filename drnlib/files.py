"""Files written atomically: a reader sees the old file or the new one, never half of one.

Every result, checkpoint, cache and run file of drnlib is written through these (a temporary file next to the
target, flushed to disk, then renamed over it). A run killed half-way leaves only `.NAME.*.tmp` files, which
`remove_stale_temporaries` deletes.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import tempfile
from pathlib import Path

import numpy as np
import yaml

from drnlib.errors import DataError, ParameterError

_UMASK = os.umask(0o022)
os.umask(_UMASK)


def atomic_write(path, write) -> None:
    """Call write(file) on a temporary file next to `path`, flush it to disk, then rename it over `path`."""
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(21, "is a folder; give a file name", str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as err:  # name the file asked for, not the temporary one
        raise type(err)(err.errno, err.strerror, str(path)) from None
    try:
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600 files; give the usual permissions
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_bytes(path, data: bytes) -> None:
    atomic_write(path, lambda f: f.write(data))


def remove_stale_temporaries(folder) -> None:
    """Delete the temporary files of writes that were killed half-way (kill -9 between mkstemp and rename)."""
    for tmp in Path(folder).glob(".*.tmp"):
        tmp.unlink(missing_ok=True)


def _json_default(value):
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    if isinstance(value, (Path,)):
        return str(value)
    if hasattr(value, "tolist"):  # torch tensors
        return value.tolist()
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


def _finite_or_none(value):
    """JSON has no NaN: write None (null) for NaN / inf, recursively."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite_or_none(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite_or_none(v) for v in value]
    return value


def atomic_write_json(path, obj) -> None:
    text = json.dumps(_finite_or_none(obj), indent=2, default=_json_default, allow_nan=False)
    atomic_write_bytes(path, (text + "\n").encode())


def atomic_write_csv(path, rows: list[dict]) -> None:
    """Rows of scalars (lists and dicts are left out: they live in the JSON twin)."""
    columns: list[str] = []
    for row in rows:
        columns += [k for k, v in row.items() if k not in columns and not isinstance(v, (list, tuple, dict))]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: row.get(k, "") for k in columns})
    atomic_write_bytes(path, buf.getvalue().encode())


def atomic_write_text(path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def read_json(path, what: str = "file"):
    """The JSON document in `path`; DataError (one line naming the file and what to do) when it cannot be read or
    parsed: a file truncated or overwritten by hand must not end a command in a traceback."""
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise DataError(f"unreadable {what} {path}: {type(err).__name__}: {' '.join(str(err).split())[:160]}; "
                        f"delete it (it is rebuilt) or restore it") from None


def read_json_object(path, what: str = "file") -> dict:
    """read_json, and DataError unless the document is a JSON object."""
    document = read_json(path, what)
    if not isinstance(document, dict):
        raise DataError(f"{what} {path} holds a JSON {type(document).__name__}, not an object; delete or restore it")
    return document


def read_yaml(path, what: str = "settings file") -> dict:
    """The YAML mapping in `path` ({} for an empty file); ParameterError, one line with the file and the line of
    the fault, when it is not UTF-8, not YAML, or not a mapping."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise ParameterError(f"malformed {what} {path}{where}: {problem}") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ParameterError(f"unreadable {what} {path}: {type(err).__name__}: {err}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ParameterError(f"{what} {path} must be a mapping of names to values, not a {type(data).__name__}")
    return data


__all__ = ["read_json", "read_json_object", "read_yaml", "atomic_write", "atomic_write_bytes", "atomic_write_text",
           "atomic_write_json", "atomic_write_csv", "remove_stale_temporaries"]
