"""Two training steps under torchrun: DistributedDataParallel over nccl with SyncBatchNorm.

    torchrun --standalone --nproc_per_node=1 -m p2p_ref.gpu_check.ddp --out result.json

`p2p-train` only turns DDP on for two or more processes, so this script builds the multi-GPU
path itself from the same pieces (`processes.wrap_ddp`, `nn.SyncBatchNorm`, `train_step`):
join the process group (nccl on CUDA, gloo on a CPU, where SyncBatchNorm does not exist),
convert BatchNorm to SyncBatchNorm, wrap G and D in DDP and run two steps. Then it checks that
every loss is finite, that the ranks hold the same weights, and, with one process, that the
losses equal those of the same two steps without DDP (one process all-reduces over itself and
SyncBatchNorm falls back to plain batch statistics, so nothing may change). With one process
the all-reduce inside SyncBatchNorm is not exercised: that needs two GPUs.
Dropout is off so that the two runs see the same network.
"""

import argparse
import copy
import json
import os
import sys

import torch
import torch.distributed as dist
from torch import nn

from p2p_ref.paper.models import PatchDiscriminator, UNetGenerator
from p2p_ref.paper.train_step import make_optimizers, train_step
from p2p_ref.training.devices import wrap_ddp

RTOL = 1e-4  # same kernels, same order: only cuDNN's non-deterministic backward algorithms differ


def without_dropout(G):
    for m in G.modules():
        if isinstance(m, nn.Dropout):
            m.eval()
    return G


def two_steps(G, D, x, y):
    opt_G, opt_D = make_optimizers(G, D)
    return [{k: v.item() for k, v in train_step(G, D, opt_G, opt_D, x, y).items()}
            for _ in range(2)]


def _use_device(local_rank):
    """This rank's device and process-group backend: nccl on CUDA (TF32 off, to compare true
    float32 numbers), gloo on a CPU."""
    if not torch.cuda.is_available():
        return torch.device("cpu"), "gloo"
    torch.cuda.set_device(local_rank)
    torch.backends.cudnn.allow_tf32 = False  # compare true float32 numbers
    torch.backends.cuda.matmul.allow_tf32 = False
    return torch.device("cuda", local_rank), "nccl"


def _ranks_agree(G, D, world):
    """True when every rank holds the same weights (a checksum per parameter, all-gathered)."""
    checksum = torch.stack([p.detach().double().sum() for p in
                            list(G.parameters()) + list(D.parameters())])
    gathered = [torch.zeros_like(checksum) for _ in range(world)]
    dist.all_gather(gathered, checksum)
    return all(torch.equal(gathered[0], g) for g in gathered[1:])


def _check(args, device, rank, world):
    """Two DDP steps; returns (losses, SyncBatchNorm layers, worst relative difference from the
    single-process steps or None, problems)."""
    cuda = device.type == "cuda"
    torch.manual_seed(0)
    G = without_dropout(UNetGenerator(num_downs=args.size.bit_length() - 1, ngf=args.ngf))
    D = PatchDiscriminator(ndf=args.ndf)
    G, D = G.to(device), D.to(device)
    reference = (copy.deepcopy(G), copy.deepcopy(D)) if world == 1 else None
    if cuda:
        G, D = (nn.SyncBatchNorm.convert_sync_batchnorm(m) for m in (G, D))
    sync_bn = sum(isinstance(m, nn.SyncBatchNorm) for m in list(G.modules()) + list(D.modules()))
    torch.manual_seed(100 + rank)  # each rank its own batch
    x, y = (torch.rand(args.batch_size, 3, args.size, args.size, device=device) * 2 - 1
            for _ in range(2))
    losses = two_steps(wrap_ddp(G, device), wrap_ddp(D, device), x, y)
    problems = [f"step {i + 1}: {k} = {v}" for i, step in enumerate(losses)
                for k, v in step.items() if not torch.isfinite(torch.tensor(v))]
    # the ranks must hold the same weights after DDP's gradient all-reduce
    if not _ranks_agree(G, D, world):
        problems.append("the ranks' weights differ after two steps")
    worst = None
    if reference is not None:
        expected = two_steps(*reference, x, y)
        worst = max(abs(a[k] - b[k]) / max(abs(b[k]), 1e-12)
                    for a, b in zip(losses, expected) for k in a)
        if worst > RTOL:
            problems.append(f"DDP losses {losses} differ from the single-process ones "
                            f"{expected} by {worst:.2e} relative (tolerance {RTOL:g})")
    if cuda and not sync_bn:
        problems.append("no SyncBatchNorm layer after convert_sync_batchnorm")
    return losses, sync_bn, worst, problems


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--ngf", type=int, default=64)
    p.add_argument("--ndf", type=int, default=64)
    p.add_argument("--batch-size", type=int, default=2)
    p.add_argument("--out", required=True, help="where rank 0 writes the result (JSON)")
    args = p.parse_args(argv)
    if "LOCAL_RANK" not in os.environ:
        sys.exit("gpu_check.ddp: run me under torchrun (torchrun --standalone "
                 "--nproc_per_node=1 -m p2p_ref.gpu_check.ddp --out FILE)")
    device, backend = _use_device(int(os.environ["LOCAL_RANK"]))
    dist.init_process_group(backend)
    rank, world = dist.get_rank(), dist.get_world_size()
    try:
        losses, sync_bn, worst, problems = _check(args, device, rank, world)
        if rank == 0:
            result = {"backend": backend, "world_size": world, "device": str(device),
                      "sync_batchnorm_layers": sync_bn, "losses": losses,
                      "max_rel_diff_vs_single_process": worst, "tolerance": RTOL,
                      "problems": problems}
            with open(args.out, "w") as f:
                json.dump(result, f, indent=2)
        dist.barrier()
    finally:
        dist.destroy_process_group()
    if problems:
        sys.exit("gpu_check.ddp: " + "; ".join(problems))

if __name__ == "__main__":
    main()
