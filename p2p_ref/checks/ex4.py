"""Checks for lesson 4, the pix2pix objective (sec. 3.1 and 3.3, eq. 1-4).

Every check compares the student's function with p2p_ref.losses on fixed inputs: ordinary logits,
hand-computed cases, extreme logits (+-1e4 in float32) and 30 x 30 patch grids. When the values
differ it looks for the usual mistakes (labels swapped, sigmoid + BCE, a sum instead of a mean,
D's loss not halved, the saturating generator loss, lambda on the wrong term) and names them.
The `*_more` functions are the hidden checks: other shapes, float64 and gradients.
"""

import math

import torch
import torch.nn.functional as F

from p2p_ref import losses as ref
from p2p_ref.checks.common import ensure_own_code, fail, passed

EXTREME = (1e4, -1e4, 100.0, -100.0)  # float32 sigmoid rounds all four to exactly 0 or 1


def _grid(shape=(1, 1, 30, 30), scale=2.0, seed=0, dtype=torch.float32):
    """Fixed logits for a batch of PatchGAN grids (30 x 30 is D's output for a 256 x 256 pair)."""
    g = torch.Generator().manual_seed(seed)
    return (scale * torch.randn(shape, generator=g)).to(dtype)


def _images(shape=(1, 3, 256, 256), seed=1):
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


def _gan_loss_value(gan_loss, logits, target_is_real, where):
    out = gan_loss(logits.clone(), target_is_real)
    return _number(out, "gan_loss", where)


def gan_loss(gan_loss):
    """Check gan_loss(logits, target_is_real, mode="vanilla") against the reference."""
    ensure_own_code(gan_loss, "gan_loss")
    where = "your `gan_loss`"
    # Hand-computed: a logit of 0 is sigmoid 0.5, so the loss is log 2 for either target.
    zeros = torch.zeros(1, 1, 30, 30)
    for is_real in (True, False):
        value = _gan_loss_value(gan_loss, zeros, is_real, where)
        if not _close(value, math.log(2)):
            fail(f"gan_loss(all-zero logits, target_is_real={is_real}) = {value.item():.6g}",
                 f"log 2 = {math.log(2):.6g}: a logit of 0 means D says 0.5",
                 f"{where}: it takes logits (D has no sigmoid); use BCE with logits against "
                 "ones (real) or zeros (fake)")
    # A logit of +3 against 'real' costs log(1 + e^-3); against 'fake' it costs log(1 + e^3).
    three = torch.full((1, 1, 30, 30), 3.0)
    for is_real, expected in ((True, math.log1p(math.exp(-3))), (False, math.log1p(math.exp(3)))):
        value = _gan_loss_value(gan_loss, three, is_real, where)
        if not _close(value, expected):
            swapped = math.log1p(math.exp(3)) if is_real else math.log1p(math.exp(-3))
            if _close(value, swapped):
                fail(f"gan_loss(logits = 3, target_is_real={is_real}) = {value.item():.4f}: the labels "
                     "are swapped",
                     f"{expected:.4f}: target_is_real=True compares with ones, False with zeros",
                     f"{where}: the target tensor (torch.ones_like for real, torch.zeros_like for fake)")
            fail(f"gan_loss(logits = 3, target_is_real={is_real}) = {value.item():.4f}",
                 f"{expected:.4f} = -log sigmoid(3)" if is_real else f"{expected:.4f} = -log(1 - sigmoid(3))",
                 f"{where}: binary cross-entropy with logits against ones (real) or zeros (fake)")
    # Ordinary logits on a 30 x 30 grid.
    logits = _grid()
    for is_real in (True, False):
        expected = ref.gan_loss(logits, is_real)
        value = _gan_loss_value(gan_loss, logits, is_real, where)
        if _close(value, expected):
            continue
        target = torch.ones_like(logits) if is_real else torch.zeros_like(logits)
        if _close(value, F.binary_cross_entropy_with_logits(logits, target, reduction="sum")):
            fail("the loss is summed over the 30 x 30 grid",
                 f"the mean over patches, {expected.item():.6g}",
                 f"{where}: use the mean (reduction='mean', the default)")
        if _close(value, F.binary_cross_entropy_with_logits(torch.sigmoid(logits), target)):
            fail("sigmoid is applied before BCE-with-logits, which applies it again",
                 f"{expected.item():.6g}: pass the raw logits",
                 f"{where}: remove the torch.sigmoid")
        fail(f"gan_loss(random 30 x 30 logits, target_is_real={is_real}) = {value.item():.6g}",
             f"{expected.item():.6g}",
             f"{where}: mean binary cross-entropy with logits against ones (real) or zeros (fake)")
    # Extreme logits, float32.
    extreme = _extreme_grid()
    for is_real in (True, False):
        _check_extreme(_gan_loss_value(gan_loss, extreme, is_real, where), ref.gan_loss(extreme, is_real),
                       "gan_loss", f"logits of +-1e4 and +-100 (float32), target_is_real={is_real}", where)
    value = _number(gan_loss(logits, True, mode="vanilla"), "gan_loss", where)
    if not _close(value, ref.gan_loss(logits, True)):
        fail("gan_loss(..., mode='vanilla') differs from the default mode",
             "mode='vanilla' is the default: both calls give the same value",
             f"{where}: the `mode` argument")
    passed("gan_loss: log 2 at logit 0, right labels, mean over the 30 x 30 grid, finite at logits of +-1e4")


def l1_loss(l1_loss):
    """Check l1_loss(fake, target) = mean |target - fake| (eq. 3)."""
    ensure_own_code(l1_loss, "l1_loss")
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
    passed("l1_loss: the mean absolute difference (1.0 for zeros vs ones, 0 for identical images)")


def discriminator_loss(discriminator_loss):
    """Check discriminator_loss(real_logits, fake_logits) = 0.5 * [BCE(real, 1) + BCE(fake, 0)]."""
    ensure_own_code(discriminator_loss, "discriminator_loss")
    where = "your `discriminator_loss`"

    def value_of(real, fake):
        return _number(discriminator_loss(real.clone(), fake.clone()), "discriminator_loss", where)

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
    passed("discriminator_loss: halved, right labels, finite and exact at logits of +-1e4")


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


def generator_loss(generator_loss):
    """Check generator_loss(fake_logits, fake, target, lambda_l1=100.0) -> (total, gan, l1), eq. 4."""
    ensure_own_code(generator_loss, "generator_loss")
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
             f"{where}: the third value returned, and your `l1_loss`")
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
             f"{where}: the second value returned, and your `gan_loss`")
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
    fake_req = fake.clone().requires_grad_(True)
    total = generator_loss(logits, fake_req, target)[0]
    if not isinstance(total, torch.Tensor) or not total.requires_grad:
        fail("the total loss carries no gradient back to the generated image",
             "a tensor connected to `fake`, so loss.backward() trains G",
             f"{where}: do not call .item(), .detach() or float() on the terms")
    passed("generator_loss: (total, gan, l1) = non-saturating BCE(D(x, G(x)), 1) + lambda * mean L1, "
           "lambda on L1 only")


# Hidden checks: other shapes, float64 and gradients.

def _grad(fn, *tensors):
    """Gradients of fn's (first) output with respect to each tensor; zeros where none arrives."""
    leaves = [t.detach().clone().requires_grad_(True) for t in tensors]
    out = fn(*leaves)
    out = out[0] if isinstance(out, tuple) else out
    if not isinstance(out, torch.Tensor) or not out.requires_grad:
        return [torch.zeros_like(leaf) for leaf in leaves]
    out.backward()
    return [leaf.grad if leaf.grad is not None else torch.zeros_like(leaf) for leaf in leaves]


def gan_loss_more(gan_loss):
    """Hidden: 62 x 62 grids (512 x 512 input), batches, float64 and the gradient."""
    ensure_own_code(gan_loss, "gan_loss")
    where = "your `gan_loss`"
    for shape, dtype in (((2, 1, 62, 62), torch.float32), ((3, 1, 30, 30), torch.float64), ((1, 1, 1, 1), torch.float32)):
        logits = _grid(shape, seed=8, dtype=dtype)
        for is_real in (True, False):
            value = _number(gan_loss(logits, is_real), "gan_loss", where)
            if not _close(value, ref.gan_loss(logits, is_real)):
                fail(f"gan_loss on a {tuple(shape)} {dtype} grid = {value.item():.6g}",
                     f"{ref.gan_loss(logits, is_real).item():.6g}", where)
        got = _grad(lambda t: gan_loss(t, True), logits)[0]
        want = _grad(lambda t: ref.gan_loss(t, True), logits)[0]
        if not torch.allclose(got, want, rtol=1e-4, atol=1e-8):
            fail(f"the gradient of gan_loss on a {tuple(shape)} grid is wrong"
                 + (" (none reaches the logits)" if not got.any() else ""),
                 "d loss / d logit = (sigmoid(logit) - target) / number of patches",
                 f"{where}: no .detach(), .item() or float() on the logits or the loss")
    passed("gan_loss: other grid sizes, float64 and gradients")


def l1_loss_more(l1_loss):
    """Hidden: another shape and the gradient."""
    ensure_own_code(l1_loss, "l1_loss")
    fake, target = _images((2, 1, 16, 24), seed=9), _images((2, 1, 16, 24), seed=10)
    value = _number(l1_loss(fake, target), "l1_loss", "your `l1_loss`")
    if not _close(value, ref.l1_loss(fake, target)):
        fail(f"l1_loss on 2 x 1 x 16 x 24 images = {value.item():.6g}", f"{ref.l1_loss(fake, target).item():.6g}",
             "your `l1_loss`")
    got = _grad(lambda f: l1_loss(f, target), fake)[0]
    want = _grad(lambda f: ref.l1_loss(f, target), fake)[0]
    if not torch.allclose(got, want, atol=1e-9):
        fail("the gradient of l1_loss with respect to the fake image is wrong",
             "sign(fake - target) / number of elements", "your `l1_loss`")
    passed("l1_loss: other shapes and the gradient")


def discriminator_loss_more(discriminator_loss):
    """Hidden: the gradients reaching both grids, and a 62 x 62 grid."""
    ensure_own_code(discriminator_loss, "discriminator_loss")
    real, fake = _grid((2, 1, 62, 62), seed=11), _grid((2, 1, 62, 62), seed=12)
    got = _grad(discriminator_loss, real, fake)
    want = _grad(ref.discriminator_loss, real, fake)
    for name, g, w in (("real_logits", got[0], want[0]), ("fake_logits", got[1], want[1])):
        if not torch.allclose(g, w, rtol=1e-4, atol=1e-9):
            fail(f"the gradient of discriminator_loss with respect to {name} is wrong",
                 "0.5 * (sigmoid(logit) - target) / number of patches", "your `discriminator_loss`")
    passed("discriminator_loss: gradients on 62 x 62 grids")


def generator_loss_more(generator_loss):
    """Hidden: gradients to both D's logits and the generated image, at lambda 100 and 1."""
    ensure_own_code(generator_loss, "generator_loss")
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
    passed("generator_loss: gradients to D's logits and to G's output")
