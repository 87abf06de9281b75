"""Processes and devices of a run: the device to train on, and torchrun / DistributedDataParallel.

Not part of the paper: this is what lets `p2p-train` run on one process or on many (one per GPU,
or several CPU processes with the gloo backend). Without torchrun every function here is a no-op
around a single process (rank 0 of 1).
"""

import inspect
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel


@dataclass
class Dist:
    """Who this process is in a torchrun job (rank 0 of 1 without torchrun)."""
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self):
        return self.rank == 0

    @property
    def enabled(self):
        return self.world_size > 1


def resolve_device(name):
    """"auto" -> cuda when available, else cpu."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("--device cuda was asked for but torch.cuda.is_available() is False "
                           "(no GPU, or a CPU-only PyTorch); use --device cpu")
    return torch.device(name)


def setup_distributed(device):
    """Join the torchrun job when WORLD_SIZE > 1 (nccl on CUDA, gloo on CPU).

    Returns (Dist, device): under torchrun each process takes the GPU of its LOCAL_RANK.
    """
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return Dist(), device
    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    if device.type == "cuda":
        torch.cuda.set_device(local_rank)
        device = torch.device("cuda", local_rank)
    dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return Dist(rank, world_size, local_rank), device


def cleanup_distributed(d):
    if d.enabled and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def wrap_ddp(model, device):
    """DistributedDataParallel without re-broadcasting buffers at every forward.

    D runs three times per step (real, detached fake, fake) and BatchNorm updates its running
    statistics in place on each; broadcasting rank 0's buffers between those forwards can
    break autograd on older PyTorch and buys nothing (each rank keeps its own statistics; rank
    0's are the ones saved). Parameters are broadcast once at construction either way.
    """
    ids = [device.index] if device.type == "cuda" else None
    if "forward_sync_buffers" in inspect.signature(DistributedDataParallel).parameters:
        return DistributedDataParallel(model, device_ids=ids, forward_sync_buffers=False)
    return DistributedDataParallel(model, device_ids=ids, broadcast_buffers=False)


def gather_objects(obj, d):
    """[obj of rank 0, obj of rank 1, ...] on every rank (just [obj] without torchrun)."""
    if not d.enabled:
        return [obj]
    out = [None] * d.world_size
    dist.all_gather_object(out, obj)
    return out


def convert_sync_batchnorm(G, D, device, d, log):
    """SyncBatchNorm for norm="batch" under multi-GPU CUDA runs; on CPU (gloo) nn.SyncBatchNorm
    refuses the modules, so each process keeps its own BatchNorm statistics."""
    if not d.enabled or not any(isinstance(m, nn.BatchNorm2d) for m in G.modules()):
        return G, D
    if device.type == "cuda":
        return tuple(nn.SyncBatchNorm.convert_sync_batchnorm(m) for m in (G, D))
    log("multi-process run on CPU (gloo): nn.SyncBatchNorm is CUDA-only, so each process keeps "
        "its own BatchNorm statistics")
    return G, D
