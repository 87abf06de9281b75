"""Checks for notebook 1 (paired translation): split_ab, normalize, denormalize, paired_jitter.

An A|B file holds two images side by side: A = the left half, B = the right half. Which half is
the generator's input is the training direction's business, not the file's (on facades and the
synthetic set A is the photo, so labels -> photo is "BtoA" and A is the *target*).

split_ab, normalize and denormalize are compared with p2p_ref.paper.data numerically here.
paired_jitter is random, so it is checked by its properties instead, in ex1_jitter; the notebook
reaches those checks from here too (`check.paired_jitter_shapes`, ...).
"""

import numpy as np
import torch
from PIL import Image

from p2p_ref.paper import data as ref
from p2p_ref.course.checks.common import ensure_own_code, fail, passed
from p2p_ref.course.checks.ex1_jitter import (  # noqa: F401 - paired_jitter's checks, used by the notebook
    paired_jitter_aligned, paired_jitter_random, paired_jitter_seeded, paired_jitter_shapes)

WHERE_SPLIT = "your `split_ab` cell"
WHERE_NORM = "your `normalize` / `denormalize` cell"


# ----------------------------------------------------------------------------------- split_ab

def _noise_image(width, height, seed=0):
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8), "RGB")


def _halves(student, image):
    out = student(image)
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        fail(f"split_ab returned {type(out).__name__}, not a pair",
             "a tuple (A, B) of two PIL images", WHERE_SPLIT + ": `return a, b`")
    for name, half in zip("AB", out):
        if not isinstance(half, Image.Image):
            fail(f"{name} is a {type(half).__name__}, not a PIL image",
                 "two PIL images, e.g. from `image.crop((left, top, right, bottom))` or "
                 "`Image.fromarray(...)`", WHERE_SPLIT)
    return out


def split_ab(student):
    """split_ab cuts an A|B image into the left half A and the right half B."""
    ensure_own_code(student, "split_ab")
    for width, height in ((512, 256), (64, 24)):
        image = _noise_image(width, height)
        a, b = _halves(student, image)
        ref_a, ref_b = ref.split_ab(image)
        for name, half in zip("AB", (a, b)):
            if half.size != (width // 2, height):
                fail(f"for a {width}x{height} A|B image, {name} is {half.size[0]}x{half.size[1]}",
                     f"each half is {width // 2}x{height} (width x height): the image is cut "
                     f"down the middle of its width",
                     WHERE_SPLIT + ": PIL's `image.size` is (width, height), in that order")
        got_a, got_b = np.asarray(a.convert("RGB")), np.asarray(b.convert("RGB"))
        want_a, want_b = np.asarray(ref_a), np.asarray(ref_b)
        if np.array_equal(got_a, want_b) and np.array_equal(got_b, want_a):
            fail("A and B are swapped: A is the right half and B the left half",
                 "A = the LEFT half, B = the right half, whatever the direction: the direction "
                 "(AtoB or BtoA) decides later which of them is the input", WHERE_SPLIT)
        if not np.array_equal(got_a, want_a):
            fail(f"A is not the left half of a {width}x{height} image",
                 f"A = pixels with x in [0, {width // 2}), all rows", WHERE_SPLIT)
        if not np.array_equal(got_b, want_b):
            fail(f"B is not the right half of a {width}x{height} image",
                 f"B = pixels with x in [{width // 2}, {width}), all rows", WHERE_SPLIT)
    passed("split_ab: A = left half, B = right half, both the right size")


def split_ab_odd_width(student):
    """An odd width cannot be split into two equal halves: ValueError naming the size."""
    ensure_own_code(student, "split_ab")
    image = _noise_image(513, 256)
    try:
        out = student(image)
    except ValueError as e:
        if "513" not in str(e):
            fail(f"the ValueError for a 513x256 image says {str(e)!r}, which does not name "
                 f"the width", "a message with the size, e.g. '513x256: an A|B pair needs an "
                 "even width'", WHERE_SPLIT)
    except Exception as e:  # noqa: BLE001  (any other error is the student's mistake to see)
        fail(f"a 513x256 image raised {type(e).__name__}: {e}", "a ValueError naming the size",
             WHERE_SPLIT + ": `raise ValueError(...)` when `width % 2` is 1")
    else:
        sizes = [getattr(h, "size", "?") for h in out] if isinstance(out, (tuple, list)) else out
        fail(f"a 513x256 image was split without an error (halves {sizes})",
             "ValueError naming the size: an odd width has no middle, so A and B would differ "
             "in width", WHERE_SPLIT + ": check `width % 2` before cutting")
    passed("split_ab: an odd width raises ValueError naming the size")


# ------------------------------------------------------------------- normalize / denormalize
# The spec asks for image tensors, one image (3, H, W) or a batch (N, 3, H, W), so that
# torchvision's Normalize((0.5,) * 3, (0.5,) * 3) (the official code's idiom) is as good as
# t * 2 - 1 or (t - 0.5) / 0.5.

def _apply(student, name, t):
    original = t.clone()
    try:
        out = student(t)
    except (TypeError, ValueError, RuntimeError) as e:
        fail(f"{name} raised {type(e).__name__} on a {tuple(t.shape)} tensor: {e}",
             "a function of image tensors: one image (3, H, W) or a batch (N, 3, H, W)",
             WHERE_NORM)
    if not torch.is_tensor(out):
        fail(f"{name} returned {type(out).__name__}", "a torch tensor", WHERE_NORM)
    if not torch.equal(t, original):
        fail(f"{name} changed its input tensor in place",
             "a new tensor; the input left as it was (avoid `t.mul_()`, `t += ...`)", WHERE_NORM)
    if out.shape != t.shape or out.dtype != t.dtype:
        fail(f"{name} turned a {tuple(t.shape)} {t.dtype} tensor into {tuple(out.shape)} "
             f"{out.dtype}", "the same shape and dtype (channels first, as the networks take "
             "it: matplotlib's channels-last view is made where an image is shown)", WHERE_NORM)
    return out


def _probe(values):
    """One (3, 1, len(values)) image whose every channel holds `values`."""
    return torch.tensor(values).expand(3, 1, len(values)).clone()


def _values(out, want):
    """The row of `out` (a probe's result) that differs most from `want`, as text."""
    channel = int((out - want).abs().flatten(1).amax(1).argmax())
    return ", ".join(f"{v:.3g}" for v in out[channel].flatten().tolist())


def normalize(student):
    """normalize maps [0, 1] to [-1, 1] linearly: t * 2 - 1."""
    ensure_own_code(student, "normalize")
    probe = _probe([0.0, 0.25, 0.5, 1.0])
    out, want = _apply(student, "normalize", probe), ref.normalize(probe)
    if not torch.allclose(out, want, atol=1e-6):
        fail(f"normalize maps 0, 0.25, 0.5, 1 to {_values(out, want)}",
             "-1, -0.5, 0, 1 in every channel: [0, 1] stretched to [-1, 1], the range of the "
             "generator's Tanh", WHERE_NORM + ": t * 2 - 1")
    batch = torch.rand(2, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    if not torch.allclose(_apply(student, "normalize", batch), ref.normalize(batch), atol=1e-6):
        fail("normalize is wrong on a (2, 3, 8, 8) batch of random images",
             "t * 2 - 1 elementwise, for one image and for a batch", WHERE_NORM)
    passed("normalize: [0, 1] -> [-1, 1]")


def denormalize(student):
    """denormalize maps [-1, 1] back to [0, 1]: (t + 1) / 2."""
    ensure_own_code(student, "denormalize")
    probe = _probe([-1.0, -0.5, 0.0, 1.0])
    out, want = _apply(student, "denormalize", probe), ref.denormalize(probe)
    if not torch.allclose(out, want, atol=1e-6):
        fail(f"denormalize maps -1, -0.5, 0, 1 to {_values(out, want)}",
             "0, 0.25, 0.5, 1 in every channel: [-1, 1] squeezed back to [0, 1]",
             WHERE_NORM + ": (t + 1) / 2")
    batch = torch.rand(2, 3, 8, 8, generator=torch.Generator().manual_seed(1)) * 2 - 1
    if not torch.allclose(_apply(student, "denormalize", batch), ref.denormalize(batch),
                          atol=1e-6):
        fail("denormalize is wrong on a (2, 3, 8, 8) batch of values in [-1, 1]",
             "(t + 1) / 2 elementwise, for one image and for a batch", WHERE_NORM)
    passed("denormalize: [-1, 1] -> [0, 1]")


def denormalize_clamps(student):
    """Values outside [-1, 1] (an untrained generator, bicubic overshoot) end up in [0, 1]."""
    ensure_own_code(student, "denormalize")
    probe = _probe([-3.0, -1.2, 1.2, 3.0])
    out, want = _apply(student, "denormalize", probe), ref.denormalize(probe)
    if not torch.allclose(out, want, atol=1e-6):
        fail(f"denormalize maps -3, -1.2, 1.2, 3 to {_values(out, want)}",
             "0, 0, 1, 1: results clamped to [0, 1] so they can be shown and saved as images",
             WHERE_NORM + ": `.clamp(0, 1)` after rescaling")
    passed("denormalize: clamps to [0, 1]")


def round_trip(normalize_fn, denormalize_fn):
    """denormalize(normalize(t)) gives t back for t in [0, 1]."""
    ensure_own_code(normalize_fn, "normalize")
    ensure_own_code(denormalize_fn, "denormalize")
    t = torch.rand(3, 16, 16, generator=torch.Generator().manual_seed(2))
    back = denormalize_fn(normalize_fn(t))
    if not torch.allclose(back, t, atol=1e-6):
        err = (back - t).abs().max().item()
        fail(f"denormalize(normalize(t)) differs from t by up to {err:.3g}",
             "the two functions undo each other on [0, 1]", WHERE_NORM)
    passed("normalize and denormalize undo each other")
