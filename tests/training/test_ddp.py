"""Multi-process training with torchrun on CPU (gloo, 2 processes): the ranks stay in step and
only rank 0 writes."""

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import torch

from p2p_ref.datasets.synthetic import make_synthetic_dataset

TORCHRUN = Path(sys.executable).with_name("torchrun")

SCRIPT = textwrap.dedent("""
    import sys, torch, torch.distributed as dist
    from p2p_ref.training.config import parse_args
    from p2p_ref.training.train import train
    result = train(parse_args(sys.argv[2:]))
    # after training: every rank dumps its parameters where the test can compare them
    rank = int(__import__("os").environ["RANK"])
    G, D = result["G"], result["D"]
    torch.save({"G": [p.detach() for p in G.parameters()],
                "D": [p.detach() for p in D.parameters()]}, f"{sys.argv[1]}/rank{rank}.pt")
""")


def test_torchrun_two_cpu_processes(tmp_path):
    make_synthetic_dataset(tmp_path / "syn", n_train=4, n_val=1, n_test=1, size=64)
    (tmp_path / "ddp_train.py").write_text(SCRIPT)
    dumps, run = tmp_path / "dumps", tmp_path / "run"
    dumps.mkdir()
    cmd = [str(TORCHRUN), "--standalone", "--nproc_per_node=2", str(tmp_path / "ddp_train.py"),
           str(dumps), str(tmp_path / "syn"), "--load-size", "64", "--crop-size", "64",
           "--num-downs", "6", "--ngf", "8", "--ndf", "8", "--n-epochs", "2",
           "--n-epochs-decay", "0", "--out", str(run), "--num-workers", "0", "--device", "cpu"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "SyncBatchNorm is CUDA-only" in proc.stdout + proc.stderr

    # 4 images over 2 ranks: 2 steps per epoch, 2 epochs.
    ranks = [torch.load(dumps / f"rank{r}.pt", weights_only=True) for r in (0, 1)]
    for net in ("G", "D"):
        for a, b in zip(ranks[0][net], ranks[1][net]):
            assert torch.equal(a, b), f"{net} parameters differ between the ranks"
    # ... and training moved them away from the (shared) initial weights.
    from p2p_ref.paper.models import UNetGenerator
    torch.manual_seed(0)
    initial = list(UNetGenerator(num_downs=6, ngf=8).parameters())
    assert any(not torch.equal(a, b) for a, b in zip(initial, ranks[0]["G"]))

    # Only rank 0 wrote: one line per step, one record per epoch, one event file.
    losses = [json.loads(line) for line in (run / "losses.jsonl").read_text().splitlines()]
    assert [r["step"] for r in losses] == [1, 2, 3, 4]
    metrics = (run / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(m)["epoch"] for m in metrics] == [1, 2]
    assert len(list((run / "tensorboard").glob("events.*"))) == 1
    checkpoint = torch.load(run / "checkpoint.pt", weights_only=True)
    assert checkpoint["step"] == 4 and len(checkpoint["rng"]) == 2
    assert sorted(p.name for p in run.iterdir()) == [
        "best.pt", "checkpoint.pt", "losses.jsonl", "metrics.jsonl", "samples", "tensorboard"]
