"""p2p-convert: the official code's pretrained generators (`latest_net_G.pth`) as p2p_ref files.

    p2p-convert facades_label2photo               # download the official model, then convert
    p2p-convert path/to/latest_net_G.pth --direction BtoA --out runs/pretrained/mine.pt
    p2p-translate --checkpoint runs/pretrained/facades_label2photo.pt --mode eval labels/ --out out/

The official PyTorch code (junyanz/pytorch-CycleGAN-and-pix2pix) builds "unet_256" / "unet_128"
from nested UnetSkipConnectionBlocks, so its weights are named model.model.1.model.3... by
depth. Each block returns cat([its input, its upsampled output]): the skip comes FIRST, where
p2p_ref's DecoderBlock returns cat([upsampled, skip]). The same numbers therefore need the input
channels of every ConvTranspose that reads a concatenation swapped in halves.

One difference cannot be converted away: the official code puts dropout one level higher (after
the decoder outputs at 4, 8, 16 pixels for unet_256; p2p_ref follows the paper: 2, 4, 8). With
dropout off (`--mode eval`, the official `--eval`) the converted G gives the official outputs
exactly; with dropout on (`--mode paper`, the official default at test time) both are noisy,
and differently so. Only BatchNorm generators (the official default, used by all its pretrained
pix2pix models) are converted.
"""

import argparse
import re
import sys
from dataclasses import asdict
from pathlib import Path

import torch

from p2p_ref.training.checkpoint import save_checkpoint
from p2p_ref.training.config import TrainConfig
from p2p_ref.training.build import build_generator
from p2p_ref.datasets.download import fetch

MODELS_URL = "http://efrosgans.eecs.berkeley.edu/pix2pix/models-pytorch"
# The official pretrained pix2pix models: the dataset each was trained on and the direction
# (which half of that dataset's A|B files is the input). facades_label2photo's BtoA is stated
# by the official README; the others follow from the model's name and the dataset's A|B order.
OFFICIAL_MODELS = {
    "facades_label2photo": dict(dataset="facades", direction="BtoA"),
    "sat2map": dict(dataset="maps", direction="AtoB"),
    "map2sat": dict(dataset="maps", direction="BtoA"),
    "edges2shoes": dict(dataset="edges2shoes", direction="AtoB"),
    "day2night": dict(dataset="night2day", direction="BtoA"),
}


def _block(level):
    """Module path of the UnetSkipConnectionBlock at `level` (1 = outermost): the outermost
    block's Sequential holds its submodule at index 1, every middle block's at index 3."""
    return "model" + (".model.1" if level > 1 else "") + ".model.3" * max(0, level - 2)


def _levels(state):
    """Number of levels (num_downs) of an official U-Net state dict."""
    depth = max((len(re.findall(r"\.model\.\d+", k)) for k in state if k.startswith("model.")),
                default=0)
    return depth


def _swap_halves(weight):
    """ConvTranspose2d weights are (in, out, k, k): [skip | up] inputs -> [up | skip]."""
    half = weight.shape[0] // 2
    return torch.cat([weight[half:], weight[:half]], dim=0)


def convert_state_dict(state):
    """An official UnetGenerator state dict -> (p2p_ref UNetGenerator state dict, architecture
    {num_downs, ngf, input_nc, output_nc, norm})."""
    state = {k.removeprefix("module."): v for k, v in state.items()}
    if not any(k.startswith("model.model.") for k in state):
        raise ValueError("this is not an official U-Net generator: expected weights named "
                         "model.model.0.weight, model.model.1.model.1.weight, ... (netG unet_256 "
                         "or unet_128); ResNet generators and discriminators cannot be converted")
    n = _levels(state)
    outer = _block(1) + ".model"
    if not any(k.endswith("running_mean") for k in state):
        raise ValueError("this official generator has no BatchNorm statistics: only BatchNorm "
                         "U-Nets (the official --norm batch default) can be converted")
    first, last = state[f"{outer}.0.weight"], state[f"{outer}.3.weight"]
    arch = dict(num_downs=n, ngf=first.shape[0], input_nc=first.shape[1],
                output_nc=last.shape[1], norm="batch")
    ours = {}

    def take(dst, src, swap=False):
        found = [s for s in ("weight", "bias", "running_mean", "running_var",
                             "num_batches_tracked") if f"{src}.{s}" in state]
        if not found:
            raise ValueError(f"the official weights lack {src}.weight: the file is not a complete "
                             f"unet_{2 ** n} generator")
        for s in found:
            value = state[f"{src}.{s}"]
            ours[f"{dst}.{s}"] = _swap_halves(value) if swap and s == "weight" else value
        if "running_mean" in found and "num_batches_tracked" not in found:
            ours[f"{dst}.num_batches_tracked"] = torch.tensor(0)  # files from PyTorch < 0.4.1

    take("encoders.0.block.0", f"{outer}.0")
    for level in range(2, n + 1):
        seq = _block(level) + ".model"
        take(f"encoders.{level - 1}.block.1", f"{seq}.1")
        if level < n:
            take(f"encoders.{level - 1}.block.2", f"{seq}.2")
    innermost = _block(n) + ".model"
    take("decoders.0.block.1", f"{innermost}.3")
    take("decoders.0.block.2", f"{innermost}.4")
    for j in range(1, n - 1):  # our decoder j is the official block at level n - j
        seq = _block(n - j) + ".model"
        take(f"decoders.{j}.block.1", f"{seq}.5", swap=True)
        take(f"decoders.{j}.block.2", f"{seq}.6")
    take(f"decoders.{n - 1}.block.1", f"{outer}.3", swap=True)
    return ours, arch


def convert_file(source, out, direction="AtoB", dataset=None):
    """Convert an official latest_net_G.pth into a p2p_ref file that p2p-translate reads."""
    try:
        state = torch.load(source, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise
    except Exception as e:
        raise ValueError(f"cannot read {source}: {type(e).__name__}: {e}. Expected the official "
                         f"code's latest_net_G.pth") from e
    if not isinstance(state, dict):
        raise ValueError(f"{source} holds a {type(state).__name__}, not a state dict")
    weights, arch = convert_state_dict(state)
    size = 2 ** arch["num_downs"]
    cfg = asdict(TrainConfig(dataset=dataset or "unknown", direction=direction, crop_size=size,
                             load_size=round(size * 286 / 256), test_mode="eval", **arch))
    G = build_generator(cfg)
    G.load_state_dict(weights)  # every tensor placed, every shape right
    return save_checkpoint(out, {"G": G.state_dict(), "config": cfg, "format": "p2p_ref generator",
                                 "converted_from": str(source)})


def main(argv=None):
    p = argparse.ArgumentParser(prog="p2p-convert", description="Convert the official pix2pix "
                                "code's latest_net_G.pth (unet_256 / unet_128, BatchNorm) into a "
                                "file p2p-translate, p2p-eval and p2p-train --init-from read.")
    p.add_argument("source", help="a latest_net_G.pth file, or the name of an official pretrained "
                                  "model to download: " + ", ".join(OFFICIAL_MODELS))
    p.add_argument("--out", default=None, help="default: runs/pretrained/NAME.pt")
    p.add_argument("--direction", choices=("AtoB", "BtoA"), default=None,
                   help="which half of an A|B file is the input (default: the model's, else AtoB)")
    p.add_argument("--base-url", default=MODELS_URL, help="where NAME.pth is downloaded from")
    args = p.parse_args(argv)
    preset = OFFICIAL_MODELS.get(args.source, {})
    try:
        if preset:
            source = Path("runs/pretrained") / f"{args.source}.pth"
            source.parent.mkdir(parents=True, exist_ok=True)
            if not source.is_file():
                part = source.with_suffix(".pth.part")
                fetch(f"{args.base_url.rstrip('/')}/{args.source}.pth", part, desc=args.source)
                part.replace(source)
        else:
            source = Path(args.source)
            if not source.is_file():
                raise FileNotFoundError(f"no file {source}, and {args.source!r} is not an official "
                                        f"model name ({', '.join(OFFICIAL_MODELS)})")
        out = Path(args.out) if args.out else Path("runs/pretrained") / f"{source.stem}.pt"
        direction = args.direction or preset.get("direction", "AtoB")
        convert_file(source, out, direction, preset.get("dataset"))
    except (FileNotFoundError, ValueError, RuntimeError) as e:
        sys.exit(f"p2p-convert: {e}")
    print(f"wrote {out} (direction {direction}). Translate with: p2p-translate --checkpoint {out} "
          f"--mode eval IMAGES --out OUT\n"
          f"note: --mode eval reproduces the official outputs exactly; --mode paper keeps dropout "
          f"on, which the official code applies one decoder level higher, so those outputs differ")


if __name__ == "__main__":
    main()
