"""Checks for Exercise 3: the PatchGAN discriminator and its receptive field.

Each check compares the student's code with p2p_ref.receptive_field and p2p_ref.models and, on a
mistake, names what is wrong (the first layer that differs, the formula term that is missing).
"""

import math

import torch
from torch import nn

from p2p_ref import models as ref_models
from p2p_ref import receptive_field as ref_rf
from p2p_ref.checks.common import ensure_own_code, fail, passed

# (kernel, stride, padding) of the five convs of the 70 x 70 PatchGAN (n_layers = 3).
PATCHGAN_70 = [(4, 2, 1), (4, 2, 1), (4, 2, 1), (4, 1, 1), (4, 1, 1)]
GROWTH_70 = [4, 10, 22, 46, 70]  # the field after each of those convs
SIDES_70 = [128, 64, 32, 31, 30]  # the side of each conv's output for a 256 x 256 input
FIELD_BY_N_LAYERS = {0: 1, 1: 16, 2: 34, 3: 70, 4: 142, 5: 286}
OUTPUT_BY_N_LAYERS = {0: 256, 1: 126, 2: 62, 3: 30, 4: 14, 5: 6}  # for a 256 x 256 pair
PARAMS_70 = 2_768_705
PARAMS_70_INSTANCE = 2_767_809

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


def _compare_field(student_fn, layers, where):
    got = _as_field(student_fn(list(layers)), layers)
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
    where = "your `receptive_field`: r = 1 + sum_l (k_l - 1) prod_{i<l} s_i"
    _compare_field(student_fn, [(4, 2, 1)], where)
    growth = []
    for n in range(1, len(PATCHGAN_70) + 1):
        _compare_field(student_fn, PATCHGAN_70[:n], where)
        growth.append(_as_field(student_fn(PATCHGAN_70[:n]), PATCHGAN_70[:n])[0])
    if growth != GROWTH_70:  # pragma: no cover - _compare_field has failed already
        fail(f"the field grows {growth} through the 70 x 70 stack", f"{GROWTH_70}", where)
    passed(f"receptive_field: the field grows {' -> '.join(map(str, growth))} through the PatchGAN; "
           "effective stride 8")


def receptive_field_more(student_fn):
    """Hidden check: an empty stack and stacks with other kernels, strides and paddings."""
    ensure_own_code(student_fn, "receptive_field")
    where = "your `receptive_field`: r = 1 + sum_l (k_l - 1) prod_{i<l} s_i"
    got = _as_field(student_fn([]), [])
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
        size = _as_field(student_fn(list(layers)), layers)[0]
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
    cases = [(PATCHGAN_70[:n], 256) for n in range(1, 6)] + [(PATCHGAN_70, 512), (PATCHGAN_70, 255),
                                                             (PATCHGAN_70, 100)]
    cases += [(layers, 300) for layers in OTHER_STACKS]
    for layers, n in cases:
        got = student_fn(list(layers), n)
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
    sides = [student_fn(PATCHGAN_70[:n], 256) for n in range(1, 6)]
    passed(f"output_size: 256 -> {' -> '.join(map(str, sides))}; a 512 input gives "
           f"{student_fn(PATCHGAN_70, 512)} x {student_fn(PATCHGAN_70, 512)}")


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
# The PatchDiscriminator
# ----------------------------------------------------------------------------------------------

_ALLOWED = (ref_models.init_weights, ref_models.norm_layer)
_NORMS = (nn.BatchNorm2d, nn.InstanceNorm2d)


def _short(m):
    if isinstance(m, nn.Conv2d):
        return (f"Conv2d({m.in_channels} -> {m.out_channels}, kernel {m.kernel_size[0]}, stride "
                f"{m.stride[0]}, padding {m.padding[0]}, bias={m.bias is not None})")
    if isinstance(m, _NORMS):
        return f"{type(m).__name__}({m.num_features})"
    if isinstance(m, nn.LeakyReLU):
        return f"LeakyReLU({m.negative_slope:g})"
    return type(m).__name__


def _student_layers(D, name):
    model = getattr(D, "model", None)
    if not isinstance(model, nn.Sequential):
        fail(f"{name} has no `model` attribute that is an nn.Sequential (found {type(model).__name__})",
             "all layers in order in self.model = nn.Sequential(...), like the reference, so that its "
             "weights load", "the end of your `__init__`")
    for i, m in enumerate(model):
        if isinstance(m, (nn.Sequential, nn.ModuleList)):
            fail(f"self.model[{i}] is a nested {type(m).__name__}",
                 "one flat nn.Sequential of layers (conv, norm, LeakyReLU, ...) so parameter names match "
                 "the reference (model.0.weight, model.2.weight, ...)", "how you build `self.model`")
    return list(model)


def _make(student_cls, **kwargs):
    try:
        return student_cls(**kwargs)
    except TypeError as e:
        fail(f"PatchDiscriminator({', '.join(f'{k}={v!r}' for k, v in kwargs.items())}) raised TypeError: {e}",
             "the signature PatchDiscriminator(in_channels=6, ndf=64, n_layers=3, norm=\"batch\")",
             "your `__init__` signature")


def _compare_layers(D, ref, label):
    """Fail at the first layer of D.model that differs from the reference's."""
    got, want = _student_layers(D, label), list(ref.model)
    where_sig = "the end of your `self.model`: D returns logits; the loss applies the sigmoid"
    for i, m in enumerate(got):
        if isinstance(m, (nn.Sigmoid, nn.Tanh)):
            fail(f"{label}: self.model[{i}] is {type(m).__name__}, so every output lies in "
                 f"{'(0, 1)' if isinstance(m, nn.Sigmoid) else '(-1, 1)'}",
                 "no squashing at the end: D outputs raw logits (BCEWithLogits applies the sigmoid, "
                 "exactly and without overflow)", where_sig)
    for i in range(max(len(got), len(want))):
        if i >= len(got):
            fail(f"{label}: self.model stops after {len(got)} layers",
                 f"{len(want)} layers; the next missing one is model[{i}] = {_short(want[i])}",
                 "the end of your layer list: the last conv maps to 1 channel")
        if i >= len(want):
            fail(f"{label}: self.model has an extra layer model[{i}] = {_short(got[i])}",
                 f"{len(want)} layers ending with {_short(want[-1])}", "the end of your layer list")
        g, w = got[i], want[i]
        where = f"self.model[{i}] (expected {_short(w)})"
        if type(g) is not type(w):
            if isinstance(w, nn.LeakyReLU) and isinstance(g, _NORMS) and i == 1:
                fail(f"{label}: the first conv is followed by {_short(g)}",
                     "no norm on the first layer (C64 in the paper has none): Conv -> LeakyReLU(0.2)", where)
            if isinstance(w, nn.LeakyReLU) and isinstance(g, nn.ReLU):
                fail(f"{label}: model[{i}] is ReLU", "LeakyReLU(0.2) everywhere in D", where)
            if isinstance(w, nn.LeakyReLU):
                fail(f"{label}: model[{i}] is {_short(g)}: the LeakyReLU after model[{i - 1}] is missing",
                     f"LeakyReLU(0.2) after {_short(want[i - 1])}", where)
            if isinstance(w, _NORMS) and not isinstance(g, _NORMS):
                fail(f"{label}: model[{i}] is {_short(g)}: the norm after the conv model[{i - 1}] is missing",
                     f"{_short(w)} after every conv except the first and the last", where)
            fail(f"{label}: model[{i}] is {_short(g)}", _short(w), where)
        if isinstance(w, nn.Conv2d):
            for attr, what in (("in_channels", "input channels"), ("out_channels", "output channels"),
                               ("kernel_size", "kernel size"), ("padding", "padding")):
                got_v, want_v = getattr(g, attr), getattr(w, attr)
                if got_v != want_v:
                    show = (lambda v: v[0] if isinstance(v, tuple) and len(set(v)) == 1 else v)
                    fail(f"{label}: the conv model[{i}] has {what} {show(got_v)}",
                         f"{what} {show(want_v)}: {_short(w)}", where)
            if g.stride != w.stride:
                try:
                    side = ref_rf.output_size(D, 256)
                    effect = f"; a 256 x 256 pair then gives {side} x {side} logits instead of 30 x 30"
                except ValueError:
                    effect = ""
                fail(f"{label}: the conv model[{i}] has stride {g.stride[0]}{effect}",
                     f"stride {w.stride[0]} (strides 2, 2, 2, 1, 1: the last two convs keep the size)", where)
            if (g.bias is None) != (w.bias is None):
                why = ("a conv followed by BatchNorm needs no bias (BatchNorm's shift does that job), and "
                       "the reference's weights have none" if w.bias is None else "this conv has a bias")
                fail(f"{label}: the conv model[{i}] has bias={g.bias is not None}",
                     f"bias={w.bias is not None}: {why}", where)
        if isinstance(w, _NORMS) and (g.num_features != w.num_features or g.affine != w.affine
                                      or g.track_running_stats != w.track_running_stats):
            fail(f"{label}: model[{i}] is {_short(g)} (affine={g.affine}, "
                 f"track_running_stats={g.track_running_stats})",
                 f"{_short(w)} (affine={w.affine}, track_running_stats={w.track_running_stats})", where)
        if isinstance(w, nn.LeakyReLU) and not math.isclose(g.negative_slope, w.negative_slope):
            fail(f"{label}: model[{i}] has negative slope {g.negative_slope}", "LeakyReLU(0.2)", where)


def patch_discriminator_layers(student_cls):
    """The default D, layer by layer, against the reference's (names the first difference)."""
    ensure_own_code(student_cls, "PatchDiscriminator", allowed=_ALLOWED)
    _compare_layers(_make(student_cls), ref_models.PatchDiscriminator(), "PatchDiscriminator()")
    passed("PatchDiscriminator(): C64 (no norm) - C128 - C256 - C512 - 1, k4 p1, strides 2 2 2 1 1, "
           "LeakyReLU(0.2), no sigmoid")


def patch_discriminator_layers_more(student_cls):
    """Hidden: the layers for other n_layers, ndf and norm."""
    ensure_own_code(student_cls, "PatchDiscriminator", allowed=_ALLOWED)
    for kwargs in (dict(n_layers=2), dict(n_layers=4, ndf=8), dict(norm="instance"),
                   dict(in_channels=3, ndf=16), dict(n_layers=0, ndf=16)):
        label = f"PatchDiscriminator({', '.join(f'{k}={v!r}' for k, v in kwargs.items())})"
        _compare_layers(_make(student_cls, **kwargs), ref_models.PatchDiscriminator(**kwargs), label)
    passed("the layers also match for n_layers 0, 2 and 4, InstanceNorm and 3 input channels")


def patch_discriminator_shapes(student_cls):
    """One logit per 70 x 70 patch: (1, 1, 30, 30) for a 256 pair; 2,768,705 parameters."""
    ensure_own_code(student_cls, "PatchDiscriminator", allowed=_ALLOWED)
    D = _make(student_cls).eval()
    n = sum(p.numel() for p in D.parameters() if p.requires_grad)
    if n != PARAMS_70:
        fail(f"PatchDiscriminator() has {n:,} trainable parameters",
             f"{PARAMS_70:,} (C64-C128-C256-C512-1, k4, no bias before BatchNorm)",
             "the layer widths and the bias=... of each conv")
    torch.manual_seed(0)
    x, y = torch.randn(2, 3, 256, 256), torch.randn(2, 3, 256, 256)
    with torch.no_grad():
        out = D(x, y)
        if tuple(out.shape) != (2, 1, 30, 30):
            fail(f"D(x, y) for a batch of two 256 x 256 pairs has shape {tuple(out.shape)}",
                 "(2, 1, 30, 30): one logit per overlapping 70 x 70 patch",
                 "the strides (2, 2, 2, 1, 1) and padding 1 of your convs")
        joined = D(torch.cat([x, y], dim=1))
        if tuple(joined.shape) != (2, 1, 30, 30) or not torch.allclose(joined, out, atol=1e-5):
            fail("D(torch.cat([x, y], 1)) differs from D(x, y)",
                 "the same logits: with y=None, x is already the 6-channel pair",
                 "your `forward`: join x and y only when y is given")
    passed("D(x, y): (2, 1, 30, 30) logits for two 256 x 256 pairs; 2,768,705 parameters")


def patch_discriminator_shapes_more(student_cls):
    """Hidden: 512 input, InstanceNorm parameter count."""
    ensure_own_code(student_cls, "PatchDiscriminator", allowed=_ALLOWED)
    D = _make(student_cls, ndf=8).eval()
    with torch.no_grad():
        out = D(torch.randn(1, 3, 512, 512), torch.randn(1, 3, 512, 512))
    if tuple(out.shape) != (1, 1, 62, 62):
        fail(f"a 512 x 512 pair gives logits of shape {tuple(out.shape)}", "(1, 1, 62, 62)",
             "your `forward`: D is fully convolutional, nothing may assume 256 x 256")
    n = sum(p.numel() for p in _make(student_cls, norm="instance").parameters())
    if n != PARAMS_70_INSTANCE:
        fail(f"PatchDiscriminator(norm='instance') has {n:,} parameters",
             f"{PARAMS_70_INSTANCE:,}: InstanceNorm without affine parameters, so the convs keep a bias",
             "how `norm` chooses the norm layer and the conv biases")
    passed("a 512 pair gives 62 x 62 logits; InstanceNorm variant has 2,767,809 parameters")


def patch_discriminator_matches_reference(student_cls):
    """Load the reference's weights; the logits must then be the reference's, in eval and train mode."""
    ensure_own_code(student_cls, "PatchDiscriminator", allowed=_ALLOWED)
    torch.manual_seed(1)
    ref = ref_models.PatchDiscriminator()
    D = _make(student_cls)
    result = None
    try:
        result = D.load_state_dict(ref.state_dict())
    except RuntimeError as e:
        fail(f"the reference weights do not load into your D: {str(e).splitlines()[0]} "
             f"{' '.join(l.strip() for l in str(e).splitlines()[1:3])}",
             "the same layers in the same order in self.model, so names (model.0.weight, ...) and shapes match",
             "self.model: run print(PatchDiscriminator()) next to p2p_ref's and compare")
    del result
    x, y = torch.randn(2, 3, 256, 256), torch.randn(2, 3, 256, 256)
    for mode in ("eval", "train"):
        ref.train(mode == "train")
        D.train(mode == "train")
        with torch.no_grad():
            want, got = ref(x, y), D(x, y)
        if got.shape != want.shape:
            fail(f"with the reference weights your D gives shape {tuple(got.shape)} ({mode} mode)",
                 f"{tuple(want.shape)}", "your `forward`")
        if torch.allclose(got, want, atol=1e-4, rtol=1e-4):
            continue
        if torch.allclose(got, torch.sigmoid(want), atol=1e-4):
            fail("your D's output is sigmoid(logits): every value lies in (0, 1)",
                 "raw logits: no sigmoid in D (BCEWithLogits applies it inside the loss)",
                 "the end of `forward` / `self.model`")
        with torch.no_grad():
            swapped = ref(y, x)
        if torch.allclose(got, swapped, atol=1e-4):
            fail("your D joins the pair as (y, x)", "torch.cat([x, y], dim=1): the condition x first",
                 "the torch.cat in your `forward`")
        diff = (got - want).abs().max().item()
        fail(f"with the reference's weights your D's logits differ from the reference's by up to {diff:.3g} "
             f"({mode} mode)", "the same logits (up to 1e-4)",
             "`forward`: it should be the concat followed by self.model, nothing else")
    passed("with the reference's weights your D gives exactly the reference's logits (eval and train mode)")


def patch_discriminator_variants(student_cls):
    """n_layers sets the patch: 0 (PixelGAN, 1 x 1) -> 1, 1 -> 16, 2 -> 34, 3 -> 70, 4 -> 142, 5 -> 286."""
    ensure_own_code(student_cls, "PatchDiscriminator", allowed=_ALLOWED)
    for n_layers, field in FIELD_BY_N_LAYERS.items():
        D = _make(student_cls, n_layers=n_layers, ndf=8).eval()
        _student_layers(D, f"PatchDiscriminator(n_layers={n_layers})")
        got = ref_rf.receptive_field(D).size
        if got != field:
            fail(f"PatchDiscriminator(n_layers={n_layers}) has a {got} x {got} receptive field",
                 f"{field} x {field}" + (" (the 1 x 1 PixelGAN: three 1 x 1 convs)" if n_layers == 0 else
                                        f": {n_layers} stride-2 convs, then two stride-1 convs"),
                 "how your `__init__` uses n_layers (the loop and the n_layers = 0 branch)")
        with torch.no_grad():
            out = D(torch.randn(1, 3, 256, 256), torch.randn(1, 3, 256, 256))
        side = OUTPUT_BY_N_LAYERS[n_layers]
        if tuple(out.shape) != (1, 1, side, side):
            fail(f"PatchDiscriminator(n_layers={n_layers}) gives {tuple(out.shape)} for a 256 pair",
                 f"(1, 1, {side}, {side})", "how your `__init__` uses n_layers")
        want = sum(p.numel() for p in ref_models.PatchDiscriminator(n_layers=n_layers, ndf=8).parameters())
        got_n = sum(p.numel() for p in D.parameters())
        if got_n != want:
            fail(f"PatchDiscriminator(n_layers={n_layers}, ndf=8) has {got_n:,} parameters",
                 f"{want:,} (widths ndf * min(2**n, 8))", "the channel widths in your loop")
    pixel = _make(student_cls, n_layers=0, ndf=8)
    measured = ref_rf.measure_receptive_field(pixel, input_size=16)
    if measured != 1:
        fail(f"the gradient of one PixelGAN output reaches {measured} x {measured} input pixels",
             "1 x 1: each output judges one pixel", "the n_layers = 0 branch: 1 x 1 convs only")
    passed("n_layers 0..5 give fields 1, 16, 34, 70, 142, 286 and grids 256, 126, 62, 30, 14, 6")
