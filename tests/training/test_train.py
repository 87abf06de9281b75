"""The training step against the paper's recipe, learning, exact resume, Ctrl-C and NaN paths.

Small models (U-Net num_downs 6, ngf 8 at 64 x 64; PatchGAN ndf 8) keep this fast on a CPU.
"""

import copy
import hashlib
import json
from dataclasses import replace

import pytest
import torch

import p2p_ref.training.device_setup as device_setup
import p2p_ref.training.train as train_mod
from p2p_ref.paper.losses import discriminator_loss, generator_loss
from p2p_ref.paper.models import PatchDiscriminator, UNetGenerator
from p2p_ref.datasets.synthetic import make_synthetic_dataset
from p2p_ref.paper.train_step import lr_factor, make_optimizers, make_schedulers, train_step
from p2p_ref.training.config import TrainConfig
from p2p_ref.training.fast_path import AMP_DTYPES
from p2p_ref.training.train import NonFiniteLossError, train


pytestmark = pytest.mark.usefixtures("one_thread")


def tiny_models(seed=0):
    torch.manual_seed(seed)
    return UNetGenerator(num_downs=6, ngf=8), PatchDiscriminator(ndf=8)


def hand_written_step(G, D, opt_G, opt_D, x, y, lambda_l1=100.0):
    """The recipe of the paper / the official code, written out independently."""
    fake = G(x)
    opt_D.zero_grad()
    pred_real = D(torch.cat([x, y], 1))
    pred_fake = D(torch.cat([x, fake.detach()], 1))
    bce = torch.nn.functional.binary_cross_entropy_with_logits
    loss_D = 0.5 * (bce(pred_real, torch.ones_like(pred_real))
                    + bce(pred_fake, torch.zeros_like(pred_fake)))
    loss_D.backward()
    opt_D.step()
    d_grads = [p.grad.clone() for p in D.parameters()]
    for p in D.parameters():
        p.requires_grad_(False)
    opt_G.zero_grad()
    pred = D(torch.cat([x, fake], 1))
    gan = bce(pred, torch.ones_like(pred))
    l1 = (fake - y).abs().mean()
    (gan + lambda_l1 * l1).backward()
    opt_G.step()
    for p in D.parameters():
        p.requires_grad_(True)
    return [loss_D.item(), (gan + lambda_l1 * l1).item(), gan.item(), l1.item()], d_grads


def test_train_step_matches_the_recipe_written_by_hand():
    G1, D1 = tiny_models()
    G2, D2 = copy.deepcopy(G1), copy.deepcopy(D1)
    opts1, opts2 = make_optimizers(G1, D1), make_optimizers(G2, D2)
    assert opts1[0].defaults["betas"] == (0.5, 0.999) and opts1[0].defaults["lr"] == 2e-4
    torch.manual_seed(1)
    batches = [(torch.rand(2, 3, 64, 64) * 2 - 1, torch.rand(2, 3, 64, 64) * 2 - 1)
               for _ in range(3)]
    for step, (x, y) in enumerate(batches):
        torch.manual_seed(100 + step)  # the same dropout masks in both
        losses = train_step(G1, D1, *opts1, x, y)
        torch.manual_seed(100 + step)
        expected, d_grads = hand_written_step(G2, D2, *opts2, x, y)
        assert list(losses) == ["loss_D", "loss_G", "loss_G_GAN", "loss_G_L1"]
        for value in losses.values():
            assert isinstance(value, torch.Tensor) and value.dim() == 0 and not value.requires_grad
        assert [v.item() for v in losses.values()] == pytest.approx(expected, rel=1e-6, abs=1e-7)
        # D's gradients are those of its own loss only: the G step froze D.
        for p, g in zip(D1.parameters(), d_grads):
            assert torch.allclose(p.grad, g, atol=1e-7)
            assert p.requires_grad
    for a, b in zip(list(G1.parameters()) + list(D1.parameters()),
                    list(G2.parameters()) + list(D2.parameters())):
        assert torch.allclose(a, b, atol=1e-6)


def test_generator_loss_total_is_gan_plus_lambda_l1():
    G, D = tiny_models()
    x, y = torch.rand(1, 3, 64, 64) * 2 - 1, torch.rand(1, 3, 64, 64) * 2 - 1
    losses = train_step(G, D, *make_optimizers(G, D), x, y, lambda_l1=10.0)
    assert losses["loss_G"].item() == pytest.approx(
        losses["loss_G_GAN"].item() + 10.0 * losses["loss_G_L1"].item(), rel=1e-5)


@pytest.mark.parametrize("amp", ["bf16", "fp16"])
def test_train_step_under_autocast(amp):
    G, D = tiny_models()
    opt_G, opt_D = make_optimizers(G, D)
    x, y = torch.rand(1, 3, 64, 64) * 2 - 1, torch.rand(1, 3, 64, 64) * 2 - 1
    scaler = torch.amp.GradScaler("cpu") if amp == "fp16" else None
    before = [p.clone() for p in G.parameters()]
    losses = train_step(G, D, opt_G, opt_D, x, y, autocast_dtype=AMP_DTYPES[amp],
                        scaler=scaler)
    assert all(torch.isfinite(v) for v in losses.values())
    assert any(not torch.equal(a, b) for a, b in zip(before, G.parameters()))


def test_overfits_two_pairs(tmp_path):
    """Trained on one fixed batch of two real pairs, G's L1 error falls by half within 200 steps."""
    from p2p_ref.datasets.aligned import AlignedDataset
    make_synthetic_dataset(tmp_path / "syn", n_train=2, n_val=1, n_test=1, size=64)
    ds = AlignedDataset(tmp_path / "syn", "train", "BtoA", 64, 64, flip=False)
    x = torch.stack([ds[0][0], ds[1][0]])
    y = torch.stack([ds[0][1], ds[1][1]])
    G, D = tiny_models()
    opt_G, opt_D = make_optimizers(G, D)
    l1 = [train_step(G, D, opt_G, opt_D, x, y)["loss_G_L1"].item()]
    while len(l1) < 200 and l1[-1] >= 0.5 * l1[0]:
        l1.append(train_step(G, D, opt_G, opt_D, x, y)["loss_G_L1"].item())
    assert l1[-1] < 0.5 * l1[0], f"L1 went from {l1[0]:.3f} to {l1[-1]:.3f} in 200 steps"


def test_learning_rate_schedule_is_the_official_linear_decay():
    assert [lr_factor(e) for e in (1, 100)] == [1.0, 1.0]  # epochs 1..100: constant
    assert lr_factor(101) == pytest.approx(1 - 1 / 101)
    assert lr_factor(200) == pytest.approx(1 / 101)  # the last epoch keeps a small rate
    G, D = tiny_models()
    opt_G, opt_D = make_optimizers(G, D)
    sched_G, _ = make_schedulers(opt_G, opt_D, n_epochs=2, n_epochs_decay=2)
    rates = []
    for _ in range(4):  # the rate each epoch trains with
        rates.append(opt_G.param_groups[0]["lr"])
        opt_G.step()
        sched_G.step()
    assert rates == pytest.approx([2e-4, 2e-4, 2e-4 * 2 / 3, 2e-4 / 3])


# ---------------------------------------------------------------------------- whole runs


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    root = tmp_path_factory.mktemp("data") / "syn"
    make_synthetic_dataset(root, n_train=4, n_val=1, n_test=1, size=64)
    return root


def tiny_config(synthetic, out, **kw):
    base = TrainConfig(dataset=str(synthetic), load_size=72, crop_size=64, num_downs=6, ngf=8,
                       ndf=8, n_epochs=1, n_epochs_decay=1, out=str(out), num_workers=0,
                       device="cpu", seed=3)
    return replace(base, **kw)


def read_losses(run):
    return [json.loads(line) for line in (run / "losses.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def uninterrupted(synthetic, tmp_path_factory):
    """7 steps without a stop: 4 per epoch, so it crosses an epoch end (lr decay, validation)."""
    run = tmp_path_factory.mktemp("run") / "full"
    result = train(tiny_config(synthetic, run, max_steps=7))
    assert result["status"] == "stopped" and result["step"] == 7
    return read_losses(run)


def test_resume_gives_the_losses_of_an_uninterrupted_run(synthetic, tmp_path, uninterrupted):
    run = tmp_path / "run"
    assert train(tiny_config(synthetic, run, max_steps=2))["step"] == 2
    assert torch.load(run / "checkpoint.pt", weights_only=True)["step"] == 2
    result = train(tiny_config(synthetic, run, max_steps=7, resume=True))
    assert result["step"] == 7
    resumed = read_losses(run)
    assert [r["step"] for r in resumed] == list(range(1, 8))
    assert resumed == uninterrupted  # every loss of every step, exactly
    metrics = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [m["epoch"] for m in metrics] == [1]
    assert {"val_l1", "val_psnr", "val_ssim"} <= set(metrics[0])


def test_a_new_run_refuses_to_overwrite_a_checkpoint(synthetic, tmp_path):
    run = tmp_path / "run"
    train(tiny_config(synthetic, run, max_steps=1))
    with pytest.raises(FileExistsError, match="--resume"):
        train(tiny_config(synthetic, run, max_steps=2))
    with pytest.raises(ValueError, match="ngf was 8, now 16"):
        train(tiny_config(synthetic, run, max_steps=2, ngf=16, resume=True))


def test_ctrl_c_saves_a_checkpoint_and_resume_continues_exactly(synthetic, tmp_path, monkeypatch,
                                                                 uninterrupted, capsys):
    real_step, calls = train_step, []

    def interrupted_at_step_6(*args, **kwargs):
        calls.append(1)
        if len(calls) == 6:
            raise KeyboardInterrupt
        return real_step(*args, **kwargs)

    run = tmp_path / "run"
    monkeypatch.setattr(device_setup, "train_step", interrupted_at_step_6)
    with pytest.raises(SystemExit) as exit_info:
        train_mod.main([str(synthetic), "--load-size", "72", "--crop-size", "64",
                        "--num-downs", "6", "--ngf", "8", "--ndf", "8", "--n-epochs", "1",
                        "--n-epochs-decay", "1", "--out", str(run), "--num-workers", "0",
                        "--device", "cpu", "--seed", "3"])
    assert exit_info.value.code == 130
    assert "--resume" in capsys.readouterr().out
    assert torch.load(run / "checkpoint.pt", weights_only=True)["step"] == 5
    monkeypatch.setattr(device_setup, "train_step", real_step)
    train(tiny_config(synthetic, run, max_steps=7, resume=True))
    assert read_losses(run) == uninterrupted


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(synthetic, tmp_path, monkeypatch):
    real_step, calls, digest = train_step, [], {}
    run = tmp_path / "run"

    def nan_at_step_6(*args, **kwargs):
        calls.append(1)
        losses = real_step(*args, **kwargs)
        if len(calls) == 5:  # the epoch-1 checkpoint (step 4) is on disk now
            digest["before"] = hashlib.sha256((run / "checkpoint.pt").read_bytes()).hexdigest()
        if len(calls) == 6:
            losses["loss_G_L1"] = torch.tensor(float("nan"))
        return losses

    monkeypatch.setattr(device_setup, "train_step", nan_at_step_6)
    with pytest.raises(NonFiniteLossError, match=r"loss_G_L1 = nan at step 6") as err:
        train(tiny_config(synthetic, run))
    assert "untouched" in str(err.value) and "step 4" in str(err.value)
    assert hashlib.sha256((run / "checkpoint.pt").read_bytes()).hexdigest() == digest["before"]
    assert torch.load(run / "checkpoint.pt", weights_only=True)["step"] == 4
