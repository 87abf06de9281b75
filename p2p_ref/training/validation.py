"""G at test time during training: the test-time mode, validation metrics and sample grids.

The paper keeps dropout and batch statistics on at test time (sec. 3.1 and 3.3: dropout is G's only
noise); `--test-mode eval` is the usual model.eval(). Validation measures G(x) against y on
[0, 1] images with L1, PSNR and SSIM (torchmetrics), without disturbing training: G's train
flag, its BatchNorm running statistics and the RNG are restored afterwards.
"""

import contextlib

import torch
from torch import nn
from torchvision.utils import make_grid, save_image

from p2p_ref.paper.data import denormalize
from p2p_ref.training.jsonl import append_jsonl
from p2p_ref.training.metrics import image_metrics


TEST_MODES = ("paper", "eval")


def set_test_mode(G, mode="paper"):
    """How G runs at test time. "paper": dropout and batch statistics stay on (sec. 3.1 and 3.3: the
    noise of dropout is G's only noise, and the paper applies it at test time too); "eval": the
    usual model.eval() (no dropout, BatchNorm's running statistics)."""
    if mode not in TEST_MODES:
        raise ValueError(f"mode={mode!r}: expected one of {TEST_MODES}")
    G.train(mode == "paper")
    return G


DROPOUTS = (nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d)


def _seeded_dropout(G, seed):
    """Make G's dropout layers draw their masks from a torch.Generator seeded with `seed` instead
    of the global RNG (G runs in a worker thread, beside whatever the notebook is doing); the
    same inverted dropout: keep with probability 1 - p, scale by 1 / (1 - p). Returns the undo."""
    generators = {}
    changed = []

    def hook(module, _inputs, output, p):
        if not module.training:
            return output
        shape = output.shape if type(module) is nn.Dropout else output.shape[:2] + (1,) * (
            output.ndim - 2)  # Dropout1d/2d/3d drop whole channels
        device = output.device
        if device not in generators:
            generators[device] = torch.Generator(device).manual_seed(seed)
        keep = torch.rand(shape, generator=generators[device], device=device) >= p
        return output * keep / (1 - p)

    for m in G.modules():
        if isinstance(m, DROPOUTS) and 0 < m.p < 1:
            changed.append((m, m.p, m.register_forward_hook(
                lambda mod, i, o, p=m.p: hook(mod, i, o, p))))
            m.p = 0.0  # p = 0 passes the input through without drawing random numbers

    def undo():
        for m, p, handle in changed:
            m.p = p
            handle.remove()
    return undo


@contextlib.contextmanager
def evaluating(G, mode="paper", seed=0):
    """G as the paper tests it, for validation, sample grids, the playground and inference,
    without touching training. mode "paper": dropout and batch statistics on, the dropout masks
    drawn from a generator seeded with `seed` (the same seed gives the same masks, and the global
    RNG is not used); "eval": model.eval(), deterministic. Afterwards G's train flag and its
    BatchNorm running statistics (a paper-mode forward updates them) are as they were."""
    if mode not in TEST_MODES:
        raise ValueError(f"mode={mode!r}: expected one of {TEST_MODES}")
    was_training = G.training
    saved = [(b, b.clone()) for b in G.buffers()]
    undo = _seeded_dropout(G, seed) if mode == "paper" else (lambda: None)
    G.train(mode == "paper")
    try:
        with torch.no_grad():
            yield G
    finally:
        undo()
        with torch.no_grad():
            for buffer, value in saved:
                buffer.copy_(value)
        G.train(was_training)


def run_generator(G, x, mode="paper", seed=0):
    """G(x) under `evaluating(G, mode, seed)`."""
    with evaluating(G, mode, seed):
        return G(x)


@contextlib.contextmanager
def local_batchnorm(G):
    """SyncBatchNorm layers of G run as plain BatchNorm inside the block. A paper-mode forward
    (batch statistics on) would otherwise average the statistics of the different images that
    the ranks hold, and wait for every rank; each image's own statistics are the paper's."""
    synced = [m for m in G.modules() if isinstance(m, nn.SyncBatchNorm)]
    for m in synced:
        m.__class__ = nn.BatchNorm2d
    try:
        yield G
    finally:
        for m in synced:
            m.__class__ = nn.SyncBatchNorm


def validate(G, dataset, device, mode="paper", seed=0, channels_last=False, d=None):
    """Mean L1, PSNR and SSIM of G(x) against y over `dataset`, all on [0, 1] images
    (`metrics.image_metrics`), one image at a time as at test time. Under DDP (`d`) each rank
    scores its share (images rank, rank + N, ...) and the sums are all-reduced, so every rank
    returns the means over the whole set. Image i's dropout masks come from seed + i, so the
    scores do not depend on how the images are shared out."""
    rank, world = (d.rank, d.world_size) if d is not None and d.enabled else (0, 1)
    sums = torch.zeros(4, dtype=torch.float64, device=device)  # l1, psnr, ssim, images
    with local_batchnorm(G):
        for i in range(rank, len(dataset), world):
            x, y = (t.unsqueeze(0).to(device) for t in dataset[i])
            if channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            with evaluating(G, mode, seed + i):
                out = G(x)
            scores = image_metrics(denormalize(out.float())[0], denormalize(y)[0])
            sums += torch.tensor([scores["l1"], scores["psnr"], scores["ssim"], 1.0],
                                 dtype=torch.float64, device=device)
    if world > 1:
        torch.distributed.all_reduce(sums)
    n = max(1.0, sums[3].item())
    return {"val_l1": sums[0].item() / n, "val_psnr": sums[1].item() / n,
            "val_ssim": sums[2].item() / n}


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


def end_of_epoch(cfg, G, val_set, fixed_pairs, device, epoch, step, writer, lr, samples_dir,
                  metrics_path, d, log):
    """Validation metrics, shared out over the ranks (`validate`), and sample grids, drawn and
    written by rank 0. Neither touches the training RNG or G's BatchNorm statistics. Returns the
    epoch's record (epoch, step, lr and, in validation epochs, val_l1, val_psnr, val_ssim)."""
    record = {"epoch": epoch, "step": step, "lr": lr}
    if val_set and epoch % cfg.val_every == 0:
        record.update(validate(G, val_set, device, cfg.test_mode, cfg.seed, cfg.channels_last, d))
    if epoch % cfg.sample_every == 0 and d.is_main:
        with local_batchnorm(G):
            grid = sample_grid(G, fixed_pairs, device, cfg.test_mode, cfg.seed)
        save_image(grid, samples_dir / f"epoch_{epoch:03d}.png", nrow=3)
        writer.add_image("samples (input | output | target)", make_grid(grid, nrow=3), step)
    if d.is_main:
        append_jsonl(metrics_path, record)
        for k, v in record.items():
            if k not in ("epoch", "step"):
                writer.add_scalar(f"val/{k}" if k != "lr" else "lr", v, step)
        if "val_psnr" in record:
            log(f"epoch {epoch}: val L1 {record['val_l1']:.4f}  PSNR {record['val_psnr']:.2f} dB  "
                f"SSIM {record['val_ssim']:.4f}")
    return record
