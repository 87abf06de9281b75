"""The steps of gpu-check (`p2p_ref.gpu_check` runs them in order, under one time budget).

Each step takes the run's context and returns a dict of what it measured, with "status" one
of "pass", "fail" or "skip"; an exception fails that step only. Work that may hang or needs a
fresh process (pytest, a benchmark row, the real run) runs in a child process with a timeout
taken from what is left of the budget.
"""

import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from dataclasses import asdict, replace
from pathlib import Path

import torch

from p2p_ref.training import bench
from p2p_ref.training.fast_path import BASELINE, choose
from p2p_ref.training.config import TrainConfig
from p2p_ref.training.fast_path import cuda_native_bf16
from p2p_ref.training.train import train
from p2p_ref.datasets.synthetic import make_synthetic_dataset
from p2p_ref.training.checkpoint import save_checkpoint
from p2p_ref.training.build import build_models
from p2p_ref.inference.translate import find_images, load_generator, read_input, translate

REPO = Path(__file__).resolve().parents[2]


class StepError(RuntimeError):
    """A step could not run at all (a missing file, a child that died): its message says why."""


def child_env():
    """The environment for child processes: this checkout first on PYTHONPATH (as an absolute
    path, so that `PYTHONPATH=.` keeps working in children started elsewhere)."""
    paths = [str(REPO)] + [str(Path(p).resolve()) for p in
                           os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    return dict(os.environ, PYTHONPATH=os.pathsep.join(dict.fromkeys(paths)),
                PYTHONUNBUFFERED="1")


def run_process(cmd, timeout, log_path, terminate_first=False):
    """Run cmd (its own process group) writing stdout and stderr to log_path; returns its exit
    code, or None when it ran past `timeout` seconds and was stopped. terminate_first: send
    SIGTERM to the child itself first and give it 30 s to wrap up (the real run saves a
    checkpoint on SIGTERM), then kill the whole group."""
    with open(log_path, "w") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=REPO,
                                env=child_env(), start_new_session=True)
        try:
            return proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            if terminate_first:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=30)
                    return None
                except subprocess.TimeoutExpired:
                    pass
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            return None
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)


def tail(path, chars=3000):
    try:
        return Path(path).read_text(errors="replace")[-chars:]
    except OSError:
        return ""


# ---------------------------------------------------------------------------- 1. correctness


def parse_junit(path):
    """The test cases of a pytest --junitxml file: name, outcome, seconds, message and the
    values each test recorded with record_property (JSON-decoded where they are JSON)."""
    cases = []
    for case in ET.parse(path).iter("testcase"):
        outcome, message = "passed", ""
        for tag in ("failure", "error", "skipped"):
            node = case.find(tag)
            if node is not None:
                outcome = {"failure": "failed", "error": "error", "skipped": "skipped"}[tag]
                message = (node.get("message") or node.text or "").strip()
                break
        values = {}
        for prop in case.iter("property"):
            try:
                values[prop.get("name")] = json.loads(prop.get("value"))
            except (TypeError, ValueError):
                values[prop.get("name")] = prop.get("value")
        cases.append({"name": case.get("name"), "outcome": outcome,
                      "seconds": float(case.get("time") or 0), "message": message[:1500],
                      "values": values})
    return cases


def correctness(ctx):
    """`pytest -m cuda tests/training/test_cuda.py`: on a GPU every test must pass (a skip fails too)."""
    test_file = REPO / "tests" / "training" / "test_cuda.py"
    if not test_file.is_file():
        raise StepError(f"{test_file} not found: run gpu-check from a checkout of the repository")
    xml, log = ctx.out / "cuda-tests.xml", ctx.out / "cuda-tests.log"
    xml.unlink(missing_ok=True)
    # -o addopts= drops the repo's nbval options: the GPU machine need not have nbval
    cmd = [sys.executable, "-m", "pytest", "-m", "cuda", str(test_file), "-o", "addopts=",
           "-p", "no:cacheprovider", "-q", "-rs", f"--junitxml={xml}"]
    code = run_process(cmd, ctx.timeout(ctx.step.cap_seconds), log)
    if code is None:
        raise StepError(f"pytest ran past its time limit; see {log}:\n{tail(log)}")
    if not xml.is_file():
        raise StepError(f"pytest exited with {code} without a report; see {log}:\n{tail(log)}")
    tests = parse_junit(xml)
    bad = [t["name"] for t in tests if t["outcome"] in ("failed", "error")]
    skipped = [t["name"] for t in tests if t["outcome"] == "skipped"]
    if not tests:
        status, note = "fail", "no test ran"
    elif bad or code != 0:
        status, note = "fail", f"failed: {', '.join(bad) or f'pytest exit code {code}'}"
    elif skipped and ctx.cuda:
        status, note = "fail", f"skipped on a machine with a GPU: {', '.join(skipped)}"
    elif skipped:
        status, note = "skip", "no CUDA GPU: the tests skip"
    else:
        status, note = "pass", f"{len(tests)} tests passed"
    result = {"status": status, "note": note, "tests": tests, "log": str(log)}
    if status == "fail":
        result["error"] = "\n\n".join(f"{t['name']}: {t['message']}" for t in tests
                                      if t["outcome"] in ("failed", "error")) or tail(log)
    return result


# ---------------------------------------------------------------------------- 2. speed


def _bench_rows(ctx, specs):
    """specs: [(label, BenchConfig, FastPath)]; compile rows need more of the budget."""
    rows = []
    for label, cfg, fast in specs:
        need, cap = (ctx.compile_row_seconds, 300) if fast.compile else (10, 120)
        if not ctx.allows(need):
            rows.append({"label": label, "config": fast.describe(), "batch_size": cfg.batch_size,
                         "skipped": f"time budget: {ctx.budget.remaining():.0f} s left"})
            continue
        row = (bench._measure_safely(cfg, label, fast) if ctx.in_process else
               bench.measure_in_child(cfg, label, fast, timeout=ctx.timeout(cap)))
        rows.append(row)
    return rows


def _speed_result(rows):
    failed = [r["label"] for r in rows if "error" in r]
    skipped = [r["label"] for r in rows if "skipped" in r]
    status = "fail" if failed else ("skip" if len(skipped) == len(rows) else "pass")
    note = (f"failed: {', '.join(failed)}" if failed else
            f"skipped for time: {', '.join(skipped)}" if skipped else f"{len(rows)} rows")
    result = {"status": status, "note": note, "rows": rows}
    if failed:
        result["error"] = "\n\n".join(f"{r['label']} (batch {r.get('batch_size', '?')}): "
                                      f"{r['error']}" for r in rows if "error" in r)
    return result


def _bench_config(ctx, batch_size, steps, warmup):
    c = ctx.config
    return bench.resolve(bench.BenchConfig(
        size=c.bench_size, batch_size=batch_size, steps=steps, warmup=warmup, max_seconds=0,
        device=ctx.device.type, flops=True, ngf=c.ngf, ndf=c.ndf))


def _fast_rows(ctx, cfg, modes):
    """The fast path in each compile mode; modes None: the device's fast path as it is."""
    if modes is None:
        return [("fast", cfg, choose(ctx.device))]
    return [(f"fast, compile {m}", cfg, choose(ctx.device, compile=True, compile_mode=m))
            for m in modes]


def speed_batch1(ctx):
    """Baseline vs the fast path in each compile mode at batch 1 (the paper's recipe)."""
    cfg = _bench_config(ctx, 1, ctx.config.b1_steps, ctx.config.b1_warmup)
    return _speed_result(_bench_rows(ctx, [("baseline", cfg, BASELINE)]
                                     + _fast_rows(ctx, cfg, ctx.config.compile_modes[:2] or None)))


def speed_large_batch(ctx):
    """Baseline vs the fast path (first compile mode) at the large batch sizes: images/s,
    TFLOP/s and the fraction of the GPU's dense bf16 peak."""
    specs = []
    for b in ctx.config.batch_sizes:
        cfg = _bench_config(ctx, b, ctx.config.batch_steps, ctx.config.batch_warmup)
        specs += [("baseline", cfg, BASELINE)] + _fast_rows(ctx, cfg,
                                                             ctx.config.compile_modes[:1] or None)
    return _speed_result(_bench_rows(ctx, specs))


def speed_extra(ctx):
    """Optional, if time is left: the other compile modes at the large batches, and the fast
    path without torch.compile at batch 1 (what compiling is worth)."""
    specs = []
    for b in ctx.config.batch_sizes:
        cfg = _bench_config(ctx, b, ctx.config.batch_steps, ctx.config.batch_warmup)
        specs += _fast_rows(ctx, cfg, ctx.config.compile_modes[1:])
    cfg = _bench_config(ctx, 1, ctx.config.b1_steps, ctx.config.b1_warmup)
    specs.append(("fast, eager", cfg, choose(ctx.device, compile=False)))
    return _speed_result(_bench_rows(ctx, specs))


# ---------------------------------------------------------------------------- 3. a real run


def colab_gpu_config(dataset, out, **overrides):
    """The `gpu` configuration of lessons/train_reference_on_colab.ipynb (its train cell),
    with `overrides` (e.g. max_steps); tests/gpu_check/test_gpu_check.py checks that the two agree."""
    amp = "bf16" if torch.cuda.is_available() and cuda_native_bf16() else "fp16"
    cfg = TrainConfig(dataset=dataset, direction="BtoA", n_epochs=100, n_epochs_decay=100,
                      amp=amp, channels_last=True, compile=True, out=out, resume=False)
    return replace(cfg, **overrides)


def training_timeline(wall_times, start, steps_per_epoch, batch_size):
    """Numbers of a run from the wall-clock time of each logged step (steps 1, 2, ...) and the
    time train() was called: the first step, the steady step (median, leaving out the steps
    that follow an epoch's end), full epochs (a cycle of steps_per_epoch steps after the first
    epoch, end-of-epoch validation and checkpoint included) and images/s."""
    if not wall_times:
        return {"steps": 0}
    gaps = [b - a for i, (a, b) in enumerate(zip(wall_times, wall_times[1:]), start=2)
            if (i - 1) % steps_per_epoch]  # step i follows an epoch's end when i - 1 is k * spe
    steady = statistics.median(gaps) if gaps else None
    epochs = [wall_times[e * steps_per_epoch - 1] - wall_times[(e - 1) * steps_per_epoch - 1]
              for e in range(2, len(wall_times) // steps_per_epoch + 1)]
    result = {"steps": len(wall_times), "first_step_s": wall_times[0] - start,
              "steady_ms_per_step": steady and 1000 * steady,
              "images_per_s": steady and batch_size / steady,
              "compile_s_estimate": steady and max(0.0, wall_times[0] - start - steady),
              "epoch_1_s": (wall_times[steps_per_epoch - 1] - start
                            if len(wall_times) >= steps_per_epoch else None),
              "epoch_s_measured": epochs}
    if epochs:
        result["epoch_s"], result["epoch_s_how"] = statistics.mean(epochs), (
            f"measured: mean of {len(epochs)} epoch(s) after the first, validation, samples "
            f"and checkpoint included")
    elif steady:
        result["epoch_s"], result["epoch_s_how"] = steady * steps_per_epoch, (
            "estimated: steady step time x steps per epoch, without the end-of-epoch "
            "validation and checkpoint")
    return result


def _step_wall_times(tensorboard_dir):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    events = EventAccumulator(str(tensorboard_dir), size_guidance={"scalars": 0})
    events.Reload()
    if "train/loss_D" not in events.Tags().get("scalars", []):
        return []
    points = sorted(events.Scalars("train/loss_D"), key=lambda p: p.step)
    return [p.wall_time for p in points]


def _real_run_child(config_path, timing_path):
    """In the child: train(cfg) as p2p-train would (SIGTERM stops it with a checkpoint)."""

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)
    cfg = TrainConfig(**json.loads(Path(config_path).read_text()))
    start = time.time()
    result = train(cfg)
    Path(timing_path).write_text(json.dumps({"start": start, "end": time.time(),
                                             "status": result["status"], "step": result["step"],
                                             "epoch": result["epoch"]}))


def synthetic_set(ctx):
    """The synthetic set p2p-train uses (400 train pairs at 256 x 256), made if missing."""
    c = ctx.config
    root = Path(c.data_root).resolve() / ("synthetic" if not c.dry_run_cpu else
                                          "synthetic-gpu-check-dry-run")
    start = time.perf_counter()
    if c.dry_run_cpu:
        make_synthetic_dataset(root, n_train=4, n_val=1, n_test=2, size=64)
    else:
        make_synthetic_dataset(root)  # the defaults: what `p2p-train synthetic` generates
    return root, time.perf_counter() - start


def real_run(ctx):
    """The Colab notebook's GPU configuration on the synthetic set for a fixed number of steps."""
    root, made_s = synthetic_set(ctx)
    out = ctx.out / "real-run"
    if out.exists():
        shutil.rmtree(out)  # the previous gpu-check's scratch run
    cfg = colab_gpu_config(str(root), str(out), max_steps=ctx.config.real_steps,
                           **ctx.config.real_overrides)
    pairs = len(list((root / "train").glob("*.png")))  # 400, as in facades
    spe = -(-pairs // cfg.batch_size)
    config_path, timing_path = ctx.out / "real-run-config.json", ctx.out / "real-run-timing.json"
    config_path.write_text(json.dumps(asdict(cfg), indent=2))
    timing_path.unlink(missing_ok=True)
    log = ctx.out / "real-run.log"
    cmd = [sys.executable, "-m", "p2p_ref.gpu_check.steps", "real-run", str(config_path),
           str(timing_path)]
    code = run_process(cmd, ctx.timeout(ctx.step.cap_seconds, grace=30), log, terminate_first=True)
    if not (out / "tensorboard").is_dir():
        raise StepError(f"the run wrote no TensorBoard log (exit code {code}); see {log}:\n"
                        f"{tail(log)}")
    timing = json.loads(timing_path.read_text()) if timing_path.is_file() else {}
    start = timing.get("start") or (out / "tensorboard").stat().st_ctime
    numbers = training_timeline(_step_wall_times(out / "tensorboard"), start, spe, cfg.batch_size)
    settings = {k: getattr(cfg, k) for k in ("amp", "channels_last", "compile", "batch_size",
                                             "crop_size", "ngf", "ndf", "num_workers", "device")}
    result = {"settings": settings, "dataset": str(root), "dataset_made_s": made_s,
              "pairs_per_epoch": pairs, "steps_per_epoch": spe, "max_steps": cfg.max_steps, "exit_code": code,
              "run_status": {"stopped": "stopped at max_steps, as planned"}.get(
                  timing.get("status"), timing.get("status", "stopped by the time budget")),
              **numbers,
              "log": str(log)}
    if code not in (0, None):
        return {"status": "fail", "note": f"exit code {code}; see {log}", "error": tail(log),
                **result}
    if numbers["steps"] == 0:  # stopped by the budget before its first step ended
        return {"status": "skip", "note": f"no step finished in the time left (compilation "
                                          f"included); see {log}", **result}
    done = numbers["steps"] >= cfg.max_steps
    return {"status": "pass" if done else "skip",
            "note": (f"{numbers['steps']} steps" if done else
                     f"stopped by the time budget after {numbers['steps']} of {cfg.max_steps} steps"),
            **result}


# ---------------------------------------------------------------------------- 4. inference


def _checkpoint_for_inference(ctx, root):
    """The real run's checkpoint, or a freshly initialised G saved like one (latency does not
    depend on the weights)."""
    ckpt = ctx.out / "real-run" / "checkpoint.pt"
    if ckpt.is_file():
        return ckpt, "the real run's checkpoint"
    cfg = colab_gpu_config(str(root), str(ctx.out / "inference"), **ctx.config.real_overrides)
    torch.manual_seed(0)
    G, _ = build_models(cfg)
    ckpt = ctx.out / "inference" / "checkpoint.pt"
    ckpt.parent.mkdir(parents=True, exist_ok=True)
    save_checkpoint(ckpt, {"G": G.state_dict(), "config": asdict(cfg)})
    return ckpt, "a freshly initialised G (the real run left no checkpoint)"


def inference(ctx):
    """p2p-translate's latency for one 256 x 256 image (G in the paper's test mode, float32,
    as p2p-translate runs it), on the GPU and on the CPU, and the CLI end to end."""
    root, _ = synthetic_set(ctx)
    ckpt, source = _checkpoint_for_inference(ctx, root)
    n = ctx.config.infer_images
    paths = find_images([root / "test"])[:n]
    rows = []
    for device in (["cuda"] if ctx.cuda else []) + ["cpu"]:
        G, cfg = load_generator(ckpt, device, mode="paper")
        inputs = [read_input(p, cfg["direction"])[0] for p in paths]
        times, warmup = [], min(3, len(inputs))
        for i, image in enumerate(inputs[:warmup] + inputs):  # warm-up images, then every one
            start = time.perf_counter()
            translate(G, image, cfg["crop_size"], device)  # ends with .cpu(): synchronised
            if i >= warmup:
                times.append(time.perf_counter() - start)
        times.sort()
        rows.append({"device": torch.cuda.get_device_name() if device == "cuda" else
                     f"cpu, {torch.get_num_threads()} threads",
                     "images": len(times), "median_ms": 1000 * statistics.median(times),
                     "p90_ms": 1000 * times[min(len(times) - 1, int(0.9 * len(times)))]})
        del G
    log = ctx.out / "translate-cli.log"
    cli_dir = ctx.out / "translate-cli"
    shutil.rmtree(cli_dir, ignore_errors=True)
    cmd = [sys.executable, "-m", "p2p_ref.inference.translate", "--checkpoint", str(ckpt), "--out",
           str(cli_dir), "--device", ctx.device.type, *map(str, paths)]
    start = time.perf_counter()
    code = run_process(cmd, ctx.timeout(120), log)
    cli_s = time.perf_counter() - start
    written = len(list(cli_dir.glob("*.png"))) if cli_dir.is_dir() else 0
    cli = {"device": ctx.device.type, "images": len(paths), "seconds": cli_s,
           "exit_code": code, "written": written}
    ok = code == 0 and written == len(paths)
    return {"status": "pass" if ok else "fail", "checkpoint": source, "rows": rows, "cli": cli,
            "note": f"{len(paths)} images" if ok else f"p2p-translate exit code {code}, wrote "
                                                      f"{written} of {len(paths)}; see {log}"}


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "real-run":
        _real_run_child(sys.argv[2], sys.argv[3])
    else:
        sys.exit("usage: python -m p2p_ref.gpu_check.steps real-run CONFIG.json TIMING.json "
                 "(gpu-check starts this itself)")
