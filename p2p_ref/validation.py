"""G at test time during training: the test-time mode, validation metrics and sample grids.

The paper keeps dropout and batch statistics on at test time (sec. 3.1 and 3.3: dropout is G's only
noise); `--test-mode eval` is the usual model.eval(). Validation measures G(x) against y on
[0, 1] images with L1, PSNR and SSIM (torchmetrics), without disturbing training: G's train
flag, its BatchNorm running statistics and the RNG are restored afterwards.
"""

import contextlib

import torch

from p2p_ref.data import denormalize


TEST_MODES = ("paper", "eval")


def set_test_mode(G, mode="paper"):
    """How G runs at test time. "paper": dropout and batch statistics stay on (sec. 3.1 and 3.3: the
    noise of dropout is G's only noise, and the paper applies it at test time too); "eval": the
    usual model.eval() (no dropout, BatchNorm's running statistics)."""
    if mode not in TEST_MODES:
        raise ValueError(f"mode={mode!r}: expected one of {TEST_MODES}")
    G.train(mode == "paper")
    return G


@contextlib.contextmanager
def evaluating(G, mode="paper", seed=0):
    """Run G for validation/samples without touching training: restores its train/eval flag,
    its BatchNorm running statistics (a "paper"-mode forward updates them) and the RNG."""
    was_training = G.training
    buffers = {name: b.clone() for name, b in G.named_buffers()}
    devices = [torch.cuda.current_device()] if torch.cuda.is_available() else []
    with torch.random.fork_rng(devices=devices), torch.no_grad():
        torch.manual_seed(seed)
        set_test_mode(G, mode)
        try:
            yield G
        finally:
            G.load_state_dict(buffers, strict=False)
            G.train(was_training)


def validate(G, dataset, device, mode="paper", seed=0, channels_last=False):
    """Mean L1, PSNR and SSIM of G(x) against y over `dataset`, all on [0, 1] images
    (torchmetrics), one image at a time as at test time."""
    from torchmetrics.functional.image import (peak_signal_noise_ratio,
                                               structural_similarity_index_measure)
    totals = {"val_l1": 0.0, "val_psnr": 0.0, "val_ssim": 0.0}
    with evaluating(G, mode, seed):
        for i in range(len(dataset)):
            x, y = (t.unsqueeze(0).to(device) for t in dataset[i])
            if channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            fake, real = denormalize(G(x).float()), denormalize(y)
            totals["val_l1"] += (fake - real).abs().mean().item()
            totals["val_psnr"] += peak_signal_noise_ratio(fake, real, data_range=1.0).item()
            totals["val_ssim"] += structural_similarity_index_measure(fake, real,
                                                                      data_range=1.0).item()
    return {k: v / max(1, len(dataset)) for k, v in totals.items()}


def to_rgb(t):
    """A [0, 1] image (C, H, W) as 3 channels for display: grayscale repeated, the first channel
    of a 2-channel image, the first three of 4 or more."""
    c = t.shape[0]
    if c == 3:
        return t
    return t[:1].expand(3, -1, -1) if c in (1, 2) else t[:3]


def sample_grid(G, pairs, device, mode="paper", seed=0):
    """Rows of input | output | target in [0, 1] for a few fixed (x, y) pairs: (3 n, 3, H, W),
    shown as RGB; pairs of other sizes (--preprocess none) are resized to the first one's."""
    rows = []
    with evaluating(G, mode, seed):
        for x, y in pairs:
            fake = G(x.unsqueeze(0).to(device)).float().cpu()[0]
            rows += [to_rgb(denormalize(t)) for t in (x, fake, y)]
    size = rows[0].shape[-2:]
    rows = [r if r.shape[-2:] == size else
            torch.nn.functional.interpolate(r[None], size=tuple(size), mode="bilinear",
                                            align_corners=False)[0] for r in rows]
    return torch.stack(rows)
