"""The lesson 4 checks pass correct student code however it is written, name the usual mistakes,
and charge a mistake in gan_loss or l1_loss only once."""

import textwrap
from collections import namedtuple

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from p2p_ref.paper import sharpness as reference_sharpness
from p2p_ref.paper import losses as reference
from p2p_ref.course.checks import CheckFailed
from p2p_ref.course.checks import ex4 as check


# A correct student copy, written the way the notebook asks.

def gan_loss(logits, target_is_real, mode="vanilla"):
    target = torch.ones_like(logits) if target_is_real else torch.zeros_like(logits)
    if mode == "vanilla":
        return F.binary_cross_entropy_with_logits(logits, target)
    if mode == "lsgan":
        return F.mse_loss(logits, target)
    raise ValueError(f"mode={mode!r}")


def l1_loss(fake, target):
    return torch.mean(torch.abs(target - fake))


def discriminator_loss(real_logits, fake_logits, mode="vanilla"):
    return 0.5 * (gan_loss(real_logits, True, mode) + gan_loss(fake_logits, False, mode))


def generator_loss(fake_logits, fake, target, lambda_l1=100.0, mode="vanilla"):
    gan = gan_loss(fake_logits, True, mode)
    l1 = l1_loss(fake, target)
    return gan + lambda_l1 * l1, gan, l1


def measure(fakes, targets):
    l1 = (targets - fakes).abs().mean()
    sharpness = reference_sharpness.laplacian_variance((fakes + 1) / 2).mean()
    return l1.item(), sharpness.item()


def notebook(source):
    """The namespace of a notebook that ran `source`: its functions' globals, as in Jupyter."""
    namespace = {"torch": torch, "F": F, "nn": nn, "reference": reference}
    exec(textwrap.dedent(source), namespace)
    return namespace


CORRECT_NOTEBOOK = """
def gan_loss(logits, target_is_real, mode="vanilla"):
    target = torch.ones_like(logits) if target_is_real else torch.zeros_like(logits)
    if mode == "vanilla":
        return F.binary_cross_entropy_with_logits(logits, target)
    if mode == "lsgan":
        return F.mse_loss(logits, target)
    raise ValueError(f"mode={mode!r}")

def l1_loss(fake, target):
    return (target - fake).abs().mean()

def discriminator_loss(real_logits, fake_logits, mode="vanilla"):
    return 0.5 * (gan_loss(real_logits, True, mode) + gan_loss(fake_logits, False, mode))

def generator_loss(fake_logits, fake, target, lambda_l1=100.0, mode="vanilla"):
    gan = gan_loss(fake_logits, True, mode)
    l1 = l1_loss(fake, target)
    return gan + lambda_l1 * l1, gan, l1
"""

ALL_LOSS_CHECKS = ("gan_loss", "l1_loss", "discriminator_loss", "generator_loss")


def run_all_loss_checks(functions):
    for name in ALL_LOSS_CHECKS:
        getattr(check, name)(functions[name])
        getattr(check, name + "_more")(functions[name])


def test_a_correct_copy_passes_every_check(capsys):
    run_all_loss_checks(globals())
    check.measure(measure)
    check.measure_more(measure)
    check.prediction({"lower_l1": 100, "sharper": 0})
    assert capsys.readouterr().out.count("\N{CHECK MARK}") == 11


# Correct alternatives: other idioms must keep every point.

def test_loss_modules_and_full_like_labels_pass():
    ns = notebook("""
    bce, mse, l1 = nn.BCEWithLogitsLoss(), nn.MSELoss(), nn.L1Loss()

    def gan_loss(logits, target_is_real, mode="vanilla"):
        target = torch.full_like(logits, 1.0 if target_is_real else 0.0)
        if mode == "vanilla":
            return bce(logits, target)
        elif mode == "lsgan":
            return mse(logits, target)
        else:
            raise ValueError("unknown GAN mode: " + str(mode))

    def l1_loss(fake, target):
        return l1(fake, target)

    def discriminator_loss(real_logits, fake_logits, mode="vanilla"):
        return (gan_loss(real_logits, target_is_real=True, mode=mode)
                + gan_loss(fake_logits, target_is_real=False, mode=mode)) / 2

    def generator_loss(fake_logits, fake, target, lambda_l1=100.0, mode="vanilla"):
        loss_G_GAN = gan_loss(fake_logits, target_is_real=True, mode=mode)
        loss_G_L1 = l1_loss(fake, target)
        return loss_G_GAN + loss_G_L1 * lambda_l1, loss_G_GAN, loss_G_L1
    """)
    run_all_loss_checks(ns)


def test_the_official_gan_loss_class_with_label_buffers_passes():
    # junyanz/pytorch-CycleGAN-and-pix2pix, models/networks.py: GANLoss registers the labels as
    # float32 buffers and expands them to the prediction's shape (float64 logits included).
    ns = notebook("""
    class GANLoss(nn.Module):
        def __init__(self, gan_mode, target_real_label=1.0, target_fake_label=0.0):
            super().__init__()
            self.register_buffer("real_label", torch.tensor(target_real_label))
            self.register_buffer("fake_label", torch.tensor(target_fake_label))
            if gan_mode == "lsgan":
                self.loss = nn.MSELoss()
            elif gan_mode == "vanilla":
                self.loss = nn.BCEWithLogitsLoss()
            else:
                raise ValueError(f"gan mode {gan_mode} not implemented")

        def get_target_tensor(self, prediction, target_is_real):
            target_tensor = self.real_label if target_is_real else self.fake_label
            return target_tensor.expand_as(prediction)

        def __call__(self, prediction, target_is_real):
            return self.loss(prediction, self.get_target_tensor(prediction, target_is_real))

    def gan_loss(logits, target_is_real, mode="vanilla"):
        return GANLoss(mode)(logits, target_is_real)

    def l1_loss(fake, target):
        return nn.L1Loss()(fake, target)

    def discriminator_loss(real_logits, fake_logits, mode="vanilla"):
        loss_D_fake = gan_loss(fake_logits, False, mode)   # backward_D: the fake term first
        loss_D_real = gan_loss(real_logits, True, mode)
        return (loss_D_fake + loss_D_real) * 0.5

    def generator_loss(fake_logits, fake, target, lambda_l1=100.0, mode="vanilla"):
        loss_G_GAN = gan_loss(fake_logits, True, mode)
        loss_G_L1 = l1_loss(fake, target)
        return loss_G_GAN + loss_G_L1 * lambda_l1, loss_G_GAN, loss_G_L1
    """)
    run_all_loss_checks(ns)


def test_softplus_formulas_a_loop_over_terms_and_a_namedtuple_pass():
    ns = notebook("""
    from collections import namedtuple
    Losses = namedtuple("Losses", "total gan l1")

    def gan_loss(logits, target_is_real, mode="vanilla"):
        if mode not in ("vanilla", "lsgan"):
            raise ValueError(f"unknown mode {mode}")
        if mode == "lsgan":
            return ((logits - float(target_is_real)) ** 2).mean()
        # BCE(s, 1) = log(1 + e^-s) = softplus(-s); BCE(s, 0) = softplus(s)
        return F.softplus(-logits if target_is_real else logits).mean()

    def l1_loss(fake, target):
        return F.l1_loss(fake, target)

    def discriminator_loss(real_logits, fake_logits, mode="vanilla"):
        terms = [gan_loss(logits, is_real, mode) for logits, is_real in ((real_logits, True), (fake_logits, False))]
        return sum(terms) / len(terms)

    def generator_loss(fake_logits, fake, target, lambda_l1=100.0, mode="vanilla"):
        gan, l1 = gan_loss(fake_logits, True, mode=mode), l1_loss(fake, target)
        return Losses(total=gan + lambda_l1 * l1, gan=gan, l1=l1)
    """)
    run_all_loss_checks(ns)


def test_a_dispatch_table_with_a_value_error_passes():
    ns = notebook("""
    LOSSES = {"vanilla": F.binary_cross_entropy_with_logits, "lsgan": F.mse_loss}

    def gan_loss(logits, target_is_real, mode="vanilla"):
        if mode not in LOSSES:
            raise ValueError(f"{mode!r} is not one of {sorted(LOSSES)}")
        target = torch.ones_like(logits) * float(target_is_real)
        return LOSSES[mode](input=logits, target=target)

    def l1_loss(fake, target):
        return torch.abs(fake - target).sum() / fake.numel()

    def discriminator_loss(real_logits, fake_logits, mode="vanilla"):
        return torch.stack([gan_loss(real_logits, True, mode), gan_loss(fake_logits, False, mode)]).mean()

    def generator_loss(fake_logits, fake, target, lambda_l1=100.0, mode="vanilla"):
        gan = gan_loss(fake_logits, True, mode)
        l1 = l1_loss(fake, target)
        return gan + lambda_l1 * l1, gan.detach(), l1.detach()   # the logged terms detached
    """)
    run_all_loss_checks(ns)


def test_composed_losses_may_call_the_reference_blocks():
    # importing the reference gan_loss costs gan_loss's points, not those of the losses built on it
    ns = notebook("""
    from p2p_ref.paper.losses import gan_loss, l1_loss

    def discriminator_loss(real_logits, fake_logits, mode="vanilla"):
        return 0.5 * (gan_loss(real_logits, True, mode) + gan_loss(fake_logits, False, mode))

    def generator_loss(fake_logits, fake, target, lambda_l1=100.0, mode="vanilla"):
        gan, l1 = gan_loss(fake_logits, True, mode), l1_loss(fake, target)
        return gan + lambda_l1 * l1, gan, l1
    """)
    with pytest.raises(CheckFailed, match="reference"):
        check.gan_loss(ns["gan_loss"])
    for name in ("discriminator_loss", "generator_loss"):
        getattr(check, name)(ns[name])
        getattr(check, name + "_more")(ns[name])


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
    if mode == "lsgan":
        return F.mse_loss(logits, target)
    return F.binary_cross_entropy(torch.sigmoid(logits), target)


def gan_loss_sigmoid_by_hand(logits, target_is_real, mode="vanilla"):
    p = torch.sigmoid(logits)
    t = 1.0 if target_is_real else 0.0
    return -(t * torch.log(p) + (1 - t) * torch.log(1 - p)).mean()


@pytest.mark.parametrize("wrong", [gan_loss_sigmoid_bce, gan_loss_sigmoid_by_hand])
def test_sigmoid_plus_bce_is_caught_at_extreme_logits(wrong):
    with pytest.raises(CheckFailed, match="(?s)gan_loss.*1e4.*BCE with logits"):
        check.gan_loss(wrong)


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

    with pytest.raises(CheckFailed, match="summed over the 900 patches"):
        check.gan_loss(summed)
    with pytest.raises(CheckFailed, match="shape \\(1, 1, 30, 30\\)"):
        check.gan_loss(per_patch)


def test_gan_loss_summed_over_the_batch_is_caught_by_the_hidden_check():
    def per_image_then_sum(logits, target_is_real, mode="vanilla"):
        target = torch.ones_like(logits) if target_is_real else torch.zeros_like(logits)
        per_patch = (F.binary_cross_entropy_with_logits(logits, target, reduction="none") if mode == "vanilla"
                     else (logits - target) ** 2)
        if mode not in ("vanilla", "lsgan"):
            raise ValueError(mode)
        return per_patch.mean(dim=(1, 2, 3)).sum()

    check.gan_loss(per_image_then_sum)  # every visible case has a batch of one
    with pytest.raises(CheckFailed, match="summed over the batch"):
        check.gan_loss_more(per_image_then_sum)


def test_gan_loss_returning_a_float_is_caught():
    def as_float(logits, target_is_real, mode="vanilla"):
        return gan_loss(logits, target_is_real, mode).item()

    with pytest.raises(CheckFailed, match="not a torch tensor"):
        check.gan_loss(as_float)


def test_sigmoid_before_bce_with_logits():
    def double_sigmoid(logits, target_is_real, mode="vanilla"):
        return gan_loss(torch.sigmoid(logits), target_is_real, mode)

    with pytest.raises(CheckFailed, match="sigmoid is applied before BCE-with-logits"):
        check.gan_loss(double_sigmoid)


def lsgan_variant(lsgan):
    def variant(logits, target_is_real, mode="vanilla"):
        target = torch.ones_like(logits) if target_is_real else torch.zeros_like(logits)
        if mode == "vanilla":
            return F.binary_cross_entropy_with_logits(logits, target)
        if mode == "lsgan":
            return lsgan(logits, target)
        raise ValueError(f"mode={mode!r}")
    return variant


@pytest.mark.parametrize("lsgan, message", [
    (lambda s, t: F.mse_loss(s, t, reduction="sum"), "squared differences are summed"),
    (lambda s, t: ((s - t) ** 2).sum(), "squared differences are summed"),
    (lambda s, t: F.mse_loss(s, 1 - t), "labels are swapped"),
    (lambda s, t: F.mse_loss(torch.sigmoid(s), t), "applies a sigmoid"),
    (lambda s, t: F.binary_cross_entropy_with_logits(s, t), "the mode is ignored"),
    (lambda s, t: (s - t).abs().mean(), "lsgan"),
])
def test_lsgan_must_be_the_mean_squared_difference(lsgan, message):
    with pytest.raises(CheckFailed, match=message):
        check.gan_loss(lsgan_variant(lsgan))


def test_unknown_modes_must_stop_with_an_error_that_names_them():
    def silent(logits, target_is_real, mode="vanilla"):
        target = torch.ones_like(logits) if target_is_real else torch.zeros_like(logits)
        return F.mse_loss(logits, target) if mode == "lsgan" else F.binary_cross_entropy_with_logits(logits, target)

    def unnamed(logits, target_is_real, mode="vanilla"):
        if mode not in ("vanilla", "lsgan"):
            raise ValueError("unknown mode")
        return silent(logits, target_is_real, mode)

    def unnamed_not_implemented(logits, target_is_real, mode="vanilla"):
        if mode not in ("vanilla", "lsgan"):
            raise NotImplementedError()
        return silent(logits, target_is_real, mode)

    def prefix_match(logits, target_is_real, mode="vanilla"):   # "lsgna" starts like "lsgan"
        return silent(logits, target_is_real, "lsgan" if mode.startswith("ls") else mode)

    def key_error(logits, target_is_real, mode="vanilla"):
        target = torch.ones_like(logits) if target_is_real else torch.zeros_like(logits)
        return {"vanilla": F.binary_cross_entropy_with_logits, "lsgan": F.mse_loss}[mode](logits, target)

    with pytest.raises(CheckFailed, match="returns .* instead of refusing the mode"):
        check.gan_loss(silent)
    with pytest.raises(CheckFailed, match="returns .* instead of refusing the mode"):
        check.gan_loss(prefix_match)
    for wrong in (unnamed, unnamed_not_implemented):
        with pytest.raises(CheckFailed, match="does not say\\s+which mode"):
            check.gan_loss(wrong)
    check.gan_loss(key_error)   # KeyError('lsgna') names the mode: a refusal like any other


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


def test_l1_summed_over_the_batch_is_caught_by_the_hidden_check():
    def per_image_then_sum(fake, target):
        return (target - fake).abs().mean(dim=(1, 2, 3)).sum()

    check.l1_loss(per_image_then_sum)
    with pytest.raises(CheckFailed, match="summed over the batch"):
        check.l1_loss_more(per_image_then_sum)


# discriminator_loss mistakes

def test_missing_half_in_discriminator_loss():
    def wrong(real_logits, fake_logits, mode="vanilla"):
        return gan_loss(real_logits, True, mode) + gan_loss(fake_logits, False, mode)

    with pytest.raises(CheckFailed, match="twice the expected value: the paper halves D's loss"):
        check.discriminator_loss(wrong)


def test_swapped_labels_in_discriminator_loss():
    def wrong(real_logits, fake_logits, mode="vanilla"):
        return 0.5 * (gan_loss(real_logits, False, mode) + gan_loss(fake_logits, True, mode))

    with pytest.raises(CheckFailed, match="labels are swapped"):
        check.discriminator_loss(wrong)


def test_fake_term_against_ones():
    def wrong(real_logits, fake_logits, mode="vanilla"):
        return 0.5 * (gan_loss(real_logits, True, mode) + gan_loss(fake_logits, True, mode))

    with pytest.raises(CheckFailed, match="fake logits are compared with ones"):
        check.discriminator_loss(wrong)


def test_discriminator_loss_must_pass_the_mode_on():
    def wrong(real_logits, fake_logits, mode="vanilla"):
        return 0.5 * (gan_loss(real_logits, True) + gan_loss(fake_logits, False))

    with pytest.raises(CheckFailed, match="`mode` is not passed on"):
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
        gan = gan_loss(fake_logits, False, mode)
        l1 = l1_loss(fake, target)
        return gan + lambda_l1 * l1, gan, l1

    with pytest.raises(CheckFailed, match="compares D's output on the fake with zeros"):
        check.generator_loss(wrong)


def test_lambda_on_the_gan_term():
    def on_gan(fake_logits, fake, target, lambda_l1=100.0, mode="vanilla"):
        gan, l1 = gan_loss(fake_logits, True, mode), l1_loss(fake, target)
        return lambda_l1 * gan + l1, gan, l1

    def on_both(fake_logits, fake, target, lambda_l1=100.0, mode="vanilla"):
        gan, l1 = gan_loss(fake_logits, True, mode), l1_loss(fake, target)
        return lambda_l1 * (gan + l1), gan, l1

    with pytest.raises(CheckFailed, match="instead of the L1 term"):
        check.generator_loss(on_gan)
    with pytest.raises(CheckFailed, match="multiplies the GAN term too"):
        check.generator_loss(on_both)


def test_fixed_lambda_and_prescaled_l1():
    def fixed(fake_logits, fake, target, lambda_l1=100.0, mode="vanilla"):
        gan, l1 = gan_loss(fake_logits, True, mode), l1_loss(fake, target)
        return gan + 100.0 * l1, gan, l1

    def prescaled(fake_logits, fake, target, lambda_l1=100.0, mode="vanilla"):
        gan, l1 = gan_loss(fake_logits, True, mode), lambda_l1 * l1_loss(fake, target)
        return gan + l1, gan, l1

    with pytest.raises(CheckFailed, match="lambda_l1=0"):
        check.generator_loss(fixed)
    with pytest.raises(CheckFailed, match="already multiplied by lambda"):
        check.generator_loss(prescaled)


def test_generator_loss_must_pass_the_mode_on():
    def wrong(fake_logits, fake, target, lambda_l1=100.0, mode="vanilla"):
        gan, l1 = gan_loss(fake_logits, True), l1_loss(fake, target)
        return gan + lambda_l1 * l1, gan, l1

    with pytest.raises(CheckFailed, match="`mode` is not passed on"):
        check.generator_loss(wrong)


def test_generator_loss_shape_of_result_and_gradient():
    def only_total(fake_logits, fake, target, lambda_l1=100.0, mode="vanilla"):
        return gan_loss(fake_logits, True, mode) + lambda_l1 * l1_loss(fake, target)

    def detached(fake_logits, fake, target, lambda_l1=100.0, mode="vanilla"):
        gan, l1 = gan_loss(fake_logits, True, mode), l1_loss(fake.detach(), target)
        return gan + lambda_l1 * l1, gan, l1

    def logged_as_floats(fake_logits, fake, target, lambda_l1=100.0, mode="vanilla"):
        gan, l1 = gan_loss(fake_logits, True, mode), l1_loss(fake, target)
        return gan + lambda_l1 * l1, gan.item(), l1.item()

    with pytest.raises(CheckFailed, match="three values"):
        check.generator_loss(only_total)
    with pytest.raises(CheckFailed, match="no gradient"):
        check.generator_loss(detached)
    with pytest.raises(CheckFailed, match="not a torch tensor"):
        check.generator_loss(logged_as_floats)


# One mistake, one exercise: a faulty block is charged to its own cell only.

@pytest.mark.parametrize("faulty_block, block", [
    ("gan_loss", "def gan_loss(logits, target_is_real, mode='vanilla'):\n"
                 "    return F.binary_cross_entropy(torch.sigmoid(logits), torch.full_like(logits, float(target_is_real)))\n"),
    ("gan_loss", "def gan_loss(logits, target_is_real, mode='vanilla'):\n"
                 "    target = torch.zeros_like(logits) if target_is_real else torch.ones_like(logits)\n"
                 "    return F.binary_cross_entropy_with_logits(logits, target)\n"),
    ("gan_loss", "def gan_loss(logits, target_is_real, mode='vanilla'):\n"
                 "    raise NotImplementedError()\n"),
    ("l1_loss", "def l1_loss(fake, target):\n    return (target - fake).abs().sum()\n"),
    ("l1_loss", "def l1_loss(fake, target):\n    return ((target - fake) ** 2).mean()\n"),
])
def test_a_faulty_block_fails_only_its_own_check(faulty_block, block, capsys):
    ns = notebook(CORRECT_NOTEBOOK + "\n" + block)
    student_block = ns[faulty_block]
    with pytest.raises((CheckFailed, NotImplementedError)):
        getattr(check, faulty_block)(student_block)
        getattr(check, faulty_block + "_more")(student_block)
    users = ["generator_loss"] + (["discriminator_loss"] if faulty_block == "gan_loss" else [])
    for name in users:
        getattr(check, name)(ns[name])
        getattr(check, name + "_more")(ns[name])
        assert ns[faulty_block] is student_block  # the student's block is put back
    out = capsys.readouterr().out
    assert f"the mistake is in your `{faulty_block}`" in out
    # lesson 5 trains with the student's functions as they are: there the composed loss fails
    with pytest.raises((CheckFailed, NotImplementedError)):
        check.generator_loss(ns["generator_loss"], strict=True)


def test_a_composed_loss_with_its_own_mistake_still_fails_with_a_faulty_block():
    ns = notebook(CORRECT_NOTEBOOK + """
def gan_loss(logits, target_is_real, mode="vanilla"):
    return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, float(target_is_real)),
                                              reduction="sum")

def discriminator_loss(real_logits, fake_logits, mode="vanilla"):
    return gan_loss(real_logits, True, mode) + gan_loss(fake_logits, False, mode)
""")
    with pytest.raises(CheckFailed, match="(?s)the paper halves D's loss.*this mistake is in `discriminator_loss` itself"):
        check.discriminator_loss(ns["discriminator_loss"])
    assert ns["gan_loss"].__module__ != reference.__name__


def test_a_correct_block_is_never_replaced():
    # the mistake is in generator_loss alone: no second chance, the plain message
    ns = notebook(CORRECT_NOTEBOOK + """
def generator_loss(fake_logits, fake, target, lambda_l1=100.0, mode="vanilla"):
    gan, l1 = gan_loss(fake_logits, True, mode), l1_loss(fake, target)
    return lambda_l1 * (gan + l1), gan, l1
""")
    with pytest.raises(CheckFailed, match="multiplies the GAN term too") as info:
        check.generator_loss(ns["generator_loss"])
    assert "in place of yours" not in str(info.value)


# hidden checks

def test_hidden_checks_catch_a_wrong_gradient():
    def gan_loss_detached(logits, target_is_real, mode="vanilla"):
        # right values, but no gradient reaches D (or, through D, G)
        return gan_loss(logits.detach(), target_is_real, mode)

    def g_loss(fl, f, t, lambda_l1=100.0, mode="vanilla"):
        gan = gan_loss_detached(fl, True, mode)
        return gan + lambda_l1 * l1_loss(f, t), gan, l1_loss(f, t)

    check.gan_loss(gan_loss_detached)
    with pytest.raises(CheckFailed, match="gradient of gan_loss"):
        check.gan_loss_more(gan_loss_detached)
    check.generator_loss(g_loss)
    with pytest.raises(CheckFailed, match="gradient of the total with respect to fake_logits"):
        check.generator_loss_more(g_loss)


# the tiny sweep: prediction and measure

@pytest.mark.parametrize("good", [{"lower_l1": 100, "sharper": 0}, {"sharper": 100.0, "lower_l1": 0},
                                  {"lower_l1": np.float64(100), "sharper": 100}])
def test_a_well_formed_prediction_is_recorded_right_or_wrong(good, capsys):
    check.prediction(good)
    assert "prediction recorded" in capsys.readouterr().out


@pytest.mark.parametrize("bad, message", [
    (None, "PREDICTION is NoneType"),
    ((100, 0), "PREDICTION is tuple"),
    ({"lower_l1": 100}, "has the keys \\['lower_l1'\\]"),
    ({"lower_l1": 100, "sharper": 0, "d_score": 0}, "has the keys"),
    ({"lower_l1": "100", "sharper": 0}, "PREDICTION\\['lower_l1'\\] = '100'"),
    ({"lower_l1": 100, "sharper": 1000}, "PREDICTION\\['sharper'\\] = 1000"),
    ({"lower_l1": True, "sharper": 0}, "PREDICTION\\['lower_l1'\\] = True"),
])
def test_a_malformed_prediction_is_refused(bad, message):
    with pytest.raises(CheckFailed, match=message):
        check.prediction(bad)


def test_measure_alternatives_pass():
    from p2p_ref.paper.data import denormalize
    from p2p_ref.paper.sharpness import laplacian_variance

    def per_image_loop(fakes, targets):
        l1s, sharps = [], []
        for fake, target in zip(fakes, targets):
            l1s.append(F.l1_loss(fake, target))
            sharps.append(laplacian_variance(denormalize(fake).unsqueeze(0))[0])
        return torch.stack(l1s).mean(), torch.stack(sharps).mean()

    def as_numpy(fakes, targets):
        return float(np.abs(targets.numpy() - fakes.numpy()).mean()), \
            float(laplacian_variance(fakes * 0.5 + 0.5).mean())

    for fn in (per_image_loop, as_numpy):
        check.measure(fn)
        check.measure_more(fn)


@pytest.mark.parametrize("wrong, message", [
    (lambda f, t: ((t - f).abs().mean() / 2, reference_sharpness.laplacian_variance((f + 1) / 2).mean()),
     "rescaled to \\[0, 1\\]"),
    (lambda f, t: ((t - f).abs().sum(), reference_sharpness.laplacian_variance((f + 1) / 2).mean()),
     "differences are summed"),
    (lambda f, t: (((t - f) ** 2).mean(), reference_sharpness.laplacian_variance((f + 1) / 2).mean()),
     "squared"),
    (lambda f, t: ((t - f).abs().mean(), reference_sharpness.laplacian_variance(f).mean()),
     "got images in \\[-1, 1\\]"),
    (lambda f, t: ((t - f).abs().mean(), reference_sharpness.laplacian_variance((t + 1) / 2).mean()),
     "sharpness of the targets"),
    (lambda f, t: ((t - f).abs().mean(), reference_sharpness.laplacian_variance((f + 1) / 2).sum()),
     "values are summed"),
    (lambda f, t: ((t - f).abs().mean(), reference_sharpness.laplacian_variance((f + 1) / 2)),
     "sharpness of shape \\(2,\\)"),
    (lambda f, t: (t - f).abs().mean(), "two numbers"),
    (lambda f, t: ("0.3", 0.1), "returned str"),
])
def test_measure_mistakes_are_named(wrong, message):
    with pytest.raises(CheckFailed, match=message):
        check.measure(wrong)


def test_measure_may_use_laplacian_variance_but_not_the_reference_measure():
    with pytest.raises(CheckFailed, match="reference"):
        check.measure(reference_sharpness.measure)

    def wrapped(fakes, targets):
        return reference_sharpness.measure(fakes, targets)

    def imported_inside(fakes, targets):
        from p2p_ref.paper.sharpness import measure as reference_measure
        return reference_measure(fakes, targets)

    def module_inside(fakes, targets):
        import p2p_ref.course.widgets.lambda_sweep
        return p2p_ref.paper.sharpness.measure(fakes, targets)

    for wrong in (wrapped, imported_inside, module_inside):
        with pytest.raises(CheckFailed, match="uses the reference"):
            check.measure(wrong)

    def laplacian_imported_inside(fakes, targets):
        from p2p_ref.paper.sharpness import laplacian_variance
        return (targets - fakes).abs().mean(), laplacian_variance((fakes + 1) / 2).mean()

    check.measure(laplacian_imported_inside)


def test_the_hidden_measure_check_catches_a_fixed_image_size():
    def fixed_32(fakes, targets):  # right for the visible 32 x 32 batches only
        f = fakes.reshape(-1, 3, 32, 32)
        return (targets.reshape(-1, 3, 32, 32) - f).abs().mean(), \
            reference_sharpness.laplacian_variance((f + 1) / 2).mean()

    check.measure(fixed_32)
    with pytest.raises(CheckFailed, match="sharpness = .* for 1 smooth 64 x 64 image"):
        check.measure_more(fixed_32)
