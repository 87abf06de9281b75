"""Checks for notebook 1 (paired translation): split_ab, normalize, denormalize, paired_jitter.

split_ab, normalize and denormalize are compared with p2p_ref.data numerically. paired_jitter is
random, so it is checked by its properties, not by its random draws: output sizes, that A and B
got the same crop and the same flip (on a pattern pair whose halves are coupled), that the draws
come from the generator passed in, that different generators give different crops, and that both
flipped and unflipped results happen.
"""

import numpy as np
import torch
from PIL import Image

from p2p_ref import data as ref
from p2p_ref.checks.common import ensure_own_code, fail, passed

WHERE_SPLIT = "your `split_ab` cell"
WHERE_NORM = "your `normalize` / `denormalize` cell"
WHERE_JITTER = "your `paired_jitter` cell"


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
                 "two PIL images, e.g. from `image.crop((left, top, right, bottom))`",
                 WHERE_SPLIT)
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
                 "A = the LEFT half (the source in the pix2pix files), B = the right half",
                 WHERE_SPLIT)
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
             WHERE_SPLIT + ": check `width % 2` before cutting")
    else:
        sizes = [getattr(h, "size", "?") for h in out] if isinstance(out, (tuple, list)) else out
        fail(f"a 513x256 image was split without an error (halves {sizes})",
             "ValueError naming the size: an odd width has no middle, so A and B would differ "
             "in width", WHERE_SPLIT + ": check `width % 2` before cutting")
    passed("split_ab: an odd width raises ValueError naming the size")


# ------------------------------------------------------------------- normalize / denormalize

def _apply(student, name, t):
    original = t.clone()
    out = student(t)
    if not torch.is_tensor(out):
        fail(f"{name} returned {type(out).__name__}", "a torch tensor", WHERE_NORM)
    if not torch.equal(t, original):
        fail(f"{name} changed its input tensor in place",
             "a new tensor; the input left as it was (avoid `t.mul_()`, `t += ...`)", WHERE_NORM)
    if out.shape != t.shape or out.dtype != t.dtype:
        fail(f"{name} turned a {tuple(t.shape)} {t.dtype} tensor into {tuple(out.shape)} "
             f"{out.dtype}", "the same shape and dtype", WHERE_NORM)
    return out


def _values(out):
    return ", ".join(f"{v:.3g}" for v in out.flatten().tolist())


def normalize(student):
    """normalize maps [0, 1] to [-1, 1] linearly: t * 2 - 1."""
    ensure_own_code(student, "normalize")
    probe = torch.tensor([0.0, 0.25, 0.5, 1.0])
    out = _apply(student, "normalize", probe)
    if not torch.allclose(out, ref.normalize(probe), atol=1e-6):
        fail(f"normalize maps 0, 0.25, 0.5, 1 to {_values(out)}",
             "-1, -0.5, 0, 1: [0, 1] stretched to [-1, 1], the range of the generator's Tanh",
             WHERE_NORM + ": t * 2 - 1")
    batch = torch.rand(2, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    if not torch.allclose(_apply(student, "normalize", batch), ref.normalize(batch), atol=1e-6):
        fail("normalize is wrong on a (2, 3, 8, 8) batch of random images",
             "t * 2 - 1 elementwise, for any shape", WHERE_NORM)
    passed("normalize: [0, 1] -> [-1, 1]")


def denormalize(student):
    """denormalize maps [-1, 1] back to [0, 1]: (t + 1) / 2."""
    ensure_own_code(student, "denormalize")
    probe = torch.tensor([-1.0, -0.5, 0.0, 1.0])
    out = _apply(student, "denormalize", probe)
    if not torch.allclose(out, ref.denormalize(probe), atol=1e-6):
        fail(f"denormalize maps -1, -0.5, 0, 1 to {_values(out)}",
             "0, 0.25, 0.5, 1: [-1, 1] squeezed back to [0, 1]", WHERE_NORM + ": (t + 1) / 2")
    batch = torch.rand(2, 3, 8, 8, generator=torch.Generator().manual_seed(1)) * 2 - 1
    if not torch.allclose(_apply(student, "denormalize", batch), ref.denormalize(batch),
                          atol=1e-6):
        fail("denormalize is wrong on a (2, 3, 8, 8) batch of values in [-1, 1]",
             "(t + 1) / 2 elementwise, for any shape", WHERE_NORM)
    passed("denormalize: [-1, 1] -> [0, 1]")


def denormalize_clamps(student):
    """Values outside [-1, 1] (an untrained generator, bicubic overshoot) end up in [0, 1]."""
    ensure_own_code(student, "denormalize")
    probe = torch.tensor([-3.0, -1.2, 1.2, 3.0])
    out = _apply(student, "denormalize", probe)
    if not torch.allclose(out, ref.denormalize(probe), atol=1e-6):
        fail(f"denormalize maps -3, -1.2, 1.2, 3 to {_values(out)}",
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


# ------------------------------------------------------------------------------ paired_jitter
# The pattern pair: in A, channel 0 is a left-to-right ramp, channel 1 a top-to-bottom ramp and
# channel 2 random texture. B holds A's channels in another order, so B = A[PERM] before the
# jitter and, if A and B get the same resize, crop and flip, also after it. The ramps tell where
# the crop was taken (i, j) and whether it was mirrored.

PERM = [2, 0, 1]


def _pattern_pair(size, seed=0):
    ramp = torch.arange(size, dtype=torch.float32) / (size - 1)
    texture = torch.rand(size, size, generator=torch.Generator().manual_seed(seed))
    a = torch.stack([ramp.expand(size, size), ramp[:, None].expand(size, size), texture])
    return a, a[PERM].clone()


def _jitter(student, a, b, **kwargs):
    a_in, b_in = a.clone(), b.clone()
    call = ", ".join(f"{k}={v!r}" for k, v in kwargs.items() if k != "generator")
    try:
        out = student(a, b, **kwargs)
    except TypeError as e:
        fail(f"paired_jitter(a, b, {call}) raised TypeError: {e}",
             "the signature paired_jitter(a, b, load_size=286, crop_size=256, flip=True, "
             "generator=None)", WHERE_JITTER)
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        fail(f"paired_jitter returned {type(out).__name__}, not a pair",
             "a tuple (a, b) of two tensors", WHERE_JITTER + ": `return a, b`")
    if not (torch.equal(a, a_in) and torch.equal(b, b_in)):
        fail("paired_jitter changed its input tensors in place",
             "new tensors; the inputs left as they were", WHERE_JITTER)
    for name, t in zip("ab", out):
        if not torch.is_tensor(t):
            fail(f"{name} came back as {type(t).__name__}", "torch tensors (C, H, W)",
                 WHERE_JITTER)
    return out


def _generator(seed):
    return torch.Generator().manual_seed(seed)


def _where_is_crop(a_out, load_size):
    """(i, j, flipped) of a crop of the pattern A at load_size x load_size (no resize needed)."""
    x = a_out[0].mean(0)  # the ramp along the width
    flipped = bool(x[0] > x[-1])
    j = round(min(x[0].item(), x[-1].item()) * (load_size - 1))
    i = round(a_out[1, 0].mean().item() * (load_size - 1))
    return i, j, flipped


def paired_jitter_shapes(student):
    """Both outputs are crop_size x crop_size with the input's channels, cut from a picture
    resized to load_size x load_size."""
    ensure_own_code(student, "paired_jitter")
    a, b = _pattern_pair(256)
    for kwargs, want in (({}, 256), ({"load_size": 96, "crop_size": 64}, 64),
                         ({"load_size": 80, "crop_size": 80, "flip": False}, 80)):
        for seed in range(2):
            out = _jitter(student, a, b, generator=_generator(seed), **kwargs)
            for name, t in zip("ab", out):
                if tuple(t.shape) != (3, want, want):
                    args = ", ".join(f"{k}={v}" for k, v in kwargs.items()) or "defaults"
                    fail(f"for a (3, 256, 256) input with {args}, {name} has shape "
                         f"{tuple(t.shape)}", f"(3, {want}, {want}): channels first, a "
                         f"{want} x {want} crop", WHERE_JITTER)
    # Cropping 64 from a 64-pixel image resized to 128 keeps about half of the width.
    a, b = _pattern_pair(64)
    a_out, _ = _jitter(student, a, b, load_size=128, crop_size=64, flip=False,
                       generator=_generator(0))
    span = (a_out[0].mean(0).max() - a_out[0].mean(0).min()).item()
    if not 0.35 < span < 0.65:
        fail(f"a 64 x 64 crop of a 64 x 64 image, with load_size=128, shows {span:.0%} of the "
             f"image width", "about 50%: first resize to load_size x load_size (bicubic), then "
             "crop crop_size x crop_size", WHERE_JITTER + ": the resize step "
             "(torchvision.transforms.functional.resize)")
    passed("paired_jitter: output shapes and the resize-then-crop sizes are right")


def paired_jitter_aligned(student):
    """A and B get the SAME resize, crop and flip, so every pixel of B still matches A."""
    ensure_own_code(student, "paired_jitter")
    small = _pattern_pair(64)
    full = _pattern_pair(256)
    cases = [(full, {}, seed) for seed in range(2)]
    cases += [(small, {"load_size": 80, "crop_size": 64}, seed) for seed in range(2, 24)]
    for (a, b), kwargs, seed in cases:
        a_out, b_out = _jitter(student, a, b, generator=_generator(seed), **kwargs)
        if a_out.shape != b_out.shape:
            fail(f"a has shape {tuple(a_out.shape)} but b has {tuple(b_out.shape)}",
                 "the same crop of both", WHERE_JITTER)
        expected = a_out[PERM]
        if torch.allclose(b_out, expected, atol=1e-4):
            continue
        if torch.allclose(b_out, expected.flip(-1), atol=1e-4):
            fail("A and B got the same crop but only one of them was mirrored",
                 "mirror both or neither, from ONE random draw: otherwise the pair is no "
                 "longer aligned and the L1 loss punishes correct outputs",
                 WHERE_JITTER + ": draw the flip once and apply it to a and b")
        fail(f"with generator seed {seed}, the pixels of b no longer line up with those of a",
             "the SAME crop window (i, j) and the SAME flip for a and b, drawn once: the pair "
             "must stay aligned pixel for pixel", WHERE_JITTER + ": draw i, j and the flip "
             "once, then apply them to both tensors")
    passed("paired_jitter: A and B get the same crop and the same flip")


def paired_jitter_seeded(student):
    """The random draws come from the generator passed in: the same seed gives the same pair,
    other seeds give other crops."""
    ensure_own_code(student, "paired_jitter")
    a, b = _pattern_pair(64)
    kwargs = {"load_size": 80, "crop_size": 64}
    first = _jitter(student, a, b, generator=_generator(7), **kwargs)
    torch.rand(5)  # move the global RNG: a function that ignores `generator` now differs
    second = _jitter(student, a, b, generator=_generator(7), **kwargs)
    if not all(torch.equal(x, y) for x, y in zip(first, second)):
        fail("two calls with generators seeded the same (7) gave different results",
             "the same crop and flip for the same seed: draw with "
             "torch.randint(..., generator=generator) and torch.rand(1, generator=generator)",
             WHERE_JITTER + ": pass `generator=generator` to every random draw")
    others = [_jitter(student, a, b, generator=_generator(s), **kwargs)[0] for s in range(8)]
    if all(torch.equal(o, others[0]) for o in others[1:]):
        fail("eight different generator seeds all gave the same crop and flip",
             "a random crop position (and flip) drawn from the generator",
             WHERE_JITTER + ": the random crop")
    passed("paired_jitter: draws from the generator it is given")


def paired_jitter_random(student):
    """The crop position and the flip are random: many positions, about half mirrored, none
    mirrored with flip=False."""
    ensure_own_code(student, "paired_jitter")
    # At load_size x load_size already, so the crop position can be read off the ramps.
    load, crop = 64, 48
    a, b = _pattern_pair(load)
    draws = [_where_is_crop(_jitter(student, a, b, load_size=load, crop_size=crop,
                                    generator=_generator(s))[0], load) for s in range(40)]
    rows = {i for i, _, _ in draws}
    cols = {j for _, j, _ in draws}
    flips = sum(f for _, _, f in draws)
    if len(rows) < 5 or len(cols) < 5:
        fail(f"over 40 seeds (load_size={load}, crop_size={crop}) the crop started at "
             f"{len(rows)} different rows and {len(cols)} different columns",
             "a random top row i and left column j, each in [0, load_size - crop_size] "
             f"({load - crop + 1} choices here, 31 for 286 -> 256)",
             WHERE_JITTER + ": the random crop")
    if all(i == j for i, j, _ in draws):
        fail("the crop's top row always equals its left column (i == j)",
             "i and j drawn separately", WHERE_JITTER + ": the random crop")
    if not 6 <= flips <= 34:
        fail(f"over 40 seeds {flips} results were mirrored",
             "about half of them (mirror with probability 1/2)", WHERE_JITTER + ": the flip")
    no_flip = [_where_is_crop(_jitter(student, a, b, load_size=load, crop_size=crop, flip=False,
                                      generator=_generator(s))[0], load)[2] for s in range(20)]
    if any(no_flip):
        fail(f"with flip=False, {sum(no_flip)} of 20 results were mirrored anyway",
             "no mirroring when flip=False (validation and test images)",
             WHERE_JITTER + ": `if flip and ...`")
    passed(f"paired_jitter: random crops ({len(rows)} rows x {len(cols)} columns seen) and "
           f"{flips}/40 mirrored")
