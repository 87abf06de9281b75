"""The lesson 4 checks pass a correct student copy of the losses and name the usual mistakes."""

from collections import namedtuple

import pytest
import torch
import torch.nn.functional as F

from p2p_ref import losses as reference
from p2p_ref.checks import CheckFailed
from p2p_ref.checks import ex4 as check


# A correct student copy, written the way the notebook asks.

def gan_loss(logits, target_is_real, mode="vanilla"):
    target = torch.ones_like(logits) if target_is_real else torch.zeros_like(logits)
    if mode == "vanilla":
        return F.binary_cross_entropy_with_logits(logits, target)
    if mode == "lsgan":
        return F.mse_loss(logits, target)
    raise ValueError(mode)


def l1_loss(fake, target):
    return torch.mean(torch.abs(target - fake))


def discriminator_loss(real_logits, fake_logits, mode="vanilla"):
    return 0.5 * (gan_loss(real_logits, True, mode) + gan_loss(fake_logits, False, mode))


def generator_loss(fake_logits, fake, target, lambda_l1=100.0, mode="vanilla"):
    gan = gan_loss(fake_logits, True, mode)
    l1 = l1_loss(fake, target)
    return gan + lambda_l1 * l1, gan, l1


def test_a_correct_copy_passes_every_check(capsys):
    for name, fn in (("gan_loss", gan_loss), ("l1_loss", l1_loss),
                     ("discriminator_loss", discriminator_loss), ("generator_loss", generator_loss)):
        getattr(check, name)(fn)
        getattr(check, name + "_more")(fn)
    assert capsys.readouterr().out.count("\N{CHECK MARK}") == 8


def test_another_correct_style_passes():
    bce = torch.nn.BCEWithLogitsLoss()

    def gan_loss2(logits, target_is_real, mode="vanilla"):
        return bce(logits, torch.full_like(logits, 1.0 if target_is_real else 0.0))

    def l1_loss2(fake, target):
        return F.l1_loss(fake, target)

    Losses = namedtuple("Losses", "total gan l1")

    def generator_loss2(fake_logits, fake, target, lambda_l1=100.0, mode="vanilla"):
        gan, l1 = gan_loss2(fake_logits, True), l1_loss2(fake, target)
        return Losses(gan + lambda_l1 * l1, gan, l1)

    check.gan_loss(gan_loss2)
    check.l1_loss(l1_loss2)
    check.generator_loss(generator_loss2)
    check.generator_loss_more(generator_loss2)


@pytest.mark.parametrize("name", ["gan_loss", "l1_loss", "discriminator_loss", "generator_loss"])
def test_the_reference_itself_is_refused(name):
    with pytest.raises(CheckFailed, match="reference"):
        getattr(check, name)(getattr(reference, name))


def test_a_wrapper_around_the_reference_is_refused():
    def discriminator_loss_wrapped(real_logits, fake_logits, mode="vanilla"):
        return reference.discriminator_loss(real_logits, fake_logits, mode)

    with pytest.raises(CheckFailed, match="uses the reference"):
        check.discriminator_loss(discriminator_loss_wrapped)


# gan_loss mistakes

def gan_loss_sigmoid_bce(logits, target_is_real, mode="vanilla"):
    target = torch.ones_like(logits) if target_is_real else torch.zeros_like(logits)
    return F.binary_cross_entropy(torch.sigmoid(logits), target)


def gan_loss_sigmoid_by_hand(logits, target_is_real, mode="vanilla"):
    p = torch.sigmoid(logits)
    t = 1.0 if target_is_real else 0.0
    return -(t * torch.log(p) + (1 - t) * torch.log(1 - p)).mean()


@pytest.mark.parametrize("wrong", [gan_loss_sigmoid_bce, gan_loss_sigmoid_by_hand])
def test_sigmoid_plus_bce_is_caught_at_extreme_logits(wrong):
    with pytest.raises(CheckFailed, match="(?s)gan_loss.*1e4.*BCE with logits"):
        check.gan_loss(wrong)


def test_sigmoid_plus_bce_also_fails_discriminator_and_generator_checks():
    def d_loss(real_logits, fake_logits, mode="vanilla"):
        return 0.5 * (gan_loss_sigmoid_bce(real_logits, True) + gan_loss_sigmoid_bce(fake_logits, False))

    def g_loss(fake_logits, fake, target, lambda_l1=100.0, mode="vanilla"):
        gan = gan_loss_sigmoid_bce(fake_logits, True)
        l1 = l1_loss(fake, target)
        return gan + lambda_l1 * l1, gan, l1

    with pytest.raises(CheckFailed, match="BCE with logits"):
        check.discriminator_loss(d_loss)
    with pytest.raises(CheckFailed, match="BCE with logits"):
        check.generator_loss(g_loss)


def test_swapped_labels_in_gan_loss():
    def wrong(logits, target_is_real, mode="vanilla"):
        target = torch.zeros_like(logits) if target_is_real else torch.ones_like(logits)
        return F.binary_cross_entropy_with_logits(logits, target)

    with pytest.raises(CheckFailed, match="labels\\s+are swapped"):
        check.gan_loss(wrong)


def test_gan_loss_summed_or_not_reduced():
    def summed(logits, target_is_real, mode="vanilla"):
        target = torch.ones_like(logits) if target_is_real else torch.zeros_like(logits)
        return F.binary_cross_entropy_with_logits(logits, target, reduction="sum")

    def per_patch(logits, target_is_real, mode="vanilla"):
        target = torch.ones_like(logits) if target_is_real else torch.zeros_like(logits)
        return F.binary_cross_entropy_with_logits(logits, target, reduction="none")

    with pytest.raises(CheckFailed):
        check.gan_loss(summed)
    with pytest.raises(CheckFailed, match="shape \\(1, 1, 30, 30\\)"):
        check.gan_loss(per_patch)


def test_gan_loss_returning_a_float_is_caught():
    def as_float(logits, target_is_real, mode="vanilla"):
        return gan_loss(logits, target_is_real).item()

    with pytest.raises(CheckFailed, match="not a torch tensor"):
        check.gan_loss(as_float)


def test_sigmoid_before_bce_with_logits():
    def double_sigmoid(logits, target_is_real, mode="vanilla"):
        return gan_loss(torch.sigmoid(logits), target_is_real)

    with pytest.raises(CheckFailed):
        check.gan_loss(double_sigmoid)


# l1_loss mistakes

def test_l1_as_sum():
    def wrong(fake, target):
        return (target - fake).abs().sum()

    with pytest.raises(CheckFailed, match="summed"):
        check.l1_loss(wrong)


def test_l1_squared_and_signed():
    with pytest.raises(CheckFailed, match="squared"):
        check.l1_loss(lambda fake, target: ((target - fake) ** 2).mean())
    with pytest.raises(CheckFailed, match="signed differences"):
        check.l1_loss(lambda fake, target: (target - fake).mean())


# discriminator_loss mistakes

def test_missing_half_in_discriminator_loss():
    def wrong(real_logits, fake_logits, mode="vanilla"):
        return gan_loss(real_logits, True) + gan_loss(fake_logits, False)

    with pytest.raises(CheckFailed, match="twice the expected value: the paper halves D's loss"):
        check.discriminator_loss(wrong)


def test_swapped_labels_in_discriminator_loss():
    def wrong(real_logits, fake_logits, mode="vanilla"):
        return 0.5 * (gan_loss(real_logits, False) + gan_loss(fake_logits, True))

    with pytest.raises(CheckFailed, match="labels are swapped"):
        check.discriminator_loss(wrong)


def test_fake_term_against_ones():
    def wrong(real_logits, fake_logits, mode="vanilla"):
        return 0.5 * (gan_loss(real_logits, True) + gan_loss(fake_logits, True))

    with pytest.raises(CheckFailed, match="fake logits are compared with ones"):
        check.discriminator_loss(wrong)


# generator_loss mistakes

def test_saturating_generator_loss():
    def wrong(fake_logits, fake, target, lambda_l1=100.0, mode="vanilla"):
        gan = torch.log(1 - torch.sigmoid(fake_logits)).mean()
        l1 = l1_loss(fake, target)
        return gan + lambda_l1 * l1, gan, l1

    with pytest.raises(CheckFailed, match="saturating"):
        check.generator_loss(wrong)


def test_generator_wants_fake_label():
    def wrong(fake_logits, fake, target, lambda_l1=100.0, mode="vanilla"):
        gan = gan_loss(fake_logits, False)
        l1 = l1_loss(fake, target)
        return gan + lambda_l1 * l1, gan, l1

    with pytest.raises(CheckFailed, match="compares D's output on the fake with zeros"):
        check.generator_loss(wrong)


def test_lambda_on_the_gan_term():
    def on_gan(fake_logits, fake, target, lambda_l1=100.0, mode="vanilla"):
        gan, l1 = gan_loss(fake_logits, True), l1_loss(fake, target)
        return lambda_l1 * gan + l1, gan, l1

    def on_both(fake_logits, fake, target, lambda_l1=100.0, mode="vanilla"):
        gan, l1 = gan_loss(fake_logits, True), l1_loss(fake, target)
        return lambda_l1 * (gan + l1), gan, l1

    with pytest.raises(CheckFailed, match="instead of the L1 term"):
        check.generator_loss(on_gan)
    with pytest.raises(CheckFailed, match="multiplies the GAN term too"):
        check.generator_loss(on_both)


def test_fixed_lambda_and_prescaled_l1():
    def fixed(fake_logits, fake, target, lambda_l1=100.0, mode="vanilla"):
        gan, l1 = gan_loss(fake_logits, True), l1_loss(fake, target)
        return gan + 100.0 * l1, gan, l1

    def prescaled(fake_logits, fake, target, lambda_l1=100.0, mode="vanilla"):
        gan, l1 = gan_loss(fake_logits, True), lambda_l1 * l1_loss(fake, target)
        return gan + l1, gan, l1

    with pytest.raises(CheckFailed, match="lambda_l1=0"):
        check.generator_loss(fixed)
    with pytest.raises(CheckFailed, match="already multiplied by lambda"):
        check.generator_loss(prescaled)


def test_generator_loss_shape_of_result_and_gradient():
    def only_total(fake_logits, fake, target, lambda_l1=100.0, mode="vanilla"):
        return gan_loss(fake_logits, True) + lambda_l1 * l1_loss(fake, target)

    def detached(fake_logits, fake, target, lambda_l1=100.0, mode="vanilla"):
        gan, l1 = gan_loss(fake_logits, True), l1_loss(fake.detach(), target)
        return gan + lambda_l1 * l1, gan, l1

    with pytest.raises(CheckFailed, match="three values"):
        check.generator_loss(only_total)
    with pytest.raises(CheckFailed, match="no gradient"):
        check.generator_loss(detached)


# hidden checks

def test_hidden_checks_catch_a_wrong_gradient():
    def gan_loss_detached(logits, target_is_real, mode="vanilla"):
        # right values, but no gradient reaches D (or, through D, G)
        return gan_loss(logits.detach(), target_is_real)

    check.gan_loss(gan_loss_detached)
    with pytest.raises(CheckFailed, match="gradient of gan_loss"):
        check.gan_loss_more(gan_loss_detached)
    check.generator_loss(lambda fl, f, t, lambda_l1=100.0, mode="vanilla": (
        gan_loss_detached(fl, True) + lambda_l1 * l1_loss(f, t), gan_loss_detached(fl, True), l1_loss(f, t)))
    with pytest.raises(CheckFailed, match="gradient of the total with respect to fake_logits"):
        check.generator_loss_more(lambda fl, f, t, lambda_l1=100.0, mode="vanilla": (
            gan_loss_detached(fl, True) + lambda_l1 * l1_loss(f, t), gan_loss_detached(fl, True), l1_loss(f, t)))
