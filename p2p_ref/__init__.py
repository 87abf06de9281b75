"""p2p_ref: the reference Pix2Pix of the course (Isola et al., CVPR 2017), grouped by job.

    paper/      the answer key: what the paper specifies and students write (imports nothing else)
    datasets/   data on disk, downloads, the synthetic set, `p2p-data`
    training/   `p2p-train`, `p2p-bench`, the fast path, checkpoints, devices and DDP
    inference/  `p2p-translate`, `p2p-eval`, `p2p-export`, `p2p-convert`, the results figure
    course/     the grading checks, the tamper-proof re-grade, carried coursework, the widgets
    gpu_check/  `python -m p2p_ref.gpu_check`

The answer key's main names are re-exported here (`from p2p_ref import UNetGenerator`).
"""

from p2p_ref.paper.data import denormalize, normalize, paired_jitter, split_ab
from p2p_ref.paper.losses import discriminator_loss, gan_loss, generator_loss, l1_loss
from p2p_ref.paper.models import PatchDiscriminator, UNetGenerator
from p2p_ref.paper.receptive_field import receptive_field
from p2p_ref.paper.train_step import lr_factor, make_optimizers, train_step

__version__ = "0.1.0"

__all__ = ["PatchDiscriminator", "UNetGenerator", "denormalize", "discriminator_loss", "gan_loss",
           "generator_loss", "l1_loss", "lr_factor", "make_optimizers", "normalize",
           "paired_jitter", "receptive_field", "split_ab", "train_step"]
