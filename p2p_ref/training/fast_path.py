"""The fast path: per device, the settings that make a training step faster without changing it.

The recipe (`p2p_ref.paper.train_step.train_step`: one D update, one G update, sec. 3.3 of the paper) is the
same in every setting; only how its arithmetic runs changes, and what wins depends on the device:

- a CUDA GPU: bf16 autocast (fp16 with a GradScaler before Ampere, which has no bf16 units),
  channels-last memory, `torch.compile`, TF32 for the remaining float32 work, cuDNN autotuning
  and fused Adam;
- a CPU with native bf16 (AVX512-BF16 or AMX): bf16 autocast and channels-last (the layout
  oneDNN's bf16 kernels are built for);
- any other CPU: the float32 baseline itself. There bf16 has no hardware support and runs
  through slow emulated kernels (13 times slower than float32 on a 2-core AVX2 AMD EPYC), and
  channels-last made a float32 128 x 128 step 14% slower on that CPU (README, CPU table).
  `torch.compile` stays off by default on a CPU: compiling G and D can take minutes there,
  and whether it then wins is for `p2p-bench --device cpu --each-option` to measure.

`choose(device)` returns that choice as a `FastPath`; `warn_if_slow_amp` is the one-line warning
`p2p-train --amp bf16` gives on a CPU without native bf16.
"""

import platform
from dataclasses import dataclass
from pathlib import Path

import torch

AMP_DTYPES = {"off": None, "bf16": torch.bfloat16, "fp16": torch.float16}
COMPILE_MODES = ("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")
# CPU features (names as in /proc/cpuinfo and torch.cpu.get_capabilities) that compute each
# low-precision dtype in hardware; without them the dtype's kernels are emulated and slow.
NATIVE_CPU_FEATURES = {"bf16": ("avx512_bf16", "amx_bf16"), "fp16": ("avx512_fp16", "amx_fp16")}


@dataclass(frozen=True)
class FastPath:
    """How a training step runs. The defaults are the paper-faithful baseline: eager PyTorch,
    true float32 (no TF32), NCHW tensors, the plain (for-each) Adam."""
    amp: str = "off"               # autocast dtype: "off", "bf16" or "fp16" (with a GradScaler)
    channels_last: bool = False    # NHWC memory format for G, D and the batches
    compile: bool = False          # torch.compile G and D
    compile_mode: str = "default"  # "reduce-overhead" / "max-autotune" add CUDA graphs
    tf32: bool = False             # CUDA: TF32 tensor cores for float32 matmuls and convolutions
    cudnn_benchmark: bool = False  # CUDA: let cuDNN time its convolution algorithms once
    fused_adam: bool = False       # CUDA: one fused kernel for each Adam step

    def __post_init__(self):
        if self.amp not in AMP_DTYPES:
            raise ValueError(f"amp={self.amp!r}: expected one of {tuple(AMP_DTYPES)}")
        if self.compile_mode not in COMPILE_MODES:
            raise ValueError(f"compile_mode={self.compile_mode!r}: expected one of {COMPILE_MODES}")

    @property
    def autocast_dtype(self):
        return AMP_DTYPES[self.amp]

    @property
    def cuda_graphs(self):
        """True when torch.compile records CUDA graphs (the step must then be marked)."""
        return self.compile and self.compile_mode in ("reduce-overhead", "max-autotune")

    def describe(self):
        """A short human description, e.g. "bf16 autocast, channels-last, torch.compile(default)"."""
        parts = [f"{self.amp} autocast" if self.amp != "off" else
                 ("fp32 (TF32)" if self.tf32 else "fp32")]
        parts.append("channels-last" if self.channels_last else "NCHW")
        parts.append(f"torch.compile({self.compile_mode})" if self.compile else "eager")
        if self.tf32 and self.amp != "off":
            parts.append("TF32")
        if self.cudnn_benchmark:
            parts.append("cuDNN autotune")
        if self.fused_adam:
            parts.append("fused Adam")
        return ", ".join(parts)


BASELINE = FastPath()


def cpu_features():
    """The CPU's feature flags as a set of lower-case names ("avx2", "avx512_bf16", ...)."""
    get_capabilities = getattr(torch.cpu, "get_capabilities", None)  # recent PyTorch
    if get_capabilities is not None:
        try:
            return {name for name, value in get_capabilities().items() if value is True}
        except RuntimeError:
            pass
    return cpuinfo_flags(Path("/proc/cpuinfo"))


def cpuinfo_flags(path):
    """The "flags" (x86) or "Features" (Arm) of the first processor in a /proc/cpuinfo file;
    an empty set when the file is missing (macOS, Windows)."""
    try:
        text = Path(path).read_text()
    except OSError:
        return set()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip().lower() in ("flags", "features"):
            return set(value.lower().split())
    return set()


def cpu_native(dtype, features=None):
    """Whether this CPU computes `dtype` ("bf16" or "fp16") natively (see NATIVE_CPU_FEATURES)."""
    if dtype not in NATIVE_CPU_FEATURES:
        raise ValueError(f"dtype={dtype!r}: expected one of {tuple(NATIVE_CPU_FEATURES)}")
    features = cpu_features() if features is None else features
    return any(flag in features for flag in NATIVE_CPU_FEATURES[dtype])


def cpu_name():
    """e.g. "AMD EPYC (AVX2)": the model name and PyTorch's vector capability."""
    name = ""
    get_capabilities = getattr(torch.cpu, "get_capabilities", None)
    if get_capabilities is not None:
        try:
            name = str(get_capabilities().get("cpu_name", ""))
        except RuntimeError:
            pass
    if not name:
        try:
            name = next((line.split(":", 1)[1].strip() for line in
                         Path("/proc/cpuinfo").read_text().splitlines()
                         if line.lower().startswith("model name")), "")
        except OSError:
            pass
    name = name or platform.processor() or platform.machine() or "CPU"
    try:
        return f"{name} ({torch.backends.cpu.get_cpu_capability()})"
    except AttributeError:  # very old PyTorch
        return name


def cuda_native_bf16(device=None):
    """bf16 tensor cores: compute capability 8.0 (Ampere) or newer. torch.cuda.is_bf16_supported()
    also says True on older GPUs (T4, V100), where bf16 is emulated and slow."""
    if torch.version.hip:
        return torch.cuda.is_bf16_supported()
    return torch.cuda.get_device_capability(device)[0] >= 8


def choose(device, *, compile=None, compile_mode="default", native_bf16=None):
    """The fast path for `device` (a torch.device or "cpu"/"cuda").

    compile: None = the device's default (on for CUDA, off for CPU). native_bf16: None = detect
    (cuda_native_bf16 / cpu_native("bf16")); pass True/False to ask "what if".
    """
    device = torch.device(device)
    if device.type == "cuda":
        bf16 = cuda_native_bf16(device) if native_bf16 is None else native_bf16
        return FastPath(amp="bf16" if bf16 else "fp16", channels_last=True,
                        compile=True if compile is None else compile, compile_mode=compile_mode,
                        tf32=True, cudnn_benchmark=True, fused_adam=True)
    bf16 = cpu_native("bf16") if native_bf16 is None else native_bf16
    return FastPath(amp="bf16" if bf16 else "off", channels_last=bf16,
                    compile=bool(compile), compile_mode=compile_mode)


def apply_backend_flags(fast, device):
    """Set the process-wide CUDA switches of `fast` (TF32, cuDNN autotuning); nothing on a CPU."""
    if torch.device(device).type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = fast.tf32
        torch.backends.cudnn.allow_tf32 = fast.tf32
        torch.backends.cudnn.benchmark = fast.cudnn_benchmark


def slow_amp_warning(amp, device, features=None):
    """The one-line warning for autocast in a dtype this CPU only emulates, else None."""
    device = torch.device(device)
    if device.type != "cpu" or amp not in NATIVE_CPU_FEATURES or cpu_native(amp, features):
        return None
    native = " or ".join(f.upper().replace("_", "-") for f in NATIVE_CPU_FEATURES[amp])
    return (f"warning: --amp {amp} on this CPU ({cpu_name()}) is emulated in software and "
            f"several times slower than float32 (native {amp} needs {native}); use --amp off "
            f"instead (`p2p-bench --device cpu --each-option` times each option)")


def warn_if_slow_amp(amp, device, log=print):
    """Log slow_amp_warning(amp, device) in one line, if there is one."""
    message = slow_amp_warning(amp, device)
    if message:
        log(message)
