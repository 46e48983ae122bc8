"""The Space's six models: which they are, where each loads from, and one cached copy of each.

One model per experiment of training.facts.EXPERIMENTS, keyed by the experiment name. A model
loads from its bundled folder (space/models/KEY, the offline default) when that folder holds a
config.json, else from the Hub as HUB_NAMESPACE/MODEL_NAME. Nothing else can be loaded: keys
outside the registry are refused, and remote code is never trusted.

    python -m space.registry      prints the README front matter for the Space (its `models:` list)
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from training.facts import (
    BUNDLED_MODELS_DIR,
    EXPERIMENTS,
    HUB_NAMESPACE,
    LANGUAGE_NAMES,
    OFFLINE_BASE_NAME,
    model_name,
)
from training.run_dir import CARD, RUN_INFO

if TYPE_CHECKING:
    from space.tagging import Tagger

MODELS_DIR_ENV = "PANX_MODELS_DIR"
MODEL_KEYS: tuple[str, ...] = tuple(EXPERIMENTS)
# A failed load is remembered this long, so a missing model costs one attempt, not one per request,
# while a Hub hiccup still heals without restarting the Space.
RETRY_AFTER_S = 60.0


class UnknownModelError(ValueError):
    """A model key that is not in the registry."""


class ModelLoadError(RuntimeError):
    """A registry model whose files could not be loaded."""


@dataclass(frozen=True)
class ModelSpec:
    key: str
    folder: Path  # bundled copy: space/models/KEY (or under $PANX_MODELS_DIR)
    hub_id: str  # used when the folder is absent
    languages: tuple[str, ...]  # languages it was fine-tuned on

    @property
    def bundled(self) -> bool:
        return (self.folder / "config.json").is_file()

    @property
    def source(self) -> str:
        return str(self.folder) if self.bundled else self.hub_id

    @property
    def display_name(self) -> str:
        """e.g. "de-fr (German + French)"."""
        return f"{self.key} ({' + '.join(LANGUAGE_NAMES[lang] for lang in self.languages)})"

    def trained_on(self, lang: str) -> bool:
        return lang in self.languages


def hub_id(key: str, folder: Path | None = None) -> str:
    """The model's Hub repo id: the bundled run's own model_name when known, else the offline base's name."""
    name = model_name(key, OFFLINE_BASE_NAME)
    info = folder / RUN_INFO if folder else None
    if info and info.is_file():
        try:
            name = json.loads(info.read_text(encoding="utf-8")).get("model_name") or name
        except (OSError, json.JSONDecodeError):
            pass  # a broken run_info.json is reported when the model loads, not here
    return f"{HUB_NAMESPACE}/{name}"


def default_models(lang: str) -> list[str]:
    """Models shown first for a language: the German model (the book's zero-shot baseline), the
    model fine-tuned on that language, and the one trained on all four."""
    return list(dict.fromkeys(key for key in ("de", lang, "all") if key in EXPERIMENTS))


class Registry:
    """The specs of the six models and a lazily filled, thread-safe cache of loaded Taggers."""

    def __init__(self, models_dir: str | Path | None = None):
        self.models_dir = Path(models_dir or os.environ.get(MODELS_DIR_ENV) or BUNDLED_MODELS_DIR)
        self.specs: dict[str, ModelSpec] = {
            key: ModelSpec(key, self.models_dir / key, hub_id(key, self.models_dir / key), languages)
            for key, languages in EXPERIMENTS.items()
        }
        self._taggers: dict[str, Tagger] = {}
        self._failures: dict[str, tuple[float, str]] = {}
        # One lock for all loads: two requests for a cold model load it once, and on a 2-core
        # Space loading two models at the same time would not be faster anyway.
        self._lock = threading.Lock()

    def spec(self, key: str) -> ModelSpec:
        if key not in self.specs:
            raise UnknownModelError(f"unknown model {key!r}; the Space serves only: {', '.join(self.specs)}")
        return self.specs[key]

    def is_loaded(self, key: str) -> bool:
        return key in self._taggers

    def get(self, key: str, on_load: Callable[[ModelSpec], None] | None = None) -> Tagger:
        """The model's Tagger, loaded on first use. `on_load(spec)` is called before a real load
        (the UI shows progress with it). Raises UnknownModelError or ModelLoadError."""
        spec = self.spec(key)
        tagger = self._taggers.get(key)
        if tagger is not None:
            return tagger
        with self._lock:
            if key in self._taggers:  # loaded by another request while this one waited
                return self._taggers[key]
            failed = self._failures.get(key)
            if failed and time.monotonic() - failed[0] < RETRY_AFTER_S:
                raise ModelLoadError(failed[1])
            if on_load:
                on_load(spec)
            try:
                tagger = _load(spec)
            except Exception as err:  # noqa: BLE001 - any failure becomes this model's message
                message = _load_error_message(spec, err)
                self._failures[key] = (time.monotonic(), message)
                raise ModelLoadError(message) from err
            self._failures.pop(key, None)
            self._taggers[key] = tagger
            return tagger

    def card(self, key: str) -> str | None:
        """The bundled model card's Markdown without its YAML front matter, or None if absent."""
        path = self.spec(key).folder / CARD
        if not path.is_file():
            return None
        return strip_front_matter(path.read_text(encoding="utf-8"))


def _load(spec: ModelSpec) -> Tagger:
    # Imported here: the registry itself is cheap to import; torch and transformers load with the first model.
    import torch
    from transformers import AutoModelForTokenClassification, AutoTokenizer

    from space.tagging import Tagger

    tokenizer = AutoTokenizer.from_pretrained(spec.source, trust_remote_code=False)
    # Bundled weights are fp16 to keep the Space small; CPUs compute fp32 faster and exactly.
    model = AutoModelForTokenClassification.from_pretrained(spec.source, trust_remote_code=False, dtype=torch.float32)
    return Tagger(tokenizer, model)


def _load_error_message(spec: ModelSpec, err: Exception) -> str:
    if spec.bundled:
        where = f"bundled folder {spec.folder}"
    else:
        where = f"the Hub ({spec.hub_id}; no bundled folder at {spec.folder})"
    detail = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    return f"model {spec.key!r} could not be loaded from {where}: {type(err).__name__}: {detail}"


_FRONT_MATTER = re.compile(r"\A---\s*\n.*?\n---\s*(\n|\Z)", re.DOTALL)


def strip_front_matter(markdown: str) -> str:
    return _FRONT_MATTER.sub("", markdown, count=1).lstrip("\n")


_default: Registry | None = None
_default_lock = threading.Lock()


def default_registry() -> Registry:
    """The process-wide registry ($PANX_MODELS_DIR or space/models), made on first use."""
    global _default
    with _default_lock:
        if _default is None:
            _default = Registry()
        return _default


def front_matter(registry: Registry | None = None) -> str:
    """The Space README's YAML front matter, with the registry's Hub ids as `models:`."""
    import gradio

    registry = registry or default_registry()
    models = "\n".join(f"  - {spec.hub_id}" for spec in registry.specs.values())
    return (
        "---\n"
        "title: PAN-X cross-lingual NER\n"
        "emoji: 🏷️\n"
        "colorFrom: indigo\n"
        "colorTo: green\n"
        "sdk: gradio\n"
        f"sdk_version: {gradio.__version__}\n"
        "app_file: app.py\n"
        "pinned: false\n"
        "short_description: Six XLM-R NER models side by side on de/fr/it/en\n"
        f"models:\n{models}\n"
        "datasets:\n"
        "  - google/xtreme\n"
        "---\n"
    )


if __name__ == "__main__":
    print(front_matter(), end="")
