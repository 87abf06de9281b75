"""How lesson 2's checks compare a student's module with the reference in p2p_ref.models.

- layer by layer inside `self.block` (types and order, conv geometry and bias, norm options,
  dropout), with the most specific reason in plain words when they differ;
- by parameter names and shapes, then by output once the reference weights are loaded;
- and, so that one mistake costs one exercise, again with the reference's parts put in place of
  the student's (`assembly`): an assembled piece that passes that way keeps its points, and the
  message names the part at fault.

Names and layout are fixed on purpose: the reference weights load by name (`block.1.weight` is the
conv of a middle encoder block), which is how the checks compare a module with the reference.
"""

import contextlib
import io
import re
import sys

import torch
from torch import nn

from p2p_ref.paper import models as ref
from p2p_ref.course.checks.common import fail, passed

NAMES_FIXED = ("the names are fixed on purpose: the reference weights load into your model by name, "
               "which is how the checks compare it with the reference")
_ACTIVATIONS = ("ReLU", "LeakyReLU")
_NORMS = ("BatchNorm2d", "InstanceNorm2d")


def randn(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def _harmless(m):
    """Layers that change nothing: nn.Identity (e.g. norm="none") and Dropout(0)."""
    return isinstance(m, nn.Identity) or (isinstance(m, nn.Dropout) and m.p == 0)


def _layers(block):
    return [m for m in block if not _harmless(m)]


def _kinds(block):
    """Layer type names inside a block, without the harmless ones."""
    return [type(m).__name__ for m in _layers(block)]


def _geometry(m):
    return m.kernel_size[0], m.stride[0], m.padding[0]


def _what(error):
    """The "What is wrong" part of a CheckFailed message (or the error itself, in one line)."""
    text = str(error)
    found = re.search(r"What is wrong:\s*(.*)", text)
    return found.group(1).strip() if found else f"{type(error).__name__}: {text.strip()[:200]}"


# --------------------------------------------------------------------------------------------
# one mistake, one exercise: re-check an assembly with the reference parts in place of the student's

def _globals_of(obj):
    """The global namespace the student's class or function looks names up in (the notebook's)."""
    if isinstance(obj, type):
        for value in vars(obj).values():
            func = getattr(value, "__func__", value)
            if hasattr(func, "__globals__"):
                return func.__globals__
        return vars(sys.modules[obj.__module__])
    return obj.__globals__


@contextlib.contextmanager
def _reference_parts(student, names):
    """Rebind `names` (e.g. EncoderBlock) in the student's globals to p2p_ref.paper.models' objects, and
    restore them afterwards."""
    space = _globals_of(student)
    missing = object()
    saved = {name: space.get(name, missing) for name in names}
    try:
        for name in names:
            space[name] = getattr(ref, name)
        yield
    finally:
        for name, value in saved.items():
            if value is missing:
                space.pop(name, None)
            else:
                space[name] = value


def assembly(student, label, parts, run, part_checks):
    """Run `run()`, the check of the student's `label` with their own parts. When it fails, run it
    again with the reference's `parts` in place of theirs: if that passes, the assembly keeps its
    points and the message names the part at fault (from `part_checks`: name -> check)."""
    shown = io.StringIO()
    try:
        with contextlib.redirect_stdout(shown):
            run()
    except Exception as error:  # CheckFailed, or the student's code raising anything
        own_failure = error
    else:
        print(shown.getvalue(), end="")
        return
    try:
        with _reference_parts(student, parts), contextlib.redirect_stdout(io.StringIO()):
            run()
    except Exception:
        raise own_failure from None
    space = _globals_of(student)
    faults = []
    for name, (where, check) in part_checks.items():
        if name not in space:
            faults.append(f"your {name} ({where}) is not defined")
            continue
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                check(space[name])
        except Exception as error:
            faults.append(f"your {name} ({where}) fails its own check: {_what(error)}")
    named = ", ".join(parts[:-1]) + f" and {parts[-1]}" if len(parts) > 1 else parts[0]
    why = "; ".join(faults) or "your parts differ from the reference in a way their own checks do not show"
    passed(f"{label} is put together right: with the reference {named} in place of yours it passes, "
           f"so it keeps its points. It fails with yours: {why}. Fix that part and run its test "
           f"cell again.")


# --------------------------------------------------------------------------------------------
# building and comparing modules

def build(cls, args, kwargs, name):
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


def compare_layers(mine, theirs, name, where, dropout_note=""):
    """Compare the layers in `block`: types and order, then conv geometry, bias and slopes
    (the widths are compared through the weight shapes in load_reference)."""
    block = getattr(mine, "block", None)
    if not isinstance(block, nn.Sequential):
        fail(f"{name} has no `self.block` nn.Sequential",
             f"the block's layers in `self.block = nn.Sequential(...)`, in order ({NAMES_FIXED}: "
             f"block.1.weight is the conv of a middle encoder block)", where)
    if _kinds(block) != _kinds(theirs.block):
        _explain_kinds(_kinds(block), _kinds(theirs.block), name, where, dropout_note)
    for m, r in zip(_layers(block), _layers(theirs.block)):
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
            if m.track_running_stats != r.track_running_stats:
                fail(f"the {kind} in {name} has track_running_stats={m.track_running_stats}",
                     f"track_running_stats={r.track_running_stats}: `nn.{kind}(channels)` with its "
                     f"defaults", where)
        if isinstance(r, nn.Dropout) and m.p != r.p:
            fail(f"{name} has Dropout(p={m.p})", f"Dropout(p={r.p}){dropout_note}", where)


def _shape_hint(key, mine, theirs, module):
    """What a weight shape says about the channels, in words."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)) and key.endswith("weight") and len(theirs) == 4:
        i, o = (1, 0) if isinstance(module, nn.Conv2d) else (0, 1)  # ConvTranspose2d stores [in, out, k, k]
        return (f"in_channels is {mine[i]}, expected {theirs[i]}; out_channels is {mine[o]}, "
                f"expected {theirs[o]}")
    return "check the channel numbers of this layer"


def load_reference(mine, theirs, name, where, hint=lambda key: ""):
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
             f"the same layers in the same order inside `self.block` ({NAMES_FIXED}; an extra bias, "
             f"norm or layer adds or shifts names)", where)
    mine.load_state_dict(other)


def call(module, inputs, name, where):
    """module(*inputs) without gradients, on copies of the inputs (in-place activations such as
    nn.ReLU(True), the official code's idiom, may overwrite what they are given)."""
    inputs = [t.clone() if isinstance(t, torch.Tensor) else t for t in inputs]
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


def compare_output(out, expected, name, where, inputs=None):
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
