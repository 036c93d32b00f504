"""Speed and memory: inference images/s (WoD Table 1), peak fine-tuning memory (WoD Table 2), training throughput
(on random data, on real batches with their data path, and of the data path alone).

All timings synchronise the device around the timed loop and discard warm-up iterations; on CUDA the default mode
is the fast one (bf16 autocast + channels_last); `precision="fp32"` gives the plain baseline.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

PRECISIONS = ("fp32", "bf16")


@dataclass
class Timing:
    images_per_s: float
    seconds_per_iter: float
    batch_size: int
    input_size: int
    precision: str
    channels_last: bool
    compiled: bool
    device: str

    def as_dict(self) -> dict:
        return asdict(self)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _prepare(model: nn.Module, device: torch.device, channels_last: bool, compile: bool) -> nn.Module:
    model = model.to(device)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    return torch.compile(model) if compile else model


def _autocast(device: torch.device, precision: str):
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, not {precision!r}")
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16")


def _timed(step, device: torch.device, warmup: int, iters: int) -> float:
    for _ in range(warmup):
        step()
    _sync(device)
    start = time.perf_counter()
    for _ in range(iters):
        step()
    _sync(device)
    return (time.perf_counter() - start) / iters


def inference_throughput(model: nn.Module, batch_size: int = 10, input_size: int = 224, device: str = "cpu",
                         precision: str = "fp32", channels_last: bool = False, compile: bool = False,
                         warmup: int = 3, iters: int = 10) -> Timing:
    """Forward passes per second x batch size, in eval mode, without gradients (WoD Table 1 uses batch 10)."""
    device = torch.device(device)
    model = _prepare(model.eval(), device, channels_last, compile)
    x = torch.randn(batch_size, 3, input_size, input_size, device=device)
    if channels_last:
        x = x.to(memory_format=torch.channels_last)

    def step():
        with torch.no_grad(), _autocast(device, precision):
            model(x)

    seconds = _timed(step, device, warmup, iters)
    return Timing(batch_size / seconds, seconds, batch_size, input_size, precision, channels_last, compile,
                  str(device))


def _train_step(model: nn.Module, optimizer: torch.optim.Optimizer, x, y, device, precision):
    optimizer.zero_grad(set_to_none=True)
    with _autocast(device, precision):
        out = model(x)
        loss = F.cross_entropy(out.float(), y, ignore_index=255)
    loss.backward()
    optimizer.step()


def training_throughput(model: nn.Module, batch_size: int = 128, input_size: int = 224, device: str = "cpu",
                        precision: str = "fp32", channels_last: bool = False, compile: bool = False,
                        warmup: int = 3, iters: int = 10, num_classes: int | None = None) -> Timing:
    """SGD steps per second x batch size (forward, backward, update) on random data."""
    device = torch.device(device)
    model = _prepare(model.train(), device, channels_last, compile)
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9, **_fast_sgd(device))
    x, y = _random_batch(model, batch_size, input_size, device, num_classes)
    if channels_last:
        x = x.to(memory_format=torch.channels_last)
    seconds = _timed(lambda: _train_step(model, optimizer, x, y, device, precision), device, warmup, iters)
    return Timing(batch_size / seconds, seconds, batch_size, input_size, precision, channels_last, compile,
                  str(device))


def _random_batch(model, batch_size, input_size, device, num_classes=None):
    task = getattr(model, "task", getattr(getattr(model, "_orig_mod", None), "task", "classify"))
    classes = num_classes or 2
    x = torch.randn(batch_size, 3, input_size, input_size, device=device)
    shape = (batch_size, input_size, input_size) if task == "segment" else (batch_size,)
    return x, torch.randint(0, classes, shape, device=device)


def peak_training_memory(model: nn.Module, batch_size: int = 4, input_size: int = 504, device: str = "cuda",
                         precision: str = "fp32", channels_last: bool = False, num_classes: int = 21,
                         steps: int = 2) -> int:
    """Peak CUDA memory (bytes) of fine-tuning steps: weights, gradients, momentum and activations (WoD Table 2)."""
    device = torch.device(device)
    if device.type != "cuda":
        raise ValueError("peak memory is measured with the CUDA allocator: run on a GPU")
    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats(device)
    model = _prepare(model.train(), device, channels_last, False)
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    x, y = _random_batch(model, batch_size, input_size, device, num_classes)
    for _ in range(steps):
        _train_step(model, optimizer, x, y, device, precision)
    _sync(device)
    return torch.cuda.max_memory_allocated(device)


def training_step_flops(model: nn.Module, batch_size: int, input_size: int = 224) -> int:
    """FLOPs of one forward + backward pass (torch.utils.flop_counter), measured on the model's device."""
    device = next(model.parameters()).device
    x = torch.randn(batch_size, 3, input_size, input_size, device=device)
    counter = FlopCounterMode(display=False)
    with counter:
        model(x).float().sum().backward()
    model.zero_grad(set_to_none=True)
    return counter.get_total_flops()


def loader_throughput(loader: Iterable, batches: int = 20, warmup: int = 2, device: str | None = None) -> float:
    """Images per second that a DataLoader (or any iterable of (images, targets) batches, such as
    drnlib.data.resident's device batches) delivers on its own (no model), after `warmup` batches; a new epoch
    starts when one runs out. `device`: synchronise it before reading the clock (batches made on a GPU)."""
    iterator = _endless(loader)
    for _ in range(warmup):
        next(iterator)
    device = torch.device(device) if device is not None else torch.device("cpu")
    _sync(device)
    count, start = 0, time.perf_counter()
    for _ in range(batches):
        count += len(next(iterator)[0])
    _sync(device)
    return count / (time.perf_counter() - start)


def _endless(batches: Iterable):
    """Batches epoch after epoch (an iterable that yields none at all would loop forever: refuse it)."""
    while True:
        empty = True
        for batch in batches:
            empty = False
            yield batch
        if empty:
            raise ValueError("the batches are empty")


def pipeline_throughput(model: nn.Module, batches: Iterable, device: str = "cpu", precision: str = "fp32",
                        channels_last: bool = False, compile: bool = False, warmup: int = 3, iters: int = 10,
                        loss_fn=None) -> Timing:
    """SGD steps per second x batch size on real batches, data included: each step takes the next batch of
    `batches` (epoch after epoch), moves it to the device as drnlib.train.engine does, then forward, loss
    (`loss_fn(output, target)`, default cross-entropy with 255 ignored), backward and update."""
    from drnlib.eval import to_device

    device = torch.device(device)
    model = _prepare(model.train(), device, channels_last, compile)
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9, **_fast_sgd(device))
    loss_fn = loss_fn or (lambda out, y: F.cross_entropy(out.float(), y, ignore_index=255))
    iterator = _endless(batches)
    size = [0, 0]

    def step():
        images, target = next(iterator)
        images, target = to_device(images, device, channels_last), to_device(target, device)
        size[:] = [len(images), images.shape[-1]]
        optimizer.zero_grad(set_to_none=True)
        with _autocast(device, precision):
            loss = loss_fn(model(images), target)
        loss.backward()
        optimizer.step()

    seconds = _timed(step, device, warmup, iters)
    return Timing(size[0] / seconds, seconds, size[0], size[1], precision, channels_last, compile, str(device))


def _fast_sgd(device: torch.device) -> dict:
    """The engine's optimizer options: the fused SGD kernel on CUDA, the multi-tensor (foreach) one elsewhere."""
    return {"fused": True} if device.type == "cuda" else {"foreach": True}
