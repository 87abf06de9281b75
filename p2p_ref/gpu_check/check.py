"""gpu-check: one command that proves the GPU fast path and measures it (`make gpu-check`).

    PYTHONPATH=. python3 -m p2p_ref.gpu_check            # what `make gpu-check` runs
    PYTHONPATH=. python3 -m p2p_ref.gpu_check --out runs/gpu-check --budget 480

It uses the machine's own Python and PyTorch and installs nothing. In at most --budget seconds
(8 minutes) it runs, in this order:

1. correctness: `pytest -m cuda` (tests/training/test_cuda.py): fp32 vs bf16 and fp16 autocast with the
   GradScaler, channels-last, torch.compile (default and reduce-overhead), fused Adam, and a
   torchrun process group over nccl with SyncBatchNorm for two steps;
2. speed at batch 1: p2p-bench's eager FP32 baseline vs the fast path in each compile mode, at
   256 x 256 (steps/s, images/s, peak memory);
3. a real run: the Colab notebook's GPU configuration on the synthetic set for a fixed number of
   steps (time per epoch of 400 pairs, first step with compilation, images/s);
4. inference: p2p-translate's latency per 256 x 256 image on the GPU and the CPU;
5. speed at batch 16 and 64: images/s, TFLOP/s and the fraction of the GPU's bf16 peak;
6. if time is left: the other compile mode at the large batches, the fast path without compile.
The real run and inference come before the large batches: they are what a learner runs.

A step that fails is recorded and the others still run; a step (or benchmark row) that would
not fit in what is left of the budget is skipped and says so. It writes gpu-check.json and
gpu-check.md (markdown tables for the README) to --out and exits 1 if any step failed. Without
CUDA it says so in one line and exits 0. `--dry-run-cpu` runs every step with tiny models on
the CPU, which is how the test suite checks this script. The steps are in `steps`, the
report in `report`, the torchrun script in `ddp`.
"""

import argparse
import sys
import time
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from p2p_ref.gpu_check import steps
from p2p_ref.training.fast_path import COMPILE_MODES
from p2p_ref.gpu_check.report import environment, make_report, markdown, write_report

RESERVE_S = 15  # kept back at the end for writing the report


@dataclass
class CheckConfig:
    out: str = "runs/gpu-check"
    budget: float = 480.0          # seconds of wall time for everything
    data_root: str = "datasets"    # where the synthetic set is (made if missing)
    real_steps: int = 1200         # the real run: 3 epochs of 400 pairs
    infer_images: int = 20
    compile_modes: tuple = ("default", "reduce-overhead")
    batch_sizes: tuple = (16, 64)
    skip: tuple = ()
    dry_run_cpu: bool = False
    # set by the dry run (tiny models on the CPU); the GPU check uses the defaults
    bench_size: int = 256
    ngf: int = 64
    ndf: int = 64
    b1_steps: int = 50
    b1_warmup: int = 10
    batch_steps: int = 20
    batch_warmup: int = 5
    real_overrides: dict = field(default_factory=dict)


DRY_RUN = dict(bench_size=32, ngf=8, ndf=8, b1_steps=2, b1_warmup=1, batch_steps=2,
               batch_warmup=1, batch_sizes=(2,), compile_modes=(), real_steps=8, infer_images=2,
               real_overrides=dict(amp="off", compile=False, load_size=72, crop_size=64,
                                   num_downs=6, ngf=8, ndf=8, num_workers=0, device="cpu"))


@dataclass
class Step:
    name: str
    title: str
    run: object                    # function(ctx) -> dict with "status"
    min_seconds: float             # skipped when less than this is left
    cap_seconds: float             # the most its child processes may take
    optional: bool = False         # earlier steps keep min_seconds free for the later ones
    #                                that are not optional


STEPS = (
    Step("correctness", "pytest -m cuda: autocast + GradScaler, channels-last, torch.compile, "
         "fused Adam, torchrun nccl + SyncBatchNorm", steps.correctness, 20, 240),
    Step("speed-batch-1", "baseline vs fast path per compile mode, 256 x 256, batch 1",
         steps.speed_batch1, 20, 420),
    Step("real-run", "the Colab notebook's GPU configuration on the synthetic set",
         steps.real_run, 90, 240),
    Step("inference", "p2p-translate latency per 256 x 256 image, GPU and CPU", steps.inference,
         20, 120),
    Step("speed-large-batch", "baseline vs fast path at the large batches (16, 64)",
         steps.speed_large_batch, 20, 420, optional=True),
    Step("speed-extra", "optional: other compile modes at large batches, fast path uncompiled",
         steps.speed_extra, 60, 420, optional=True),
)
STEP_NAMES = tuple(s.name for s in STEPS)


class Budget:
    """Wall-clock seconds left of `seconds` since creation (clock: time.monotonic)."""

    def __init__(self, seconds, clock=time.monotonic):
        self.seconds, self.clock, self.start = seconds, clock, clock()

    def elapsed(self):
        return self.clock() - self.start

    def remaining(self):
        return self.seconds - self.elapsed()

    def allows(self, seconds):
        return self.remaining() - RESERVE_S >= seconds

    def timeout(self, cap, grace=0):
        """A child's time limit: at most cap, and never past the budget (minus the reserve)."""
        return max(1.0, min(cap, self.remaining() - RESERVE_S - grace))


@dataclass
class Context:
    config: CheckConfig
    out: Path
    budget: Budget
    cuda: bool
    device: torch.device
    in_process: bool = False       # benchmark rows in this process (the dry run: faster)
    compile_row_seconds: float = 60  # what a compiled benchmark row needs at least
    step: Step | None = None
    reserve: float = 0             # seconds kept for the later steps that are not optional

    def allows(self, seconds):
        return self.budget.allows(seconds + self.reserve)

    def timeout(self, cap, grace=0):
        return self.budget.timeout(cap, grace + self.reserve)


def run_steps(ctx, step_list=STEPS):
    """Run every step in order; returns one record per step (name, title, status, seconds,
    note, details, error). An exception fails its step only."""
    records = []
    for i, step in enumerate(step_list):
        record = {"name": step.name, "title": step.title}
        ctx.reserve = sum(s.min_seconds for s in step_list[i + 1:]
                          if not s.optional and s.name not in ctx.config.skip)
        start = time.perf_counter()
        if step.name in ctx.config.skip:
            record.update(status="skip", note="--skip")
        elif not ctx.allows(step.min_seconds):
            record.update(status="skip", note=(
                f"time budget: {ctx.budget.remaining():.0f} s left ({ctx.reserve:.0f} s of them "
                f"kept for later steps), the step needs at least {step.min_seconds:.0f} s"))
        else:
            ctx.step = step
            print(f"gpu-check: {step.name} ({ctx.budget.elapsed():.0f} s elapsed) ...", flush=True)
            try:
                details = step.run(ctx)
                record.update(status=details.pop("status"), note=details.pop("note", ""),
                              details=details)
            except Exception as e:  # recorded; the next steps still run
                record.update(status="fail", note=f"{type(e).__name__}: {str(e)[:300]}",
                              error=traceback.format_exc()[-4000:])
        record["seconds"] = time.perf_counter() - start
        print(f"gpu-check: {step.name}: {record['status']} {record.get('note', '')}", flush=True)
        records.append(record)
    return records


# ---------------------------------------------------------------------------- command line


def parse_args(argv=None):
    c = CheckConfig()
    p = argparse.ArgumentParser(prog="gpu-check", description="Prove and measure the GPU fast "
                                "path in one go (make gpu-check). Without CUDA: one line, exit 0.")
    p.add_argument("--out", default=c.out, help="report folder (default: %(default)s)")
    p.add_argument("--budget", type=float, default=c.budget,
                   help="seconds of wall time for everything (default: %(default)s)")
    p.add_argument("--data-root", default=c.data_root,
                   help="where the synthetic set is, or is made (default: %(default)s)")
    p.add_argument("--real-steps", type=int, default=c.real_steps,
                   help="steps of the real run (default: %(default)s, 3 epochs)")
    p.add_argument("--compile-modes", nargs="+", choices=COMPILE_MODES, default=c.compile_modes,
                   help="the fast path's torch.compile modes (default: %(default)s)")
    p.add_argument("--batch-sizes", nargs="+", type=int, default=c.batch_sizes,
                   help="the large batches (default: %(default)s)")
    p.add_argument("--skip", nargs="+", choices=STEP_NAMES, default=(), help="steps to leave out")
    p.add_argument("--dry-run-cpu", action="store_true", help="every step with tiny models on "
                   "the CPU, to test this script without a GPU (measures nothing)")
    args = p.parse_args(argv)
    if args.budget <= RESERVE_S:
        p.error(f"--budget {args.budget:g}: expected more than {RESERVE_S} seconds")
    for name in ("real_steps",):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} {getattr(args, name)}: expected at least 1")
    if any(b < 1 for b in args.batch_sizes):
        p.error(f"--batch-sizes {args.batch_sizes}: expected whole numbers >= 1")
    cfg = CheckConfig(out=args.out, budget=args.budget, data_root=args.data_root,
                      real_steps=args.real_steps, compile_modes=tuple(args.compile_modes),
                      batch_sizes=tuple(args.batch_sizes), skip=tuple(args.skip),
                      dry_run_cpu=args.dry_run_cpu)
    if cfg.dry_run_cpu:
        cfg = CheckConfig(**{**asdict(cfg), **DRY_RUN})
    return cfg


def main(argv=None):
    cfg = parse_args(argv)
    cuda = torch.cuda.is_available()
    if not cuda and not cfg.dry_run_cpu:
        print(f"gpu-check: no CUDA GPU here (PyTorch {torch.__version__}, "
              f"torch.cuda.is_available() is False): nothing to check; run it on a machine "
              f"with an NVIDIA GPU")
        return 0
    budget = Budget(cfg.budget)
    out = Path(cfg.out).resolve()  # absolute: child processes run in the repository's root
    out.mkdir(parents=True, exist_ok=True)
    ctx = Context(cfg, out, budget, cuda=cuda and not cfg.dry_run_cpu,
                  device=torch.device("cpu" if cfg.dry_run_cpu else "cuda"),
                  in_process=cfg.dry_run_cpu)
    env = environment(ctx.cuda)
    records = run_steps(ctx)
    report = make_report(cfg, env, records, budget.elapsed())
    json_path, md_path = write_report(report, out)
    print(f"\n{markdown(report)}\ngpu-check: wrote {json_path} and {md_path}")
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
