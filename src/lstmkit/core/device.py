"""Devices and precision: which device to run on, when to autocast, how much memory a run took."""

from __future__ import annotations

import contextlib
import logging

import torch

from ..errors import LstmkitError

log = logging.getLogger(__name__)


def resolve_device(name: str = "auto") -> torch.device:
    """``auto`` is CUDA, then MPS, then the CPU; other names are checked against the hardware."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError as exc:
        raise LstmkitError(f"unknown device '{name}' (use auto, cpu, cuda, cuda:N or mps)") from exc
    if device.type == "cuda" and not torch.cuda.is_available():
        raise LstmkitError("--device cuda asked for, but PyTorch sees no CUDA GPU")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise LstmkitError("--device mps asked for, but MPS is not available")
    return device


def native_cpu_bf16() -> bool:
    """Whether this CPU multiplies bf16 natively (AVX-512 BF16 or AMX), by torch's own CPU
    probe; False where torch cannot say."""
    try:
        found = torch._C._cpu._get_cpu_capability()
    except (AttributeError, RuntimeError):
        return False
    return bool(found.get("avx512_bf16") or found.get("amx_bf16"))


def autocast_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype for ``precision`` on ``device``; None means plain fp32. bf16 asked
    for on a CPU that only emulates it is kept (it is what was asked), with a warning."""
    if precision == "bf16" and device.type == "cpu" and not native_cpu_bf16():
        log.warning("this CPU has no native bf16 (AVX-512 BF16 or AMX): bf16 autocast is "
                    "emulated and trains many times slower than fp32 (--precision auto)")
    if precision == "bf16" or (precision == "auto" and device.type == "cuda"):
        return torch.bfloat16
    return None


def autocast(device: torch.device, amp: torch.dtype | None) -> contextlib.AbstractContextManager:
    """Autocast to ``amp`` on ``device``, or nothing when ``amp`` is None."""
    return torch.autocast(device.type, dtype=amp or torch.float32, enabled=amp is not None)


def peak_memory_mib(device: torch.device) -> float:
    """Peak memory of this process: allocated GPU memory on CUDA, resident host memory else."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
