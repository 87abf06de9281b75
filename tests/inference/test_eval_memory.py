"""eval_memory, the by-hand measurement of p2p-eval's peak memory: one tiny run in a fresh
process (the README's figure comes from 2,000 images at 256 x 256, run by hand)."""

import json

from p2p_ref.inference.eval_memory import MemoryConfig, measure


def test_measure_runs_p2p_eval_in_a_fresh_process_and_reads_its_peak(tmp_path):
    peak, seconds = measure(MemoryConfig(size=32, work=str(tmp_path)), 3)
    summary = json.loads((tmp_path / "eval_3" / "metrics.json").read_text())["summary"]
    assert summary["images"] == 3 and summary["mode"] == "paper" and "fid" in summary
    assert 50 < peak < 100_000 and seconds >= 0  # MiB: a Python process with torch loaded
