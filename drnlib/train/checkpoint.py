"""Checkpoints and run files, all written atomically (a temporary file in the same folder, then os.replace), so a
run killed at any moment leaves either the old file or the new one, never half of one.

A checkpoint (`checkpoint.pt`) is a dict:
    format        "drnlib-checkpoint/1"
    arch          architecture name given to drnlib.models.build_model
    model_task    "classify" | "segment" | "dense": the model's output head
    num_classes   number of classes of the head
    config        the run's config (a plain dict, see drnlib.train.config.RunConfig)
    epoch         number of finished epochs
    model         model state_dict (of the plain module: no DDP / torch.compile prefixes)
    optimizer     optimizer state_dict
    scheduler     LambdaLR state_dict (its iteration count and schedule parameters)
    rng           python, numpy, torch CPU, CUDA (one per device, if any) and the data-order generator states
    history       one metrics row per finished epoch (what metrics.csv / metrics.json hold)
    config_changes  [{"epoch": e, "changes": {field: [old, new]}}] when a run was resumed with other settings
    versions      torch / drnlib versions that wrote it
Everything in it loads with torch.load(weights_only=True).
"""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import torch

from drnlib.errors import CheckpointError
from drnlib.files import (atomic_write, atomic_write_bytes, atomic_write_csv, atomic_write_json,  # noqa: F401
                          remove_stale_temporaries)

FORMAT = "drnlib-checkpoint/1"


# --- random number generators -------------------------------------------------------------------------------------

def get_rng_state(data_generator: torch.Generator | None = None) -> dict:
    version, internal, gauss = random.getstate()
    np_name, np_keys, np_pos, np_has_gauss, np_gauss = np.random.get_state()
    state = {
        "python": {"version": version, "state": torch.tensor(internal, dtype=torch.int64), "gauss": gauss},
        "numpy": {"name": np_name, "keys": torch.from_numpy(np_keys.astype(np.int64)), "pos": int(np_pos),
                  "has_gauss": int(np_has_gauss), "gauss": float(np_gauss)},
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }
    if data_generator is not None:
        state["data_order"] = data_generator.get_state()
    return state


def set_rng_state(state: dict, data_generator: torch.Generator | None = None) -> None:
    py = state["python"]
    random.setstate((py["version"], tuple(py["state"].tolist()), py["gauss"]))
    npy = state["numpy"]
    np.random.set_state((npy["name"], npy["keys"].numpy().astype(np.uint32), npy["pos"], npy["has_gauss"],
                         npy["gauss"]))
    torch.set_rng_state(state["torch"])
    if state.get("cuda") and torch.cuda.is_available() and len(state["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(state["cuda"])
    if data_generator is not None and "data_order" in state:
        data_generator.set_state(state["data_order"])


# --- checkpoints --------------------------------------------------------------------------------------------------

def save_checkpoint(path, checkpoint: dict) -> None:
    """Write `checkpoint` (a dict as described above) atomically."""
    state = {"format": FORMAT, "versions": {"torch": str(torch.__version__)}, **checkpoint}
    atomic_write(path, lambda f: torch.save(state, f))


def load_checkpoint(path, arch: str | None = None, num_classes: int | None = None) -> dict:
    """Read a drnlib checkpoint (on the CPU). Refuses, with CheckpointError, a file that is not one, or one of
    another architecture than `arch` / another class count than `num_classes` when those are given."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # a truncated or foreign file: torch raises many kinds of errors
        raise CheckpointError(f"cannot read checkpoint {path}: {type(err).__name__}: "
                              f"{str(err).splitlines()[0] if str(err) else ''}") from None
    if not isinstance(checkpoint, dict) or checkpoint.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a drnlib checkpoint (expected format {FORMAT}); "
                              "a plain state_dict can be loaded with model.load_state_dict")
    if arch is not None and checkpoint["arch"] != arch:
        raise CheckpointError(f"checkpoint {path} holds a {checkpoint['arch']} model, not {arch}")
    if num_classes is not None and checkpoint["num_classes"] != num_classes:
        raise CheckpointError(f"checkpoint {path} has {checkpoint['num_classes']} classes, "
                              f"the data set has {num_classes}")
    return checkpoint
