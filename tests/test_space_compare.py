"""space.compare and the Space's rendering helpers, with fake taggers (no model, no server)."""

from __future__ import annotations

import json
import time

import gradio as gr
import pytest

import space.registry as registry_module
from core import run_dir as rd
from core.cli import InputError
from space.app import LatestRun
from space.compare import (
    LONG_TEXT_CHARS,
    MAX_CHARS,
    REQUEST_LANGUAGES,
    api_payload,
    compare,
    comparing,
    prepare_text,
    table_rows,
)
from space.examples import Example
from space.registry import ModelLoadError, Registry, UnknownModelError
from space.routing import AUTO, LanguageGuess, Route
from space.views import COLOR_MAP, View, agreement_html, card_markdown, highlight_value, status_html

TEXT = "Jeff Dean works for <Google> in Zürich"
# Spans per fake model: de and all agree on Jeff Dean; only "all" finds Zürich; de-fr calls Google a LOC.
SPANS = {
    "de": [("PER", 0, 9), ("ORG", 20, 28)],
    "all": [("PER", 0, 9), ("ORG", 20, 28), ("LOC", 32, 38)],
    "de-fr": [("PER", 0, 9), ("LOC", 20, 28)],
}
GOLD = Example(
    TEXT,
    "test",
    [
        {"entity_group": "PER", "word": "Jeff Dean", "start": 0, "end": 9},
        {"entity_group": "LOC", "word": "Zürich", "start": 32, "end": 38},
    ],
)


def fake_tagger(key, calls):
    def tag(text):
        calls.append(key)
        entities = [
            {"entity_group": t, "word": text[s:e], "start": s, "end": e, "score": 0.5}
            for t, s, e in SPANS[key]
            if e <= len(text)
        ]
        return {"text": text, "entities": entities}

    return tag


class FakeRouter:
    """Detects German with p = 0.9 and ranks the models as told."""

    def __init__(self, *ranking):
        self.ranking = ranking

    def route(self, text):
        return Route(LanguageGuess("de", 0.9), self.ranking)


@pytest.fixture
def calls():
    return []


@pytest.fixture
def registry(tmp_path, monkeypatch, calls):
    """de, de-fr and all are bundled (fake taggers that record their calls); fr, it, en are not (offline)."""
    for key in SPANS:
        (tmp_path / key).mkdir()
        (tmp_path / key / rd.ADAPTER_CONFIG).write_text(json.dumps({"base_model_name_or_path": "base"}))
    monkeypatch.setattr(registry_module, "load_tagger", lambda folder, backend: fake_tagger(folder.name, calls))
    return Registry(tmp_path)


ROUTER = FakeRouter("all", "de", "de-fr", "fr", "it", "en")


def test_empty_text_is_a_clear_input_error(registry):
    for text in ("", "   \n", None):
        with pytest.raises(InputError, match="The text is empty"):
            compare(text, "de", ["de"], registry, ROUTER)
    with pytest.raises(InputError, match="The text must be a string, not int"):
        compare(12, "de", ["de"], registry, ROUTER)


def test_unknown_language_and_model_are_refused_before_any_work(registry, calls):
    with pytest.raises(InputError, match=f"unknown language 'xx'; valid languages: {', '.join(REQUEST_LANGUAGES)}$"):
        compare(TEXT, "xx", ["de"], registry, ROUTER)
    with pytest.raises(
        UnknownModelError, match="unknown model 'bert'; valid models: de, de-fr, fr, it, en, all, auto$"
    ):
        compare(TEXT, "de", ["de", "bert"], registry, ROUTER)
    assert calls == []


def test_long_text_notice_and_cap():
    text, notice = prepare_text("word " * (LONG_TEXT_CHARS // 5 + 10))
    assert "Long text" in notice and "nothing was truncated" in notice
    huge = "Wort " * (MAX_CHARS // 5 + 500)
    text, notice = prepare_text(huge)
    assert len(text) <= MAX_CHARS and huge.startswith(text) and not text.endswith("Wor")
    assert f"{len(huge):,} characters; only the first {len(text):,} were tagged" in notice


@pytest.mark.parametrize("huge", ["x" * 2**20, "Wort " * 20_000, ". " * 20_000, "\x00" * 2**20])
def test_huge_texts_are_cut_in_bounded_time(huge):
    started = time.perf_counter()
    text, notice = prepare_text(huge)
    assert time.perf_counter() - started < 1.0
    assert len(text) <= MAX_CHARS and huge.startswith(text) and f"{len(huge):,} characters" in notice


def test_failed_model_does_not_stop_the_others(registry):
    comparison = compare(TEXT, "fr", ["de", "fr", "all"], registry, ROUTER)
    errors = {r.key: r.error for r in comparison.results}
    assert errors["de"] is None and errors["all"] is None
    assert errors["fr"].startswith("model 'fr' (from the Hub, ") and "the Hub is off" in errors["fr"]
    payload = api_payload(comparison)
    assert payload["models"]["fr"]["entities"] == [] and payload["models"]["de"]["zero_shot"] is True
    assert payload["models"]["all"]["zero_shot"] is False and payload["text"] == TEXT
    assert AUTO not in payload  # not asked for


def test_auto_reuses_the_answer_of_a_model_that_ran(registry, calls):
    comparison = compare(TEXT, "fr", ["de", "all", AUTO], registry, ROUTER)
    assert calls == ["de", "all"]  # auto routed to "all", which had run already
    auto = comparison.auto
    assert auto.spec.key == "all" and auto.entities == comparison.results[1].entities
    payload = api_payload(comparison)
    assert payload[AUTO] == {
        "detected_language": "de",
        "probability": 0.9,
        "answered_by": "all",
        "model": auto.spec.hub_id,
        "zero_shot": False,
        "entities": payload["models"]["all"]["entities"],
        "error": None,
    }
    assert list(payload["models"]) == ["de", "all"]


def test_auto_hands_over_when_the_best_model_fails(registry, calls):
    comparison = compare(TEXT, "de", [AUTO], registry, FakeRouter("fr", "it", "de-fr", "de"))
    assert comparison.auto.spec.key == "de-fr" and calls == ["de-fr"]
    failing = compare(TEXT, "de", [AUTO], registry, FakeRouter("fr", "it"))
    assert failing.auto.spec.key == "fr" and failing.auto.error.startswith(
        "no model could answer; the best: model 'fr'"
    )


def test_auto_is_trained_or_zero_shot_on_the_detected_language(registry):
    comparison = compare(TEXT, "fr", ["de", AUTO], registry, FakeRouter("de"))  # German detected
    payload = api_payload(comparison)
    assert payload["models"]["de"]["zero_shot"] is True and payload[AUTO]["zero_shot"] is False


def test_language_auto_uses_the_detected_languages_defaults(registry):
    comparison = compare(TEXT, AUTO, None, registry, ROUTER)
    assert comparison.language == "de" and [r.key for r in comparison.results] == ["de", "all", AUTO]
    assert api_payload(comparison)["language"] == "de"


def test_agreement_and_gold(registry):
    comparison = compare(TEXT, "de", ["de", "de-fr", "all", AUTO], registry, ROUTER, gold=GOLD)
    line = agreement_html(comparison)
    assert "All 3 models agree on" in line and "Jeff Dean" in line  # auto repeats "all": not counted
    assert "&lt;Google&gt;" in line and "<Google>" not in line  # user text is escaped
    assert "1 of the 1 agreed spans are gold spans" in line
    rows = table_rows(comparison)
    assert ["de", "Jeff Dean", "PER", "0.50", "✓ gold"] in rows
    assert ["de", "<Google>", "ORG", "0.50", "✗ not in gold"] in rows
    assert ["de", "Zürich", "LOC", "", "✗ missed gold"] in rows
    assert ["auto → all", "Zürich", "LOC", "0.50", "✓ gold"] in rows
    assert not any(r[0] == "all" and r[1] == "Zürich" and "missed" in r[4] for r in rows)


def test_gold_only_for_its_own_text(registry):
    assert compare(TEXT + "!", "de", ["de"], registry, ROUTER, gold=GOLD).gold is None


def test_highlighted_text_postprocess_keeps_text_and_marks_wrong_spans(registry):
    comparison = compare(TEXT, "de", ["de"], registry, ROUTER, gold=GOLD)
    value = highlight_value(comparison.text, comparison.results[0], GOLD)
    tokens = gr.HighlightedText(color_map=COLOR_MAP).postprocess(value).model_dump()
    assert "".join(t["token"] for t in tokens) == TEXT
    assert [(t["token"], t["class_or_confidence"]) for t in tokens if t["class_or_confidence"]] == [
        ("Jeff Dean", "PER"),
        ("<Google>", "ORG ✗"),
    ]
    assert status_html(comparison.results[0], GOLD).count("gold: 1/2 found, 1 wrong") == 1


def test_status_shows_load_errors_escaped(registry):
    comparison = compare(TEXT, "de", ["en"], registry, ROUTER)
    html = status_html(comparison.results[0], None)
    assert "cannot be served" in html and "error" in html
    with pytest.raises(ModelLoadError):
        registry.get("en")


def test_every_html_output_escapes_the_text(registry):
    """The text, the spans and the notice reach the page as text, never as markup."""
    text = "<img src=x onerror=alert(1)> Jeff <b>Dean</b> & Co " + "x " * MAX_CHARS
    with gr.Blocks():
        view = View.build(registry, "de", ["de", "all", AUTO])
    updates = view.show(compare(text, "de", ["de", "all", AUTO], registry, ROUTER))
    html_outputs = [view.notice, view.agreement, *view.statuses.values()]
    for component in html_outputs:
        value = updates[component]
        shown = value.value if isinstance(value, gr.HTML) else value
        assert "<img" not in shown and "<b>Dean" not in shown, shown
    assert "&lt;img src=" in updates[view.agreement]  # the fake "PER" span: the first 9 characters
    table = updates[view.table]
    assert "<img src=" in set(table["text"])  # a DataFrame of str (datatype "str"): shown as text


def test_auto_column_says_what_was_detected_and_who_answered(registry):
    with gr.Blocks():
        view = View.build(registry, "de", [AUTO])
    updates = view.show(compare(TEXT, "de", [AUTO], registry, ROUTER))
    assert updates[view.highlights[AUTO]].label == "auto → all · German detected (p = 0.90)"
    assert "answered by all" in updates[view.statuses[AUTO]]


def test_a_comparison_comes_one_model_at_a_time_loaded_models_first(registry, calls):
    registry.get("all")  # loaded before the request; de and de-fr load on their first use
    steps = list(comparing(TEXT, "de", ["de", "de-fr", "all", AUTO], registry, ROUTER, gold=GOLD))
    assert [step.pending for step in steps] == [
        ("all", "de", "de-fr", AUTO),
        ("de", "de-fr", AUTO),
        ("de-fr", AUTO),
        (AUTO,),
        (),
    ]
    assert [[r.key for r in step.results] for step in steps][-2:] == [
        ["de", "de-fr", "all"],
        ["de", "de-fr", "all", AUTO],
    ]
    whole = compare(TEXT, "de", ["de", "de-fr", "all", AUTO], registry, ROUTER, gold=GOLD)
    assert [(r.key, r.entities) for r in steps[-1].results] == [(r.key, r.entities) for r in whole.results]
    assert calls[:3] == ["all", "de", "de-fr"]  # auto reused all's answer


def test_a_pending_column_says_what_its_model_does_and_the_rest_waits_for_the_last_step(registry):
    with gr.Blocks():
        view = View.build(registry, "de", ["de", "all", AUTO])
    first, *_, last = comparing(TEXT, "de", ["de", "all", AUTO], registry, ROUTER, gold=GOLD)
    updates = view.show(first, loading={"de", "all"})
    assert "loading the model" in updates[view.statuses["de"]] and "pending" in updates[view.statuses["de"]]
    assert "waiting" in updates[view.statuses["all"]] and "waiting" in updates[view.statuses[AUTO]]
    assert view.highlights["de"] not in updates  # the spans of the run before stay until the new ones come
    assert view.agreement not in updates and view.table not in updates
    assert updates[view.gold_column].visible and updates[view.columns["de"]].visible
    assert not updates[view.columns["fr"]].visible
    updates = view.show(last)
    assert "2 entities" in updates[view.statuses["de"]] and "All 2 models agree on" in updates[view.agreement]
    assert len(updates[view.table]) > 0


def test_card_plot_links_point_at_served_files(tmp_path):
    plot = tmp_path / "f1_matrix.png"
    plot.write_bytes(b"png")
    card = "# Card\n![F1 matrix](plots/f1_matrix.png)\n![Curve](plots/fr_learning_curve.png)\n![Logo](https://x.org/l.png)\n"
    shown = card_markdown(card, {"f1_matrix.png": plot})
    assert f"![F1 matrix](gradio_api/file={plot.resolve()})" in shown
    assert "*Curve (plot not available here)*" in shown and "plots/" not in shown
    assert "![Logo](https://x.org/l.png)" in shown


def test_only_the_latest_run_of_a_session_may_paint():
    latest = LatestRun(capacity=2)
    first = latest.start("a")
    second = latest.start("a")
    other = latest.start("b")
    assert not latest.is_latest("a", first) and latest.is_latest("a", second) and latest.is_latest("b", other)
    latest.start("c")  # capacity 2: session "a" is forgotten, and a forgotten session's run may paint
    assert latest.is_latest("a", first)
