"""Backends: how the Space turns a model folder into a `LogitsFn` (space.tagging).

Each module in this package is one backend: it defines `load(folder) -> Loaded`. A new backend
(ONNX Runtime, say) is one new file here; `load_tagger(folder, "name")` finds it by its module name.

    onnx_fp32    the merged model in float32 on ONNX Runtime: torch_fp32's logits, 1.6x as fast on CPU (default)
    torch_fp32   the merged model in float32 on torch: the reference the others are measured against
    torch_int8   the same with dynamic int8 Linear layers (torch.ao): faster on CPU, a little less accurate
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.cli import InputError
from space.tagging import LogitsFn, Tagger

# benchmarks/space_latency.py: onnx_fp32 keeps torch_fp32's F1 on the carved test split of every model
# at 0.6 of its latency; torch_int8 is as fast but up to 0.010 F1 below, past the 0.005 the Space
# allows itself for speed.
DEFAULT_BACKEND = "onnx_fp32"
_threads: int | None = None


def set_threads(count: int | None) -> None:
    """Intra-op threads per forward pass, for every backend (space.serving sets it for the Space); None:
    each library's default. torch's setting is process-wide: it is set now if torch is imported, else
    when a torch backend loads, so that a Space on onnx_fp32 never imports torch for it."""
    global _threads
    _threads = count
    if count is not None and "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(count)


def threads() -> int | None:
    return _threads


@dataclass(frozen=True)
class Loaded:
    tokenizer: Any
    logits: LogitsFn
    id2label: dict[int, str]
    max_positions: int | None


def available() -> list[str]:
    return sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_"))


def load(folder: str | Path, backend: str = DEFAULT_BACKEND) -> Loaded:
    if backend not in available():
        raise InputError(f"unknown backend {backend!r}; backends: {', '.join(available())}")
    return importlib.import_module(f"{__name__}.{backend}").load(Path(folder))


def load_tagger(folder: str | Path, backend: str = DEFAULT_BACKEND) -> Tagger:
    loaded = load(folder, backend)
    return Tagger(loaded.tokenizer, loaded.logits, loaded.id2label, loaded.max_positions)
