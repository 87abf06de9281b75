"""p2p-train trains with what p2p-bench calls fast: both set a device up through
`device_setup.set_up_training`, and the settings p2p-bench's "fast" row reports are the ones a
p2p-train run applies on the same device (this CPU, a CPU with and without native bf16, and a
faked CUDA capability: there is no GPU here)."""

import pytest
import torch
import yaml

import p2p_ref.training.fast_path as fp
from p2p_ref.datasets.synthetic import make_synthetic_dataset
from p2p_ref.training import bench
from p2p_ref.training.bench import BenchConfig
from p2p_ref.training.config import TrainConfig, parse_args
from p2p_ref.training.device_setup import FAST_FIELDS, fast_path_for, set_up_training
from p2p_ref.training.fast_path import BASELINE, FastPath
from p2p_ref.training.train import train

pytestmark = pytest.mark.usefixtures("one_thread")


def bench_fast(device):
    """The settings of p2p-bench's "fast" row on `device` (its label may be "X = fast")."""
    rows = bench.rows_for(bench.resolve(BenchConfig(device=device, size=32)))
    return next(settings for label, settings in rows if label.endswith("fast"))


def tiny(tmp_path, **kw):
    make_synthetic_dataset(tmp_path / "syn", n_train=2, n_val=1, n_test=1, size=32)
    return TrainConfig(dataset=str(tmp_path / "syn"), load_size=32, crop_size=32, num_downs=5,
                       ngf=8, ndf=8, n_epochs=1, n_epochs_decay=0, out=str(tmp_path / "run"),
                       num_workers=0, device="cpu", max_steps=1, **kw)


@pytest.mark.parametrize("features", [None, {"avx2"}, {"avx2", "avx512_bf16"}],
                         ids=["this-cpu", "no-native-bf16", "native-bf16"])
def test_p2p_train_applies_what_p2p_bench_calls_fast_on_a_cpu(tmp_path, monkeypatch, capsys,
                                                                features):
    if features is not None:
        monkeypatch.setattr(fp, "cpu_features", lambda: features)
    fast = bench_fast("cpu")
    result = train(tiny(tmp_path, fast_path="on"))
    saved = yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())
    assert FastPath(**{k: saved[k] for k in FAST_FIELDS}) == fast
    assert saved["run"]["settings"] == fast.describe()
    log = capsys.readouterr()
    assert f"settings: {fast.describe()} (the fast path for cpu" in log.out + log.err
    # ... and applied: the weights are in the memory format the fast path asks for
    weight = next(p for p in result["G"].parameters() if p.dim() == 4)
    assert weight.is_contiguous(memory_format=torch.channels_last) == fast.channels_last


def test_on_a_cpu_p2p_train_keeps_the_float32_baseline_by_default(tmp_path, monkeypatch):
    monkeypatch.setattr(fp, "cpu_features", lambda: {"avx512_bf16"})  # even with native bf16
    assert fast_path_for(TrainConfig(), torch.device("cpu")) == BASELINE
    train(tiny(tmp_path))
    saved = yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())
    assert FastPath(**{k: saved[k] for k in FAST_FIELDS}) == BASELINE
    assert (saved["amp"], saved["channels_last"], saved["compile"]) == ("off", False, False)


@pytest.fixture
def fake_cuda(monkeypatch):
    """torch sees a GPU of the given compute capability; the CUDA switches are restored."""
    switches = [(torch.backends.cuda.matmul, "allow_tf32"), (torch.backends.cudnn, "allow_tf32"),
                (torch.backends.cudnn, "benchmark")]
    before = [getattr(obj, name) for obj, name in switches]
    for obj, name in switches:
        setattr(obj, name, False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)

    def capability(major):
        monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: (major, 0))
    yield capability
    for (obj, name), value in zip(switches, before):
        setattr(obj, name, value)


@pytest.mark.parametrize("major, amp", [(9, "bf16"), (8, "bf16"), (7, "fp16")])
def test_on_a_gpu_p2p_train_uses_p2p_benchs_fast_path_by_default(fake_cuda, major, amp):
    fake_cuda(major)
    cuda = torch.device("cuda")
    fast = fast_path_for(parse_args([]), cuda)
    assert fast == bench_fast("cuda")
    assert (fast.amp, fast.channels_last, fast.compile, fast.tf32, fast.cudnn_benchmark,
            fast.fused_adam) == (amp, True, True, True, True, True)
    # --fast-path off: eager float32; explicit flags win over either
    assert fast_path_for(parse_args(["--fast-path", "off"]), cuda) == BASELINE
    mine = fast_path_for(parse_args(["--amp", "fp16", "--no-compile", "--no-tf32"]), cuda)
    assert (mine.amp, mine.compile, mine.tf32, mine.channels_last) == ("fp16", False, False, True)
    assert fast_path_for(parse_args(["--fast-path", "off", "--amp", "bf16"]), cuda) == \
        FastPath(amp="bf16")


def test_set_up_training_applies_every_setting_of_the_fast_path(fake_cuda):
    fake_cuda(8)
    fast = fast_path_for(TrainConfig(amp="fp16"), torch.device("cuda"))
    torch.manual_seed(0)
    G, D = (torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4)) for _ in "GD")
    setup = set_up_training(fast, "cuda", G, D)  # the modules stay on the CPU: nothing runs
    assert torch.backends.cuda.matmul.allow_tf32 and torch.backends.cudnn.allow_tf32
    assert torch.backends.cudnn.benchmark
    assert setup.opt_G.defaults["fused"] and setup.opt_D.defaults["fused"]
    assert setup.G[0].weight.is_contiguous(memory_format=torch.channels_last)
    assert setup.scaler is not None  # fp16 needs the GradScaler
    assert hasattr(setup.G_run, "_orig_mod") and setup.G_run._orig_mod is setup.G  # compiled


def test_the_baseline_sets_nothing_up(fake_cuda):
    fake_cuda(8)
    G, D = torch.nn.Conv2d(3, 4, 3), torch.nn.Conv2d(6, 1, 3)
    setup = set_up_training(BASELINE, "cuda", G, D)
    assert not (torch.backends.cuda.matmul.allow_tf32 or torch.backends.cudnn.benchmark)
    assert not setup.opt_G.defaults["fused"] and setup.scaler is None
    assert setup.G_run is G and setup.D_run is D
