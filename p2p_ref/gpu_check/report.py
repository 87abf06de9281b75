"""gpu-check's report: the machine and software, gpu-check.json, and gpu-check.md (markdown
tables ready for the README's benchmark section)."""

import json
import os
import platform
import subprocess
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path

import torch

from p2p_ref.training.fast_path import cpu_name
from p2p_ref.gpu_check.steps import REPO


def _git_commit():
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO,
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


def _cell(value):
    return str(value).replace("|", "\\|").replace("\n", " ")


def _table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(map(_cell, row)) + " |" for row in rows]


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
        if r.get("cudagraph_skips"):  # torch.compile fell back from CUDA graphs: worth knowing
            name += f" (CUDA graphs skipped {r['cudagraph_skips']} times)"
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


def _summary(report):
    """The verdict, the machine and one line per step."""
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
    return lines


def _correctness(report):
    """The numbers each CUDA test measured, with its tolerance."""
    lines = []
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
    return lines


def _speed(report):
    """A table per speed step (batch 1, large batches, other settings)."""
    lines = []
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
    return lines


def _real_run(report):
    """The real run's settings and timings."""
    lines = []
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
    return lines


def _inference(report):
    """p2p-translate's latency per device and the command's wall time."""
    lines = []
    step = _step(report, "inference")
    if step and step.get("details", {}).get("rows"):
        d = step["details"]
        lines += ["", "## Inference: p2p-translate, one 256 x 256 image (paper test mode, fp32)", ""]
        lines += _table(["device", "median ms", "p90 ms", "images"],
                        [[r["device"], _fmt(r["median_ms"]), _fmt(r["p90_ms"]), r["images"]]
                         for r in d["rows"]])
        cli = d["cli"]
        lines += ["", f"The p2p-translate command on {cli['device']}: {cli['images']} images in "
                      f"{cli['seconds']:.1f} s, start-up and model loading included "
                      f"({d['checkpoint']}). The seed texts claimed 0.28 s per image."]
    return lines


def _failures(report):
    """The error of each failed step."""
    lines = []
    failures = [r for r in report["steps"] if r["status"] == "fail"]
    if failures:
        lines += ["", "## Failures", ""]
        for r in failures:
            text = r.get("error") or r.get("details", {}).get("error") or r.get("note", "")
            lines += [f"### {r['name']}", "", "```", text.strip()[-3000:], "```", ""]
    return lines


def markdown(report):
    """gpu-check.md: the environment, one line per step, then a table per measurement."""
    lines = _summary(report)
    for section in (_correctness, _speed, _real_run, _inference, _failures):
        lines += section(report)
    return "\n".join(lines).rstrip() + "\n"


def write_report(report, out):
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "gpu-check.json").write_text(json.dumps(report, indent=2, default=str) + "\n")
    (out / "gpu-check.md").write_text(markdown(report))
    return out / "gpu-check.json", out / "gpu-check.md"
