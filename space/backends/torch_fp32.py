"""The merged model in float32: the reference backend."""

from __future__ import annotations

from pathlib import Path

from space.backends import Loaded
from space.backends._torch import load_model, logits_fn, max_positions


def load(folder: Path) -> Loaded:
    tokenizer, model = load_model(folder)
    return Loaded(tokenizer, logits_fn(model), dict(model.config.id2label), max_positions(model))
