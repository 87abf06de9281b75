"""Checks for lesson 2, the U-Net generator (sec. 3.2.1, appendix 6.1.1).

This module checks the generator put together (exercise 5) and its receptive field (6); the
checks of its pieces (exercises 1 to 4) live in ex2_blocks and are reached from here too.

The block and model checks build the student's module next to p2p_ref.paper.models with the same
arguments, compare the layers inside each `block` (activation, conv geometry and bias, norm,
dropout, Tanh), load the reference weights into the student's module and compare the outputs in
eval mode, block by block, so a failure names the first block that differs and how
(p2p_ref.course.checks.ex2_compare).

Names and layout are fixed on purpose: the reference weights are loaded by name
(`encoders.1.block.1.weight`, ...), so `encoders`, `decoders`, `block` and the order of the layers
in each block are part of the spec. Everything else is free: loops or recursion, in-place
activations, harmless extras (nn.Identity, Dropout(0)), keyword or positional arguments.

One mistake costs one exercise: when an assembled piece (DecoderBlock, UNetGenerator) fails with
the student's own parts, it is checked again with the reference parts put in their place; if it
then passes, it keeps its points and the message names the faulty part. `unet`, for lesson 5
(which trains the student's generator), is strict: the student's own blocks or nothing.
"""

import re

import torch
from torch import nn

from p2p_ref.paper import models as ref
from p2p_ref.course.checks.common import ensure_own_code, fail, passed
from p2p_ref.course.checks.ex2_compare import (NAMES_FIXED, assembly, build, call, compare_layers, compare_output,
                                        load_reference, randn)
from p2p_ref.course.checks.ex2_blocks import (  # noqa: F401 - the pieces' checks (exercises 1 to 4), used by the notebook
    ENCODER_STEP, decoder_block, decoder_in_channels, encoder_block, encoder_shapes, norm_layer)
from p2p_ref.paper.receptive_field import receptive_field

# Parameter counts of the official "unet_256" / "unet_128" (ngf 64, 3 -> 3 channels).
PARAMETERS = {(8, "batch"): 54_413_955, (8, "instance"): 54_409_603, (7, "batch"): 41_828_995}

# --------------------------------------------------------------------------------------------
# exercise 5: the generator

def _unet_hint(num_downs, widths):
    def hint(key):
        parts = key.split(".")
        if parts[0] != "decoders" or not key.endswith("block.1.weight"):
            return ""
        j = int(parts[1])
        if j == 0:
            return (f": check in_channels of the first decoder: its input is the bottleneck e{num_downs}, "
                    f"{widths[-1]} channels")
        level = num_downs - 1 - j  # decoders[j - 1]'s output and its skip e_(level + 1) share this width
        return (f": check in_channels of decoders[{j}]: its input is decoders[{j - 1}]'s output "
                f"({widths[level]} channels) joined with the skip e{level + 1} ({widths[level]} channels)")
    return hint


def _same(a, b):
    """Equal for the next decoder, which starts with a ReLU: in-place LeakyReLU(0.2, True) (the
    official code's idiom) turns a kept skip e into LeakyReLU(e), and ReLU(LeakyReLU(e)) = ReLU(e)."""
    return a is not None and b is not None and a.shape == b.shape and \
        torch.allclose(a.relu(), b.relu(), atol=1e-4)


def _which(tensor, features):
    for i, f in enumerate(features):
        if _same(tensor, f):
            return f"e{i + 1}"
    return "a tensor that is no encoder output" if tensor is not None else "no skip"


def _compare_unet_layers(mine, theirs, num_downs, dropout):
    """`encoders` and `decoders` are ModuleLists of num_downs blocks whose layers match the reference's."""
    for attr in ("encoders", "decoders"):
        blocks = getattr(mine, attr, None)
        if not isinstance(blocks, nn.ModuleList) or len(blocks) != num_downs:
            fail(f"UNetGenerator(num_downs={num_downs}).{attr} is {type(blocks).__name__}"
                 f"{f' of length {len(blocks)}' if isinstance(blocks, nn.ModuleList) else ''}",
                 f"`self.{attr}`, an nn.ModuleList of {num_downs} blocks ({NAMES_FIXED})",
                 "UNetGenerator.__init__")
    note = (f": in the paper only decoders[0], [1], [2] (outputs 2 x 2, 4 x 4, 8 x 8) have "
            f"Dropout({dropout}), the `dropout` argument")
    for i, (m, r) in enumerate(zip(mine.encoders, theirs.encoders)):
        compare_layers(m, r, f"encoders[{i}] (e{i + 1})", f"UNetGenerator.__init__ and EncoderBlock ({ENCODER_STEP})")
    for j, (m, r) in enumerate(zip(mine.decoders, theirs.decoders)):
        compare_layers(m, r, f"decoders[{j}]", "UNetGenerator.__init__ and DecoderBlock", dropout_note=note)


def _reference_steps(theirs, x, num_downs):
    """The reference, step by step: the encoder features e1 ... e_n, each decoder's (input, skip)
    and output, and the generated image."""
    with torch.no_grad():
        features, h = [], x
        for block in theirs.encoders:
            h = block(h)
            features.append(h)
        steps, outputs, h = [], [], features[-1]
        for j, block in enumerate(theirs.decoders):
            skip = features[num_downs - 2 - j] if j < num_downs - 1 else None
            steps.append((h, skip))
            h = block(h, skip)
            outputs.append(h)
    return features, steps, outputs, h


def _run_recording(mine, x):
    """mine(x), and the (input, skip) each decoder received; an exception is kept, not raised, so
    the diagnosis can use what the decoders received before the crash."""
    def record(module, args, kwargs):  # copies: an in-place ReLU in the block would change them
        skip = args[1] if len(args) > 1 else kwargs.get("skip")
        seen.append(tuple(t.clone() if isinstance(t, torch.Tensor) else t for t in (args[0], skip)))

    seen, out, error = [], None, None
    hooks = [block.register_forward_pre_hook(record, with_kwargs=True) for block in mine.decoders]
    try:
        with torch.no_grad():
            out = mine(x.clone())
    except Exception as e:  # diagnose from what the decoders received before the crash
        error = e
    finally:
        for hook in hooks:
            hook.remove()
    return out, seen, error


def _first_block_that_differs(mine, x, features, steps, outputs, num_downs):
    """Each of the student's blocks, given the reference's inputs, against the reference's outputs."""
    inputs = [x] + features[:-1]
    for i, block in enumerate(mine.encoders):
        name = f"encoders[{i}] (e{i + 1})"
        compare_output(call(block, (inputs[i],), name, "EncoderBlock.forward"), features[i], name,
                       "EncoderBlock.forward")
    for j, (block, (h, skip)) in enumerate(zip(mine.decoders, steps)):
        name = f"decoders[{j}]" + (f" (joined with e{num_downs - 1 - j})" if skip is not None else "")
        compare_output(call(block, (h, skip), name, "DecoderBlock.forward"), outputs[j], name,
                       "DecoderBlock.forward: torch.cat([y, skip], dim=1)", inputs=(h, skip))


def _check_unet_forward(seen, steps, features, num_downs, where):
    """What the student's forward fed each decoder, against the reference's (input, skip)."""
    for j, ((h, skip), (want_h, want_skip)) in enumerate(zip(seen, steps)):
        if want_skip is not None and skip is None:
            fail(f"your forward calls decoders[{j}] without a skip",
                 f"decoders[{j}](x, e{num_downs - 1 - j}), shape {list(want_skip.shape)}", where)
        if want_skip is not None and not _same(skip, want_skip):
            fail(f"your forward gives decoders[{j}] {_which(skip, features)} as its skip",
                 f"e{num_downs - 1 - j}, shape {list(want_skip.shape)}", where)
        if want_skip is None and skip is not None:
            fail(f"your forward gives the outermost decoders[{j}] a skip", "no skip: its output is the image", where)
        if not _same(h, want_h):
            fail(f"decoders[{j}] gets a wrong input ({list(h.shape)})",
                 "the bottleneck for decoders[0], else the previous decoder's output (with its skip)", where)


def _unet_generator(UNetGenerator, ngf, num_downs, norm, size, in_channels, out_channels, dropout):
    size = size or 2 ** num_downs
    kwargs = {"in_channels": in_channels, "out_channels": out_channels, "num_downs": num_downs,
              "ngf": ngf, "norm": norm, "dropout": dropout}
    mine, theirs = build(UNetGenerator, (), kwargs, "UNetGenerator"), ref.UNetGenerator(**kwargs)
    _compare_unet_layers(mine, theirs, num_downs, dropout)
    widths = [ngf * min(2 ** i, 8) for i in range(num_downs)]
    load_reference(mine, theirs, f"UNetGenerator(ngf={ngf})", "UNetGenerator.__init__", _unet_hint(num_downs, widths))
    mine.eval(), theirs.eval()
    x = randn(1, in_channels, size, size)
    features, steps, outputs, expected = _reference_steps(theirs, x, num_downs)
    out, seen, error = _run_recording(mine, x)
    if error is None and isinstance(out, torch.Tensor) and out.shape == expected.shape \
            and torch.allclose(out, expected, atol=1e-4):
        passed(f"UNetGenerator(num_downs={num_downs}, ngf={ngf}, norm={norm!r}) matches the reference "
               f"layer by layer and end to end")
        return
    # it differs: find the first block that differs, given the reference's inputs, then the forward
    _first_block_that_differs(mine, x, features, steps, outputs, num_downs)
    where = ("UNetGenerator.forward: keep e1 ... e_n, feed the bottleneck to decoders[0], and give "
             "decoders[j] the skip e_(n-1-j), the encoder output with the same height and width")
    _check_unet_forward(seen, steps, features, num_downs, where)
    if error is not None:
        fail(f"calling UNetGenerator(ngf={ngf}) on a {list(x.shape)} input raised {type(error).__name__}: "
             f"{error}", "the generated image, shape " + str(list(expected.shape)), where)
    if len(seen) != num_downs:
        fail(f"your forward calls the decoders {len(seen)} times", f"each of the {num_downs} decoders once", where)
    if not isinstance(out, torch.Tensor):
        fail(f"UNetGenerator.forward returned {type(out).__name__}", "a tensor", where)
    compare_output(out, expected, f"UNetGenerator(ngf={ngf})", "UNetGenerator.forward: return the last "
                   "decoder's output as it is")


def _block_checks(norm):
    return {"EncoderBlock": ("exercise 3", lambda cls: encoder_block(cls, norm)),
            "DecoderBlock": ("exercise 4", lambda cls: decoder_block(cls, norm))}


def _graded_alone(UNetGenerator, label, run, norm="batch"):
    """The generator's check, charged to exercise 5 only: a mistake in the student's blocks
    (exercises 3 and 4) does not cost the generator's points (see ex2_compare.assembly)."""
    ensure_own_code(UNetGenerator, "UNetGenerator")
    assembly(UNetGenerator, label, ("EncoderBlock", "DecoderBlock", "norm_layer"), run, _block_checks(norm))


def unet_generator(UNetGenerator, ngf=8, num_downs=8, norm="batch", size=None, in_channels=3,
                   out_channels=3, dropout=0.5):
    """The whole generator: the layers of every block, the weight shapes, then (with the reference
    weights) the output; when it differs, block by block to name the first block that differs."""
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
    for attr in ("encoders", "decoders"):
        for k, (m, r) in enumerate(zip(getattr(mine, attr, []), getattr(theirs, attr))):
            a, b = (sum(p.numel() for p in t.parameters()) for t in (m, r))
            if a != b:
                where = f"{attr}[{k}]: it has {a:,} parameters, the reference {b:,}"
                break
        else:
            continue
        break
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
    where = "the cell that fills `fields`: receptive_field(ref.UNetGenerator(num_downs=n, ngf=4).encoders).size"
    if sorted(got) != [5, 6, 7, 8]:
        fail(f"`fields` has the keys {sorted(got)}", "the keys 5, 6, 7, 8 (num_downs)", where)
    for n in range(5, 9):
        expected = receptive_field([(4, 2, 1)] * n).size
        if got[n] != expected:
            fail(f"fields[{n}] = {got[n]}", f"{expected}, the measured field of {n} encoder levels", where)
    passed("the bottleneck of unet_256 (num_downs 8) sees 766 x 766 pixels: more than the whole image")
