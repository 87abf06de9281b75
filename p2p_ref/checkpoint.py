"""Checkpoints of a pix2pix run: written atomically, read back with clear errors.

A checkpoint holds everything `p2p-train --resume` needs to continue as if it had never stopped:
G, D, both optimizers and schedulers, the AMP grad scaler, where it stopped (epoch, batch, step),
the config, and every random number generator's state (torch CPU and CUDA, Python's `random`,
NumPy), one set per process for multi-GPU runs. The data order needs no state of its own: it
is a function of (seed, epoch), see `p2p_ref.trainer_utils.ResumableSampler`.
"""

import os
import random
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
