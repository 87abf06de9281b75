"""What the course's sweeps share (lambda_sweep for lesson 4, skip_sweep for lesson 2, patch_sweep
for lesson 3): the pairs at the sweep's size with the paper's jitter scaled (appendix 6.2: resize
to 286, random crop of 256), the same batches for every model of a sweep, torch's thread count for
the run, images as uint8 for the .npz file, and the command's one-line error."""

from contextlib import contextmanager

import torch
from torch.utils.data import DataLoader

from p2p_ref.datasets.aligned import AlignedDataset, resolve_dataset


def to_uint8(t):
    """(N, 3, H, W) in [-1, 1] -> (N, H, W, 3) uint8."""
    return ((t.detach().cpu().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()


def batches(dataset, seed):
    """Endless shuffled pairs, in the same order for every model of a sweep."""
    loader = DataLoader(dataset, batch_size=1, shuffle=True, generator=torch.Generator().manual_seed(seed))
    while True:
        yield from loader


def sweep_data(cfg):
    """(the dataset's folder, its train split with the paper's jitter scaled to cfg.size -- 286 -> 256
    becomes 72 -> 64 --, the first cfg.n_eval test pairs at cfg.size without jitter)."""
    root = resolve_dataset(cfg.dataset, cfg.data_root)
    load_size = round(cfg.size * 286 / 256)
    train_set = AlignedDataset(root, "train", cfg.direction, load_size=load_size, crop_size=cfg.size, flip=True)
    test_set = AlignedDataset(root, "test", cfg.direction, load_size=cfg.size, crop_size=cfg.size, flip=False)
    return root, train_set, [test_set[i] for i in range(min(cfg.n_eval, len(test_set)))]


@contextmanager
def torch_threads(n):
    """torch's CPU threads set to n (0: left as they are) inside the block, restored after it."""
    before = torch.get_num_threads()
    if n:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def sweep_command(module, parse_args, run_sweep, argv=None):
    """`python -m MODULE ...`: parse, run, and turn a missing dataset (FileNotFoundError, whose
    message says how to get it) into one line naming the command."""
    cfg, out = parse_args(argv)
    try:
        return run_sweep(cfg, out)
    except FileNotFoundError as e:
        raise SystemExit(f"python -m {module}: {e}") from None
