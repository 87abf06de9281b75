"""Preparing a pair for G: the official code's `--preprocess` choices, applied to A and B alike.

`resize_and_crop` with a random crop is the paper's jitter (`p2p_ref.paper.data.paired_jitter`);
the others serve datasets whose images are not square or not of one size.
"""

import torch
import torch.nn.functional as F
import torchvision.transforms.functional as TF
from torchvision.transforms import InterpolationMode

from p2p_ref.paper.data import paired_jitter

# The official code's --preprocess choices (without "scale_width", whose batches have mixed sizes).


# The official code's --preprocess choices (without "scale_width", whose batches have mixed sizes).
PREPROCESS = ("resize_and_crop", "crop", "scale_width_and_crop", "none")


def resize_bicubic(t, height, width):
    """Bicubic resize of a (C, H, W) tensor, clamped to its value range (bicubic overshoots)."""
    if tuple(t.shape[-2:]) == (height, width):
        return t
    lo, hi = t.min(), t.max()
    return TF.resize(t, [height, width], interpolation=InterpolationMode.BICUBIC,
                     antialias=True).clamp(lo, hi)


def pad_to_multiple(t, multiple, mode="reflect"):
    """Pad the last two dims of t up to multiples of `multiple`, split evenly between the two
    sides (reflection; replication where an image is too small to reflect). Returns the padded
    tensor and the box (top, left, height, width) of the original inside it."""
    h, w = t.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    top, left = ph // 2, pw // 2
    pads = (left, pw - left, top, ph - top)
    if ph or pw:
        batched = t if t.dim() == 4 else t.unsqueeze(0)
        if mode == "reflect" and (max(pads[2:]) >= h or max(pads[:2]) >= w):
            mode = "replicate"
        batched = F.pad(batched, pads, mode=mode)
        t = batched if t.dim() == 4 else batched[0]
    return t, (top, left, h, w)


def crop_box(t, box):
    """The region `box` = (top, left, height, width) of the last two dims of t."""
    top, left, h, w = box
    return t[..., top:top + h, left:left + w]


def preprocess_pair(a, b, preprocess="resize_and_crop", load_size=286, crop_size=256, flip=True,
                    multiple=1, center_crop=False, generator=None):
    """Prepare A and B identically, with the official code's --preprocess meanings:

    resize_and_crop        resize to load_size x load_size, crop crop_size x crop_size (the paper)
    crop                   crop crop_size x crop_size from the image at its own size
    scale_width_and_crop   scale the width to load_size (keeping the aspect ratio, height at
                           least crop_size), then crop crop_size x crop_size
    none                   keep the size; pad (reflect) each side to a multiple of `multiple`
                           (2**num_downs, so the U-Net can take it)

    The crop is random (top row, then left column) unless center_crop; then both are mirrored
    with probability 1/2 when flip. "resize_and_crop" with a random crop is `paired_jitter`.
    """
    if preprocess not in PREPROCESS:
        raise ValueError(f"preprocess={preprocess!r}: expected one of {', '.join(PREPROCESS)}")
    if a.shape[-2:] != b.shape[-2:]:
        raise ValueError(f"A is {a.shape[-1]}x{a.shape[-2]} but B is {b.shape[-1]}x{b.shape[-2]}: "
                         f"a pair needs one size")
    if preprocess == "resize_and_crop" and not center_crop:
        return paired_jitter(a, b, load_size, crop_size, flip, generator)
    h, w = a.shape[-2:]
    if preprocess == "resize_and_crop":
        a = resize_bicubic(a, load_size, load_size)
        b = resize_bicubic(b, load_size, load_size)
    elif preprocess == "scale_width_and_crop" and not (w == load_size and h >= crop_size):
        height = int(max(load_size * h / w, crop_size))
        a, b = resize_bicubic(a, height, load_size), resize_bicubic(b, height, load_size)
    if preprocess == "none":
        a, b = pad_to_multiple(a, multiple)[0], pad_to_multiple(b, multiple)[0]
    else:
        h, w = a.shape[-2:]
        if h < crop_size or w < crop_size:
            raise ValueError(f"an image of {w}x{h} (after --preprocess {preprocess}) is smaller "
                             f"than crop_size={crop_size}: use a smaller --crop-size, another "
                             f"--preprocess, or larger images")
        if center_crop:
            i, j = (h - crop_size) // 2, (w - crop_size) // 2
        else:
            i = int(torch.randint(0, h - crop_size + 1, (1,), generator=generator))
            j = int(torch.randint(0, w - crop_size + 1, (1,), generator=generator))
        a = a[:, i:i + crop_size, j:j + crop_size]
        b = b[:, i:i + crop_size, j:j + crop_size]
    if flip and torch.rand(1, generator=generator) < 0.5:
        a, b = a.flip(-1), b.flip(-1)
    return a, b
