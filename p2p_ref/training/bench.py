"""p2p-bench: throughput and peak memory of the training step, paper baseline vs fast path.

Every row times the same `p2p_ref.paper.train_step.train_step` (one D update and one G update):

- baseline: the paper-faithful setting: eager PyTorch, float32 everywhere (TF32 off), NCHW;
- fast: what wins on this device (`p2p_ref.training.fast_path.choose`): on a GPU bf16 autocast,
  channels-last, torch.compile, TF32, cuDNN autotuning and fused Adam; on a CPU bf16 autocast
  with channels-last where the CPU computes bf16 natively (AVX512-BF16, AMX), else the float32
  baseline itself.
  `--compile-mode reduce-overhead` (or max-autotune) adds CUDA graphs, which pay off when small
  batches leave the GPU waiting for kernel launches.

Every row is set up by `p2p_ref.training.device_setup.set_up_training`, the function
`p2p-train` sets its device up with, so `p2p-train --fast-path on` trains with the "fast" row.

`--each-option` adds one row per option on top of the baseline (channels-last, bf16, compile,
...), so you can see what each is worth on your machine. Each row runs in a fresh process, so
its peak memory is its own: the CUDA allocator's peak on a GPU, the process's peak resident
memory (RSS, which includes PyTorch itself) on a CPU. On a GPU the FLOPs of a step are counted
(torch.utils.flop_counter) to give TFLOP/s and the fraction of the GPU's dense bf16 peak.

    p2p-bench                                    # 256 x 256, batch 1, on the GPU if there is one
    p2p-bench --device cpu --size 128            # a laptop: about a minute
    p2p-bench --device cpu --size 128 --each-option
"""

import argparse
import json
import multiprocessing as mp
import re
import resource
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import torch

from p2p_ref.training.device_setup import set_up_training
from p2p_ref.training.fast_path import BASELINE, COMPILE_MODES, FastPath, choose
from p2p_ref.paper.models import PatchDiscriminator, UNetGenerator
from p2p_ref.paper.train_step import make_optimizers, train_step
from p2p_ref.training.devices import resolve_device

MIN_TIMED_STEPS = 2
# Dense (no sparsity) tensor-core peaks from NVIDIA's datasheets, TFLOP/s, first match wins.
# GPUs without bf16 units (T4) list their fp16 peak: the fast path runs fp16 there.
GPU_PEAKS = (
    (r"\bH200 NVL\b", 835, "bf16"), (r"\bG?H200\b", 989, "bf16"),
    (r"\bH100\b.*\bPCIe\b", 756, "bf16"), (r"\bH100 NVL\b", 835, "bf16"),
    (r"\bG?H100\b", 989, "bf16"), (r"\bA100\b", 312, "bf16"), (r"\bL4\b", 121, "bf16"),
    (r"\bT4\b", 65, "fp16"),
)


@dataclass
class BenchConfig:
    size: int = 256
    batch_size: int = 1
    steps: int | None = None        # timed steps; None: 20 on CUDA, 10 on CPU
    warmup: int | None = None       # untimed steps first (torch.compile compiles in the first);
    #                                 None: 5 on CUDA, 1 on CPU
    max_seconds: float | None = None  # stop a row's timing after this long (>= 2 timed steps);
    #                                   None: 20 s on CPU, no limit on CUDA; 0: no limit
    device: str = "auto"
    compile: bool | None = None     # torch.compile in the fast row; None: on for CUDA, off for CPU
    compile_mode: str = "default"
    each_option: bool = False
    flops: bool | None = None       # count a step's FLOPs; None: on CUDA only
    ngf: int = 64
    ndf: int = 64
    json: str | None = None         # also write the rows to this JSON file


def resolve(cfg):
    """cfg with the device's defaults filled in (steps, warmup, max_seconds, flops)."""
    device = resolve_device(cfg.device)
    cuda = device.type == "cuda"
    num_downs = cfg.size.bit_length() - 1
    if 2 ** num_downs != cfg.size or num_downs < 5:
        raise ValueError(f"--size {cfg.size}: expected a power of two >= 32 (the U-Net goes down "
                         f"to 1 x 1 and the PatchGAN needs at least 32 x 32)")
    for name in ("batch_size", "steps", "warmup"):
        value = getattr(cfg, name)
        if value is not None and value < 1:
            raise ValueError(f"--{name.replace('_', '-')} {value}: expected at least 1")
    return replace(cfg, device=device.type,
                   steps=cfg.steps or (20 if cuda else 10),
                   warmup=cfg.warmup or (5 if cuda else 1),
                   max_seconds=(cfg.max_seconds if cfg.max_seconds is not None
                                else (0 if cuda else 20.0)),
                   flops=cuda if cfg.flops is None else cfg.flops)


def rows_for(cfg):
    """[(label, FastPath)] to measure for a resolved cfg: baseline and fast, or each option."""
    device = torch.device(cfg.device)
    fast = choose(device, compile=cfg.compile, compile_mode=cfg.compile_mode)
    if not cfg.each_option:
        return [("baseline", BASELINE), ("fast", fast)]
    options = [("baseline", BASELINE), ("channels-last", FastPath(channels_last=True)),
               ("bf16", FastPath(amp="bf16"))]
    if device.type == "cuda":
        options += [("fp16", FastPath(amp="fp16")), ("tf32", FastPath(tf32=True))]
    options.append(("compile", FastPath(compile=True, compile_mode=cfg.compile_mode)))
    if device.type == "cpu":  # the CPU fast path with compile: the candidate it must beat
        options.append(("channels-last + compile", FastPath(channels_last=True, compile=True,
                                                            compile_mode=cfg.compile_mode)))
    for i, (label, settings) in enumerate(options):
        if settings == fast:  # the fast path is one of the options: say so, run it once
            options[i] = (f"{label} = fast", settings)
            return options
    return options + [("fast", fast)]


def peak_tflops(device_name):
    """(dense tensor-core TFLOP/s, its dtype) for a GPU name, or None for an unlisted GPU."""
    for pattern, tflops, dtype in GPU_PEAKS:
        if re.search(pattern, device_name):
            return tflops, dtype
    return None


def step_flops(cfg, device):
    """FLOPs of one training step at cfg.batch_size (counted at batch 1, eager float32: the
    count does not depend on dtype or memory format, and grows linearly with the batch)."""
    from torch.utils.flop_counter import FlopCounterMode
    torch.manual_seed(0)
    G = UNetGenerator(num_downs=cfg.size.bit_length() - 1, ngf=cfg.ngf).to(device)
    D = PatchDiscriminator(ndf=cfg.ndf).to(device)
    x, y = (torch.rand(1, 3, cfg.size, cfg.size, device=device) * 2 - 1 for _ in range(2))
    opt_G, opt_D = make_optimizers(G, D)
    counter = FlopCounterMode(display=False)
    with counter:
        train_step(G, D, opt_G, opt_D, x, y)
    return counter.get_total_flops() * cfg.batch_size


def _cudagraph_skips():
    try:
        from torch._dynamo.utils import counters
        return int(counters["inductor"]["cudagraph_skips"])
    except (ImportError, KeyError, TypeError):
        return None


def _models_and_batch(cfg, device):
    """G and D of the benchmark's size and a random batch (x, y) in [-1, 1] on `device`."""
    torch.manual_seed(0)
    G = UNetGenerator(num_downs=cfg.size.bit_length() - 1, ngf=cfg.ngf).to(device)
    D = PatchDiscriminator(ndf=cfg.ndf).to(device)
    x, y = (torch.rand(cfg.batch_size, 3, cfg.size, cfg.size, device=device) * 2 - 1
            for _ in range(2))
    return G, D, x, y


def _peak_memory(device):
    """(peak MiB, device name): the CUDA allocator's peak, or the process's peak RSS on a CPU."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2 ** 20, torch.cuda.get_device_name(device)
    # ru_maxrss is in KiB on Linux, bytes on macOS
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / (2 ** 20 if sys.platform == "darwin" else 2 ** 10)
    return peak, "cpu"


def _flops_columns(cfg, device, name, ms):
    """FLOPs per step, TFLOP/s and, on a known GPU, the fraction of its datasheet peak."""
    flops = step_flops(cfg, device)
    peak_info = peak_tflops(name) if device.type == "cuda" else None
    return dict(flops_per_step=flops, tflops=flops / ms / 1e9,
                peak_tflops=peak_info and peak_info[0], peak_dtype=peak_info and peak_info[1],
                peak_fraction=peak_info and flops / ms / 1e9 / peak_info[0])


def measure(cfg, label, fast):
    """Time one row (cfg resolved): fast.warmup untimed steps, then cfg.steps timed ones (fewer
    if cfg.max_seconds runs out, never fewer than 2). Returns the row as a dict."""
    device = torch.device(cfg.device)
    G, D, x, y = _models_and_batch(cfg, device)
    setup = set_up_training(fast, device, G, D)  # what p2p-train does with the same settings

    def step():
        return setup.step(x, y)

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    start = time.perf_counter()
    step()
    sync()
    first_step = time.perf_counter() - start
    for _ in range(cfg.warmup - 1):
        step()
    sync()
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    start, timed = time.perf_counter(), 0
    while timed < cfg.steps:
        losses = step()
        timed += 1
        if (cfg.max_seconds and timed >= MIN_TIMED_STEPS
                and time.perf_counter() - start > cfg.max_seconds):
            break
    sync()
    seconds = time.perf_counter() - start
    bad = {k: v.item() for k, v in losses.items() if not torch.isfinite(v)}
    if bad:
        raise RuntimeError(f"non-finite losses in the {label} row: {bad}")
    peak, name = _peak_memory(device)
    ms = 1000 * seconds / timed
    row = {"label": label, "config": fast.describe(), "settings": asdict(fast), "device": name,
           "size": cfg.size, "batch_size": cfg.batch_size, "timed_steps": timed,
           "warmup": cfg.warmup, "ms_per_step": ms, "steps_per_s": 1000 / ms,
           "images_per_s": 1000 * cfg.batch_size / ms, "first_step_s": first_step,
           "compile_s": max(0.0, first_step - ms / 1000) if fast.compile else None,
           "peak_mib": peak, "peak_memory": "CUDA allocator" if device.type == "cuda" else "RSS",
           "cudagraph_skips": _cudagraph_skips() if fast.cuda_graphs else None,
           "torch": torch.__version__}
    if cfg.flops:
        row.update(_flops_columns(cfg, device, name, ms))
    return row


def _measure_safely(cfg, label, fast):
    try:
        return measure(cfg, label, fast)
    except Exception as e:  # reported as the row's error; the other rows still run
        return {"label": label, "config": fast.describe(), "settings": asdict(fast),
                "batch_size": cfg.batch_size, "error": f"{type(e).__name__}: {e}"[:2000]}


def measure_in_child(cfg, label, fast, timeout=None):
    """measure() in a fresh process (its own peak memory and compile caches in memory); a row
    that fails or runs past `timeout` seconds comes back with an "error" instead of numbers."""
    pool = mp.get_context("spawn").Pool(1)
    try:
        return pool.apply_async(_measure_safely, (cfg, label, fast)).get(timeout)
    except mp.TimeoutError:
        return {"label": label, "config": fast.describe(), "settings": asdict(fast),
                "batch_size": cfg.batch_size, "error": f"timed out after {timeout:.0f} s"}
    finally:
        pool.terminate()
        pool.join()


def run(cfg):
    """Every row of cfg (resolved here), baseline first; returns them as dicts."""
    cfg = resolve(cfg)
    return [measure_in_child(cfg, label, fast) for label, fast in rows_for(cfg)]


def format_table(rows, cfg):
    cfg = resolve(cfg)
    good = [r for r in rows if "error" not in r]
    mem = f"peak {good[0]['peak_memory']} MiB" if good else "peak MiB"
    width = max(len(f"{r['label']}: {r['config']}") for r in rows)
    flops = any("tflops" in r for r in good)
    head = f"{'config':<{width}}  {'images/s':>9}  {'steps/s':>8}  {'ms/step':>9}  " \
           f"{'1st step s':>10}  {mem:>17}"
    lines = [f"p2p-bench: one train step (D update + G update), batch {cfg.batch_size}, "
             f"{cfg.size} x {cfg.size}, ngf {cfg.ngf}, ndf {cfg.ndf}, on "
             f"{good[0]['device'] if good else cfg.device}; up to {cfg.steps} timed steps after "
             f"{cfg.warmup} warm-up, torch {torch.__version__}",
             head + ("  TFLOP/s  % of peak" if flops else "")]
    for r in rows:
        name = f"{r['label']}: {r['config']}"
        if "error" in r:
            lines.append(f"{name:<{width}}  FAILED: {r['error']}")
            continue
        line = (f"{name:<{width}}  {r['images_per_s']:>9.2f}  {r['steps_per_s']:>8.2f}  "
                f"{r['ms_per_step']:>9.1f}  {r['first_step_s']:>10.1f}  {r['peak_mib']:>17.0f}")
        if flops:
            fraction = r.get("peak_fraction")
            line += f"  {r['tflops']:>7.1f}  " + (f"{100 * fraction:>9.1f}" if fraction else
                                                   f"{'-':>9}")
        lines.append(line + (f"  ({r['timed_steps']} timed)" if r["timed_steps"] < cfg.steps
                             else ""))
    base = next((r for r in good if r["label"] == "baseline"), None)
    if base:
        ups = [f"{r['label']} {r['images_per_s'] / base['images_per_s']:.2f}x"
               for r in good if r is not base]
        if ups:
            lines.append("speed-up over the baseline: " + ", ".join(ups))
    if flops and good and good[0].get("peak_tflops"):
        lines.append(f"peak: {good[0]['peak_tflops']} TFLOP/s dense {good[0]['peak_dtype']} "
                     f"({good[0]['device']}, datasheet)")
    return "\n".join(lines)


def parse_args(argv=None):
    c = BenchConfig()
    p = argparse.ArgumentParser(prog="p2p-bench", description="Train-step throughput and peak "
                                "memory: the paper-faithful eager FP32 baseline vs the fast path.")
    p.add_argument("--size", type=int, default=c.size, help="image side, a power of two >= 32")
    p.add_argument("--batch-size", type=int, default=c.batch_size)
    p.add_argument("--steps", type=int, default=None, help="timed steps (default: 20 on CUDA, "
                   "10 on CPU)")
    p.add_argument("--warmup", type=int, default=None, help="untimed steps first (default: 5 on "
                   "CUDA, 1 on CPU)")
    p.add_argument("--max-seconds", type=float, default=None, help="stop timing a row after "
                   "this many seconds, with at least 2 timed steps (default: 20 on CPU, no limit "
                   "on CUDA; 0: no limit)")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default=c.device)
    p.add_argument("--compile", action=argparse.BooleanOptionalAction, default=None,
                   help="torch.compile in the fast row (default: on for CUDA, off for CPU)")
    p.add_argument("--compile-mode", choices=COMPILE_MODES, default=c.compile_mode,
                   help="reduce-overhead / max-autotune add CUDA graphs")
    p.add_argument("--each-option", action="store_true", help="one row per option on top of "
                   "the baseline (channels-last, bf16, compile, ...) besides the fast path")
    p.add_argument("--flops", action=argparse.BooleanOptionalAction, default=None,
                   help="count a step's FLOPs: TFLOP/s and %% of the GPU's peak (default: on CUDA)")
    p.add_argument("--ngf", type=int, default=c.ngf)
    p.add_argument("--ndf", type=int, default=c.ndf)
    p.add_argument("--json", default=None, help="also write the rows to this JSON file")
    return BenchConfig(**vars(p.parse_args(argv)))


def bench_command(argv=None):
    """p2p-bench for Python callers: runs the rows and returns them."""
    cfg = parse_args(argv)
    try:
        rows = run(cfg)
    except (ValueError, RuntimeError) as e:
        sys.exit(f"p2p-bench: {e}")
    print(format_table(rows, cfg))
    if cfg.json:
        Path(cfg.json).parent.mkdir(parents=True, exist_ok=True)
        Path(cfg.json).write_text(json.dumps({"config": asdict(resolve(cfg)), "rows": rows},
                                             indent=2) + "\n")
    failed = [r["label"] for r in rows if "error" in r]
    if failed:
        sys.exit(f"p2p-bench: {len(failed)} row(s) failed: {', '.join(failed)}")
    return rows


def main(argv=None):
    """The p2p-bench command (exit status 0; `bench_command` returns the rows)."""
    bench_command(argv)


if __name__ == "__main__":
    main()
