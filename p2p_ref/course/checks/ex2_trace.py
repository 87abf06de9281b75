"""Lesson 2's modules read by what their forward pass runs, not by their attribute names.

`trace` hooks every leaf module of a block or a generator and records, in the order they run, the
convolutions (Conv2d and ConvTranspose2d, with copies of their inputs and outputs) and the other
layers in the gaps between them. Two traces, the student's and p2p_ref.paper.models', are compared
step by step (`explain_difference`: kinds, channels, geometry, bias, the activation before each
convolution, the norm, dropout and Tanh after it), with messages in the words of the paper's
appendix 6.1.1. `transplant` copies the reference's weights into the student's layers in forward
order, so that the two can be compared by what they compute, whatever the student's layout
(nn.Sequential, nn.ModuleList, nn.ModuleDict, a recursive block as in the official code, a helper
function per layer, in-place activations).
"""

import torch
from torch import nn

from p2p_ref.course.checks.common import fail

CONVS = (nn.Conv2d, nn.ConvTranspose2d)
NORMS = (nn.modules.batchnorm._BatchNorm, nn.modules.instancenorm._InstanceNorm, nn.GroupNorm, nn.LayerNorm)
ACTIVATIONS = (nn.LeakyReLU, nn.ReLU, nn.ELU, nn.SELU, nn.GELU, nn.SiLU, nn.PReLU)


def harmless(m):
    """Layers that change nothing: nn.Identity (e.g. norm="none") and Dropout(0)."""
    return isinstance(m, nn.Identity) or (isinstance(m, nn.Dropout) and m.p == 0)


def short(m):
    """A layer in a few words: `ConvTranspose2d(1024 -> 512, kernel 4, stride 2, padding 1, bias=False)`."""
    if isinstance(m, CONVS):
        return (f"{type(m).__name__}({m.in_channels} -> {m.out_channels}, kernel {m.kernel_size[0]}, stride "
                f"{m.stride[0]}, padding {m.padding[0]}, bias={m.bias is not None})")
    if isinstance(m, NORMS):
        c = getattr(m, "num_features", getattr(m, "num_channels", ""))
        flags = ""
        if isinstance(m, nn.modules.batchnorm._NormBase):
            defaults = (True, True) if isinstance(m, nn.modules.batchnorm._BatchNorm) else (False, False)
            if (m.affine, m.track_running_stats) != defaults:
                flags = f", affine={m.affine}, track_running_stats={m.track_running_stats}"
        return f"{type(m).__name__}({c}{flags})"
    if isinstance(m, nn.LeakyReLU):
        return f"LeakyReLU({m.negative_slope:g})"
    if isinstance(m, nn.Dropout):
        return f"Dropout({m.p:g})"
    return type(m).__name__


class Trace:
    """One forward pass: the convs in order with copies of their inputs and outputs, the other layers
    in the gaps between them (gaps[0] before the first conv, gaps[k + 1] after conv k), the output."""

    def __init__(self):
        self.convs, self.conv_in, self.conv_out, self.gaps = [], [], [], [[]]
        self.output = self.error = self.entered = self.crashed_conv = None

    def layers(self, k):
        """The gap after conv k - 1 (k = 0: before the first conv), without harmless layers."""
        return [m for m in self.gaps[k] if not harmless(m)]


def trace(module, *inputs, keep_error=False):
    """Run module(*inputs) without autograd on copies of the inputs and record it. With keep_error a
    crash is kept in .error (what ran before it is still recorded)."""
    t = Trace()

    def enter(m, args):
        t.entered = (m, args[0].detach().clone() if isinstance(args[0], torch.Tensor) else None)

    def hook(m, args, out):
        t.entered = None
        if isinstance(m, CONVS):
            t.convs.append(m)
            t.conv_in.append(args[0].detach().clone())   # copies: in-place activations come next
            t.conv_out.append(out.detach().clone())
            t.gaps.append([])
        else:
            t.gaps[-1].append(m)

    leaves = [m for m in module.modules() if isinstance(m, CONVS) or not any(True for _ in m.children())]
    handles = [m.register_forward_hook(hook) for m in leaves]
    handles += [m.register_forward_pre_hook(enter) for m in leaves if isinstance(m, CONVS)]
    try:
        with torch.no_grad():
            t.output = module(*[x.clone() if isinstance(x, torch.Tensor) else x for x in inputs])
    except Exception as e:  # noqa: BLE001 - the student's forward may raise anything
        if not keep_error:
            raise
        t.error = e
        if t.entered is not None:   # it crashed inside a conv: keep it, to compare its channels
            t.crashed_conv = t.entered[0]
            t.convs.append(t.entered[0])
            t.conv_in.append(t.entered[1])
            t.gaps.append([])
    finally:
        for h in handles:
            h.remove()
    return t


def weighted(t):
    """The layers that hold weights or statistics, in the order they first ran."""
    seen, out, order = set(), [], list(t.gaps[0])
    for conv, gap in zip(t.convs, t.gaps[1:]):
        order += [conv, *gap]
    for m in order:
        if id(m) in seen:
            continue
        seen.add(id(m))
        if any(True for _ in m.parameters(recurse=False)) or any(True for _ in m.buffers(recurse=False)):
            out.append(m)
    return out


def transplant(mine, theirs):
    """Copy the reference's weights and statistics into the student's layers, pairing them in forward
    order. Returns False (and copies nothing) when the layers do not pair up one to one."""
    a, b = weighted(mine), weighted(theirs)
    if len(a) != len(b):
        return False
    for m, r in zip(a, b):
        if type(m) is not type(r):
            return False
        own, other = m.state_dict(), r.state_dict()
        if sorted(own) != sorted(other) or any(own[k].shape != other[k].shape for k in other):
            return False
    for m, r in zip(a, b):
        m.load_state_dict(r.state_dict())
    return True


# --------------------------------------------------------------------------------------------
# the most specific difference between two traces, in the paper's words

ENCODER_LEAKY = "LeakyReLU(0.2): \"All ReLUs in the encoder are leaky, with slope 0.2\" (appendix 6.1.1)"
DECODER_RELU = "ReLU: \"ReLUs in the decoder are not leaky\" (appendix 6.1.1)"
GEOMETRY = ("kernel 4 and stride 2 (\"4 x 4 spatial filters applied with stride 2\", appendix 6.1), with the "
            "padding that makes every step exactly halve (down) or double (up) the height and width")


def _split(layers):
    """A gap's layers: (those that finish the previous conv's step, the activation of the next step)."""
    acts = [m for m in layers if isinstance(m, ACTIVATIONS)]
    return [m for m in layers if not isinstance(m, ACTIVATIONS)], acts


def _no_norm_reason(step):
    return {"first": "the first layer, C64, has no BatchNorm (appendix 6.1.1): it sees the image itself",
            "innermost": "the innermost layer (the 1 x 1 bottleneck) must have no normalisation: at batch "
                         "size 1 BatchNorm would turn each of its channels into a constant",
            "last": "the last layer maps to the output channels and ends with Tanh, with no norm"}.get(
        step["role"], "no norm after this convolution")


def _compare_activation(mine, theirs, step, where):
    name = step["name"]
    if not theirs and mine:
        fail(f"{name} is preceded by {short(mine[0])}",
             "nothing before the first convolution: it sees the image itself (C64 has no norm and no "
             "activation before it)", where)
    if theirs and not mine:
        fail(f"nothing comes before the convolution of {name}",
             ENCODER_LEAKY if isinstance(theirs[0], nn.LeakyReLU) else DECODER_RELU, where)
    if not theirs:
        return
    m, r = mine[-1], theirs[-1]
    if type(m) is not type(r):
        fail(f"{name} is preceded by {short(m)}",
             ENCODER_LEAKY if isinstance(r, nn.LeakyReLU) else DECODER_RELU, where)
    if isinstance(r, nn.LeakyReLU) and m.negative_slope != r.negative_slope:
        fail(f"{name} is preceded by LeakyReLU({m.negative_slope:g})", ENCODER_LEAKY, where)


def _compare_conv(m, r, step, where):
    name = step["name"]
    if type(m) is not type(r):
        how = ("the decoder up-samples with transposed convolutions (ConvTranspose2d)"
               if isinstance(r, nn.ConvTranspose2d) else "the encoder down-samples with strided convolutions")
        fail(f"{name} is a {type(m).__name__}", f"a {type(r).__name__}: {how}", where)
    if (m.kernel_size[0], m.stride[0], m.padding[0]) != (r.kernel_size[0], r.stride[0], r.padding[0]) or \
            m.kernel_size[0] != m.kernel_size[-1] or m.stride[0] != m.stride[-1]:
        fail(f"{name} is {short(m)}", GEOMETRY, where)
    if (m.in_channels, m.out_channels) != (r.in_channels, r.out_channels):
        fail(f"{name} is {short(m)}: it reads {m.in_channels} channels and makes {m.out_channels}",
             f"{r.in_channels} -> {r.out_channels}{step.get('channels', '')}", where)
    if (m.bias is None) != (r.bias is None):
        fail(f"{name} is {short(m)}",
             "bias=False: BatchNorm follows this convolution and its shift does the bias's job"
             if r.bias is None else "bias=True: no BatchNorm follows this convolution", where)


def _compare_after(mine, theirs, step, where):
    """What finishes a step after its convolution: the norm, Dropout, Tanh, in this order."""
    name = step["name"]
    kinds = [short(m) for m in mine]
    want = [short(r) for r in theirs]
    m_norm = [m for m in mine if isinstance(m, NORMS)]
    r_norm = [r for r in theirs if isinstance(r, NORMS)]
    if m_norm and not r_norm:
        fail(f"{name} has {short(m_norm[0])} after its convolution", _no_norm_reason(step), where)
    if r_norm and not m_norm:
        fail(f"{name} has no norm after its convolution", f"{short(r_norm[0])}: Convolution-BatchNorm-ReLU "
             f"(\"Ck\", appendix 6.1)", where)
    if r_norm and (type(m_norm[0]) is not type(r_norm[0]) or short(m_norm[0]) != short(r_norm[0])):
        extra = (": the paper normalises with BatchNorm (at batch size 1 it acts like instance norm, but it "
                 "is BatchNorm)" if isinstance(r_norm[0], nn.BatchNorm2d) else "")
        fail(f"{name} has {short(m_norm[0])}", f"{short(r_norm[0])}{extra}", where)
    m_drop = [m for m in mine if isinstance(m, nn.Dropout)]
    r_drop = [r for r in theirs if isinstance(r, nn.Dropout)]
    if r_drop and not m_drop:
        fail(f"{name} does not drop out", f"Dropout({r_drop[0].p:g}) after its norm{step.get('dropout', '')}",
             where)
    if m_drop and not r_drop:
        fail(f"{name} has {short(m_drop[0])}", f"no dropout here{step.get('dropout', '')}", where)
    if r_drop and m_drop[0].p != r_drop[0].p:
        fail(f"{name} has {short(m_drop[0])}", f"Dropout({r_drop[0].p:g}), the `dropout` argument", where)
    m_tanh, r_tanh = any(isinstance(m, nn.Tanh) for m in mine), any(isinstance(r, nn.Tanh) for r in theirs)
    if r_tanh and not m_tanh:
        fail(f"{name} does not end with Tanh", "Tanh after the last convolution: the output in [-1, 1], "
             "the range of the images", where)
    if m_tanh and not r_tanh:
        fail(f"{name} ends with Tanh", "Tanh only after the last layer of the generator", where)
    if sorted(kinds) == sorted(want) and kinds != want:
        fail(f"{name}: after the convolution come {' -> '.join(kinds)}",
             f"{' -> '.join(want)} (Convolution-BatchNorm-Dropout-ReLU, appendix 6.1)", where)
    if kinds != want:
        fail(f"{name}: after the convolution come {' -> '.join(kinds) or 'no layers'}",
             ' -> '.join(want) or "no layers", where)


def explain_difference(mine, theirs, steps, where):
    """Fail with the first difference between the two traces, in forward order. steps[k] names the
    reference's conv k ({"name", "role", and optional "channels" and "dropout" notes)."""
    for t in (mine,):
        for m in [m for gap in t.gaps for m in gap]:
            if isinstance(m, (nn.MaxPool2d, nn.AvgPool2d)):
                fail(f"the forward pass runs {type(m).__name__}", "no pooling: the stride-2 convolutions "
                     "down-sample (appendix 6.1)", where)
            if isinstance(m, nn.Upsample):
                fail("the forward pass runs Upsample", "no Upsample: stride-2 transposed convolutions "
                     "up-sample (appendix 6.1)", where)
    if mine.error is None and len(mine.convs) != len(theirs.convs):
        fail(f"the forward pass runs {len(mine.convs)} convolutions",
             f"{len(theirs.convs)}: {steps[0]['name']} ... {steps[-1]['name']}", where)
    for k, (step, r) in enumerate(zip(steps, theirs.convs)):
        if k >= len(mine.convs):
            error = f"{type(mine.error).__name__}: {mine.error}" if mine.error is not None else "no error"
            fail(f"the forward pass stops after {steps[k - 1]['name'] if k else 'its start'} with {error}",
                 f"{len(theirs.convs)} convolutions: {steps[0]['name']} ... {steps[-1]['name']}; next "
                 f"{step['name']}{step.get('channels', '')}", where)
        _compare_activation(_split(mine.layers(k))[1], _split(theirs.layers(k))[1], step, where)
        _compare_conv(mine.convs[k], r, step, where)
        if mine.convs[k] is mine.crashed_conv:
            given = mine.conv_in[k]
            fail(f"{step['name']} cannot run: it is given {list(given.shape) if given is not None else 'no tensor'}, "
                 f"and its convolution reads {mine.convs[k].in_channels} channels ({type(mine.error).__name__}: "
                 f"{mine.error})", f"an input of {r.in_channels} channels{step.get('channels', '')}", where)
        if k + 1 < len(mine.gaps):
            _compare_after(_split(mine.layers(k + 1))[0], _split(theirs.layers(k + 1))[0], step, where)
    for k, (a, b) in enumerate(zip(mine.conv_out, theirs.conv_out)):
        if a.shape != b.shape:
            fail(f"{steps[k]['name']} gives {list(a.shape)}", f"{list(b.shape)}", where)
