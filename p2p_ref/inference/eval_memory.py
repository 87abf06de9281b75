"""Peak memory of p2p-eval on a large set, offline and by hand (minutes, not a test):

    nice -n 10 python -m p2p_ref.inference.eval_memory --images 2000 --size 256

It writes a synthetic test split of N images at S x S (once, into --work), a tiny generator
(num_downs 5, ngf 8), and runs p2p-eval on it in a fresh process, with FID and KID on a tiny
feature network in place of Inception (whose weights need a download): what is measured is
p2p-eval's own handling of the images, not Inception's size (~100 MB of weights plus one
batch's activations). Prints the child process's peak RSS (ru_maxrss), for N images and for a
small set, so that growth with N shows.
"""

import argparse
import resource
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from p2p_ref.datasets.synthetic import make_synthetic_dataset
from p2p_ref.paper.models import UNetGenerator
from p2p_ref.training.checkpoint import save_checkpoint


@dataclass
class MemoryConfig:
    images: int = 2000  # test images in the large set
    size: int = 256  # their side
    small: int = 100  # test images in the small set, for comparison
    work: str = "runs/eval-memory"  # datasets, checkpoint and eval outputs
    batch_size: int = 16  # p2p-eval --batch-size


class TinyFeatures(nn.Module):
    """A fixed random strided conv, averaged: [0, 1] RGB batch -> 8 numbers per image."""
    num_features = 8

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.conv = nn.Conv2d(3, 8, 4, stride=4)

    @torch.no_grad()
    def forward(self, x):
        return torch.tanh(self.conv(x.float())).mean(dim=(2, 3)).double()


def child(data, checkpoint, out, batch_size):
    """In the measured process: p2p-eval with the tiny features; prints the peak RSS in MiB."""
    from p2p_ref.inference.eval import eval_command
    torch.set_num_threads(1)
    start = time.perf_counter()
    eval_command(["--checkpoint", str(checkpoint), str(data), "--out", str(out), "--device",
                  "cpu", "--kid-subsets", "10", "--batch-size", str(batch_size)],
                 features=TinyFeatures())
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(f"PEAK_RSS_MIB {peak:.0f} SECONDS {time.perf_counter() - start:.0f}")


def measure(cfg, n):
    """Peak RSS (MiB) and seconds of p2p-eval on n synthetic test images, in a fresh process."""
    work = Path(cfg.work)
    data = make_synthetic_dataset(work / f"data_{n}_{cfg.size}", n_train=0, n_val=0, n_test=n,
                                  size=cfg.size)
    checkpoint = work / "tiny_g.pt"
    if not checkpoint.is_file():
        torch.manual_seed(0)
        G = UNetGenerator(num_downs=5, ngf=8)
        save_checkpoint(checkpoint, {"G": G.state_dict(), "config": dict(
            num_downs=5, ngf=8, norm="batch", direction="BtoA", crop_size=cfg.size,
            dataset="synthetic")})
    code = (f"from p2p_ref.inference.eval_memory import child; child({str(data)!r}, "
            f"{str(checkpoint)!r}, {str(work / f'eval_{n}')!r}, {cfg.batch_size})")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if proc.returncode:
        raise RuntimeError(f"p2p-eval on {n} images failed:\n{proc.stderr[-2000:]}")
    words = proc.stdout.split("PEAK_RSS_MIB")[-1].split()
    return float(words[0]), float(words[2])


def main(argv=None):
    p = argparse.ArgumentParser(prog="eval_memory", description=__doc__.splitlines()[0])
    for name, value in vars(MemoryConfig()).items():
        p.add_argument(f"--{name.replace('_', '-')}", type=type(value), default=value)
    cfg = MemoryConfig(**vars(p.parse_args(argv)))
    print(f"torch {torch.__version__}, {cfg.size} x {cfg.size}, batch {cfg.batch_size}")
    for n in (cfg.small, cfg.images):
        peak, seconds = measure(cfg, n)
        print(f"{n} images: peak RSS {peak:.0f} MiB ({seconds:.0f} s of p2p-eval)")


if __name__ == "__main__":
    main()
