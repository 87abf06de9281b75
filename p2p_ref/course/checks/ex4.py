"""Checks for lesson 4, the pix2pix objective (sec. 3.1 and 3.3, eq. 1-4), and its lambda sweep.

Every check compares the student's function with p2p_ref on fixed inputs: ordinary logits,
hand-computed cases, extreme logits (+-1e4 in float32) and 30 x 30 patch grids. When the values
differ it looks for the usual mistakes (labels swapped, sigmoid + BCE, a sum instead of a mean,
D's loss not halved, the saturating generator loss, lambda on the wrong term) and names them.
The `*_more` functions are the hidden checks: other shapes, float64 and gradients.

One mistake costs its points once: discriminator_loss and generator_loss call the student's
gan_loss and l1_loss. When one of those fails its own check and the composed loss fails too, the
composed loss is graded again with the reference block in its place (rebound in the student's
globals for the duration of the check); if it then passes it keeps its points and the message
names the faulty block. `strict=True` skips that second chance (lesson 5, which trains with the
student's functions as they are, uses it).
"""

import contextlib
import io
import math
import numbers

import torch
import torch.nn.functional as F

from p2p_ref.paper import sharpness as reference_sharpness
from p2p_ref.paper import losses as ref
from p2p_ref.course.checks.common import CheckFailed, ensure_own_code, fail, passed
from p2p_ref.paper.data import denormalize

EXTREME = (1e4, -1e4, 100.0, -100.0)  # float32 sigmoid rounds all four to exactly 0 or 1
UNKNOWN_MODE = "wgangp"               # a GAN mode the exercise does not ask for
SWEEP_LAMBDAS = (0.0, 100.0)          # the two values of lambda of the lesson's tiny sweep
PREDICTION_KEYS = ("lower_l1", "sharper")


def _grid(shape=(1, 1, 30, 30), scale=2.0, seed=0, dtype=torch.float32):
    """Fixed logits for a batch of PatchGAN grids (30 x 30 is D's output for a 256 x 256 pair)."""
    g = torch.Generator().manual_seed(seed)
    return (scale * torch.randn(shape, generator=g)).to(dtype)


def _images(shape=(1, 3, 64, 64), seed=1):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(shape, generator=g) * 2 - 1


def _extreme_grid(shape=(1, 1, 30, 30)):
    """A grid whose logits are all +-1e4 or +-100, in float32."""
    values = torch.tensor(EXTREME, dtype=torch.float32)
    return values.repeat(math.ceil(math.prod(shape) / len(EXTREME)))[:math.prod(shape)].reshape(shape)


def _close(a, b, rtol=1e-4, atol=1e-5):
    return torch.allclose(torch.as_tensor(a, dtype=torch.float64), torch.as_tensor(b, dtype=torch.float64),
                          rtol=rtol, atol=atol)


def _number(value, name, where):
    """The student's result must be a 0-dim tensor (one number, the mean over the grid)."""
    if not isinstance(value, torch.Tensor):
        fail(f"`{name}` returned {type(value).__name__} {value!r}, not a torch tensor",
             "a 0-dim torch tensor (so that .backward() works)",
             f"{where}: return the torch result itself, not .item() or a Python float")
    if value.dim() != 0:
        fail(f"`{name}` returned a tensor of shape {tuple(value.shape)}",
             "a 0-dim tensor: the mean over every patch of every image in the batch",
             f"{where}: average with .mean() (or keep the loss function's default reduction='mean')")
    return value.detach()


def _targets(logits, is_real):
    return torch.ones_like(logits) if is_real else torch.zeros_like(logits)


def _per_image_sum(per_element):
    """The mistake 'mean over each image, summed over the batch'."""
    return per_element.flatten(1).mean(dim=1).sum()


def _bce_sigmoid_hint(where):
    return (f"{where}: sigmoid + BCE breaks at large logits (sigmoid rounds to exactly 1.0 in float32, "
            "then log(1 - 1) = -inf; torch's binary_cross_entropy clamps it to 100). Use BCE with logits: "
            "F.binary_cross_entropy_with_logits or nn.BCEWithLogitsLoss")


def _check_extreme(value, expected, name, case, where):
    if not torch.isfinite(value):
        fail(f"`{name}` gives {value.item()} for {case}",
             f"a finite loss, {expected.item():.6g}",
             _bce_sigmoid_hint(where))
    if not _close(value, expected):
        fail(f"`{name}` gives {value.item():.6g} for {case}",
             f"{expected.item():.6g} (a logit of 1e4 on the wrong side costs about 1e4, not 100)",
             _bce_sigmoid_hint(where))


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
    logits = _grid()
    try:
        value = gan_loss(logits, True, mode=UNKNOWN_MODE)
    except ValueError as e:
        if UNKNOWN_MODE not in str(e):
            fail(f"gan_loss(..., mode={UNKNOWN_MODE!r}) raises ValueError({str(e)!r}), which does not say "
                 "which mode was refused",
                 f"a ValueError whose message names the mode, e.g. \"mode={UNKNOWN_MODE!r}: expected "
                 "'vanilla' or 'lsgan'\"", f"{where}: the raise at the end")
        return
    except Exception as e:
        fail(f"gan_loss(..., mode={UNKNOWN_MODE!r}) raises {type(e).__name__}: {e}",
             "a ValueError that names the mode", f"{where}: raise ValueError(...) for any other mode")
    fail(f"gan_loss(..., mode={UNKNOWN_MODE!r}) returns {value!r} instead of refusing the mode",
         "a ValueError that names the mode: a typo such as 'lsgna' must not train silently with "
         "another loss", f"{where}: raise ValueError(...) for any mode but 'vanilla' and 'lsgan'")


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


# l1_loss

def _check_l1_loss(l1_loss):
    where = "your `l1_loss`"
    value = _number(l1_loss(torch.zeros(1, 3, 8, 8), torch.ones(1, 3, 8, 8)), "l1_loss", where)
    if not _close(value, 1.0):
        if _close(value, 192.0):
            fail("l1_loss(zeros, ones) = 192: the absolute differences are summed",
                 "1.0: L_L1 = E|y - G(x)| is a mean over pixels and channels",
                 f"{where}: use .mean(), not .sum()")
        fail(f"l1_loss(zeros, ones) = {value.item():.6g}", "1.0, the mean absolute difference", where)
    fake, target = _images(seed=1), _images(seed=2)
    expected = ref.l1_loss(fake, target)
    value = _number(l1_loss(fake.clone(), target.clone()), "l1_loss", where)
    if not _close(value, expected):
        diff = target - fake
        if _close(value, diff.abs().sum()):
            fail("the absolute differences are summed, not averaged",
                 f"the mean, {expected.item():.6g} (a sum grows with the image size and makes lambda = 100 "
                 "meaningless)", f"{where}: use .mean(), not .sum()")
        if _close(value, (diff ** 2).mean()):
            fail("the differences are squared (that is L2 / MSE)",
                 f"the mean ABSOLUTE difference, {expected.item():.6g}: the paper uses L1 because it blurs less",
                 f"{where}: use .abs(), not ** 2")
        if _close(value, diff.mean()) or _close(value, -diff.mean()):
            fail("the signed differences are averaged, so positive and negative errors cancel",
                 f"the mean absolute difference, {expected.item():.6g}", f"{where}: take .abs() before .mean()")
        fail(f"l1_loss on random images = {value.item():.6g}", f"{expected.item():.6g} = mean |target - fake|",
             where)
    value = _number(l1_loss(fake, fake.clone()), "l1_loss", where)
    if value.item() != 0:
        fail(f"l1_loss(x, x) = {value.item():.6g}", "0: identical images have no L1 distance", where)


def l1_loss(l1_loss):
    """Check l1_loss(fake, target) = mean |target - fake| (eq. 3)."""
    ensure_own_code(l1_loss, "l1_loss")
    _check_l1_loss(l1_loss)
    passed("l1_loss: the mean absolute difference (1.0 for zeros vs ones, 0 for identical images)")


def _check_l1_loss_more(l1_loss):
    where = "your `l1_loss`"
    fake, target = _images((2, 1, 16, 24), seed=9), _images((2, 1, 16, 24), seed=10)
    value = _number(l1_loss(fake, target), "l1_loss", where)
    expected = ref.l1_loss(fake, target)
    if not _close(value, expected):
        if _close(value, _per_image_sum((target - fake).abs())):
            fail(f"l1_loss on a batch of 2 images = {value.item():.6g}: each image's mean is summed over the batch",
                 f"the mean over every pixel, channel and image, {expected.item():.6g}",
                 f"{where}: one .mean() over all elements")
        fail(f"l1_loss on 2 x 1 x 16 x 24 images = {value.item():.6g}", f"{expected.item():.6g}", where)
    got = _grad(lambda f: l1_loss(f, target), fake)[0]
    want = _grad(lambda f: ref.l1_loss(f, target), fake)[0]
    if not torch.allclose(got, want, atol=1e-9):
        fail("the gradient of l1_loss with respect to the fake image is wrong",
             "sign(fake - target) / number of elements", f"{where}: no .detach(), .item() or float()")


def l1_loss_more(l1_loss):
    """Hidden: a batch of another shape and the gradient."""
    ensure_own_code(l1_loss, "l1_loss")
    _check_l1_loss_more(l1_loss)
    passed("l1_loss: other shapes and the gradient")


# One mistake, one exercise: the composed losses get a second chance with the reference blocks.

_BLOCK_CHECKS = {"gan_loss": (_check_gan_loss, _check_gan_loss_more),
                 "l1_loss": (_check_l1_loss, _check_l1_loss_more)}
_BLOCK_CELLS = {"gan_loss": "the `gan_loss` cell and its check", "l1_loss": "the `l1_loss` cell and its check"}


def _faulty_blocks(student, names):
    """The blocks among `names` (gan_loss, l1_loss) that the student's notebook defines and that
    fail their own checks, visible or hidden."""
    namespace = getattr(student, "__globals__", None)
    if namespace is None:
        return []
    faulty = []
    for name in names:
        block = namespace.get(name)
        if block is None or block is getattr(ref, name):
            continue
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                for check in _BLOCK_CHECKS[name]:
                    check(block)
        except Exception:  # CheckFailed, or the block raising anything (e.g. NotImplementedError)
            faulty.append(name)
    return faulty


def _grade_composed(student, name, run, blocks, strict, summary):
    """Run the checks `run(student)` of a loss that calls the blocks `blocks`; if they fail and some
    block fails its own check, run them again with the reference blocks in the student's globals."""
    ensure_own_code(student, name, allowed=(ref.gan_loss, ref.l1_loss))
    try:
        run(student)
        passed(summary)
        return
    except Exception:
        faulty = [] if strict else _faulty_blocks(student, blocks)
        if not faulty:
            raise
    namespace = student.__globals__
    saved = {block: namespace[block] for block in faulty}
    listed = " and ".join(f"`{block}`" for block in faulty)
    try:
        namespace.update({block: getattr(ref, block) for block in faulty})
        try:
            run(student)
        except CheckFailed as e:
            raise CheckFailed(f"{e}\n  (Checked with the reference {listed} in place of yours, which fails its "
                              f"own check: this mistake is in `{name}` itself.)") from None
    finally:
        namespace.update(saved)
    passed(f"{name} is right when it calls the reference {listed}: the mistake is in your {listed} "
           f"(see {', '.join(_BLOCK_CELLS[b] for b in faulty)}), which loses its points there, not here. "
           f"Fix it: lesson 5 trains with what you wrote")


# discriminator_loss

def _check_discriminator_loss(discriminator_loss):
    where = "your `discriminator_loss`"

    def value_of(real, fake, **mode):
        return _number(discriminator_loss(real.clone(), fake.clone(), **mode), "discriminator_loss", where)

    zeros = torch.zeros(1, 1, 30, 30)
    value = value_of(zeros, zeros)
    if _close(value, 2 * math.log(2)):
        fail(f"discriminator_loss(zeros, zeros) = {value.item():.4f}, twice the expected value: the paper halves "
             "D's loss", f"log 2 = {math.log(2):.4f} = 0.5 * (log 2 + log 2)",
             f"{where}: multiply the sum of the two BCE terms by 0.5 (sec. 3.3: it slows D down relative to G)")
    if not _close(value, math.log(2)):
        fail(f"discriminator_loss(zeros, zeros) = {value.item():.4f}", f"log 2 = {math.log(2):.4f}", where)
    # Ordinary logits: a real grid and a fake grid of 30 x 30 patches, batch of 4.
    real, fake = _grid((4, 1, 30, 30), seed=3) + 1, _grid((4, 1, 30, 30), seed=4) - 1
    expected = ref.discriminator_loss(real, fake)
    value = value_of(real, fake)
    if not _close(value, expected):
        if _close(value, 2 * expected):
            fail(f"discriminator_loss = {value.item():.6g}, twice the expected value: the paper halves D's loss",
                 f"{expected.item():.6g} = 0.5 * [BCE(D(x, y), 1) + BCE(D(x, G(x)), 0)]",
                 f"{where}: multiply by 0.5 (sec. 3.3: it slows D down relative to G)")
        if _close(value, ref.discriminator_loss(fake, real)):
            fail("the labels are swapped: real pairs are pushed toward 0 and fakes toward 1",
                 f"{expected.item():.6g}: real_logits against ones, fake_logits against zeros",
                 f"{where}: target_is_real=True for real_logits, False for fake_logits")
        if _close(value, 0.5 * (ref.gan_loss(real, True) + ref.gan_loss(fake, True))):
            fail("the fake logits are compared with ones (real)",
                 f"{expected.item():.6g}: D must learn to call fakes fake (target 0)",
                 f"{where}: the fake term, target_is_real=False")
        if _close(value, 0.5 * (ref.gan_loss(real, True) - ref.gan_loss(fake, True))):
            fail("the fake term is written as -BCE(fake, 1), which is unbounded below",
                 f"{expected.item():.6g}: BCE(fake, 0) for the fake term", f"{where}: the fake term")
        fail(f"discriminator_loss on random 4 x 1 x 30 x 30 grids = {value.item():.6g}",
             f"{expected.item():.6g} = 0.5 * [BCE(real_logits, 1) + BCE(fake_logits, 0)]", where)
    extreme = _extreme_grid()
    for real_x, fake_x, case in ((extreme, -extreme, "real logits +-1e4 / +-100 and fakes the opposite"),
                                 (extreme.abs(), -extreme.abs(), "D sure and right (real +1e4, fake -1e4)"),
                                 (-extreme.abs(), extreme.abs(), "D sure and wrong (real -1e4, fake +1e4)")):
        _check_extreme(value_of(real_x, fake_x), ref.discriminator_loss(real_x, fake_x), "discriminator_loss",
                       case, where)
    # The mode reaches both terms.
    expected = ref.discriminator_loss(real, fake, "lsgan")
    value = value_of(real, fake, mode="lsgan")
    if not _close(value, expected):
        if _close(value, ref.discriminator_loss(real, fake)):
            fail("discriminator_loss(..., mode='lsgan') gives the vanilla (BCE) value: `mode` is not passed on",
                 f"{expected.item():.6g} = 0.5 * [LSGAN(real, 1) + LSGAN(fake, 0)]",
                 f"{where}: pass mode to both gan_loss calls")
        fail(f"discriminator_loss(..., mode='lsgan') = {value.item():.6g}",
             f"{expected.item():.6g} = 0.5 * [LSGAN(real, 1) + LSGAN(fake, 0)]",
             f"{where}: pass mode to both gan_loss calls")


def discriminator_loss(discriminator_loss, *, strict=False):
    """Check discriminator_loss(real_logits, fake_logits, mode="vanilla") = 0.5 * [BCE(real, 1) + BCE(fake, 0)]."""
    _grade_composed(discriminator_loss, "discriminator_loss", _check_discriminator_loss, ("gan_loss",), strict,
                    "discriminator_loss: halved, right labels, finite and exact at logits of +-1e4, mode passed on")


def _check_discriminator_loss_more(discriminator_loss):
    real, fake = _grid((2, 1, 62, 62), seed=11), _grid((2, 1, 62, 62), seed=12)
    for mode in ("vanilla", "lsgan"):
        got = _grad(lambda r, f: discriminator_loss(r, f, mode=mode), real, fake)
        want = _grad(lambda r, f: ref.discriminator_loss(r, f, mode), real, fake)
        for name, g, w in (("real_logits", got[0], want[0]), ("fake_logits", got[1], want[1])):
            if not torch.allclose(g, w, rtol=1e-4, atol=1e-9):
                fail(f"the gradient of discriminator_loss(mode={mode!r}) with respect to {name} is wrong",
                     "0.5 times the gradient of gan_loss: both grids get one, each averaged over its patches",
                     "your `discriminator_loss`")


def discriminator_loss_more(discriminator_loss, *, strict=False):
    """Hidden: the gradients reaching both grids, and a 62 x 62 grid, both modes."""
    _grade_composed(discriminator_loss, "discriminator_loss", _check_discriminator_loss_more, ("gan_loss",),
                    strict, "discriminator_loss: gradients on 62 x 62 grids")


# generator_loss

def _parts(out, where):
    if isinstance(out, torch.Tensor) or not hasattr(out, "__len__") or len(out) != 3:
        fail(f"`generator_loss` returned {type(out).__name__}"
             + (f" of length {len(out)}" if hasattr(out, "__len__") and not isinstance(out, torch.Tensor) else ""),
             "three values (total, gan, l1), a tuple or namedtuple",
             f"{where}: `return total, gan, l1`")
    total, gan, l1 = out
    return (_number(total, "generator_loss(...)[0] (total)", where),
            _number(gan, "generator_loss(...)[1] (gan)", where),
            _number(l1, "generator_loss(...)[2] (l1)", where))


def _check_generator_loss(generator_loss):
    where = "your `generator_loss`"
    logits = _grid(seed=5)
    fake, target = _images(seed=6), _images(seed=7)
    expected = ref.generator_loss(logits, fake, target)
    out = generator_loss(logits.clone(), fake.clone(), target.clone())
    total, gan, l1 = _parts(out, where)
    if not _close(l1, expected.l1):
        if _close(l1, 100 * expected.l1):
            fail("the l1 item is already multiplied by lambda",
                 f"the plain mean |y - G(x)| = {expected.l1.item():.6g}; lambda multiplies it only inside total",
                 f"{where}: return l1 before scaling")
        if _close(l1, (target - fake).abs().sum()):
            fail("L1 is computed as a sum over pixels",
                 f"the mean absolute difference, {expected.l1.item():.6g}", f"{where} (and your `l1_loss`)")
        fail(f"the l1 item is {l1.item():.6g}", f"mean |target - fake| = {expected.l1.item():.6g}",
             f"{where}: the third value returned (and your `l1_loss`, if it calls it)")
    if not _close(gan, expected.gan):
        if _close(gan, -ref.gan_loss(logits, False)):
            fail("the GAN term is the saturating log(1 - D(x, G(x))) that G minimises",
                 f"the non-saturating BCE(D(x, G(x)), 1) = -log D(x, G(x)) = {expected.gan.item():.6g}: "
                 "log(1 - D) has almost no gradient early on, when D rejects every fake",
                 f"{where}: gan_loss(fake_logits, True)")
        if _close(gan, ref.gan_loss(logits, False)):
            fail("the GAN term compares D's output on the fake with zeros (fake)",
                 f"BCE(D(x, G(x)), 1) = {expected.gan.item():.6g}: G wants D to call its output real",
                 f"{where}: gan_loss(fake_logits, True)")
        fail(f"the gan item is {gan.item():.6g}", f"BCE(D(x, G(x)), 1) = {expected.gan.item():.6g}",
             f"{where}: the second value returned (and your `gan_loss`, if it calls it)")
    if not _close(total, expected.total):
        if _close(total, 100 * (expected.gan + expected.l1)):
            fail("lambda multiplies the GAN term too",
                 f"total = gan + lambda * l1 = {expected.total.item():.6g}: lambda weighs the L1 term only",
                 f"{where}: the line that adds the two terms")
        if _close(total, 100 * expected.gan + expected.l1):
            fail("lambda multiplies the GAN term instead of the L1 term",
                 f"total = gan + lambda * l1 = {expected.total.item():.6g}",
                 f"{where}: the line that adds the two terms")
        if _close(total, expected.gan + expected.l1):
            fail("lambda is not applied", f"total = gan + 100 * l1 = {expected.total.item():.6g} (default lambda_l1=100)",
                 f"{where}: multiply l1 by lambda_l1")
        fail(f"total = {total.item():.6g}", f"gan + lambda_l1 * l1 = {expected.total.item():.6g}",
             f"{where}: the first value returned")
    for lam in (0.0, 10.0):
        total, gan, l1 = _parts(generator_loss(logits, fake, target, lambda_l1=lam), where)
        want = ref.generator_loss(logits, fake, target, lambda_l1=lam).total
        if not _close(total, want):
            fail(f"with lambda_l1={lam:g} total = {total.item():.6g}", f"gan + {lam:g} * l1 = {want.item():.6g}",
                 f"{where}: use the lambda_l1 argument, not a fixed 100")
    extreme = _extreme_grid()
    total, gan, _ = _parts(generator_loss(extreme, fake, target), where)
    want = ref.generator_loss(extreme, fake, target)
    _check_extreme(gan, want.gan, "generator_loss (gan item)", "fake logits of +-1e4 and +-100 (float32)", where)
    _check_extreme(total, want.total, "generator_loss (total)", "fake logits of +-1e4 and +-100 (float32)", where)
    # The mode reaches the GAN term.
    total, gan, _ = _parts(generator_loss(logits, fake, target, mode="lsgan"), where)
    want = ref.generator_loss(logits, fake, target, mode="lsgan")
    if not (_close(gan, want.gan) and _close(total, want.total)):
        if _close(gan, expected.gan):
            fail("generator_loss(..., mode='lsgan') uses the vanilla (BCE) GAN term: `mode` is not passed on",
                 f"gan = LSGAN(D(x, G(x)), 1) = {want.gan.item():.6g}", f"{where}: pass mode to gan_loss")
        fail(f"generator_loss(..., mode='lsgan') gives gan {gan.item():.6g}, total {total.item():.6g}",
             f"gan {want.gan.item():.6g}, total {want.total.item():.6g}", f"{where}: pass mode to gan_loss")
    fake_req = fake.clone().requires_grad_(True)
    total = generator_loss(logits, fake_req, target)[0]
    if not isinstance(total, torch.Tensor) or not total.requires_grad:
        fail("the total loss carries no gradient back to the generated image",
             "a tensor connected to `fake`, so loss.backward() trains G",
             f"{where}: do not call .item(), .detach() or float() on the terms")


def generator_loss(generator_loss, *, strict=False):
    """Check generator_loss(fake_logits, fake, target, lambda_l1=100.0, mode="vanilla") -> (total, gan, l1), eq. 4."""
    _grade_composed(generator_loss, "generator_loss", _check_generator_loss, ("gan_loss", "l1_loss"), strict,
                    "generator_loss: (total, gan, l1) = non-saturating BCE(D(x, G(x)), 1) + lambda * mean L1, "
                    "lambda on L1 only, mode passed on")


def _grad(fn, *tensors):
    """Gradients of fn's (first) output with respect to each tensor; zeros where none arrives."""
    leaves = [t.detach().clone().requires_grad_(True) for t in tensors]
    out = fn(*leaves)
    out = out[0] if isinstance(out, tuple) else out
    if not isinstance(out, torch.Tensor) or not out.requires_grad:
        return [torch.zeros_like(leaf) for leaf in leaves]
    out.backward()
    return [leaf.grad if leaf.grad is not None else torch.zeros_like(leaf) for leaf in leaves]


def _check_generator_loss_more(generator_loss):
    logits = _grid((2, 1, 30, 30), seed=13)
    fake, target = _images((2, 3, 64, 64), seed=14), _images((2, 3, 64, 64), seed=15)
    for lam in (100.0, 1.0):
        got = _grad(lambda a, b: tuple(generator_loss(a, b, target, lambda_l1=lam)), logits, fake)
        want = _grad(lambda a, b: tuple(ref.generator_loss(a, b, target, lambda_l1=lam)), logits, fake)
        for name, g, w in (("fake_logits", got[0], want[0]), ("fake", got[1], want[1])):
            if not torch.allclose(g, w, rtol=1e-4, atol=1e-9):
                fail(f"with lambda_l1={lam:g} the gradient of the total with respect to {name} is wrong",
                     "the gradient of BCE(fake_logits, 1) + lambda_l1 * mean |target - fake|",
                     "your `generator_loss`")


def generator_loss_more(generator_loss, *, strict=False):
    """Hidden: gradients to both D's logits and the generated image, at lambda 100 and 1."""
    _grade_composed(generator_loss, "generator_loss", _check_generator_loss_more, ("gan_loss", "l1_loss"), strict,
                    "generator_loss: gradients to D's logits and to G's output")


# The tiny lambda sweep: a prediction, then a measurement.

def prediction(prediction):
    """Check that PREDICTION is a well-formed prediction; whether it is right is not graded."""
    where = "your PREDICTION cell"
    expected = "a dict {'lower_l1': lambda, 'sharper': lambda}, each lambda 0 or 100 (a number)"
    if not isinstance(prediction, dict):
        fail(f"PREDICTION is {type(prediction).__name__} {prediction!r}", expected, where)
    keys = sorted(map(str, prediction))
    if keys != sorted(PREDICTION_KEYS):
        fail(f"PREDICTION has the keys {keys}", f"exactly the keys 'lower_l1' and 'sharper': {expected}", where)
    for key in PREDICTION_KEYS:
        value = prediction[key]
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or float(value) not in SWEEP_LAMBDAS:
            fail(f"PREDICTION[{key!r}] = {value!r}",
                 f"one of the two values of lambda the sweep trains, 0 or 100, as a number", where)
    passed(f"prediction recorded: the lower L1 to the target at lambda = {prediction['lower_l1']:g}, the sharper "
           f"output at lambda = {prediction['sharper']:g}. Whether it is right earns no points: the next "
           "cells measure it")


def _scalar(value, name, where):
    """A number: a Python/NumPy real or a tensor holding one element."""
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            fail(f"`measure` returned a {name} of shape {tuple(value.shape)}",
                 f"one number: the {name} averaged over the images",
                 f"{where}: average over the images (.mean())")
        return float(value.detach())
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return float(value)
    fail(f"`measure` returned {type(value).__name__} {value!r} as its {name}",
         "a number (a float or a 0-dim tensor)", where)


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
