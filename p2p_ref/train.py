"""Training pix2pix: the paper's recipe (sec. 3.3, appendix 6.2) and the `p2p-train` command.

    fake = G(x)                                                   once per batch
    D step: 0.5 * [BCE(D(x, y), 1) + BCE(D(x, fake.detach()), 0)]
    G step: BCE(D(x, fake), 1) + lambda * |y - fake|_1            lambda = 100, D frozen

Adam (lr 2e-4, betas 0.5 / 0.999) for both nets, batch size 1, 100 epochs at a constant rate then
100 epochs of linear decay. `train_step` is the whole recipe; `train` turns it into a run you can
stop and resume exactly, on one process or many (torchrun). Its plumbing lives in modules named
for what they hold: `processes` (devices, torchrun/DDP), `data_order` (the resumable shuffled
order), `validation` (test-time mode, metrics, sample grids), `run_log` (JSON lines, TensorBoard)
and `checkpoint` (what is saved, where, and which one is best).

    p2p-train synthetic --n-epochs 2 --n-epochs-decay 0 --out runs/try
    torchrun --nproc_per_node=4 -m p2p_ref.train facades --out runs/facades
"""

import argparse
import math
import os
import random
import signal
import sys
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch.optim.lr_scheduler import LambdaLR
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from p2p_ref.checkpoint import (BEST_METRICS, RunCheckpoints, load_checkpoint, rng_state,
                                set_rng_state)
from p2p_ref.data import (DIRECTIONS, PREPROCESS, AlignedDataset, DataWarning, collate_pairs,
                          resolve_dataset)
from p2p_ref.data_order import ResumableSampler, SeededPairs
from p2p_ref.losses import GAN_MODES, discriminator_loss, generator_loss
from p2p_ref.models import NORMS, PatchDiscriminator, UNetGenerator
from p2p_ref.fast_path import warn_if_slow_amp
from p2p_ref.processes import (cleanup_distributed, convert_sync_batchnorm, gather_objects,
                               resolve_device, setup_distributed, wrap_ddp)
from p2p_ref.run_log import append_jsonl, end_of_epoch, truncate_jsonl
from p2p_ref.validation import TEST_MODES, sample_grid

AMP_DTYPES = {"off": None, "bf16": torch.bfloat16, "fp16": torch.float16}


@dataclass
class TrainConfig:
    """A run's settings; the defaults are the paper's (facades, labels -> photo)."""
    dataset: str = "synthetic"     # "synthetic", a downloaded name (facades, ...) or a folder
    data_root: str = "datasets"
    direction: str = "BtoA"        # labels -> photo on facades and the synthetic set
    load_size: int = 286           # jitter: resize to 286, random 256 crop, random mirror
    crop_size: int = 256
    preprocess: str = "resize_and_crop"  # or "crop", "scale_width_and_crop", "none" (see data.py)
    flip: bool = True              # random mirroring (--no-flip where it breaks the task)
    input_nc: int = 3              # channels of G's input (1 for grayscale)
    output_nc: int = 3             # channels of G's output
    max_train_images: int | None = None  # use only the first N training pairs (quick runs)
    n_epochs: int = 100            # epochs at the initial learning rate
    n_epochs_decay: int = 100      # epochs of linear decay to ~0
    batch_size: int = 1
    lambda_l1: float = 100.0
    gan_mode: str = "vanilla"      # "vanilla" (the paper's BCE) or "lsgan"
    norm: str = "batch"
    ngf: int = 64
    ndf: int = 64
    num_downs: int = 8             # 8 for 256 x 256 ("unet_256"), 7 for 128 x 128
    n_layers_d: int = 3            # 3: the 70 x 70 PatchGAN
    lr: float = 2e-4
    beta1: float = 0.5
    device: str = "auto"
    amp: str = "off"               # "bf16" or "fp16" (fp16 uses a GradScaler)
    channels_last: bool = False
    compile: bool = False
    seed: int = 0
    out: str = "runs/pix2pix"
    resume: bool = False
    init_from: str | None = None   # fine-tune: start from these weights (fresh optimizers, schedule)
    max_steps: int | None = None   # stop (and checkpoint) after this many steps in all
    save_every_steps: int | None = None  # also checkpoint every N steps (mid-epoch)
    keep_every_epochs: int | None = None  # keep checkpoints/epoch_NNN.pt every N epochs
    best_metric: str | None = "val_l1"  # best.pt: the epoch with the best value of this metric
    num_workers: int = 2
    val_every: int = 1             # epochs between validation metrics
    sample_every: int = 1          # epochs between sample grids
    test_mode: str = "paper"       # G at validation: "paper" (dropout, batch stats) or "eval"


# Settings a resumed run must share with the run it continues.
MUST_MATCH = ("dataset", "direction", "load_size", "crop_size", "preprocess", "flip",
              "max_train_images", "batch_size", "input_nc", "output_nc", "norm", "ngf", "ndf",
              "num_downs", "n_layers_d", "seed")
# Settings that fix the shapes of G's and D's weights (checked by --init-from).
ARCHITECTURE_G = ("input_nc", "output_nc", "ngf", "num_downs", "norm")
ARCHITECTURE_D = ("input_nc", "output_nc", "ndf", "n_layers_d", "norm")


class NonFiniteLossError(RuntimeError):
    """A loss became NaN or infinite; the run stops without overwriting its last checkpoint."""


def make_optimizers(G, D, lr=2e-4, beta1=0.5, *, fused=None):
    """Adam with lr 2e-4 and betas (0.5, 0.999) for both networks (sec. 3.3)."""
    return (torch.optim.Adam(G.parameters(), lr=lr, betas=(beta1, 0.999), fused=fused),
            torch.optim.Adam(D.parameters(), lr=lr, betas=(beta1, 0.999), fused=fused))


def lr_factor(epoch, n_epochs=100, n_epochs_decay=100):
    """The learning-rate multiplier of epoch `epoch` (counted from 1): 1 for the first n_epochs
    epochs, then a linear decay, 1 - max(0, epoch - n_epochs) / (n_epochs_decay + 1), which
    leaves 1/101 of the rate in the last of the paper's 200 epochs (as in the official code)."""
    return 1.0 - max(0, epoch - n_epochs) / (n_epochs_decay + 1)


def make_schedulers(opt_G, opt_D, n_epochs=100, n_epochs_decay=100):
    """LambdaLR for both optimizers; LambdaLR counts finished epochs from 0, hence e + 1."""
    return tuple(LambdaLR(o, lambda e: lr_factor(e + 1, n_epochs, n_epochs_decay))
                 for o in (opt_G, opt_D))


def _backward_step(loss, optimizer, scaler):
    if scaler is None:
        loss.backward()
        optimizer.step()
    else:  # fp16: scale the loss so small gradients do not underflow; step skips inf/NaN grads
        scaler.scale(loss).backward()
        scaler.step(optimizer)


def train_step(G, D, opt_G, opt_D, x, y, lambda_l1=100.0, gan_mode="vanilla", *,
               autocast_dtype=None, scaler=None):
    """One pix2pix iteration on the batch (x, y): a gradient step on D, then one on G (sec. 3.3).

    Returns the detached losses {"loss_D", "loss_G", "loss_G_GAN", "loss_G_L1"} (0-dim tensors,
    no host sync). autocast_dtype (torch.bfloat16 / torch.float16) runs the forward passes under
    autocast; scaler is the torch.amp.GradScaler that fp16 needs.
    """
    def autocast():
        return torch.autocast(x.device.type, dtype=autocast_dtype, enabled=autocast_dtype is not None)

    with autocast():
        fake = G(x)  # computed once, used by both updates

    # D step: real pairs -> 1, generated pairs -> 0. The fake is detached: no gradient reaches G.
    opt_D.zero_grad(set_to_none=True)
    with autocast():
        loss_D = discriminator_loss(D(x, y), D(x, fake.detach()), gan_mode)
    _backward_step(loss_D, opt_D, scaler)

    # G step: fool the just-updated D and stay close to y. D only judges, so its weights are
    # frozen (the official code's set_requires_grad(netD, False)): no gradients are stored for it.
    D.requires_grad_(False)
    opt_G.zero_grad(set_to_none=True)
    with autocast():
        loss_G, loss_G_GAN, loss_G_L1 = generator_loss(D(x, fake), fake, y, lambda_l1, gan_mode)
    _backward_step(loss_G, opt_G, scaler)
    D.requires_grad_(True)
    if scaler is not None:
        scaler.update()
    return {"loss_D": loss_D.detach(), "loss_G": loss_G.detach(),
            "loss_G_GAN": loss_G_GAN.detach(), "loss_G_L1": loss_G_L1.detach()}


def build_models(cfg):
    """G and D of the config, initialised from N(0, 0.02) (appendix 6.2)."""
    G = UNetGenerator(cfg.input_nc, cfg.output_nc, num_downs=cfg.num_downs, ngf=cfg.ngf,
                      norm=cfg.norm)
    D = PatchDiscriminator(cfg.input_nc + cfg.output_nc, ndf=cfg.ndf, n_layers=cfg.n_layers_d,
                           norm=cfg.norm)
    return G, D


def seed_everything(seed):
    torch.manual_seed(seed)
    random.seed(seed)
    np.random.seed(seed)


def _check_config(cfg):
    for name, value, allowed in (("direction", cfg.direction, DIRECTIONS),
                                 ("gan_mode", cfg.gan_mode, GAN_MODES), ("norm", cfg.norm, NORMS),
                                 ("amp", cfg.amp, tuple(AMP_DTYPES)),
                                 ("test_mode", cfg.test_mode, TEST_MODES),
                                 ("preprocess", cfg.preprocess, PREPROCESS)):
        if value not in allowed:
            raise ValueError(f"{name}={value!r}: expected one of {allowed}")
    if cfg.best_metric is not None and cfg.best_metric not in BEST_METRICS:
        raise ValueError(f"best_metric={cfg.best_metric!r}: expected one of "
                         f"{', '.join(BEST_METRICS)} or none")
    for name in ("save_every_steps", "keep_every_epochs"):
        if getattr(cfg, name) is not None and getattr(cfg, name) < 1:
            raise ValueError(f"{name}={getattr(cfg, name)}: expected a positive number")
    m = 2 ** cfg.num_downs
    if cfg.crop_size % m and cfg.preprocess != "none":
        raise ValueError(f"crop_size={cfg.crop_size} does not work with num_downs={cfg.num_downs}: "
                         f"it must be a multiple of 2**num_downs = {m} (256 -> 8, 128 -> 7)")


def _val_split(root):
    return next((s for s in ("val", "test") if (Path(root) / s).is_dir()), None)


def make_datasets(root, cfg, check=True):
    """(train set with the jitter, validation set or None, the split it comes from). Validation
    pairs are prepared without randomness: resized to crop_size (resize_and_crop), cut at the
    centre (crop, scale_width_and_crop) or padded (none)."""
    kw = dict(preprocess=cfg.preprocess, input_nc=cfg.input_nc, output_nc=cfg.output_nc,
              multiple=2 ** cfg.num_downs)
    train_set = AlignedDataset(root, "train", cfg.direction, cfg.load_size, cfg.crop_size,
                               flip=cfg.flip, check=check, **kw)
    if cfg.max_train_images:
        train_set.pairs = train_set.pairs[:cfg.max_train_images]
    split = _val_split(root)
    load = cfg.crop_size if cfg.preprocess == "resize_and_crop" else cfg.load_size
    val_set = split and AlignedDataset(root, split, cfg.direction, load, cfg.crop_size, flip=False,
                                       center_crop=True, check=check, **kw)
    return train_set, val_set, split


def init_from_checkpoint(G, D, path, cfg, log):
    """Fine-tuning (--init-from): copy G's (and, when the file has it, D's) weights from `path`,
    a p2p-train checkpoint or a p2p-export / p2p-convert file. Nothing else is taken: the
    optimizers, the learning-rate schedule, the epoch count and the RNG start fresh, and the
    dataset may be any other. The architecture settings must match."""
    ck = load_checkpoint(path)
    theirs = ck["config"]
    mismatch = [k for k in ARCHITECTURE_G
                if theirs.get(k, getattr(TrainConfig, k)) != getattr(cfg, k)]
    if mismatch:
        raise ValueError(f"--init-from {path}: its generator was built with " + ", ".join(
            f"{k}={theirs.get(k)!r}" for k in mismatch) + "; this run has " + ", ".join(
            f"{k}={getattr(cfg, k)!r}" for k in mismatch) + ". Pass the same settings (" +
            " ".join(f"--{k.replace('_', '-')} {theirs.get(k)}" for k in mismatch) + ")")
    G.load_state_dict(ck["G"])
    what = "G"
    d_fits = all(theirs.get(k, getattr(TrainConfig, k)) == getattr(cfg, k) for k in ARCHITECTURE_D)
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


def train(cfg):
    """Run (or resume) training; returns a dict: status ("finished", "stopped" at max_steps or
    "interrupted"), step, epoch, where the outputs are, and the trained G and D.
    Raises NonFiniteLossError."""
    _check_config(cfg)
    d, device = setup_distributed(resolve_device(cfg.device))
    try:
        result = _train(cfg, d, device)
    except BaseException:
        if d.enabled and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()
        raise
    cleanup_distributed(d)
    return result


def _train(cfg, d, device):
    log = (lambda msg: tqdm.write(msg)) if d.is_main else (lambda msg: None)
    warn_if_slow_amp(cfg.amp, device, log)  # e.g. bf16 on a CPU without native bf16
    out = Path(cfg.out)
    ckpt_path, samples_dir = out / "checkpoint.pt", out / "samples"
    losses_path, metrics_path = out / "losses.jsonl", out / "metrics.jsonl"
    if ckpt_path.exists() and not cfg.resume:
        raise FileExistsError(f"{ckpt_path} already exists: pass --resume to continue that run, "
                              f"or choose another --out")

    # ---- data (rank 0 first: it may generate the synthetic set)
    if d.is_main:
        root = resolve_dataset(cfg.dataset, cfg.data_root)
    if d.enabled:
        torch.distributed.barrier()
    root = resolve_dataset(cfg.dataset, cfg.data_root)
    with warnings.catch_warnings(record=True) as found:  # the start-up data check
        warnings.simplefilter("always", DataWarning)
        train_set, val_set, split = make_datasets(root, cfg, check=d.is_main)
    for w in found:
        if issubclass(w.category, DataWarning):
            log(f"data warning: {w.message}")
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    shown = val_set or train_set.deterministic(
        cfg.crop_size if cfg.preprocess == "resize_and_crop" else cfg.load_size)
    fixed_pairs = [shown[i] for i in range(min(4, len(shown)))]  # the same pairs in every grid
    sampler = ResumableSampler(train_set, cfg.seed, d.rank, d.world_size)
    loader = DataLoader(SeededPairs(train_set, cfg.seed), batch_size=cfg.batch_size,
                        sampler=sampler, num_workers=cfg.num_workers, collate_fn=collate_pairs,
                        pin_memory=device.type == "cuda", persistent_workers=cfg.num_workers > 0,
                        generator=torch.Generator().manual_seed(cfg.seed))  # keeps global RNG out
    steps_per_epoch = len(loader)

    # ---- models, optimizers, schedules
    seed_everything(cfg.seed)  # the same initial weights on every rank
    G, D = build_models(cfg)
    G, D = convert_sync_batchnorm(G.to(device), D.to(device), device, d, log)
    if cfg.channels_last:
        G, D = G.to(memory_format=torch.channels_last), D.to(memory_format=torch.channels_last)
    opt_G, opt_D = make_optimizers(G, D, cfg.lr, cfg.beta1)
    sched_G, sched_D = make_schedulers(opt_G, opt_D, cfg.n_epochs, cfg.n_epochs_decay)
    scaler = torch.amp.GradScaler(device.type) if cfg.amp == "fp16" else None
    seed_everything(cfg.seed + d.rank)  # each rank its own dropout noise
    epoch = batch = step = 0
    ckpts = RunCheckpoints(out, cfg.keep_every_epochs, cfg.best_metric)

    if cfg.init_from and not cfg.resume:
        init_from_checkpoint(G, D, cfg.init_from, cfg, log)
    if cfg.resume:
        ck = load_checkpoint(ckpt_path)
        before = {k: ck["config"].get(k, getattr(TrainConfig, k)) for k in MUST_MATCH}
        changed = {k: (before[k], getattr(cfg, k)) for k in MUST_MATCH
                   if before[k] != getattr(cfg, k)}
        if changed:
            raise ValueError(f"cannot resume {ckpt_path} with different settings: " + ", ".join(
                f"{k} was {a!r}, now {b!r}" for k, (a, b) in changed.items()))
        for obj, key in ((G, "G"), (D, "D"), (opt_G, "opt_G"), (opt_D, "opt_D"),
                         (sched_G, "sched_G"), (sched_D, "sched_D")):
            obj.load_state_dict(ck[key])
        if scaler is not None and ck.get("scaler"):
            scaler.load_state_dict(ck["scaler"])
        epoch, batch, step = ck["epoch"], ck["batch"], ck["step"]
        ckpts.restore(ck)
        old = (ck["config"].get("n_epochs"), ck["config"].get("n_epochs_decay"))
        if old != (cfg.n_epochs, cfg.n_epochs_decay):
            base_lr = sched_G.base_lrs[0]
            for opt in (opt_G, opt_D):  # this epoch already trains at the new schedule's rate
                for group, base in zip(opt.param_groups, sched_G.base_lrs):
                    group["lr"] = base * lr_factor(epoch + 1, cfg.n_epochs, cfg.n_epochs_decay)
            log("note: " + schedule_change_note(old, (cfg.n_epochs, cfg.n_epochs_decay), epoch,
                                                base_lr))
        elif epoch >= cfg.n_epochs + cfg.n_epochs_decay:
            log(f"note: {ckpt_path} finished all {epoch} epochs ({cfg.n_epochs} + "
                f"{cfg.n_epochs_decay}); pass a larger --n-epochs or --n-epochs-decay to train "
                f"more (the learning rate then follows the new schedule)")
        if d.rank < len(ck["rng"]):
            set_rng_state(ck["rng"][d.rank])
        else:  # e.g. after Ctrl-C under torchrun, only rank 0 could save its state
            seed_everything(cfg.seed + d.rank + step)
        if len(ck["rng"]) != d.world_size:
            log(f"note: {ckpt_path} holds the RNG states of {len(ck['rng'])} process(es), this run "
                f"has {d.world_size}: the others are re-seeded, so losses will not match an "
                f"uninterrupted run exactly")
        log(f"resuming {ckpt_path} at epoch {epoch + 1}, batch {batch}, step {step}")

    G_run, D_run = (wrap_ddp(G, device), wrap_ddp(D, device)) if d.enabled else (G, D)
    if cfg.compile:
        G_run, D_run = torch.compile(G_run), torch.compile(D_run)

    writer = None
    if d.is_main:
        samples_dir.mkdir(parents=True, exist_ok=True)
        for path, key, last in ((losses_path, "step", step), (metrics_path, "epoch", epoch)):
            if cfg.resume:
                truncate_jsonl(path, key, last)
            else:
                path.unlink(missing_ok=True)
        from torch.utils.tensorboard import SummaryWriter
        writer = SummaryWriter(out / "tensorboard", purge_step=step + 1 if cfg.resume else None)

    saved = {"step": step if cfg.resume else None}

    def save(collective=True, record=None):
        """Checkpoint on rank 0 (every rank's RNG state when all ranks reach this point).
        At an epoch end, `record` (the validation metrics) may also update best.pt, and the
        history keeps a copy every --keep-every-epochs."""
        rngs = gather_objects(rng_state(), d) if collective else [rng_state()]
        saved["step"] = step
        if not d.is_main:
            return
        checkpoint = {
            "G": G.state_dict(), "D": D.state_dict(), "opt_G": opt_G.state_dict(),
            "opt_D": opt_D.state_dict(), "sched_G": sched_G.state_dict(),
            "sched_D": sched_D.state_dict(), "scaler": scaler.state_dict() if scaler else None,
            "epoch": epoch, "batch": batch, "step": step, "config": asdict(cfg), "rng": rngs}
        if record is None:
            ckpts.save(checkpoint)
            return
        for path in ckpts.end_of_epoch(checkpoint, record, epoch):
            if path == ckpts.best_path:
                log(f"epoch {epoch}: best {ckpts.best_metric} so far "
                    f"({ckpts.best['value']:.4f}): {path}")

    if d.is_main and cfg.best_metric and not val_set:
        log("note: no val/ or test/ split: best.pt is not written (--best-metric needs one)")
    elif d.is_main and cfg.best_metric and split == "test":
        log("note: no val/ split, so best.pt is chosen on test/: scores measured on test/ "
            "for that checkpoint are optimistic")

    total_epochs = cfg.n_epochs + cfg.n_epochs_decay
    total_steps = total_epochs * steps_per_epoch
    if cfg.max_steps is not None:
        total_steps = min(total_steps, cfg.max_steps)
    done = lambda: cfg.max_steps is not None and step >= cfg.max_steps  # noqa: E731
    bar = tqdm(total=total_steps, initial=min(step, total_steps), disable=not d.is_main,
               desc="p2p-train", dynamic_ncols=True)
    status = "finished"
    amp_dtype = AMP_DTYPES[cfg.amp]
    try:
        while epoch < total_epochs and not done():
            sampler.set_epoch(epoch, skip=batch * cfg.batch_size)
            for x, y in loader:
                if done():
                    break
                x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
                if cfg.channels_last:
                    x, y = (t.contiguous(memory_format=torch.channels_last) for t in (x, y))
                losses = train_step(G_run, D_run, opt_G, opt_D, x, y, cfg.lambda_l1, cfg.gan_mode,
                                    autocast_dtype=amp_dtype, scaler=scaler)
                values = torch.stack([v.float() for v in losses.values()])
                if d.enabled:  # every rank sees the same (mean) losses, so all stop together
                    torch.distributed.all_reduce(values)
                    values /= d.world_size
                values = dict(zip(losses, values.tolist()))
                bad = [k for k, v in values.items() if not math.isfinite(v)]
                if bad:
                    last = (f"the last good checkpoint {ckpt_path} (step {saved['step']}) is "
                            f"untouched" if saved["step"] is not None else "no checkpoint was written")
                    raise NonFiniteLossError(
                        f"{bad[0]} = {values[bad[0]]} at step {step + 1} (epoch {epoch + 1}, batch "
                        f"{batch + 1}): stopping; {last}. Try --amp off, a lower --lr, or check "
                        f"the data")
                step, batch = step + 1, batch + 1
                if cfg.save_every_steps and step % cfg.save_every_steps == 0:
                    save()
                if d.is_main:
                    append_jsonl(losses_path, {"step": step, "epoch": epoch + 1, **values})
                    for k, v in values.items():
                        writer.add_scalar(f"train/{k}", v, step)
                    bar.set_postfix(D=f"{values['loss_D']:.3f}", G_GAN=f"{values['loss_G_GAN']:.3f}",
                                    G_L1=f"{values['loss_G_L1']:.3f}")
                    bar.update()
            if batch < steps_per_epoch:  # stopped by --max-steps in the middle of an epoch
                break
            lr = opt_G.param_groups[0]["lr"]  # the rate this epoch trained with
            sched_G.step()
            sched_D.step()
            epoch, batch = epoch + 1, 0
            record = end_of_epoch(cfg, G, val_set, fixed_pairs, device, epoch, step, writer,
                                     lr, samples_dir, metrics_path, d, log)
            save(record=record)
        if epoch < total_epochs:
            status = "stopped"
            save()
    except KeyboardInterrupt:
        status = "interrupted"
        save(collective=False)
        log(f"\ninterrupted at step {step}: saved {ckpt_path}. Resume with the same command "
            f"plus --resume (p2p-train ... --out {out} --resume)")
    finally:
        bar.close()
        if writer is not None:
            writer.close()
    if d.is_main and status != "interrupted":
        grid = sample_grid(G, fixed_pairs, device, cfg.test_mode, cfg.seed)
        from torchvision.utils import save_image
        save_image(grid, samples_dir / "final.png", nrow=3)
    return {"status": status, "step": step, "epoch": epoch, "checkpoint": ckpt_path,
            "best": ckpts.best_path if ckpts.best else None,
            "samples": samples_dir, "metrics": metrics_path, "losses": losses_path,
            "tensorboard": out / "tensorboard", "G": G, "D": D}


def parse_args(argv=None):
    """The p2p-train command line -> TrainConfig (defaults: the paper's)."""
    c = TrainConfig()
    p = argparse.ArgumentParser(prog="p2p-train", description="Train pix2pix (Isola et al., "
                                "CVPR 2017) with the paper's recipe. Also: torchrun "
                                "--nproc_per_node=N -m p2p_ref.train ...")
    p.add_argument("dataset", nargs="?", default=c.dataset,
                   help="'synthetic' (generated offline), a downloaded name (facades, maps, ...) "
                        "or a folder holding train/ (and val/) A|B images (default: %(default)s)")
    p.add_argument("--data-root", default=c.data_root, help="where named datasets live")
    p.add_argument("--direction", choices=DIRECTIONS, default=c.direction,
                   help="BtoA = labels -> photo on facades and synthetic (default: %(default)s)")
    p.add_argument("--load-size", type=int, default=c.load_size, help="jitter: resize to this")
    p.add_argument("--crop-size", type=int, default=c.crop_size, help="jitter: random crop size")
    p.add_argument("--preprocess", choices=PREPROCESS, default=c.preprocess,
                   help="resize_and_crop: the paper's jitter; crop: crop at the image's own size; "
                        "scale_width_and_crop: scale the width to --load-size, then crop; none: "
                        "keep each size, pad to a multiple of 2**num_downs (default: %(default)s)")
    p.add_argument("--no-flip", dest="flip", action="store_false",
                   help="no random mirroring (where it breaks the task: maps, text, ...)")
    p.add_argument("--input-nc", type=int, default=c.input_nc,
                   help="channels of G's input: 1 for grayscale (default: %(default)s)")
    p.add_argument("--output-nc", type=int, default=c.output_nc,
                   help="channels of G's output (default: %(default)s)")
    p.add_argument("--max-train-images", type=int, default=None, help="use the first N pairs")
    p.add_argument("--n-epochs", type=int, default=c.n_epochs, help="epochs at the initial lr")
    p.add_argument("--n-epochs-decay", type=int, default=c.n_epochs_decay,
                   help="epochs of linear lr decay")
    p.add_argument("--batch-size", type=int, default=c.batch_size)
    p.add_argument("--lambda-l1", type=float, default=c.lambda_l1)
    p.add_argument("--gan-mode", choices=GAN_MODES, default=c.gan_mode)
    p.add_argument("--norm", choices=NORMS, default=c.norm)
    p.add_argument("--ngf", type=int, default=c.ngf)
    p.add_argument("--ndf", type=int, default=c.ndf)
    p.add_argument("--num-downs", type=int, default=c.num_downs,
                   help="U-Net depth: 8 for 256 px crops, 7 for 128, 6 for 64")
    p.add_argument("--n-layers-d", type=int, default=c.n_layers_d, help="3: 70 x 70 PatchGAN")
    p.add_argument("--lr", type=float, default=c.lr)
    p.add_argument("--beta1", type=float, default=c.beta1)
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default=c.device)
    p.add_argument("--amp", choices=tuple(AMP_DTYPES), default=c.amp,
                   help="autocast dtype; fp16 adds a GradScaler")
    p.add_argument("--channels-last", action="store_true")
    p.add_argument("--compile", action="store_true", help="torch.compile G and D")
    p.add_argument("--seed", type=int, default=c.seed)
    p.add_argument("--out", default=c.out, help="run folder (default: %(default)s)")
    p.add_argument("--resume", action="store_true", help="continue OUT/checkpoint.pt exactly")
    p.add_argument("--init-from", default=None, metavar="CKPT",
                   help="fine-tune: start from the weights in CKPT (a p2p-train checkpoint or a "
                        "p2p-export / p2p-convert file) with fresh optimizers and schedule")
    p.add_argument("--max-steps", type=int, default=None, help="stop after this many steps")
    p.add_argument("--save-every-steps", type=int, default=None, metavar="N",
                   help="also save OUT/checkpoint.pt every N steps (atomically), not only at "
                        "epoch ends")
    p.add_argument("--keep-every-epochs", type=int, default=None, metavar="N",
                   help="keep a copy of the checkpoint every N epochs: OUT/checkpoints/epoch_NNN.pt")
    p.add_argument("--best-metric", choices=(*BEST_METRICS, "none"), default=c.best_metric,
                   help="OUT/best.pt is the epoch with the best validation value of this metric "
                        "(default: %(default)s, lower is better; psnr and ssim: higher)")
    p.add_argument("--num-workers", type=int, default=c.num_workers)
    p.add_argument("--val-every", type=int, default=c.val_every, help="epochs")
    p.add_argument("--sample-every", type=int, default=c.sample_every, help="epochs")
    p.add_argument("--test-mode", choices=TEST_MODES, default=c.test_mode,
                   help="G at validation: paper = dropout and batch statistics on")
    args = vars(p.parse_args(argv))
    if args["best_metric"] == "none":
        args["best_metric"] = None
    return TrainConfig(**args)


def _interrupt(signum, frame):
    raise KeyboardInterrupt  # SIGTERM (kill, a scheduler, torchrun) is handled like Ctrl-C


def main(argv=None):
    cfg = parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)  # save a checkpoint before stopping
    try:
        result = train(cfg)
    except NonFiniteLossError as e:
        sys.exit(f"p2p-train: {e}")
    except (FileNotFoundError, FileExistsError, ValueError, RuntimeError) as e:
        sys.exit(f"p2p-train: {type(e).__name__}: {e}")
    if int(os.environ.get("RANK", "0")) == 0:
        print(f"{result['status']} at step {result['step']} (epoch {result['epoch']})\n"
              f"  samples:     {result['samples']}/\n"
              f"  metrics:     {result['metrics']}\n"
              f"  losses:      {result['losses']}\n"
              f"  checkpoint:  {result['checkpoint']}\n"
              + (f"  best:        {result['best']}\n" if result["best"] else "") +
              f"  TensorBoard: tensorboard --logdir {result['tensorboard']}")
    if result["status"] == "interrupted":
        sys.exit(130)


if __name__ == "__main__":
    main()
