"""The metrics of p2p-eval that need a network: FID and KID (Inception v3 features) and LPIPS,
fed in batches as the images stream past, so that a large test set never sits in memory.

FID keeps running sums and KID the feature vectors (2048 numbers per image), both through
torchmetrics; images are batched by `batch_size`, a batch ending early where the image size
changes (images keep their own size). The networks' weights are downloaded once; when that
fails, the error says what failed, where the file goes, and which flag skips the metric.
"""

import warnings
from pathlib import Path

import torch
from torch import nn

from p2p_ref.training.validation import to_rgb


class InceptionFeatures(nn.Module):
    """The 2048 pool features of the Inception v3 that FID is defined with (torch-fidelity's
    port of the TensorFlow original), taking [0, 1] float RGB images of any size. The weights
    are downloaded once by torch-fidelity (~100 MB, into torch hub's cache)."""
    num_features = 2048

    def __init__(self):
        super().__init__()
        try:
            from torchmetrics.image.fid import NoTrainInceptionV3
            self.net = NoTrainInceptionV3(name="inception-v3-compat", features_list=["2048"])
        except ImportError as e:
            raise RuntimeError(f"FID and KID need the package torch-fidelity ({e}): pip install "
                               f"torch-fidelity, or pass --no-fid") from None
        except Exception as e:  # the weights are fetched from the internet the first time
            import torch_fidelity.feature_extractor_inceptionv3 as fe
            raise RuntimeError(
                f"FID and KID need the Inception v3 weights, and fetching them failed "
                f"({type(e).__name__}: {e}). They are downloaded once from {fe.URL_INCEPTION_V3} "
                f"into {Path(torch.hub.get_dir()) / 'checkpoints'}: run once with internet "
                f"access, or put that file there by hand, or pass --no-fid for L1, PSNR and "
                f"SSIM only") from None

    def forward(self, x):
        return self.net((x.clamp(0, 1) * 255).to(torch.uint8)).reshape(x.shape[0], -1)


class LPIPSDistance(nn.Module):
    """LPIPS (Zhang et al., CVPR 2018) per image pair through torchmetrics'
    LearnedPerceptualImagePatchSimilarity on AlexNet (the LPIPS paper's choice as a metric):
    two [0, 1] RGB batches (N, 3, H, W) -> N distances (lower is more alike). AlexNet's ImageNet
    weights come from torchvision's download (~233 MB, once); its small linear heads ship with
    torchmetrics. AlexNet's pooling needs images of at least 31 x 31 (`min_size`)."""
    min_size = 31

    def __init__(self, net_type="alex"):
        super().__init__()
        try:
            from torchmetrics.image.lpip import LearnedPerceptualImagePatchSimilarity
            self.metric = LearnedPerceptualImagePatchSimilarity(net_type, reduction="none",
                                                                normalize=True)
        except Exception as e:  # the backbone's weights are fetched from the internet
            import torchvision.models as tvm
            url = {"alex": tvm.AlexNet_Weights, "vgg": tvm.VGG16_Weights,
                   "squeeze": tvm.SqueezeNet1_1_Weights}[net_type].DEFAULT.url
            raise RuntimeError(
                f"LPIPS needs the ImageNet weights of its {net_type} network, and fetching them "
                f"failed ({type(e).__name__}: {e}). They are downloaded once from {url} into "
                f"{Path(torch.hub.get_dir()) / 'checkpoints'}: run once with internet access, "
                f"or put that file there by hand, or leave out --lpips") from None

    def forward(self, a, b):
        return self.metric.net(a.clamp(0, 1), b.clamp(0, 1), normalize=True).reshape(-1)


class SetMetrics:
    """Accumulates FID / KID (features: an nn.Module, [0, 1] RGB batch -> N x d) and per-image
    LPIPS (lpips: an nn.Module, two batches -> N distances) over (output, target) pairs added
    one at a time; either may be None. `finish()` returns the set's figures and the per-image
    LPIPS in the order the pairs were added."""

    def __init__(self, features=None, lpips=None, kid_subsets=100, batch_size=16, device="cpu"):
        from torchmetrics.image.fid import FrechetInceptionDistance
        from torchmetrics.image.kid import KernelInceptionDistance
        self.fid = self.kid = None
        if features is not None:
            self.fid = FrechetInceptionDistance(feature=features, normalize=True).to(device)
            with warnings.catch_warnings():  # "KID saves all features": 2048 floats an image
                warnings.simplefilter("ignore", UserWarning)
                self.kid = KernelInceptionDistance(feature=features, normalize=True,
                                                   subsets=kid_subsets).to(device)
        self.lpips = lpips.to(device) if lpips is not None else None
        self.batch_size, self.device = batch_size, device
        self.outputs, self.targets, self.lpips_values, self.count = [], [], [], 0

    def add(self, output, target, name="an image"):
        """One pair of [0, 1] images (C, H, W), same size; a full batch is measured at once."""
        least = getattr(self.lpips, "min_size", 1)
        if min(output.shape[-2:]) < least:
            raise ValueError(f"{name} is {output.shape[-1]}x{output.shape[-2]} pixels: LPIPS "
                             f"needs at least {least}x{least}; leave out --lpips")
        if self.outputs and self.outputs[0].shape[-2:] != output.shape[-2:]:
            self._flush()
        self.outputs.append(to_rgb(output))
        self.targets.append(to_rgb(target))
        self.count += 1
        if len(self.outputs) >= self.batch_size:
            self._flush()

    @torch.no_grad()
    def _flush(self):
        if not self.outputs:
            return
        out = torch.stack(self.outputs).to(self.device)
        tgt = torch.stack(self.targets).to(self.device)
        self.outputs, self.targets = [], []
        if self.fid is not None:
            for metric in (self.fid, self.kid):
                metric.update(tgt, real=True)
                metric.update(out, real=False)
        if self.lpips is not None:
            self.lpips_values += self.lpips(out, tgt).float().cpu().tolist()

    def finish(self):
        """{"fid", "kid", "kid_std", "lpips"} as measured (FID / KID need 2 images or more) and
        the per-image LPIPS list (empty without lpips)."""
        self._flush()
        figures = {}
        if self.fid is not None and self.count >= 2:
            self.kid.subset_size = min(1000, self.count)
            kid_mean, kid_std = self.kid.compute()
            figures.update(fid=self.fid.compute().item(), kid=kid_mean.item(),
                           kid_std=kid_std.item())
        if self.lpips_values:
            figures["lpips"] = sum(self.lpips_values) / len(self.lpips_values)
        return figures, self.lpips_values


def distribution_metrics(outputs, targets, features, kid_subsets=100, batch_size=16):
    """FID and KID (mean and std over subsets) between the outputs and the targets, on the
    features of `features` (an nn.Module: [0, 1] RGB batch -> N x d)."""
    metrics = SetMetrics(features, kid_subsets=kid_subsets, batch_size=batch_size)
    for out, tgt in zip(outputs, targets):
        metrics.add(out, tgt)
    return metrics.finish()[0]
