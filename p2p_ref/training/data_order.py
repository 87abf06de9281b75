"""The order of the training data, reproducible to the item, so a resumed run sees exactly what an
uninterrupted one would have seen.

The shuffled order of epoch e is a function of (seed, e) (DistributedSampler, split across
processes), and the random jitter of item i in epoch e is drawn from its own seed (seed, e, i):
neither depends on DataLoader workers, on how often the run was stopped, or on the global RNG
that dropout draws from.
"""

from itertools import islice

import numpy as np
import torch
from torch.utils.data import Dataset, DistributedSampler, Sampler


class ResumableSampler(Sampler):
    """DistributedSampler's shuffled order, seeded by (seed + epoch), that can start mid-epoch.

    Yields (index, epoch) keys for `SeededPairs`, so the random jitter of every item is fixed by
    (seed, epoch, index) too: a resumed run sees exactly the crops and flips of an uninterrupted
    one, whatever the number of DataLoader workers.
    """

    def __init__(self, dataset, seed=0, rank=0, world_size=1):
        self.order = DistributedSampler(dataset, num_replicas=world_size, rank=rank,
                                        shuffle=True, seed=seed)
        self.epoch, self.skip = 0, 0

    def set_epoch(self, epoch, skip=0):
        """Next pass: epoch `epoch`, leaving out the first `skip` items (already trained on)."""
        self.order.set_epoch(epoch)
        self.epoch, self.skip = epoch, skip

    def __iter__(self):
        return ((index, self.epoch) for index in islice(iter(self.order), self.skip, None))

    def __len__(self):
        return len(self.order) - self.skip


class SeededPairs(Dataset):
    """Wraps an AlignedDataset so item (index, epoch) draws its jitter from its own seed,
    leaving the global RNG (dropout's) untouched."""

    def __init__(self, dataset, seed=0):
        self.dataset, self.seed = dataset, seed

    def __len__(self):
        return len(self.dataset)

    def __getitem__(self, key):
        index, epoch = key
        item_seed = int(np.random.SeedSequence([self.seed, epoch, index]).generate_state(1)[0])
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(item_seed)
            return self.dataset[index]
