"""The merged model with dynamic int8 Linear layers (torch.ao.quantization.quantize_dynamic).

Weights are stored in int8 per output channel and activations quantized on the fly. Two kinds of
Linear stay float32: the classifier, and each layer's feed-forward output projection (1536 -> 384),
whose inputs follow the GELU's long tail. Measured on the de model, 400 carved-test sentences, one
thread: fp32 F1 0.827 at 41.5 ms; every Linear per tensor 0.794 (15.0 ms); per channel 0.804; per
channel without the feed-forward output 0.826 (23.1 ms). benchmarks/space_latency.py checks every
bundled model's F1 against fp32.
"""

from __future__ import annotations

from pathlib import Path

import torch

from space.backends import Loaded
from space.backends._torch import load_model, logits_fn, max_positions


def kept_in_float(name: str) -> bool:
    """The classifier and the feed-forward output projections ("encoder.layer.N.output.dense")."""
    return name.startswith("classifier") or (
        name.endswith("output.dense") and not name.endswith("attention.output.dense")
    )


def load(folder: Path) -> Loaded:
    tokenizer, model = load_model(folder)
    config = torch.ao.quantization.per_channel_dynamic_qconfig
    spec = {
        name: config
        for name, module in model.named_modules()
        if isinstance(module, torch.nn.Linear) and not kept_in_float(name)
    }
    # In place: a copy would also copy the word embeddings the models share (see _torch).
    torch.ao.quantization.quantize_dynamic(model, spec, inplace=True)
    return Loaded(tokenizer, logits_fn(model), dict(model.config.id2label), max_positions(model))
