"""`p2p-student-train`: p2p-train with the student's own code, e.g. at 256 x 256 on a GPU.

    p2p-student-train my_work/ facades --direction BtoA --amp bf16 --out runs/mine

The saved work of lessons 1-5 (my_work/*.pkl, written by each lesson's last cell) supplies the
jitter (split_ab, normalize, paired_jitter), the U-Net, the PatchGAN, the losses, the
optimizers, lr_factor and train_step, each checked as in lesson 5 and replaced by the reference
when it is missing or fails (p2p_ref.course.own_pipeline). Everything else is p2p-train: its
flags, checkpoints, --resume, validation, sample grids and logs. The table of whose code runs is
printed and written to OUT/ownership.json.

Loading saved work runs the code in it: use it with your own work, on your own machine. The
grader never loads it.
"""

import argparse
import json
import signal
import sys
from pathlib import Path

from p2p_ref.course.own_pipeline import own_pipeline
from p2p_ref.training import train as trainer
from p2p_ref.training.config import parse_args
from p2p_ref.training.pieces import Pieces

# What p2p-train takes from the student; make_train_set and save_samples have p2p-train's
# counterparts (its data flags, its sample grids).
USED = ("split_ab", "normalize", "paired_jitter", "UNetGenerator", "PatchDiscriminator", "gan_loss",
        "l1_loss", "discriminator_loss", "generator_loss", "make_optimizers", "lr_factor", "train_step")
LOSSES = ("gan_loss", "l1_loss", "discriminator_loss", "generator_loss")


def student_pieces(pipe):
    """The trainer's Pieces for a Pipeline: the student's networks, optimizers, schedule, step
    (the reference step, calling the losses in use, when theirs is not used) and jitter."""
    def build_models(cfg):
        G = pipe.UNetGenerator(cfg.input_nc, cfg.output_nc, num_downs=cfg.num_downs, ngf=cfg.ngf,
                               norm=cfg.norm)
        D = pipe.PatchDiscriminator(cfg.input_nc + cfg.output_nc, ndf=cfg.ndf,
                                    n_layers=cfg.n_layers_d, norm=cfg.norm)
        return G, D

    step_runs_own = pipe.yours("train_step") or any(pipe.yours(k) for k in LOSSES)
    return Pieces(build_models=build_models, make_optimizers=pipe.make_optimizers,
                  lr_factor=pipe.lr_factor, train_step=pipe.train_step if step_runs_own else None,
                  train_set=pipe.wrap_pairs)


def parse(argv):
    p = argparse.ArgumentParser(
        prog="p2p-student-train", description=__doc__.split("\n\n")[0],
        epilog="Every other argument is p2p-train's (p2p-train --help lists them). Loading saved "
               "work runs its code: use your own work, on your own machine.")
    p.add_argument("work", type=Path, help="the folder of your saved work (my_work/)")
    p.add_argument("train_args", nargs=argparse.REMAINDER, help="p2p-train's dataset and flags")
    args = p.parse_args(argv)
    if not args.work.is_dir() or not any(args.work.glob("ex*.pkl")):
        p.error(f"{args.work} holds no saved work (ex1_paired_translation.pkl ... ex5_training.pkl): "
                f"run the last cell of each lesson, then pass the folder my_work/ it wrote to")
    return args.work, parse_args(args.train_args)


def write_ownership(pipe, out):
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "ownership.json"
    path.write_text(json.dumps(pipe.to_json(), indent=2) + "\n")
    return path


def main(argv=None):
    """The p2p-student-train command."""
    work, cfg = parse(sys.argv[1:] if argv is None else argv)
    print(f"Your work from {work}, checked as in lesson 5:")
    pipe = own_pipeline(names=USED, folder=work, log=None)
    print(pipe.table())
    if cfg.amp == "fp16" and student_pieces(pipe).train_step is not None:
        sys.exit("p2p-student-train: --amp fp16 needs the reference train_step and losses (its "
                 "GradScaler); with your own, use --amp bf16 or --amp off")
    print(f"ownership: {write_ownership(pipe, cfg.out)}")
    signal.signal(signal.SIGTERM, trainer._interrupt)  # save a checkpoint before stopping
    try:
        result = trainer.train(cfg, student_pieces(pipe))
    except trainer.NonFiniteLossError as e:
        sys.exit(f"p2p-student-train: {e}")
    except (FileNotFoundError, FileExistsError, ValueError, RuntimeError) as e:
        sys.exit(f"p2p-student-train: {type(e).__name__}: {e}")
    write_ownership(pipe, cfg.out)  # again: lesson 1's rows say whether its code prepared the data
    print(f"{result['status']} at step {result['step']} (epoch {result['epoch']}); checkpoint "
          f"{result['checkpoint']}, samples {result['samples']}/\n{pipe.summary()}")
    if result["status"] == "interrupted":
        sys.exit(130)


if __name__ == "__main__":
    main()
