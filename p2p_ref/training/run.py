"""A run's state: `Run` holds G, D, their optimizers and schedules, the grad scaler and where the
run stands; it is what a checkpoint saves and what `--resume` and `--init-from` restore."""

import random

import numpy as np
import torch

from p2p_ref.paper.train_step import lr_factor
from p2p_ref.training import pieces as stand_ins
from p2p_ref.training.checkpoint import load_checkpoint, set_rng_state
from p2p_ref.training.config import ARCHITECTURE_D, ARCHITECTURE_G, MUST_MATCH, default
from p2p_ref.training.device_setup import fast_path_for, set_up_training
from p2p_ref.training.devices import convert_sync_batchnorm, wrap_ddp


def seed_everything(seed):
    torch.manual_seed(seed)
    random.seed(seed)
    np.random.seed(seed)


def init_from_checkpoint(G, D, path, cfg, log):
    """Fine-tuning (--init-from): copy G's (and, when the file has it, D's) weights from `path`,
    a p2p-train checkpoint or a p2p-export / p2p-convert file. Nothing else is taken: the
    optimizers, the learning-rate schedule, the epoch count and the RNG start fresh, and the
    dataset may be any other. The architecture settings must match."""
    ck = load_checkpoint(path)
    theirs = ck["config"]
    mismatch = [k for k in ARCHITECTURE_G
                if theirs.get(k, default(k)) != getattr(cfg, k)]
    if mismatch:
        raise ValueError(f"--init-from {path}: its generator was built with " + ", ".join(
            f"{k}={theirs.get(k)!r}" for k in mismatch) + "; this run has " + ", ".join(
            f"{k}={getattr(cfg, k)!r}" for k in mismatch) + ". Pass the same settings (" +
            " ".join(f"--{k.replace('_', '-')} {theirs.get(k)}" for k in mismatch) + ")")
    G.load_state_dict(ck["G"])
    what = "G"
    d_fits = all(theirs.get(k, default(k)) == getattr(cfg, k) for k in ARCHITECTURE_D)
    if ck.get("D") is not None and d_fits:
        D.load_state_dict(ck["D"])
        what = "G and D"
    elif ck.get("D") is not None:
        log(f"note: the discriminator in {path} has another architecture ("
            + ", ".join(f"{k}={theirs.get(k)!r}" for k in ARCHITECTURE_D)
            + "): D starts from scratch")
    else:
        log(f"note: {path} holds no discriminator: D starts from scratch")
    step = ck.get("step")
    log(f"initialised {what} from {path}" + (f" (step {step} of its run)" if step else "")
        + ": fresh optimizers, learning-rate schedule from epoch 1, this run's data")


def schedule_change_note(old, new, epoch, lr):
    """What resuming with other --n-epochs / --n-epochs-decay does to the learning rate.

    old, new: (n_epochs, n_epochs_decay) of the checkpoint and of this run; epoch: the epochs
    already trained; lr: the base learning rate. The rate follows the new schedule from the next
    epoch on, so extending a finished run raises it again."""
    total = sum(new)
    last = lr * lr_factor(epoch, *old) if epoch else lr
    msg = (f"the learning-rate schedule changed from {old[0]} + {old[1]} to {new[0]} + {new[1]} "
           f"epochs (constant + linear decay). The rate follows the new schedule from epoch "
           f"{epoch + 1} on: ")
    if epoch >= total:
        return msg + (f"none is left, since {epoch} epochs are done. Pass a larger --n-epochs "
                      f"or --n-epochs-decay to train more")
    nxt = lr * lr_factor(epoch + 1, *new)
    msg += (f"epoch {epoch + 1} trains at {nxt:.3g} (the last epoch trained at {last:.3g}), "
            f"epoch {total} at {lr * lr_factor(total, *new):.3g}.")
    if nxt > last * 1.001:
        msg += (" The rate goes UP again. To train on at the small final rate instead, start a "
                "new run from this one's weights: --init-from CHECKPOINT --lr "
                f"{last:.3g} --n-epochs 0 --n-epochs-decay N")
    return msg


class Run:
    """G, D, Adam for each (sec. 3.3), their learning-rate schedules, the fp16 grad scaler, `setup`
    (the networks a step runs, wrapped for DDP and compiled: `device_setup.TrainingSetup`), and
    where the run stands: `epoch` (epochs done), `batch` (batches done in the current epoch) and
    `step` (batches done in all). `state_dict` is what a checkpoint holds of them."""

    PARTS = ("G", "D", "opt_G", "opt_D", "sched_G", "sched_D")

    def __init__(self, cfg, device, d, log=print, fast=None, pieces=None):
        seed_everything(cfg.seed)  # the same initial weights on every rank
        G, D = stand_ins.models(pieces, cfg)  # pieces: p2p_ref.training.pieces.Pieces or None
        G, D = convert_sync_batchnorm(G.to(device), D.to(device), device, d, log)
        wrap = (lambda m: wrap_ddp(m, device)) if d.enabled else None
        # TF32, cuDNN autotuning, channels-last, fused Adam, the GradScaler, DDP, torch.compile:
        # what p2p-bench times as this FastPath (`device_setup`)
        self.setup = set_up_training(fast or fast_path_for(cfg, device), device, G, D, cfg.lr,
                                     cfg.beta1, wrap)
        if pieces and pieces.make_optimizers:  # someone else's optimizers (training.pieces)
            self.setup.opt_G, self.setup.opt_D = stand_ins.optimizers(
                pieces, self.setup.G, self.setup.D, cfg)
        self.G, self.D = self.setup.G, self.setup.D
        self.opt_G, self.opt_D = self.setup.opt_G, self.setup.opt_D
        self.sched_G, self.sched_D = stand_ins.schedulers(pieces, self.opt_G, self.opt_D, cfg)
        self.scaler = self.setup.scaler
        self.pieces = pieces
        seed_everything(cfg.seed + d.rank)  # each rank its own dropout noise
        self.epoch = self.batch = self.step = 0

    @property
    def lr(self):
        """The rate G's optimizer trains with now."""
        return self.opt_G.param_groups[0]["lr"]

    def end_epoch(self):
        """Step both schedules and move to the next epoch."""
        self.sched_G.step()
        self.sched_D.step()
        self.epoch, self.batch = self.epoch + 1, 0

    def state_dict(self):
        state = {k: getattr(self, k).state_dict() for k in self.PARTS}
        state["scaler"] = self.scaler.state_dict() if self.scaler else None
        state.update(epoch=self.epoch, batch=self.batch, step=self.step)
        return state

    def load_state_dict(self, state):
        for k in self.PARTS:
            getattr(self, k).load_state_dict(state[k])
        if self.scaler is not None and state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])
        self.epoch, self.batch, self.step = state["epoch"], state["batch"], state["step"]


def resume(run, cfg, ckpt_path, d, log):
    """Continue the run saved in `ckpt_path` exactly: its weights, optimizers, schedules, scaler,
    counters and this rank's RNG state. Settings that shape the data or the networks must match;
    a changed schedule (--n-epochs, --n-epochs-decay) applies from the next epoch. Returns the
    checkpoint (its best-so-far record is the caller's)."""
    ck = load_checkpoint(ckpt_path)
    before = {k: ck["config"].get(k, default(k)) for k in MUST_MATCH}
    changed = {k: (before[k], getattr(cfg, k)) for k in MUST_MATCH if before[k] != getattr(cfg, k)}
    if changed:
        raise ValueError(f"cannot resume {ckpt_path} with different settings: " + ", ".join(
            f"{k} was {a!r}, now {b!r}" for k, (a, b) in changed.items()))
    run.load_state_dict(ck)
    old = (ck["config"].get("n_epochs"), ck["config"].get("n_epochs_decay"))
    new = (cfg.n_epochs, cfg.n_epochs_decay)
    if old != new:
        base_lr = run.sched_G.base_lrs[0]
        for opt in (run.opt_G, run.opt_D):  # this epoch already trains at the new schedule's rate
            for group, base in zip(opt.param_groups, run.sched_G.base_lrs):
                group["lr"] = base * lr_factor(run.epoch + 1, *new)
        log("note: " + schedule_change_note(old, new, run.epoch, base_lr))
    elif run.epoch >= sum(new):
        log(f"note: {ckpt_path} finished all {run.epoch} epochs ({new[0]} + {new[1]}); pass a "
            f"larger --n-epochs or --n-epochs-decay to train more (the learning rate then "
            f"follows the new schedule)")
    if d.rank < len(ck["rng"]):
        set_rng_state(ck["rng"][d.rank])
    else:  # e.g. after Ctrl-C under torchrun, only rank 0 could save its state
        seed_everything(cfg.seed + d.rank + run.step)
    if len(ck["rng"]) != d.world_size:
        log(f"note: {ckpt_path} holds the RNG states of {len(ck['rng'])} process(es), this run "
            f"has {d.world_size}: the others are re-seeded, so losses will not match an "
            f"uninterrupted run exactly")
    log(f"resuming {ckpt_path} at epoch {run.epoch + 1}, batch {run.batch}, step {run.step}")
    return ck
