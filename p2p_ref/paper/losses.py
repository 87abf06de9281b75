"""The pix2pix objective (sec. 3.1, eq. 1-4), computed from discriminator logits.

    G* = arg min_G max_D  L_cGAN(G, D) + lambda * L_L1(G),   lambda = 100.

Every function takes logits, never probabilities: BCE-with-logits is exact where sigmoid + BCE
overflows (a logit of 1e4 gives sigmoid = 1.0 in float32 and log(1 - 1) = -inf).
"""

from typing import NamedTuple

import torch
import torch.nn.functional as F

GAN_MODES = ("vanilla", "lsgan")


def gan_loss(logits, target_is_real, mode="vanilla"):
    """Mean GAN loss of a grid of patch logits against an all-ones (real) or all-zeros (fake) grid.

    "vanilla" is the cross-entropy of eq. 1; "lsgan" is the least-squares option of the official code.
    """
    target = torch.ones_like(logits) if target_is_real else torch.zeros_like(logits)
    if mode == "vanilla":
        return F.binary_cross_entropy_with_logits(logits, target)
    if mode == "lsgan":
        return F.mse_loss(logits, target)
    raise ValueError(f"mode={mode!r} is not supported: expected one of {GAN_MODES}")


def l1_loss(fake, target):
    """L_L1 = E |y - G(x)|, the mean absolute error over every pixel and channel (eq. 3)."""
    return (target - fake).abs().mean()


def discriminator_loss(real_logits, fake_logits, mode="vanilla"):
    """D's loss: 0.5 * [BCE(D(x, y), 1) + BCE(D(x, G(x)), 0)].

    The factor 0.5 slows D down relative to G (sec. 3.3).
    """
    return 0.5 * (gan_loss(real_logits, True, mode) + gan_loss(fake_logits, False, mode))


class GeneratorLoss(NamedTuple):
    total: torch.Tensor  # gan + lambda_l1 * l1: the quantity G's optimizer minimises
    gan: torch.Tensor  # BCE(D(x, G(x)), 1): the non-saturating form of sec. 3.3
    l1: torch.Tensor  # mean |y - G(x)|, not yet multiplied by lambda


def generator_loss(fake_logits, fake, target, lambda_l1=100.0, mode="vanilla"):
    """G's loss (eq. 4): L_GAN + lambda * L_L1, with the non-saturating L_GAN.

    G maximises log D(x, G(x)) instead of minimising log(1 - D(x, G(x))), which has a vanishing
    gradient early on when D rejects every fake (sec. 3.3, after Goodfellow et al. 2014).
    Returns (total, gan, l1).
    """
    gan = gan_loss(fake_logits, True, mode)
    l1 = l1_loss(fake, target)
    return GeneratorLoss(gan + lambda_l1 * l1, gan, l1)
