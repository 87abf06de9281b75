"""Where a run logs, on rank 0: TensorBoard always; Weights & Biases too with `--wandb`, as the
official code's `--use_wandb` does: the config, every step's losses, the validation metrics and
the sample grids (install with `pip install 'p2p_ref[wandb]'`).

`RunLogs` has the two methods of TensorBoard's SummaryWriter the trainer uses (`add_scalar`,
`add_image`), so the loop logs once and both receive it. W&B writes under OUT/wandb/ (or
$WANDB_DIR); `WANDB_MODE=offline` keeps everything on the machine (`wandb sync` uploads later).
A resumed run continues the same W&B run: its id is kept in OUT/config.yaml.
"""

import os
import secrets
from dataclasses import asdict
from pathlib import Path

from torch.utils.tensorboard import SummaryWriter


class RunLogs:
    """TensorBoard's writer and, optionally, a W&B run, behind SummaryWriter's interface."""

    def __init__(self, tensorboard, wandb_run=None):
        self.tensorboard, self.wandb = tensorboard, wandb_run

    def add_scalar(self, tag, value, step):
        self.tensorboard.add_scalar(tag, value, step)
        if self.wandb is not None:
            self.wandb.log({tag: value}, step=step)

    def add_image(self, tag, image, step):
        """image: a [0, 1] tensor (3, H, W), as SummaryWriter takes it. In W&B the tag's first
        word is the key ("samples") and the rest the caption."""
        self.tensorboard.add_image(tag, image, step)
        if self.wandb is not None:
            import wandb
            key, _, caption = tag.partition(" ")
            pixels = (image.clamp(0, 1) * 255).round().byte().permute(1, 2, 0).cpu().numpy()
            self.wandb.log({key: wandb.Image(pixels, caption=caption.strip("()") or None)},
                           step=step)

    def close(self):
        self.tensorboard.close()
        if self.wandb is not None:
            self.wandb.finish()


def new_wandb_id(previous_info, resume):
    """The W&B run id: the one in the run's config.yaml when resuming, else a new one."""
    return (resume and previous_info.get("wandb_id")) or secrets.token_hex(4)


def open_wandb(cfg, out, run_id):
    """A W&B run for this training run (resumed when run_id exists already); RuntimeError
    saying what to install when wandb is missing."""
    try:
        import wandb
    except ImportError as e:
        raise RuntimeError("--wandb needs the wandb package: pip install 'p2p_ref[wandb]' (or "
                           "pip install wandb); or leave --wandb off (TensorBoard logs anyway)"
                           ) from e
    return wandb.init(project=cfg.wandb_project, name=Path(cfg.out).name, config=asdict(cfg),
                      id=run_id, resume="allow",
                      dir=None if os.environ.get("WANDB_DIR") else str(out))


def open_run_logs(cfg, tensorboard_dir, out, purge_step, wandb_id=None):
    """RunLogs for rank 0: TensorBoard (purging events after `purge_step` on resume) and W&B
    when cfg.wandb."""
    writer = SummaryWriter(tensorboard_dir, purge_step=purge_step)
    return RunLogs(writer, open_wandb(cfg, out, wandb_id) if cfg.wandb else None)
