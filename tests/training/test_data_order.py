"""p2p_ref.training.data_order: the order of the training data and each item's jitter are fixed by
(seed, epoch, index), so a resumed run sees what an uninterrupted one would have seen."""

import torch
from torch.utils.data import Dataset

from p2p_ref.training.data_order import ResumableSampler, SeededPairs


class _Items(Dataset):
    """n items; item i is (i, a random number from the global torch RNG), like a jittered pair."""

    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, index):
        return index, torch.rand(1).item()


def _epoch(sampler, epoch, skip=0):
    sampler.set_epoch(epoch, skip)
    return list(sampler)


def test_the_order_is_a_function_of_seed_and_epoch():
    data = _Items(20)
    first = _epoch(ResumableSampler(data, seed=3), 0)
    assert first == _epoch(ResumableSampler(data, seed=3), 0)
    assert sorted(i for i, _ in first) == list(range(20)) and {e for _, e in first} == {0}
    assert [i for i, _ in _epoch(ResumableSampler(data, seed=3), 1)] != [i for i, _ in first]
    assert [i for i, _ in _epoch(ResumableSampler(data, seed=4), 0)] != [i for i, _ in first]


def test_skip_resumes_at_the_item_an_interrupted_epoch_stopped_at():
    data = _Items(20)
    full = _epoch(ResumableSampler(data, seed=0), 2)
    resumed = ResumableSampler(data, seed=0)
    assert _epoch(resumed, 2, skip=7) == full[7:]
    assert len(resumed) == 13
    assert _epoch(resumed, 3) == _epoch(ResumableSampler(data, seed=0), 3)  # the next epoch is whole


def test_the_ranks_split_the_data():
    data = _Items(20)
    parts = [[i for i, _ in _epoch(ResumableSampler(data, seed=0, rank=r, world_size=2), 1)] for r in (0, 1)]
    assert len(parts[0]) == len(parts[1]) == 10
    assert sorted(parts[0] + parts[1]) == list(range(20))


def test_each_item_draws_its_jitter_from_its_own_seed():
    pairs = SeededPairs(_Items(5), seed=0)
    assert len(pairs) == 5
    torch.manual_seed(123)
    before = torch.get_rng_state()
    first = pairs[(2, 0)]
    assert torch.equal(torch.get_rng_state(), before)  # dropout's global RNG is left alone
    torch.rand(10)  # whatever the global RNG did in between
    assert pairs[(2, 0)] == first
    assert first[0] == 2
    assert pairs[(2, 1)][1] != first[1]  # another epoch, another jitter
    assert pairs[(3, 0)][1] != first[1]  # another item, another jitter
    assert SeededPairs(_Items(5), seed=1)[(2, 0)][1] != first[1]
