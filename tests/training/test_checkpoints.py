"""A run's checkpoints: --save-every-steps (atomic, resumable mid-epoch), --keep-every-epochs,
best.pt by a validation metric, --init-from fine-tuning, and extending a finished run.

Tiny models (U-Net num_downs 5, ngf 8, on 32 x 32 crops) keep every run to a second or two.
"""

import json
import os
from dataclasses import replace

import pytest
import torch

import p2p_ref.training.checkpoint as checkpoint_mod
import p2p_ref.training.device_setup as device_setup
from p2p_ref.training.checkpoint import RunCheckpoints, load_checkpoint
from p2p_ref.datasets.synthetic import make_synthetic_dataset
from p2p_ref.training.config import TrainConfig
from p2p_ref.training.train import schedule_change_note, train

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("ck")
    make_synthetic_dataset(root / "one", n_train=3, n_val=2, n_test=1, size=32, seed=0)
    make_synthetic_dataset(root / "two", n_train=2, n_val=1, n_test=1, size=32, seed=5)
    return root


def config(dataset, out, **kw):
    base = TrainConfig(dataset=str(dataset), load_size=36, crop_size=32, num_downs=5, ngf=8, ndf=8,
                       n_epochs=1, n_epochs_decay=1, out=str(out), num_workers=0, device="cpu",
                       seed=1)
    return replace(base, **kw)


def losses(run):
    return [json.loads(line) for line in (run / "losses.jsonl").read_text().splitlines()]


def metrics(run):
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def uninterrupted(data, tmp_path_factory):
    run = tmp_path_factory.mktemp("full") / "run"
    train(config(data / "one", run))
    return losses(run)


def test_save_every_steps_resumes_mid_epoch_exactly(data, tmp_path, monkeypatch, uninterrupted):
    """A crash (no Ctrl-C, nothing saved on the way out) loses only the steps since the last
    --save-every-steps checkpoint; --resume then gives the losses of a run that never stopped."""
    real_step, calls = device_setup.train_step, []

    def crash_at_step_3(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("the Colab runtime went away")
        return real_step(*args, **kwargs)

    run = tmp_path / "run"
    monkeypatch.setattr(device_setup, "train_step", crash_at_step_3)
    with pytest.raises(RuntimeError, match="went away"):
        train(config(data / "one", run, save_every_steps=2))
    ck = load_checkpoint(run)
    # saved in the middle of epoch 1 (3 steps long), before the crash
    assert (ck["step"], ck["epoch"], ck["batch"]) == (2, 0, 2)
    monkeypatch.setattr(device_setup, "train_step", real_step)
    train(config(data / "one", run, save_every_steps=2, resume=True))
    assert losses(run) == uninterrupted


def test_a_failed_write_leaves_the_last_checkpoint_whole(tmp_path, monkeypatch):
    ckpts = RunCheckpoints(tmp_path)
    ckpts.save({"G": {"w": torch.ones(3)}, "config": {}, "step": 1})
    before = ckpts.latest.read_bytes()

    def dies_half_way(obj, path):
        with open(path, "wb") as f:
            f.write(before[:100])
        raise OSError("disk full")

    monkeypatch.setattr(checkpoint_mod.torch, "save", dies_half_way)
    with pytest.raises(OSError, match="disk full"):
        ckpts.save({"G": {"w": torch.zeros(3)}, "config": {}, "step": 2})
    assert ckpts.latest.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.pt"]  # no temporary file


@pytest.mark.parametrize("metric, better", [("val_l1", min), ("val_psnr", max)])
def test_history_and_best_checkpoint(data, tmp_path, metric, better):
    run = tmp_path / "run"
    result = train(config(data / "one", run, n_epochs=2, n_epochs_decay=2, keep_every_epochs=2,
                          best_metric=metric))
    kept = sorted(p.name for p in (run / "checkpoints").iterdir())
    assert kept == ["epoch_002.pt", "epoch_004.pt"]
    history = [load_checkpoint(run / "checkpoints" / name) for name in kept]
    assert [h["epoch"] for h in history] == [2, 4]
    assert not torch.equal(history[0]["G"]["encoders.0.block.0.weight"],
                           history[1]["G"]["encoders.0.block.0.weight"])
    records = metrics(run)
    best_epoch = better(records, key=lambda r: r[metric])["epoch"]
    best = load_checkpoint(run / "best.pt")
    assert result["best"] == run / "best.pt"
    assert best["epoch"] == best_epoch and best["best"]["epoch"] == best_epoch
    assert best["best"]["value"] == pytest.approx(better(r[metric] for r in records))


def test_best_is_kept_across_resume_and_copied_where_links_fail(data, tmp_path, monkeypatch):
    run = tmp_path / "run"
    train(config(data / "one", run, max_steps=3))  # epoch 1 ends: best.pt = epoch 1
    first = load_checkpoint(run / "best.pt")
    assert first["epoch"] == 1

    def no_links(src, dst):
        raise OSError("hard links are not supported here")  # e.g. Google Drive on Colab

    monkeypatch.setattr(os, "link", no_links)
    monkeypatch.setattr(RunCheckpoints, "is_better", lambda self, record: False)
    train(config(data / "one", run, resume=True, keep_every_epochs=1))
    assert load_checkpoint(run / "best.pt")["epoch"] == 1  # never beaten: untouched
    assert load_checkpoint(run)["best"] == first["best"]  # the record survived the resume
    assert load_checkpoint(run / "checkpoints" / "epoch_002.pt")["epoch"] == 2  # a real copy


def test_is_better_directions_and_nan():
    low = RunCheckpoints("x", best_metric="val_l1")
    high = RunCheckpoints("x", best_metric="val_ssim")
    assert low.is_better({"val_l1": 0.3}) and high.is_better({"val_ssim": 0.3})
    low.best = {"metric": "val_l1", "value": 0.3, "epoch": 1}
    high.best = {"metric": "val_ssim", "value": 0.3, "epoch": 1}
    assert low.is_better({"val_l1": 0.2}) and not low.is_better({"val_l1": 0.4})
    assert high.is_better({"val_ssim": 0.4}) and not high.is_better({"val_ssim": 0.2})
    assert not low.is_better({"val_l1": float("nan")}) and not low.is_better({"epoch": 3})
    assert not RunCheckpoints("x", best_metric=None).is_better({"val_l1": 0.1})
    with pytest.raises(ValueError, match="best_metric='fid'"):
        RunCheckpoints("x", best_metric="fid")


def test_init_from_fine_tunes_with_fresh_optimizer_and_schedule(data, tmp_path, capsys):
    first = tmp_path / "first"
    train(config(data / "one", first, n_epochs=1, n_epochs_decay=0))
    source = load_checkpoint(first)
    second = tmp_path / "second"  # another dataset; lr 0 keeps the weights where they started
    result = train(config(data / "two", second, init_from=str(first / "checkpoint.pt"), lr=0.0,
                          n_epochs=1, n_epochs_decay=0))
    out = capsys.readouterr().out
    assert "initialised G and D from" in out and "fresh optimizers" in out
    tuned = load_checkpoint(second)
    for key, value in source["G"].items():
        if "running" not in key and "num_batches" not in key:  # BatchNorm statistics move
            assert torch.equal(tuned["G"][key], value), key
    for key in ("model.0.weight", "model.2.weight"):
        assert torch.equal(tuned["D"][key], source["D"][key])
    assert result["step"] == 2 and tuned["epoch"] == 1  # its own epochs, on its own 2 pairs
    assert tuned["opt_G"]["state"][0]["step"] == 2  # Adam's moments started afresh
    assert tuned["config"]["dataset"] == str(data / "two")


def test_init_from_with_another_architecture_says_which_flags(data, tmp_path):
    first = tmp_path / "first"
    train(config(data / "one", first, max_steps=1))
    with pytest.raises(ValueError, match=r"ngf=8.*ngf=16.*--ngf 8"):
        train(config(data / "two", tmp_path / "b", ngf=16, init_from=str(first)))


def test_extending_a_finished_run_says_what_happens_to_the_rate(data, tmp_path, capsys):
    run = tmp_path / "run"
    train(config(data / "one", run, n_epochs=1, n_epochs_decay=0))
    capsys.readouterr()
    train(config(data / "one", run, n_epochs=1, n_epochs_decay=2, resume=True))
    out = capsys.readouterr().out
    assert "changed from 1 + 0 to 1 + 2 epochs" in out and "epoch 2 trains at 0.000133" in out
    assert [m["lr"] for m in metrics(run)] == pytest.approx([2e-4, 2e-4 * 2 / 3, 2e-4 / 3])
    train(config(data / "one", run, n_epochs=1, n_epochs_decay=2, resume=True))
    assert "finished all 3 epochs" in capsys.readouterr().out


def test_schedule_note_warns_when_the_rate_rises():
    note = schedule_change_note((100, 100), (100, 150), 200, 2e-4)
    assert "epoch 201 trains at 6.62e-05" in note and "last epoch trained at 1.98e-06" in note
    assert "goes UP" in note and "--init-from" in note
    assert "goes UP" not in schedule_change_note((100, 100), (200, 100), 50, 2e-4)
