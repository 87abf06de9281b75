"""Checks for Exercise 3: the PatchGAN discriminator and its receptive field.

Each check compares the student's code with p2p_ref.paper.receptive_field and p2p_ref.paper.models and, on a
mistake, names what is wrong (the first layer that differs, the formula term that is missing).

The PatchDiscriminator's checks (Exercise 3.6) live in p2p_ref.course.checks.ex3_discriminator
(and its comparison with the reference in ex3_compare); the PatchGAN-depth experiment's (the
prediction and `colourfulness`) in ex3_experiment.
"""

import numbers

import torch
from torch import nn

from p2p_ref.paper import models as ref_models
from p2p_ref.paper import receptive_field as ref_rf
from p2p_ref.course.checks.common import ensure_own_code, fail, passed
from p2p_ref.course.checks.ex3_discriminator import (  # noqa: F401 - the discriminator's checks, used by the notebook
    FIELD_BY_N_LAYERS, OUTPUT_BY_N_LAYERS, PARAMS_70, PARAMS_70_INSTANCE, patch_discriminator,
    patch_discriminator_layers, patch_discriminator_layers_more, patch_discriminator_matches_reference,
    patch_discriminator_shapes, patch_discriminator_shapes_more, patch_discriminator_variants)
from p2p_ref.course.checks.ex3_compare import NORM_SPEC, short, state_names
from p2p_ref.course.checks.ex3_experiment import (  # noqa: F401 - the experiment's checks, used by the notebook
    colourfulness, colourfulness_more, prediction)

# (kernel, stride, padding) of the five convs of the 70 x 70 PatchGAN (n_layers = 3).
PATCHGAN_70 = [(4, 2, 1), (4, 2, 1), (4, 2, 1), (4, 1, 1), (4, 1, 1)]
GROWTH_70 = [4, 10, 22, 46, 70]  # the field after each of those convs
SIDES_70 = [128, 64, 32, 31, 30]  # the side of each conv's output for a 256 x 256 input

# Other stacks for the hidden checks: odd kernels, stride 3, no padding, a kernel smaller than 3.
OTHER_STACKS = [
    [(3, 1, 1)] * 3,
    [(5, 2, 2), (3, 2, 1), (3, 1, 1)],
    [(7, 3, 3), (4, 2, 1)],
    [(2, 2, 0)] * 4,
    [(4, 2, 1)] * 5 + [(4, 1, 1)] * 2,
    [(1, 1, 0)],
]


# ----------------------------------------------------------------------------------------------
# receptive_field(layers) and output_size(layers, input_size)
# ----------------------------------------------------------------------------------------------

# Students derive the formula themselves (Exercise 3.2), so the generic hint does not print it.
_RF_WHERE = ("your `receptive_field`: how many input pixels each layer adds to the field, and how far "
             "apart (in input pixels) neighbouring positions of that layer's input are")

def _products(strides):
    """prod_{i<l} s_i for each layer l (1 for the first layer)."""
    out, jump = [], 1
    for s in strides:
        out.append(jump)
        jump *= s
    return out


def _as_field(result, layers):
    """The (size, stride, padding) triple from what the student returned, or a clear failure."""
    where = "the `return` line of `receptive_field`"
    if isinstance(result, (int, float, torch.Tensor)) and not isinstance(result, bool):
        fail(f"receptive_field({layers}) returned a single number ({result!r})",
             "three numbers: (size, stride, padding), e.g. a namedtuple or a plain tuple", where)
    try:
        values = tuple(result)
    except TypeError:
        fail(f"receptive_field({layers}) returned {result!r}", "a tuple (size, stride, padding)", where)
    if len(values) != 3:
        fail(f"receptive_field({layers}) returned {len(values)} values: {result!r}",
             "three values: (size, stride, padding)", where)
    clean = []
    for name, v in zip(("size", "stride", "padding"), values):
        if isinstance(v, torch.Tensor) and v.numel() == 1:
            v = v.item()
        if isinstance(v, float) and v.is_integer():
            v = int(v)
        if isinstance(v, numbers.Integral) and not isinstance(v, bool):
            v = int(v)  # numpy integers (np.prod) count too
        if not isinstance(v, int) or isinstance(v, bool):
            fail(f"the {name} returned for {layers} is {v!r} ({type(v).__name__})",
                 f"an int: a {name} counts whole input pixels", where)
        clean.append(v)
    return tuple(clean)


def _size_hints(layers):
    """What the usual wrong formulas give for the field size, with a hint for each."""
    ks = [k for k, _, _ in layers]
    before = _products([s for _, s, _ in layers])
    upto = [b * s for b, (_, s, _) in zip(before, layers)]
    return [
        (1 + sum(k - 1 for k in ks),
         "the stride product is missing: one step deeper in the stack is prod_{i<l} s_i input pixels, so "
         "layer l adds (k_l - 1) * prod_{i<l} s_i, not just k_l - 1"),
        (1 + sum(k * b for k, b in zip(ks, before)),
         "off by one per layer: a kernel of size k widens the field by k - 1, not by k "
         "(r += (k - 1) * jump, not r += k * jump)"),
        (sum((k - 1) * b for k, b in zip(ks, before)),
         "the field must start at r = 1 (before any layer a unit sees exactly its own pixel)"),
        (1 + sum((k - 1) * u for k, u in zip(ks, upto)),
         "the product must stop BEFORE the layer itself (prod_{i<l} s_i): add (k - 1) * jump first, "
         "then multiply jump by this layer's stride"),
        (sum(ks),
         "the kernels are just added up: each layer adds (k_l - 1) * prod_{i<l} s_i"),
    ]


def _stride_hints(layers):
    strides = [s for _, s, _ in layers]
    return [(sum(strides), "the strides must be multiplied, not added"),
            (strides[-1] if strides else 1, "the effective stride is the product of ALL the strides")]


def _padding_hints(layers):
    pads = [p for _, _, p in layers]
    before = _products([s for _, s, _ in layers])
    upto = [b * s for b, (_, s, _) in zip(before, layers)]
    return [(sum(pads), "each padding must be scaled by the strides before it: P = sum_l p_l * prod_{i<l} s_i"),
            (sum(p * u for p, u in zip(pads, upto)),
             "the padding of layer l is scaled by prod_{i<l} s_i, which does not include s_l")]


def _call(student_fn, name, *args):
    """The student's function on copies of args; a crash becomes a plain-words failure."""
    try:
        return student_fn(*[list(a) if isinstance(a, list) else a for a in args])
    except Exception as e:  # noqa: BLE001 - the student's code may raise anything
        fail(f"{name}({', '.join(map(repr, args))}) raised {type(e).__name__}" + (f": {e}" if str(e) else ""),
             "a result for every stack of (kernel, stride, padding) layers, the empty one included",
             f"your `{name}`")


def _compare_field(student_fn, layers, where):
    got = _as_field(_call(student_fn, "receptive_field", list(layers)), layers)
    want = tuple(ref_rf.receptive_field(list(layers)))
    for i, (name, hints) in enumerate((("size", _size_hints), ("stride", _stride_hints),
                                       ("padding", _padding_hints))):
        if got[i] != want[i]:
            hint = next((h for value, h in hints(layers) if value == got[i] and value != want[i]), None)
            fail(f"receptive_field({layers}) gives {name} {got[i]}"
                 + (f": {hint}" if hint else ""),
                 f"{name} {want[i]} (the whole answer: size, stride, padding = {want})", where)


def receptive_field(student_fn):
    """Visible check: the 70 x 70 stack, its growth layer by layer, and a single layer."""
    ensure_own_code(student_fn, "receptive_field")
    where = _RF_WHERE
    # Simple stacks first: a wrong formula fails on them, before a message could print the layers
    # of the 70 x 70 D, whose strides the lesson asks for next.
    for layers in ([(4, 2, 1)], [(3, 1, 1)] * 2, [(4, 2, 1)] * 2, OTHER_STACKS[1]):
        _compare_field(student_fn, layers, where)
    growth = []
    for n in range(1, len(PATCHGAN_70) + 1):
        _compare_field(student_fn, PATCHGAN_70[:n], where)
        growth.append(_as_field(student_fn(PATCHGAN_70[:n]), PATCHGAN_70[:n])[0])
    if growth != GROWTH_70:  # pragma: no cover - _compare_field has failed already
        fail(f"the field grows {growth} through the 70 x 70 stack", f"{GROWTH_70}", where)
    passed("receptive_field: size, effective stride and effective padding agree with the reference on "
           "9 stacks, the 70 x 70 D's among them")


def receptive_field_more(student_fn):
    """Hidden check: an empty stack and stacks with other kernels, strides and paddings."""
    ensure_own_code(student_fn, "receptive_field")
    where = _RF_WHERE
    got = _as_field(_call(student_fn, "receptive_field", []), [])
    if got != (1, 1, 0):
        fail(f"receptive_field([]) (no layers at all) gives {got}",
             "(1, 1, 0): without layers a unit sees only its own pixel", where)
    for layers in OTHER_STACKS:
        _compare_field(student_fn, layers, where)
    passed("receptive_field agrees with the reference on other stacks too")


def _sequential_from(layers, width=4, in_channels=3):
    """A small random conv stack with this geometry: Conv -> BatchNorm -> LeakyReLU per layer."""
    modules, c = [], in_channels
    for k, s, p in layers:
        modules += [nn.Conv2d(c, width, k, stride=s, padding=p), nn.BatchNorm2d(width), nn.LeakyReLU(0.2)]
        c = width
    return nn.Sequential(*modules)


def receptive_field_measured(student_fn):
    """The student's analytic field equals the field measured by back-propagating from one unit."""
    ensure_own_code(student_fn, "receptive_field")
    torch.manual_seed(0)
    for layers in [PATCHGAN_70] + OTHER_STACKS[:4]:
        size = _as_field(_call(student_fn, "receptive_field", list(layers)), layers)[0]
        ref = ref_rf.receptive_field(list(layers))
        input_size = ref.size + 4 * ref.stride + 2 * ref.padding + 8
        measured = ref_rf.measure_receptive_field(_sequential_from(layers), input_size=input_size)
        if size != measured:
            fail(f"for the stack {layers} your receptive_field says {size} x {size}, but the gradient of "
                 f"one output unit reaches a {measured} x {measured} patch of the input",
                 f"{measured} (measured = analytic for a conv stack)",
                 "your `receptive_field`; compare its result layer by layer with the growth 4, 10, 22, 46, 70")
    passed("receptive_field matches the gradient-measured field on 5 stacks")


_OUTPUT_SIZE_MISTAKES = [
    ("the + 1 is missing: a conv visits floor((n + 2p - k) / s) + 1 positions (the first one plus one "
     "per stride)", lambda m, k, s, p: (m + 2 * p - k) // s),
    ("the padding is missing: both sides are padded, so the padded input is n + 2p",
     lambda m, k, s, p: (m - k) // s + 1),
    ("the padding is counted once: both sides are padded, so the padded input is n + 2p",
     lambda m, k, s, p: (m + p - k) // s + 1),
]


def _run_steps(step, layers, n):
    for k, s, p in layers:
        n = step(n, k, s, p)
    return n


def _safe(fn, *args):
    try:
        return fn(*[list(a) if isinstance(a, list) else a for a in args])
    except Exception:  # noqa: BLE001 - a crash just means "not this mistake"
        return None


def output_size(student_fn):
    """Output side for a square input, layer by layer through the 70 x 70 stack and more."""
    ensure_own_code(student_fn, "output_size")
    where = "your `output_size`: n -> floor((n + 2p - k) / s) + 1 for each layer"
    # Other stacks first: a wrong formula fails on them, before a message could print the layers of
    # the 70 x 70 D, whose strides the lesson asks for next.
    cases = [([(4, 2, 1)], 8), ([(4, 2, 1)], 256), ([(4, 1, 1)], 256)] + [(layers, 300) for layers in OTHER_STACKS]
    cases += [(PATCHGAN_70[:n], 256) for n in range(1, 6)] + [(PATCHGAN_70, 512), (PATCHGAN_70, 255),
                                                              (PATCHGAN_70, 100)]
    for layers, n in cases:
        got = _call(student_fn, "output_size", list(layers), n)
        want = ref_rf.output_size(list(layers), n)
        if isinstance(got, torch.Tensor) and got.numel() == 1:
            got = got.item()
        if isinstance(got, float):
            fail(f"output_size({layers}, {n}) returned the float {got!r}",
                 f"the int {want}: use floor division // (a conv only visits whole positions)", where)
        if got == want:
            continue
        hint = next((label for label, step in _OUTPUT_SIZE_MISTAKES
                     if all(_run_steps(step, l, m) == _safe(student_fn, l, m) for l, m in cases)), None)
        fail(f"output_size({layers}, {n}) gives {got!r}" + (f": {hint}" if hint else ""), f"{want}", where)
    passed(f"output_size agrees with the reference on {len(cases)} stacks and input sizes, the 70 x 70 D's among them")


# ----------------------------------------------------------------------------------------------
# Real / fake targets
# ----------------------------------------------------------------------------------------------

def patch_targets(student_fn):
    """patch_targets(logits, target_is_real): a grid of ones or zeros shaped like D's logits."""
    ensure_own_code(student_fn, "patch_targets")
    where = "your `patch_targets`: torch.ones_like(logits) / torch.zeros_like(logits)"
    for shape in [(1, 1, 30, 30), (4, 1, 30, 30), (1, 1, 62, 62), (2, 1, 6, 6)]:
        logits = torch.randn(shape, requires_grad=True)
        before = logits.detach().clone()
        for real, value in ((True, 1.0), (False, 0.0)):
            target = student_fn(logits, real)
            if not isinstance(target, torch.Tensor):
                fail(f"patch_targets(logits, {real}) returned {type(target).__name__}",
                     "a tensor shaped like the logits", where)
            if tuple(target.shape) != shape:
                fail(f"for logits of shape {shape} patch_targets(logits, {real}) has shape {tuple(target.shape)}",
                     f"the same shape {shape}: one label per patch decision (do not hard-code 30 x 30)", where)
            if target.dtype != logits.dtype:
                fail(f"the targets have dtype {target.dtype}", f"{logits.dtype}, like the logits "
                     "(BCE-with-logits needs float targets)", where)
            if not torch.all(target == value):
                wrong = "zeros" if value == 1.0 else "ones"
                fail(f"patch_targets(logits, target_is_real={real}) is not all {value:g}"
                     + (" (it looks like all " + wrong + ": real and fake swapped?)"
                        if torch.all(target == 1.0 - value) else ""),
                     f"all {'ones for real' if real else 'zeros for fake'} pairs", where)
            if target.requires_grad:
                fail("the targets require a gradient (they were computed from the logits)",
                     "constant labels: build them with torch.ones_like / torch.zeros_like", where)
        if not torch.equal(logits.detach(), before):
            fail("patch_targets changed the logits in place", "the logits left untouched", where)
    passed("patch_targets: a grid of ones (real) or zeros (fake) shaped like D's output")


# ----------------------------------------------------------------------------------------------
# norm_layer(norm, num_channels)
# ----------------------------------------------------------------------------------------------

def norm_layer(student_fn):
    """norm_layer(norm, c): BatchNorm2d(c), InstanceNorm2d(c) or an identity; an error naming a bad value.

    Judged by behaviour (parameters, buffers, outputs in train and eval mode), so any module that
    computes the same passes, e.g. nn.GroupNorm(c, c, affine=False) for "instance".
    """
    ensure_own_code(student_fn, "norm_layer", allowed=())
    where = "your `norm_layer`"
    torch.manual_seed(0)
    for norm in ("batch", "instance", "none"):
        for c in (8, 64):
            call = f"norm_layer({norm!r}, {c})"
            try:
                got = student_fn(norm, c)
            except Exception as e:  # noqa: BLE001 - the student's code may raise anything
                fail(f"{call} raised {type(e).__name__}" + (f": {e}" if str(e) else ""),
                     NORM_SPEC[norm].replace("(c)", f"({c})"), where)
            want = ref_models.norm_layer(norm, c)
            spec = NORM_SPEC[norm].replace("(c)", f"({c})")
            if not isinstance(got, nn.Module):
                fail(f"{call} returned {got!r} ({type(got).__name__})", f"a layer (an nn.Module): {spec}", where)
            (g_params, g_buffers), (w_params, w_buffers) = state_names(got), state_names(want)
            if g_params != w_params:
                have = (f"with learnable parameters: {', '.join(f'{n} {s}' for n, s in g_params)}" if g_params
                        else "without learnable parameters")
                fail(f"{call} returns {short(got)} {have}",
                     spec + (f": parameters {', '.join(f'{n} {s}' for n, s in w_params)}" if w_params else
                             ", i.e. affine=False"), where)
            if g_buffers != w_buffers:
                fail(f"{call} returns {short(got)} with buffers {list(g_buffers) or 'none'}",
                     f"{spec}: buffers {list(w_buffers) or 'none (track_running_stats=False)'}", where)
            x = torch.randn(2, c, 5, 5) * 3 + 1
            for mode in ("train", "eval"):  # eval after one train step: the running statistics too
                got.train(mode == "train")
                want.train(mode == "train")
                with torch.no_grad():
                    try:
                        out = got(x)
                    except Exception as e:  # noqa: BLE001
                        fail(f"the layer from {call} raised {type(e).__name__} on a batch of shape "
                             f"{tuple(x.shape)}: {e}", spec, where)
                    ref_out = want(x)
                if not isinstance(out, torch.Tensor) or out.shape != ref_out.shape \
                        or not torch.allclose(out, ref_out, atol=1e-5):
                    fail(f"the layer from {call} ({short(got)}) computes something else than {spec} "
                         f"({mode} mode)", spec, where)
    try:
        result = student_fn("batchnorm", 8)
    except Exception as e:  # noqa: BLE001 - any error type passes if it names the value
        if "batchnorm" not in str(e):
            fail(f"norm_layer('batchnorm', 8) raised {type(e).__name__}({str(e)!r}), which does not say "
                 "which value was wrong", "an error whose message names the value 'batchnorm', e.g. "
                 "raise ValueError(f\"norm={norm!r}: expected 'batch', 'instance' or 'none'\")", where)
    else:
        fail(f"norm_layer('batchnorm', 8) (a typo) returned {short(result)} without complaint",
             "an error that names the value (ValueError is the usual choice): a typo must not build a "
             "different network silently", where)
    passed("norm_layer: BatchNorm2d, InstanceNorm2d (no parameters, no running statistics) and an "
           "identity; a bad value raises an error that names it")


