"""Checks for lesson 4's tiny lambda sweep (sec. 4.2): the student's PREDICTION, then `measure`.

`prediction` only checks that the prediction is well formed (whether it is right earns no points:
the lesson measures it). `measure(fakes, targets) -> (l1, sharpness)` is compared with
p2p_ref.paper.sharpness.measure, and the usual slips (images rescaled before the L1, a sum instead
of a mean, the targets' sharpness, laplacian_variance on [-1, 1] images) are named.
The notebook reaches these checks as `check.prediction`, `check.measure`, ... on p2p_ref.course.checks.ex4.
"""

import numbers

import numpy as np
import torch
import torch.nn.functional as F

from p2p_ref.paper import sharpness as reference_sharpness
from p2p_ref.course.checks.common import ensure_own_code, fail, passed, prediction_keys
from p2p_ref.course.checks.ex4_common import _close, _per_image_sum
from p2p_ref.paper.data import denormalize

SWEEP_LAMBDAS = (0.0, 100.0)          # the two values of lambda of the lesson's tiny sweep
PREDICTION_KEYS = ("lower_l1", "sharper")

def prediction(prediction):
    """Check that PREDICTION is a well-formed prediction; whether it is right is not graded."""
    where = "your PREDICTION cell"
    expected = "a dict {'lower_l1': lambda, 'sharper': lambda}, each lambda 0 or 100 (a number)"
    prediction_keys(prediction, PREDICTION_KEYS, expected, where)
    for key in PREDICTION_KEYS:
        value = prediction[key]
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or float(value) not in SWEEP_LAMBDAS:
            fail(f"PREDICTION[{key!r}] = {value!r}",
                 f"one of the two values of lambda the sweep trains, 0 or 100, as a number", where)
    passed(f"prediction recorded: the lower L1 to the target at lambda = {prediction['lower_l1']:g}, the sharper "
           f"output at lambda = {prediction['sharper']:g}. Whether it is right earns no points: the next "
           "cells measure it")


def _scalar(value, name, where):
    """A number: a Python/NumPy real, or a tensor or NumPy array holding one (non-boolean) element."""
    if isinstance(value, (torch.Tensor, np.ndarray)):
        size = value.numel() if isinstance(value, torch.Tensor) else value.size
        if size != 1:
            fail(f"`measure` returned a {name} of shape {tuple(value.shape)}",
                 f"one number: the {name} averaged over the images",
                 f"{where}: average over the images (.mean())")
        value = value.detach().cpu().reshape(()).item() if isinstance(value, torch.Tensor) else value.reshape(()).item()
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return float(value)
    fail(f"`measure` returned {type(value).__name__} {value!r} as its {name}",
         "a number (a float, or a tensor or NumPy array of one element)", where)


def _measured(measure, fakes, targets, where):
    out = measure(fakes.clone(), targets.clone())
    if isinstance(out, torch.Tensor) or not hasattr(out, "__len__") or len(out) != 2:
        fail(f"`measure` returned {type(out).__name__}" + (f" of length {len(out)}" if hasattr(out, "__len__")
                                                         and not isinstance(out, torch.Tensor) else ""),
             "two numbers (l1, sharpness)", f"{where}: `return l1, sharpness`")
    return _scalar(out[0], "L1", where), _scalar(out[1], "sharpness", where)


def _check_measure(measure, fakes, targets, where, case):
    want = reference_sharpness.measure(fakes, targets)
    l1, sharpness = _measured(measure, fakes, targets, where)
    diff = targets - fakes
    if not _close(l1, want.l1):
        if _close(l1, want.l1 / 2):
            fail(f"L1 to the target = {l1:.6g} for {case}: it is measured on images rescaled to [0, 1]",
                 f"{want.l1:.6g}, the mean |y - G(x)| in G's [-1, 1] range (the L_L1 of eq. 3)",
                 f"{where}: the L1 of the images as given")
        if _close(l1, diff.abs().sum()) or _close(l1, _per_image_sum(diff.abs())):
            fail(f"L1 to the target = {l1:.6g} for {case}: the differences are summed",
                 f"their mean, {want.l1:.6g}", f"{where}: .mean() over every element")
        if _close(l1, (diff ** 2).mean()):
            fail(f"L1 to the target = {l1:.6g} for {case}: the differences are squared", f"{want.l1:.6g}",
                 f"{where}: .abs(), not ** 2")
        fail(f"L1 to the target = {l1:.6g} for {case}", f"{want.l1:.6g} = mean |targets - fakes|", where)
    if not _close(sharpness, want.sharpness, rtol=1e-4, atol=1e-8):
        lv = reference_sharpness.laplacian_variance
        if _close(sharpness, lv(fakes).mean(), atol=1e-8):
            fail(f"sharpness = {sharpness:.6g} for {case}: laplacian_variance got images in [-1, 1]",
                 f"{want.sharpness:.6g}: it expects images in [0, 1], (fakes + 1) / 2 (a 4 times smaller variance)",
                 f"{where}: rescale before laplacian_variance")
        if _close(sharpness, lv((targets + 1) / 2).mean(), atol=1e-8):
            fail(f"sharpness = {sharpness:.6g} for {case}: that is the sharpness of the targets",
                 f"{want.sharpness:.6g}, the sharpness of the generated images (the first argument)",
                 f"{where}: laplacian_variance of the fakes")
        if _close(sharpness, lv((fakes + 1) / 2).sum(), atol=1e-8):
            fail(f"sharpness = {sharpness:.6g} for {case}: the images' values are summed",
                 f"their mean, {want.sharpness:.6g}", f"{where}: .mean() over the images")
        fail(f"sharpness = {sharpness:.6g} for {case}",
             f"{want.sharpness:.6g}, the mean over the images of laplacian_variance((fakes + 1) / 2)", where)


def _code_names(fn):
    """Every global and attribute name that fn's code (nested functions included) mentions."""
    code = getattr(fn, "__code__", None)
    stack, names = ([code] if code is not None else []), set()
    while stack:
        code = stack.pop()
        names |= set(code.co_names)
        stack += [c for c in code.co_consts if hasattr(c, "co_names")]
    return names


def _ensure_own_measure(measure):
    """measure may call laplacian_variance and denormalize, also through the module p2p_ref.paper.sharpness,
    but not the reference measure."""
    ensure_own_code(measure, "measure", allowed=(reference_sharpness.laplacian_variance, denormalize, reference_sharpness))
    names = _code_names(measure)
    reaches_module = (any(value is reference_sharpness for value in getattr(measure, "__globals__", {}).values())
                      or any(name.startswith("p2p_ref") for name in names))   # also an import inside measure
    if reaches_module and {"measure", "evaluate", "run_sweep"} & names:
        fail("`measure` uses the reference implementation: p2p_ref.paper.sharpness.measure",
             "`measure` built from torch, laplacian_variance and your own code",
             "the cell where you define `measure`")


def measure(measure):
    """Check measure(fakes, targets) -> (l1, sharpness) against p2p_ref.paper.sharpness.measure."""
    _ensure_own_measure(measure)
    where = "your `measure`"
    # A flat grey output (sharpness 0) against a black-and-white checkerboard: L1 exactly 1.
    targets = ((torch.arange(32).view(-1, 1) + torch.arange(32)) % 2 * 2.0 - 1).expand(2, 3, 32, 32).contiguous()
    _check_measure(measure, torch.zeros(2, 3, 32, 32), targets, where, "flat grey outputs and checkerboard targets")
    g = torch.Generator().manual_seed(30)
    fakes = torch.rand(3, 3, 32, 32, generator=g) * 2 - 1   # 3 images: a sum (x 3) is no [-1, 1] slip (x 4)
    targets = torch.rand(3, 3, 32, 32, generator=g) * 2 - 1
    _check_measure(measure, fakes, targets, where, "3 random 32 x 32 images")
    passed("measure: L1 to the target in [-1, 1] units and the mean variance of the Laplacian of the outputs")


def measure_more(measure):
    """Hidden: one image, other sizes, smooth images."""
    _ensure_own_measure(measure)
    where = "your `measure`"
    g = torch.Generator().manual_seed(31)
    for shape in ((1, 3, 64, 64), (3, 3, 32, 48)):
        fakes = F.avg_pool2d(torch.rand(shape, generator=g) * 2 - 1, 3, stride=1, padding=1)
        targets = torch.rand(shape, generator=g) * 2 - 1
        _check_measure(measure, fakes, targets, where, f"{shape[0]} smooth {shape[2]} x {shape[3]} image(s)")
    passed("measure: one image, other sizes, smooth images")
