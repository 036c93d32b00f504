"""Where the book lives and where a number comes from: the book's root, the profiles, and provenance (hardware,
torch, git commit, date) of a computation and of the trained runs behind it.

    root = repo_root()                         # the folder with _toc.yml (or $DRNBOOK_ROOT)
    check_profile("mini")                      # smoke | mini | paper, else ParameterError
    machine_provenance()                       # {"hardware": {...}, "torch": ..., "git": {...}, "date": ...}
    provenance_note(record.provenance)         # one line for a caption

Profiles: `smoke` = seconds on a CPU (a pipeline check), `mini` = one GPU on the bundled real data, `paper` = the
papers' full protocol (torchrun).
"""

from __future__ import annotations

import datetime
import functools
import os
import platform
import subprocess
from pathlib import Path

from drnlib.errors import ParameterError

PROFILES = ("smoke", "mini", "paper")
# What a profile's numbers can and cannot tell (said at the top of every results page).
PROFILE_MEANING = {
    "smoke": "seconds of CPU training on a handful of images: they show only that the pipeline runs, nothing about "
             "the papers",
    "mini": "one GPU, the bundled real data at a reduced scale: whether the papers' orderings and claims hold at that "
            "scale, not the papers' own numbers",
    "paper": "the papers' own protocol and data: comparable with the papers' numbers",
}
ROOT_ENV = "DRNBOOK_ROOT"  # set by `python -m drnlib.book` so notebooks write into the book being built


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
    """`profile` if it is one of PROFILES, else ParameterError (one line)."""
    if profile not in PROFILES:
        raise ParameterError(f"unknown profile {profile!r}; choose one of {', '.join(PROFILES)}")
    return profile


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
    status = git("status", "--porcelain", "--untracked-files=no")
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
    """Where and when something is computed: hardware (CPU model, GPU names), torch, git commit, date (UTC)."""
    from drnlib import __version__

    return {
        **_static_provenance(),
        "drnlib": __version__,
        "git": git_state(root),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }


def provenance(profile: str, dataset: str, root: Path | None = None, runs=None) -> dict:
    """What a result depends on: profile, data set, the machine_provenance of this computation and, with `runs`
    (drnlib.runs.Run objects, or dicts / lists of them), where and when each trained network was trained."""
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
    """A trained run's folder and recipe, and where and when it was trained (as its result.json records it)."""
    trained = run.result.get("provenance") or {}  # runs trained before drnlib recorded it: device only
    return {"folder": run.dir.name, "recipe": (run.result.get("config") or {}).get("recipe"),
            "device": run.result.get("device"), "torch": run.result.get("torch"),
            "gpus": trained.get("hardware", {}).get("gpus"), "cpu": trained.get("hardware", {}).get("cpu"),
            "commit": (trained.get("git") or {}).get("commit"), "date": trained.get("date"),
            "train_seconds": run.result.get("train_seconds")}


def hardware_name(provenance: dict) -> str:
    """'NVIDIA H200' / '2x NVIDIA H200' / 'AMD EPYC 7B13 (CPU)' for a provenance dict."""
    hardware = provenance.get("hardware", {})
    gpus = hardware.get("gpus") or []
    if len(gpus) > 1:
        return f"{len(gpus)}x {gpus[0]}"
    return gpus[0] if gpus else f"{hardware.get('cpu', '?')} (CPU)"


def _runs_note(runs: list[dict]) -> str:
    """'trained in 3 run(s): cpu, commit 4aafa4d2c1, 2026-11-21' (distinct machines, commits and dates)."""
    where = sorted({(r.get("gpus") or [r.get("device") or "?"])[0] for r in runs})
    commits = sorted({(r.get("commit") or "")[:10] or "unrecorded" for r in runs})
    dates = sorted({(r.get("date") or "")[:10] or "date unrecorded" for r in runs})
    return f"trained in {len(runs)} run(s): {', '.join(where)}, commit {', '.join(commits)}, " \
           f"{', '.join(dates)}"


def provenance_note(provenance: dict, profile: str | None = None) -> str:
    """One line for captions: 'smoke profile · data: synthetic · AMD EPYC (CPU) · torch 2.14.1 · commit ...'.
    A result whose parameters differ from its profile's params files says so ('--set epochs=1')."""
    git = provenance.get("git", {})
    commit = (git.get("commit") or "no commit")[:10] + (" + local changes" if git.get("dirty") else "")
    note = (f"{provenance.get('profile', profile)} profile · data: {provenance.get('dataset', '?')} · "
            f"{hardware_name(provenance)} · torch {provenance.get('torch', '?')} · {commit} · "
            f"{provenance.get('date', '?')}")
    if provenance.get("overrides"):
        changed = ", ".join(f"{k}={v}" for k, v in provenance["overrides"].items())
        note += f" · NOT the profile's settings: {changed}"
    return note + (f" · {_runs_note(provenance['runs'])}" if provenance.get("runs") else "")


__all__ = ["PROFILES", "PROFILE_MEANING", "ROOT_ENV", "repo_root", "check_profile", "git_state", "machine_provenance", "provenance",
           "run_provenance", "hardware_name", "provenance_note"]
