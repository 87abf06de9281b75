"""The shared grading helpers: plain-words failures and the own-code test."""

import pytest
import torch
from torch import nn

import p2p_ref.paper.losses
from p2p_ref.course.checks import CheckFailed, ensure_own_code, fail
from p2p_ref.paper.losses import discriminator_loss as ref_discriminator_loss
from p2p_ref.paper.models import EncoderBlock


def test_fail_message_has_three_parts():
    with pytest.raises(CheckFailed) as info:
        fail("the output has 64 channels", "128 channels", "the conv in EncoderBlock.__init__")
    text = str(info.value)
    assert "What is wrong:   the output has 64 channels" in text
    assert "Expected:        128 channels" in text
    assert "Where to look:   the conv in EncoderBlock.__init__" in text
    assert isinstance(info.value, AssertionError)  # nbgrader counts it as a failed test


def own_loss(real_logits, fake_logits):
    bce = nn.functional.binary_cross_entropy_with_logits
    return 0.5 * (bce(real_logits, torch.ones_like(real_logits)) + bce(fake_logits, torch.zeros_like(fake_logits)))


def wrapped_loss(real_logits, fake_logits):
    return ref_discriminator_loss(real_logits, fake_logits)


def module_wrapped_loss(real_logits, fake_logits):
    return p2p_ref.paper.losses.discriminator_loss(real_logits, fake_logits)


def make_closure():
    ref = ref_discriminator_loss

    def loss(real_logits, fake_logits):
        return ref(real_logits, fake_logits)
    return loss


def helper_calls_reference(a, b):
    return wrapped_loss(a, b)


class OwnBlock(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 4, 2, 1)

    def forward(self, x):
        return self.conv(x)


class SubclassBlock(EncoderBlock):
    pass


class WrapperBlock(nn.Module):
    def __init__(self):
        super().__init__()
        self.inner = EncoderBlock(3, 8)

    def forward(self, x):
        return self.inner(x)


def test_own_code_passes():
    ensure_own_code(own_loss, "discriminator_loss")
    ensure_own_code(OwnBlock, "EncoderBlock")
    ensure_own_code(OwnBlock(), "EncoderBlock")


@pytest.mark.parametrize("student", [ref_discriminator_loss, wrapped_loss, module_wrapped_loss, make_closure(),
                                     helper_calls_reference, SubclassBlock, WrapperBlock, EncoderBlock])
def test_reference_in_any_form_fails(student):
    with pytest.raises(CheckFailed, match="reference"):
        ensure_own_code(student, "the thing")


def test_allowed_reference_pieces_pass():
    ensure_own_code(wrapped_loss, "train_step", allowed=[ref_discriminator_loss])
