"""Checks for lesson 2, the U-Net generator (sec. 3.2.1, appendix 6.1.1).

The block and model checks build the student's module next to p2p_ref.models with the same
arguments, compare the layers inside each `block` (activation, conv geometry and bias, norm,
dropout, Tanh), load the reference weights into the student's module and compare the outputs in
eval mode, block by block, so a failure names the first block that differs and how.
"""

import torch
from torch import nn

from p2p_ref import models as ref
from p2p_ref.checks.common import ensure_own_code, fail, passed
from p2p_ref.receptive_field import receptive_field

# Parameter counts of the official "unet_256" / "unet_128" (ngf 64, 3 -> 3 channels).
PARAMETERS = {(8, "batch"): 54_413_955, (8, "instance"): 54_409_603, (7, "batch"): 41_828_995}
ENCODER_STEP = "LeakyReLU(0.2) -> Conv2d(k4, s2, p1) -> BatchNorm2d"
DECODER_STEP = "ReLU -> ConvTranspose2d(k4, s2, p1) -> BatchNorm2d [-> Dropout(0.5)], then the skip"
_ACTIVATIONS = ("ReLU", "LeakyReLU")
_NORMS = ("BatchNorm2d", "InstanceNorm2d")


def _randn(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def _kinds(block):
    """Layer type names inside a block, without the Identity that stands for norm="none"."""
    return [type(m).__name__ for m in block if not isinstance(m, nn.Identity)]


def _geometry(m):
    return m.kernel_size[0], m.stride[0], m.padding[0]


def _build(cls, args, kwargs, name):
    shown = ", ".join([*map(repr, args), *(f"{k}={v!r}" for k, v in kwargs.items())])
    try:
        return cls(*args, **kwargs)
    except Exception as error:  # the student's constructor may fail in any way
        fail(f"`{name}({shown})` raised {type(error).__name__}: {error}",
             f"`{name}({shown})` builds a module", f"`{name}.__init__`: its signature and arguments")


def _explain_kinds(mine, theirs, name, where, dropout_note):
    """Fail with the most specific reason why two layer lists differ."""
    def has(kinds, *names):
        return any(k in names for k in kinds)
    expected = f"{name}: {' -> '.join(theirs)}"
    for pool in ("MaxPool2d", "AvgPool2d"):
        if pool in mine:
            fail(f"{name} uses {pool}", f"{expected}: pix2pix down-samples with stride-2 convs, no pooling", where)
    if "Upsample" in mine:
        fail(f"{name} uses Upsample", f"{expected}: pix2pix up-samples with stride-2 ConvTranspose2d", where)
    if "ReLU" in mine and "LeakyReLU" in theirs:
        fail(f"{name} uses ReLU", f"{expected}: the encoder uses LeakyReLU with slope 0.2 (appendix "
             f"6.1.1); plain ReLU belongs to the decoder", where)
    if "LeakyReLU" in mine and "ReLU" in theirs:
        fail(f"{name} uses LeakyReLU", f"{expected}: the decoder uses plain ReLU (appendix 6.1.1)", where)
    if has(theirs, *_ACTIVATIONS) and not has(mine, *_ACTIVATIONS):
        fail(f"{name} has no activation before its conv", expected, where)
    if has(mine, *_ACTIVATIONS) and not has(theirs, *_ACTIVATIONS):
        fail(f"{name} has an activation before its conv", f"{expected}: the outermost block e1 sees the "
             f"image itself, so nothing comes before its conv", where)
    if "BatchNorm2d" in theirs and "InstanceNorm2d" in mine:
        fail(f"{name} uses InstanceNorm2d for norm='batch'", f"{expected}: the paper normalizes with "
             f"BatchNorm (at batch size 1 it acts like instance norm, but it is BatchNorm)", where)
    for norm in _NORMS:
        if norm in theirs and not has(mine, *_NORMS):
            fail(f"{name} has no {norm} after its conv", expected, where)
    if has(mine, *_NORMS) and not has(theirs, *_NORMS):
        why = ("the last block ends with Tanh, not a norm" if "Tanh" in theirs else
               "the outermost block e1 has no norm" if "LeakyReLU" not in theirs else
               "the innermost block (the 1 x 1 bottleneck) has no norm")
        fail(f"{name} has a norm layer", f"{expected}: {why}", where)
    if "Dropout" in theirs and "Dropout" not in mine:
        fail(f"{name} has no Dropout", f"{expected}{dropout_note}", where)
    if "Dropout" in mine and "Dropout" not in theirs:
        fail(f"{name} has a Dropout", f"{expected}{dropout_note}", where)
    if "Tanh" in theirs and "Tanh" not in mine:
        fail(f"{name} does not end with Tanh", f"{expected}: Tanh puts the output in [-1, 1], like the "
             f"images", where)
    if "Tanh" in mine and "Tanh" not in theirs:
        fail(f"{name} has a Tanh", f"{expected}: only the outermost decoder ends with Tanh", where)
    if sorted(mine) == sorted(theirs):
        fail(f"{name} has the right layers in the wrong order: {' -> '.join(mine)}",
             f"{expected} (the activation comes first: it acts on the previous block's output)", where)
    fail(f"{name} has the layers {' -> '.join(mine) or 'none'}", expected, where)


def _compare_layers(mine, theirs, name, where, dropout_note=""):
    """Compare the layers in `block`: types and order, then conv geometry, bias and slopes
    (the widths are compared through the weight shapes in _load_reference)."""
    block = getattr(mine, "block", None)
    if not isinstance(block, nn.Sequential):
        fail(f"{name} has no `self.block` nn.Sequential",
             "the block's layers in `self.block = nn.Sequential(...)`, in order, so that the reference "
             "weights load (their names are block.1.weight, ...)", where)
    if _kinds(block) != _kinds(theirs.block):
        _explain_kinds(_kinds(block), _kinds(theirs.block), name, where, dropout_note)
    layers = [m for m in block if not isinstance(m, nn.Identity)]
    for m, r in zip(layers, [m for m in theirs.block if not isinstance(m, nn.Identity)]):
        kind = type(r).__name__
        if isinstance(r, nn.LeakyReLU) and m.negative_slope != r.negative_slope:
            fail(f"{name} uses LeakyReLU({m.negative_slope})", "LeakyReLU(0.2) (appendix 6.1.1)", where)
        if isinstance(r, (nn.Conv2d, nn.ConvTranspose2d)):
            if _geometry(m) != _geometry(r):
                fail(f"the {kind} in {name} has kernel {_geometry(m)[0]}, stride {_geometry(m)[1]}, "
                     f"padding {_geometry(m)[2]}",
                     f"kernel 4, stride 2, padding 1: every U-Net step halves (or doubles) the size", where)
            if (m.bias is None) != (r.bias is None):
                fail(f"the {kind} in {name} has {'no bias' if m.bias is None else 'a bias'}",
                     "bias=False when BatchNorm follows the conv (its shift does the bias's job)"
                     if r.bias is None else "bias=True here: no BatchNorm follows this conv", where)
        if isinstance(r, (nn.BatchNorm2d, nn.InstanceNorm2d)):
            if m.affine != r.affine:
                fail(f"the {kind} in {name} has affine={m.affine}",
                     f"affine={r.affine}: `nn.{kind}(channels)` with its defaults", where)
        if isinstance(r, nn.Dropout) and m.p != r.p:
            fail(f"{name} has Dropout(p={m.p})", f"Dropout(p={r.p}){dropout_note}", where)


def _shape_hint(key, mine, theirs, module):
    """What a weight shape says about the channels, in words."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)) and key.endswith("weight") and len(theirs) == 4:
        i, o = (1, 0) if isinstance(module, nn.Conv2d) else (0, 1)  # ConvTranspose2d stores [in, out, k, k]
        return (f"in_channels is {mine[i]}, expected {theirs[i]}; out_channels is {mine[o]}, "
                f"expected {theirs[o]}")
    return "check the channel numbers of this layer"


def _load_reference(mine, theirs, name, where, hint=lambda key: ""):
    """Compare state_dict names and shapes, then load the reference weights into `mine`."""
    own, other = mine.state_dict(), theirs.state_dict()
    modules = dict(theirs.named_modules())
    for key, value in other.items():
        if key in own and own[key].shape != value.shape:
            module = modules.get(key.rsplit(".", 1)[0])
            fail(f"{name}: {key} has shape {list(own[key].shape)} but the reference has {list(value.shape)}",
                 f"{_shape_hint(key, list(own[key].shape), list(value.shape), module)}{hint(key)}", where)
    missing = [k for k in other if k not in own]
    unexpected = [k for k in own if k not in other]
    if missing or unexpected:
        what = "; ".join(part for part in (
            f"the reference has {', '.join(missing[:4])} that yours lacks" if missing else "",
            f"yours has {', '.join(unexpected[:4])} that the reference lacks" if unexpected else "") if part)
        fail(f"{name}: the parameter names differ: {what}",
             "the same layers in the same order inside `self.block` (an extra bias, norm or layer shifts "
             "or adds names)", where)
    mine.load_state_dict(other)


def _call(module, inputs, name, where):
    try:
        with torch.no_grad():
            out = module(*inputs)
    except Exception as error:
        shapes = ", ".join(str(list(t.shape)) if t is not None else "None" for t in inputs)
        fail(f"calling {name} on inputs of shape {shapes} raised {type(error).__name__}: {error}",
             "a tensor", where)
    if not isinstance(out, torch.Tensor):
        fail(f"{name} returned {type(out).__name__}", "a tensor", where)
    return out


def _compare_output(out, expected, name, where, inputs=None):
    """Same shape and values (after loading the same weights); say which dimension differs."""
    if out.shape != expected.shape:
        dims = [d for d, (a, b) in enumerate(zip(out.shape, expected.shape)) if a != b] or [len(out.shape)]
        label = {0: "batch", 1: "channel", 2: "height", 3: "width"}.get(dims[0], f"dim {dims[0]}")
        extra = ""
        if inputs is not None and inputs[-1] is not None and label == "channel":
            c = inputs[-1].shape[1]  # the skip's channels
            if out.shape[1] == expected.shape[1] - c:
                extra = (f": {out.shape[1]} channels is the block's own output without the {c} channels "
                         f"of the skip, so the skip was not concatenated")
        fail(f"{name} returns shape {list(out.shape)} (the {label} size differs){extra}",
             f"shape {list(expected.shape)}", where)
    diff = (out - expected).abs().max().item()
    if not diff <= 1e-4:
        fail(f"{name} gives values that differ from the reference's by up to {diff:.3g} (same weights, "
             f"same input, eval mode)", "the same values", where)


def encoder_shapes(encoder_shapes):
    """encoder_shapes(size, num_downs, ngf) -> [(C, H, W) of e1, ..., e_n]."""
    ensure_own_code(encoder_shapes, "encoder_shapes")
    for size, num_downs, ngf in ((256, 8, 64), (128, 7, 64), (256, 8, 32), (512, 6, 16)):
        widths = [ngf * min(2 ** i, 8) for i in range(num_downs)]
        expected = [(w, size // 2 ** (i + 1), size // 2 ** (i + 1)) for i, w in enumerate(widths)]
        got = [tuple(int(v) for v in s) for s in encoder_shapes(size, num_downs, ngf)]
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
        got = [int(c) for c in decoder_in_channels(num_downs, ngf)]
        if got != expected:
            fail(f"decoder_in_channels({num_downs}, {ngf}) = {got}", f"{expected}",
                 "decoder_in_channels: decoders[0] reads the bottleneck alone; every later decoder reads "
                 "the previous decoder's output concatenated with its skip, so twice its width")
    passed("decoder_in_channels: the skips double every decoder input after the bottleneck")


def encoder_block(EncoderBlock, norm="batch"):
    """EncoderBlock(in_channels, out_channels, norm, outermost, innermost) against the reference."""
    ensure_own_code(EncoderBlock, "EncoderBlock")
    cases = (("a middle block (e2 ... e7)", 16, 32, {}, 16),
             ("the outermost block e1 (outermost=True)", 3, 16, {"outermost": True}, 32),
             ("the bottleneck e8 (innermost=True)", 32, 32, {"innermost": True}, 2))
    for label, cin, cout, flags, size in cases:
        kwargs = {"norm": norm, **flags}
        mine = _build(EncoderBlock, (cin, cout), kwargs, "EncoderBlock")
        theirs = ref.EncoderBlock(cin, cout, **kwargs)
        name, where = f"EncoderBlock for {label}", f"EncoderBlock.__init__ ({ENCODER_STEP})"
        _compare_layers(mine, theirs, name, where)
        _load_reference(mine, theirs, name, where)
        x = _randn(2, cin, size, size)
        mine.eval(), theirs.eval()
        _compare_output(_call(mine, (x,), name, "EncoderBlock.forward"), theirs(x).detach(), name,
                        "EncoderBlock.forward: return self.block(x)")
    passed(f"EncoderBlock (norm={norm!r}) matches the reference, layer by layer and output for output")


def decoder_block(DecoderBlock, norm="batch"):
    """DecoderBlock(in_channels, out_channels, norm, dropout, outermost), forward(x, skip=None)."""
    ensure_own_code(DecoderBlock, "DecoderBlock")
    cases = (("a decoder block with dropout=0.5", 32, 16, {"dropout": 0.5}),
             ("a decoder block with dropout=0.0", 32, 16, {"dropout": 0.0}),
             ("the outermost block (outermost=True)", 32, 3, {"outermost": True}))
    for label, cin, cout, flags in cases:
        kwargs = {"norm": norm, **flags}
        mine = _build(DecoderBlock, (cin, cout), kwargs, "DecoderBlock")
        theirs = ref.DecoderBlock(cin, cout, **kwargs)
        name, where = f"DecoderBlock for {label}", f"DecoderBlock.__init__ ({DECODER_STEP})"
        _compare_layers(mine, theirs, name, where, dropout_note=": Dropout(dropout) after the norm "
                        "exactly when dropout > 0, never in the outermost block")
        _load_reference(mine, theirs, name, where)
        mine.eval(), theirs.eval()
        x, skip = _randn(2, cin, 4, 4), _randn(2, 16, 8, 8, seed=1)
        y = theirs(x).detach()
        _compare_output(_call(mine, (x,), f"{name} with skip=None", "DecoderBlock.forward"), y,
                        f"{name} with skip=None", "DecoderBlock.forward: with skip=None return the block's output")
        if flags.get("outermost"):
            continue
        out, joined = _call(mine, (x, skip), name, "DecoderBlock.forward"), theirs(x, skip).detach()
        where = "DecoderBlock.forward: return torch.cat([y, skip], dim=1), the block's output first"
        if out.shape == y.shape:
            how = "adds the skip" if torch.allclose(out, y + skip, atol=1e-5) else "ignores the skip"
            fail(f"{name} {how}: forward(x, skip) returns {list(out.shape)}, the block's output alone",
                 f"{list(joined.shape)}: the block's output concatenated with the skip on the "
                 f"channel dim (U-Net concatenates, it does not add)", where)
        if out.shape == joined.shape and torch.allclose(out, torch.cat([skip, y], 1), atol=1e-5):
            fail(f"{name} puts the skip first in the concatenation", "torch.cat([y, skip], dim=1)", where)
        _compare_output(out, joined, f"{name} with a skip", where)
    passed(f"DecoderBlock (norm={norm!r}) matches the reference, with and without a skip")


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


def _which(tensor, features):
    for i, f in enumerate(features):
        if tensor is not None and f.shape == tensor.shape and torch.allclose(f, tensor, atol=1e-5):
            return f"e{i + 1}"
    return "a tensor that is no encoder output" if tensor is not None else "no skip"


def unet_generator(UNetGenerator, ngf=8, num_downs=8, norm="batch", size=None):
    """The whole generator: the layers of every block, the weight shapes, then (with the reference
    weights) the output; when it differs, block by block to name the first block that differs."""
    ensure_own_code(UNetGenerator, "UNetGenerator")
    size = size or 2 ** num_downs
    kwargs = {"in_channels": 3, "out_channels": 3, "num_downs": num_downs, "ngf": ngf, "norm": norm,
              "dropout": 0.5}
    mine, theirs = _build(UNetGenerator, (), kwargs, "UNetGenerator"), ref.UNetGenerator(**kwargs)
    for attr in ("encoders", "decoders"):
        blocks = getattr(mine, attr, None)
        if not isinstance(blocks, nn.ModuleList) or len(blocks) != num_downs:
            fail(f"UNetGenerator(num_downs={num_downs}).{attr} is {type(blocks).__name__}"
                 f"{f' of length {len(blocks)}' if isinstance(blocks, nn.ModuleList) else ''}",
                 f"an nn.ModuleList of {num_downs} blocks", "UNetGenerator.__init__")
    note = ": in the paper only decoders[0], [1], [2] (outputs 2 x 2, 4 x 4, 8 x 8) have Dropout(0.5)"
    for i, (m, r) in enumerate(zip(mine.encoders, theirs.encoders)):
        _compare_layers(m, r, f"encoders[{i}] (e{i + 1})", f"UNetGenerator.__init__ and EncoderBlock ({ENCODER_STEP})")
    for j, (m, r) in enumerate(zip(mine.decoders, theirs.decoders)):
        _compare_layers(m, r, f"decoders[{j}]", "UNetGenerator.__init__ and DecoderBlock", dropout_note=note)
    widths = [ngf * min(2 ** i, 8) for i in range(num_downs)]
    _load_reference(mine, theirs, f"UNetGenerator(ngf={ngf})", "UNetGenerator.__init__", _unet_hint(num_downs, widths))
    mine.eval(), theirs.eval()
    x = _randn(1, 3, size, size)
    with torch.no_grad():  # the reference, step by step: e1 ... e_n, then the decoders
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
        expected = h
    seen, error = [], None
    hooks = [block.register_forward_pre_hook(
        lambda mod, args, kw: seen.append((args[0], args[1] if len(args) > 1 else kw.get("skip"))),
        with_kwargs=True) for block in mine.decoders]
    try:
        with torch.no_grad():
            out = mine(x)
    except Exception as e:  # diagnose from what the decoders received before the crash
        error = e
    finally:
        for hook in hooks:
            hook.remove()
    if error is None and isinstance(out, torch.Tensor) and out.shape == expected.shape \
            and torch.allclose(out, expected, atol=1e-4):
        passed(f"UNetGenerator(num_downs={num_downs}, ngf={ngf}, norm={norm!r}) matches the reference "
               f"layer by layer and end to end")
        return
    # it differs: find the first block that differs, given the reference's inputs
    inputs = [x] + features[:-1]
    for i, block in enumerate(mine.encoders):
        name = f"encoders[{i}] (e{i + 1})"
        _compare_output(_call(block, (inputs[i],), name, "EncoderBlock.forward"), features[i], name,
                        "EncoderBlock.forward")
    for j, (block, (h, skip)) in enumerate(zip(mine.decoders, steps)):
        name = f"decoders[{j}]" + (f" (joined with e{num_downs - 1 - j})" if skip is not None else "")
        _compare_output(_call(block, (h, skip), name, "DecoderBlock.forward"), outputs[j], name,
                        "DecoderBlock.forward: torch.cat([y, skip], dim=1)", inputs=(h, skip))
    where = ("UNetGenerator.forward: keep e1 ... e_n, feed the bottleneck to decoders[0], and give "
             "decoders[j] the skip e_(n-1-j), the encoder output with the same height and width")
    for j, ((h, skip), (want_h, want_skip)) in enumerate(zip(seen, steps)):
        if want_skip is not None and skip is None:
            fail(f"your forward calls decoders[{j}] without a skip",
                 f"decoders[{j}](x, e{num_downs - 1 - j}), shape {list(want_skip.shape)}", where)
        if want_skip is not None and (skip.shape != want_skip.shape or not torch.allclose(skip, want_skip, atol=1e-5)):
            fail(f"your forward gives decoders[{j}] {_which(skip, features)} as its skip",
                 f"e{num_downs - 1 - j}, shape {list(want_skip.shape)}", where)
        if want_skip is None and skip is not None:
            fail(f"your forward gives the outermost decoders[{j}] a skip", "no skip: its output is the image", where)
        if h.shape != want_h.shape or not torch.allclose(h, want_h, atol=1e-4):
            fail(f"decoders[{j}] gets a wrong input ({list(h.shape)})",
                 "the bottleneck for decoders[0], else the previous decoder's output (with its skip)", where)
    if error is not None:
        fail(f"calling UNetGenerator(ngf={ngf}) on a {list(x.shape)} input raised {type(error).__name__}: "
             f"{error}", "the generated image, shape " + str(list(expected.shape)), where)
    if len(seen) != num_downs:
        fail(f"your forward calls the decoders {len(seen)} times", f"each of the {num_downs} decoders once", where)
    if not isinstance(out, torch.Tensor):
        fail(f"UNetGenerator.forward returned {type(out).__name__}", "a tensor", where)
    _compare_output(out, expected, f"UNetGenerator(ngf={ngf})", "UNetGenerator.forward: return the last "
                    "decoder's output as it is")


def unet_parameters(UNetGenerator, num_downs=8, norm="batch"):
    """The parameter count at ngf 64, a fixed number from the official code; name the first block off."""
    ensure_own_code(UNetGenerator, "UNetGenerator")
    expected = PARAMETERS[num_downs, norm]
    with torch.device("meta"):  # shapes only: no memory, no initialisation, instant
        mine = _build(UNetGenerator, (), {"num_downs": num_downs, "norm": norm}, "UNetGenerator")
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


def unet_full_size(UNetGenerator):
    """unet_256 at the paper's size: 54,413,955 parameters and the reference's output at 256 x 256."""
    unet_parameters(UNetGenerator)
    unet_generator(UNetGenerator, ngf=64, num_downs=8, size=256)


def unet_size_error(UNetGenerator):
    """forward raises ValueError for a side that is not a multiple of 2 ** num_downs; others work."""
    ensure_own_code(UNetGenerator, "UNetGenerator")
    mine = _build(UNetGenerator, (), {"num_downs": 5, "ngf": 4}, "UNetGenerator").eval()
    out = _call(mine, (_randn(1, 3, 64, 96),), "UNetGenerator(num_downs=5) on a 64 x 96 input",
                "UNetGenerator.forward: non-square inputs whose sides are multiples of 32 must work")
    if list(out.shape) != [1, 3, 64, 96]:
        fail(f"UNetGenerator(num_downs=5) turns a 64 x 96 input into {list(out.shape)}", "[1, 3, 64, 96]",
             "UNetGenerator.forward")
    for h, w in ((100, 96), (64, 70)):
        try:
            with torch.no_grad():
                mine(_randn(1, 3, h, w))
        except ValueError as error:
            if not str(error):
                fail("the ValueError has no message", "a message naming the size and what works",
                     "UNetGenerator.forward")
            continue
        except Exception as error:
            fail(f"a {h} x {w} input with num_downs=5 raised {type(error).__name__}: {str(error)[:120]}",
                 "a ValueError that says each side must be a multiple of 2**5 = 32",
                 "UNetGenerator.forward: check x.shape[-2:] before the first encoder")
        fail(f"a {h} x {w} input with num_downs=5 gave no error", "ValueError", "UNetGenerator.forward")
    passed("UNetGenerator refuses sizes that are not multiples of 2 ** num_downs with a ValueError")


def encoder_field(encoder_field):
    """encoder_field(num_downs) -> the receptive field side of the bottleneck (k4 s2 convs)."""
    ensure_own_code(encoder_field, "encoder_field")
    for n in range(1, 11):
        expected = receptive_field([(4, 2, 1)] * n).size
        got = encoder_field(n)
        if got != expected:
            fail(f"encoder_field({n}) = {got}", f"{expected} = 1 + 3 * (1 + 2 + ... + 2^{n - 1})",
                 "encoder_field: r = 1 + sum_l (k_l - 1) * prod_{i<l} s_i with k = 4 and s = 2")
    passed("encoder_field: r = 3 * 2^n - 2, so each level doubles the field")


def encoder_fields(fields):
    """fields = {num_downs: receptive field of the encoder stack} for num_downs 5 ... 8."""
    expected = {n: 3 * 2 ** n - 2 for n in range(5, 9)}
    got = {int(k): int(v) for k, v in dict(fields).items()}
    if got != expected:
        fail(f"fields = {got}", f"{expected}",
             "the cell that fills `fields`: receptive_field(UNetGenerator(num_downs=n, ngf=...).encoders).size")
    passed("the bottleneck of unet_256 (num_downs 8) sees 766 x 766 pixels: more than the whole image")
