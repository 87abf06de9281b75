"""p2p_ref.training.devices: the device to train on, who this process is, and DDP on a CPU.

Multi-process runs are tested end to end in test_ddp.py (torchrun, two CPU processes); here one
process, with a one-process gloo group where DistributedDataParallel needs one.
"""

import pytest
import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from p2p_ref.training.devices import (Dist, convert_sync_batchnorm, gather_objects, resolve_device,
                                      setup_distributed, wrap_ddp)

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture
def gloo_group(tmp_path):
    """A process group of one CPU process (what torchrun --nproc_per_node=1 gives), torn down after."""
    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'store'}", rank=0, world_size=1)
    yield
    dist.destroy_process_group()


def _tiny_net():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU())


@pytest.mark.parametrize("available, expected", [(True, "cuda"), (False, "cpu")])
def test_auto_picks_cuda_only_when_it_is_available(monkeypatch, available, expected):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: available)
    assert resolve_device("auto") == torch.device(expected)
    assert resolve_device("cpu") == torch.device("cpu")


def test_cuda_without_a_gpu_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(RuntimeError, match="--device cuda.*use --device cpu"):
        resolve_device("cuda")


def test_dist_is_rank_0_of_1_without_torchrun():
    d = Dist()
    assert (d.rank, d.world_size, d.local_rank, d.is_main, d.enabled) == (0, 1, 0, True, False)
    other = Dist(rank=1, world_size=2, local_rank=1)
    assert not other.is_main and other.enabled


def test_setup_without_torchrun_joins_no_group(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    d, device = setup_distributed(torch.device("cpu"))
    assert d == Dist() and device == torch.device("cpu")
    assert not dist.is_initialized()


def test_gather_without_torchrun_is_the_object_alone():
    record = {"rng": [1, 2, 3]}
    gathered = gather_objects(record, Dist())
    assert gathered == [record] and gathered[0] is record


def test_wrap_ddp_on_cpu_computes_the_same_and_keeps_its_own_buffers(gloo_group):
    G = _tiny_net()
    plain = _tiny_net()
    wrapped = wrap_ddp(G, torch.device("cpu"))
    assert isinstance(wrapped, DistributedDataParallel) and wrapped.module is G
    assert wrapped.device_ids is None  # CPU: no device ids
    assert not wrapped.will_sync_module_buffers()  # no re-broadcast at each forward (wrap_ddp's docstring)
    x = torch.randn(2, 3, 8, 8)
    assert torch.allclose(wrapped(x), plain(x), atol=1e-6)
    wrapped(x).sum().backward()
    plain(x)
    assert all(p.grad is not None for p in G.parameters())
    assert torch.allclose(G[1].running_mean, plain[1].running_mean, atol=1e-6)  # two forwards each
    assert G[1].num_batches_tracked.item() == 2


def test_sync_batchnorm_only_for_multi_process_runs():
    G, D = _tiny_net(), _tiny_net()
    logged = []
    assert convert_sync_batchnorm(G, D, torch.device("cpu"), Dist(), logged.append) == (G, D)
    assert logged == []  # one process: nothing to say


def test_sync_batchnorm_on_cpu_keeps_batchnorm_and_says_why():
    G, D = _tiny_net(), _tiny_net()
    logged = []
    out = convert_sync_batchnorm(G, D, torch.device("cpu"), Dist(0, 2, 0), logged.append)
    assert out == (G, D) and isinstance(G[1], nn.BatchNorm2d)
    assert len(logged) == 1 and "SyncBatchNorm is CUDA-only" in logged[0]


def test_sync_batchnorm_leaves_instance_norm_models_alone():
    G = nn.Sequential(nn.Conv2d(3, 4, 3), nn.InstanceNorm2d(4))
    D = _tiny_net()
    logged = []
    assert convert_sync_batchnorm(G, D, torch.device("cuda"), Dist(0, 2, 0), logged.append) == (G, D)
    assert logged == []


def test_sync_batchnorm_converts_for_multi_gpu_runs():
    # nn.SyncBatchNorm.convert_sync_batchnorm only swaps the modules: no GPU is needed to build them
    G, D = _tiny_net(), _tiny_net()
    G2, D2 = convert_sync_batchnorm(G, D, torch.device("cuda"), Dist(0, 2, 0), print)
    assert isinstance(G2[1], nn.SyncBatchNorm) and isinstance(D2[1], nn.SyncBatchNorm)
