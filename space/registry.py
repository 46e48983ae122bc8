"""The Space's models: which they are, where each loads from, and one cached Tagger of each.

One model per experiment of core.facts.EXPERIMENTS, keyed by the experiment name, plus "auto"
(space.routing), which answers with one of them. A model loads from its bundled folder
(space/models/KEY, or $PANX_MODELS_DIR/KEY) when that folder holds adapter_config.json or
config.json, offline; only a model that is not bundled is fetched from the Hub, and only when the
Hub is allowed (HF_HUB_OFFLINE unset), with huggingface_hub's timeouts (HF_HUB_ETAG_TIMEOUT,
HF_HUB_DOWNLOAD_TIMEOUT). Models load through space.backends on first use.

A model that cannot be loaded is refused with one line naming its key and the file at fault (never
a server path); the failure is remembered for RETRY_AFTER_S, and the other models keep serving.
Each model has its own lock: a slow load or download never holds up requests for the others.

"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from core import run_dir as rd
from core.cli import InputError
from core.facts import (
    ALL,
    BUNDLED_MODELS_DIR,
    EXPERIMENTS,
    LANGUAGE_NAMES,
    OFFLINE_BASE_ID,
    ZERO_SHOT_SOURCE,
    repo_id,
)
from core.paths import without_paths
from space.backends import DEFAULT_BACKEND, load_tagger
from space.routing import AUTO
from space.tagging import Tagger

MODELS_DIR_ENV = "PANX_MODELS_DIR"
MODEL_KEYS: tuple[str, ...] = (*EXPERIMENTS, AUTO)
# A failed load is remembered this long, so a broken model costs one attempt, not one per request,
# while a Hub hiccup still heals without restarting the Space.
RETRY_AFTER_S = 60.0


class UnknownModelError(InputError):
    """A model key that is not in the registry."""


class ModelLoadError(RuntimeError):
    """A registry model that cannot be served; the message is one line, fit to show to a visitor."""


@dataclass(frozen=True)
class ModelSpec:
    key: str
    folder: Path  # the bundled copy: MODELS_DIR/KEY
    hub_id: str  # where it is published; fetched from there only when not bundled
    languages: tuple[str, ...]  # languages it was fine-tuned on
    read_without_labels: tuple[str, ...] = ()  # languages whose text it read without labels (--unlabelled-text)

    @property
    def bundled(self) -> bool:
        return (self.folder / rd.ADAPTER_CONFIG).is_file() or (self.folder / rd.MODEL_CONFIG).is_file()

    @property
    def display_name(self) -> str:
        """e.g. "de-fr (German + French)"."""
        return f"{self.key} ({' + '.join(LANGUAGE_NAMES[lang] for lang in self.languages)})"

    def trained_on(self, lang: str) -> bool:
        return lang in self.languages

    def marker(self, lang: str) -> str:
        """How the model knows the language: "trained", "text only" (read without labels) or "zero-shot"."""
        return "trained" if self.trained_on(lang) else "text only" if lang in self.read_without_labels else "zero-shot"


def read_without_labels(folder: Path) -> tuple[str, ...]:
    """The languages a bundled model read without labels, from its data_summary.json; () when it read none
    or the file cannot tell (a broken file is reported when the model loads)."""
    try:
        return tuple(rd.DataSummary.read(folder).unlabelled_sentences)
    except InputError:  # missing, not JSON, or off the run directory's contract
        return ()


def bundled_base(folder: Path) -> str:
    """The base a bundled adapter names, or the offline base when the folder does not say."""
    try:
        config = json.loads((folder / rd.ADAPTER_CONFIG).read_text(encoding="utf-8"))
        return str(config.get("base_model_name_or_path") or OFFLINE_BASE_ID)
    except (OSError, ValueError, AttributeError):  # absent or broken: reported when the model loads
        return OFFLINE_BASE_ID


def default_models(lang: str) -> list[str]:
    """Models shown first for a language: the German model (the book's zero-shot baseline), the
    model fine-tuned on that language, and the one trained on all languages."""
    return list(dict.fromkeys(key for key in (ZERO_SHOT_SOURCE, lang, ALL) if key in EXPERIMENTS))


def check_model(key: str) -> str:
    """The key, or an UnknownModelError that lists the valid ones."""
    if key not in MODEL_KEYS:
        raise UnknownModelError(f"unknown model {key!r}; valid models: {', '.join(MODEL_KEYS)}")
    return key


def hub_allowed() -> bool:
    from huggingface_hub import constants

    return not constants.HF_HUB_OFFLINE


class Registry:
    """The specs of the models and a lazily filled, thread-safe cache of their Taggers."""

    def __init__(self, models_dir: str | Path | None = None, backend: str = DEFAULT_BACKEND):
        self.models_dir = Path(models_dir or os.environ.get(MODELS_DIR_ENV) or BUNDLED_MODELS_DIR)
        self.backend = backend
        self.specs: dict[str, ModelSpec] = {}
        for key, languages in EXPERIMENTS.items():
            folder = self.models_dir / key
            hub_id = repo_id(key, bundled_base(folder))
            self.specs[key] = ModelSpec(key, folder, hub_id, languages, read_without_labels(folder))
        self._taggers: dict[str, Tagger] = {}
        self._failures: dict[str, tuple[float, str]] = {}
        # One lock per model: two requests for a cold model load it once, and a model that takes
        # long to load (or download) holds up only the requests that need it.
        self._locks = {key: threading.Lock() for key in self.specs}

    def spec(self, key: str) -> ModelSpec:
        if check_model(key) == AUTO:
            raise UnknownModelError(f"{AUTO!r} is no model of its own: it answers with one of {', '.join(self.specs)}")
        return self.specs[key]

    def is_loaded(self, key: str) -> bool:
        return key in self._taggers

    def get(self, key: str) -> Tagger:
        """The model's Tagger, loaded on first use. Raises UnknownModelError or ModelLoadError."""
        spec = self.spec(key)
        tagger = self._taggers.get(key)
        if tagger is not None:
            return tagger
        with self._locks[key]:
            if key in self._taggers:  # loaded by another request while this one waited
                return self._taggers[key]
            failed = self._failures.get(key)
            if failed and time.monotonic() - failed[0] < RETRY_AFTER_S:
                raise ModelLoadError(failed[1])
            try:
                tagger = load_tagger(self._folder(spec), self.backend)
            except Exception as err:
                message = self._reason(spec, err)
                self._failures[key] = (time.monotonic(), message)
                raise ModelLoadError(message) from err
            self._failures.pop(key, None)
            self._taggers[key] = tagger
            return tagger

    def warm_up(self, first: list[str]) -> threading.Thread:
        """Load every bundled model in a background thread, those in `first` before the rest, so that the
        first visitor does not wait for them. A model that fails is remembered as a request's load
        would remember it; the thread itself never raises."""

        def load_all() -> None:
            for key in dict.fromkeys([*first, *self.specs]):
                if key in self.specs and self.specs[key].bundled:
                    try:
                        self.get(key)
                    except ModelLoadError:
                        pass

        thread = threading.Thread(target=load_all, name="panx-ner warm-up", daemon=True)
        thread.start()
        return thread

    def _folder(self, spec: ModelSpec) -> Path:
        if spec.bundled:
            return spec.folder
        if not hub_allowed():
            raise ModelLoadError(
                f"it is not bundled ({spec.key}/{rd.ADAPTER_CONFIG} or {spec.key}/{rd.MODEL_CONFIG} "
                f"in the models folder) and the Hub is off (HF_HUB_OFFLINE)"
            )
        from huggingface_hub import constants, snapshot_download

        # The model files only (not the logs and plots beside them). The download timeout is
        # huggingface_hub's own (HF_HUB_DOWNLOAD_TIMEOUT); the metadata call's is passed here, as
        # snapshot_download does not read HF_HUB_ETAG_TIMEOUT itself.
        files = [*rd.ADAPTER_FILES, *rd.FULL_MODEL_FILES]
        return Path(snapshot_download(spec.hub_id, allow_patterns=files, etag_timeout=constants.HF_HUB_ETAG_TIMEOUT))

    def _reason(self, spec: ModelSpec, err: Exception) -> str:
        where = "bundled" if spec.bundled else f"from the Hub, {spec.hub_id}"
        detail = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        return f"model {spec.key!r} ({where}) cannot be served: {without_paths(detail, self.models_dir)}"

    def card(self, key: str) -> str | None:
        """The bundled model card's Markdown without its YAML front matter, or None if absent."""
        path = self.spec(key).folder / rd.CARD
        if not path.is_file():
            return None
        return strip_front_matter(path.read_text(encoding="utf-8"))


_FRONT_MATTER = re.compile(r"\A---\s*\n.*?\n---\s*(\n|\Z)", re.DOTALL)


def strip_front_matter(markdown: str) -> str:
    return _FRONT_MATTER.sub("", markdown, count=1).lstrip("\n")
