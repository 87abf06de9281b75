"""The GPU fast path gives the paper baseline's numbers (`pytest -m cuda`; skipped without a GPU).

`make gpu-check` runs these first. Every comparison starts from the same weights and batches and
runs STEPS training steps (`train_step`: a D update, then a G update) on a real-width U-Net
(ngf 64, 6 levels at 64 x 64) and the 70 x 70 PatchGAN. Dropout is off: its masks depend on the
kernel that draws them (vector width per dtype, Inductor's own RNG), so with it on the runs
would not see the same network. The float32 reference runs with TF32 off.

Tolerances, relative, on every loss of every step (loss_D, loss_G, loss_G_GAN, loss_G_L1):
- FP32_TOL = 1e-3 (channels-last, torch.compile, fused Adam against eager float32): these change
  only the order of float32 sums, about 1e-6 relative per op; Adam's first steps move every
  weight by +-lr whatever the gradient's size, so a difference grows only where a gradient's
  sign flips, which an error of 1e-6 almost never causes. 1e-3 leaves that a wide margin, while
  a real fault (a missed update, a stale CUDA-graph output, a wrong memory format) moves the
  losses by more than 1e-2: one Adam step changes loss_D by about 10 %.
- FORWARD_TOL, step 1 only (the same weights, a forward pass in low precision): bf16 keeps 8
  significant bits (unit roundoff u = 2^-9 = 2e-3), fp16 11 bits (u = 2^-12 = 2.4e-4). Convolutions
  accumulate in float32 and the losses are means over thousands of values, so their error stays
  within a few u: bf16 3e-2 (15 u), fp16 5e-3 (20 u).
- TRAJECTORY_TOL = 0.1 (bf16, and fp16 when the GradScaler skipped no step): after updates the
  low-precision gradients flip the sign of some small gradients, so the runs drift apart; the
  losses still move together within a few per cent over STEPS steps.
The fp16 GradScaler may skip its first steps (its initial scale 2^16 overflows fp16 gradients)
and then halves the scale: that is its design. So fp16 runs FP16_STEPS steps, and a run that
skipped one of the first STEPS is checked for finite losses, a finite positive scale and weights
that moved, not for the drift.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

from p2p_ref.training.fast_path import BASELINE, FastPath, apply_backend_flags
from p2p_ref.paper.models import PatchDiscriminator, UNetGenerator
from p2p_ref.paper.train_step import make_optimizers, train_step

pytestmark = [pytest.mark.cuda,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")]

ROOT = Path(__file__).resolve().parents[2]
SIZE, NUM_DOWNS, BATCH, STEPS = 64, 6, 2, 3
FP32_TOL = 1e-3
FORWARD_TOL = {"bf16": 3e-2, "fp16": 5e-3}
TRAJECTORY_TOL = 0.1
FP16_STEPS = 8


def make_models():
    torch.manual_seed(0)
    G = UNetGenerator(num_downs=NUM_DOWNS, ngf=64)
    for m in G.modules():
        if isinstance(m, nn.Dropout):
            m.eval()
    return G.cuda(), PatchDiscriminator(ndf=64).cuda()


def make_batches():
    g = torch.Generator(device="cuda").manual_seed(1)
    return [tuple(torch.rand(BATCH, 3, SIZE, SIZE, device="cuda", generator=g) * 2 - 1
                  for _ in range(2)) for _ in range(STEPS)]


def run(fast, steps=STEPS):
    """STEPS train_steps with the settings `fast`; returns (losses per step, G, D, scales)."""
    apply_backend_flags(fast, "cuda")
    G, D = make_models()
    batches = make_batches()
    if fast.channels_last:
        G, D = G.to(memory_format=torch.channels_last), D.to(memory_format=torch.channels_last)
        batches = [tuple(t.contiguous(memory_format=torch.channels_last) for t in b)
                   for b in batches]
    opt_G, opt_D = make_optimizers(G, D, fused=True if fast.fused_adam else None)
    scaler = torch.amp.GradScaler("cuda") if fast.amp == "fp16" else None
    G_run, D_run = G, D
    if fast.compile:
        torch._dynamo.reset()
        G_run = torch.compile(G, mode=fast.compile_mode)
        D_run = torch.compile(D, mode=fast.compile_mode)
    losses, scales = [], []
    for i in range(steps):
        x, y = batches[i % len(batches)]
        if fast.cuda_graphs:
            torch.compiler.cudagraph_mark_step_begin()
        out = train_step(G_run, D_run, opt_G, opt_D, x, y, autocast_dtype=fast.autocast_dtype,
                         scaler=scaler)
        losses.append({k: v.item() for k, v in out.items()})
        scales.append(scaler.get_scale() if scaler else None)
    return losses, G, D, scales


@pytest.fixture(scope="module")
def reference():
    """The eager float32 (TF32 off) run every other run is compared with."""
    losses, G, D, _ = run(BASELINE)
    return losses


def rel_diff(losses, expected, steps=None):
    pairs = list(zip(losses, expected))[:steps]
    return max(abs(a[k] - b[k]) / max(abs(b[k]), 1e-8) for a, b in pairs for k in b)


def assert_finite(losses):
    bad = [(i + 1, k, v) for i, step in enumerate(losses) for k, v in step.items()
           if not torch.isfinite(torch.tensor(v))]
    assert not bad, f"non-finite losses (step, name, value): {bad}"


def moved(model):
    G0, D0 = make_models()
    initial = G0 if isinstance(model, UNetGenerator) else D0
    return any(not torch.equal(a, b.to(a.dtype)) for a, b in
               zip(initial.parameters(), model.parameters()))


@pytest.mark.parametrize("amp", ["bf16", "fp16"])
def test_autocast_losses_are_finite_and_close_to_fp32(amp, reference, record_property):
    dtype = FastPath(amp=amp).autocast_dtype
    G, _ = make_models()
    with torch.autocast("cuda", dtype=dtype):
        out = G(make_batches()[0][0])
    assert out.dtype == dtype, f"G's output under {amp} autocast is {out.dtype}"

    # fp16 runs FP16_STEPS steps, so that the GradScaler has taken some after its first skips
    losses, G, D, scales = run(FastPath(amp=amp), FP16_STEPS if amp == "fp16" else STEPS)
    assert_finite(losses)
    forward = rel_diff(losses, reference, steps=1)
    drift = rel_diff(losses, reference)  # the first STEPS steps
    halvings = [b < a for a, b in zip([65536.0] + scales[:-1], scales)] if amp == "fp16" else []
    skipped, skipped_early = sum(halvings), sum(halvings[:STEPS])
    for name, value in (("step1_max_rel_diff", forward), ("forward_tolerance", FORWARD_TOL[amp]),
                        ("all_steps_max_rel_diff", drift), ("trajectory_tolerance", TRAJECTORY_TOL),
                        ("grad_scaler_skipped_steps", skipped), ("losses", losses)):
        record_property(name, json.dumps(value))
    assert forward <= FORWARD_TOL[amp], (
        f"{amp}: step-1 losses {losses[0]} differ from fp32 {reference[0]} by {forward:.2e} "
        f"relative (tolerance {FORWARD_TOL[amp]:g})")
    assert moved(G) and moved(D), (f"{amp}: the weights did not change in {len(losses)} steps "
                                   f"(GradScaler skipped {skipped})")
    if amp == "fp16":
        assert all(s is not None and 0 < s < float("inf") for s in scales), scales
    if skipped_early == 0:
        assert drift <= TRAJECTORY_TOL, (
            f"{amp}: losses drift from fp32 by {drift:.2e} relative over {STEPS} steps "
            f"(tolerance {TRAJECTORY_TOL:g}): {losses} vs {reference}")


def test_channels_last_matches_eager(reference, record_property):
    losses, G, _, _ = run(FastPath(channels_last=True))
    diff = rel_diff(losses, reference)
    record_property("max_rel_diff", json.dumps(diff))
    record_property("tolerance", json.dumps(FP32_TOL))
    assert_finite(losses)
    conv = next(m for m in G.modules() if isinstance(m, nn.Conv2d))
    assert conv.weight.is_contiguous(memory_format=torch.channels_last), \
        "G's weights left channels-last during training"
    assert diff <= FP32_TOL, f"channels-last losses {losses} vs eager {reference}: {diff:.2e}"


@pytest.mark.parametrize("mode", ["default", "reduce-overhead"])
def test_torch_compile_matches_eager(mode, reference, record_property):
    losses, _, _, _ = run(FastPath(compile=True, compile_mode=mode))
    diff = rel_diff(losses, reference)
    record_property("max_rel_diff", json.dumps(diff))
    record_property("tolerance", json.dumps(FP32_TOL))
    assert_finite(losses)
    assert diff <= FP32_TOL, f"torch.compile({mode}) losses {losses} vs eager {reference}: {diff:.2e}"


def test_fused_adam_matches_foreach(reference, record_property):
    # the same gradients through both implementations: the weights must agree to rounding
    torch.manual_seed(2)
    shapes = [p.shape for p in make_models()[0].parameters()]
    grads = [[torch.randn(s, device="cuda") * 1e-3 for s in shapes] for _ in range(STEPS)]
    weights = {}
    for kind in ("foreach", "fused"):
        G, _ = make_models()
        opt = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999), **{kind: True})
        for step in grads:
            for p, g in zip(G.parameters(), step):
                p.grad = g.clone()
            opt.step()
        weights[kind] = [p.detach().clone() for p in G.parameters()]
    worst = max((a - b).abs().max().item() for a, b in zip(weights["foreach"], weights["fused"]))
    # ... and in real training steps the losses match eager float32 with for-each Adam
    losses, _, _, _ = run(FastPath(fused_adam=True))
    diff = rel_diff(losses, reference)
    record_property("max_abs_weight_diff", json.dumps(worst))
    record_property("weight_tolerance", json.dumps(1e-6))
    record_property("max_rel_diff", json.dumps(diff))
    record_property("tolerance", json.dumps(FP32_TOL))
    # 1e-6 is 0.5 % of one update (lr = 2e-4) and about 50 float32 ulps of a 0.02 weight
    assert worst <= 1e-6, f"fused and for-each Adam differ by {worst:.2e} after {STEPS} steps"
    assert diff <= FP32_TOL, f"fused-Adam losses {losses} vs eager {reference}: {diff:.2e}"


def test_torchrun_nccl_syncbatchnorm_two_steps(tmp_path, record_property):
    nproc = min(2, torch.cuda.device_count())
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(ROOT)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    result = tmp_path / "ddp.json"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone",
           f"--nproc_per_node={nproc}", "-m", "p2p_ref.gpu_check.ddp", "--out", str(result)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    report = json.loads(result.read_text())
    for key in ("backend", "world_size", "sync_batchnorm_layers",
                "max_rel_diff_vs_single_process", "losses"):
        record_property(key, json.dumps(report[key]))
    assert report["backend"] == "nccl" and report["world_size"] == nproc
    assert report["sync_batchnorm_layers"] > 0 and report["problems"] == []
