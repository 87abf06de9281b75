"""Exercise 3.6's PatchDiscriminator against the reference, by what its forward pass runs.

The student's class is not read by its attribute names: `_trace` hooks every layer and records
the forward pass; `_compare_structure` compares, in the order they run, the convolutions, the norm
layers between them and what is computed from one conv to the next with
p2p_ref.paper.models.PatchDiscriminator (sec. 3.2.2, appendix 6.1.2); `_compare_computation`
copies the reference's weights into the student's layers in forward order and compares the
logits. The graded checks built on these are in ex3_discriminator.
"""

import inspect
import math

import torch
import torch.nn.functional as F
from torch import nn

from p2p_ref.paper import receptive_field as ref_rf
from p2p_ref.course.checks.common import fail


_NORM_TYPES = (nn.modules.batchnorm._BatchNorm, nn.modules.instancenorm._InstanceNorm, nn.GroupNorm,
               nn.LayerNorm)
NORM_SPEC = {"batch": "nn.BatchNorm2d(c) (PyTorch's defaults: learnable scale and shift, running statistics)",
             "instance": "nn.InstanceNorm2d(c) (PyTorch's defaults: no parameters, no running statistics)",
             "none": "a layer that changes nothing and has no parameters: nn.Identity()"}


def state_names(m):
    """The names and shapes of a module's own parameters, and the names of its buffers."""
    params = tuple((n, tuple(p.shape)) for n, p in m.named_parameters())
    return params, tuple(sorted(n for n, _ in m.named_buffers()))


_SQUASH = (nn.Sigmoid, nn.Tanh)
_ACTIVATIONS = (nn.LeakyReLU, nn.ReLU, nn.ELU, nn.SELU, nn.GELU, nn.SiLU, nn.PReLU, nn.Softplus, nn.Hardtanh)


def short(m):
    if isinstance(m, nn.Conv2d):
        extra = "".join(f", {name} {getattr(m, name)}" for name, default in
                        (("dilation", (1, 1)), ("groups", 1), ("padding_mode", "zeros"))
                        if getattr(m, name) != default)
        return (f"Conv2d({m.in_channels} -> {m.out_channels}, kernel {m.kernel_size[0]}, stride "
                f"{m.stride[0]}, padding {m.padding[0]}, bias={m.bias is not None}{extra})")
    if isinstance(m, _NORM_TYPES):
        c = getattr(m, "num_features", getattr(m, "num_channels", ""))
        flags = ""
        if isinstance(m, nn.modules.batchnorm._NormBase):
            defaults = (True, True) if isinstance(m, nn.modules.batchnorm._BatchNorm) else (False, False)
            if (m.affine, m.track_running_stats) != defaults:
                flags = f", affine={m.affine}, track_running_stats={m.track_running_stats}"
        return f"{type(m).__name__}({c}{flags})"
    if isinstance(m, nn.LeakyReLU):
        return f"LeakyReLU({m.negative_slope:g})"
    return type(m).__name__


def _is_norm(m):
    """A normalization layer, or any other module with its own parameters or buffers between convs."""
    if isinstance(m, _NORM_TYPES):
        return True
    if isinstance(m, (nn.Conv2d, nn.PReLU)):
        return False
    return any(True for _ in m.parameters()) or any(True for _ in m.buffers())


class _Trace:
    """What one forward pass ran: the convs in order with a copy of their inputs and outputs, and the
    other modules in the gaps between them (gaps[0] before the first conv, gaps[i] after conv i)."""

    def __init__(self):
        self.convs, self.conv_in, self.conv_out, self.gaps, self.output = [], [], [], [[]], None
        self.entered = self.error = None  # the module running now; what the forward raised

    def norms(self, i):
        return [m for m in self.gaps[i] if _is_norm(m)]


def _trace(D, *inputs, keep_error=False):
    """Run D(*inputs) and record it. With keep_error, a crash is kept in .error and the module it
    happened in counts as run (so the structure up to it can still be compared)."""
    t = _Trace()

    def enter(module, args):
        t.entered = module

    def hook(module, args, out):
        t.entered = None
        if isinstance(module, nn.Conv2d):
            t.convs.append(module)
            t.conv_in.append(args[0].detach().clone())  # clones: in-place LeakyReLUs come next
            t.conv_out.append(out.detach().clone())
            t.gaps.append([])
        else:
            t.gaps[-1].append(module)

    leaves = [m for m in D.modules() if isinstance(m, nn.Conv2d) or not any(True for _ in m.children())]
    handles = [m.register_forward_hook(hook) for m in leaves] + [m.register_forward_pre_hook(enter) for m in leaves]
    try:
        with torch.no_grad():
            t.output = D(*inputs)
    except Exception as e:  # noqa: BLE001 - the student's forward may raise anything
        if not keep_error:
            raise
        t.error = e
        if isinstance(t.entered, nn.Conv2d):
            t.convs.append(t.entered)
            t.gaps.append([])
        elif t.entered is not None:
            t.gaps[-1].append(t.entered)
    finally:
        for h in handles:
            h.remove()
    return t


def _error(e):
    return f"{type(e).__name__}: {e}" if str(e) else type(e).__name__


def _label(kwargs):
    return f"PatchDiscriminator({', '.join(f'{k}={v!r}' for k, v in kwargs.items())})"


def _make(student_cls, **kwargs):
    try:
        inspect.signature(student_cls).bind(in_channels=6, ndf=64, n_layers=3, norm="batch")
    except TypeError as e:
        fail(f"PatchDiscriminator(in_channels=..., ndf=..., n_layers=..., norm=...) does not fit your class's "
             f"signature: {e}",
             "the signature PatchDiscriminator(in_channels=6, ndf=64, n_layers=3, norm=\"batch\")",
             "your `__init__` signature")
    except ValueError:  # no signature to read (e.g. a C type); calling it will tell
        pass
    try:
        return student_cls(**kwargs)
    except Exception as e:  # noqa: BLE001 - report the student's error in plain words
        fail(f"{_label(kwargs)} raised {_error(e)}", "a discriminator built without errors",
             "your `__init__`")


def _run(D, label, *inputs, trace=False):
    """D(*inputs), or its trace; a crash becomes a plain-words failure."""
    try:
        return _trace(D, *inputs) if trace else D(*inputs)
    except Exception as e:  # noqa: BLE001
        _crashed(e, label, inputs)


def _crashed(e, label, inputs):
    shapes = ", ".join(str(tuple(t.shape)) for t in inputs)
    fail(f"{label} raised {_error(e)} on inputs of shape {shapes}",
         "logits of shape (N, 1, H', W')", "your `forward` and the channel counts of your layers")


def _names(D):
    return {id(m): name for name, m in D.named_modules() if name}


def _conv_where(D, convs, i, want):
    name = _names(D).get(id(convs[i])) if i < len(convs) else None
    return f"conv {i + 1} of your forward{f' (your `{name}`)' if name else ''}: expected {short(want)}"


def _gap_label(i, n):
    return ("before the first conv" if i == 0 else f"after the last conv (conv {i})" if i == n
            else f"between conv {i} and conv {i + 1}")


def _compare_conv_count(got, want, label):
    g, w = got.convs, want.convs
    if not g:
        fail(f"{label}: no nn.Conv2d runs in your forward", f"{len(w)} convolutions, called as modules",
             "your `forward`: call each layer as a module, e.g. self.model(x) or self.conv(x)")
    if len(g) < len(w):
        fail(f"{label}: your forward runs {len(g)} convolutions",
             f"{len(w)}; the next missing one is conv {len(g) + 1} = {short(w[len(g)])}",
             "the end of your layers: the last conv maps to 1 channel")
    if len(g) > len(w):
        fail(f"{label}: your forward runs an extra convolution, conv {len(w) + 1} = {short(g[len(w)])}",
             f"{len(w)} convolutions ending with {short(w[-1])}", "the end of your layers")


def _compare_conv(D, got, want, i, label):
    """Conv i (0-based) of D's forward against the reference's."""
    g, w = got.convs, want.convs
    where = _conv_where(D, g, i, w[i])
    for attr, what in (("in_channels", "input channels"), ("out_channels", "output channels"),
                       ("kernel_size", "kernel size"), ("padding", "padding"), ("dilation", "dilation"),
                       ("groups", "groups"), ("padding_mode", "padding mode")):
        got_v, want_v = getattr(g[i], attr), getattr(w[i], attr)
        if got_v != want_v:
            show = (lambda v: v[0] if isinstance(v, tuple) and len(set(v)) == 1 else v)
            fail(f"{label}: conv {i + 1} has {what} {show(got_v)}", f"{what} {show(want_v)}: {short(w[i])}",
                 where)
    if g[i].stride != w[i].stride:
        geometry = [(c.kernel_size[0], c.stride[0], c.padding[0]) for c in g]
        try:
            side = ref_rf.output_size(geometry, 256)
            effect = f"; a 256 x 256 pair then gives {side} x {side} logits"
        except ValueError:
            effect = ""
        fail(f"{label}: conv {i + 1} has stride {g[i].stride[0]}{effect}",
             f"stride {w[i].stride[0]} (strides 2, ..., 2, 1, 1: the last two convs keep the size)", where)
    if (g[i].bias is None) != (w[i].bias is None):
        why = ("a conv followed by BatchNorm needs no bias (BatchNorm's shift does that job), and the "
               "reference's weights have none" if w[i].bias is None else
               "this conv has a bias (it is not followed by BatchNorm)")
        fail(f"{label}: conv {i + 1} has bias={g[i].bias is not None}", f"bias={w[i].bias is not None}: {why}",
             where)


def _gap_where(D, got, i, n, functions=False):
    names = _names(D)
    ran = ", ".join(short(m) + (f" (`{names[id(m)]}`)" if id(m) in names else "") for m in got.gaps[i])
    parts = [f"your forward runs there: {ran}"] if ran else []
    if functions:
        parts.append("and the functions your forward applies there" if ran else
                     "the functions your forward applies there")
    return f"your layers {_gap_label(i, n)}" + (f" ({', '.join(parts)})" if parts else "")


def _compare_gap(D, got, want, i, label):
    """The modules D runs in gap i (the norms, and the activations it calls as modules)."""
    n = len(want.convs)
    mods, norms, want_norms = got.gaps[i], got.norms(i), want.norms(i)
    where = _gap_where(D, got, i, n)
    if i == n:
        for m in mods:
            if isinstance(m, _SQUASH):
                fail(f"{label}: {type(m).__name__} runs after the last conv, so every output lies in "
                     f"{'(0, 1)' if isinstance(m, nn.Sigmoid) else '(-1, 1)'}",
                     "no squashing at the end: D outputs raw logits (BCEWithLogits applies the sigmoid, "
                     "exactly and without overflow)", "the end of your layers / forward")
            if isinstance(m, _ACTIVATIONS):
                fail(f"{label}: {short(m)} runs after the last conv", "nothing that changes the last "
                     "conv's output: it is the logits", "the end of your layers / forward")
    for j, m in enumerate(mods):
        if isinstance(m, nn.modules.dropout._DropoutNd):
            fail(f"{label}: {short(m)} runs {_gap_label(i, n)}", "no dropout in D (the paper's D has none)", where)
        if isinstance(m, _ACTIVATIONS) and any(_is_norm(later) for later in mods[j + 1:]):
            fail(f"{label}: {short(m)} runs before the norm {_gap_label(i, n)}",
                 "conv -> norm -> LeakyReLU(0.2): the norm comes first", where)
        if isinstance(m, nn.ReLU):
            fail(f"{label}: a ReLU runs {_gap_label(i, n)}", "LeakyReLU(0.2) everywhere in D", where)
        if isinstance(m, nn.LeakyReLU) and not math.isclose(m.negative_slope, 0.2):
            fail(f"{label}: the LeakyReLU {_gap_label(i, n)} has negative slope {m.negative_slope:g}"
                 + (" (PyTorch's default)" if math.isclose(m.negative_slope, 0.01) else ""),
                 "LeakyReLU(0.2)", where)
    if len(norms) != len(want_norms):
        if not want_norms and i == 1:
            fail(f"{label}: the first conv is followed by {short(norms[0])}",
                 "no norm on the first layer (C64 in the paper has none): conv -> LeakyReLU(0.2)", where)
        if not want_norms:
            fail(f"{label}: {short(norms[0])} runs {_gap_label(i, n)}", "no norm layer there", where)
        if not norms:
            fail(f"{label}: no norm layer runs {_gap_label(i, n)}",
                 f"{short(want_norms[0])} after every conv except the first and the last", where)
        fail(f"{label}: {len(norms)} norm layers run {_gap_label(i, n)}", short(want_norms[0]), where)
    for g, w in zip(norms, want_norms):
        kind = (lambda m: "batch" if isinstance(m, nn.modules.batchnorm._BatchNorm) else
                "instance" if isinstance(m, nn.modules.instancenorm._InstanceNorm) else type(m).__name__)
        same_kind = kind(g) == kind(w) or not isinstance(g, (nn.modules.batchnorm._BatchNorm,
                                                             nn.modules.instancenorm._InstanceNorm))
        channels = getattr(g, "num_features", w.num_features)
        if not same_kind or channels != w.num_features or state_names(g) != state_names(w):
            (g_params, g_buffers), (w_params, w_buffers) = state_names(g), state_names(w)
            extra = "" if not same_kind or type(g) is not type(w) else (
                f" with learnable parameters {[p for p, _ in g_params]} (affine=True)" if g_params and not w_params
                else f" with running statistics {list(g_buffers)}" if g_buffers and not w_buffers else "")
            spec = ("learnable scale and shift, running statistics" if isinstance(w, nn.BatchNorm2d) else
                    "no parameters and no running statistics (PyTorch's defaults)")
            fail(f"{label}: {short(g)} runs {_gap_label(i, n)}{extra}", f"{short(w)}: {spec}", where)


def _pair(in_channels, size, batch=2):
    """x and y whose concatenation has in_channels channels (3 + 3 for the paper's D)."""
    c = in_channels // 2
    return torch.randn(batch, c, size, size), torch.randn(batch, in_channels - c, size, size)


def _compare_structure(D, ref, label, x, y):
    """Fail at the first conv, norm or activation module of D's forward (in the order it runs them)
    that differs from the reference's. Returns both traces, to copy weights in forward order."""
    got = _trace(D.eval(), x, y, keep_error=True)
    want = _trace(ref.eval(), x, y)
    n, m = len(want.convs), len(got.convs)
    for i in range(min(n, m)):
        _compare_gap(D, got, want, i, label)
        _compare_conv(D, got, want, i, label)
    if got.error is not None:  # the layers up to the crash are right: was it a norm of the wrong width?
        if m <= n and any(_is_norm(mod) for mod in got.gaps[m]):
            _compare_gap(D, got, want, m, label)
        _crashed(got.error, f"{label}(x, y)", (x, y))
    _compare_conv_count(got, want, label)
    _compare_gap(D, got, want, n, label)
    return got, want


def _randomize(ref, seed):
    """Give the reference non-trivial biases, norm shifts and running statistics."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in ref.modules():
            if isinstance(m, nn.Conv2d) and m.bias is not None:
                m.bias.copy_(torch.randn(m.bias.shape, generator=g) * 0.05)
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.bias.copy_(torch.randn(m.bias.shape, generator=g) * 0.1)
                m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=g) * 0.1)
                m.running_var.copy_(torch.rand(m.running_var.shape, generator=g) + 0.5)
    return ref


def _copy_weights(got, want):
    """Copy the reference's conv and norm state into the student's modules, in forward order."""
    with torch.no_grad():
        pairs = list(zip(got.convs, want.convs))
        for i in range(len(want.gaps)):
            pairs += list(zip(got.norms(i), want.norms(i)))
        for g, w in pairs:
            for (_, gp), (_, wp) in zip(g.named_parameters(), w.named_parameters()):
                gp.copy_(wp)
            for (_, gb), (_, wb) in zip(g.named_buffers(), w.named_buffers()):
                gb.copy_(wb)


def _close(a, b):
    return isinstance(a, torch.Tensor) and a.shape == b.shape and torch.allclose(a, b, atol=1e-4, rtol=1e-4)


def _gap_hints(h, norm):
    """What the usual slips compute from a conv output h, given the gap's reference norm (or None)."""
    n = norm(h) if norm is not None else h
    hints = [("the LeakyReLU is missing", n),
             ("ReLU instead of LeakyReLU(0.2)", F.relu(n)),
             ("a LeakyReLU with PyTorch's default slope 0.01 (nn.LeakyReLU() or F.leaky_relu(x)) "
              "instead of 0.2", F.leaky_relu(n, 0.01))]
    if norm is not None:
        hints += [("the norm is missing", F.leaky_relu(h, 0.2)),
                  ("the LeakyReLU comes before the norm", norm(F.leaky_relu(h, 0.2)))]
    return hints + [("nothing at all runs there", h)]


def _compare_computation(D, got, want, label, mode):
    """Same weights, same input: find the first place where D computes something else."""
    n = len(want.convs)
    for i in range(n):
        if _close(got.conv_in[i], want.conv_in[i]):
            if not _close(got.conv_out[i], want.conv_out[i]):
                fail(f"{label}: with the reference's weights conv {i + 1} turns the same input into a "
                     f"different output ({mode} mode)", short(want.convs[i]),
                     "how your forward calls this conv")
            continue
        if i == 0:
            pair = want.conv_in[0]
            c = pair.shape[1] // 2
            if _close(got.conv_in[0], torch.cat([pair[:, c:], pair[:, :c]], dim=1)):
                fail("your D joins the pair as (y, x)",
                     "torch.cat([x, y], dim=1), the condition x first. This order is fixed on purpose: the "
                     "first conv has separate weights for x's and y's channels, and the official code, the "
                     "reference's weights and lessons 4 and 5 all feed D [x, y]", "the torch.cat in your `forward`")
            fail(f"{label}: the first conv does not receive the pair torch.cat([x, y], dim=1) ({mode} mode)",
                 "the 6-channel pair [x, y] unchanged (or x itself when y is None)", "your `forward`, before the first conv")
        norms = want.norms(i)
        with torch.no_grad():
            hints = _gap_hints(want.conv_out[i - 1], norms[0] if norms else None)
        hint = next((h for h, value in hints if _close(got.conv_in[i], value)), None)
        expected = " then ".join([short(m) for m in norms] + ["LeakyReLU(0.2)"])
        fail(f"{label}: {_gap_label(i, n)} your D computes something else than the reference ({mode} mode, "
             f"same weights)" + (f": {hint}" if hint else ""), expected, _gap_where(D, got, i, n, functions=True))
    out, ref_out = got.output, want.output
    if not isinstance(out, torch.Tensor) or out.shape != ref_out.shape:
        fail(f"{label} returns {tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__}",
             f"a tensor of shape {tuple(ref_out.shape)}: the last conv's output", "the end of your `forward`")
    if not _close(out, ref_out):
        for what, value in (("sigmoid(logits): every value lies in (0, 1)", torch.sigmoid(ref_out)),
                            ("tanh(logits): every value lies in (-1, 1)", torch.tanh(ref_out)),
                            ("an activation after the last conv", F.leaky_relu(ref_out, 0.2)),
                            ("an activation after the last conv", F.relu(ref_out))):
            if _close(out, value):
                fail(f"your D's output is {what}", "raw logits: nothing after the last conv (BCEWithLogits "
                     "applies the sigmoid inside the loss)", "the end of `forward` / your layers")
        fail(f"{label}: your D's output is not the last conv's output ({mode} mode)", "the last conv's output",
             "the end of your `forward`")
