"""Stand-ins for parts of the paper's recipe, so that `train` can run someone else's code (e.g. a
student's own networks, losses, step and jitter; see p2p_ref.course.student_train).

    train(cfg, Pieces(build_models=my_models, train_step=my_step))

Every field left None keeps the reference. Checkpoints, logs, resume and validation stay the
trainer's own.
"""

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch.optim.lr_scheduler import LambdaLR

from p2p_ref.paper.train_step import make_optimizers, make_schedulers
from p2p_ref.training.build import build_models
from p2p_ref.training.config import AMP_DTYPES

LOSS_KEYS = ("loss_D", "loss_G", "loss_G_GAN", "loss_G_L1")


@dataclass
class Pieces:
    """What replaces the reference; None keeps it.

    build_models(cfg) -> (G, D); make_optimizers(G, D, lr, beta1) -> (opt_G, opt_D);
    lr_factor(epoch, n_epochs, n_epochs_decay) -> the rate's multiplier of epoch (from 1);
    train_step(G, D, opt_G, opt_D, x, y, lambda_l1, gan_mode) -> {loss_D, loss_G, loss_G_GAN,
    loss_G_L1}; train_set(dataset) -> the training set to use instead (e.g. another jitter)."""
    build_models: Callable | None = None
    make_optimizers: Callable | None = None
    lr_factor: Callable | None = None
    train_step: Callable | None = None
    train_set: Callable | None = None


def models(pieces, cfg):
    return (pieces.build_models if pieces and pieces.build_models else build_models)(cfg)


def optimizers(pieces, G, D, cfg):
    if pieces and pieces.make_optimizers:
        return pieces.make_optimizers(G, D, cfg.lr, cfg.beta1)
    return make_optimizers(G, D, cfg.lr, cfg.beta1)


def schedulers(pieces, opt_G, opt_D, cfg):
    """LambdaLR with the given lr_factor; LambdaLR counts finished epochs from 0, hence e + 1."""
    if not (pieces and pieces.lr_factor):
        return make_schedulers(opt_G, opt_D, cfg.n_epochs, cfg.n_epochs_decay)
    factor, n, decay = pieces.lr_factor, cfg.n_epochs, cfg.n_epochs_decay
    return tuple(LambdaLR(o, lambda e: float(factor(e + 1, n, decay))) for o in (opt_G, opt_D))


def train_set(pieces, dataset):
    return pieces.train_set(dataset) if pieces and pieces.train_set else dataset


def step(pieces, G, D, opt_G, opt_D, x, y, cfg, amp="off"):
    """One step of pieces.train_step under autocast `amp` (bf16; fp16 needs the reference's
    GradScaler), its losses as float tensors."""
    if amp == "fp16":
        raise ValueError("--amp fp16 needs the reference train_step (its GradScaler); a "
                         "train_step of your own runs with --amp bf16 or --amp off")
    with torch.autocast(x.device.type, dtype=AMP_DTYPES[amp], enabled=amp != "off"):
        losses = pieces.train_step(G, D, opt_G, opt_D, x, y, cfg.lambda_l1, cfg.gan_mode)
    missing = [k for k in LOSS_KEYS if k not in losses]
    if missing:
        raise ValueError(f"the train_step in use returned no {', '.join(missing)}: expected a "
                         f"dict with {', '.join(LOSS_KEYS)}")
    return {k: torch.as_tensor(losses[k], device=x.device).detach().float() for k in LOSS_KEYS}
