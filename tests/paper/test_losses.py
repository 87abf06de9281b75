"""p2p_ref.paper.losses against hand-computed values (sec. 3.1 and 3.3 of the paper)."""

import math

import pytest
import torch

from p2p_ref.paper.losses import discriminator_loss, gan_loss, generator_loss, l1_loss


def softplus(z):
    return math.log1p(math.exp(z))


def test_gan_loss_by_hand():
    logits = torch.tensor([[0.0, 2.0], [-1.0, 3.0]])
    # BCE(logit z, 1) = softplus(-z); BCE(z, 0) = softplus(z)
    real = sum(softplus(-z) for z in [0.0, 2.0, -1.0, 3.0]) / 4
    fake = sum(softplus(z) for z in [0.0, 2.0, -1.0, 3.0]) / 4
    assert gan_loss(logits, True).item() == pytest.approx(real, rel=1e-6)
    assert gan_loss(logits, False).item() == pytest.approx(fake, rel=1e-6)
    assert gan_loss(logits, True, "lsgan").item() == pytest.approx((1 + 1 + 4 + 4) / 4)
    assert gan_loss(logits, False, "lsgan").item() == pytest.approx((0 + 4 + 1 + 9) / 4)


def test_discriminator_loss_is_halved():
    real, fake = torch.full((1, 1, 30, 30), 0.0), torch.full((1, 1, 30, 30), 0.0)
    # at logits 0 both BCE terms are log 2; the paper's 0.5 makes the sum log 2, not 2 log 2
    assert discriminator_loss(real, fake).item() == pytest.approx(math.log(2), rel=1e-6)
    real, fake = torch.tensor([1.5]), torch.tensor([-0.5])
    expected = 0.5 * (softplus(-1.5) + softplus(-0.5))
    assert discriminator_loss(real, fake).item() == pytest.approx(expected, rel=1e-6)


def test_generator_loss_parts():
    fake = torch.tensor([0.5, -0.5, 1.0, 0.0])
    target = torch.tensor([0.0, 0.0, 0.0, 0.0])
    logits = torch.tensor([1.0])
    total, gan, l1 = generator_loss(logits, fake, target, lambda_l1=100.0)
    assert l1.item() == pytest.approx(0.5)  # mean of |0.5|, |-0.5|, |1|, |0|
    assert gan.item() == pytest.approx(softplus(-1.0), rel=1e-6)  # non-saturating: BCE(D(x,G(x)), 1)
    assert total.item() == pytest.approx(softplus(-1.0) + 50.0, rel=1e-6)
    assert generator_loss(logits, fake, target, lambda_l1=0.0).total.item() == pytest.approx(gan.item())
    assert l1_loss(fake, target).item() == pytest.approx(0.5)


@pytest.mark.parametrize("z", [1e4, -1e4, 88.0, -104.0])
def test_extreme_logits_are_finite_and_exact(z):
    logits = torch.full((1, 1, 30, 30), z)
    assert gan_loss(logits, True).item() == pytest.approx(max(-z, 0.0) + math.log1p(math.exp(-abs(z))))
    d = discriminator_loss(logits, logits)
    assert torch.isfinite(d) and d.item() == pytest.approx(0.5 * abs(z), rel=1e-6)
    g = generator_loss(logits, torch.zeros(3), torch.zeros(3))
    assert all(torch.isfinite(t) for t in g)


def test_sigmoid_then_bce_would_overflow():
    """Why the losses take logits: sigmoid(1e4) rounds to 1 in float32 and BCE(1, 0) = inf."""
    p = torch.sigmoid(torch.tensor([1e4]))
    naive = torch.nn.functional.binary_cross_entropy(p, torch.zeros(1))
    assert p.item() == 1.0 and naive.item() == 100.0  # PyTorch clamps log at -100: silently wrong
    assert gan_loss(torch.tensor([1e4]), False).item() == pytest.approx(1e4)


def test_gradients_flow_at_extreme_logits():
    logits = torch.full((4,), -1e4, requires_grad=True)
    gan_loss(logits, True).backward()
    assert torch.isfinite(logits.grad).all() and (logits.grad < 0).all()


def test_unknown_mode_is_named():
    with pytest.raises(ValueError, match="mode='wgan'"):
        gan_loss(torch.zeros(1), True, "wgan")
