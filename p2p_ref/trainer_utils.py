"""The plumbing around the training step: processes (multi-GPU), data order, evaluation, logs.

`p2p_ref.train` holds the recipe (sec. 3.3 of the paper); this module holds what a real run
needs on top of it and is not part of the paper: resumable data order, torchrun/DDP, validation
metrics, test-time mode, sample grids and JSON-lines logs.
"""

import contextlib
import inspect
import json
import os
from dataclasses import dataclass
from itertools import islice

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import Dataset, DistributedSampler, Sampler

from p2p_ref.data import denormalize

# ---------------------------------------------------------------------------- processes


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


# ---------------------------------------------------------------------------- data order


class ResumableSampler(Sampler):
    """DistributedSampler's shuffled order, seeded by (seed + epoch), that can start mid-epoch.

    Yields (index, epoch) keys for `SeededPairs`, so the random jitter of every item is fixed by
    (seed, epoch, index) too: a resumed run sees exactly the crops and flips of an uninterrupted
    one, whatever the number of DataLoader workers.
    """

    def __init__(self, dataset, seed=0, rank=0, world_size=1):
        self.order = DistributedSampler(dataset, num_replicas=world_size, rank=rank,
                                        shuffle=True, seed=seed)
        self.epoch, self.skip = 0, 0

    def set_epoch(self, epoch, skip=0):
        """Next pass: epoch `epoch`, leaving out the first `skip` items (already trained on)."""
        self.order.set_epoch(epoch)
        self.epoch, self.skip = epoch, skip

    def __iter__(self):
        return ((index, self.epoch) for index in islice(iter(self.order), self.skip, None))

    def __len__(self):
        return len(self.order) - self.skip


class SeededPairs(Dataset):
    """Wraps an AlignedDataset so item (index, epoch) draws its jitter from its own seed,
    leaving the global RNG (dropout's) untouched."""

    def __init__(self, dataset, seed=0):
        self.dataset, self.seed = dataset, seed

    def __len__(self):
        return len(self.dataset)

    def __getitem__(self, key):
        index, epoch = key
        item_seed = int(np.random.SeedSequence([self.seed, epoch, index]).generate_state(1)[0])
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(item_seed)
            return self.dataset[index]


# ---------------------------------------------------------------------------- test time

TEST_MODES = ("paper", "eval")


def set_test_mode(G, mode="paper"):
    """How G runs at test time. "paper": dropout and batch statistics stay on (sec. 3.2: the
    noise of dropout is G's only noise, and the paper applies it at test time too); "eval": the
    usual model.eval() (no dropout, BatchNorm's running statistics)."""
    if mode not in TEST_MODES:
        raise ValueError(f"mode={mode!r}: expected one of {TEST_MODES}")
    G.train(mode == "paper")
    return G


@contextlib.contextmanager
def evaluating(G, mode="paper", seed=0):
    """Run G for validation/samples without touching training: restores its train/eval flag,
    its BatchNorm running statistics (a "paper"-mode forward updates them) and the RNG."""
    was_training = G.training
    buffers = {name: b.clone() for name, b in G.named_buffers()}
    devices = [torch.cuda.current_device()] if torch.cuda.is_available() else []
    with torch.random.fork_rng(devices=devices), torch.no_grad():
        torch.manual_seed(seed)
        set_test_mode(G, mode)
        try:
            yield G
        finally:
            G.load_state_dict(buffers, strict=False)
            G.train(was_training)


def validate(G, dataset, device, mode="paper", seed=0, channels_last=False):
    """Mean L1, PSNR and SSIM of G(x) against y over `dataset`, all on [0, 1] images
    (torchmetrics), one image at a time as at test time."""
    from torchmetrics.functional.image import (peak_signal_noise_ratio,
                                               structural_similarity_index_measure)
    totals = {"val_l1": 0.0, "val_psnr": 0.0, "val_ssim": 0.0}
    with evaluating(G, mode, seed):
        for i in range(len(dataset)):
            x, y = (t.unsqueeze(0).to(device) for t in dataset[i])
            if channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            fake, real = denormalize(G(x).float()), denormalize(y)
            totals["val_l1"] += (fake - real).abs().mean().item()
            totals["val_psnr"] += peak_signal_noise_ratio(fake, real, data_range=1.0).item()
            totals["val_ssim"] += structural_similarity_index_measure(fake, real,
                                                                      data_range=1.0).item()
    return {k: v / max(1, len(dataset)) for k, v in totals.items()}


def sample_grid(G, pairs, device, mode="paper", seed=0):
    """Rows of input | output | target in [0, 1] for a few fixed (x, y) pairs: (3 n, C, H, W)."""
    rows = []
    with evaluating(G, mode, seed):
        for x, y in pairs:
            fake = G(x.unsqueeze(0).to(device)).float().cpu()[0]
            rows += [denormalize(x), denormalize(fake), denormalize(y)]
    return torch.stack(rows)


# ---------------------------------------------------------------------------- logs


def end_of_epoch(cfg, G, val_set, fixed_pairs, device, epoch, step, writer, lr, samples_dir,
                  metrics_path, d, log):
    """Validation metrics and sample grids; every rank computes (SyncBatchNorm needs them all),
    rank 0 writes. Neither touches the training RNG or G's BatchNorm statistics. Returns the
    epoch's record (epoch, step, lr and, in validation epochs, val_l1, val_psnr, val_ssim)."""
    from torchvision.utils import make_grid, save_image
    record = {"epoch": epoch, "step": step, "lr": lr}
    if val_set and epoch % cfg.val_every == 0:
        record.update(validate(G, val_set, device, cfg.test_mode, cfg.seed, cfg.channels_last))
    if epoch % cfg.sample_every == 0:
        grid = sample_grid(G, fixed_pairs, device, cfg.test_mode, cfg.seed)
        if d.is_main:
            save_image(grid, samples_dir / f"epoch_{epoch:03d}.png", nrow=3)
            writer.add_image("samples (input | output | target)", make_grid(grid, nrow=3), step)
    if d.is_main:
        append_jsonl(metrics_path, record)
        for k, v in record.items():
            if k not in ("epoch", "step"):
                writer.add_scalar(f"val/{k}" if k != "lr" else "lr", v, step)
        if "val_psnr" in record:
            log(f"epoch {epoch}: val L1 {record['val_l1']:.4f}  PSNR {record['val_psnr']:.2f} dB  "
                f"SSIM {record['val_ssim']:.4f}")
    return record


def append_jsonl(path, record):
    with open(path, "a") as f:
        f.write(json.dumps(record) + "\n")


def truncate_jsonl(path, key, last):
    """Drop the records with record[key] > last (written after the checkpoint we resume from)."""
    if not path.is_file():
        return
    lines = [ln for ln in path.read_text().splitlines() if ln.strip()]
    keep = [ln for ln in lines if json.loads(ln).get(key, -1) <= last]
    path.write_text("".join(ln + "\n" for ln in keep))


def unwrap(model):
    """The plain nn.Module inside torch.compile and/or DistributedDataParallel wrappers."""
    model = getattr(model, "_orig_mod", model)
    model = getattr(model, "module", model)
    return getattr(model, "_orig_mod", model)


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
