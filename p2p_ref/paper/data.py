"""Paired data as the paper describes it (Isola et al., CVPR 2017, appendix 6.2).

Every training pair is one image holding two images side by side: A = the left half, B = the
right half; the direction says which one is G's input (AtoB: A -> B; BtoA: B -> A, e.g. labels ->
photo on facades, where A is the photo). Training uses "random jitter": resize to 286 x 286, take
the SAME random 256 x 256 crop of A and B, and mirror both or neither. Pixels are scaled to
[-1, 1] to match the generator's Tanh. The authors' code does the same
(junyanz/pytorch-CycleGAN-and-pix2pix, ``aligned_dataset.py``). Lesson 1 writes these.
"""

import torch
import torchvision.transforms.functional as TF
from torchvision.transforms import InterpolationMode


def split_ab(image):
    """Cut an A|B image into its halves: A = left, B = right (both PIL images).
    Only the width is checked (it must be even); `p2p_ref.datasets.pairs.pair_issues` flags files whose
    width is not about twice their height."""
    w, h = image.size
    if w % 2:
        where = getattr(image, "filename", "") or "the image"
        raise ValueError(f"{where} is {w}x{h} pixels: an A|B pair needs an even width "
                         f"(A = left half, B = right half)")
    return image.crop((0, 0, w // 2, h)), image.crop((w // 2, 0, w, h))


def normalize(t):
    """[0, 1] -> [-1, 1], the range of the generator's Tanh output."""
    return t * 2 - 1


def denormalize(t):
    """[-1, 1] -> [0, 1], clamped, e.g. to show a generated image."""
    return ((t + 1) / 2).clamp(0, 1)


def paired_jitter(a, b, load_size=286, crop_size=256, flip=True, generator=None):
    """The paper's random jitter (appendix 6.2) applied identically to A and B.

    a, b: (C, H, W) tensors of the same height and width. Both are resized (bicubic) to
    load_size x load_size, then cut at the same random crop_size x crop_size window (top row i is
    drawn before left column j), then mirrored together with probability 1/2 when flip is True.
    Bicubic resizing can overshoot, so each result is clamped to its input's value range.
    With load_size == crop_size == the input size and flip=False nothing changes.
    """
    if a.dim() != 3 or b.dim() != 3 or a.shape[-2:] != b.shape[-2:]:
        raise ValueError(f"paired_jitter needs two (C, H, W) tensors of the same H and W; "
                         f"got shapes {tuple(a.shape)} and {tuple(b.shape)}")
    if crop_size > load_size:
        raise ValueError(f"crop_size={crop_size} is larger than load_size={load_size}: "
                         f"the crop must fit inside the resized image")
    out = []
    for t in (a, b):
        if tuple(t.shape[-2:]) != (load_size, load_size):
            lo, hi = t.min(), t.max()
            t = TF.resize(t, [load_size, load_size], interpolation=InterpolationMode.BICUBIC,
                          antialias=True).clamp(lo, hi)
        out.append(t)
    a, b = out
    i = int(torch.randint(0, load_size - crop_size + 1, (1,), generator=generator))
    j = int(torch.randint(0, load_size - crop_size + 1, (1,), generator=generator))
    a = a[:, i:i + crop_size, j:j + crop_size]
    b = b[:, i:i + crop_size, j:j + crop_size]
    if flip and torch.rand(1, generator=generator) < 0.5:
        a, b = a.flip(-1), b.flip(-1)
    return a, b
