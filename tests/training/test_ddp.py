"""Multi-process training with torchrun on CPU (gloo, 2 processes): the ranks stay in step, share
the validation set out and agree on its metrics, and only rank 0 writes."""

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from p2p_ref.datasets.synthetic import make_synthetic_dataset

TORCHRUN = Path(sys.executable).with_name("torchrun")

SCRIPT = textwrap.dedent("""
    import json, os, sys, torch
    import p2p_ref.training.validation as validation
    from p2p_ref.datasets.aligned import resolve_dataset
    from p2p_ref.training.config import parse_args
    from p2p_ref.training.train import make_datasets, train
    scored, image_metrics = [], validation.image_metrics  # count the images each rank scores
    validation.image_metrics = lambda *a: scored.append(1) or image_metrics(*a)
    cfg = parse_args(sys.argv[2:])
    result = train(cfg)
    # after training: every rank dumps its parameters where the test can compare them
    rank = int(os.environ["RANK"])
    G, D = result["G"], result["D"]
    torch.save({"G": [p.detach() for p in G.parameters()],
                "D": [p.detach() for p in D.parameters()], "scored": len(scored)},
               f"{sys.argv[1]}/rank{rank}.pt")
    if rank == 0:  # the whole validation set on one process, with the same (final) weights
        _, val_set, _ = make_datasets(resolve_dataset(cfg.dataset, cfg.data_root), cfg)
        single = validation.validate(G, val_set, torch.device("cpu"), cfg.test_mode, cfg.seed)
        open(f"{sys.argv[1]}/single.json", "w").write(json.dumps(single))
""")


def test_torchrun_two_cpu_processes(tmp_path):
    make_synthetic_dataset(tmp_path / "syn", n_train=4, n_val=3, n_test=1, size=64)
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
    metrics = [json.loads(m) for m in (run / "metrics.jsonl").read_text().splitlines()]
    assert [m["epoch"] for m in metrics] == [1, 2]
    # Validation was shared out: 3 images per epoch, rank 0 scored 2 and rank 1 one (not 3 each),
    # and the gathered means are those of the whole set on one process.
    assert [r["scored"] for r in ranks] == [2 * 2, 2 * 1]
    single = json.loads((dumps / "single.json").read_text())
    for k, v in single.items():
        assert metrics[-1][k] == pytest.approx(v, rel=1e-6), k
    assert len(list((run / "tensorboard").glob("events.*"))) == 1
    checkpoint = torch.load(run / "checkpoint.pt", weights_only=True)
    assert checkpoint["step"] == 4 and len(checkpoint["rng"]) == 2
    assert sorted(p.name for p in run.iterdir()) == [
        "best.pt", "checkpoint.pt", "config.yaml", "losses.jsonl", "metrics.jsonl", "samples",
        "tensorboard"]


def test_sync_batchnorm_runs_as_plain_batchnorm_at_validation_and_comes_back():
    """On CUDA, DDP runs convert BatchNorm to SyncBatchNorm; validation (each rank its own
    images) and rank 0's sample grids run it as BatchNorm: per-image statistics, no waiting."""
    from p2p_ref.training.validation import local_batchnorm
    torch.manual_seed(0)
    plain = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4))
    synced = torch.nn.SyncBatchNorm.convert_sync_batchnorm(
        torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4)))
    synced.load_state_dict(plain.state_dict())
    x = torch.randn(2, 3, 8, 8)
    with local_batchnorm(synced):
        assert type(synced[1]) is torch.nn.BatchNorm2d
        assert torch.equal(synced(x), plain(x))
    assert type(synced[1]) is torch.nn.SyncBatchNorm
    assert torch.equal(synced[1].running_mean, plain[1].running_mean)
