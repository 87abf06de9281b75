"""How lesson 2's checks compare a student's module with the reference in p2p_ref.paper.models.

- by what the forward pass runs (p2p_ref.course.checks.ex2_trace): the reference's weights are
  copied into the student's layers in forward order, then the outputs are compared in eval mode and,
  with the same random draws, in train mode (dropout and batch statistics); when they differ, the
  two forward passes are compared step by step to name the first difference in the paper's words;
- and, so that one mistake costs one exercise, again with the reference's parts put in place of the
  student's (`assembly`): an assembled piece that passes that way keeps its points, and the message
  names the part at fault. The parts are found by what they are, not by their names: a class of the
  student's notebook with the signature of an encoder block (`innermost`) or a decoder block
  (`dropout`), or a function `(norm, channels)`, that fails its own check.

Attribute names and layout are free: nn.Sequential, nn.ModuleList, nn.ModuleDict, a recursive block
as in the official code, a helper function per layer, in-place activations.
"""

import contextlib
import inspect
import io
import re
import sys

import torch
from torch import nn

from p2p_ref.paper import models as ref
from p2p_ref.course.checks.common import fail, passed
from p2p_ref.course.checks.ex2_trace import explain_difference, trace, transplant


def randn(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


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


def _params(obj):
    try:
        return list(inspect.signature(obj).parameters)
    except (TypeError, ValueError):
        return []


def part_kind(value, space):
    """"encoder", "decoder" or "norm" when `value` is a part of the student's U-Net (defined in the
    same notebook, with the signature of that exercise's piece), else None."""
    if isinstance(value, type):
        if not issubclass(value, nn.Module) or _globals_of(value) is not space:
            return None
        params = _params(value)
        if "innermost" in params:
            return "encoder"
        if "dropout" in params and "outermost" in params:
            return "decoder"
        return None
    if inspect.isfunction(value) and value.__globals__ is space and _params(value)[:1] == ["norm"] \
            and len(_params(value)) == 2:
        return "norm"
    return None


_REFERENCE = {"encoder": ref.EncoderBlock, "decoder": ref.DecoderBlock, "norm": ref.norm_layer}


def _faulty_parts(student, part_checks):
    """{name: (kind, why)} for the student's parts (found by part_kind) that fail their own check."""
    space, faults = _globals_of(student), {}
    for name, value in list(space.items()):
        kind = part_kind(value, space) if value is not student else None
        if kind is None or kind not in part_checks:
            continue
        where, check = part_checks[kind]
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                check(value)
        except Exception as error:  # noqa: BLE001
            faults[name] = (kind, f"your {name} ({where}) fails its own check: {_what(error)}")
    return faults


@contextlib.contextmanager
def _reference_parts(student, faults):
    """Rebind the student's faulty parts to p2p_ref.paper.models' pieces, and restore them afterwards."""
    space = _globals_of(student)
    saved = {name: space[name] for name in faults}
    try:
        for name, (kind, _) in faults.items():
            space[name] = _REFERENCE[kind]
        yield
    finally:
        space.update(saved)


def assembly(student, label, run, part_checks):
    """Run `run()`, the check of the student's `label` with their own parts. When it fails, find the
    student's parts that fail their own checks (part_checks: kind -> (exercise, check)) and run it
    again with the reference's pieces in their place: if that passes, the assembly keeps its points
    and the message names the part at fault."""
    shown = io.StringIO()
    try:
        with contextlib.redirect_stdout(shown):
            run()
    except Exception as error:  # CheckFailed, or the student's code raising anything
        own_failure = error
    else:
        print(shown.getvalue(), end="")
        return
    faults = _faulty_parts(student, part_checks)
    if not faults:
        raise own_failure
    try:
        with _reference_parts(student, faults), contextlib.redirect_stdout(io.StringIO()):
            run()
    except Exception:
        raise own_failure from None
    why = "; ".join(why for _, why in faults.values())
    passed(f"{label} is put together right: with the reference's pieces in place of your "
           f"{', '.join(faults)} it passes, so it keeps its points. It fails with yours: {why}. Fix that "
           f"part and run its test cell again.")


# --------------------------------------------------------------------------------------------
# building and comparing modules

def build(cls, args, kwargs, name):
    shown = ", ".join([*map(repr, args), *(f"{k}={v!r}" for k, v in kwargs.items())])
    try:
        return cls(*args, **kwargs)
    except Exception as error:  # the student's constructor may fail in any way
        fail(f"`{name}({shown})` raised {type(error).__name__}: {error}",
             f"`{name}({shown})` builds a module", f"`{name}.__init__`: its signature and arguments")


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
        fail(f"{name} gives values that differ from the reference's by up to {diff:.3g} (same input)",
             "the same values", where)


def _outputs(module, inputs, mode, seed):
    module.train(mode)
    torch.manual_seed(seed)
    with torch.no_grad():
        return module(*[t.clone() if isinstance(t, torch.Tensor) else t for t in inputs])


def compare_module(mine, theirs, inputs, steps, name, where, diagnose=None):
    """The student's module against the reference, by what it computes: the reference's weights copied
    in forward order, then the outputs in eval mode and in train mode (the same dropout draws). On a
    difference: the first step that differs (ex2_trace.explain_difference), then `diagnose(mine_trace,
    their_trace)` for what the steps cannot show (e.g. the skips), then the outputs themselves."""
    theirs.eval()
    t_theirs = trace(theirs, *inputs)
    t_mine = trace(mine.eval(), *inputs, keep_error=True)
    if t_mine.error is not None or not transplant(t_mine, t_theirs):
        explain_difference(t_mine, t_theirs, steps, where)
        if t_mine.error is not None:
            fail(f"calling {name} raised {type(t_mine.error).__name__}: {t_mine.error}",
                 f"an output of shape {list(t_theirs.output.shape)}", where)
        fail(f"the layers with weights in {name} do not pair up with the reference's in forward order",
             "the same convolutions and norms, in the order they run", where)
    for mode in (False, True):
        want = _outputs(theirs, inputs, mode, seed=5)
        try:
            got = _outputs(mine, inputs, mode, seed=5)
        except Exception as error:  # noqa: BLE001
            fail(f"calling {name} in {'train' if mode else 'eval'} mode raised {type(error).__name__}: {error}",
                 "an output", where)
        if isinstance(got, torch.Tensor) and got.shape == want.shape and torch.allclose(got, want, atol=1e-4):
            continue
        if not mode:
            again = _outputs(mine, inputs, mode, seed=6)
            if isinstance(got, torch.Tensor) and got.shape == again.shape and not torch.allclose(got, again):
                fail(f"{name} gives different outputs on two runs in eval mode",
                     "the same output every time in eval mode: dropout follows the module's mode "
                     "(nn.Dropout does, or F.dropout(..., training=self.training))", where)
        theirs.train(mode), mine.train(mode)
        t_mine, t_theirs = trace(mine, *inputs, keep_error=True), trace(theirs, *inputs)
        explain_difference(t_mine, t_theirs, steps, where)
        if diagnose is not None:
            diagnose(t_mine, t_theirs)
        if not isinstance(got, torch.Tensor):
            fail(f"{name} returned {type(got).__name__}", "a tensor", where)
        state = ("train mode: dropout and the batch statistics on, the same random draws"
                 if mode else "eval mode")
        compare_output(got, want, f"{name} ({state}, the reference's weights)", where)
    mine.eval(), theirs.eval()
