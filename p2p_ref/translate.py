"""p2p-translate: run a trained generator on images, the way the paper tests it.

    p2p-translate --checkpoint runs/facades/checkpoint.pt datasets/facades/test --out results/

Inputs are image files or folders of them, either A|B pairs (the input half is picked by the
run's direction) or single input images. By default G keeps dropout and batch statistics on
(`--mode paper`, sec. 3.1 and 3.2 of the paper: dropout is G's noise, also at test time);
`--mode eval` uses model.eval() instead.
"""

import argparse
import sys
from pathlib import Path

import torch
import torchvision.transforms.functional as TF
from PIL import Image, UnidentifiedImageError

from p2p_ref.checkpoint import load_checkpoint
from p2p_ref.data import DIRECTIONS, IMAGE_EXTENSIONS, denormalize, normalize, split_ab
from p2p_ref.models import UNetGenerator
from p2p_ref.processes import resolve_device
from p2p_ref.validation import TEST_MODES, set_test_mode


def load_generator(checkpoint, device="cpu", mode="paper"):
    """G from a p2p-train checkpoint, in test mode `mode`; returns (G, the run's config dict)."""
    ck = load_checkpoint(checkpoint)
    cfg = ck["config"]
    G = UNetGenerator(num_downs=cfg["num_downs"], ngf=cfg["ngf"], norm=cfg["norm"])
    try:
        G.load_state_dict(ck["G"])
    except RuntimeError as e:
        raise ValueError(f"{checkpoint}: the generator weights do not fit the U-Net its config "
                         f"describes (num_downs={cfg['num_downs']}, ngf={cfg['ngf']}, "
                         f"norm={cfg['norm']!r}): {e}") from e
    return set_test_mode(G.to(device), mode), cfg


def find_images(inputs):
    """The image files named by `inputs` (files, or folders searched one level deep), sorted."""
    paths = []
    for item in map(Path, inputs):
        if item.is_dir():
            found = sorted(p for p in item.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS)
            if not found:
                raise FileNotFoundError(f"{item} holds no {'/'.join(IMAGE_EXTENSIONS)} images")
            paths += found
        elif item.is_file():
            paths.append(item)
        else:
            raise FileNotFoundError(f"input {item} does not exist")
    return paths


def read_input(path, direction, input_is_pair="auto"):
    """(G's input, the target or None) as PIL images. "auto" treats an image twice as wide as
    high as an A|B pair; the input half is A for AtoB and B for BtoA."""
    try:
        with Image.open(path) as img:
            img = img.convert("RGB")
    except (OSError, UnidentifiedImageError) as e:
        raise ValueError(f"cannot read {path}: {e}. Expected a .jpg or .png image") from e
    w, h = img.size
    is_pair = input_is_pair == "yes" or (input_is_pair == "auto" and w == 2 * h)
    if not is_pair:
        return img, None
    a, b = split_ab(img)
    return (a, b) if direction == "AtoB" else (b, a)


@torch.no_grad()
def translate(G, image, size, device="cpu"):
    """G(image) as a PIL image of size x size (the input is resized to it if needed)."""
    if image.size != (size, size):
        image = image.resize((size, size), Image.BICUBIC)
    x = normalize(TF.to_tensor(image)).unsqueeze(0).to(device)
    return TF.to_pil_image(denormalize(G(x)[0].float().cpu()))


def main(argv=None):
    p = argparse.ArgumentParser(prog="p2p-translate", description="Translate images with a "
                                "generator trained by p2p-train; writes one PNG per input.")
    p.add_argument("inputs", nargs="+", help="image files and/or folders of images")
    p.add_argument("--checkpoint", required=True, help="RUN_DIR/checkpoint.pt (or RUN_DIR)")
    p.add_argument("--out", required=True, help="folder for the translated PNGs")
    p.add_argument("--mode", choices=TEST_MODES, default="paper",
                   help="paper: dropout and batch statistics on, as in the paper (default); "
                        "eval: model.eval()")
    p.add_argument("--input-is-pair", choices=("auto", "yes", "no"), default="auto",
                   help="auto: images twice as wide as high are A|B pairs")
    p.add_argument("--direction", choices=DIRECTIONS, default=None,
                   help="which half of a pair is the input (default: the run's direction)")
    p.add_argument("--side-by-side", action="store_true",
                   help="write input | output (| target) instead of the output alone")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    p.add_argument("--seed", type=int, default=0, help="seeds the dropout noise of --mode paper")
    args = p.parse_args(argv)

    try:
        device = resolve_device(args.device)
        G, cfg = load_generator(args.checkpoint, device, args.mode)
        paths = find_images(args.inputs)
    except (FileNotFoundError, ValueError, RuntimeError) as e:
        sys.exit(f"p2p-translate: {e}")
    size, direction = cfg["crop_size"], args.direction or cfg["direction"]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(args.seed)
    resized, names = [], set()
    for path in paths:
        try:
            source, target = read_input(path, direction, args.input_is_pair)
        except ValueError as e:
            sys.exit(f"p2p-translate: {e}")
        if source.size != (size, size):
            resized.append(f"{path.name} ({source.size[0]}x{source.size[1]})")
        result = translate(G, source, size, device)
        if args.side_by_side:
            panels = [source.resize((size, size), Image.BICUBIC), result]
            if target is not None:
                panels.append(target.resize((size, size), Image.BICUBIC))
            result = Image.new("RGB", (size * len(panels), size))
            for i, panel in enumerate(panels):
                result.paste(panel, (i * size, 0))
        name, n = path.stem, 1
        while name in names:
            n += 1
            name = f"{path.stem}_{n}"
        names.add(name)
        result.save(out / f"{name}.png")
    if resized:
        print(f"note: G was trained on {size}x{size} crops; resized {len(resized)} input(s) to "
              f"that size: {', '.join(resized[:5])}{' ...' if len(resized) > 5 else ''}")
    print(f"translated {len(paths)} image(s) ({direction}, --mode {args.mode}) -> {out}/")


if __name__ == "__main__":
    main()
