"""Run several registry models on one text and compare them with each other and with gold.

Plain Python, no Gradio: space/views.py turns a Comparison into components, and the /tag API
returns `api_payload(comparison)`. Spans are compared exactly: same start, end and type.
"auto" (space.routing) answers with the best model for the detected language; when that model
already ran for this request its answer is reused, and a model that fails hands over to the next.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from core.cli import InputError
from core.facts import LANGUAGES
from space.examples import Example
from space.registry import ModelLoadError, ModelSpec, Registry, check_model, default_models
from space.routing import AUTO, Route, Router
from space.tagging import split_words

# Longer texts are cut (at a space) to this many characters, with a notice: a demo request should
# stay in the seconds on a 2-core Space even with six models.
MAX_CHARS = 10_000
# From this size on the notice says how the text was windowed.
LONG_TEXT_CHARS = 1_000

Span = tuple[int, int, str]  # start, end, entity type


# Languages a request may name: the project's, or AUTO to detect it.
REQUEST_LANGUAGES: tuple[str, ...] = (*LANGUAGES, AUTO)


@dataclass
class ModelResult:
    key: str  # the model asked for: an experiment, or AUTO
    spec: ModelSpec  # the model that answered (for AUTO, the one it routed to)
    trained: bool  # was that model fine-tuned on the request's language?
    entities: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    seconds: float = 0.0  # tagging only
    load_seconds: float = 0.0  # > 0 when this request loaded the model


@dataclass
class Comparison:
    text: str  # the text that was tagged (cut to MAX_CHARS); every offset refers to it
    language: str  # the request's language, or the detected one when it asked for AUTO
    notice: str | None
    results: list[ModelResult]
    gold: Example | None = None
    route: Route | None = None  # when AUTO was asked for, as a model or as the language
    pending: tuple[str, ...] = ()  # models asked for that have not answered yet, in the order they run (comparing())

    @property
    def ok(self) -> list[ModelResult]:
        """The models that answered, "auto" left out: it repeats one of them."""
        return [r for r in self.results if r.error is None and r.key != AUTO]

    @property
    def auto(self) -> ModelResult | None:
        return next((r for r in self.results if r.key == AUTO), None)


def span(entity: dict[str, Any]) -> Span:
    return entity["start"], entity["end"], entity["entity_group"]


def prepare_text(text: str | None) -> tuple[str, str | None]:
    """The text to tag and a notice about its size; InputError for empty text."""
    text = text or ""
    if not isinstance(text, str):
        raise InputError(f"The text must be a string, not {type(text).__name__}.")
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


def check_language(language: str) -> str:
    if language not in REQUEST_LANGUAGES:
        raise InputError(f"unknown language {language!r}; valid languages: {', '.join(REQUEST_LANGUAGES)}")
    return language


def comparing(
    text: str | None,
    language: str,
    model_keys: Sequence[str] | None,
    registry: Registry,
    router: Router,
    gold: Example | None = None,
) -> Iterator[Comparison]:
    """compare() one step at a time: a Comparison with every model pending, then one after each model,
    so that a page can show each model's result as it comes. Unknown languages and model keys are
    refused (InputError) before the first step."""
    check_language(language)
    for key in model_keys or ():
        check_model(key)
    text, notice = prepare_text(text)
    asks_auto = language == AUTO or model_keys is None or AUTO in model_keys
    route = router.route(text) if asks_auto else None
    if language == AUTO:
        language = route.guess.language
    keys = list(model_keys) if model_keys is not None else [*default_models(language), AUTO]
    gold = gold if gold is not None and gold.text == text else None
    # Loaded models first, so that their columns fill at once while another loads for its first use;
    # auto last, as it reuses their answers.
    order = sorted((k for k in keys if k != AUTO), key=lambda k: not registry.is_loaded(k))
    order += [AUTO] if AUTO in keys else []
    done: dict[str, ModelResult] = {}

    def step() -> Comparison:
        results = [done[key] for key in keys if key in done]
        return Comparison(text, language, notice, results, gold, route, tuple(k for k in order if k not in done))

    yield step()
    for key in order:
        done[key] = (
            answer_auto(text, route, done, registry)
            if key == AUTO
            else run_model(registry.spec(key), text, language, registry)
        )
        yield step()


def compare(
    text: str | None,
    language: str,
    model_keys: Sequence[str] | None,
    registry: Registry,
    router: Router,
    gold: Example | None = None,
) -> Comparison:
    """Tag `text` with each model (None: the language's default models and auto); a model that fails
    to load gets an error, the others still run. Unknown languages and model keys are refused
    (InputError) before any work."""
    for comparison in comparing(text, language, model_keys, registry, router, gold):  # noqa: B007 - the last one
        pass
    return comparison


def run_model(spec: ModelSpec, text: str, language: str, registry: Registry) -> ModelResult:
    result = ModelResult(spec.key, spec, spec.trained_on(language))
    start = time.perf_counter()
    try:
        tagger = registry.get(spec.key)
    except ModelLoadError as err:
        result.error = str(err)
        return result
    tagged = time.perf_counter()
    result.load_seconds = tagged - start if tagged - start > 0.05 else 0.0  # a cache hit is not a load
    result.entities = tagger(text)["entities"]
    result.seconds = time.perf_counter() - tagged
    return result


def answer_auto(text: str, route: Route, done: dict[str, ModelResult], registry: Registry) -> ModelResult:
    """The first model of the route's ranking that answers; its answer is reused when it already ran.
    Trained or zero-shot refers to the detected language."""
    detected = route.guess.language
    errors = []
    for key in route.ranking:
        result = done.get(key) or run_model(registry.spec(key), text, detected, registry)
        if result.error is None:
            return dataclasses.replace(result, key=AUTO, trained=result.spec.trained_on(detected))
        errors.append(result.error)
    spec = registry.spec(route.model)
    return ModelResult(AUTO, spec, spec.trained_on(detected), error=f"no model could answer; the best: {errors[0]}")


def agreement(comparison: Comparison) -> tuple[list[Span], list[tuple[Span, list[str]]]]:
    """Spans every model that ran found, and the other spans with the models that found them."""
    runs = comparison.ok
    found: dict[Span, list[str]] = {}
    for result in runs:
        for entity in result.entities:
            found.setdefault(span(entity), []).append(result.key)
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
        name = result_name(result)
        if result.error:
            rows.append([name, "", "", "", "model cannot be served"])
            continue
        matches, missed = gold_check(result.entities, comparison.gold)
        for entity, match in zip(result.entities, matches, strict=True):
            verdict = "" if match is None else ("✓ gold" if match else "✗ not in gold")
            rows.append([name, entity["word"], entity["entity_group"], f"{entity['score']:.2f}", verdict])
        for start, end, entity_type in missed:
            rows.append([name, text[start:end], entity_type, "", "✗ missed gold"])
    return rows


def result_name(result: ModelResult) -> str:
    """ "de", or "auto → de-fr" for the auto model."""
    return f"{AUTO} → {result.spec.key}" if result.key == AUTO else result.key


def api_payload(comparison: Comparison) -> dict[str, Any]:
    """The JSON the /tag endpoint returns."""
    payload: dict[str, Any] = {
        "text": comparison.text,
        "language": comparison.language,
        "notice": comparison.notice,
        "models": {
            r.key: {
                "model": r.spec.hub_id,
                "trained_on": list(r.spec.languages),
                "zero_shot": not r.trained,
                "entities": r.entities,
                "error": r.error,
            }
            for r in comparison.results
            if r.key != AUTO
        },
    }
    auto = comparison.auto
    if auto is not None and comparison.route is not None:
        payload[AUTO] = {
            "detected_language": comparison.route.guess.language,
            "probability": comparison.route.guess.probability,
            "answered_by": auto.spec.key,
            "model": auto.spec.hub_id,
            "zero_shot": not auto.trained,
            "entities": auto.entities,
            "error": auto.error,
        }
    return payload
