"""`p2p-train`: the paper's recipe (sec. 3.3, appendix 6.2) as a run you can stop and resume.

Each batch is one `p2p_ref.paper.train_step.train_step` (a D step, then a G step); `train` adds
what a real run needs, on one process or many (torchrun): the data order (`data_order`), the
state that is saved (`run.Run`, `checkpoint`), devices and DDP (`devices`), validation and sample
grids at each epoch's end (`validation`), and the logs (`jsonl`, TensorBoard). The settings and
their flags are `config.TrainConfig`.

    p2p-train synthetic --n-epochs 2 --n-epochs-decay 0 --out runs/try
    torchrun --nproc_per_node=4 -m p2p_ref.training.train facades --out runs/facades
"""

import math
import os
import signal
import sys
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch.utils.data import DataLoader
from torchvision.utils import save_image
from tqdm.auto import tqdm

from p2p_ref.datasets.aligned import AlignedDataset, DataWarning, collate_pairs, resolve_dataset
from p2p_ref.training.checkpoint import RunCheckpoints, rng_state, run_folder_of
from p2p_ref.training.config import (check_config, command_line, dataset_direction, effective_config,
                                     resume_path)
from p2p_ref.training.config_file import config_text, package_version, read_run_info, write_config
from p2p_ref.training import pieces as stand_ins
from p2p_ref.training.data_order import ResumableSampler, SeededPairs
from p2p_ref.training.devices import (cleanup_distributed, gather_objects, resolve_device,
                                      setup_distributed)
from p2p_ref.training.device_setup import describe_choice, fast_path_for
from p2p_ref.training.fast_path import warn_if_slow_amp
from p2p_ref.training.jsonl import append_jsonl, truncate_jsonl
from p2p_ref.training.logs import new_wandb_id, open_run_logs
from p2p_ref.training.run import Run, init_from_checkpoint, resume, schedule_change_note
from p2p_ref.training.validation import end_of_epoch, local_batchnorm, sample_grid

__all__ = ["NonFiniteLossError", "make_datasets", "schedule_change_note", "train", "main"]


class NonFiniteLossError(RuntimeError):
    """A loss became NaN or infinite; the run stops without overwriting its last checkpoint."""


@dataclass
class RunFolder:
    """Where a run writes: its checkpoint, sample grids, logs and TensorBoard events."""
    out: Path

    def __post_init__(self):
        self.out = Path(self.out)
        self.checkpoint = self.out / "checkpoint.pt"
        self.config = self.out / "config.yaml"
        self.samples = self.out / "samples"
        self.losses = self.out / "losses.jsonl"
        self.metrics = self.out / "metrics.jsonl"
        self.tensorboard = self.out / "tensorboard"


@dataclass
class Data:
    train_set: AlignedDataset
    val_set: AlignedDataset | None
    split: str | None       # where validation pairs come from: "val", "test" or None
    fixed_pairs: list       # the same few pairs in every sample grid
    sampler: ResumableSampler
    loader: DataLoader


def _val_split(root):
    return next((s for s in ("val", "test") if (Path(root) / s).is_dir()), None)


def make_datasets(root, cfg, check=True):
    """(train set with the jitter, validation set or None, the split it comes from). Validation
    pairs are prepared without randomness: resized to crop_size (resize_and_crop), cut at the
    centre (crop, scale_width_and_crop) or padded (none)."""
    kw = dict(preprocess=cfg.preprocess, input_nc=cfg.input_nc, output_nc=cfg.output_nc,
              multiple=2 ** cfg.num_downs)
    direction = dataset_direction(cfg)
    train_set = AlignedDataset(root, "train", direction, cfg.load_size, cfg.crop_size,
                               flip=cfg.flip, check=check, **kw)
    if cfg.max_train_images:
        train_set.pairs = train_set.pairs[:cfg.max_train_images]
    split = _val_split(root)
    load = cfg.crop_size if cfg.preprocess == "resize_and_crop" else cfg.load_size
    val_set = split and AlignedDataset(root, split, direction, load, cfg.crop_size, flip=False,
                                       center_crop=True, check=check, **kw)
    return train_set, val_set, split


def prepare_data(cfg, d, device, log, pieces=None):
    """The datasets (rank 0 first: it may generate the synthetic set), the start-up data check's
    warnings through the run's log, and the resumable shuffled loader."""
    if d.is_main:
        resolve_dataset(cfg.dataset, cfg.data_root)
    if d.enabled:
        torch.distributed.barrier()
    root = resolve_dataset(cfg.dataset, cfg.data_root)
    with warnings.catch_warnings(record=True) as found:
        warnings.simplefilter("always", DataWarning)
        train_set, val_set, split = make_datasets(root, cfg, check=d.is_main)
    train_set = stand_ins.train_set(pieces, train_set)
    for w in found:
        if issubclass(w.category, DataWarning):
            log(f"data warning: {w.message}")
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    shown = val_set or train_set.deterministic(
        cfg.crop_size if cfg.preprocess == "resize_and_crop" else cfg.load_size)
    fixed_pairs = [shown[i] for i in range(min(4, len(shown)))]
    sampler = ResumableSampler(train_set, cfg.seed, d.rank, d.world_size)
    loader = DataLoader(SeededPairs(train_set, cfg.seed), batch_size=cfg.batch_size,
                        sampler=sampler, num_workers=cfg.num_workers, collate_fn=collate_pairs,
                        pin_memory=device.type == "cuda", persistent_workers=cfg.num_workers > 0,
                        generator=torch.Generator().manual_seed(cfg.seed))  # keeps global RNG out
    if d.is_main and cfg.best_metric and not val_set:
        log("note: no val/ or test/ split: best.pt is not written (--best-metric needs one)")
    elif d.is_main and cfg.best_metric and split == "test":
        log("note: no val/ split, so best.pt is chosen on test/: scores measured on test/ "
            "for that checkpoint are optimistic")
    return Data(train_set, val_set, split, fixed_pairs, sampler, loader)


def open_logs(cfg, folder, run, wandb_id=None):
    """Rank 0's logs (TensorBoard, and W&B with --wandb: `logs.RunLogs`); a resumed run first
    drops the log records written after its checkpoint, so each log reads as if the run had
    never stopped."""
    folder.samples.mkdir(parents=True, exist_ok=True)
    for path, key, last in ((folder.losses, "step", run.step), (folder.metrics, "epoch", run.epoch)):
        if cfg.resume:
            truncate_jsonl(path, key, last)
        else:
            path.unlink(missing_ok=True)
    return open_run_logs(cfg, folder.tensorboard, folder.out,
                         run.step + 1 if cfg.resume else None, wandb_id)


class Saver:
    """Writes checkpoints on rank 0 (every rank's RNG state when all ranks reach the save) and
    remembers the step of the last one. At an epoch's end, the validation record may also update
    best.pt, and the history keeps a copy every --keep-every-epochs."""

    def __init__(self, cfg, run, ckpts, d, log):
        self.cfg, self.run, self.ckpts, self.d, self.log = cfg, run, ckpts, d, log
        self.last_step = run.step if cfg.resume else None

    def __call__(self, collective=True, record=None, step=False):
        rngs = gather_objects(rng_state(), self.d) if collective else [rng_state()]
        self.last_step = self.run.step
        if not self.d.is_main:
            return
        checkpoint = {**self.run.state_dict(), "config": asdict(self.cfg), "rng": rngs}
        if step:  # --save-every-steps (with --keep-last: a copy kept in checkpoints/)
            self.ckpts.save_step(checkpoint, self.run.step)
            return
        if record is None:
            self.ckpts.save(checkpoint)
            return
        for path in self.ckpts.end_of_epoch(checkpoint, record, self.run.epoch):
            if path == self.ckpts.best_path:
                self.log(f"epoch {self.run.epoch}: best {self.ckpts.best_metric} so far "
                         f"({self.ckpts.best['value']:.4f}): {path}")


def mean_losses(losses, d):
    """The step's losses as floats, averaged over the ranks (so all ranks stop together)."""
    values = torch.stack([v.float() for v in losses.values()])
    if d.enabled:
        torch.distributed.all_reduce(values)
        values /= d.world_size
    return dict(zip(losses, values.tolist()))


def check_finite(values, run, folder, save):
    bad = [k for k, v in values.items() if not math.isfinite(v)]
    if bad:
        last = (f"the last good checkpoint {folder.checkpoint} (step {save.last_step}) is "
                f"untouched" if save.last_step is not None else "no checkpoint was written")
        raise NonFiniteLossError(
            f"{bad[0]} = {values[bad[0]]} at step {run.step + 1} (epoch {run.epoch + 1}, batch "
            f"{run.batch + 1}): stopping; {last}. Try --amp off, a lower --lr, or check the data")


def run_epoch(cfg, run, data, device, d, folder, writer, save, bar, done):
    """Train on the batches of epoch run.epoch + 1 that are left (all but the first run.batch);
    returns when the epoch ends or --max-steps is reached."""
    data.sampler.set_epoch(run.epoch, skip=run.batch * cfg.batch_size)
    for x, y in data.loader:
        if done():
            return
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        if run.pieces and run.pieces.train_step:  # someone else's step (p2p_ref.training.pieces)
            if run.setup.fast.channels_last:
                x, y = (t.contiguous(memory_format=torch.channels_last) for t in (x, y))
            losses = stand_ins.step(run.pieces, run.setup.G_run, run.setup.D_run, run.opt_G,
                                    run.opt_D, x, y, cfg, run.setup.fast.amp)
        else:
            losses = run.setup.step(x, y, cfg.lambda_l1, cfg.gan_mode)  # train_step, fast path
        values = mean_losses(losses, d)
        check_finite(values, run, folder, save)
        run.step, run.batch = run.step + 1, run.batch + 1
        if cfg.save_every_steps and run.step % cfg.save_every_steps == 0:
            save(step=True)
        if d.is_main:
            append_jsonl(folder.losses, {"step": run.step, "epoch": run.epoch + 1, **values})
            for k, v in values.items():
                writer.add_scalar(f"train/{k}", v, run.step)
            bar.set_postfix(D=f"{values['loss_D']:.3f}", G_GAN=f"{values['loss_G_GAN']:.3f}",
                            G_L1=f"{values['loss_G_L1']:.3f}")
            bar.update()


def train(cfg, pieces=None):
    """Run (or resume) training; returns a dict: status ("finished", "stopped" at max_steps or
    "interrupted"), step, epoch, where the outputs are, and the trained G and D.
    pieces (p2p_ref.training.pieces.Pieces) may replace the networks, optimizers, schedule, step
    and training set. Raises NonFiniteLossError."""
    check_config(cfg)
    d, device = setup_distributed(resolve_device(cfg.device))
    try:
        result = _train(cfg, d, device, pieces)
    except BaseException:
        if d.enabled and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()
        raise
    cleanup_distributed(d)
    return result


def _start(cfg, d, device, folder, fast, log, pieces=None):
    """The run's state: fresh, fine-tuned from --init-from, or resumed from its checkpoint."""
    run = Run(cfg, device, d, log, fast, pieces)
    ckpts = RunCheckpoints(folder.out, cfg.keep_every_epochs, cfg.best_metric, cfg.keep_last)
    if cfg.init_from and not cfg.resume:
        init_from_checkpoint(run.G, run.D, cfg.init_from, cfg, log)
    if cfg.resume:
        ckpts.restore(resume(run, cfg, resume_path(cfg), d, log))
    return run, ckpts


def run_info(cfg, device, fast):
    """config.yaml's `run` section: versions, the device and the fast path in words."""
    return {"p2p_ref": package_version("p2p_ref"), "torch": str(torch.__version__),
            "python": sys.version.split()[0], "device": str(device),
            "settings": fast.describe()}


def write_run_config(cfg, folder, device, fast):
    """OUT/config.yaml: the settings (cfg, resolved; resume off, so that --config repeats the
    run) and the `run` record (versions, device, the checkpoint resumed, the W&B run id, kept
    across --resume); returns the record."""
    folder.out.mkdir(parents=True, exist_ok=True)
    info = run_info(cfg, device, fast)
    if cfg.resume:  # a record; the settings stay a recipe that starts a run
        info["resumed_from"] = str(resume_path(cfg))
    if cfg.wandb:
        info["wandb_id"] = new_wandb_id(read_run_info(folder.config), cfg.resume)
    write_config(folder.config, {**asdict(cfg), "resume": False}, info)
    return info


def check_run_folder(cfg, folder):
    """A new run never overwrites a checkpoint; --resume PATH continues in PATH's run folder,
    or in an --out that holds no other run's checkpoint."""
    if folder.checkpoint.exists() and not cfg.resume:
        raise FileExistsError(f"{folder.checkpoint} already exists: pass --resume to continue "
                              f"that run, or choose another --out")
    source = resume_path(cfg)
    if (source and folder.checkpoint.exists()
            and run_folder_of(source).resolve() != folder.out.resolve()):
        raise FileExistsError(f"--resume {source} would continue in {folder.out}, which holds "
                              f"another run's checkpoint ({folder.checkpoint}); choose another "
                              f"--out")


def run_epochs(cfg, run, data, device, d, folder, writer, save, log):
    """Epochs until the schedule's end or --max-steps, each followed by validation, samples and a
    checkpoint; Ctrl-C or SIGTERM saves and stops. Returns "finished", "stopped" or
    "interrupted"."""
    total_epochs = cfg.n_epochs + cfg.n_epochs_decay
    total_steps = total_epochs * len(data.loader)
    if cfg.max_steps is not None:
        total_steps = min(total_steps, cfg.max_steps)
    done = lambda: cfg.max_steps is not None and run.step >= cfg.max_steps  # noqa: E731
    bar = tqdm(total=total_steps, initial=min(run.step, total_steps), disable=not d.is_main,
               desc="p2p-train", dynamic_ncols=True)
    status = "finished"
    try:
        while run.epoch < total_epochs and not done():
            run_epoch(cfg, run, data, device, d, folder, writer, save, bar, done)
            if run.batch < len(data.loader):  # stopped by --max-steps in the middle of an epoch
                break
            lr = run.lr  # the rate this epoch trained with
            run.end_epoch()
            record = end_of_epoch(cfg, run.G, data.val_set, data.fixed_pairs, device, run.epoch,
                                  run.step, writer, lr, folder.samples, folder.metrics, d, log)
            save(record=record)
        if run.epoch < total_epochs:
            status = "stopped"
            save()
    except KeyboardInterrupt:
        status = "interrupted"
        save(collective=False)
        log(f"\ninterrupted at step {run.step}: saved {folder.checkpoint}. Resume with the same "
            f"command plus --resume (p2p-train ... --out {folder.out} --resume)")
    finally:
        bar.close()
        if writer is not None:
            writer.close()
    return status


def _train(cfg, d, device, pieces=None):
    log = (lambda msg: tqdm.write(msg)) if d.is_main else (lambda msg: None)
    fast = fast_path_for(cfg, device)
    log(describe_choice(cfg, fast, device))
    cfg = effective_config(cfg, device)  # what config.yaml and the checkpoints record
    warn_if_slow_amp(cfg.amp, device, log)  # e.g. bf16 on a CPU without native bf16
    folder = RunFolder(cfg.out)
    check_run_folder(cfg, folder)
    info = write_run_config(cfg, folder, device, fast) if d.is_main else {}
    data = prepare_data(cfg, d, device, log, pieces)
    run, ckpts = _start(cfg, d, device, folder, fast, log, pieces)
    writer = open_logs(cfg, folder, run, info.get("wandb_id")) if d.is_main else None
    save = Saver(cfg, run, ckpts, d, log)

    status = run_epochs(cfg, run, data, device, d, folder, writer, save, log)
    if d.is_main and status != "interrupted":
        with local_batchnorm(run.G):  # rank 0 alone: SyncBatchNorm must not wait for the others
            grid = sample_grid(run.G, data.fixed_pairs, device, cfg.test_mode, cfg.seed)
        save_image(grid, folder.samples / "final.png", nrow=3)
    return {"status": status, "step": run.step, "epoch": run.epoch,
            "checkpoint": folder.checkpoint, "config": folder.config,
            "best": ckpts.best_path if ckpts.best else None,
            "samples": folder.samples, "metrics": folder.metrics, "losses": folder.losses,
            "tensorboard": folder.tensorboard, "G": run.G, "D": run.D}


def _interrupt(signum, frame):
    raise KeyboardInterrupt  # SIGTERM (kill, a scheduler, torchrun) is handled like Ctrl-C


def print_config(cfg):
    """--print-config: the settings as the run's config.yaml would hold them."""
    device = resolve_device(cfg.device)
    print(config_text(asdict(effective_config(cfg, device)),
                      run_info(cfg, device, fast_path_for(cfg, device))), end="")


def main(argv=None):
    """The p2p-train command."""
    try:
        cfg, show = command_line(argv)
    except (FileNotFoundError, ValueError) as e:  # --config FILE: missing, unreadable, bad key
        sys.exit(f"p2p-train: {e}")
    if show:
        try:
            check_config(cfg)
            print_config(cfg)
        except (ValueError, RuntimeError) as e:
            sys.exit(f"p2p-train: {type(e).__name__}: {e}")
        return
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
              f"  config:      {result['config']}\n"
              + (f"  best:        {result['best']}\n" if result["best"] else "") +
              f"  TensorBoard: tensorboard --logdir {result['tensorboard']}")
    if result["status"] == "interrupted":
        sys.exit(130)


if __name__ == "__main__":
    main()
