"""Whether bfloat16 autocast pays on this machine.

On a CPU where oneDNN has no bf16 path (it needs AVX512 or better), bf16 is emulated and autocast is
about 10x *slower* than fp32 (measured on this project's 2-core AMD EPYC with AVX2 only: a training
step of the shipped UNet took 30 s in bf16, 2.5 s in fp32). The CPUs the early benchmarks ran on had
it and gained 2x. So bf16 is a request that code honours only where it helps.
"""

from __future__ import annotations

import functools

import torch


@functools.cache
def bf16_is_fast(device_type: str = "cpu") -> bool:
    """True where bf16 autocast runs natively: CUDA with bf16 support, or a CPU with oneDNN's bf16 path (AVX512 or better)."""
    if device_type == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    if device_type != "cpu":
        return False
    check = getattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", None)
    try:
        return bool(check()) if check is not None else False
    except RuntimeError:
        return False
