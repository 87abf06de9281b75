"""The notebook-1 checks (p2p_ref.course.checks.ex1) pass correct student code and catch realistic mistakes.

The "student" functions below are copies of p2p_ref.datasets.aligned written out here, as a student would
write them in the notebook; each wrong version changes one thing and must fail the check that
covers it, with a message that says what is wrong, and pass the checks it does not break. The
correct alternatives (other formulas, torchvision's and NumPy's tools, the official code's idioms,
other ways of drawing the random numbers) must pass every check.
"""

import random

import numpy as np
import pytest
import torch
import torchvision.transforms as T
import torchvision.transforms.functional as TF
from PIL import Image
from torchvision.transforms import InterpolationMode

import p2p_ref.datasets.aligned
from p2p_ref.course.checks import ex1 as check
from p2p_ref.course.checks.common import CheckFailed


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


def _crop(a, b, i, j, crop_size, mirror):
    """The same crop_size crop at (i, j) of both images, both mirrored when `mirror`: what every
    wrong jitter below shares with a right one (each differs in where i and j come from)."""
    a, b = a[:, i:i + crop_size, j:j + crop_size], b[:, i:i + crop_size, j:j + crop_size]
    return (a.flip(-1), b.flip(-1)) if mirror else (a, b)


def paired_jitter(a, b, load_size=286, crop_size=256, flip=True, generator=None):
    a, b = _resize(a, load_size), _resize(b, load_size)
    i = int(torch.randint(0, load_size - crop_size + 1, (1,), generator=generator))
    j = int(torch.randint(0, load_size - crop_size + 1, (1,), generator=generator))
    return _crop(a, b, i, j, crop_size, flip and torch.rand(1, generator=generator) < 0.5)


def paired_jitter_concat(a, b, load_size=286, crop_size=256, flip=True, generator=None):
    """Another correct way: jitter the channel-stacked pair once, then split it."""
    ab = torch.nn.functional.interpolate(torch.cat([a, b])[None], size=(load_size, load_size),
                                         mode="bilinear", align_corners=False)[0]
    i, j = torch.randint(0, load_size - crop_size + 1, (2,), generator=generator).tolist()
    ab = ab[:, i:i + crop_size, j:j + crop_size]
    if flip and torch.rand(1, generator=generator).item() < 0.5:
        ab = torch.flip(ab, dims=[2])
    return ab[:a.shape[0]], ab[a.shape[0]:]


# ------------------------------------------------- correct alternatives: other ways to write them

def split_ab_tensor(image):
    """Through a tensor: slice the width axis, back to PIL."""
    t = TF.to_tensor(image)
    w = t.shape[-1]
    if w % 2 == 1:
        raise ValueError(f"width {w} is odd, cannot split into A|B")
    return TF.to_pil_image(t[..., : w // 2]), TF.to_pil_image(t[..., w // 2:])


def split_ab_numpy(image):
    """Through NumPy: np.hsplit raises its own ValueError for odd widths, re-raised with the size."""
    arr = np.asarray(image)
    try:
        left, right = np.hsplit(arr, 2)
    except ValueError:
        raise ValueError(f"cannot split an image of size {image.size} into two halves") from None
    return Image.fromarray(left), Image.fromarray(right)


def normalize_shift_scale(t):
    return (t - 0.5) / 0.5


def denormalize_shift_scale(t):
    return torch.clamp(t * 0.5 + 0.5, min=0.0, max=1.0)


_to_signed = T.Normalize(mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5))  # the official code's idiom
_to_unsigned = T.Normalize(mean=(-1.0, -1.0, -1.0), std=(2.0, 2.0, 2.0))


def normalize_torchvision(t):
    return _to_signed(t)


def denormalize_torchvision(t):
    return _to_unsigned(t).clamp(0, 1)


def paired_jitter_get_params(a, b, load_size=286, crop_size=256, flip=True, generator=None):
    """torchvision's RandomCrop.get_params (torch's global generator) and TF.crop / TF.hflip."""
    a = TF.resize(a, [load_size, load_size], interpolation=InterpolationMode.BICUBIC,
                  antialias=True)
    b = TF.resize(b, [load_size, load_size], interpolation=InterpolationMode.BICUBIC,
                  antialias=True)
    i, j, h, w = T.RandomCrop.get_params(a, output_size=(crop_size, crop_size))
    a, b = TF.crop(a, i, j, h, w), TF.crop(b, i, j, h, w)
    if flip and torch.rand(1).item() > 0.5:
        a, b = TF.hflip(a), TF.hflip(b)
    return a, b


def get_params(load_size, crop_size):
    """The official code's base_dataset.get_params: Python's random, crop position and flip."""
    x = random.randint(0, np.maximum(0, load_size - crop_size))
    y = random.randint(0, np.maximum(0, load_size - crop_size))
    return {"crop_pos": (x, y), "flip": random.random() > 0.5}


def transform(img, params, load_size, crop_size, flip):
    """The official code's get_transform, for one tensor: resize, crop at params, maybe flip."""
    img = TF.resize(img, [load_size, load_size], interpolation=InterpolationMode.BICUBIC,
                    antialias=True)
    x, y = params["crop_pos"]
    img = img[:, y:y + crop_size, x:x + crop_size]
    if flip and params["flip"]:
        img = torch.flip(img, dims=[2])
    return img


def paired_jitter_official(a, b, load_size=286, crop_size=256, flip=True, generator=None):
    """One set of params, drawn before anything else (flip included), applied to both."""
    params = get_params(load_size, crop_size)
    return (transform(a, params, load_size, crop_size, flip),
            transform(b, params, load_size, crop_size, flip))


def paired_jitter_pil(a, b, load_size=286, crop_size=256, flip=True, generator=None):
    """Through PIL, as the official code works: NumPy draws, Image.resize / crop / transpose."""
    def pil(t):
        return Image.fromarray((t.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8))

    top, left = np.random.randint(0, load_size - crop_size + 1, size=2)
    mirror = flip and np.random.rand() < 0.5
    out = []
    for t in (a, b):
        img = pil(t).resize((load_size, load_size), Image.BICUBIC)
        img = img.crop((left, top, left + crop_size, top + crop_size))
        if mirror:
            img = img.transpose(Image.FLIP_LEFT_RIGHT)
        out.append(TF.to_tensor(img))
    return tuple(out)


def split_ab_chunk(image):
    """uint8 tensors cut with chunk, back to PIL exactly."""
    t = TF.pil_to_tensor(image)
    if t.shape[-1] % 2:
        raise ValueError(f"{image.width}x{image.height}: the width is odd")
    return tuple(TF.to_pil_image(half) for half in t.chunk(2, dim=-1))


def split_ab_np_split(image):
    """np.split refuses an odd width by itself; the error is raised again with the size."""
    try:
        left, right = np.split(np.asarray(image), 2, axis=1)
    except ValueError:
        raise ValueError(f"{image.width}x{image.height} has no middle column") from None
    return Image.fromarray(left), Image.fromarray(right)


def normalize_lerp(t):
    return torch.lerp(torch.full_like(t, -1.0), torch.ones_like(t), t)


def denormalize_hardtanh(t):
    """Clamped to [-1, 1] first, then rescaled: the same map."""
    return torch.nn.functional.hardtanh(t, -1.0, 1.0).add(1.0).div(2.0)


def paired_jitter_v2(a, b, load_size=286, crop_size=256, flip=True, generator=None):
    """One transforms.v2 pipeline called on both images at once: one set of random parameters
    (torch's global generator). tv_tensors.Image marks both as images; a plain second tensor
    would pass through v2 untouched."""
    from torchvision import tv_tensors
    from torchvision.transforms import v2

    steps = [v2.Resize((load_size, load_size), interpolation=InterpolationMode.BICUBIC,
                       antialias=True), v2.RandomCrop(crop_size)]
    if flip:
        steps.append(v2.RandomHorizontalFlip(p=0.5))
    a, b = v2.Compose(steps)(tv_tensors.Image(a), tv_tensors.Image(b))
    return a.as_subclass(torch.Tensor), b.as_subclass(torch.Tensor)


def paired_jitter_one_draw(a, b, load_size=286, crop_size=256, flip=True, generator=None):
    """Row, column and mirror from one torch.rand(3) of the generator; the pair as one batch."""
    u = torch.rand(3, generator=generator)
    n = load_size - crop_size + 1
    i, j = (u[:2] * n).long().clamp(max=n - 1).tolist()
    pair = torch.nn.functional.interpolate(torch.stack([a, b]), size=(load_size, load_size),
                                           mode="bicubic", align_corners=False, antialias=True)
    pair = pair[..., i:i + crop_size, j:j + crop_size]
    if flip and u[2] < 0.5:
        pair = pair.flip(-1)
    return pair[0], pair[1]


def paired_jitter_multinomial(a, b, load_size=286, crop_size=256, flip=True, generator=None):
    """Offsets as two choices of torch.multinomial, the mirror as randint(2), a nested helper."""
    n = load_size - crop_size + 1
    i, j = torch.multinomial(torch.ones(n), 2, replacement=True, generator=generator).tolist()
    mirror = flip and torch.randint(2, (), generator=generator).item() == 1

    def one(t):
        t = TF.crop(TF.resize(t, [load_size, load_size], antialias=True), i, j, crop_size, crop_size)
        return TF.hflip(t) if mirror else t

    return one(a), one(b)


CORRECT_SPLITS = [split_ab, split_ab_tensor, split_ab_numpy, split_ab_chunk, split_ab_np_split]
CORRECT_NORMALIZE = [(normalize, denormalize), (normalize_shift_scale, denormalize_shift_scale),
                     (normalize_torchvision, denormalize_torchvision),
                     (normalize_lerp, denormalize_hardtanh)]
CORRECT_JITTERS = [paired_jitter, paired_jitter_concat, paired_jitter_get_params,
                   paired_jitter_official, paired_jitter_pil, paired_jitter_v2,
                   paired_jitter_one_draw, paired_jitter_multinomial]


@pytest.mark.parametrize("fn", CORRECT_SPLITS, ids=lambda f: f.__name__)
def test_correct_split_ab_passes(fn, capsys):
    check.split_ab(fn)
    check.split_ab_odd_width(fn)
    assert capsys.readouterr().out.count("\N{CHECK MARK}") == 2


@pytest.mark.parametrize("fns", CORRECT_NORMALIZE, ids=lambda f: f[0].__name__)
def test_correct_normalize_passes(fns, capsys):
    norm, denorm = fns
    check.normalize(norm)
    check.denormalize(denorm)
    check.denormalize_clamps(denorm)
    check.round_trip(norm, denorm)
    assert capsys.readouterr().out.count("\N{CHECK MARK}") == 4


@pytest.mark.parametrize("fn", CORRECT_JITTERS, ids=lambda f: f.__name__)
def test_correct_paired_jitter_passes(fn, capsys):
    check.paired_jitter_shapes(fn)
    check.paired_jitter_aligned(fn)
    check.paired_jitter_seeded(fn)
    check.paired_jitter_random(fn)
    assert capsys.readouterr().out.count("\N{CHECK MARK}") == 4


def test_jitter_checks_leave_the_global_generators_as_they_were():
    torch.manual_seed(123)
    random.seed(123)
    np.random.seed(123)
    want = torch.rand(3), random.random(), np.random.rand()
    torch.manual_seed(123)
    random.seed(123)
    np.random.seed(123)
    check.paired_jitter_seeded(paired_jitter_official)
    check.paired_jitter_random(paired_jitter_get_params)
    check.paired_jitter_aligned(paired_jitter_pil)
    got = torch.rand(3), random.random(), np.random.rand()
    assert torch.equal(got[0], want[0]) and got[1:] == want[1:]


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
        message = failure(fn, getattr(p2p_ref.paper.data, name))
        assert "reference package" in message


def test_a_wrapper_around_the_reference_is_rejected():
    def jitter(a, b, load_size=286, crop_size=256, flip=True, generator=None):
        return p2p_ref.paper.data.paired_jitter(a, b, load_size, crop_size, flip, generator)

    from p2p_ref.paper.data import normalize as ref_normalize

    def norm(t):
        return ref_normalize(t)

    for fn in (check.paired_jitter_shapes, check.paired_jitter_aligned,
               check.paired_jitter_seeded, check.paired_jitter_random):
        assert "uses the reference implementation" in failure(fn, jitter)
    assert "p2p_ref.paper.data.normalize" in failure(check.normalize, norm)


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
        return _crop(a, b, i, j, crop_size, flip and torch.rand(1, generator=generator) < 0.5)

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


def test_torch_global_generator_is_accepted(capsys):
    # not passing `generator` on is fine: the checks seed torch's global generator too
    def global_rng(a, b, load_size=286, crop_size=256, flip=True, generator=None):
        return paired_jitter(a, b, load_size, crop_size, flip, generator=None)

    for fn in (check.paired_jitter_shapes, check.paired_jitter_aligned,
               check.paired_jitter_seeded, check.paired_jitter_random):
        fn(global_rng)
    assert capsys.readouterr().out.count("\N{CHECK MARK}") == 4


def test_unseeded_generator_made_inside():
    def fresh_rng(a, b, load_size=286, crop_size=256, flip=True, generator=None):
        rng = np.random.default_rng()  # new OS entropy on every call: not reproducible
        a, b = _resize(a, load_size), _resize(b, load_size)
        i, j = rng.integers(0, load_size - crop_size + 1, size=2)
        return _crop(a, b, i, j, crop_size, flip and rng.random() < 0.5)

    check.paired_jitter_shapes(fresh_rng)
    check.paired_jitter_aligned(fresh_rng)
    assert "seeded the same (7) gave different" in failure(check.paired_jitter_seeded, fresh_rng)


def test_same_offset_for_rows_and_columns():
    def diagonal(a, b, load_size=286, crop_size=256, flip=True, generator=None):
        a, b = _resize(a, load_size), _resize(b, load_size)
        i = int(torch.randint(0, load_size - crop_size + 1, (1,), generator=generator))
        return _crop(a, b, i, i, crop_size, flip and torch.rand(1, generator=generator) < 0.5)

    assert "i == j" in failure(check.paired_jitter_random, diagonal)


def test_fixed_centre_crop():
    def centre(a, b, load_size=286, crop_size=256, flip=True, generator=None):
        a, b = _resize(a, load_size), _resize(b, load_size)
        o = (load_size - crop_size) // 2
        return _crop(a, b, o, o, crop_size, flip and torch.rand(1, generator=generator) < 0.5)

    def centre_no_flip(a, b, load_size=286, crop_size=256, flip=True, generator=None):
        return centre(a, b, load_size, crop_size, False, generator)

    check.paired_jitter_aligned(centre)
    check.paired_jitter_seeded(centre)  # the flip still varies with the seed
    message = failure(check.paired_jitter_random, centre)
    assert "top rows were 0: 0, 1: 0, 2: 400, 3: 0, 4: 0" in message
    assert "never at row 0" in message
    assert "all gave the same" in failure(check.paired_jitter_seeded, centre_no_flip)


def test_never_flipped_and_always_flipped():
    def never(a, b, load_size=286, crop_size=256, flip=True, generator=None):
        return paired_jitter(a, b, load_size, crop_size, False, generator)

    def always(a, b, load_size=286, crop_size=256, flip=True, generator=None):
        a, b = paired_jitter(a, b, load_size, crop_size, False, generator)
        return a.flip(-1), b.flip(-1)

    assert "over 400 calls 0 results were mirrored" in failure(check.paired_jitter_random, never)
    assert "over 400 calls 400 results were mirrored" in failure(check.paired_jitter_random,
                                                                 always)


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


# ------------------------------------------------------------------ requirements added in the audit

def test_crop_offsets_off_by_one():
    def last_missing(a, b, load_size=286, crop_size=256, flip=True, generator=None):
        a, b = _resize(a, load_size), _resize(b, load_size)
        i, j = torch.randint(0, load_size - crop_size, (2,), generator=generator).tolist()
        return _crop(a, b, i, j, crop_size, flip and torch.rand(1, generator=generator) < 0.5)

    def last_missing_guarded(a, b, load_size=286, crop_size=256, flip=True, generator=None):
        if load_size == crop_size:
            return paired_jitter(a, b, load_size, crop_size, flip, generator)
        return last_missing(a, b, load_size, crop_size, flip, generator)

    # the plain off-by-one cannot draw when crop_size == load_size (validation images)
    message = failure(check.paired_jitter_shapes, last_missing)
    assert "raised RuntimeError" in message and "crop_size == load_size" in message
    for fn in (check.paired_jitter_shapes, check.paired_jitter_aligned,
               check.paired_jitter_seeded):
        fn(last_missing_guarded)
    message = failure(check.paired_jitter_random, last_missing_guarded)
    assert "never at row 4" in message and "from 0 to load_size - crop_size = 4" in message


def test_crop_offsets_not_uniform():
    def centre_heavy(a, b, load_size=286, crop_size=256, flip=True, generator=None):
        # the sum of two random halves: every offset possible, the middle ones far more often
        a, b = _resize(a, load_size), _resize(b, load_size)
        half = (load_size - crop_size) // 2
        i = int(torch.randint(0, half + 1, (1,), generator=generator)
                + torch.randint(0, half + 1, (1,), generator=generator))
        j = int(torch.randint(0, half + 1, (1,), generator=generator)
                + torch.randint(0, half + 1, (1,), generator=generator))
        return _crop(a, b, i, j, crop_size, flip and torch.rand(1, generator=generator) < 0.5)

    assert "about equally often" in failure(check.paired_jitter_random, centre_heavy)


def test_vertical_flip():
    def upside_down(a, b, load_size=286, crop_size=256, flip=True, generator=None):
        a, b = paired_jitter(a, b, load_size, crop_size, False, generator)
        if flip and torch.rand(1, generator=generator) < 0.5:
            a, b = a.flip(1), b.flip(1)
        return a, b

    check.paired_jitter_aligned(upside_down)
    message = failure(check.paired_jitter_random, upside_down)
    assert "mirrored top-bottom" in message and "left-right" in message


def test_flip_never_happens_with_randint_0_1():
    def randint_flip(a, b, load_size=286, crop_size=256, flip=True, generator=None):
        a, b = paired_jitter(a, b, load_size, crop_size, False, generator)
        if flip and torch.randint(0, 1, (1,), generator=generator).item() == 1:
            a, b = a.flip(-1), b.flip(-1)
        return a, b

    assert "0 results were mirrored" in failure(check.paired_jitter_random, randint_flip)


def test_unsqueeze_in_place_changes_the_inputs():
    def interpolating(a, b, load_size=286, crop_size=256, flip=True, generator=None):
        a.unsqueeze_(0), b.unsqueeze_(0)  # F.interpolate wants (N, C, H, W)
        a = torch.nn.functional.interpolate(a, size=(load_size, load_size), mode="bilinear")
        b = torch.nn.functional.interpolate(b, size=(load_size, load_size), mode="bilinear")
        return paired_jitter(a[0], b[0], load_size, crop_size, flip, generator)

    assert "changed its input tensors in place" in failure(check.paired_jitter_shapes,
                                                           interpolating)
    # only the check of that requirement fails: the others hand the function fresh copies
    check.paired_jitter_aligned(interpolating)
    check.paired_jitter_seeded(interpolating)
    check.paired_jitter_random(interpolating)


def test_denormalize_channels_last_for_imshow():
    def for_imshow(t):
        return ((t + 1) / 2).clamp(0, 1).permute(1, 2, 0)

    message = failure(check.denormalize, for_imshow)
    assert "turned a (3, 1, 4) torch.float32 tensor into (1, 4, 3)" in message


def test_normalize_for_one_image_only():
    def one_image(t):
        c, h, w = t.shape  # a batch (N, 3, H, W) does not unpack into three
        return (t.reshape(c, h * w) * 2 - 1).reshape(c, h, w)

    message = failure(check.normalize, one_image)
    assert "raised ValueError on a (2, 3, 8, 8) tensor" in message and "batch" in message


def test_normalize_with_the_wrong_torchvision_statistics():
    imagenet = T.Normalize(mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225))
    assert "maps 0, 0.25, 0.5, 1 to" in failure(check.normalize, lambda t: imagenet(t))


def test_transforms_v2_on_plain_tensors_leaves_b_behind():
    """transforms.v2 treats only the FIRST plain tensor of a call as an image and passes the
    others through: B keeps its size and is neither cropped nor mirrored."""
    from torchvision.transforms import v2

    def plain_v2(a, b, load_size=286, crop_size=256, flip=True, generator=None):
        steps = v2.Compose([v2.Resize((load_size, load_size), antialias=True),
                            v2.RandomCrop(crop_size), v2.RandomHorizontalFlip(p=0.5 if flip else 0.0)])
        return steps(a, b)

    assert "shape" in failure(check.paired_jitter_shapes, plain_v2)
    assert "no longer line up" in failure(check.paired_jitter_aligned, plain_v2)
