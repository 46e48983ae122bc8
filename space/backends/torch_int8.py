"""The merged model with dynamic int8 Linear layers (torch.ao.quantization.quantize_dynamic).

Weights of every Linear layer are stored in int8 and activations quantized on the fly; embeddings
and LayerNorms stay float32. benchmarks/space_latency.py measures its speed and its F1 against fp32.
"""

from __future__ import annotations

from pathlib import Path

import torch

from space.backends import Loaded
from space.backends._torch import load_model, logits_fn, max_positions


def load(folder: Path) -> Loaded:
    tokenizer, model = load_model(folder)
    # In place: a copy would also copy the word embeddings the models share (see _torch).
    quantized = torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8, inplace=True)
    return Loaded(tokenizer, logits_fn(quantized), dict(model.config.id2label), max_positions(model))
