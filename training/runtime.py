"""What a run ran on: the device and library versions, recorded in every run directory and result."""

from __future__ import annotations

import platform

import torch


def device_description() -> str:
    if torch.cuda.is_available():
        return f"cuda ({torch.cuda.get_device_name()})"
    return f"cpu ({torch.get_num_threads()} threads)"


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
