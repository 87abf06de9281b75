"""Setting a device up for training: the one place where a `FastPath` takes effect.

`p2p-bench` times its rows and `p2p-train` trains through `set_up_training`, so the settings the
benchmark calls "fast" are the ones a run trains with. `fast_path_for(cfg, device)` is the run's
choice (`--fast-path`): "on", the fast path that `fast_path.choose` picks for the device; "off",
the paper-faithful eager float32 baseline; "auto" (the default), on for a GPU and off for a CPU,
where the fast path has not been measured to win (on a 2-core AVX2 CPU nothing beat float32,
README). Every setting given explicitly (`--amp`, `--channels-last`, `--compile`, ...) wins.
The recipe itself (`train_step`, sec. 3.3) never changes.
"""

from dataclasses import dataclass, fields, replace

import torch
from torch import nn

from p2p_ref.paper.train_step import make_optimizers, train_step
from p2p_ref.training.fast_path import BASELINE, FastPath, apply_backend_flags, choose

# TrainConfig fields that are FastPath settings (None in a TrainConfig: the fast path decides).
FAST_FIELDS = tuple(f.name for f in fields(FastPath))
FAST_PATH = ("auto", "on", "off")  # --fast-path


def uses_fast_path(mode, device):
    """Whether --fast-path `mode` means the device's fast path ("auto": on a GPU only)."""
    if mode not in FAST_PATH:
        raise ValueError(f"fast_path={mode!r}: expected one of {', '.join(FAST_PATH)}")
    return mode == "on" or (mode == "auto" and torch.device(device).type == "cuda")


def fast_path_for(cfg, device):
    """The FastPath a run uses on `device`: choose(device) when the fast path is on (see
    uses_fast_path), else BASELINE, overridden by each setting of cfg that is not None."""
    base = (choose(device, compile=cfg.compile, compile_mode=cfg.compile_mode)
            if uses_fast_path(cfg.fast_path, device) else BASELINE)
    given = {k: getattr(cfg, k) for k in FAST_FIELDS if getattr(cfg, k) is not None}
    return replace(base, **given)


@dataclass
class TrainingSetup:
    """G and D as set up for `fast`, the networks a step runs (wrapped and/or compiled), Adam for
    each (sec. 3.3) and the fp16 grad scaler."""
    fast: FastPath
    G: nn.Module
    D: nn.Module
    G_run: nn.Module
    D_run: nn.Module
    opt_G: torch.optim.Optimizer
    opt_D: torch.optim.Optimizer
    scaler: torch.amp.GradScaler | None

    def step(self, x, y, lambda_l1=100.0, gan_mode="vanilla"):
        """One `train_step` on the batch (x, y) with these settings; returns its losses."""
        if self.fast.channels_last:
            x, y = (t.contiguous(memory_format=torch.channels_last) for t in (x, y))
        if self.fast.cuda_graphs:  # CUDA graphs: tell torch.compile a new iteration starts
            torch.compiler.cudagraph_mark_step_begin()
        return train_step(self.G_run, self.D_run, self.opt_G, self.opt_D, x, y, lambda_l1,
                          gan_mode, autocast_dtype=self.fast.autocast_dtype, scaler=self.scaler)


def set_up_training(fast, device, G, D, lr=2e-4, beta1=0.5, wrap=None):
    """Set `device` and the networks (already on it) up for training with `fast`: TF32 and cuDNN
    autotuning (process-wide, CUDA only), channels-last G and D, Adam (fused when asked), a
    GradScaler for fp16, then `wrap` (e.g. DistributedDataParallel) and torch.compile of the
    networks a step runs. Returns a TrainingSetup."""
    device = torch.device(device)
    apply_backend_flags(fast, device)
    if fast.channels_last:
        G, D = G.to(memory_format=torch.channels_last), D.to(memory_format=torch.channels_last)
    opt_G, opt_D = make_optimizers(G, D, lr, beta1, fused=True if fast.fused_adam else None)
    scaler = torch.amp.GradScaler(device.type) if fast.amp == "fp16" else None
    G_run, D_run = (wrap(G), wrap(D)) if wrap else (G, D)
    if fast.compile:
        G_run = torch.compile(G_run, mode=fast.compile_mode)
        D_run = torch.compile(D_run, mode=fast.compile_mode)
    return TrainingSetup(fast, G, D, G_run, D_run, opt_G, opt_D, scaler)


def describe_choice(cfg, fast, device):
    """One line for the run's log: the settings and where they come from."""
    given = [f"--{k.replace('_', '-')}" for k in FAST_FIELDS
             if getattr(cfg, k) is not None and k != "compile_mode"]
    kind = torch.device(device).type
    source = (f"the fast path for {kind}, p2p-bench's 'fast' row; --fast-path off for the "
              f"eager float32 baseline" if uses_fast_path(cfg.fast_path, device) else
              f"the paper-faithful eager float32 baseline (--fast-path {cfg.fast_path} on "
              f"{kind}; --fast-path on for p2p-bench's 'fast' row)")
    return (f"settings: {fast.describe()} ({source}"
            + (f"; given: {', '.join(given)}" if given else "") + ")")
