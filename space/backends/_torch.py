"""What the torch backends share: loading a folder as one merged model, and running it."""

from __future__ import annotations

import ctypes
import ctypes.util
import threading
from pathlib import Path
from typing import Any

import numpy as np
import torch

from core.loading import load_token_classifier
from space.backends import threads

# LoRA leaves the word embeddings (96M of e5-small's 118M parameters) as the base has them, so the
# models of one base share a single copy: six models then take about 0.9 GB instead of 2.8 GB.
_shared_embeddings: dict[tuple, torch.nn.Parameter] = {}
# Adapters use their base's tokenizer: one copy for all (XLM-R's 250k pieces take about 330 MB each).
_shared_tokenizers: dict[tuple, Any] = {}
_lock = threading.Lock()


def load_model(folder: Path) -> tuple[Any, Any]:
    if threads() is not None:
        torch.set_num_threads(threads())
    tokenizer, model = load_token_classifier(folder)
    share_word_embeddings(model)
    tokenizer = share_tokenizer(tokenizer)
    release_freed_memory()
    return tokenizer, model


def share_tokenizer(tokenizer: Any) -> Any:
    """The tokenizer loaded before from the same source (an adapter's base, a full model's folder), if any."""
    key = (type(tokenizer).__name__, str(tokenizer.name_or_path), len(tokenizer))
    with _lock:
        return _shared_tokenizers.setdefault(key, tokenizer)


def release_freed_memory() -> None:
    """Hand what a load freed (a second tokenizer, the base's unmerged weights) back to the system:
    glibc keeps freed small blocks otherwise, and each model would seem to cost 0.7 GB."""
    libc = ctypes.util.find_library("c")
    if libc:
        try:
            ctypes.CDLL(libc).malloc_trim(0)
        except AttributeError:  # not glibc
            pass


def share_word_embeddings(model: Any) -> None:
    embeddings = model.get_input_embeddings()
    weight = embeddings.weight
    key = (tuple(weight.shape), float(weight[:64].sum()), float(weight[-64:].sum()))
    with _lock:
        shared = _shared_embeddings.get(key)
        if shared is not None and torch.equal(shared, weight):
            embeddings.weight = shared
        elif shared is None:
            _shared_embeddings[key] = weight


def logits_fn(model: Any):
    def logits(input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            out = model(input_ids=torch.from_numpy(input_ids), attention_mask=torch.from_numpy(attention_mask))
        return out.logits.float().numpy()

    return logits


def max_positions(model: Any) -> int | None:
    return getattr(model.config, "max_position_embeddings", None)
