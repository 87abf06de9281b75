"""Checks for notebook 1's paired_jitter (appendix 6.2: resize to 286, random 256 crop, mirror).

paired_jitter is random, and correct solutions draw their random numbers in different ways (torch
with the given generator, torchvision's RandomCrop.get_params on torch's global generator,
Python's `random` as in the official code; one draw for i and j or two; the flip before or after
the crop). So it is checked by its properties, never by one random stream: output sizes, that A
and B got the same crop and the same flip (on a pattern pair whose halves are coupled), that
every valid crop offset comes up about equally often, that about half the results are mirrored
left-right (none with flip=False), and that seeded generators reproduce a result. Every check
that calls the student's jitter seeds torch's, Python's and NumPy's global generators as well as
the one it passes, and puts the global ones back afterwards. The notebook reaches these checks
as `check.paired_jitter_shapes`, ... on p2p_ref.course.checks.ex1.
"""

import contextlib
import inspect
import random

import numpy as np
import torch

from p2p_ref.course.checks.common import ensure_own_code, fail, passed

WHERE_JITTER = "your `paired_jitter` cell"

# The pattern pair: in A, channel 0 is a left-to-right ramp, channel 1 a top-to-bottom ramp and
# channel 2 random texture. B holds A's channels in another order, so B = A[PERM] before the
# jitter and, if A and B get the same resize, crop and flip, also after it. The ramps tell where
# the crop was taken (i, j) and whether it was mirrored.

PERM = [2, 0, 1]
SIGNATURE = ("paired_jitter(a, b, load_size=286, crop_size=256, flip=True, generator=None)")


def _pattern_pair(size, seed=0):
    ramp = torch.arange(size, dtype=torch.float32) / (size - 1)
    texture = torch.rand(size, size, generator=torch.Generator().manual_seed(seed))
    a = torch.stack([ramp.expand(size, size), ramp[:, None].expand(size, size), texture])
    return a, a[PERM].clone()


@contextlib.contextmanager
def _rngs_seeded(seed):
    """Seed torch's, Python's and NumPy's global generators for the block, then put their
    states back: a correct jitter may draw from any of them, and grading must be repeatable."""
    states = torch.get_rng_state(), random.getstate(), np.random.get_state()
    torch.manual_seed(seed)
    random.seed(seed)
    np.random.seed(seed)
    try:
        yield
    finally:
        torch.set_rng_state(states[0])
        random.setstate(states[1])
        np.random.set_state(states[2])


def _jitter(student, a, b, check_inputs=False, **kwargs):
    """The student's paired_jitter(a, b, **kwargs), called on copies of a and b (so a function
    that changes its inputs fails the one check that tests for it, paired_jitter_shapes, and
    nothing else). check_inputs: fail when the copies were changed in place."""
    a_in, b_in = a, b
    a, b = a.clone(), b.clone()
    call = ", ".join(f"{k}={v!r}" for k, v in kwargs.items() if k != "generator")
    try:
        inspect.signature(student).bind(a, b, **kwargs)
    except TypeError as e:
        fail(f"paired_jitter(a, b, {call}) cannot be called: {e}",
             f"the signature {SIGNATURE}", WHERE_JITTER)
    except ValueError:  # no signature to read (a builtin): just call it
        pass
    try:
        out = student(a, b, **kwargs)
    except Exception as e:  # noqa: BLE001  (the student's error, told in the course's words)
        load = kwargs.get("load_size", 286)
        same = kwargs.get("crop_size", 256) == load
        fail(f"paired_jitter(a, b, {call}) on two {tuple(a.shape)} tensors raised "
             f"{type(e).__name__}: {e}",
             "a jittered pair for any crop_size <= load_size" + (
                 " (here crop_size == load_size: one crop position, offset 0, as for "
                 "validation images)" if same else ""), WHERE_JITTER)
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        fail(f"paired_jitter returned {type(out).__name__}, not a pair",
             "a tuple (a, b) of two tensors", WHERE_JITTER + ": `return a, b`")
    if check_inputs and not (a.shape == a_in.shape and b.shape == b_in.shape
                             and torch.equal(a, a_in) and torch.equal(b, b_in)):
        fail("paired_jitter changed its input tensors in place",
             "new tensors; the inputs left as they were (avoid `unsqueeze_`, `clamp_`, "
             "`t[...] = ...` on a and b)", WHERE_JITTER)
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


def _upside_down(a_out):
    """The top-to-bottom ramp of the pattern A runs upwards: mirrored top-bottom."""
    y = a_out[1].mean(1)
    return bool(y[0] > y[-1])


def paired_jitter_shapes(student):
    """Both outputs are crop_size x crop_size with the input's channels, cut from a picture
    resized to load_size x load_size."""
    ensure_own_code(student, "paired_jitter")
    a, b = _pattern_pair(256)
    with _rngs_seeded(0):
        for kwargs, want in (({}, 256), ({"load_size": 96, "crop_size": 64}, 64),
                             ({"load_size": 80, "crop_size": 80, "flip": False}, 80)):
            for seed in range(2):
                out = _jitter(student, a, b, check_inputs=True, generator=_generator(seed),
                              **kwargs)
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
             f"image width", "about 50%: first resize to load_size x load_size, then "
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
        with _rngs_seeded(seed):
            a_out, b_out = _jitter(student, a, b, generator=_generator(seed), **kwargs)
        if a_out.shape != b_out.shape:
            fail(f"a has shape {tuple(a_out.shape)} but b has {tuple(b_out.shape)}",
                 "the same crop of both", WHERE_JITTER)
        expected = a_out[PERM]
        if torch.allclose(b_out, expected, atol=1e-4):
            continue
        if torch.allclose(b_out, expected.flip(-1), atol=1e-4):
            fail("A and B got the same crop but only one of them was mirrored",
                 "mirror both or neither, decided by ONE random draw: otherwise the pair is no "
                 "longer aligned and the L1 loss punishes correct outputs",
                 WHERE_JITTER + ": draw the flip once and apply it to a and b")
        fail(f"with seed {seed}, the pixels of b no longer line up with those of a",
             "the SAME crop window (i, j) and the SAME flip for a and b, drawn once: the pair "
             "must stay aligned pixel for pixel", WHERE_JITTER + ": draw i, j and the flip "
             "once, then apply them to both tensors")
    passed("paired_jitter: A and B get the same crop and the same flip")


def paired_jitter_seeded(student):
    """Seeded generators reproduce the jitter, and other seeds give other crops. The check
    seeds the generator it passes and torch's, Python's and NumPy's global ones, so draws from
    any of them are fine."""
    ensure_own_code(student, "paired_jitter")
    a, b = _pattern_pair(64)
    kwargs = {"load_size": 80, "crop_size": 64}
    results = []
    for _ in range(2):
        with _rngs_seeded(7):
            results.append(_jitter(student, a, b, generator=_generator(7), **kwargs))
    first, second = results
    if not all(torch.equal(x, y) for x, y in zip(first, second)):
        fail("two calls with every random number generator seeded the same (7) gave different "
             "results", "the same crop and flip for the same seeds: draw from `generator` "
             "(torch.randint(..., generator=generator)), or from torch's or Python's global "
             "generator, not from a generator made fresh inside the function",
             WHERE_JITTER + ": where the random numbers come from")
    others = []
    for s in range(8):
        with _rngs_seeded(s):
            others.append(_jitter(student, a, b, generator=_generator(s), **kwargs)[0])
    if all(torch.equal(o, others[0]) for o in others[1:]):
        fail("eight different seeds all gave the same crop and flip",
             "a random crop position (and flip), different from call to call",
             WHERE_JITTER + ": the random crop")
    passed("paired_jitter: seeded generators reproduce it")


def _counts(values, n):
    return [sum(v == k for v in values) for k in range(n)]


def paired_jitter_random(student):
    """The crop position is uniform over all valid offsets, rows and columns drawn separately;
    about half the results are mirrored left-right, none with flip=False."""
    ensure_own_code(student, "paired_jitter")
    # At load_size x load_size already, so the crop position can be read off the ramps.
    # 5 offsets per axis and 400 calls: about 80 crops per offset; a correct jitter lands
    # outside [40, 130] with a chance below 1e-6, a missing offset gives 0.
    load, crop, calls = 40, 36, 400
    n = load - crop + 1
    a, b = _pattern_pair(load)
    generator = _generator(0)
    draws = []
    with _rngs_seeded(0):
        for _ in range(calls):
            a_out = _jitter(student, a, b, load_size=load, crop_size=crop, generator=generator)[0]
            if _upside_down(a_out):
                fail("a result was mirrored top-bottom (the rows run backwards)",
                     "a left-right mirror only, as in the paper: reverse the width axis, the "
                     "last one of (C, H, W)", WHERE_JITTER + ": the flip (`t.flip(-1)`, "
                     "`torch.flip(t, dims=[2])` or `TF.hflip(t)`)")
            draws.append(_where_is_crop(a_out, load))
    rows, cols = _counts([i for i, _, _ in draws], n), _counts([j for _, j, _ in draws], n)
    outside = [(i, j) for i, j, _ in draws if not (0 <= i < n and 0 <= j < n)]
    if outside:
        fail(f"a {crop} x {crop} crop of a {load} x {load} image started at (row, column) "
             f"{outside[0]}", f"offsets in [0, load_size - crop_size] = [0, {n - 1}], so the "
             "crop lies inside the image", WHERE_JITTER + ": the random crop")
    for axis, counts in (("row", rows), ("column", cols)):
        if min(counts) < 40 or max(counts) > 130:
            seen = ", ".join(f"{k}: {c}" for k, c in enumerate(counts))
            never = [k for k, c in enumerate(counts) if c == 0]
            hint = (f" (never at {axis} {never[0]}: count the positions a {crop}-pixel window "
                    f"can start at in {load} pixels)") if never else ""
            fail(f"over {calls} calls (load_size={load}, crop_size={crop}) the crop's top "
                 f"{axis}s were {seen}{hint}",
                 f"every {axis} from 0 to load_size - crop_size = {n - 1} about equally often "
                 f"(about {calls // n} each; 31 choices for 286 -> 256)",
                 WHERE_JITTER + ": the random crop")
    if all(i == j for i, j, _ in draws):
        fail("the crop's top row always equals its left column (i == j)",
             "i and j drawn separately", WHERE_JITTER + ": the random crop")
    flips = sum(f for _, _, f in draws)
    if not 140 <= flips <= 260:
        fail(f"over {calls} calls {flips} results were mirrored",
             "about half of them (mirror with probability 1/2)", WHERE_JITTER + ": the flip")
    with _rngs_seeded(1):
        no_flip = [_where_is_crop(_jitter(student, a, b, load_size=load, crop_size=crop,
                                          flip=False, generator=generator)[0], load)[2]
                   for _ in range(20)]
    if any(no_flip):
        fail(f"with flip=False, {sum(no_flip)} of 20 results were mirrored anyway",
             "no mirroring when flip=False (validation and test images)",
             WHERE_JITTER + ": `if flip and ...`")
    passed(f"paired_jitter: every crop offset about equally often (rows {rows}, columns {cols}) "
           f"and {flips}/{calls} mirrored")
