"""A training run's settings: `TrainConfig`, the one declaration of `p2p-train`'s flags.

Each field is a flag (`dataset` is the positional argument, `flip` is `--no-flip`); its default
is the paper's (Isola et al., CVPR 2017, sec. 3.3 and appendix 6.2, facades labels -> photo) and
its help text sits next to it. `parse_args` builds the command line from these fields, so a new
setting is one new line here.
"""

import argparse
import types
from dataclasses import MISSING, dataclass, field, fields

import torch

from p2p_ref.datasets.aligned import DIRECTIONS
from p2p_ref.datasets.preprocess import PREPROCESS
from p2p_ref.paper.losses import GAN_MODES
from p2p_ref.paper.models import NORMS
from p2p_ref.training.checkpoint import BEST_METRICS
from p2p_ref.training.validation import TEST_MODES

AMP_DTYPES = {"off": None, "bf16": torch.bfloat16, "fp16": torch.float16}


def flag(default, help, choices=None, metavar=None, positional=False):
    """A TrainConfig field that is also a command-line flag."""
    return field(default=default, metadata={"help": help, "choices": choices, "metavar": metavar,
                                            "positional": positional})


@dataclass
class TrainConfig:
    """A run's settings; the defaults are the paper's (facades, labels -> photo)."""
    dataset: str = flag("synthetic", "'synthetic' (generated offline), a downloaded name (facades, "
                        "maps, ...) or a folder holding train/ (and val/) pairs", positional=True)
    data_root: str = flag("datasets", "where named datasets live")
    direction: str = flag("BtoA", "which half is G's input; BtoA = labels -> photo on facades "
                          "and the synthetic set", DIRECTIONS)
    load_size: int = flag(286, "jitter: resize to this (appendix 6.2)")
    crop_size: int = flag(256, "jitter: random crop of this size")
    preprocess: str = flag("resize_and_crop", "resize_and_crop: the paper's jitter; crop: crop at "
                           "the image's own size; scale_width_and_crop: scale the width to "
                           "--load-size, then crop; none: keep each size, pad to a multiple of "
                           "2**num_downs", PREPROCESS)
    flip: bool = flag(True, "random mirroring; --no-flip where it breaks the task (maps, text)")
    input_nc: int = flag(3, "channels of G's input (1 for grayscale)")
    output_nc: int = flag(3, "channels of G's output")
    max_train_images: int | None = flag(None, "use only the first N training pairs", metavar="N")
    n_epochs: int = flag(100, "epochs at the initial learning rate")
    n_epochs_decay: int = flag(100, "epochs of linear decay to ~0")
    batch_size: int = flag(1, "the paper's: 1")
    lambda_l1: float = flag(100.0, "weight of the L1 term (eq. 4)")
    gan_mode: str = flag("vanilla", "vanilla (the paper's BCE on logits) or lsgan", GAN_MODES)
    norm: str = flag("batch", "normalisation of G and D", NORMS)
    ngf: int = flag(64, "G's width: filters of its first layer")
    ndf: int = flag(64, "D's width: filters of its first layer")
    num_downs: int = flag(8, "U-Net depth: 8 for 256 px crops (unet_256), 7 for 128, 6 for 64")
    n_layers_d: int = flag(3, "D's depth: 3 is the 70 x 70 PatchGAN")
    lr: float = flag(2e-4, "Adam's learning rate (sec. 3.3)")
    beta1: float = flag(0.5, "Adam's beta1 (sec. 3.3)")
    device: str = flag("auto", "where to train", ("auto", "cpu", "cuda"))
    amp: str = flag("off", "autocast dtype; fp16 adds a GradScaler", tuple(AMP_DTYPES))
    channels_last: bool = flag(False, "NHWC memory format for G, D and the batches")
    compile: bool = flag(False, "torch.compile G and D")
    seed: int = flag(0, "seeds the weights, the data order, the jitter and dropout")
    out: str = flag("runs/pix2pix", "the run folder")
    resume: bool = flag(False, "continue OUT/checkpoint.pt exactly")
    init_from: str | None = flag(None, "fine-tune: start from the weights in CKPT (a p2p-train "
                                 "checkpoint or a p2p-export / p2p-convert file) with fresh "
                                 "optimizers and schedule", metavar="CKPT")
    max_steps: int | None = flag(None, "stop (with a checkpoint) after this many steps in all")
    save_every_steps: int | None = flag(None, "also save OUT/checkpoint.pt every N steps "
                                        "(atomically), not only at epoch ends", metavar="N")
    keep_every_epochs: int | None = flag(None, "keep a copy of the checkpoint every N epochs: "
                                         "OUT/checkpoints/epoch_NNN.pt", metavar="N")
    best_metric: str | None = flag("val_l1", "OUT/best.pt is the epoch with the best validation "
                                   "value of this metric (l1: lowest; psnr, ssim: highest)",
                                   (*BEST_METRICS, "none"))
    num_workers: int = flag(2, "DataLoader worker processes")
    val_every: int = flag(1, "epochs between validation metrics")
    sample_every: int = flag(1, "epochs between sample grids")
    test_mode: str = flag("paper", "G at validation: paper = dropout and batch statistics on "
                          "(sec. 3.3), eval = model.eval()", TEST_MODES)


# Settings a resumed run must share with the run it continues.
MUST_MATCH = ("dataset", "direction", "load_size", "crop_size", "preprocess", "flip",
              "max_train_images", "batch_size", "input_nc", "output_nc", "norm", "ngf", "ndf",
              "num_downs", "n_layers_d", "seed")
# Settings that fix the shapes of G's and D's weights (checked by --init-from).
ARCHITECTURE_G = ("input_nc", "output_nc", "ngf", "num_downs", "norm")
ARCHITECTURE_D = ("input_nc", "output_nc", "ndf", "n_layers_d", "norm")


def default(name):
    """The default of TrainConfig's field `name` (for checkpoints written before it existed)."""
    f = TrainConfig.__dataclass_fields__[name]
    return f.default if f.default is not MISSING else f.default_factory()


def check_config(cfg):
    """Raise ValueError naming the first setting outside its allowed values."""
    for f in fields(cfg):
        value, allowed = getattr(cfg, f.name), f.metadata.get("choices")
        if allowed and value not in allowed and not (value is None and "none" in allowed):
            raise ValueError(f"{f.name}={value!r}: expected one of {', '.join(map(str, allowed))}")
    for name in ("save_every_steps", "keep_every_epochs"):
        if getattr(cfg, name) is not None and getattr(cfg, name) < 1:
            raise ValueError(f"{name}={getattr(cfg, name)}: expected a positive number")
    m = 2 ** cfg.num_downs
    if cfg.crop_size % m and cfg.preprocess != "none":
        raise ValueError(f"crop_size={cfg.crop_size} does not work with num_downs={cfg.num_downs}: "
                         f"it must be a multiple of 2**num_downs = {m} (256 -> 8, 128 -> 7)")


def _value_type(annotation):
    """int for `int` and `int | None`, and so on."""
    if isinstance(annotation, types.UnionType):
        return next(a for a in annotation.__args__ if a is not type(None))
    return annotation


def build_parser(prog="p2p-train", description=None):
    """The command line of TrainConfig: one flag per field, generated from the fields."""
    p = argparse.ArgumentParser(prog=prog, description=description)
    for f in fields(TrainConfig):
        kind, meta = _value_type(f.type), f.metadata
        help_text = meta["help"]
        if kind is bool and f.default:
            p.add_argument(f"--no-{f.name.replace('_', '-')}", dest=f.name, action="store_false",
                           help=help_text)
            continue
        if kind is bool:
            p.add_argument(f"--{f.name.replace('_', '-')}", dest=f.name, action="store_true",
                           help=help_text)
            continue
        if f.default is not None:
            help_text += " (default: %(default)s)"
        if meta["positional"]:
            p.add_argument(f.name, nargs="?", default=f.default, help=help_text)
            continue
        p.add_argument(f"--{f.name.replace('_', '-')}", dest=f.name, type=kind, default=f.default,
                       choices=meta["choices"], metavar=meta["metavar"], help=help_text)
    return p


def parse_args(argv=None):
    """The p2p-train command line -> TrainConfig (defaults: the paper's)."""
    p = build_parser(description="Train pix2pix (Isola et al., CVPR 2017) with the paper's recipe. "
                                 "Also: torchrun --nproc_per_node=N -m p2p_ref.training.train ...")
    args = vars(p.parse_args(argv))
    args = {k: None if v == "none" and k == "best_metric" else v for k, v in args.items()}
    return TrainConfig(**args)
