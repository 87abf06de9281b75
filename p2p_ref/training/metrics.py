"""How close G's output is to its target: L1, PSNR and SSIM on [0, 1] images (torchmetrics).

The one home of these three numbers: validation during training (`validation.validate`) and
`p2p-eval` both use `image_metrics`.
"""

from torchmetrics.functional.image import (peak_signal_noise_ratio,
                                           structural_similarity_index_measure)


def image_metrics(output, target):
    """L1, PSNR (dB) and SSIM of one [0, 1] image (C, H, W) against its target."""
    o, t = output[None].float(), target[None].float()
    return {"l1": (o - t).abs().mean().item(),
            "psnr": peak_signal_noise_ratio(o, t, data_range=1.0).item(),
            "ssim": structural_similarity_index_measure(o, t, data_range=1.0).item()}
