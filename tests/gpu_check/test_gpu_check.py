"""gpu-check's CPU side: the no-GPU exit, arguments, the budget, a failing step, the report's
JSON and markdown, and every step end to end with tiny models on the CPU (--dry-run-cpu)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from p2p_ref.gpu_check import check as gpu_check
from p2p_ref.gpu_check import report as gpu_check_report, steps as steps
from p2p_ref.gpu_check.check import Budget, CheckConfig, Context, Step

pytestmark = pytest.mark.usefixtures("one_thread")
ROOT = Path(__file__).resolve().parents[2]


def test_make_gpu_check_without_cuda_says_so_in_one_line_and_exits_0(tmp_path):
    out = tmp_path / "report"
    env = dict(os.environ, CUDA_VISIBLE_DEVICES="", PYTHONPATH="")
    proc = subprocess.run(["make", "-s", "gpu-check", f"PYTHON={sys.executable}",
                           f"VENV={tmp_path / 'no-venv'}",
                           f"GPU_CHECK_ARGS=--out {out}"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("gpu-check: no CUDA GPU here"), proc.stdout
    assert not out.exists()


def test_make_gpu_check_without_torch_says_so_in_one_line_and_exits_0(tmp_path):
    """A python3 without torch (a fake one here, whose `import torch` fails as a real one's
    would) and no .venv: one line naming that python, exit 0, no traceback."""
    fake = tmp_path / "python3"
    fake.write_text(f"#!/bin/sh\nexec {sys.executable} -S -I -c "
                    f"'import sys; sys.modules[\"torch\"] = None; exec(sys.argv[2])' \"$@\"\n")
    fake.chmod(0o755)
    proc = subprocess.run(["make", "-s", "gpu-check", f"PYTHON={fake}",
                           f"VENV={tmp_path / 'no-venv'}"], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.strip() == (f"gpu-check: {fake} cannot import torch: nothing to check "
                                   f"(install PyTorch, or run make venv)"), proc.stdout
    assert "Traceback" not in proc.stderr and not proc.stderr.strip(), proc.stderr


def test_arguments_and_their_errors(capsys):
    cfg = gpu_check.parse_args([])
    assert (cfg.out, cfg.budget, cfg.real_steps, cfg.batch_sizes, cfg.compile_modes) == (
        "runs/gpu-check", 480.0, 1200, (16, 64), ("default", "reduce-overhead"))
    assert (cfg.bench_size, cfg.ngf) == (256, 64) and not cfg.dry_run_cpu
    cfg = gpu_check.parse_args(["--skip", "speed-extra", "real-run", "--budget", "300",
                                "--batch-sizes", "8", "--compile-modes", "default"])
    assert cfg.skip == ("speed-extra", "real-run") and cfg.budget == 300
    assert cfg.batch_sizes == (8,) and cfg.compile_modes == ("default",)
    dry = gpu_check.parse_args(["--dry-run-cpu"])
    assert dry.dry_run_cpu and dry.bench_size == 32 and dry.real_overrides["device"] == "cpu"
    for bad, message in ((["--skip", "speed"], "invalid choice: 'speed'"),
                         (["--budget", "10"], "--budget 10: expected more than 15 seconds"),
                         (["--real-steps", "0"], "--real-steps 0: expected at least 1"),
                         (["--batch-sizes", "0"], "--batch-sizes [0]")):
        with pytest.raises(SystemExit):
            gpu_check.parse_args(bad)
        assert message in capsys.readouterr().err


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def fake_context(tmp_path, budget=480, clock=None, **config):
    cfg = CheckConfig(out=str(tmp_path), budget=budget, **config)
    return Context(cfg, tmp_path, Budget(budget, clock or FakeClock()), cuda=False,
                   device=torch.device("cpu"))


def test_a_failing_step_is_recorded_and_the_others_still_run(tmp_path):
    ran = []

    def good(ctx):
        ran.append(ctx.step.name)
        return {"status": "pass", "note": "fine", "value": 1}

    def boom(ctx):
        ran.append(ctx.step.name)
        raise RuntimeError("the GPU caught fire")

    step_list = (Step("one", "first", good, 1, 10), Step("two", "second", boom, 1, 10),
                 Step("three", "third", good, 1, 10))
    ctx = fake_context(tmp_path)
    records = gpu_check.run_steps(ctx, step_list)
    assert ran == ["one", "two", "three"]
    assert [r["status"] for r in records] == ["pass", "fail", "pass"]
    assert records[0]["details"] == {"value": 1} and records[0]["note"] == "fine"
    assert "the GPU caught fire" in records[1]["note"] and "Traceback" in records[1]["error"]
    report = gpu_check_report.make_report(ctx.config, {"date": "d", "torch": "t", "python": "p",
                                                "cpu": "c", "cpu_count": 2}, records, 12.0)
    assert not report["ok"] and report["failed"] == ["two"]
    json_path, md_path = gpu_check_report.write_report(report, tmp_path / "out")
    assert json.loads(json_path.read_text())["failed"] == ["two"]
    md = md_path.read_text()
    assert md.startswith("# gpu-check: FAIL: two")
    assert "| two: second | FAIL |" in md and "## Failures" in md and "the GPU caught fire" in md


def test_the_budget_skips_what_does_not_fit_and_keeps_room_for_later_steps(tmp_path):
    clock = FakeClock()
    reserves = {}

    def slow(ctx):
        reserves[ctx.step.name] = ctx.reserve
        clock.now += 300
        return {"status": "pass"}

    step_list = (Step("a", "a", slow, 10, 100), Step("b", "b", slow, 100, 100),
                 Step("c", "c", slow, 150, 100, optional=True), Step("d", "d", slow, 20, 100))
    ctx = fake_context(tmp_path, budget=480, clock=clock, skip=("d",))
    records = gpu_check.run_steps(ctx, step_list)
    # b is not optional: a keeps its 100 s free; c is optional and d is skipped: nothing for them
    assert reserves == {"a": 100, "b": 0}
    assert [r["status"] for r in records] == ["pass", "pass", "skip", "skip"]
    # after a (300 s): 180 s left, 15 s reserve -> b (100 s) fits, runs and uses 300 s
    assert records[2]["note"].startswith("time budget: -120 s left")
    assert records[3]["note"] == "--skip"
    assert Budget(100, clock).timeout(1000) == 85 and Budget(10, clock).timeout(5) == 1


JUNIT = """<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest">
<testcase classname="tests.test_cuda" name="test_a" time="1.5"><properties>
<property name="max_rel_diff" value="2e-07"/><property name="tolerance" value="0.001"/>
<property name="note" value="not json"/></properties></testcase>
<testcase classname="tests.test_cuda" name="test_b" time="0.1"><failure message="AssertionError: off by 1">long text</failure></testcase>
<testcase classname="tests.test_cuda" name="test_c" time="0"><skipped message="needs a CUDA GPU"/></testcase>
<testcase classname="tests.test_cuda" name="test_d" time="0"><error message="fixture broke"/></testcase>
</testsuite></testsuites>"""


def test_junit_results_with_recorded_values(tmp_path):
    (tmp_path / "j.xml").write_text(JUNIT)
    cases = steps.parse_junit(tmp_path / "j.xml")
    assert [(c["name"], c["outcome"]) for c in cases] == [
        ("test_a", "passed"), ("test_b", "failed"), ("test_c", "skipped"), ("test_d", "error")]
    assert cases[0]["values"] == {"max_rel_diff": 2e-07, "tolerance": 0.001, "note": "not json"}
    assert cases[0]["seconds"] == 1.5 and cases[1]["message"] == "AssertionError: off by 1"


def test_training_timeline_from_step_times():
    # train() called at 0; step 1 at 10 s (compilation); then 0.1 s a step, and each epoch's end
    # (4 steps) adds 2 s of validation and checkpoint before the next step
    walls, t = [10.0], 10.0
    for step in range(2, 13):
        t += 0.1 + (2.0 if (step - 1) % 4 == 0 else 0)
        walls.append(t)
    numbers = steps.training_timeline(walls, 0.0, steps_per_epoch=4, batch_size=1)
    assert numbers["steps"] == 12 and numbers["first_step_s"] == 10.0
    assert numbers["steady_ms_per_step"] == pytest.approx(100)
    assert numbers["images_per_s"] == pytest.approx(10)
    assert numbers["epoch_s_measured"] == pytest.approx([2.4, 2.4])  # epochs 2 and 3
    assert numbers["epoch_s"] == pytest.approx(2.4) and numbers["epoch_s_how"].startswith("measured")
    assert numbers["epoch_1_s"] == pytest.approx(10.3)
    assert numbers["compile_s_estimate"] == pytest.approx(9.9)
    short = steps.training_timeline(walls[:3], 0.0, steps_per_epoch=400, batch_size=1)
    assert short["epoch_s"] == pytest.approx(40) and short["epoch_s_how"].startswith("estimated")
    assert short["epoch_1_s"] is None
    assert steps.training_timeline([], 0.0, 400, 1) == {"steps": 0}


def gpu_row(label, batch, ms, **kw):
    return {"label": label, "config": "bf16 autocast, channels-last", "device": "NVIDIA H200",
            "batch_size": batch, "ms_per_step": ms, "steps_per_s": 1000 / ms,
            "images_per_s": 1000 * batch / ms, "first_step_s": 40.0, "peak_mib": 2048.0, **kw}


def test_markdown_tables_of_a_gpu_report():
    env = {"date": "2026-12-01 10:00 UTC", "torch": "2.11.0", "python": "3.12.3",
           "cpu": "AMD EPYC (AVX512)", "cpu_count": 16, "commit": "abc1234", "gpu": "NVIDIA H200",
           "gpu_memory_gib": 139.8, "compute_capability": "9.0", "driver": "580", "cuda": "13.0",
           "cudnn": 91000}
    records = [
        {"name": "correctness", "title": "pytest -m cuda", "status": "pass", "seconds": 90.0,
         "note": "7 tests passed", "details": {"tests": [
             {"name": "test_channels_last_matches_eager", "outcome": "passed", "message": "",
              "values": {"max_rel_diff": 1.6e-7, "tolerance": 0.001}}]}},
        {"name": "speed-batch-1", "title": "b1", "status": "pass", "seconds": 100.0, "note": "",
         "details": {"rows": [gpu_row("baseline", 1, 20.0),
                              gpu_row("fast, compile default", 1, 5.0),
                              {"label": "fast, compile reduce-overhead", "config": "x",
                               "batch_size": 1, "skipped": "time budget: 30 s left"}]}},
        {"name": "real-run", "title": "real", "status": "pass", "seconds": 120.0, "note": "",
         "details": {"steps": 1200, "max_steps": 1200, "run_status": "stopped at max_steps",
                     "pairs_per_epoch": 400, "steps_per_epoch": 400, "epoch_s": 9.5,
                     "epoch_s_how": "measured", "epoch_1_s": 70.0, "first_step_s": 60.0,
                     "steady_ms_per_step": 20.0, "images_per_s": 50.0,
                     "settings": {"amp": "bf16", "channels_last": True, "compile": True,
                                  "batch_size": 1, "crop_size": 256, "num_workers": 2}}},
        {"name": "inference", "title": "inf", "status": "pass", "seconds": 20.0, "note": "",
         "details": {"checkpoint": "the real run's checkpoint",
                     "rows": [{"device": "NVIDIA H200", "images": 20, "median_ms": 3.1,
                               "p90_ms": 3.5}],
                     "cli": {"device": "cuda", "images": 20, "seconds": 9.0}}},
        {"name": "speed-large-batch", "title": "large", "status": "pass", "seconds": 90.0,
         "note": "", "details": {"rows": [
             gpu_row("fast, compile default", 64, 100.0, tflops=59.7, peak_tflops=989,
                     peak_dtype="bf16", peak_fraction=59.7 / 989)]}}]
    md = gpu_check_report.markdown(gpu_check_report.make_report(CheckConfig(), env, records, 450.0))
    assert md.startswith("# gpu-check: PASS")
    assert "NVIDIA H200 (139.8 GiB, compute capability 9.0" in md and "7.5 of 8.0 minutes" in md
    assert "| test_channels_last_matches_eager | passed | max_rel_diff 1.6e-07 | tolerance 0.001 |" in md
    assert "| baseline: bf16 autocast, channels-last | 50.0 | 50.0 | 20.00 | 40.0 | 2,048 |" in md
    assert "not run (time budget: 30 s left)" in md
    assert "| fast, compile default: bf16 autocast, channels-last | 64 | 640.0 | 59.7 | 6.0 | 2,048 |" in md
    assert "989 TFLOP/s, the NVIDIA H200's dense bf16 peak" in md
    assert "| time per epoch of 400 pairs | 9.5 s (measured) |" in md
    assert "| NVIDIA H200 | 3.1 | 3.5 | 20 |" in md and "20 images in 9.0 s" in md


def test_colab_config_is_the_notebooks_gpu_cell(monkeypatch):
    import nbformat
    nb = nbformat.read(ROOT / "lessons" / "train_reference_on_colab.ipynb", as_version=4)
    code = [c.source for c in nb.cells if c.cell_type == "code"]
    settings = next(c for c in code if c.lstrip().startswith("# Settings"))
    train_cell = next(c for c in code if "cfg = TrainConfig(" in c)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    from p2p_ref.training import fast_path
    monkeypatch.setattr(fast_path, "cuda_native_bf16", lambda *a, **k: True)
    monkeypatch.setattr(steps, "cuda_native_bf16", lambda *a, **k: True)
    namespace = {"torch": torch, "Path": Path, "dataset": "DATA", "WORK": Path("WORK")}
    exec(settings, namespace)
    namespace["CONFIG"] = "gpu"
    exec(train_cell, namespace)
    expected = steps.colab_gpu_config("DATA", str(Path("WORK") / "facades"))
    assert namespace["cfg"] == expected, "gpu_check_steps.colab_gpu_config no longer matches the " \
                                         "notebook's gpu configuration: update it"


def test_ddp_script_runs_two_steps_under_torchrun_on_cpu(tmp_path):
    result = tmp_path / "ddp.json"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=1",
           "-m", "p2p_ref.gpu_check.ddp", "--size", "32", "--ngf", "8", "--ndf", "8",
           "--out", str(result)]
    proc = subprocess.run(cmd, cwd=ROOT, env=steps.child_env(), capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    report = json.loads(result.read_text())
    assert report["backend"] == "gloo" and report["world_size"] == 1 and report["problems"] == []
    assert report["max_rel_diff_vs_single_process"] <= report["tolerance"]
    assert len(report["losses"]) == 2
    with pytest.raises(SystemExit, match="run me under torchrun"):
        from p2p_ref.gpu_check import ddp as gpu_check_ddp
        gpu_check_ddp.main(["--out", str(tmp_path / "x.json")])


def test_dry_run_cpu_runs_every_step_and_writes_the_report(tmp_path, capsys):
    out = tmp_path / "report"
    code = gpu_check.main(["--dry-run-cpu", "--out", str(out), "--data-root", str(tmp_path)])
    report = json.loads((out / "gpu-check.json").read_text())
    status = {r["name"]: r["status"] for r in report["steps"]}
    assert code == 0 and report["ok"], report
    assert status == {"correctness": "skip", "speed-batch-1": "pass", "real-run": "pass",
                      "inference": "pass", "speed-large-batch": "pass", "speed-extra": "pass"}
    by_name = {r["name"]: r for r in report["steps"]}
    tests = by_name["correctness"]["details"]["tests"]
    assert len(tests) >= 7 and all(t["outcome"] == "skipped" for t in tests)
    b1 = by_name["speed-batch-1"]["details"]["rows"]
    assert [r["label"] for r in b1] == ["baseline", "fast"] and all(r["images_per_s"] > 0 for r in b1)
    large = by_name["speed-large-batch"]["details"]["rows"]
    assert all(r["batch_size"] == 2 and r["flops_per_step"] > 0 for r in large)
    real = by_name["real-run"]["details"]
    assert real["steps"] == 8 and real["steps_per_epoch"] == 4 and len(real["epoch_s_measured"]) == 1
    assert real["first_step_s"] > 0 and real["images_per_s"] > 0
    inference = by_name["inference"]["details"]
    assert inference["checkpoint"] == "the real run's checkpoint"
    assert inference["rows"][0]["device"].startswith("cpu") and inference["rows"][0]["images"] == 2
    assert inference["cli"]["written"] == 2
    md = (out / "gpu-check.md").read_text()
    assert md.startswith("# gpu-check: PASS") and "nothing here is a measurement" in md
    for title in ("## Correctness", "## Speed: one training step", "## Speed: large batches",
                  "## Real run", "## Inference"):
        assert title in md
    assert "gpu-check: wrote" in capsys.readouterr().out
