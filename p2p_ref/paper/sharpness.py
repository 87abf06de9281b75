"""How sharp and how close a generated image is: the two numbers of lesson 4's experiment.

The paper's sec. 4.2 and Figure 4: L1 alone gives "reasonable but blurry results", the cGAN alone
sharp ones with artifacts. `measure` puts numbers on both: L1 to the target, and sharpness as the
variance of the Laplacian (blur removes the high frequencies the Laplacian responds to).
"""

from typing import NamedTuple

import torch
import torch.nn.functional as F


def laplacian_variance(images):
    """Sharpness of each image in a (N, 3, H, W) batch in [0, 1]: the variance of the Laplacian of its
    grey version. Blur removes the high frequencies the Laplacian responds to, so blurrier is lower."""
    grey = (0.299 * images[:, 0] + 0.587 * images[:, 1] + 0.114 * images[:, 2]).unsqueeze(1)
    kernel = torch.tensor([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]], device=images.device)
    return F.conv2d(grey, kernel.view(1, 1, 3, 3)).flatten(1).var(dim=1)


class Measurement(NamedTuple):
    l1: float          # mean |y - G(x)| over every pixel, channel and image, in [-1, 1] units
    sharpness: float   # mean over the images of the variance of the Laplacian of G(x) in [0, 1]


def measure(fakes, targets):
    """L1 to the target and sharpness of a batch of generated images (N, 3, H, W), both in [-1, 1]
    like G's Tanh output: the two numbers the lambda explorer shows (lesson 4 writes this)."""
    fakes, targets = fakes.detach(), targets.detach()
    return Measurement(l1=(targets - fakes).abs().mean().item(),
                       sharpness=laplacian_variance((fakes + 1) / 2).mean().item())
