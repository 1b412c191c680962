"""The dtype a model runs fastest in on this machine (``--dtype auto``).

On a CPU with bf16 matrix units (Intel AMX: ~10x fp32 measured on one of this project's machines) or
bf16 dot-product instructions (AVX512-BF16, e.g. AMD Zen 4) a bf16 matrix product runs faster than fp32;
elsewhere bf16 is emulated and slower. So "auto" times both once (under a second, cached) and takes bf16
when its products run at least ``BF16_MIN_GAIN`` times faster, else fp32; on CUDA it takes bf16 where the GPU supports it. A model in bf16 gives the same pictures as in
fp32 within the tolerance its tests state (tests/streamdit/inference/test_precision.py).
"""

from __future__ import annotations

from functools import lru_cache

import torch

from streamdit.models.flops import matmul_throughput

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
BF16_MIN_GAIN = 1.5


@lru_cache(maxsize=None)
def fast_dtype(device: str = "cpu") -> torch.dtype:
    """bf16 where this device's bf16 matrix products are fast (CUDA with bf16; a CPU where they run at least
    ``BF16_MIN_GAIN`` times fp32's), else fp32."""
    kind = torch.device(device).type
    if kind == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float32
    if kind != "cpu":
        return torch.float32
    return faster_of({dtype: matmul_throughput(dtype, device, 1024, 0.2) for dtype in (torch.float32, torch.bfloat16)})


def faster_of(peaks: dict[torch.dtype, float]) -> torch.dtype:
    """bf16 if its measured matmul FLOP/s are at least ``BF16_MIN_GAIN`` times fp32's, else fp32."""
    return torch.bfloat16 if peaks[torch.bfloat16] >= BF16_MIN_GAIN * peaks[torch.float32] else torch.float32


def resolve_dtype(name: str, device: str | torch.device = "cpu",
                  peaks: dict[torch.dtype, float] | None = None) -> torch.dtype:
    """``"auto"`` (see :func:`fast_dtype`; on a CPU from ``peaks``, the fp32 and bf16 matmul FLOP/s, when they
    were measured already) or a name of :data:`DTYPES`."""
    if name == "auto":
        if peaks is not None and torch.device(device).type == "cpu":
            return faster_of(peaks)
        return fast_dtype(str(torch.device(device)))
    if name not in DTYPES:
        raise ValueError(f"unknown dtype {name!r}; choose auto or one of {', '.join(DTYPES)}")
    return DTYPES[name]
