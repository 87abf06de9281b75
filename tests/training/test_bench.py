"""p2p-bench's CPU-side logic: device defaults, rows, the time box, FLOPs, peaks, tables."""

import json

import pytest
import torch

from p2p_ref.training import bench
from p2p_ref.training.bench import BenchConfig
from p2p_ref.training.fast_path import BASELINE, FastPath, choose

pytestmark = pytest.mark.usefixtures("one_thread")
TINY = dict(device="cpu", size=32, ngf=8, ndf=8)


def test_cpu_defaults_keep_a_laptop_run_short():
    cfg = bench.resolve(BenchConfig(device="cpu", size=128))
    assert (cfg.steps, cfg.warmup, cfg.max_seconds, cfg.flops) == (10, 1, 20.0, False)
    cfg = bench.resolve(BenchConfig(device="cpu", steps=3, warmup=2, max_seconds=0, flops=True))
    assert (cfg.steps, cfg.warmup, cfg.max_seconds, cfg.flops) == (3, 2, 0, True)


@pytest.mark.parametrize("size", [100, 16])
def test_bad_sizes_are_refused_with_the_value(size):
    with pytest.raises(ValueError, match=f"--size {size}: expected a power of two >= 32"):
        bench.resolve(BenchConfig(device="cpu", size=size))
    with pytest.raises(SystemExit, match=f"--size {size}"):
        bench.main(["--device", "cpu", "--size", str(size)])


def test_rows_baseline_and_fast_or_each_option():
    cfg = bench.resolve(BenchConfig(**TINY))
    assert bench.rows_for(cfg) == [("baseline", BASELINE), ("fast", choose("cpu"))]
    rows = bench.rows_for(bench.resolve(BenchConfig(**TINY, each_option=True)))
    labels = [label for label, _ in rows]
    # without native bf16 the CPU fast path is the baseline itself; with it, a row of its own
    native = choose("cpu").amp == "bf16"
    assert labels[:3] == ["baseline" if native else "baseline = fast", "channels-last", "bf16"]
    assert labels[-1] == "fast" if native else "fast" not in labels
    assert "compile" in labels and "channels-last + compile" in labels
    assert sum(settings == choose("cpu") for _, settings in rows) == 1  # the fast path runs once


def test_peak_table():
    assert bench.peak_tflops("NVIDIA H100 80GB HBM3") == (989, "bf16")
    assert bench.peak_tflops("NVIDIA H200") == (989, "bf16")
    assert bench.peak_tflops("NVIDIA H100 PCIe") == (756, "bf16")
    assert bench.peak_tflops("NVIDIA A100-SXM4-40GB") == (312, "bf16")
    assert bench.peak_tflops("NVIDIA L4") == (121, "bf16")
    assert bench.peak_tflops("Tesla T4") == (65, "fp16")
    assert bench.peak_tflops("NVIDIA L40S") is None  # unlisted: no fraction rather than a wrong one
    assert bench.peak_tflops("NVIDIA GeForce RTX 4090") is None


def test_the_time_box_stops_timing_early_but_after_two_steps():
    cfg = bench.resolve(BenchConfig(**TINY, steps=50, warmup=1, max_seconds=1e-6))
    row = bench.measure(cfg, "fast", FastPath(channels_last=True))
    assert row["timed_steps"] == bench.MIN_TIMED_STEPS
    assert row["images_per_s"] == pytest.approx(1000 / row["ms_per_step"])
    assert row["compile_s"] is None and row["first_step_s"] > 0


def test_step_flops_grow_with_the_batch_as_counted_directly():
    from torch.utils.flop_counter import FlopCounterMode
    from p2p_ref.paper.models import PatchDiscriminator, UNetGenerator
    from p2p_ref.paper.train_step import make_optimizers, train_step
    cfg = bench.resolve(BenchConfig(**TINY, batch_size=3))
    counted = bench.step_flops(cfg, torch.device("cpu"))
    G, D = UNetGenerator(num_downs=5, ngf=8), PatchDiscriminator(ndf=8)
    x, y = torch.rand(3, 3, 32, 32), torch.rand(3, 3, 32, 32)
    counter = FlopCounterMode(display=False)
    with counter:
        train_step(G, D, *make_optimizers(G, D), x, y)
    assert counted == counter.get_total_flops() > 0


def test_a_row_that_runs_too_long_comes_back_as_an_error():
    cfg = bench.resolve(BenchConfig(**TINY))
    row = bench.measure_in_child(cfg, "baseline", BASELINE, timeout=0.01)
    assert row["error"].startswith("timed out after") and row["label"] == "baseline"


def fake_row(label, ms, **kw):
    return {"label": label, "config": "fp32, NCHW, eager", "device": "NVIDIA H200",
            "ms_per_step": ms, "steps_per_s": 1000 / ms, "images_per_s": 16000 / ms,
            "first_step_s": 1.0, "peak_mib": 1000.0, "peak_memory": "CUDA allocator",
            "timed_steps": 20, **kw}


def test_table_shows_flops_peak_errors_and_speed_ups():
    cfg = BenchConfig(device="cpu", batch_size=16, steps=20)
    rows = [fake_row("baseline", 100.0, tflops=15.0, peak_tflops=989, peak_dtype="bf16",
                     peak_fraction=15 / 989),
            fake_row("fast", 25.0, tflops=60.0, peak_tflops=989, peak_dtype="bf16",
                     peak_fraction=60 / 989),
            {"label": "fast, compile reduce-overhead", "config": "x", "error": "RuntimeError: boom"}]
    text = bench.format_table(rows, cfg)
    assert "TFLOP/s  % of peak" in text
    assert "6.1" in text.splitlines()[3]  # 60 / 989 = 6.1 %
    assert "FAILED: RuntimeError: boom" in text
    assert "speed-up over the baseline: fast 4.00x" in text
    assert "peak: 989 TFLOP/s dense bf16 (NVIDIA H200, datasheet)" in text


def test_main_writes_json_and_fails_when_a_row_fails(tmp_path, monkeypatch, capsys):
    def fake(cfg, label, fast, timeout=None):
        return fake_row(label, 10.0) if label == "baseline" else {
            "label": label, "config": fast.describe(), "error": "RuntimeError: no"}
    monkeypatch.setattr(bench, "measure_in_child", fake)
    with pytest.raises(SystemExit, match="1 row\\(s\\) failed: fast"):
        bench.main(["--device", "cpu", "--size", "32", "--json", str(tmp_path / "b.json")])
    report = json.loads((tmp_path / "b.json").read_text())
    assert [r["label"] for r in report["rows"]] == ["baseline", "fast"]
    assert report["config"]["steps"] == 10 and "FAILED" in capsys.readouterr().out
