"""DataLoader with sensible defaults, a collate function for all three target kinds, and one-line errors
from worker processes."""

from __future__ import annotations

import os

import torch
from torch.utils.data import DataLoader as _TorchDataLoader
from torch.utils.data import Dataset

from drnlib.errors import DataError

_WORKER_PREFIX = "DataError: "


def raise_worker_error(err: DataError):
    """Re-raise a DataError as a one-line DataError.

    Errors raised inside DataLoader workers come back as DataError("Caught DataError in DataLoader worker
    process 0.\\nOriginal Traceback ... drnlib.errors.DataError: <message>"); keep only <message>.
    """
    text = str(err)
    if "\n" in text:
        last = [line for line in text.splitlines() if _WORKER_PREFIX in line]
        text = last[-1].split(_WORKER_PREFIX, 1)[1] if last else text.strip().splitlines()[-1]
        raise DataError(text) from None
    raise err


class DataLoader(_TorchDataLoader):
    """torch DataLoader whose iteration turns worker DataErrors into one-line DataErrors.

    After an error the worker processes are stopped at once (left to the garbage collector, torch waits
    about 5 s for them).
    """

    def __iter__(self):
        iterator = super().__iter__()
        while True:
            try:
                batch = next(iterator)
            except StopIteration:
                return
            except Exception as err:
                shutdown = getattr(iterator, "_shutdown_workers", None)
                if shutdown is not None:
                    shutdown()
                    self._iterator = None  # a persistent iterator cannot be reused after shutdown
                if isinstance(err, DataError):
                    raise_worker_error(err)
                raise
            yield batch


def collate(batch):
    """Stack images; targets: ints -> (N,) int64, masks -> (N, H, W) int64, localization dicts ->
    {"label": (N,), "boxes": list of (n_i, 4) tensors} (images have different numbers of boxes)."""
    images = torch.stack([torch.as_tensor(image) for image, _ in batch])
    targets = [target for _, target in batch]
    first = targets[0]
    if isinstance(first, dict):
        return images, {
            "label": torch.tensor([t["label"] for t in targets], dtype=torch.int64),
            "boxes": [t["boxes"].as_subclass(torch.Tensor) for t in targets],
        }
    if isinstance(first, torch.Tensor):
        return images, torch.stack([t.as_subclass(torch.Tensor) for t in targets])
    return images, torch.tensor(targets, dtype=torch.int64)


def default_num_workers() -> int:
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:
        cpus = os.cpu_count() or 1
    return min(8, cpus)


def build_loader(
    dataset: Dataset,
    batch_size: int,
    train: bool,
    num_workers: int | None = None,
    device: str | torch.device | None = None,
    seed: int = 0,
    **kwargs,
) -> DataLoader:
    """A DataLoader for training (shuffled with a seeded generator, drop_last) or evaluation (in order).

    num_workers: default min(8, CPUs); workers persist across epochs. pin_memory when the device is CUDA
    (default: CUDA if available). Extra keyword arguments go to torch's DataLoader.
    """
    num_workers = default_num_workers() if num_workers is None else num_workers
    cuda = torch.device(device).type == "cuda" if device is not None else torch.cuda.is_available()
    options = dict(
        batch_size=batch_size,
        shuffle=train,
        drop_last=train,
        num_workers=num_workers,
        pin_memory=cuda,
        persistent_workers=num_workers > 0,
        collate_fn=collate,
        generator=torch.Generator().manual_seed(seed) if train else None,
    )
    if num_workers > 0:
        options["prefetch_factor"] = 4
    options.update(kwargs)
    return DataLoader(dataset, **options)

