"""p2p-translate: run a trained generator on images, the way the paper tests it, at their own size.

    p2p-translate --checkpoint runs/facades/checkpoint.pt datasets/facades/test --out results/

Inputs are image files or folders of them: A|B pairs (the input half is picked by the run's
direction), single input images, or a split with A/ and B/ folders. Each image keeps its size
and aspect ratio: it is padded (reflect) to a multiple of 2**num_downs, translated, and cropped
back (the U-Net is fully convolutional). `--tile N` translates images too large for memory in
overlapping N x N tiles, blended linearly. `--square` is the old way: resize to the training crop
size. By default G keeps dropout and batch statistics on (`--mode paper`, sec. 3.1 and 3.3 of
the paper: dropout is G's noise, also at test time); `--mode eval` uses model.eval() instead.
The direction is the run's; a folder of a known dataset whose declared direction contradicts it
(e.g. facades, BtoA, with a G trained AtoB on another set) is refused unless --direction says so.
"""

import argparse
import sys
from pathlib import Path

import torch
import torchvision.transforms.functional as TF
from PIL import Image
from tqdm.auto import tqdm

from p2p_ref.training.build import build_generator
from p2p_ref.training.checkpoint import load_checkpoint
from p2p_ref.datasets.aligned import DIRECTIONS
from p2p_ref.datasets.direction import choose_direction
from p2p_ref.datasets.preprocess import crop_box, pad_to_multiple, resize_bicubic
from p2p_ref.paper.data import denormalize, normalize, split_ab
from p2p_ref.datasets.images import is_image_file, match_channels, read_image, write_image
from p2p_ref.datasets.pairs import list_split
from p2p_ref.training.devices import resolve_device
from p2p_ref.training.validation import TEST_MODES, set_test_mode, to_rgb


def load_generator(checkpoint, device="cpu", mode="paper"):
    """G in test mode `mode` from a p2p-train checkpoint, a p2p-export file (G and its config
    only) or a p2p-convert file (official weights); returns (G, the run's config dict)."""
    ck = load_checkpoint(checkpoint)
    cfg = ck["config"]
    G = build_generator(cfg)
    try:
        G.load_state_dict(ck["G"])
    except RuntimeError as e:
        raise ValueError(f"{checkpoint}: the generator weights do not fit the U-Net its config "
                         f"describes (num_downs={cfg['num_downs']}, ngf={cfg['ngf']}, "
                         f"norm={cfg['norm']!r}, {cfg.get('input_nc', 3)} -> "
                         f"{cfg.get('output_nc', 3)} channels): {e}") from e
    return set_test_mode(G.to(device), mode), cfg


def find_images(inputs):
    """The image files named by `inputs` (files, or folders searched one level deep), sorted."""
    paths = []
    for item in map(Path, inputs):
        if item.is_dir():
            found = sorted(p for p in item.iterdir() if p.is_file() and is_image_file(p))
            if not found:
                raise FileNotFoundError(f"{item} holds no images (.png, .jpg, .tif, .webp, "
                                        f".bmp, .npy)")
            paths += found
        elif item.is_file():
            paths.append(item)
        else:
            raise FileNotFoundError(f"input {item} does not exist")
    return paths


def find_inputs(inputs, direction):
    """[(input file, target file or None, name)] for the CLI: image files, folders of them, and
    splits with A/ and B/ folders (the input side by direction, the other side as target)."""
    found = []
    for item in map(Path, inputs):
        if item.is_dir() and (item / "A").is_dir() and (item / "B").is_dir():
            listing = list_split(item)
            if listing.problems:
                raise ValueError(f"{item}: " + "; ".join(listing.problems))
            for a, b in listing.pairs:
                src, tgt = (a, b) if direction == "AtoB" else (b, a)
                found.append((src, tgt, a.stem))
        else:
            found += [(p, None, p.stem) for p in find_images([item])]
    return found


def read_input(path, direction, input_is_pair="auto"):
    """(G's input, the target or None) as PIL images. "auto" treats an image twice as wide as
    high as an A|B pair; the input half is A for AtoB and B for BtoA. (8-bit images; the CLI
    reads any file with `read_source`.)"""
    try:
        with Image.open(path) as img:
            img = img.convert("RGB")
    except OSError as e:
        raise ValueError(f"cannot read {path}: {e}. Expected an image file") from e
    w, h = img.size
    is_pair = input_is_pair == "yes" or (input_is_pair == "auto" and w == 2 * h)
    if not is_pair:
        return img, None
    a, b = split_ab(img)
    return (a, b) if direction == "AtoB" else (b, a)


def read_source(path, direction, input_is_pair="auto", input_nc=3, output_nc=3):
    """(x, target or None, is_pair): [0, 1] tensors with the channels of G's input and output,
    from any image file (16-bit, grayscale, .npy, ...)."""
    t = read_image(path)
    h, w = t.shape[-2:]
    is_pair = input_is_pair == "yes" or (input_is_pair == "auto" and w == 2 * h)
    if not is_pair:
        return match_channels(t, input_nc, path=path), None, False
    if w % 2:
        raise ValueError(f"{path} is {w}x{h} pixels: an A|B pair needs an even width")
    a, b = t[..., :w // 2], t[..., w // 2:]
    x, y = (a, b) if direction == "AtoB" else (b, a)
    return match_channels(x, input_nc, path=path), match_channels(y, output_nc, path=path), True


def _ramp(n, overlap):
    """Blending weights along one side of a tile: rising over `overlap` pixels at both ends."""
    k = torch.arange(n, dtype=torch.float32)
    return torch.minimum(torch.ones(n), torch.minimum(k + 1, n - k) / (overlap + 1))


def _starts(size, tile, overlap):
    step = max(1, tile - overlap)
    starts = list(range(0, max(1, size - tile + 1), step))
    if starts[-1] + tile < size:
        starts.append(size - tile)
    return starts


@torch.no_grad()
def translate_tensor(G, x, device="cpu", size=None, tile=None, overlap=None):
    """G(x) for one [0, 1] image x (C, H, W); returns a [0, 1] tensor on the CPU.

    Default: the image keeps its size; it is padded (reflect) to a multiple of 2**num_downs and
    the output cropped back. size=S: the old way, resize to S x S (the output is S x S).
    tile=T: overlapping T x T tiles (T a multiple of 2**num_downs), blended with linear ramps over
    `overlap` pixels (default T / 4), for images too large to translate at once. In --mode
    paper, BatchNorm normalizes each tile with its own statistics; --mode eval does not.
    """
    m = 2 ** G.num_downs
    if size is not None:
        x = resize_bicubic(x, size, size)
    padded, box = pad_to_multiple(normalize(x), m)
    batch = padded.unsqueeze(0).to(device)
    if tile is None or (batch.shape[-2] <= tile and batch.shape[-1] <= tile):
        out = G(batch).float().cpu()[0]
    else:
        if tile % m or tile <= 0:
            raise ValueError(f"--tile {tile} must be a positive multiple of 2**num_downs = {m}")
        overlap = tile // 4 if overlap is None else overlap
        if not 0 <= overlap < tile:
            raise ValueError(f"--tile-overlap {overlap} must be at least 0 and less than the "
                             f"tile size {tile}")
        H, W = batch.shape[-2:]
        th, tw = min(tile, H), min(tile, W)
        out, weight = None, torch.zeros(1, H, W)
        w2d = _ramp(th, overlap)[:, None] * _ramp(tw, overlap)[None, :]
        for i in _starts(H, th, overlap):
            for j in _starts(W, tw, overlap):
                y = G(batch[..., i:i + th, j:j + tw]).float().cpu()[0]
                if out is None:
                    out = torch.zeros(y.shape[0], H, W)
                out[:, i:i + th, j:j + tw] += y * w2d
                weight[:, i:i + th, j:j + tw] += w2d
        out = out / weight
    return denormalize(crop_box(out, box))


def translate(G, image, size=None, device="cpu", tile=None, overlap=None):
    """G(image) for a PIL image, as a PIL image: at the image's own size (size=None), or resized
    to size x size first as in training. See `translate_tensor`."""
    x = match_channels(TF.to_tensor(image), G.encoders[0].block[0].in_channels)
    out = translate_tensor(G, x, device, size, tile, overlap)
    return TF.to_pil_image(out if out.shape[0] in (1, 3, 4) else to_rgb(out))


def side_by_side(panels):
    """Input | output (| target) as one RGB [0, 1] tensor, each panel at the first one's size."""
    size = tuple(panels[0].shape[-2:])
    panels = [to_rgb(resize_bicubic(p, *size) if tuple(p.shape[-2:]) != size else p)
              for p in panels]
    return torch.cat(panels, dim=2)


def _parser():
    """p2p-translate's flags."""
    p = argparse.ArgumentParser(prog="p2p-translate", description="Translate images with a "
                                "generator trained by p2p-train (or exported / converted); "
                                "writes one PNG per input, at the input's size.")
    p.add_argument("inputs", nargs="+", help="image files and/or folders of images (or a split "
                                             "with A/ and B/ folders)")
    p.add_argument("--checkpoint", required=True,
                   help="RUN_DIR/checkpoint.pt (or RUN_DIR, best.pt, a p2p-export or p2p-convert "
                        "file)")
    p.add_argument("--out", required=True, help="folder for the translated images")
    p.add_argument("--mode", choices=TEST_MODES, default="paper",
                   help="paper: dropout and batch statistics on, as in the paper (default); "
                        "eval: model.eval()")
    p.add_argument("--input-is-pair", choices=("auto", "yes", "no"), default="auto",
                   help="auto: images exactly twice as wide as high are A|B pairs")
    p.add_argument("--direction", choices=DIRECTIONS, default=None,
                   help="which half of a pair is the input (default: the run's direction)")
    p.add_argument("--square", action="store_true",
                   help="resize every input to the training crop size (crop_size x crop_size), "
                        "the old way; the output has that size")
    p.add_argument("--tile", type=int, default=None, metavar="N",
                   help="translate in overlapping N x N tiles (N a multiple of 2**num_downs), for "
                        "images too large for memory")
    p.add_argument("--tile-overlap", type=int, default=None, metavar="M",
                   help="pixels of overlap between tiles, blended linearly (default: N / 4)")
    p.add_argument("--bits", type=int, choices=(8, 16), default=8,
                   help="bits per value of the outputs (16: a 16-bit PNG for 1 channel, a "
                        "16-bit TIFF for 3 or 4)")
    p.add_argument("--side-by-side", action="store_true",
                   help="write input | output (| target) instead of the output alone")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    p.add_argument("--seed", type=int, default=0, help="seeds the dropout noise of --mode paper")
    return p


def main(argv=None):
    args = _parser().parse_args(argv)

    try:
        device = resolve_device(args.device)
        G, cfg = load_generator(args.checkpoint, device, args.mode)
        direction = args.direction or cfg["direction"]
        for item in args.inputs:  # a folder of a known dataset: its pairs' declared direction
            if Path(item).is_dir():
                choose_direction(item, args.direction, cfg["direction"], f"{args.checkpoint} "
                                 f"(trained on {cfg.get('dataset', 'an unknown dataset')})",
                                 cfg.get("dataset"))
        inputs = find_inputs(args.inputs, direction)
    except (FileNotFoundError, ValueError, RuntimeError) as e:
        sys.exit(f"p2p-translate: {e}")
    size = cfg["crop_size"] if args.square else None
    in_nc, out_nc = cfg.get("input_nc", 3), cfg.get("output_nc", 3)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(args.seed)
    pairs, names = [], set()
    for path, partner, stem in tqdm(inputs, desc="p2p-translate", unit="image",
                                    disable=len(inputs) < 2):
        try:
            x, target, is_pair = read_source(path, direction, args.input_is_pair, in_nc, out_nc)
            if partner is not None:
                target = match_channels(read_image(partner), out_nc, path=partner)
            result = translate_tensor(G, x, device, size, args.tile, args.tile_overlap)
        except ValueError as e:
            sys.exit(f"p2p-translate: {e}")
        if is_pair:
            pairs.append(path.name)
        if args.side_by_side:
            shown = [resize_bicubic(x, size, size) if size else x, result]
            if target is not None:
                shown.append(target)
            result = side_by_side(shown)
        name, n = stem, 1
        while name in names:
            n += 1
            name = f"{stem}_{n}"
        names.add(name)
        write_image(result, out / f"{name}.png", bits=args.bits)
    if pairs and args.input_is_pair == "auto":
        print(f"note: {len(pairs)} input(s) are twice as wide as high and were read as A|B pairs "
              f"({', '.join(pairs[:3])}{' ...' if len(pairs) > 3 else ''}); pass "
              f"--input-is-pair no if they are single images")
    how = f"resized to {size}x{size}" if size else "at their own size"
    print(f"translated {len(inputs)} image(s) {how} ({direction}, --mode {args.mode}) -> {out}/")


if __name__ == "__main__":
    main()
