"""Checkpoints of a pix2pix run: written atomically, read back with clear errors.

A checkpoint holds everything `p2p-train --resume` needs to continue as if it had never stopped:
G, D, both optimizers and schedulers, the AMP grad scaler, where it stopped (epoch, batch, step),
the config, and every random number generator's state (torch CPU and CUDA, Python's `random`,
NumPy), one set per process for multi-GPU runs. The data order needs no state of its own: it
is a function of (seed, epoch), see `p2p_ref.training.data_order.ResumableSampler`.

A run folder keeps (`RunCheckpoints`):

    checkpoint.pt             the latest state, rewritten at every epoch end (and every
                              --save-every-steps steps); --resume reads it
    best.pt                   the checkpoint of the epoch with the best validation metric
    checkpoints/epoch_NNN.pt  every --keep-every-epochs N epochs: the history
    checkpoints/step_NNNNNNN.pt  the last --keep-last N step checkpoints (--save-every-steps)

`--resume PATH` continues from any of them (`run_folder_of` finds the run folder it belongs to).
"""

import math
import os
import random
import shutil
from pathlib import Path

import numpy as np
import torch


def rng_state():
    """The state of every RNG a training step can draw from (dropout, jitter, shuffling)."""
    np_state = np.random.get_state()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "python": random.getstate(),
        # NumPy's state tuple holds an array: stored as a tensor so weights_only loading accepts it.
        "numpy": {"key": torch.from_numpy(np_state[1].astype(np.int64)), "pos": int(np_state[2]),
                  "has_gauss": int(np_state[3]), "cached_gaussian": float(np_state[4])},
    }


def set_rng_state(state):
    """Restore what `rng_state` saved."""
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    python = state["python"]
    random.setstate((python[0], tuple(python[1]), python[2]))
    n = state["numpy"]
    np.random.set_state(("MT19937", n["key"].numpy().astype(np.uint32), n["pos"], n["has_gauss"],
                         n["cached_gaussian"]))


def save_checkpoint(path, checkpoint):
    """torch.save to a temporary file in the same folder, then os.replace: a crash or Ctrl-C
    while writing never leaves a half-written checkpoint behind."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        torch.save(checkpoint, tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


REQUIRED_KEYS = ("G", "config")


def load_checkpoint(path, map_location="cpu"):
    """Read a checkpoint written by `save_checkpoint`; ValueError/FileNotFoundError naming the file
    and what was expected when it is missing, truncated or not a p2p-train checkpoint."""
    path = Path(path)
    if path.is_dir():
        path = path / "checkpoint.pt"
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}: expected a file written by p2p-train "
                                f"(RUN_DIR/checkpoint.pt)")
    try:
        checkpoint = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # truncated zip, pickle errors, not a torch file at all
        raise ValueError(f"cannot read checkpoint {path}: {type(e).__name__}: {e}. It may be "
                         f"truncated or corrupt; expected a file written by p2p-train") from e
    if not isinstance(checkpoint, dict) or any(k not in checkpoint for k in REQUIRED_KEYS):
        found = sorted(checkpoint) if isinstance(checkpoint, dict) else type(checkpoint).__name__
        raise ValueError(f"{path} is not a p2p-train checkpoint: expected the keys "
                         f"{list(REQUIRED_KEYS)}, found {found}")
    return checkpoint


# --best-metric choices: the validation metrics (p2p_ref.training.validation.validate), which way is better.
BEST_METRICS = {"val_l1": "min", "val_psnr": "max", "val_ssim": "max"}


def _link_or_copy(src, dst):
    """dst becomes a copy of src, atomically. A hard link costs nothing (checkpoint.pt is later
    replaced by a new file, so the link keeps this version); file systems without hard links
    (e.g. Google Drive on Colab) get a real copy."""
    tmp = dst.with_name(f".{dst.name}.tmp-{os.getpid()}")
    tmp.unlink(missing_ok=True)
    try:
        try:
            os.link(src, tmp)
        except OSError:
            shutil.copyfile(src, tmp)
        os.replace(tmp, dst)
    finally:
        tmp.unlink(missing_ok=True)
    return dst


class RunCheckpoints:
    """The checkpoints of one run folder: the latest, the best, and a history.

    keep_every_epochs: keep a copy of the epoch-end checkpoint every N epochs in
    checkpoints/epoch_NNN.pt (None: no history). best_metric: a key of BEST_METRICS (or None):
    best.pt is the epoch-end checkpoint whose validation value of that metric is the best so far.
    `best` ({"metric", "value", "epoch"}) is stored inside every checkpoint, so a resumed run
    keeps comparing against the same record.
    """

    def __init__(self, out, keep_every_epochs=None, best_metric="val_l1", keep_last=None):
        if best_metric is not None and best_metric not in BEST_METRICS:
            raise ValueError(f"best_metric={best_metric!r}: expected one of "
                             f"{', '.join(BEST_METRICS)} (or None)")
        if keep_every_epochs is not None and keep_every_epochs < 1:
            raise ValueError(f"keep_every_epochs={keep_every_epochs}: expected a number of epochs "
                             f">= 1 (or None for no history)")
        self.out = Path(out)
        self.latest = self.out / "checkpoint.pt"
        self.best_path = self.out / "best.pt"
        self.history = self.out / "checkpoints"
        self.keep_every_epochs, self.best_metric = keep_every_epochs, best_metric
        self.keep_last = keep_last
        self.best = None

    def save(self, checkpoint):
        """Write the latest checkpoint atomically (with the best-so-far record inside)."""
        return save_checkpoint(self.latest, {**checkpoint, "best": self.best})

    def save_step(self, checkpoint, step):
        """A --save-every-steps save: the latest checkpoint and, with keep_last, a copy in
        checkpoints/step_NNNNNNN.pt, deleting the older ones beyond the last keep_last. Copies of
        later steps (left by a run resumed from an earlier checkpoint) are kept until overwritten.
        Returns the copy's path (or None)."""
        self.save(checkpoint)
        if not self.keep_last:
            return None
        self.history.mkdir(exist_ok=True)
        path = _link_or_copy(self.latest, self.history / f"step_{step:07d}.pt")
        older = sorted((int(p.stem[5:]), p) for p in self.history.glob("step_*.pt")
                       if p.stem[5:].isdigit() and int(p.stem[5:]) <= step)
        for _, old in older[:-self.keep_last]:
            old.unlink(missing_ok=True)
        return path

    def is_better(self, record):
        """True if the metrics `record` beat the best so far (NaN never does)."""
        if self.best_metric is None or self.best_metric not in record:
            return False
        value = record[self.best_metric]
        if not math.isfinite(value):
            return False
        if self.best is None:
            return True
        if BEST_METRICS[self.best_metric] == "min":
            return value < self.best["value"]
        return value > self.best["value"]

    def end_of_epoch(self, checkpoint, record, epoch):
        """At an epoch end: save the latest, then copy it to best.pt if `record` (that epoch's
        validation metrics) is the best so far, and to the history every keep_every_epochs.
        Returns the list of extra files written."""
        improved = self.is_better(record)
        if improved:
            self.best = {"metric": self.best_metric, "value": record[self.best_metric],
                         "epoch": epoch}
        self.save(checkpoint)
        written = []
        if improved:
            written.append(_link_or_copy(self.latest, self.best_path))
        if self.keep_every_epochs and epoch % self.keep_every_epochs == 0:
            self.history.mkdir(exist_ok=True)
            written.append(_link_or_copy(self.latest, self.history / f"epoch_{epoch:03d}.pt"))
        return written

    def restore(self, checkpoint):
        """Take the best-so-far record from a checkpoint being resumed (when it is for the same
        metric)."""
        best = checkpoint.get("best")
        self.best = best if best and best.get("metric") == self.best_metric else None


def run_folder_of(path):
    """The run folder a checkpoint belongs to: the folder itself, the folder of checkpoint.pt or
    best.pt, the folder above checkpoints/epoch_NNN.pt and checkpoints/step_NNNNNNN.pt."""
    path = Path(path)
    if path.is_dir():
        return path
    return path.parent.parent if path.parent.name == "checkpoints" else path.parent
