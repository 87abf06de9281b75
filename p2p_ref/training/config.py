"""A training run's settings: `TrainConfig`, the one declaration of `p2p-train`'s flags.

Each field is a flag (`dataset` is the positional argument, `flip` is `--no-flip`); its default
is the paper's (Isola et al., CVPR 2017, sec. 3.3 and appendix 6.2, facades labels -> photo) and
its help text sits next to it. `parse_args` builds the command line from these fields, so a new
setting is one new line here.
"""

import argparse
import types
from dataclasses import MISSING, asdict, dataclass, field, fields, replace
from pathlib import Path

from p2p_ref.datasets.aligned import DIRECTIONS
from p2p_ref.datasets.direction import choose_direction
from p2p_ref.datasets.preprocess import PREPROCESS
from p2p_ref.paper.losses import GAN_MODES
from p2p_ref.paper.models import NORMS
from p2p_ref.training.checkpoint import BEST_METRICS, run_folder_of
from p2p_ref.training.config_file import read_settings
from p2p_ref.training.device_setup import FAST_PATH, fast_path_for
from p2p_ref.training.fast_path import AMP_DTYPES, COMPILE_MODES
from p2p_ref.training.validation import TEST_MODES



def flag(default, help, choices=None, metavar=None, positional=False, optional_value=False):
    """A TrainConfig field that is also a command-line flag (optional_value: `--resume` alone or
    `--resume PATH`)."""
    return field(default=default, metadata={"help": help, "choices": choices, "metavar": metavar,
                                            "positional": positional,
                                            "optional_value": optional_value})


@dataclass
class TrainConfig:
    """A run's settings; the defaults are the paper's (facades, labels -> photo)."""
    dataset: str = flag("synthetic", "'synthetic' (generated offline), a downloaded name (facades, "
                        "maps, ...) or a folder holding train/ (and val/) pairs", positional=True)
    data_root: str = flag("datasets", "where named datasets live")
    direction: str | None = flag(None, "which half is G's input (default: the dataset's declared "
                                 "direction: BtoA, labels -> photo, for facades, cityscapes and "
                                 "the synthetic set; AtoB for maps and edges2*; AtoB for other "
                                 "folders)", DIRECTIONS)
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
    # How the step runs (fast_path.FastPath): None = what p2p-bench's fast path picks for the
    # device (device_setup.fast_path_for); a value given here or as a flag wins.
    fast_path: str = flag("auto", "on: p2p-bench's fast path for the device (fast_path.choose); "
                          "off: the paper-faithful eager float32 baseline; auto: on for GPUs, "
                          "off for CPUs. Settings given explicitly (--amp, ...) win", FAST_PATH)
    amp: str | None = flag(None, "autocast dtype; fp16 adds a GradScaler (default: the fast "
                           "path's: bf16 on Ampere+ GPUs and CPUs with native bf16, fp16 on older "
                           "GPUs, off on other CPUs)", tuple(AMP_DTYPES))
    channels_last: bool | None = flag(None, "NHWC memory format for G, D and the batches "
                                      "(default: the fast path's: on for GPUs)")
    compile: bool | None = flag(None, "torch.compile G and D (default: on for GPUs, off on CPUs)")
    compile_mode: str = flag("default", "torch.compile's mode; reduce-overhead and max-autotune "
                             "add CUDA graphs", COMPILE_MODES)
    tf32: bool | None = flag(None, "CUDA: TF32 for float32 matmuls and convolutions (default: "
                             "the fast path's: on for GPUs)")
    cudnn_benchmark: bool | None = flag(None, "CUDA: cuDNN autotuning (default: on for GPUs)")
    fused_adam: bool | None = flag(None, "one fused kernel per Adam step (default: on for GPUs)")
    seed: int = flag(0, "seeds the weights, the data order, the jitter and dropout")
    out: str | None = flag(None, "the run folder (default: runs/pix2pix; with --resume PATH, the "
                           "folder PATH belongs to)", metavar="OUT")
    resume: bool | str = flag(False, "continue a run exactly: OUT/checkpoint.pt, or PATH (a run "
                              "folder, best.pt, checkpoints/epoch_040.pt, ...), continuing in its "
                              "run folder (or --out)", metavar="PATH", optional_value=True)
    init_from: str | None = flag(None, "fine-tune: start from the weights in CKPT (a p2p-train "
                                 "checkpoint or a p2p-export / p2p-convert file) with fresh "
                                 "optimizers and schedule", metavar="CKPT")
    max_steps: int | None = flag(None, "stop (with a checkpoint) after this many steps in all")
    save_every_steps: int | None = flag(None, "also save OUT/checkpoint.pt every N steps "
                                        "(atomically), not only at epoch ends", metavar="N")
    keep_every_epochs: int | None = flag(None, "keep a copy of the checkpoint every N epochs: "
                                         "OUT/checkpoints/epoch_NNN.pt", metavar="N")
    keep_last: int | None = flag(None, "with --save-every-steps: keep the last N step checkpoints "
                                 "as OUT/checkpoints/step_NNNNNNN.pt (roll back with --resume "
                                 "PATH)", metavar="N")
    best_metric: str | None = flag("val_l1", "OUT/best.pt is the epoch with the best validation "
                                   "value of this metric (l1: lowest; psnr, ssim: highest)",
                                   (*BEST_METRICS, "none"))
    num_workers: int = flag(2, "DataLoader worker processes")
    val_every: int = flag(1, "epochs between validation metrics")
    sample_every: int = flag(1, "epochs between sample grids")
    test_mode: str = flag("paper", "G at validation: paper = dropout and batch statistics on "
                          "(sec. 3.3), eval = model.eval()", TEST_MODES)
    wandb: bool = flag(False, "also log to Weights & Biases (pip install 'p2p_ref[wandb]'): the "
                       "config, losses, validation metrics and sample grids")
    wandb_project: str = flag("pix2pix", "the W&B project")


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


DEFAULT_OUT = "runs/pix2pix"


def resume_path(cfg):
    """The checkpoint --resume continues (None without --resume): OUT/checkpoint.pt for a bare
    --resume, PATH/checkpoint.pt for a run folder, else PATH itself."""
    if cfg.resume is True:
        return Path(cfg.out or DEFAULT_OUT) / "checkpoint.pt"
    if not cfg.resume:
        return None
    path = Path(cfg.resume)
    return path / "checkpoint.pt" if path.is_dir() else path


def dataset_direction(cfg):
    """--direction if given, else the one cfg.dataset declares (datasets/direction.py; a named
    dataset is looked up under --data-root too), else AtoB."""
    if cfg.direction is not None:
        return cfg.direction
    folder = Path(cfg.data_root) / cfg.dataset
    return choose_direction(folder if folder.is_dir() else cfg.dataset)


def effective_config(cfg, device):
    """cfg as the run uses it on `device`: the run folder filled in (--out, else the folder of
    --resume PATH, else runs/pix2pix), the direction decided (`dataset_direction`) and every
    fast-path setting decided (`fast_path_for`)."""
    out = cfg.out or (str(run_folder_of(cfg.resume)) if isinstance(cfg.resume, str)
                      else DEFAULT_OUT)
    return replace(cfg, out=out, direction=dataset_direction(cfg),
                   **asdict(fast_path_for(cfg, device)))


def check_config(cfg):
    """Raise ValueError naming the first setting outside its allowed values."""
    for f in fields(cfg):
        value, allowed = getattr(cfg, f.name), f.metadata.get("choices")
        if allowed and value not in allowed and not (value is None and (
                "none" in allowed or f.default is None)):
            raise ValueError(f"{f.name}={value!r}: expected one of {', '.join(map(str, allowed))}")
    for name in ("save_every_steps", "keep_every_epochs", "keep_last"):
        if getattr(cfg, name) is not None and getattr(cfg, name) < 1:
            raise ValueError(f"{name}={getattr(cfg, name)}: expected a positive number")
    if cfg.keep_last and not cfg.save_every_steps:
        raise ValueError(f"keep_last={cfg.keep_last}: keeps step checkpoints, so it needs "
                         f"save_every_steps (--save-every-steps N)")
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
    """The command line of TrainConfig: one flag per field, generated from the fields; a bool is
    --x / --no-x (so a flag can undo a config file's setting)."""
    p = argparse.ArgumentParser(prog=prog, description=description)
    for f in fields(TrainConfig):
        kind, meta = _value_type(f.type), f.metadata
        name, help_text = f"--{f.name.replace('_', '-')}", meta["help"]
        if meta["optional_value"]:
            p.add_argument(name, dest=f.name, nargs="?", const=True, default=f.default,
                           metavar=meta["metavar"], help=help_text)
        elif kind is bool:
            p.add_argument(name, dest=f.name, action=argparse.BooleanOptionalAction,
                           default=f.default, help=help_text)
        elif meta["positional"]:
            p.add_argument(f.name, nargs="?", default=f.default,
                           help=help_text + " (default: %(default)s)")
        else:
            p.add_argument(name, dest=f.name, type=kind, default=f.default,
                           choices=meta["choices"], metavar=meta["metavar"],
                           help=help_text + (" (default: %(default)s)" if f.default is not None
                                             else ""))
    return p


def _file_value(f, value, path):
    """A config file's value for field f, in the field's type (PyYAML reads 2e-4 as a string)."""
    kind, optional = _value_type(f.type), isinstance(f.type, types.UnionType)
    if value is None or (optional and value == "none"):
        if optional or f.name == "best_metric":
            return None
    elif f.metadata["optional_value"] and isinstance(value, (bool, str)):
        return value
    elif kind is bool and isinstance(value, bool):
        return value
    elif kind is str and isinstance(value, bool) and "off" in (f.metadata["choices"] or ()):
        return "on" if value else "off"  # YAML 1.1 reads a bare off / on as false / true
    elif kind in (int, float) and not isinstance(value, bool):
        try:
            converted = kind(value)
            if kind is float or converted == float(value):
                return converted
        except (TypeError, ValueError):
            pass
    elif kind is str and isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return str(value)
    raise ValueError(f"--config {path}: {f.name}: {value!r} is not a valid value; expected "
                     f"{'true or false' if kind is bool else kind.__name__}"
                     + (" or null" if optional else ""))


def settings_from_file(path):
    """{field: value} from a YAML or TOML config file (keys as field names or flag names:
    n_epochs or n-epochs); ValueError naming the file and the key for anything unknown. The
    `run` section of a run's config.yaml (versions, device) is not a setting and is skipped."""
    by_name = {f.name: f for f in fields(TrainConfig)}
    raw = read_settings(path)
    settings = {}
    for key, value in raw.items():
        name = str(key).replace("-", "_")
        if name == "run":
            continue
        if name not in by_name:
            raise ValueError(f"--config {path}: unknown setting {key!r}; expected p2p-train's "
                             f"settings ({', '.join(by_name)})")
        settings[name] = _file_value(by_name[name], value, path)
    return settings


def command_line(argv=None):
    """The p2p-train command line -> (TrainConfig, whether --print-config was given). Settings
    come from the defaults (the paper's), then --config FILE, then the flags given."""
    p = build_parser(description="Train pix2pix (Isola et al., CVPR 2017) with the paper's recipe. "
                                 "Also: torchrun --nproc_per_node=N -m p2p_ref.training.train ...")
    p.add_argument("--config", metavar="FILE", help="read settings from a YAML or TOML file "
                   "(e.g. a run's config.yaml); flags given on the command line win")
    p.add_argument("--print-config", action="store_true", help="print the effective settings "
                   "(as the run's config.yaml would hold them) and exit")
    first, _ = p.parse_known_args(argv)
    if first.config:
        p.set_defaults(**settings_from_file(first.config))
    args = vars(p.parse_args(argv))
    args.pop("config")
    print_config = args.pop("print_config")
    if args["best_metric"] == "none":
        args["best_metric"] = None
    return TrainConfig(**args), print_config


def parse_args(argv=None):
    """The p2p-train command line -> TrainConfig (defaults: the paper's)."""
    return command_line(argv)[0]
