"""Checks for lesson 2's pieces of the U-Net (sec. 3.2.1, appendix 6.1.1): the encoder's shapes,
the decoder's channels (exercises 1 and 2), norm_layer, EncoderBlock and DecoderBlock (3 and 4).

The block checks build the student's block next to p2p_ref.paper.models' with the same
arguments, copy the reference's weights into it in forward order and compare what it computes, in
eval and in train mode; on a difference they name the first layer that differs, whatever the
block's layout (p2p_ref.course.checks.ex2_compare.compare_module). A DecoderBlock that fails with
the student's norm function is checked again with the reference's in its place. The notebook
reaches these checks through ex2 (`check.encoder_block`, ...).
"""

import torch
from torch import nn

from p2p_ref.paper import models as ref
from p2p_ref.course.checks.common import ensure_own_code, fail, passed
from p2p_ref.course.checks.ex2_compare import assembly, build, call, compare_module, compare_output, randn

ENCODER_STEP = "Ck of appendix 6.1.1: leaky ReLU (slope 0.2), 4 x 4 convolution with stride 2, BatchNorm"
DECODER_STEP = "CDk / Ck of appendix 6.1.1: ReLU, 4 x 4 transposed convolution with stride 2, BatchNorm [, Dropout], then the skip"


# --------------------------------------------------------------------------------------------
# exercises 1 and 2: shapes and channels

def encoder_shapes(encoder_shapes):
    """encoder_shapes(size, num_downs, ngf) -> [(C, H, W) of e1, ..., e_n]."""
    ensure_own_code(encoder_shapes, "encoder_shapes")
    for size, num_downs, ngf in ((256, 8, 64), (128, 7, 64), (256, 8, 32), (512, 6, 16)):
        widths = [ngf * min(2 ** i, 8) for i in range(num_downs)]
        expected = [(w, size // 2 ** (i + 1), size // 2 ** (i + 1)) for i, w in enumerate(widths)]
        try:
            got = [tuple(int(v) for v in s) for s in encoder_shapes(size, num_downs, ngf)]
        except Exception as error:
            fail(f"encoder_shapes({size}, {num_downs}, {ngf}) raised {type(error).__name__}: {error}",
                 "a list of (channels, height, width) tuples", "encoder_shapes")
        if got != expected:
            first = next((i for i, (a, b) in enumerate(zip(got, expected)) if a != b), min(len(got), len(expected)))
            fail(f"encoder_shapes({size}, {num_downs}, {ngf}) gives {len(got)} shapes; e{first + 1} is "
                 f"{got[first] if first < len(got) else 'missing'}",
                 f"e{first + 1} = {expected[first]}; all: {expected}",
                 "encoder_shapes: each step halves H and W; the channels double from ngf up to 8 * ngf")
    passed("encoder_shapes: C64-C128-C256-C512-C512-C512-C512-C512 down to 1 x 1")


def decoder_in_channels(decoder_in_channels):
    """decoder_in_channels(num_downs, ngf) -> input channels of decoders[0], ..., decoders[-1]."""
    ensure_own_code(decoder_in_channels, "decoder_in_channels")
    for num_downs, ngf in ((8, 64), (7, 64), (8, 32), (5, 16)):
        widths = [ngf * min(2 ** i, 8) for i in range(num_downs)]
        expected = [widths[-1]] + [2 * w for w in reversed(widths[:-1])]
        try:
            got = [int(c) for c in decoder_in_channels(num_downs, ngf)]
        except Exception as error:
            fail(f"decoder_in_channels({num_downs}, {ngf}) raised {type(error).__name__}: {error}",
                 "a list of channel numbers", "decoder_in_channels")
        if got != expected:
            fail(f"decoder_in_channels({num_downs}, {ngf}) = {got}", f"{expected}",
                 "decoder_in_channels: decoders[0] reads the bottleneck alone; every later decoder reads "
                 "the previous decoder's output concatenated with its skip, so twice its width")
    passed("decoder_in_channels: the skips double every decoder input after the bottleneck "
           "(the paper's U-Net decoder CD512-CD1024-CD1024-C1024-C1024-C512-C256-C128)")


# --------------------------------------------------------------------------------------------
# exercises 3 and 4: norm_layer and the blocks

def norm_layer(norm_layer):
    """norm_layer(norm, channels): BatchNorm2d / InstanceNorm2d with their defaults / Identity, and a
    ValueError that names the value and the three choices for anything else."""
    ensure_own_code(norm_layer, "norm_layer")
    where = "norm_layer"
    for norm, kind, affine in (("batch", nn.BatchNorm2d, True), ("instance", nn.InstanceNorm2d, False)):
        try:
            layer = norm_layer(norm, 16)
        except Exception as error:
            fail(f"norm_layer({norm!r}, 16) raised {type(error).__name__}: {error}", f"nn.{kind.__name__}(16)", where)
        if not isinstance(layer, kind):
            fail(f"norm_layer({norm!r}, 16) returns {type(layer).__name__}", f"nn.{kind.__name__}(16)", where)
        if layer.num_features != 16:
            fail(f"norm_layer({norm!r}, 16) has {layer.num_features} features", "16: one per channel", where)
        if layer.affine != affine or layer.track_running_stats != affine:
            fail(f"norm_layer({norm!r}, 16) has affine={layer.affine}, track_running_stats="
                 f"{layer.track_running_stats}",
                 f"nn.{kind.__name__}(16) with its defaults: affine={affine}, track_running_stats={affine}"
                 + ("" if affine else " (the paper's alternative has no learned scale and shift)"), where)
    try:
        layer = norm_layer("none", 16)
    except Exception as error:
        fail(f"norm_layer('none', 16) raised {type(error).__name__}: {error}", "nn.Identity()", where)
    x = randn(2, 16, 4, 4)
    if not isinstance(layer, nn.Module) or list(layer.parameters()) or not torch.equal(layer(x), x):
        fail(f"norm_layer('none', 16) returns {type(layer).__name__}",
             "nn.Identity(): a module that passes its input through unchanged", where)
    try:
        norm_layer("group", 16)
    except ValueError as error:
        missing = [w for w in ("group", "batch", "instance", "none") if w not in str(error)]
        if missing:
            fail(f"the ValueError for norm='group' says {str(error)!r}, without {', '.join(map(repr, missing))}",
                 "a message that names the value ('group') and the three choices 'batch', 'instance', 'none'",
                 where)
    except Exception as error:
        fail(f"norm_layer('group', 16) raised {type(error).__name__}: {error}",
             "a ValueError that names the value and the three choices", where)
    else:
        fail("norm_layer('group', 16) raised no error",
             "a ValueError that names the value and the three choices", where)
    passed("norm_layer: BatchNorm2d, InstanceNorm2d (no affine), Identity; other values are refused")


def _encoder_block(EncoderBlock, norm):
    cases = (("a middle block (e2 ... e7)", 16, 32, {}, 16, "middle"),
             ("the outermost block e1 (outermost=True)", 3, 16, {"outermost": True}, 32, "first"),
             ("the bottleneck e8 (innermost=True)", 32, 32, {"innermost": True}, 2, "innermost"))
    for label, cin, cout, flags, size, role in cases:
        kwargs = {"norm": norm, **flags}
        mine = build(EncoderBlock, (cin, cout), kwargs, "EncoderBlock")
        theirs = ref.EncoderBlock(cin, cout, **kwargs)
        name = f"EncoderBlock for {label}"
        compare_module(mine, theirs, (randn(2, cin, size, size),), [{"name": name, "role": role}], name,
                       f"EncoderBlock ({ENCODER_STEP})")
    passed(f"EncoderBlock (norm={norm!r}) computes what the reference computes, in eval and in train mode")


def encoder_block(EncoderBlock, norm="batch"):
    """EncoderBlock(in_channels, out_channels, norm, outermost, innermost) against the reference."""
    ensure_own_code(EncoderBlock, "EncoderBlock")
    _encoder_block(EncoderBlock, norm)


_DROPOUT_NOTE = ": Dropout(dropout) after the norm exactly when dropout > 0, never in the outermost block"


def _skip_joined(mine, theirs, x, skip, name):
    """forward(x, skip): the block's output, then the skip, along the channels."""
    mine.eval(), theirs.eval()
    with torch.no_grad():
        y, joined = theirs(x), theirs(x, skip)
    out = call(mine, (x, skip), name, "DecoderBlock.forward")
    where = "DecoderBlock.forward with a skip"
    if out.shape == y.shape:
        how = "adds the skip" if torch.allclose(out, y + skip, atol=1e-5) else "ignores the skip"
        fail(f"{name} {how}: forward(x, skip) returns {list(out.shape)}, the block's output alone",
             f"{list(joined.shape)}: the block's output and the skip concatenated along the channels "
             f"(\"Each skip connection simply concatenates all channels\", sec. 3.2.1)", where)
    if out.shape == joined.shape and torch.allclose(out, torch.cat([skip, y], 1), atol=1e-5):
        fail(f"{name} puts the skip first in the concatenation",
             "[upsampled, skip]: the block's output first, then the skip (the course's order; the official "
             "code joins [skip, upsampled], so its weights would need their halves swapped)", where)
    compare_output(out, joined, f"{name} with a skip", where)


def _decoder_block(DecoderBlock, norm):
    cases = (("a decoder block with dropout=0.5", 32, 16, {"dropout": 0.5}, "decoder"),
             ("a decoder block with dropout=0.2", 32, 16, {"dropout": 0.2}, "decoder"),
             ("a decoder block with dropout=0.0", 32, 16, {"dropout": 0.0}, "decoder"),
             ("the outermost block (outermost=True)", 32, 3, {"outermost": True}, "last"))
    for label, cin, cout, flags, role in cases:
        kwargs = {"norm": norm, **flags}
        mine = build(DecoderBlock, (cin, cout), kwargs, "DecoderBlock")
        theirs = ref.DecoderBlock(cin, cout, **kwargs)
        name = f"DecoderBlock for {label}"
        x, skip = randn(2, cin, 4, 4), randn(2, 16, 8, 8, seed=1)
        compare_module(mine, theirs, (x,), [{"name": name, "role": role, "dropout": _DROPOUT_NOTE}],
                       f"{name} with skip=None", f"DecoderBlock ({DECODER_STEP})")
        if not flags.get("outermost"):
            _skip_joined(mine, theirs, x, skip, name)
    passed(f"DecoderBlock (norm={norm!r}) computes what the reference computes, with and without a skip")


def decoder_block(DecoderBlock, norm="batch"):
    """DecoderBlock(in_channels, out_channels, norm, dropout, outermost), forward(x, skip=None).
    A mistake in the norm function (exercise 3) is charged there: with the reference's in place of
    the student's, a right DecoderBlock keeps its points."""
    ensure_own_code(DecoderBlock, "DecoderBlock")
    assembly(DecoderBlock, f"DecoderBlock (norm={norm!r})", lambda: _decoder_block(DecoderBlock, norm),
             {"norm": ("exercise 3", norm_layer)})
