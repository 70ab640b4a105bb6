"""This process's place in a ``torchrun`` job: DDP over NCCL on GPUs, gloo on CPUs."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass

import torch

from .device import resolve_device


@dataclass(frozen=True)
class Distributed:
    """This process's place in a ``torchrun`` job; a single process is rank 0 of 1."""

    rank: int = 0
    world: int = 1
    started: bool = False  # whether this module opened the process group

    @property
    def main(self) -> bool:
        return self.rank == 0

    @classmethod
    def setup(cls, device_name: str) -> tuple[Distributed, torch.device]:
        """Join the process group that ``torchrun`` describes in the environment, if any.

        NCCL on CUDA GPUs (one per local rank), gloo on CPUs.
        """
        world = int(os.environ.get("WORLD_SIZE", "1"))
        if world == 1:
            return cls(), resolve_device(device_name)
        import torch.distributed as dist

        local = int(os.environ.get("LOCAL_RANK", "0"))
        device = resolve_device(device_name)
        if device.type == "cuda":
            device = torch.device("cuda", local)
            torch.cuda.set_device(device)
        started = not dist.is_initialized()
        if started:
            dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
        return cls(dist.get_rank(), dist.get_world_size(), started), device

    def sum(self, values: list[float], device: torch.device) -> list[float]:
        """Add ``values`` up over the ranks (a no-op for one process)."""
        if self.world == 1:
            return values
        import torch.distributed as dist

        tensor = torch.tensor(values, dtype=torch.float64, device=device)
        dist.all_reduce(tensor)
        return tensor.tolist()

    def gather(self, obj: object) -> list:
        """Every rank's ``obj``, in rank order."""
        if self.world == 1:
            return [obj]
        import torch.distributed as dist

        items: list = [None] * self.world
        dist.all_gather_object(items, obj)
        return items

    def wrap(self, model: torch.nn.Module, device: torch.device) -> torch.nn.Module:
        """The model for the training step: itself, or its DistributedDataParallel wrapper."""
        if self.world == 1:
            return model
        from torch.nn.parallel import DistributedDataParallel

        return DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)

    def close(self) -> None:
        if self.started:
            import gc

            import torch.distributed as dist

            # A DistributedDataParallel wrapper kept alive by a reference cycle would be freed
            # only at interpreter shutdown, after the group, where its gloo work can abort
            # the process (seen once: "terminate called without an active exception").
            gc.collect()
            dist.destroy_process_group()

    def wait_all(self) -> None:
        """Wait until every rank is here (a no-op for one process)."""
        if self.world > 1:
            import torch.distributed as dist

            dist.barrier()


@contextlib.contextmanager
def distributed(device_name: str) -> Iterator[tuple[Distributed, torch.device]]:
    """Join the job (if any) for the duration of a run; leave it cleanly."""
    dist, device = Distributed.setup(device_name)
    try:
        yield dist, device
        # Every rank finishes before any tears the group down: a gloo group destroyed while
        # a peer still uses it can abort that process. (Not after an error: that would hang.)
        dist.wait_all()
    finally:
        dist.close()
