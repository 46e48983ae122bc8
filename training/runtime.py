"""What a run ran on: the device and library versions, recorded in every run directory and result."""

from __future__ import annotations

import platform

import torch


def device_description() -> str:
    if torch.cuda.is_available():
        return f"cuda ({torch.cuda.get_device_name()})"
    return f"cpu ({torch.get_num_threads()} threads)"


def native_cpu_bf16() -> bool:
    """Whether this CPU multiplies bf16 in hardware (AVX-512 BF16 or AMX). Without either, oneDNN emulates
    bf16 and autocast trains 1.7 times slower than fp32 (results/bench/train_throughput.json, tuned_bf16)."""
    return torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()


def mixed_precision() -> str:
    """bf16 where the hardware does it natively, fp16 on older GPUs, else full precision ("no")."""
    if torch.cuda.is_available():
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    return "bf16" if native_cpu_bf16() else "no"


def library_versions() -> dict[str, str]:
    import datasets
    import seqeval
    import tokenizers
    import transformers

    return {
        "transformers": transformers.__version__,
        "torch": torch.__version__,
        "datasets": datasets.__version__,
        "tokenizers": tokenizers.__version__,
        "seqeval": getattr(seqeval, "__version__", "1.2.2"),
        "python": platform.python_version(),
    }
