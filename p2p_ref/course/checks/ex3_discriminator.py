"""Checks of Exercise 3.6, the PatchDiscriminator, by what its forward pass runs.

The student's class is not read by its attribute names: the checks trace its forward pass and
compare it with p2p_ref.paper.models.PatchDiscriminator (ex3_compare does the tracing and the
comparing). One nn.Sequential, blocks from a helper function, named attributes, in-place or
functional LeakyReLUs all pass when they compute the reference's function. The notebook reaches
these checks through ex3 (`check.patch_discriminator_layers`, ...).

One mistake, one exercise: when a check fails with the student's own `norm_layer` (Exercise 3.5)
but passes with the reference's in its place, the discriminator keeps its points and the message
says that the mistake is in `norm_layer` (`_grade_assembly`).
"""

import contextlib
import inspect
import io
import types

import torch
from torch import nn

from p2p_ref.paper import models as ref_models
from p2p_ref.paper import receptive_field as ref_rf
from p2p_ref.course.checks.common import ensure_own_code, fail, passed
from p2p_ref.course.checks.ex3_compare import (
    _close, _compare_computation, _compare_structure, _copy_weights, _label, _make, _pair, _randomize, _run, _trace,
    short)

FIELD_BY_N_LAYERS = {0: 1, 1: 16, 2: 34, 3: 70, 4: 142, 5: 286}
OUTPUT_BY_N_LAYERS = {0: 256, 1: 126, 2: 62, 3: 30, 4: 14, 5: 6}  # for a 256 x 256 pair
PARAMS_70 = 2_768_705
PARAMS_70_INSTANCE = 2_767_809

_ALLOWED = (ref_models.init_weights, ref_models.norm_layer)
# Graded building blocks of this notebook that a PatchDiscriminator may call: when it fails with
# the student's block and passes with the reference's, the fault is the block's (its own cell).
BLOCKS = (("norm_layer", ref_models.norm_layer, "Exercise 3.5"),)


# ---- one mistake, one exercise --------------------------------------------------------------------

def _student_globals(student_cls):
    """The globals of the notebook (module) the student's class was defined in."""
    for value in vars(student_cls).values():
        fn = value.__func__ if isinstance(value, (staticmethod, classmethod)) else value
        if inspect.isfunction(fn):
            return fn.__globals__
    return {}


def _reaches(student_cls, name, g):
    """True when the class's code refers to the global `name`, directly or through the notebook's
    own helper functions."""
    todo = [v.__func__ if isinstance(v, (staticmethod, classmethod)) else v for v in vars(student_cls).values()]
    seen = set()
    while todo:
        fn = todo.pop()
        if not inspect.isfunction(fn) or id(fn) in seen:
            continue
        seen.add(id(fn))
        codes, names = [fn.__code__], set()
        while codes:
            code = codes.pop()
            names |= set(code.co_names)
            codes += [c for c in code.co_consts if isinstance(c, types.CodeType)]
        if name in names:
            return True
        for n in names & set(g):
            value = g[n]
            if inspect.isfunction(value) and value.__globals__ is g:
                todo.append(value)
            elif inspect.isclass(value) and _student_globals(value) is g:
                todo += [v.__func__ if isinstance(v, (staticmethod, classmethod)) else v
                         for v in vars(value).values()]
    return False


def _grade_assembly(student_cls, body, *args):
    """Run a PatchDiscriminator check. When it fails with the student's own graded blocks
    (norm_layer) but passes with the reference's in their place, the discriminator keeps its points
    and the message names the faulty block, which loses its points in its own test cell."""
    try:
        return body(student_cls, *args)
    except Exception as own:  # noqa: BLE001 - CheckFailed, or the student's code raising anything
        g = _student_globals(student_cls)
        swaps = {name: (ref, exercise) for name, ref, exercise in BLOCKS
                 if name in g and g[name] is not ref and callable(g[name]) and _reaches(student_cls, name, g)}
        if not swaps:
            raise
        saved = {name: g[name] for name in swaps}
        out = io.StringIO()
        try:
            g.update({name: ref for name, (ref, _) in swaps.items()})
            with contextlib.redirect_stdout(out):
                body(student_cls, *args)
        except Exception:  # noqa: BLE001 - the assembly is wrong too: report the student's own run
            raise own from None
        finally:
            g.update(saved)
        first = next((line.strip() for line in str(own).splitlines() if line.strip()), type(own).__name__)
        first = first.removeprefix("What is wrong:").strip()
        blocks = " and ".join(f"`{name}` ({exercise})" for name, (_, exercise) in swaps.items())
        print(out.getvalue().rstrip() + " -- with the reference " + blocks + " in place of yours.")
        print(f"  Your PatchDiscriminator is right, but with your own {blocks} this check fails "
              f"({first}). Fix {blocks}: it loses its points in its own test cell, not here.")


# ---- the checks -----------------------------------------------------------------------------------

def _layers(student_cls, kwargs_list, size=64):
    for kwargs in kwargs_list:
        ref = ref_models.PatchDiscriminator(**kwargs)
        x, y = _pair(kwargs.get("in_channels", 6), size)
        _compare_structure(_make(student_cls, **kwargs), ref, _label(kwargs), x, y)


def _layers_default(student_cls):
    _layers(student_cls, [{}])
    passed("PatchDiscriminator(): C64 (no norm) - C128 - C256 - C512 - 1, k4 p1, strides 2 2 2 1 1, "
           "no bias before BatchNorm, no sigmoid")


def _layers_more(student_cls):
    _layers(student_cls, [dict(n_layers=2), dict(n_layers=4, ndf=8), dict(norm="instance"), dict(norm="none"),
                          dict(in_channels=3, ndf=16), dict(n_layers=0, ndf=16)])
    passed("the layers also match for n_layers 0, 2 and 4, InstanceNorm, no norm and 3 input channels")


def _check_init(D):
    where = "the end of your `__init__`: keep the `init_weights(self)` line"
    expected = ("the paper's init (appendix 6.2): conv weights N(0, 0.02) and zero biases, BatchNorm scales "
                "N(1, 0.02) and shifts 0")
    for i, m in enumerate(m for m in D.modules() if isinstance(m, nn.Conv2d)):
        std, mean = m.weight.std().item(), m.weight.mean().item()
        if abs(std / 0.02 - 1) > 0.1 or abs(mean) > 0.003:
            fail(f"the weights of conv {i + 1} ({short(m)}) have mean {mean:.4f} and std {std:.4f}",
                 expected, where)
        if m.bias is not None and m.bias.abs().max().item() != 0:
            fail(f"the bias of conv {i + 1} is not zero at the start", expected, where)
    for m in D.modules():
        if isinstance(m, nn.BatchNorm2d):
            w = m.weight
            if abs(w.mean().item() - 1) > 0.015 or not 0.01 < w.std().item() < 0.03 or m.bias.abs().max() != 0:
                fail(f"{short(m)} starts with scales of mean {w.mean().item():.3f}, std {w.std().item():.3f}"
                     + (" (PyTorch's default: all ones)" if w.std().item() == 0 else ""), expected, where)


def _shapes(student_cls):
    D = _make(student_cls).eval()
    label = "PatchDiscriminator()"
    n = sum(p.numel() for p in D.parameters() if p.requires_grad)
    if n != PARAMS_70:
        fail(f"PatchDiscriminator() has {n:,} trainable parameters",
             f"{PARAMS_70:,} (C64-C128-C256-C512-1, k4, no bias before BatchNorm)",
             "the layer widths and the bias=... of each conv")
    _check_init(D)
    torch.manual_seed(0)
    x, y = torch.randn(2, 3, 256, 256), torch.randn(2, 3, 256, 256)
    with torch.no_grad():
        out = _run(D, f"{label}(x, y)", x, y)
        if not isinstance(out, torch.Tensor) or tuple(out.shape) != (2, 1, 30, 30):
            fail(f"D(x, y) for a batch of two 256 x 256 pairs gives "
                 f"{tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__}",
                 "shape (2, 1, 30, 30): one logit per overlapping 70 x 70 patch",
                 "the strides (2, 2, 2, 1, 1) and padding 1 of your convs")
        try:
            joined = D(torch.cat([x, y], dim=1))
        except Exception as e:  # noqa: BLE001
            fail(f"D(pair) with the 6-channel pair alone raised {type(e).__name__}: {e}",
                 "forward(x, y=None): with y omitted, x is already the joined pair", "your `forward` signature")
        if not _close(joined, out):
            fail("D(torch.cat([x, y], 1)) differs from D(x, y)",
                 "the same logits: with y=None, x is already the 6-channel pair",
                 "your `forward`: join x and y only when y is given")
    passed("D(x, y): (2, 1, 30, 30) logits for two 256 x 256 pairs; 2,768,705 parameters, the paper's init")


def _shapes_more(student_cls):
    D = _make(student_cls, ndf=8).eval()
    with torch.no_grad():
        out = _run(D, "PatchDiscriminator(ndf=8)(x, y)", torch.randn(1, 3, 512, 512), torch.randn(1, 3, 512, 512))
    if tuple(out.shape) != (1, 1, 62, 62):
        fail(f"a 512 x 512 pair gives logits of shape {tuple(out.shape)}", "(1, 1, 62, 62)",
             "your `forward`: D is fully convolutional, nothing may assume 256 x 256")
    n = sum(p.numel() for p in _make(student_cls, norm="instance").parameters())
    if n != PARAMS_70_INSTANCE:
        fail(f"PatchDiscriminator(norm='instance') has {n:,} parameters",
             f"{PARAMS_70_INSTANCE:,}: InstanceNorm without affine parameters, so the convs keep a bias",
             "how `norm` chooses the norm layer and the conv biases")
    passed("a 512 pair gives 62 x 62 logits; InstanceNorm variant has 2,767,809 parameters")


def _matches_reference(student_cls):
    label = "PatchDiscriminator()"
    torch.manual_seed(1)
    ref = _randomize(ref_models.PatchDiscriminator(), seed=1)
    D = _make(student_cls)
    x, y = torch.randn(2, 3, 64, 64), torch.randn(2, 3, 64, 64)
    got, want = _compare_structure(D, ref, label, x, y)
    _copy_weights(got, want)
    for mode in ("eval", "train"):
        D.train(mode == "train")
        ref.train(mode == "train")
        got, want = _run(D, f"{label}(x, y)", x, y, trace=True), _trace(ref, x, y)
        _compare_computation(D, got, want, label, mode)
    try:
        D.load_state_dict(ref.state_dict())
        names = ("its state dict has the reference's names (model.0.weight, ...), the official "
                 "NLayerDiscriminator's too, so their saved weights load with load_state_dict")
    except RuntimeError:
        names = ("(not graded) its parameters are named differently from the reference's model.0.weight, "
                 "..., so saved reference or official weights would need renaming to load")
    passed("with the reference's weights copied into your layers, your D computes the reference's logits "
           f"(eval and train mode); {names}")


class _Joined(nn.Module):
    """D(x, y) as a function of the joined pair, for measure_receptive_field (which calls model(pair))."""

    def __init__(self, D):
        super().__init__()
        self.D = D

    def forward(self, pair):
        c = pair.shape[1] // 2
        return self.D(pair[:, :c], pair[:, c:])


def _variants(student_cls):
    for n_layers, field in FIELD_BY_N_LAYERS.items():
        label = f"PatchDiscriminator(n_layers={n_layers})"
        D = _make(student_cls, n_layers=n_layers, ndf=8).eval()
        t = _run(D, label, torch.randn(1, 3, 256, 256), torch.randn(1, 3, 256, 256), trace=True)
        got = ref_rf.receptive_field([(c.kernel_size[0], c.stride[0], c.padding[0]) for c in t.convs]).size
        if got != field:
            fail(f"{label} has a {got} x {got} receptive field",
                 f"{field} x {field}" + (" (the 1 x 1 PixelGAN): three 1 x 1 convs" if n_layers == 0 else
                                        f": the first conv, then {n_layers} more, all stride 2 except the last "
                                        "of them (stride 1), then the last conv"),
                 "how your `__init__` uses n_layers (the loop and the n_layers = 0 branch)")
        side = OUTPUT_BY_N_LAYERS[n_layers]
        if not isinstance(t.output, torch.Tensor) or tuple(t.output.shape) != (1, 1, side, side):
            fail(f"{label} gives {tuple(getattr(t.output, 'shape', ()))} for a 256 pair", f"(1, 1, {side}, {side})",
                 "how your `__init__` uses n_layers")
        want = sum(p.numel() for p in ref_models.PatchDiscriminator(n_layers=n_layers, ndf=8).parameters())
        got_n = sum(p.numel() for p in D.parameters())
        if got_n != want:
            fail(f"PatchDiscriminator(n_layers={n_layers}, ndf=8) has {got_n:,} parameters",
                 f"{want:,} (widths ndf * min(2**n, 8))", "the channel widths in your loop")
    pixel = _Joined(_make(student_cls, n_layers=0, ndf=8))
    measured = ref_rf.measure_receptive_field(pixel, input_size=16, in_channels=6)
    if measured != 1:
        fail(f"the gradient of one PixelGAN output reaches {measured} x {measured} input pixels",
             "1 x 1: each output judges one pixel", "the n_layers = 0 branch: 1 x 1 convs only")
    passed("n_layers 0..5 give fields 1, 16, 34, 70, 142, 286 and grids 256, 126, 62, 30, 14, 6")


def patch_discriminator_layers(student_cls):
    """The convs the default D runs, in order, and the norm / activation layers between them."""
    ensure_own_code(student_cls, "PatchDiscriminator", allowed=_ALLOWED)
    _grade_assembly(student_cls, _layers_default)


def patch_discriminator_layers_more(student_cls):
    """Hidden: the layers for other n_layers, ndf, in_channels and norms."""
    ensure_own_code(student_cls, "PatchDiscriminator", allowed=_ALLOWED)
    _grade_assembly(student_cls, _layers_more)


def patch_discriminator_shapes(student_cls):
    """One logit per 70 x 70 patch: (2, 1, 30, 30) for two 256 pairs; 2,768,705 parameters, N(0, 0.02) init."""
    ensure_own_code(student_cls, "PatchDiscriminator", allowed=_ALLOWED)
    _grade_assembly(student_cls, _shapes)


def patch_discriminator_shapes_more(student_cls):
    """Hidden: a 512 input, the InstanceNorm parameter count."""
    ensure_own_code(student_cls, "PatchDiscriminator", allowed=_ALLOWED)
    _grade_assembly(student_cls, _shapes_more)


def patch_discriminator_matches_reference(student_cls):
    """Copy the reference's weights into the student's layers (in forward order); the logits, and
    everything between two convs, must then be the reference's, in eval and train mode."""
    ensure_own_code(student_cls, "PatchDiscriminator", allowed=_ALLOWED)
    _grade_assembly(student_cls, _matches_reference)


def patch_discriminator_variants(student_cls):
    """n_layers sets the patch: 0 (PixelGAN, 1 x 1) -> 1, 1 -> 16, 2 -> 34, 3 -> 70, 4 -> 142, 5 -> 286."""
    ensure_own_code(student_cls, "PatchDiscriminator", allowed=_ALLOWED)
    _grade_assembly(student_cls, _variants)


def patch_discriminator(student_cls):
    """Every visible check of the discriminator, with the student's own blocks only (no reference
    stand-in): lesson 5 uses it to decide whether to train the student's D."""
    ensure_own_code(student_cls, "PatchDiscriminator", allowed=_ALLOWED)
    for body in (_layers_default, _shapes, _matches_reference, _variants):
        body(student_cls)
