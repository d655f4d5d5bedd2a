"""Where a model runs and in which precision: ``--device`` and ``--dtype`` resolved, ``auto`` to
what the machine has (cuda, then mps, then cpu; bfloat16 on CUDA that supports it, float16 on
other GPUs, float32 on a CPU)."""

from __future__ import annotations

import re

from ..errors import ConfigError

DTYPES = {
    "float32": "float32", "fp32": "float32", "float": "float32",
    "float16": "float16", "fp16": "float16", "half": "float16",
    "bfloat16": "bfloat16", "bf16": "bfloat16",
    "int8": "int8",  # float32 weights quantized to int8 after loading (workbench.run.precision)
}


def pick_device(device: str | None = None) -> str:
    """``auto``/None -> cuda, then mps, then cpu. An explicit device is checked."""
    import torch

    if device in (None, "", "auto"):
        if torch.cuda.is_available():
            return "cuda"
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return "mps"
        return "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"--device {device}: CUDA is not available on this machine")
    if device == "mps" and not (getattr(torch.backends, "mps", None)
                                and torch.backends.mps.is_available()):
        raise ConfigError("--device mps: MPS is not available on this machine")
    if not re.fullmatch(r"cpu|mps|cuda(:\d+)?", device):
        raise ConfigError(f"unknown --device {device!r} (auto, cpu, cuda, cuda:N, mps)")
    return device


def pick_dtype(dtype: str | None, device: str) -> str:
    """``auto``/None -> bf16 on CUDA that supports it, fp16 on other GPUs, fp32 on CPU."""
    import torch

    if dtype in (None, "", "auto"):
        if device.startswith("cuda"):
            return "bfloat16" if torch.cuda.is_bf16_supported() else "float16"
        return "float16" if device == "mps" else "float32"
    if dtype not in DTYPES:
        raise ConfigError(f"unknown --dtype {dtype!r} (auto, float32, bfloat16, float16, int8)")
    return DTYPES[dtype]
