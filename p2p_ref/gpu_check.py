"""gpu-check: one command that proves the GPU fast path and measures it (`make gpu-check`).

    PYTHONPATH=. python3 -m p2p_ref.gpu_check            # what `make gpu-check` runs
    PYTHONPATH=. python3 -m p2p_ref.gpu_check --out runs/gpu-check --budget 480

It uses the machine's own Python and PyTorch and installs nothing. In at most --budget seconds
(8 minutes) it runs, in this order:

1. correctness: `pytest -m cuda` (tests/test_cuda.py): fp32 vs bf16 and fp16 autocast with the
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
the CPU, which is how the test suite checks this script.
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import time
import traceback
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import torch

from p2p_ref import gpu_check_steps as steps
from p2p_ref.fast_path import COMPILE_MODES, cpu_name

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


def _git_commit():
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=steps.REPO,
                             capture_output=True, text=True, timeout=10)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def _nvidia_driver():
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=20)
        return out.stdout.strip().splitlines()[0] if out.returncode == 0 and out.stdout else None
    except (OSError, subprocess.SubprocessError):
        return None


def environment(cuda):
    """The machine, the software and the date, for the report."""
    env = {"date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
           "torch": torch.__version__, "python": platform.python_version(), "cpu": cpu_name(),
           "cpu_count": os.cpu_count(), "platform": platform.platform(), "commit": _git_commit()}
    if cuda:
        props = torch.cuda.get_device_properties(0)
        env.update(gpu=props.name, gpu_count=torch.cuda.device_count(),
                   gpu_memory_gib=round(props.total_memory / 2 ** 30, 1),
                   compute_capability=f"{props.major}.{props.minor}", cuda=torch.version.cuda,
                   cudnn=torch.backends.cudnn.version(), driver=_nvidia_driver())
    return env


def make_report(config, env, records, wall_s):
    failed = [r["name"] for r in records if r["status"] == "fail"]
    return {"ok": not failed, "failed": failed, "wall_s": wall_s, "budget_s": config.budget,
            "environment": env, "config": asdict(config), "steps": records}


# ---------------------------------------------------------------------------- markdown


def _fmt(value, digits=1):
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.{digits}f}" if abs(value) >= 10 ** -digits or value == 0 else f"{value:.2g}"
    return str(value)


def _table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(map(str, row)) + " |" for row in rows]


def _step(report, name):
    return next((r for r in report["steps"] if r["name"] == name), None)


def _speed_table(rows, batch_one):
    if batch_one:
        header = ["configuration", "steps/s", "images/s", "ms/step", "first step s (compile)",
                  "peak MiB"]
    else:
        header = ["configuration", "batch", "images/s", "TFLOP/s", "% of peak", "peak MiB"]
    body = []
    for r in rows:
        name = f"{r['label']}: {r['config']}"
        if "error" in r or "skipped" in r:
            note = f"FAILED: {r['error'][:200]}" if "error" in r else f"not run ({r['skipped']})"
            body.append([name] + ([note] + ["-"] * (len(header) - 2) if batch_one else
                                  [r.get("batch_size", "-"), note] + ["-"] * (len(header) - 3)))
        elif batch_one:
            body.append([name, _fmt(r["steps_per_s"]), _fmt(r["images_per_s"]),
                         _fmt(r["ms_per_step"], 2), _fmt(r["first_step_s"]), _fmt(r["peak_mib"], 0)])
        else:
            fraction = r.get("peak_fraction")
            body.append([name, r["batch_size"], _fmt(r["images_per_s"]), _fmt(r.get("tflops")),
                         _fmt(100 * fraction) if fraction else "-", _fmt(r["peak_mib"], 0)])
    return _table(header, body)


def markdown(report):
    """gpu-check.md: the environment, one line per step, then a table per measurement."""
    env = report["environment"]
    machine = (f"{env['gpu']} ({env['gpu_memory_gib']} GiB, compute capability "
               f"{env['compute_capability']}, driver {env.get('driver') or '?'}, CUDA "
               f"{env.get('cuda')}, cuDNN {env.get('cudnn')})" if "gpu" in env else
               "no GPU (--dry-run-cpu: tiny models on the CPU, nothing here is a measurement)")
    lines = [f"# gpu-check: {'PASS' if report['ok'] else 'FAIL: ' + ', '.join(report['failed'])}",
             "", f"{env['date']}; {machine}; {env['cpu']}, {env['cpu_count']} cores; "
                 f"PyTorch {env['torch']}, Python {env['python']}; commit {env.get('commit') or '?'}; "
                 f"{report['wall_s'] / 60:.1f} of {report['budget_s'] / 60:.1f} minutes.", ""]
    lines += _table(["step", "result", "seconds", "note"],
                    [[f"{r['name']}: {r['title']}", r["status"].upper(), _fmt(r["seconds"], 0),
                      r.get("note", "")] for r in report["steps"]])
    step = _step(report, "correctness")
    if step and step.get("details", {}).get("tests"):
        lines += ["", "## Correctness (pytest -m cuda)", ""]
        rows = []
        for t in step["details"]["tests"]:
            v = t["values"]
            measured = ", ".join(f"{k} {_fmt(v[k], 3) if isinstance(v[k], float) else v[k]}"
                                 for k in v if k != "losses" and "tolerance" not in k)
            tol = ", ".join(f"{k} {v[k]}" for k in v if "tolerance" in k)
            rows.append([t["name"], t["outcome"], measured or t["message"][:150], tol or "-"])
        lines += _table(["test", "result", "measured", "tolerance"], rows)
    for name, title, batch_one in (
            ("speed-batch-1", "## Speed: one training step, 256 x 256, batch 1", True),
            ("speed-large-batch", "## Speed: large batches, 256 x 256", False),
            ("speed-extra", "## Speed: other settings", False)):
        step = _step(report, name)
        if step and step.get("details", {}).get("rows"):
            rows = step["details"]["rows"]
            good = [r for r in rows if "images_per_s" in r]
            peak = next((r for r in good if r.get("peak_tflops")), None)
            lines += ["", title, ""] + _speed_table(rows, batch_one)
            if peak:
                lines += ["", f"% of peak: measured FLOPs per step (torch.utils.flop_counter) / "
                              f"step time / {peak['peak_tflops']} TFLOP/s, the {peak['device']}'s "
                              f"dense {peak['peak_dtype']} peak (datasheet)."]
    step = _step(report, "real-run")
    if step and "details" in step and step["details"].get("steps"):
        d, s = step["details"], step["details"]["settings"]
        settings = (f"amp {s['amp']}, channels-last {s['channels_last']}, compile {s['compile']}, "
                    f"batch {s['batch_size']}, {s['crop_size']} x {s['crop_size']}, "
                    f"{s['num_workers']} data workers")
        lines += ["", "## Real run: the Colab notebook's GPU configuration, synthetic set", ""]
        lines += _table(["measurement", "value"], [
            ["settings", settings],
            ["steps", f"{d['steps']} of {d['max_steps']} ({d['run_status']})"],
            [f"time per epoch of {d['pairs_per_epoch']} pairs", f"{_fmt(d.get('epoch_s'))} s "
                                                                 f"({d.get('epoch_s_how', '-')})"],
            ["first epoch (compilation included)", f"{_fmt(d.get('epoch_1_s'))} s"],
            ["first step (compilation, data workers)", f"{_fmt(d.get('first_step_s'))} s"],
            ["steady step", f"{_fmt(d.get('steady_ms_per_step'), 2)} ms, "
                            f"{_fmt(d.get('images_per_s'))} images/s"]])
    step = _step(report, "inference")
    if step and step.get("details", {}).get("rows"):
        d = step["details"]
        lines += ["", "## Inference: p2p-translate, one 256 x 256 image (paper test mode, fp32)", ""]
        lines += _table(["device", "median ms", "p90 ms", "images"],
                        [[r["device"], _fmt(r["median_ms"]), _fmt(r["p90_ms"]), r["images"]]
                         for r in d["rows"]])
        cli = d["cli"]
        lines += ["", f"The p2p-translate command on {cli['device']}: {cli['images']} images in "
                      f"{cli['seconds']:.1f} s, start-up and model loading included ({d['checkpoint']})."]
    failures = [r for r in report["steps"] if r["status"] == "fail"]
    if failures:
        lines += ["", "## Failures", ""]
        for r in failures:
            text = r.get("error") or r.get("details", {}).get("error") or r.get("note", "")
            lines += [f"### {r['name']}", "", "```", text.strip()[-3000:], "```", ""]
    return "\n".join(lines).rstrip() + "\n"


def write_report(report, out):
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "gpu-check.json").write_text(json.dumps(report, indent=2, default=str) + "\n")
    (out / "gpu-check.md").write_text(markdown(report))
    return out / "gpu-check.json", out / "gpu-check.md"


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
