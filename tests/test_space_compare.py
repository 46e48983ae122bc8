"""space.compare and the Space's rendering helpers, with fake taggers (no model, no server)."""

from __future__ import annotations

import gradio as gr
import pytest

import space.registry as registry_module
from space.app import COLOR_MAP, LatestRun, agreement_html, highlight_value, status_html
from space.compare import LONG_TEXT_CHARS, MAX_CHARS, InputError, api_payload, compare, prepare_text, table_rows
from space.examples import Example
from space.registry import ModelLoadError, Registry, UnknownModelError

TEXT = "Jeff Dean works for <Google> in Zürich"
# Spans per fake model: de and all agree on Jeff Dean; only "all" finds Zürich; de-fr calls Google a LOC.
SPANS = {
    "de": [("PER", 0, 9), ("ORG", 20, 28)],
    "all": [("PER", 0, 9), ("ORG", 20, 28), ("LOC", 32, 38)],
    "de-fr": [("PER", 0, 9), ("LOC", 20, 28)],
}
GOLD = Example(TEXT, "test", [{"entity_group": "PER", "word": "Jeff Dean", "start": 0, "end": 9},
                              {"entity_group": "LOC", "word": "Zürich", "start": 32, "end": 38}])


def fake_tagger(key):
    def tag(text):
        entities = [
            {"entity_group": t, "word": text[s:e], "start": s, "end": e, "score": 0.5}
            for t, s, e in SPANS[key]
            if e <= len(text)
        ]
        return {"text": text, "entities": entities}
    return tag


@pytest.fixture
def registry(tmp_path, monkeypatch):
    def load(spec):
        if spec.key not in SPANS:
            raise OSError("no such files")
        return fake_tagger(spec.key)

    monkeypatch.setattr(registry_module, "_load", load)
    return Registry(tmp_path)


def test_empty_text_is_a_clear_input_error(registry):
    for text in ("", "   \n", None):
        with pytest.raises(InputError, match="The text is empty"):
            compare(text, "de", ["de"], registry)


def test_unknown_language_and_model(registry):
    with pytest.raises(InputError, match="unknown language 'xx'"):
        compare(TEXT, "xx", ["de"], registry)
    with pytest.raises(UnknownModelError):
        compare(TEXT, "de", ["de", "bert"], registry)


def test_long_text_notice_and_cap():
    text, notice = prepare_text("word " * (LONG_TEXT_CHARS // 5 + 10))
    assert "Long text" in notice and "nothing was truncated" in notice
    huge = "Wort " * (MAX_CHARS // 5 + 500)
    text, notice = prepare_text(huge)
    assert len(text) <= MAX_CHARS and huge.startswith(text) and not text.endswith("Wor")
    assert f"{len(huge):,} characters; only the first {len(text):,} were tagged" in notice


def test_failed_model_does_not_stop_the_others(registry):
    comparison = compare(TEXT, "fr", ["de", "fr", "all"], registry)
    errors = {r.spec.key: r.error for r in comparison.results}
    assert errors["de"] is None and errors["all"] is None
    assert "model 'fr' could not be loaded" in errors["fr"]
    payload = api_payload(comparison)
    assert payload["models"]["fr"]["entities"] == [] and payload["models"]["de"]["zero_shot"] is True
    assert payload["models"]["all"]["zero_shot"] is False and payload["text"] == TEXT


def test_agreement_and_gold(registry):
    comparison = compare(TEXT, "de", ["de", "de-fr", "all"], registry, gold=GOLD)
    line = agreement_html(comparison)
    assert "All 3 models agree on" in line and "Jeff Dean" in line
    assert "&lt;Google&gt;" in line and "<Google>" not in line  # user text is escaped
    assert "1 of the 1 agreed spans are gold spans" in line
    rows = table_rows(comparison)
    assert ["de", "Jeff Dean", "PER", "0.50", "✓ gold"] in rows
    assert ["de", "<Google>", "ORG", "0.50", "✗ not in gold"] in rows
    assert ["de", "Zürich", "LOC", "", "✗ missed gold"] in rows
    assert not any(r[0] == "all" and r[1] == "Zürich" and "missed" in r[4] for r in rows)


def test_gold_only_for_its_own_text(registry):
    assert compare(TEXT + "!", "de", ["de"], registry, gold=GOLD).gold is None


def test_highlighted_text_postprocess_keeps_text_and_marks_wrong_spans(registry):
    comparison = compare(TEXT, "de", ["de"], registry, gold=GOLD)
    value = highlight_value(comparison.text, comparison.results[0], GOLD)
    tokens = gr.HighlightedText(color_map=COLOR_MAP).postprocess(value).model_dump()
    assert "".join(t["token"] for t in tokens) == TEXT
    assert [(t["token"], t["class_or_confidence"]) for t in tokens if t["class_or_confidence"]] == [
        ("Jeff Dean", "PER"), ("<Google>", "ORG ✗"),
    ]
    assert status_html(comparison.results[0], GOLD).count("gold: 1/2 found, 1 wrong") == 1


def test_status_shows_load_errors_escaped(registry):
    comparison = compare(TEXT, "de", ["en"], registry)
    html = status_html(comparison.results[0], None)
    assert "could not be loaded" in html and "error" in html
    with pytest.raises(ModelLoadError):
        registry.get("en")


def test_only_the_latest_run_of_a_session_may_paint():
    latest = LatestRun(capacity=2)
    first = latest.start("a")
    second = latest.start("a")
    other = latest.start("b")
    assert not latest.is_latest("a", first) and latest.is_latest("a", second) and latest.is_latest("b", other)
    latest.start("c")  # capacity 2: session "a" is forgotten, and a forgotten session's run may paint
    assert latest.is_latest("a", first)
