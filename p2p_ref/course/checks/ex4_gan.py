"""Checks of lesson 4's gan_loss, the GAN term of the objective (sec. 3.1, eq. 1; LSGAN as an option).

gan_loss(logits, target_is_real, mode) is compared with p2p_ref.paper.losses.gan_loss on ordinary
logits, hand-computed cases, extreme logits (+-1e4 in float32) and 30 x 30 patch grids; the
usual mistakes (labels swapped, sigmoid + BCE, a sum instead of a mean) are named. The
`*_more` check is the hidden one: other shapes, float64 and gradients. The notebook reaches
these checks through ex4 (`check.gan_loss`, `check.gan_loss_more`).
"""

import math

import torch
import torch.nn.functional as F

from p2p_ref.paper import losses as ref
from p2p_ref.course.checks.common import ensure_own_code, fail, passed
from p2p_ref.course.checks.ex4_common import (
    _check_extreme, _close, _extreme_grid, _grad, _grid, _number, _per_image_sum, _targets)

UNKNOWN_MODE = "lsgna"                # a typo of "lsgan": neither mode the exercise asks for


# gan_loss

def _gan_value(gan_loss, logits, is_real, where, **mode):
    return _number(gan_loss(logits.clone(), is_real, **mode), "gan_loss", where)


def _fail_vanilla(value, logits, is_real, expected, case, where):
    """Name the usual mistake behind a wrong vanilla value, or say what was expected."""
    target = _targets(logits, is_real)
    n = logits.numel()
    mistakes = (
        (F.binary_cross_entropy_with_logits(logits, target, reduction="sum"),
         f"the loss is summed over the {n} patches", "use the mean (reduction='mean', the default)"),
        (F.binary_cross_entropy_with_logits(torch.sigmoid(logits), target),
         "sigmoid is applied before BCE-with-logits, which applies it again", "remove the torch.sigmoid"),
        (F.binary_cross_entropy_with_logits(logits, 1 - target),
         "the labels are swapped", "the target tensor: ones for target_is_real=True, zeros for False"),
    )
    for wrong, what, fix in mistakes:
        if _close(value, wrong):
            fail(f"gan_loss({case}, target_is_real={is_real}) = {value.item():.6g}: {what}",
                 f"{float(expected):.6g}, the mean BCE with logits against "
                 f"{'ones' if is_real else 'zeros'}", f"{where}: {fix}")
    fail(f"gan_loss({case}, target_is_real={is_real}) = {value.item():.6g}",
         f"{float(expected):.6g}, the mean BCE with logits against {'ones' if is_real else 'zeros'}",
         f"{where}: it takes logits (D has no sigmoid); mean binary cross-entropy with logits against "
         "ones (real) or zeros (fake)")


def _check_gan_vanilla(gan_loss, where):
    # Hand-computed: a logit of 0 is sigmoid 0.5, so the loss is log 2 for either target;
    # a logit of +3 against 'real' costs log(1 + e^-3), against 'fake' log(1 + e^3).
    zeros, three = torch.zeros(1, 1, 30, 30), torch.full((1, 1, 30, 30), 3.0)
    cases = ((zeros, True, math.log(2), "all-zero logits (log 2)"),
             (zeros, False, math.log(2), "all-zero logits (log 2)"),
             (three, True, math.log1p(math.exp(-3)), "logits = 3"),
             (three, False, math.log1p(math.exp(3)), "logits = 3"))
    for logits, is_real, expected, case in cases:
        value = _gan_value(gan_loss, logits, is_real, where)
        if not _close(value, expected):
            _fail_vanilla(value, logits, is_real, expected, case, where)
    # Ordinary logits on a 30 x 30 grid.
    logits = _grid()
    for is_real in (True, False):
        expected = ref.gan_loss(logits, is_real)
        value = _gan_value(gan_loss, logits, is_real, where)
        if not _close(value, expected):
            _fail_vanilla(value, logits, is_real, expected, "random 30 x 30 logits", where)
    # Extreme logits, float32.
    extreme = _extreme_grid()
    for is_real in (True, False):
        _check_extreme(_gan_value(gan_loss, extreme, is_real, where), ref.gan_loss(extreme, is_real),
                       "gan_loss", f"logits of +-1e4 and +-100 (float32), target_is_real={is_real}", where)
    value = _gan_value(gan_loss, logits, True, where, mode="vanilla")
    if not _close(value, ref.gan_loss(logits, True)):
        fail("gan_loss(..., mode='vanilla') differs from the default mode",
             "mode='vanilla' is the default: both calls give the same value",
             f"{where}: the `mode` argument")


def _check_gan_lsgan(gan_loss, where):
    # Hand-computed: logits of 3 cost (3 - 1)^2 = 4 against real, 3^2 = 9 against fake.
    three = torch.full((1, 1, 30, 30), 3.0)
    for is_real, expected in ((True, 4.0), (False, 9.0)):
        value = _gan_value(gan_loss, three, is_real, where, mode="lsgan")
        if _close(value, expected):
            continue
        if _close(value, 900 * expected):
            fail(f"gan_loss(logits = 3, target_is_real={is_real}, mode='lsgan') = {value.item():g}: the "
                 "squared differences are summed over the 30 x 30 grid",
                 f"their mean, {expected:g} = (3 - {int(is_real)})^2",
                 f"{where}: the lsgan branch, use the mean (F.mse_loss's default reduction='mean')")
        if _close(value, 13.0 - expected):
            fail(f"gan_loss(logits = 3, target_is_real={is_real}, mode='lsgan') = {value.item():g}: the labels "
                 "are swapped", f"{expected:g} = (3 - {int(is_real)})^2",
                 f"{where}: the lsgan branch's target (ones for real, zeros for fake)")
        if _close(value, ref.gan_loss(three, is_real)):
            fail("gan_loss(..., mode='lsgan') gives the BCE value: the mode is ignored",
                 f"the mean squared difference to the targets, {expected:g}",
                 f"{where}: the branch for mode == 'lsgan'")
        if _close(value, (torch.sigmoid(three) - float(is_real)).pow(2).mean()):
            fail("gan_loss(..., mode='lsgan') applies a sigmoid before the squared difference",
                 f"{expected:g}: least squares on the raw logits, as the official code's nn.MSELoss",
                 f"{where}: the lsgan branch, remove the sigmoid")
        fail(f"gan_loss(logits = 3, target_is_real={is_real}, mode='lsgan') = {value.item():.6g}",
             f"{expected:g} = (3 - {int(is_real)})^2, the mean squared difference to the targets",
             f"{where}: the lsgan branch")
    logits = _grid(seed=21)
    for is_real in (True, False):
        expected = ref.gan_loss(logits, is_real, "lsgan")
        value = _gan_value(gan_loss, logits, is_real, where, mode="lsgan")
        if not _close(value, expected):
            fail(f"gan_loss(random 30 x 30 logits, target_is_real={is_real}, mode='lsgan') = {value.item():.6g}",
                 f"{expected.item():.6g}, the mean of (logit - target)^2", f"{where}: the lsgan branch")


def _check_gan_unknown_mode(gan_loss, where):
    """A mode that is neither 'vanilla' nor 'lsgan' (a typo) must stop with an error naming it.

    Any exception counts (ValueError, the official code's NotImplementedError, the KeyError of a
    dispatch table), as long as its message names the mode; modes beyond the two asked for (the
    official code's 'wgangp') are the student's business, so the check tries a typo."""
    logits = _grid()
    try:
        value = gan_loss(logits, True, mode=UNKNOWN_MODE)
    except Exception as e:  # noqa: BLE001 - any error that stops the typo is a refusal
        if UNKNOWN_MODE not in str(e):
            fail(f"gan_loss(..., mode={UNKNOWN_MODE!r}) raises {type(e).__name__}({str(e)!r}), which does not "
                 "say which mode was refused",
                 f"an error whose message names the mode, e.g. \"mode={UNKNOWN_MODE!r}: expected "
                 "'vanilla' or 'lsgan'\"", f"{where}: the error raised for an unknown mode")
        return
    fail(f"gan_loss(..., mode={UNKNOWN_MODE!r}) returns {value!r} instead of refusing the mode",
         f"an error that names the mode: a typo such as {UNKNOWN_MODE!r} must not train silently with "
         "another loss", f"{where}: raise an error for any mode but 'vanilla' and 'lsgan'")


def _check_gan_loss(gan_loss):
    where = "your `gan_loss`"
    _check_gan_vanilla(gan_loss, where)
    _check_gan_lsgan(gan_loss, where)
    _check_gan_unknown_mode(gan_loss, where)


def gan_loss(gan_loss):
    """Check gan_loss(logits, target_is_real, mode="vanilla") against the reference."""
    ensure_own_code(gan_loss, "gan_loss")
    _check_gan_loss(gan_loss)
    passed("gan_loss: log 2 at logit 0, right labels, mean over the 30 x 30 grid, finite at logits of +-1e4; "
           "lsgan the mean squared difference; other modes refused")


def _check_gan_loss_more(gan_loss):
    where = "your `gan_loss`"
    for shape, dtype in (((2, 1, 62, 62), torch.float32), ((3, 1, 30, 30), torch.float64), ((1, 1, 1, 1), torch.float32)):
        logits = _grid(shape, seed=8, dtype=dtype)
        for mode in ("vanilla", "lsgan"):
            for is_real in (True, False):
                value = _gan_value(gan_loss, logits, is_real, where, mode=mode)
                expected = ref.gan_loss(logits, is_real, mode)
                if _close(value, expected):
                    continue
                target = _targets(logits, is_real)
                per_element = (F.binary_cross_entropy_with_logits(logits, target, reduction="none")
                               if mode == "vanilla" else (logits - target) ** 2)
                if shape[0] > 1 and _close(value, _per_image_sum(per_element)):
                    fail(f"gan_loss(mode={mode!r}) on a batch of {shape[0]} grids = {value.item():.6g}: the mean "
                         "over each image's patches is summed over the batch",
                         f"the mean over every patch of every image, {expected.item():.6g}",
                         f"{where}: one .mean() over all elements (the loss functions' default)")
                fail(f"gan_loss(mode={mode!r}) on a {tuple(shape)} {dtype} grid = {value.item():.6g}",
                     f"{expected.item():.6g}", where)
            got = _grad(lambda t: gan_loss(t, True, mode=mode), logits)[0]
            want = _grad(lambda t: ref.gan_loss(t, True, mode), logits)[0]
            if not torch.allclose(got, want, rtol=1e-4, atol=1e-8):
                fail(f"the gradient of gan_loss(mode={mode!r}) on a {tuple(shape)} grid is wrong"
                     + (" (none reaches the logits)" if not got.any() else ""),
                     "d loss / d logit = (sigmoid(logit) - target) / number of patches" if mode == "vanilla"
                     else "d loss / d logit = 2 (logit - target) / number of patches",
                     f"{where}: no .detach(), .item() or float() on the logits or the loss")


def gan_loss_more(gan_loss):
    """Hidden: 62 x 62 grids (512 x 512 input), batches, float64 and the gradient, both modes."""
    ensure_own_code(gan_loss, "gan_loss")
    _check_gan_loss_more(gan_loss)
    passed("gan_loss: other grid sizes, batches, float64 and gradients")
