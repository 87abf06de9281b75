"""p2p-bench: throughput and peak memory of the training step, paper baseline vs fast path.

Both rows time the same `p2p_ref.train.train_step` (one D update and one G update):

- baseline: the paper-faithful setting: eager PyTorch, float32 everywhere (TF32 off), NCHW;
- fast: channels-last memory format, bf16 autocast, torch.compile (on CUDA by default, on CPU with
  --compile), TF32 and cuDNN autotuning, fused Adam on CUDA. `--compile-mode reduce-overhead`
  (or max-autotune) adds CUDA graphs, which pay off when small batches leave the GPU waiting
  for kernel launches.

Each row runs in a fresh process, so its peak memory is its own: the CUDA allocator's peak on a
GPU, the process's peak resident memory (RSS, which includes PyTorch itself) on a CPU.

    p2p-bench                                   # 256 x 256, batch 1, on the GPU if there is one
    p2p-bench --device cpu --size 64 --steps 5  # a quick look on a laptop
"""

import argparse
import multiprocessing as mp
import resource
import sys
import time
from dataclasses import dataclass

import torch

from p2p_ref.models import PatchDiscriminator, UNetGenerator
from p2p_ref.train import make_optimizers, train_step
from p2p_ref.processes import resolve_device

COMPILE_MODES = ("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")


@dataclass
class BenchConfig:
    size: int = 256
    batch_size: int = 1
    steps: int = 20
    warmup: int = 5                # untimed steps first (torch.compile compiles here)
    device: str = "auto"
    compile: bool | None = None    # None: on for CUDA, off for CPU
    compile_mode: str = "default"
    ngf: int = 64
    ndf: int = 64


def describe(fast, device, cfg):
    if not fast:
        return "baseline: eager, fp32, NCHW"
    use_compile = cfg.compile if cfg.compile is not None else device.type == "cuda"
    parts = ["channels-last", "bf16 autocast"]
    if use_compile:
        parts.append(f"torch.compile({cfg.compile_mode})")
    if device.type == "cuda":
        parts += ["TF32", "fused Adam"]
    return "fast: " + ", ".join(parts)


def measure(cfg, fast):
    """Time cfg.steps training steps after cfg.warmup; returns images/s, ms/step, peak MiB."""
    device = resolve_device(cfg.device)
    if device.type == "cuda":  # the baseline is true float32: no TF32 in matmuls or convolutions
        torch.backends.cuda.matmul.allow_tf32 = fast
        torch.backends.cudnn.allow_tf32 = fast
        torch.backends.cudnn.benchmark = fast
    num_downs = cfg.size.bit_length() - 1
    if 2 ** num_downs != cfg.size or num_downs < 2:
        raise ValueError(f"--size {cfg.size}: expected a power of two >= 4 (the U-Net goes "
                         f"down to 1 x 1)")
    torch.manual_seed(0)
    G = UNetGenerator(num_downs=num_downs, ngf=cfg.ngf).to(device)
    D = PatchDiscriminator(ndf=cfg.ndf).to(device)
    x = torch.rand(cfg.batch_size, 3, cfg.size, cfg.size, device=device) * 2 - 1
    y = torch.rand(cfg.batch_size, 3, cfg.size, cfg.size, device=device) * 2 - 1
    if fast:
        G, D = G.to(memory_format=torch.channels_last), D.to(memory_format=torch.channels_last)
        x, y = (t.contiguous(memory_format=torch.channels_last) for t in (x, y))
    opt_G, opt_D = make_optimizers(G, D, fused=True if fast and device.type == "cuda" else None)
    G_run, D_run = G, D
    use_compile = fast and (cfg.compile if cfg.compile is not None else device.type == "cuda")
    if use_compile:
        G_run = torch.compile(G, mode=cfg.compile_mode)
        D_run = torch.compile(D, mode=cfg.compile_mode)
    amp = torch.bfloat16 if fast else None

    graphs = use_compile and cfg.compile_mode in ("reduce-overhead", "max-autotune")

    def step():
        if graphs:  # CUDA graphs: tell torch.compile a new iteration starts (outputs are reused)
            torch.compiler.cudagraph_mark_step_begin()
        return train_step(G_run, D_run, opt_G, opt_D, x, y, autocast_dtype=amp)

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    for _ in range(cfg.warmup):
        losses = step()
    sync()
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    start = time.perf_counter()
    for _ in range(cfg.steps):
        losses = step()
    sync()
    seconds = time.perf_counter() - start
    if not all(torch.isfinite(v) for v in losses.values()):
        raise RuntimeError(f"non-finite losses in the {'fast' if fast else 'baseline'} run: "
                           f"{ {k: v.item() for k, v in losses.items()} }")
    if device.type == "cuda":
        peak = torch.cuda.max_memory_allocated(device) / 2 ** 20
        name = torch.cuda.get_device_name(device)
    else:  # ru_maxrss is in KiB on Linux, bytes on macOS
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / (2 ** 20 if sys.platform ==
                                                                       "darwin" else 2 ** 10)
        name = "cpu"
    return {"config": describe(fast, device, cfg), "images_per_s": cfg.steps * cfg.batch_size
            / seconds, "ms_per_step": 1000 * seconds / cfg.steps, "peak_mib": peak,
            "device": name}


def _measure_in_child(cfg, fast):
    with mp.get_context("spawn").Pool(1) as pool:  # a fresh process: its own peak memory
        return pool.apply(measure, (cfg, fast))


def run(cfg):
    """Both rows, baseline first; returns them as dicts."""
    return [_measure_in_child(cfg, fast) for fast in (False, True)]


def format_table(rows, cfg):
    mem = "peak CUDA MiB" if rows[0]["device"] != "cpu" else "peak RSS MiB"
    width = max(len(r["config"]) for r in rows)
    lines = [f"p2p-bench: one train step (D update + G update), batch {cfg.batch_size}, "
             f"{cfg.size} x {cfg.size}, ngf {cfg.ngf}, ndf {cfg.ndf}, on {rows[0]['device']}; "
             f"{cfg.steps} timed steps after {cfg.warmup} warm-up",
             f"{'config':<{width}}  {'images/s':>9}  {'ms/step':>9}  {mem:>13}"]
    for r in rows:
        lines.append(f"{r['config']:<{width}}  {r['images_per_s']:>9.2f}  "
                     f"{r['ms_per_step']:>9.1f}  {r['peak_mib']:>13.0f}")
    lines.append(f"speed-up (fast / baseline): {rows[1]['images_per_s'] / rows[0]['images_per_s']:.2f}x")
    return "\n".join(lines)


def main(argv=None):
    c = BenchConfig()
    p = argparse.ArgumentParser(prog="p2p-bench", description="Train-step throughput and peak "
                                "memory: the paper-faithful eager FP32 baseline vs the fast path.")
    p.add_argument("--size", type=int, default=c.size, help="image side, a power of two")
    p.add_argument("--batch-size", type=int, default=c.batch_size)
    p.add_argument("--steps", type=int, default=c.steps, help="timed steps")
    p.add_argument("--warmup", type=int, default=c.warmup, help="untimed steps first")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default=c.device)
    p.add_argument("--compile", action=argparse.BooleanOptionalAction, default=None,
                   help="torch.compile in the fast row (default: on for CUDA, off for CPU)")
    p.add_argument("--compile-mode", choices=COMPILE_MODES, default=c.compile_mode,
                   help="reduce-overhead / max-autotune add CUDA graphs")
    p.add_argument("--ngf", type=int, default=c.ngf)
    p.add_argument("--ndf", type=int, default=c.ndf)
    cfg = BenchConfig(**vars(p.parse_args(argv)))
    try:
        rows = run(cfg)
    except (ValueError, RuntimeError) as e:
        sys.exit(f"p2p-bench: {e}")
    print(format_table(rows, cfg))
    return rows


if __name__ == "__main__":
    main()
