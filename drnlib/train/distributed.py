"""Several processes under torchrun: process group, device, SyncBatchNorm and DDP. A plain `python` run (or a
notebook) is one process and none of this does anything.

    torchrun --nproc_per_node 4 -m drnlib train ...

torchrun sets RANK / WORLD_SIZE / LOCAL_RANK; each process drives the GPU cuda:LOCAL_RANK (backend "nccl"), or the
CPU (backend "gloo", used by the tests). Rank 0 writes every file; the others only train and evaluate their shard.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from drnlib.errors import ParameterError


@dataclass
class Processes:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")
    started_group: bool = False  # we created the process group (and destroy it at the end)

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def resolve_device(name: str, local_rank: int = 0) -> torch.device:
    """"auto" -> cuda:LOCAL_RANK if a GPU is there, else cpu; "cuda" -> cuda:LOCAL_RANK."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ParameterError(f"device {name!r} asked for, but no CUDA GPU is available (use --device cpu)")
        return torch.device(f"cuda:{local_rank}") if name == "cuda" else torch.device(name)
    if name != "cpu":
        raise ParameterError(f"unknown device {name!r}; expected auto, cpu, cuda or cuda:N")
    return torch.device("cpu")


def start(device_name: str = "auto") -> Processes:
    """Join the torchrun process group if there is one (WORLD_SIZE > 1); pick this process's device."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    device = resolve_device(device_name, local_rank)
    if world_size == 1:
        return Processes(device=device)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    started = False
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
        started = True
    return Processes(rank, world_size, local_rank, device, started)


def stop(processes: Processes) -> None:
    if processes.started_group and dist.is_initialized():
        dist.destroy_process_group()


def barrier(processes: Processes) -> None:
    if processes.distributed:
        dist.barrier()


def syncs_batchnorm(processes: Processes, sync_bn: bool) -> bool:
    """Whether wrap_model makes BatchNorm statistics span every process (SyncBatchNorm: several CUDA processes)."""
    return processes.distributed and sync_bn and processes.device.type == "cuda"


def wrap_model(model: torch.nn.Module, processes: Processes, sync_bn: bool) -> torch.nn.Module:
    """SyncBatchNorm (CUDA only: torch's SyncBatchNorm does not run on the CPU) and DistributedDataParallel.

    static_graph=True lets DDP accept parameters that never get a gradient (a head that the task does not use).
    """
    if not processes.distributed:
        return model
    if syncs_batchnorm(processes, sync_bn):
        model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)
    device_ids = [processes.device.index] if processes.device.type == "cuda" else None
    return torch.nn.parallel.DistributedDataParallel(model, device_ids=device_ids, static_graph=True)
