"""The merged model in float32: the reference backend."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from space.backends import Loaded
from space.backends._torch import load_model, logits_fn, max_positions
from space.tagging import Tagger


def load(folder: Path) -> Loaded:
    tokenizer, model = load_model(folder)
    return Loaded(tokenizer, logits_fn(model), dict(model.config.id2label), max_positions(model))


def tagger_on(tokenizer: Any, model: Any) -> Tagger:
    """The Space's tagger on a model already loaded: the workflow's checks read it and pipeline() from one load."""
    return Tagger(tokenizer, logits_fn(model), dict(model.config.id2label), max_positions(model))
