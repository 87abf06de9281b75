"""Checks for lesson 2, the U-Net generator (sec. 3.2.1, appendix 6.1.1).

This module checks the generator put together (exercise 5) and its receptive field (7); the
checks of its pieces (exercises 1 to 4) live in ex2_blocks, those of the experiment (U-Net against
encoder-decoder, sec. 4.3) in ex2_experiment; the notebook reaches them all from here.

The generator is compared with p2p_ref.paper.models.UNetGenerator by what it computes, not by its
attribute names: its forward pass is traced, the reference's weights are copied into its layers in
forward order, and the outputs are compared in eval mode and, with the same random draws, in train
mode (dropout and batch statistics, which the paper keeps at test time). When they differ, the
check names the first step that differs (layers, channels, the shapes at each level, dropout and
normalisation where they belong), then what the decoder layers were given (the skips).

One mistake costs one exercise: when the generator fails with the student's own pieces, the pieces
that fail their own checks (found by their signatures, ex2_compare.assembly) are replaced by the
reference's and the generator is checked again; if it then passes, it keeps its points and the
message names the piece at fault. `unet`, for lesson 5 (which trains the student's generator), is
strict: the student's own pieces or nothing.
"""

import re

import torch

from p2p_ref.paper import models as ref
from p2p_ref.course.checks.common import ensure_own_code, fail, passed
from p2p_ref.course.checks.ex2_compare import assembly, build, compare_module, randn
from p2p_ref.course.checks.ex2_blocks import (  # noqa: F401 - the pieces' checks (exercises 1 to 4), used by the notebook
    ENCODER_STEP, decoder_block, decoder_in_channels, encoder_block, encoder_shapes, norm_layer)
from p2p_ref.course.checks.ex2_experiment import prediction, validation_l1, validation_l1_more  # noqa: F401
from p2p_ref.course.checks.ex2_trace import trace
from p2p_ref.paper.receptive_field import receptive_field

# Parameter counts of the official "unet_256" / "unet_128" (ngf 64, 3 -> 3 channels).
PARAMETERS = {(8, "batch"): 54_413_955, (8, "instance"): 54_409_603, (7, "batch"): 41_828_995}

# --------------------------------------------------------------------------------------------
# exercise 5: the generator

def unet_steps(num_downs, ngf):
    """The name of each convolution of the U-Net, in forward order, with the paper's notes."""
    widths = [ngf * min(2 ** i, 8) for i in range(num_downs)]
    steps = []
    for i, w in enumerate(widths):
        role = "first" if i == 0 else "innermost" if i == num_downs - 1 else "middle"
        steps.append({"name": f"e{i + 1}" + (" (the bottleneck)" if role == "innermost" else ""), "role": role,
                      "channels": f": e{i + 1} has {w} filters (C{w} at ngf={ngf}; the encoder "
                                  f"C64-C128-C256-C512-C512-C512-C512-C512 at ngf=64)"})
    drop = (": \"the decoder's first three layers drop out\" (CD512-CD1024-CD1024 in appendix 6.1.1: "
            "the outputs at 2 x 2, 4 x 4 and 8 x 8 for a 256 x 256 input); the others do not")
    for j in range(num_downs):
        level = num_downs - 2 - j    # the encoder level this layer's output is joined with
        reads = (f"the bottleneck e{num_downs} alone ({widths[-1]} channels)" if j == 0 else
                 f"decoder layer {j}'s output and the skip e{level + 2}, {widths[level + 1]} channels each")
        steps.append({"name": f"decoder layer {j + 1}" + (" (the last)" if j == num_downs - 1 else ""),
                      "role": "last" if j == num_downs - 1 else "decoder", "dropout": drop,
                      "channels": f": it reads {reads} (the U-Net decoder CD512-CD1024-CD1024-C1024-C1024-"
                                  f"C512-C256-C128 counts the channels each layer reads after the skip "
                                  f"concatenation)"})
    return steps


def _close(a, b):
    return a.shape == b.shape and torch.allclose(a, b, atol=1e-4)


def _diagnose_skips(num_downs, where):
    """What each decoder convolution was given, against the reference's: the bottleneck first, then
    [upsampled, skip] with the encoder output of the same size."""
    def diagnose(mine, theirs):
        features = theirs.conv_out[:num_downs]
        for j in range(num_downs):
            k = num_downs + j
            if k >= len(mine.conv_in):
                return
            a, b = mine.conv_in[k], theirs.conv_in[k]
            if _close(a, b):
                continue
            name = f"decoder layer {j + 1}"
            if j == 0:
                fail(f"{name} does not read the bottleneck e{num_downs}",
                     f"the bottleneck e{num_downs} (after its ReLU), shape {list(b.shape)}", where)
            half = b.shape[1] // 2
            if a.shape == b.shape and _close(a, torch.cat([b[:, half:], b[:, :half]], 1)):
                fail(f"{name} reads [skip, upsampled]",
                     "[upsampled, skip]: the previous layer's output first, then the skip (the course's "
                     "order; the official code joins them the other way round)", where)
            if a.shape == b.shape and _close(a[:, :half], b[:, :half]):
                got = next((f"e{i + 1}" for i, f in enumerate(features)
                            if f.shape == a[:, half:].shape and _close(f.relu(), a[:, half:])), "no encoder output")
                fail(f"{name} gets {got} as its skip",
                     f"e{num_downs - j}, the encoder output with the same height and width (sec. 3.2.1: "
                     f"\"skip connections between each layer i and layer n - i\")", where)
            fail(f"{name} reads a tensor of shape {list(a.shape)} that is not the reference's",
                 f"decoder layer {j}'s output joined with e{num_downs - j}, shape {list(b.shape)}", where)
    return diagnose


def _unet_generator(UNetGenerator, ngf, num_downs, norm, size, in_channels, out_channels, dropout):
    size = size or 2 ** num_downs
    kwargs = {"in_channels": in_channels, "out_channels": out_channels, "num_downs": num_downs,
              "ngf": ngf, "norm": norm, "dropout": dropout}
    mine, theirs = build(UNetGenerator, (), kwargs, "UNetGenerator"), ref.UNetGenerator(**kwargs)
    label = f"UNetGenerator(num_downs={num_downs}, ngf={ngf}, norm={norm!r})"
    where = "UNetGenerator (its layers and its forward)"
    compare_module(mine, theirs, (randn(2, in_channels, size, size),), unet_steps(num_downs, ngf), label,
                   where, diagnose=_diagnose_skips(num_downs, "UNetGenerator.forward: the skips"))
    passed(f"{label} computes what the reference computes, level by level, in eval and in train mode")


def _part_checks(norm):
    return {"encoder": ("exercise 3", lambda cls: encoder_block(cls, norm)),
            "decoder": ("exercise 4", lambda cls: decoder_block(cls, norm)),
            "norm": ("exercise 3", norm_layer)}


def _graded_alone(UNetGenerator, label, run, norm="batch"):
    """The generator's check, charged to exercise 5 only: a mistake in the student's pieces
    (exercises 3 and 4) does not cost the generator's points (see ex2_compare.assembly)."""
    ensure_own_code(UNetGenerator, "UNetGenerator")
    assembly(UNetGenerator, label, run, _part_checks(norm))


def unet_generator(UNetGenerator, ngf=8, num_downs=8, norm="batch", size=None, in_channels=3,
                   out_channels=3, dropout=0.5):
    """The whole generator: with the reference's weights copied in forward order, the reference's
    outputs; when they differ, the first step that differs."""
    _graded_alone(UNetGenerator, f"UNetGenerator(num_downs={num_downs}, ngf={ngf}, norm={norm!r})",
                  lambda: _unet_generator(UNetGenerator, ngf, num_downs, norm, size, in_channels,
                                          out_channels, dropout), norm)


def _unet_parameters(UNetGenerator, num_downs, norm):
    expected = PARAMETERS[num_downs, norm]
    with torch.device("meta"):  # shapes only: no memory, no initialisation, instant
        mine = build(UNetGenerator, (), {"num_downs": num_downs, "norm": norm}, "UNetGenerator")
        theirs = ref.UNetGenerator(num_downs=num_downs, norm=norm)
    count = sum(p.numel() for p in mine.parameters() if p.requires_grad)
    if count == expected:
        passed(f"UNetGenerator(num_downs={num_downs}, norm={norm!r}) has {count:,} parameters")
        return
    where = "UNetGenerator.__init__"
    try:  # the first layer whose parameter count differs, in forward order (on the meta device: shapes only)
        with torch.device("meta"):
            x = torch.zeros(1, 3, 2 ** num_downs, 2 ** num_downs)
            pairs = zip(trace(mine.eval(), x).convs, trace(theirs.eval(), x).convs)
        steps = unet_steps(num_downs, 64)
        for k, (m, r) in enumerate(pairs):
            a, b = (sum(p.numel() for p in t.parameters()) for t in (m, r))
            if a != b:
                where = f"{steps[k]['name']}: its convolution has {a:,} parameters, the reference's {b:,}"
                break
    except Exception:  # noqa: BLE001 - the count alone still says what is wrong
        pass
    fail(f"UNetGenerator(num_downs={num_downs}, norm={norm!r}) has {count:,} parameters ({count - expected:+,})",
         f"{expected:,} (not the ~9M some tutorials quote; biases only where no BatchNorm follows)", where)


def unet_parameters(UNetGenerator, num_downs=8, norm="batch"):
    """The parameter count at ngf 64, a fixed number from the official code; name the first block off."""
    _graded_alone(UNetGenerator, f"UNetGenerator(num_downs={num_downs}, norm={norm!r})",
                  lambda: _unet_parameters(UNetGenerator, num_downs, norm), norm)


def unet_full_size(UNetGenerator):
    """unet_256 at the paper's size: 54,413,955 parameters and the reference's output at 256 x 256."""
    def run():
        _unet_parameters(UNetGenerator, 8, "batch")
        _unet_generator(UNetGenerator, 64, 8, "batch", 256, 3, 3, 0.5)
    _graded_alone(UNetGenerator, "UNetGenerator() at full size (ngf=64, 256 x 256)", run)


def _nearest(n, m):
    return sorted({max(m, n // m * m), (n // m + 1) * m})


def _unet_size_error(UNetGenerator):
    mine = build(UNetGenerator, (), {"num_downs": 5, "ngf": 4}, "UNetGenerator").eval()
    where = "UNetGenerator.forward: check x.shape[-2:] before the first encoder"
    for h, w, side, bad in ((100, 64, "height", 100), (160, 70, "width", 70)):
        near = " or ".join(map(str, _nearest(bad, 32)))
        try:
            with torch.no_grad():
                mine(randn(1, 3, h, w))
        except ValueError as error:
            message = str(error)
            if not re.search(rf"(?<!\d){bad}(?!\d)", message):
                fail(f"the ValueError for a {h} x {w} input says {message!r}, without the size {bad}",
                     f"a message that names the {side} {bad} and the nearest sizes that work ({near})", where)
            if not any(re.search(rf"(?<!\d){n}(?!\d)", message) for n in _nearest(bad, 32)):
                fail(f"the ValueError for a {h} x {w} input says {message!r}, without the nearest sizes "
                     f"that work", f"a message that also names {near}, the multiples of 2**5 = 32 "
                     f"nearest to {bad}, so the user knows what to resize to", where)
            continue
        except Exception as error:
            fail(f"a {h} x {w} input with num_downs=5 raised {type(error).__name__}: {str(error)[:120]}",
                 f"a ValueError that says the {side} {bad} is no multiple of 2**5 = 32 and names {near}",
                 where)
        fail(f"a {h} x {w} input with num_downs=5 gave no error", "ValueError", where)
    # sizes that are multiples of 32 must pass the size check, square or not
    results = {}
    for h, w in ((64, 96), (64, 64)):
        try:
            with torch.no_grad():
                results[h, w] = mine(randn(1, 3, h, w))
        except ValueError as error:
            fail(f"UNetGenerator(num_downs=5) refuses a {h} x {w} input: {error}",
                 "every side that is a multiple of 2**5 = 32 works, square or not", where)
        except Exception as error:
            results[h, w] = error
    works = {k: isinstance(v, torch.Tensor) and list(v.shape) == [1, 3, *k] for k, v in results.items()}
    if works[64, 64] and not works[64, 96]:
        got = results[64, 96]
        fail(f"UNetGenerator(num_downs=5) works on 64 x 64 but on a 64 x 96 input "
             + (f"raises {type(got).__name__}: {str(got)[:120]}" if isinstance(got, Exception)
                else f"returns {list(got.shape) if isinstance(got, torch.Tensor) else type(got).__name__}"),
             "[1, 3, 64, 96]: non-square inputs work when each side is a multiple of 32",
             "UNetGenerator.forward: use the height and the width, each on its own")
    note = "" if works[64, 64] else " (the forward itself does not work yet: see the U-Net checks above)"
    passed(f"UNetGenerator refuses sizes that are not multiples of 2 ** num_downs with a ValueError that "
           f"names the size and the nearest sizes that work{note}")


def unet_size_error(UNetGenerator):
    """forward raises a ValueError naming the size and the nearest sizes that work, for a side that is
    not a multiple of 2 ** num_downs; sizes that are multiples pass the check, square or not."""
    _graded_alone(UNetGenerator, "UNetGenerator's size check", lambda: _unet_size_error(UNetGenerator))


def unet(UNetGenerator):
    """For lesson 5, which trains the student's generator: the generator with the student's own
    blocks (no reference parts put in), at two depths, and its parameter count."""
    ensure_own_code(UNetGenerator, "UNetGenerator")
    _unet_generator(UNetGenerator, 8, 8, "batch", None, 3, 3, 0.5)
    _unet_generator(UNetGenerator, 4, 6, "batch", 64, 3, 3, 0.5)
    _unet_parameters(UNetGenerator, 8, "batch")


# --------------------------------------------------------------------------------------------
# exercise 6: depth and receptive field

def encoder_field(encoder_field):
    """encoder_field(num_downs) -> the receptive field side of the bottleneck (k4 s2 convs)."""
    ensure_own_code(encoder_field, "encoder_field")
    for n in range(1, 11):
        expected = receptive_field([(4, 2, 1)] * n).size
        try:
            got = encoder_field(n)
        except Exception as error:
            fail(f"encoder_field({n}) raised {type(error).__name__}: {error}", "a number", "encoder_field")
        if got != expected:
            fail(f"encoder_field({n}) = {got}",
                 f"{expected}, the side of the field of {n} stacked 4 x 4 stride-2 convs",
                 "encoder_field: in r = 1 + sum_l (k_l - 1) * prod_{i<l} s_i put k = 4 and s = 2, write "
                 "out r for n = 1, 2, 3 and sum the series in closed form")
    passed("encoder_field: r = 3 * 2^n - 2, so each level doubles the field")


def encoder_fields(fields):
    """fields = {num_downs: receptive field of the encoder stack} for num_downs 5 ... 8."""
    try:
        got = {int(k): int(v) for k, v in dict(fields).items()}
    except Exception as error:
        fail(f"`fields` cannot be read as {{num_downs: field}}: {type(error).__name__}: {error}",
             "a dict {5: ..., 6: ..., 7: ..., 8: ...} of whole numbers", "the cell that fills `fields`")
    where = "the cell that fills `fields`: measure each depth with receptive_field on a U-Net of that depth"
    if sorted(got) != [5, 6, 7, 8]:
        fail(f"`fields` has the keys {sorted(got)}", "the keys 5, 6, 7, 8 (num_downs)", where)
    for n in range(5, 9):
        expected = receptive_field([(4, 2, 1)] * n).size
        if got[n] != expected:
            fail(f"fields[{n}] = {got[n]}", f"{expected}, the measured field of {n} encoder levels", where)
    passed("the bottleneck of unet_256 (num_downs 8) sees 766 x 766 pixels: more than the whole image")
