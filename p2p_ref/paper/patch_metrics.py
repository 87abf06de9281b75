"""Two numbers for the PatchGAN-depth experiment (pix2pix sec. 4.4, Figures 6 and 7).

The paper compares discriminators whose patch is 1 x 1 ("PixelGAN"), 16 x 16, 70 x 70 and
286 x 286 ("ImageGAN"). It reports that the PixelGAN "has no effect on spatial sharpness but
does increase the colorfulness of the results" and that the 16 x 16 PatchGAN gives sharp
outputs with "tiling artifacts". Sharpness is p2p_ref.paper.sharpness.laplacian_variance; these
are the other two:

    colourfulness  Hasler and Suesstrunk's colourfulness M (Proc. SPIE 5007, 2003): the spread and
                   the strength of the opponent colours rg = R - G and yb = (R + G) / 2 - B,
                   M = sqrt(std(rg)^2 + std(yb)^2) + 0.3 * sqrt(mean(rg)^2 + mean(yb)^2)
    grid_energy    how much of an image's fine detail repeats on a grid of `period` pixels: the share
                   of the power spectrum of its (circular) Laplacian at the frequencies of patterns
                   with a period dividing `period` (for white noise about 1 / period^2)
"""

import torch
import torch.nn.functional as F

LAPLACIAN = ((0.0, 1.0, 0.0), (1.0, -4.0, 1.0), (0.0, 1.0, 0.0))


def colourfulness(images):
    """Hasler and Suesstrunk's colourfulness of each image of a (N, 3, H, W) batch in [-1, 1],
    measured on the 0..255 scale of their paper (a grey image scores 0, vivid photos 60 to 110)."""
    rgb = (images.detach().float() + 1) * 127.5
    r, g, b = rgb[:, 0].flatten(1), rgb[:, 1].flatten(1), rgb[:, 2].flatten(1)
    rg, yb = r - g, (r + g) / 2 - b
    spread = (rg.std(dim=1, unbiased=False) ** 2 + yb.std(dim=1, unbiased=False) ** 2).sqrt()
    strength = (rg.mean(dim=1) ** 2 + yb.mean(dim=1) ** 2).sqrt()
    return spread + 0.3 * strength


def grid_energy(images, period=8):
    """Share of each image's detail (the power of its grey Laplacian, wrapped at the borders) at the
    frequencies of patterns that repeat every `period` pixels or a divisor of it. (N, 3, H, W) in
    [-1, 1], H and W multiples of `period`. Tiling artifacts raise it; white noise gives ~1 / period^2."""
    h, w = images.shape[-2:]
    if h % period or w % period:
        raise ValueError(f"images of {h} x {w}: expected sides that are multiples of period={period}")
    rgb = (images.detach().float() + 1) / 2
    grey = (0.299 * rgb[:, 0] + 0.587 * rgb[:, 1] + 0.114 * rgb[:, 2]).unsqueeze(1)
    kernel = torch.tensor(LAPLACIAN, device=images.device).view(1, 1, 3, 3)
    detail = F.conv2d(F.pad(grey, (1, 1, 1, 1), mode="circular"), kernel)[:, 0]
    power = torch.fft.fft2(detail).abs() ** 2
    power[:, 0, 0] = 0  # the mean (zero for a Laplacian anyway)
    on_grid = power[:, ::h // period, ::w // period].flatten(1).sum(dim=1)
    return on_grid / power.flatten(1).sum(dim=1).clamp_min(1e-12)
