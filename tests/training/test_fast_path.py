"""The fast path picks per device what wins: bf16 only on CUDA (Ampere+) or a CPU with native
bf16 (with channels-last there), the float32 baseline on other CPUs; p2p-train warns in one line
about emulated bf16."""

import pytest
import torch

import p2p_ref.training.fast_path as fp
from p2p_ref.training.fast_path import (BASELINE, FastPath, choose, cpu_native, cpuinfo_flags, slow_amp_warning)
from p2p_ref.datasets.synthetic import make_synthetic_dataset
from p2p_ref.training.config import TrainConfig
from p2p_ref.training.train import train

pytestmark = pytest.mark.usefixtures("one_thread")

X86_CPUINFO = """processor\t: 0
vendor_id\t: GenuineIntel
model name\t: Intel(R) Xeon(R) Platinum 8480+
flags\t\t: fpu vme sse sse2 avx avx2 avx512f avx512bw avx512_bf16 amx_bf16 amx_tile
"""
ARM_CPUINFO = """processor\t: 0
BogoMIPS\t: 2100.00
Features\t: fp asimd evtstrm aes sha1 sha2 crc32 atomics fphp asimdhp sve bf16 i8mm
"""


def test_cpuinfo_flags_reads_x86_and_arm_and_tolerates_a_missing_file(tmp_path):
    (tmp_path / "x86").write_text(X86_CPUINFO)
    (tmp_path / "arm").write_text(ARM_CPUINFO)
    assert {"avx2", "avx512_bf16", "amx_bf16"} <= cpuinfo_flags(tmp_path / "x86")
    assert "bf16" in cpuinfo_flags(tmp_path / "arm")
    assert cpuinfo_flags(tmp_path / "missing") == set()


def test_native_cpu_bf16_needs_avx512_bf16_or_amx():
    assert cpu_native("bf16", {"avx2", "avx512_bf16"})
    assert cpu_native("bf16", {"amx_bf16", "amx_tile"})
    assert not cpu_native("bf16", {"avx2", "fma", "avx512f", "avx512bw"})  # AVX-512 alone: no
    assert not cpu_native("bf16", set())
    assert cpu_native("fp16", {"avx512_fp16"}) and not cpu_native("fp16", {"avx512_bf16"})
    with pytest.raises(ValueError, match="dtype='fp8'"):
        cpu_native("fp8", set())


def test_the_detection_agrees_with_pytorch():
    features = fp.cpu_features()
    if hasattr(torch.cpu, "_is_avx512_bf16_supported"):
        assert ("avx512_bf16" in features) == torch.cpu._is_avx512_bf16_supported()
    assert isinstance(fp.cpu_name(), str) and fp.cpu_name()


def test_cpu_fast_path_is_the_fp32_baseline_without_native_bf16():
    # measured on a 2-core AVX2 EPYC: emulated bf16 13x slower, channels-last 14% slower (README)
    fast = choose("cpu", native_bf16=False)
    assert fast == FastPath(amp="off", channels_last=False) == BASELINE
    assert fast.autocast_dtype is None and not fast.compile
    assert fast.describe() == "fp32, NCHW, eager"
    assert choose("cpu", native_bf16=True) == FastPath(amp="bf16", channels_last=True)
    assert choose("cpu", native_bf16=False, compile=True).compile


def test_cuda_fast_path_is_bf16_on_ampere_and_fp16_before():
    fast = choose("cuda", native_bf16=True)
    assert (fast.amp, fast.channels_last, fast.compile, fast.tf32, fast.fused_adam,
            fast.cudnn_benchmark) == ("bf16", True, True, True, True, True)
    assert fast.describe() == ("bf16 autocast, channels-last, torch.compile(default), TF32, "
                               "cuDNN autotune, fused Adam")
    assert choose("cuda", native_bf16=False).amp == "fp16"  # T4, V100: the GradScaler path
    graphs = choose("cuda", native_bf16=True, compile_mode="reduce-overhead")
    assert graphs.cuda_graphs and not fast.cuda_graphs
    assert not choose("cuda", native_bf16=True, compile=False).compile


def test_baseline_and_bad_values():
    assert BASELINE.describe() == "fp32, NCHW, eager" and BASELINE.autocast_dtype is None
    with pytest.raises(ValueError, match="amp='fp8'"):
        FastPath(amp="fp8")
    with pytest.raises(ValueError, match="compile_mode='fast'"):
        FastPath(compile_mode="fast")


def test_slow_amp_warning_is_one_line_and_says_what_to_use_instead():
    message = slow_amp_warning("bf16", "cpu", features={"avx2"})
    assert message and "\n" not in message
    assert "use --amp off instead" in message and "AVX512-BF16" in message
    assert slow_amp_warning("fp16", "cpu", features={"avx2"})  # fp16 is emulated there too
    assert slow_amp_warning("bf16", "cpu", features={"amx_bf16"}) is None
    assert slow_amp_warning("off", "cpu", features={"avx2"}) is None
    assert slow_amp_warning("bf16", "cuda", features={"avx2"}) is None


def test_p2p_train_warns_once_about_bf16_on_a_cpu_without_it(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(fp, "cpu_features", lambda: {"avx2"})
    make_synthetic_dataset(tmp_path / "syn", n_train=2, n_val=1, n_test=1, size=64)
    cfg = TrainConfig(dataset=str(tmp_path / "syn"), load_size=64, crop_size=64, num_downs=6,
                      ngf=8, ndf=8, n_epochs=1, n_epochs_decay=0, out=str(tmp_path / "run"),
                      num_workers=0, device="cpu", amp="bf16", max_steps=1)
    assert train(cfg)["step"] == 1
    out = capsys.readouterr()
    warnings = [line for line in (out.out + out.err).splitlines() if "--amp bf16" in line]
    assert len(warnings) == 1 and "use --amp off instead" in warnings[0]
