"""Run several registry models on one text and compare them with each other and with gold.

Plain Python, no Gradio: space/app.py turns a Comparison into components, and the /tag API
returns `api_payload(comparison)`. Spans are compared exactly: same start, end and type.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from training.facts import LANGUAGE_NAMES, check_language

from space.examples import Example
from space.registry import ModelLoadError, ModelSpec, Registry
from space.tagging import split_words

# Longer texts are cut (at a space) to this many characters, with a notice: a demo request should
# stay in the seconds on a 2-core Space even with six models.
MAX_CHARS = 10_000
# From this size on the notice says how the text was windowed.
LONG_TEXT_CHARS = 1_000

Span = tuple[int, int, str]  # start, end, entity type


class InputError(ValueError):
    """Input the Space cannot tag (empty text, unknown language); the message is shown as is."""


@dataclass
class ModelResult:
    spec: ModelSpec
    trained: bool  # was this model fine-tuned on the request's language?
    entities: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    seconds: float = 0.0  # tagging only
    load_seconds: float = 0.0  # > 0 when this request loaded the model


@dataclass
class Comparison:
    text: str  # the text that was tagged (cut to MAX_CHARS); every offset refers to it
    language: str
    notice: str | None
    results: list[ModelResult]
    gold: Example | None = None

    @property
    def ok(self) -> list[ModelResult]:
        return [r for r in self.results if r.error is None]


def span(entity: dict[str, Any]) -> Span:
    return entity["start"], entity["end"], entity["entity_group"]


def prepare_text(text: str | None) -> tuple[str, str | None]:
    """The text to tag and a notice about its size; InputError for empty text."""
    text = text or ""
    if not text.strip():
        raise InputError("The text is empty: type a sentence or pick an example.")
    notice = None
    if len(text) > MAX_CHARS:
        cut = text.rfind(" ", 0, MAX_CHARS + 1)
        kept = text[: cut if cut > 0 else MAX_CHARS]
        notice = (
            f"The text has {len(text):,} characters; only the first {len(kept):,} were tagged (limit {MAX_CHARS:,})."
        )
        text = kept
    if len(text) >= LONG_TEXT_CHARS:
        size = f"{len(text):,} characters, {len(split_words(text)):,} words"
        windowing = "tagged in windows of whole sentences, so nothing was truncated by the model"
        notice = f"{notice} " if notice else ""
        notice += f"Long text ({size}): {windowing}."
    return text, notice


def compare(
    text: str | None,
    language: str,
    model_keys: Sequence[str],
    registry: Registry,
    gold: Example | None = None,
    on_load: Callable[[ModelSpec], None] | None = None,
) -> Comparison:
    """Tag `text` with each model; a model that fails to load gets an error, the others still run."""
    try:
        check_language(language)
    except ValueError as err:
        raise InputError(str(err)) from err
    for key in model_keys:
        registry.spec(key)  # unknown keys are refused before any work
    text, notice = prepare_text(text)
    results = []
    for key in model_keys:
        spec = registry.spec(key)
        result = ModelResult(spec, spec.trained_on(language))
        results.append(result)
        start = time.perf_counter()
        try:
            tagger = registry.get(key, on_load=on_load)
        except ModelLoadError as err:
            result.error = str(err)
            continue
        tagged = time.perf_counter()
        result.load_seconds = tagged - start if tagged - start > 0.05 else 0.0  # a cache hit is not a load
        result.entities = tagger(text)["entities"]
        result.seconds = time.perf_counter() - tagged
    return Comparison(text, language, notice, results, gold if gold is not None and gold.text == text else None)


def agreement(comparison: Comparison) -> tuple[list[Span], list[tuple[Span, list[str]]]]:
    """Spans every model that ran found, and the other spans with the models that found them."""
    runs = comparison.ok
    found: dict[Span, list[str]] = {}
    for result in runs:
        for entity in result.entities:
            found.setdefault(span(entity), []).append(result.spec.key)
    all_agree = sorted(s for s, keys in found.items() if len(keys) == len(runs))
    partial = sorted((s, keys) for s, keys in found.items() if len(keys) < len(runs))
    return all_agree, partial


def gold_check(entities: Sequence[dict[str, Any]], gold: Example | None) -> tuple[list[bool | None], list[Span]]:
    """For each predicted entity: matches a gold span (True/False, None without gold); and the gold spans missed."""
    if gold is None or gold.gold is None:
        return [None] * len(entities), []
    gold_spans = {span(g) for g in gold.gold}
    predicted = {span(e) for e in entities}
    return [span(e) in gold_spans for e in entities], sorted(gold_spans - predicted)


def table_rows(comparison: Comparison) -> list[list[str]]:
    """One row per predicted entity (and per missed gold span): model, text, type, score, vs gold."""
    rows = []
    text = comparison.text
    for result in comparison.results:
        if result.error:
            rows.append([result.spec.key, "", "", "", "model failed to load"])
            continue
        matches, missed = gold_check(result.entities, comparison.gold)
        for entity, match in zip(result.entities, matches, strict=True):
            verdict = "" if match is None else ("✓ gold" if match else "✗ not in gold")
            rows.append([result.spec.key, entity["word"], entity["entity_group"], f"{entity['score']:.2f}", verdict])
        for start, end, entity_type in missed:
            rows.append([result.spec.key, text[start:end], entity_type, "", "✗ missed gold"])
    return rows


def api_payload(comparison: Comparison) -> dict[str, Any]:
    """The JSON the /tag endpoint returns."""
    return {
        "text": comparison.text,
        "language": comparison.language,
        "notice": comparison.notice,
        "models": {
            r.spec.key: {
                "model": r.spec.hub_id,
                "trained_on": list(r.spec.languages),
                "zero_shot": not r.trained,
                "entities": r.entities,
                "error": r.error,
            }
            for r in comparison.results
        },
    }


def language_label(lang: str) -> str:
    return f"{LANGUAGE_NAMES[lang]} ({lang})"
