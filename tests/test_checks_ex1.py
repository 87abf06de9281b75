"""The notebook-1 checks (p2p_ref.checks.ex1) pass correct student code and catch realistic mistakes.

The "student" functions below are copies of p2p_ref.data written out here, as a student would
write them in the notebook; each wrong version changes one thing and must fail the check that
covers it, with a message that says what is wrong, and pass the checks it does not break.
"""

import pytest
import torch
import torchvision.transforms.functional as TF
from torchvision.transforms import InterpolationMode

import p2p_ref.data
from p2p_ref.checks import ex1 as check
from p2p_ref.checks.common import CheckFailed


# ---------------------------------------------------------------- correct student solutions

def split_ab(image):
    w, h = image.size
    if w % 2:
        raise ValueError(f"the image is {w}x{h}: an A|B pair needs an even width")
    return image.crop((0, 0, w // 2, h)), image.crop((w // 2, 0, w, h))


def normalize(t):
    return t * 2 - 1


def denormalize(t):
    return ((t + 1) / 2).clamp(0, 1)


def _resize(t, size):
    return TF.resize(t, [size, size], interpolation=InterpolationMode.BICUBIC, antialias=True)


def paired_jitter(a, b, load_size=286, crop_size=256, flip=True, generator=None):
    a, b = _resize(a, load_size), _resize(b, load_size)
    i = int(torch.randint(0, load_size - crop_size + 1, (1,), generator=generator))
    j = int(torch.randint(0, load_size - crop_size + 1, (1,), generator=generator))
    a = a[:, i:i + crop_size, j:j + crop_size]
    b = b[:, i:i + crop_size, j:j + crop_size]
    if flip and torch.rand(1, generator=generator) < 0.5:
        a, b = a.flip(-1), b.flip(-1)
    return a, b


def paired_jitter_concat(a, b, load_size=286, crop_size=256, flip=True, generator=None):
    """Another correct way: jitter the channel-stacked pair once, then split it."""
    ab = torch.nn.functional.interpolate(torch.cat([a, b])[None], size=(load_size, load_size),
                                         mode="bilinear", align_corners=False)[0]
    i, j = torch.randint(0, load_size - crop_size + 1, (2,), generator=generator).tolist()
    ab = ab[:, i:i + crop_size, j:j + crop_size]
    if flip and torch.rand(1, generator=generator).item() < 0.5:
        ab = torch.flip(ab, dims=[2])
    return ab[:a.shape[0]], ab[a.shape[0]:]


def test_correct_solutions_pass(capsys):
    check.split_ab(split_ab)
    check.split_ab_odd_width(split_ab)
    check.normalize(normalize)
    check.denormalize(denormalize)
    check.denormalize_clamps(denormalize)
    check.round_trip(normalize, denormalize)
    for jitter in (paired_jitter, paired_jitter_concat):
        check.paired_jitter_shapes(jitter)
        check.paired_jitter_aligned(jitter)
        check.paired_jitter_seeded(jitter)
        check.paired_jitter_random(jitter)
    assert capsys.readouterr().out.count("\N{CHECK MARK}") == 14


def failure(check_fn, *student):
    with pytest.raises(CheckFailed) as info:
        check_fn(*student)
    message = str(info.value)
    assert "What is wrong" in message and "Expected" in message and "Where to look" in message
    return message


# ------------------------------------------------------------------------ using the reference

def test_the_reference_itself_is_rejected():
    for fn, name in ((check.split_ab, "split_ab"), (check.normalize, "normalize"),
                     (check.denormalize, "denormalize"),
                     (check.paired_jitter_aligned, "paired_jitter")):
        message = failure(fn, getattr(p2p_ref.data, name))
        assert "reference package" in message


def test_a_wrapper_around_the_reference_is_rejected():
    def jitter(a, b, load_size=286, crop_size=256, flip=True, generator=None):
        return p2p_ref.data.paired_jitter(a, b, load_size, crop_size, flip, generator)

    from p2p_ref.data import normalize as ref_normalize

    def norm(t):
        return ref_normalize(t)

    for fn in (check.paired_jitter_shapes, check.paired_jitter_aligned,
               check.paired_jitter_seeded, check.paired_jitter_random):
        assert "uses the reference implementation" in failure(fn, jitter)
    assert "p2p_ref.data.normalize" in failure(check.normalize, norm)


# --------------------------------------------------------------------------------- split_ab

def test_split_ab_swapped_halves():
    def swapped(image):
        w, h = image.size
        return image.crop((w // 2, 0, w, h)), image.crop((0, 0, w // 2, h))

    assert "swapped" in failure(check.split_ab, swapped)


def test_split_ab_cut_along_the_height():
    def by_height(image):
        w, h = image.size
        return image.crop((0, 0, w, h // 2)), image.crop((0, h // 2, w, h))

    assert "each half is 256x256" in failure(check.split_ab, by_height)


def test_split_ab_returning_arrays():
    import numpy as np

    def as_arrays(image):
        x = np.asarray(image)
        return x[:, : x.shape[1] // 2], x[:, x.shape[1] // 2:]

    assert "not a PIL image" in failure(check.split_ab, as_arrays)


def test_split_ab_without_the_odd_width_error():
    def no_check(image):
        w, h = image.size
        return image.crop((0, 0, w // 2, h)), image.crop((w // 2, 0, w, h))

    check.split_ab(no_check)  # even widths are fine
    assert "split without an error" in failure(check.split_ab_odd_width, no_check)


def test_split_ab_error_without_the_size():
    def vague(image):
        if image.size[0] % 2:
            raise ValueError("bad image")
        return split_ab(image)

    assert "does not name the width" in failure(check.split_ab_odd_width, vague)


def test_split_ab_wrong_exception_type():
    def asserting(image):
        assert image.size[0] % 2 == 0, f"odd width {image.size[0]}"
        return split_ab(image)

    assert "AssertionError" in failure(check.split_ab_odd_width, asserting)


# ------------------------------------------------------------------- normalize / denormalize

def test_normalize_not_rescaled():
    message = failure(check.normalize, lambda t: t.clone())
    assert "maps 0, 0.25, 0.5, 1 to 0, 0.25, 0.5, 1" in message
    assert "-1, -0.5, 0, 1" in message


def test_normalize_only_shifted():
    assert "to -0.5, -0.25, 0, 0.5" in failure(check.normalize, lambda t: t - 0.5)


def test_normalize_in_place():
    def in_place(t):
        return t.mul_(2).sub_(1)

    assert "in place" in failure(check.normalize, in_place)


def test_denormalize_wrong_formula():
    def wrong(t):
        return (t / 2 + 1).clamp(0, 1)

    assert "(t + 1) / 2" in failure(check.denormalize, wrong)


def test_denormalize_without_clamp():
    def no_clamp(t):
        return (t + 1) / 2

    check.denormalize(no_clamp)  # right on [-1, 1] ...
    check.round_trip(normalize, no_clamp)
    message = failure(check.denormalize_clamps, no_clamp)  # ... but not outside it
    assert "0, 0, 1, 1" in message and "clamp" in message


def test_round_trip_catches_a_mismatched_pair():
    def half(t):
        return t / 2 + 0.5

    def other(t):
        return t * 2 - 1 + 0.1

    assert "undo each other" in failure(check.round_trip, other, half)


# ---------------------------------------------------------------------------- paired_jitter

def test_independent_crops_for_a_and_b():
    def independent(a, b, load_size=286, crop_size=256, flip=True, generator=None):
        a, b = _resize(a, load_size), _resize(b, load_size)
        n = load_size - crop_size + 1
        i, j = (int(torch.randint(0, n, (1,), generator=generator)) for _ in range(2))
        k, m = (int(torch.randint(0, n, (1,), generator=generator)) for _ in range(2))
        a = a[:, i:i + crop_size, j:j + crop_size]
        b = b[:, k:k + crop_size, m:m + crop_size]
        if flip and torch.rand(1, generator=generator) < 0.5:
            a, b = a.flip(-1), b.flip(-1)
        return a, b

    check.paired_jitter_shapes(independent)
    check.paired_jitter_seeded(independent)
    check.paired_jitter_random(independent)
    message = failure(check.paired_jitter_aligned, independent)
    assert "no longer line up" in message and "SAME crop" in message


def test_flip_only_a():
    def flip_a(a, b, load_size=286, crop_size=256, flip=True, generator=None):
        a, b = paired_jitter(a, b, load_size, crop_size, flip=False, generator=generator)
        if flip and torch.rand(1, generator=generator) < 0.5:
            a = a.flip(-1)
        return a, b

    check.paired_jitter_shapes(flip_a)
    check.paired_jitter_random(flip_a)
    assert "only one of them was mirrored" in failure(check.paired_jitter_aligned, flip_a)


def test_separate_flip_draws_for_a_and_b():
    def two_flips(a, b, load_size=286, crop_size=256, flip=True, generator=None):
        a, b = paired_jitter(a, b, load_size, crop_size, flip=False, generator=generator)
        if flip and torch.rand(1, generator=generator) < 0.5:
            a = a.flip(-1)
        if flip and torch.rand(1, generator=generator) < 0.5:
            b = b.flip(-1)
        return a, b

    assert "only one of them was mirrored" in failure(check.paired_jitter_aligned, two_flips)


def test_no_resize():
    def crop_only(a, b, load_size=286, crop_size=256, flip=True, generator=None):
        h, w = a.shape[-2:]
        i = int(torch.randint(0, h - crop_size + 1, (1,), generator=generator))
        j = int(torch.randint(0, w - crop_size + 1, (1,), generator=generator))
        a, b = a[:, i:i + crop_size, j:j + crop_size], b[:, i:i + crop_size, j:j + crop_size]
        if flip and torch.rand(1, generator=generator) < 0.5:
            a, b = a.flip(-1), b.flip(-1)
        return a, b

    check.paired_jitter_aligned(crop_only)
    check.paired_jitter_random(crop_only)  # its input is already 286 x 286
    assert "resize" in failure(check.paired_jitter_shapes, crop_only)


def test_channels_last_output():
    def channels_last(a, b, load_size=286, crop_size=256, flip=True, generator=None):
        a, b = paired_jitter(a, b, load_size, crop_size, flip, generator)
        return a.permute(1, 2, 0), b.permute(1, 2, 0)

    assert "has shape (256, 256, 3)" in failure(check.paired_jitter_shapes, channels_last)


def test_crop_size_ignored():
    def fixed(a, b, load_size=286, crop_size=256, flip=True, generator=None):
        return paired_jitter(a, b, 286, 256, flip, generator)

    assert "(3, 64, 64)" in failure(check.paired_jitter_shapes, fixed)


def test_generator_ignored():
    def global_rng(a, b, load_size=286, crop_size=256, flip=True, generator=None):
        return paired_jitter(a, b, load_size, crop_size, flip, generator=None)

    check.paired_jitter_shapes(global_rng)
    check.paired_jitter_aligned(global_rng)
    check.paired_jitter_random(global_rng)
    assert "seeded the same" in failure(check.paired_jitter_seeded, global_rng)


def test_same_offset_for_rows_and_columns():
    def diagonal(a, b, load_size=286, crop_size=256, flip=True, generator=None):
        a, b = _resize(a, load_size), _resize(b, load_size)
        i = int(torch.randint(0, load_size - crop_size + 1, (1,), generator=generator))
        a, b = a[:, i:i + crop_size, i:i + crop_size], b[:, i:i + crop_size, i:i + crop_size]
        if flip and torch.rand(1, generator=generator) < 0.5:
            a, b = a.flip(-1), b.flip(-1)
        return a, b

    assert "i == j" in failure(check.paired_jitter_random, diagonal)


def test_fixed_centre_crop():
    def centre(a, b, load_size=286, crop_size=256, flip=True, generator=None):
        a, b = _resize(a, load_size), _resize(b, load_size)
        o = (load_size - crop_size) // 2
        a, b = a[:, o:o + crop_size, o:o + crop_size], b[:, o:o + crop_size, o:o + crop_size]
        if flip and torch.rand(1, generator=generator) < 0.5:
            a, b = a.flip(-1), b.flip(-1)
        return a, b

    def centre_no_flip(a, b, load_size=286, crop_size=256, flip=True, generator=None):
        return centre(a, b, load_size, crop_size, False, generator)

    check.paired_jitter_aligned(centre)
    check.paired_jitter_seeded(centre)  # the flip still varies with the seed
    assert "1 different rows and 1 different columns" in failure(check.paired_jitter_random,
                                                                 centre)
    assert "all gave the same" in failure(check.paired_jitter_seeded, centre_no_flip)


def test_never_flipped_and_always_flipped():
    def never(a, b, load_size=286, crop_size=256, flip=True, generator=None):
        return paired_jitter(a, b, load_size, crop_size, False, generator)

    def always(a, b, load_size=286, crop_size=256, flip=True, generator=None):
        a, b = paired_jitter(a, b, load_size, crop_size, False, generator)
        return a.flip(-1), b.flip(-1)

    assert "0 results were mirrored" in failure(check.paired_jitter_random, never)
    assert "40 results were mirrored" in failure(check.paired_jitter_random, always)


def test_flip_argument_ignored():
    def flips_anyway(a, b, load_size=286, crop_size=256, flip=True, generator=None):
        return paired_jitter(a, b, load_size, crop_size, True, generator)

    check.paired_jitter_aligned(flips_anyway)
    assert "flip=False" in failure(check.paired_jitter_random, flips_anyway)


def test_jitter_in_place_and_wrong_return():
    def in_place(a, b, load_size=286, crop_size=256, flip=True, generator=None):
        a2, b2 = paired_jitter(a, b, load_size, crop_size, flip, generator)
        a.zero_()
        return a2, b2

    def one_tensor(a, b, load_size=286, crop_size=256, flip=True, generator=None):
        return torch.cat(paired_jitter(a, b, load_size, crop_size, flip, generator))

    assert "in place" in failure(check.paired_jitter_shapes, in_place)
    assert "not a pair" in failure(check.paired_jitter_shapes, one_tensor)


def test_missing_keyword_argument():
    def no_generator(a, b, load_size=286, crop_size=256, flip=True):
        return paired_jitter(a, b, load_size, crop_size, flip)

    assert "signature" in failure(check.paired_jitter_shapes, no_generator)
