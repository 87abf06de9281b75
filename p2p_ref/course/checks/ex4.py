"""Checks for lesson 4, the pix2pix objective (sec. 3.1 and 3.3, eq. 1-4), and its lambda sweep.

This module grades l1_loss and the composed losses, discriminator_loss and generator_loss; the
checks of gan_loss live in ex4_gan, those of the lambda sweep (prediction, measure) in
ex4_measure, and the inputs and helpers they share in ex4_common. All are reached from here:
`check.gan_loss`, `check.measure`, ...

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

import torch

from p2p_ref.paper import losses as ref
from p2p_ref.course.checks.common import CheckFailed, ensure_own_code, fail, passed
from p2p_ref.course.checks.ex4_common import (
    _check_extreme, _close, _extreme_grid, _grad, _grid, _images, _number, _per_image_sum)
from p2p_ref.course.checks.ex4_gan import (  # noqa: F401 - gan_loss's checks, used by the notebook
    _check_gan_loss, _check_gan_loss_more, gan_loss, gan_loss_more)
from p2p_ref.course.checks.ex4_measure import measure, measure_more, prediction  # noqa: F401 - the lambda sweep's checks

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
    if _close(value, 0.5 * math.log(2)):
        fail(f"discriminator_loss(zeros, zeros) = {value.item():.4f}, half the expected value: D's loss is "
             "halved twice", f"log 2 = {math.log(2):.4f} = 0.5 * (log 2 + log 2): the objective divided by 2 once "
             "(a mean over the real and fake grids taken together already is half their sum)",
             f"{where}: divide by 2 only once")
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


def _check_l1_item(l1, expected, fake, target, where):
    """The third value of generator_loss: the plain L1 term (eq. 3), before lambda."""
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


def _check_gan_item(gan, expected, logits, where):
    """The second value: the non-saturating GAN term, BCE(D(x, G(x)), 1) (sec. 3.3)."""
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


def _check_total_item(total, expected, where):
    """The first value: gan + lambda * l1 (eq. 4)."""
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


def _check_generator_loss(generator_loss):
    where = "your `generator_loss`"
    logits = _grid(seed=5)
    fake, target = _images(seed=6), _images(seed=7)
    expected = ref.generator_loss(logits, fake, target)
    out = generator_loss(logits.clone(), fake.clone(), target.clone())
    total, gan, l1 = _parts(out, where)
    _check_l1_item(l1, expected, fake, target, where)
    _check_gan_item(gan, expected, logits, where)
    _check_total_item(total, expected, where)
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
