"""space.tagging: words, windows and B-/I- merging, with hand-made labels, a fake backend and the smoke model."""

from __future__ import annotations

import unicodedata

import numpy as np
import pytest

from core.facts import ID2LABEL, LABEL2ID
from space.backends import load_tagger
from space.tagging import Tagger, Window, ends_sentence, merge_spans, plan_windows, split_words

MIXED = "<b>Angela Merkel</b> besuchte 🙂 Paris, danach القاهرة und Tel Aviv (עברית) — Café\u0301 Zürich."


def words_of(text: str) -> list[str]:
    return [text[s:e] for s, e in split_words(text)]


def assert_word_aligned(text: str, entities: list[dict]) -> None:
    """Every span starts and ends on a word boundary of split_words and its word is the text there."""
    starts = {s for s, _ in split_words(text)}
    ends = {e for _, e in split_words(text)}
    previous_end = -1
    for e in entities:
        assert text[e["start"] : e["end"]] == e["word"]
        assert e["start"] in starts and e["end"] in ends, f"span {e} starts or ends inside a word"
        assert not (e["start"] > 0 and text[e["start"] - 1].isalnum() and text[e["start"]].isalnum())
        assert not (e["end"] < len(text) and text[e["end"] - 1].isalnum() and text[e["end"]].isalnum())
        assert e["start"] >= previous_end, "spans overlap or are out of order"
        previous_end = e["end"]


# --- words ---------------------------------------------------------------------------------------


def test_split_words_follows_panx_tokens():
    assert words_of("Jeff Dean ist bei Google in Kalifornien.") == "Jeff Dean ist bei Google in Kalifornien .".split()
    # Inner hyphens and apostrophes stay in the word, as in PAN-X ("États-Unis", "d'Uruguay").
    assert (
        words_of("Il va aux États-Unis et d'Uruguay, l’Italie.")
        == "Il va aux États-Unis et d'Uruguay , l’Italie .".split()
    )


def test_split_words_keeps_stops_where_panx_does():
    """Initials, ordinals and abbreviations keep their full stop (PAN-X's tokens and its entity spans
    do), a sentence's last stop does not; the possessive written apart is one word, as in PAN-X."""
    assert (
        words_of("J. R. R. Tolkien lebte in den U.S. und in St. Gallen.")
        == "J. R. R. Tolkien lebte in den U.S. und in St. Gallen .".split()
    )
    assert (
        words_of("Ludwig II. von Bayern spielte beim 1. FC Köln, nicht in Zürich.")
        == "Ludwig II. von Bayern spielte beim 1. FC Köln , nicht in Zürich .".split()
    )
    assert (
        words_of("Jack 's Bar in Washington D.C bei Apple Inc.")
        == "Jack 's Bar in Washington D.C bei Apple Inc.".split()
    )
    # A stop after a letter or number that ends the text, or that touches the next word, is punctuation.
    assert words_of("Er nahm Plan B.") == ["Er", "nahm", "Plan", "B", "."]
    assert words_of("im Jahr 2009. Danach") == ["im", "Jahr", "2009", ".", "Danach"]
    # A run of one mark is one word, as PAN-X writes wiki quotes; a run of stops still ends a sentence.
    assert words_of("''Titanic'' kam... Nein!!") == ["''", "Titanic", "''", "kam", "...", "Nein", "!!"]
    assert [w for w in words_of("In den U.S. kam... Nein!! St. Gallen?!") if ends_sentence(w)] == [
        "...",
        "!!",
        "?",
        "!",
    ]


def test_split_words_keeps_html_emoji_rtl_and_combining_marks():
    words = words_of(MIXED)
    assert words[:5] == ["<", "b", ">", "Angela", "Merkel"]
    assert "🙂" in words and "القاهرة" in words and "עברית" in words
    assert "Café\u0301" in words  # a decomposed accent stays in its word
    assert "".join(words) == "".join(MIXED.split())  # nothing but whitespace is dropped


# --- merging -------------------------------------------------------------------------------------


def test_merge_spans_iob():
    text = "Angela Merkel besucht Bank of America in Paris"
    words = split_words(text)
    labels = ["B-PER", "I-PER", "O", "B-ORG", "I-ORG", "I-ORG", "O", "B-LOC"]
    scores = [0.9, 0.7, 1.0, 0.6, 0.6, 0.9, 1.0, 0.5]
    assert merge_spans(text, words, labels, scores) == [
        {"entity_group": "PER", "word": "Angela Merkel", "start": 0, "end": 13, "score": 0.8},
        {"entity_group": "ORG", "word": "Bank of America", "start": 22, "end": 37, "score": 0.7},
        {"entity_group": "LOC", "word": "Paris", "start": 41, "end": 46, "score": 0.5},
    ]


def test_merge_spans_stray_i_and_type_change_start_new_spans():
    text = "a b c d e"
    words = split_words(text)
    spans = merge_spans(text, words, ["I-LOC", "I-LOC", "I-PER", "B-PER", "B-PER"], [1.0] * 5)
    assert [(s["word"], s["entity_group"]) for s in spans] == [("a b", "LOC"), ("c", "PER"), ("d", "PER"), ("e", "PER")]


# --- windows -------------------------------------------------------------------------------------


def owned(windows: list[Window]) -> list[int]:
    return [i for w in windows for i in range(w.own_start, w.own_end)]


def test_plan_windows_packs_whole_sentences():
    lengths = [3] * 10  # two sentences of 5 words, 15 subwords each
    ends = [i in (4, 9) for i in range(10)]
    assert plan_windows(lengths, ends, budget=40) == [Window(0, 10, 0, 10)]
    assert plan_windows(lengths, ends, budget=20) == [Window(0, 5, 0, 5), Window(5, 10, 5, 10)]


@pytest.mark.parametrize("budget,overlap", [(10, 2), (7, 3), (25, 8), (3, 8)])
def test_plan_windows_cuts_long_sentences_with_overlap(budget, overlap):
    lengths = [1, 2, 3, 1, 1, 2, 5, 1, 1, 1, 2, 1, 3, 1, 1, 1, 2, 2, 1, 1] * 3
    ends = [False] * len(lengths)
    windows = plan_windows(lengths, ends, budget, overlap)
    assert owned(windows) == list(range(len(lengths)))  # every word owned exactly once, in order
    for w in windows:
        assert w.start <= w.own_start <= w.own_end <= w.end
        assert sum(lengths[w.start : w.end]) <= budget or w.end - w.start == 1


def test_plan_windows_word_longer_than_budget_gets_its_own_window():
    windows = plan_windows([1, 50, 1], [False, False, True], budget=10, overlap=0)
    assert owned(windows) == [0, 1, 2]


# --- the tagger, with a fake backend whose predictions are known ----------------------------------


class FakeLogits:
    """A LogitsFn labelling each subword from its piece: word-initial pieces (▁...) get `first`, the others `rest`."""

    def __init__(self, tokenizer, first: str, rest: str, max_positions: int):
        vocab = tokenizer.convert_ids_to_tokens(list(range(len(tokenizer))))
        self.initial = np.array([piece.startswith("▁") for piece in vocab])
        self.first, self.rest = LABEL2ID[first], LABEL2ID[rest]
        self.max_positions = max_positions
        self.calls: list[tuple[int, int]] = []

    def __call__(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        self.calls.append(tuple(input_ids.shape))
        assert input_ids.shape[1] <= self.max_positions and input_ids.shape == attention_mask.shape
        label = np.where(self.initial[input_ids], self.first, self.rest)
        return np.eye(len(ID2LABEL), dtype=np.float32)[label] * 5


def fake_tagger(tokenizer, first: str, rest: str, max_positions: int = 258) -> tuple[Tagger, FakeLogits]:
    logits = FakeLogits(tokenizer, first, rest, max_positions)
    return Tagger(tokenizer, logits, ID2LABEL, max_positions), logits


@pytest.fixture(scope="module")
def tokenizer(smoke_run_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(smoke_run_dir)


def test_subword_predictions_never_make_mid_word_spans(tokenizer):
    # Regression for transformers #27876: a model that tags only non-initial subwords as entities
    # makes the pipeline's aggregation start spans inside words; words read at the first subword.
    text = "Schwarzwaldhochstraße bei Baden-Württemberg und Donaudampfschifffahrt"
    assert all(len(tokenizer.tokenize(w)) > 1 for w in text.split() if len(w) > 3)  # the long words really split
    assert fake_tagger(tokenizer, first="O", rest="B-LOC")[0](text) == {"text": text, "entities": []}
    out = fake_tagger(tokenizer, first="B-ORG", rest="O")[0](text)
    assert [e["word"] for e in out["entities"]] == text.split()
    assert_word_aligned(text, out["entities"])


def test_long_text_is_windowed_without_loss_and_offsets_stay_right(tokenizer):
    sentence = "Angela Merkel traf Emmanuel Macron in Straßburg am Rhein. "
    text = "  " + sentence * 60 + MIXED
    tagger, logits = fake_tagger(tokenizer, first="B-PER", rest="O", max_positions=40)
    out = tagger(text)
    assert len(logits.calls) > 1 or logits.calls[0][0] > 1, "expected several windows"
    assert sum(batch for batch, _ in logits.calls) > 10
    # Every word is its own B-PER span: the span count is the word count, the last words included.
    assert [e["word"] for e in out["entities"]] == words_of(text)
    assert_word_aligned(text, out["entities"])


def test_empty_and_whitespace_text(tokenizer):
    tagger, _ = fake_tagger(tokenizer, first="B-PER", rest="O")
    assert tagger("") == {"text": "", "entities": []}
    assert tagger(" \n\t ") == {"text": " \n\t ", "entities": []}


CONTROL = ["\x00", "\x01", "\x07", "\x1b", "\x7f", "\x85", "\u200b", "\u200e", "\ufeff", "\ue000"]


def test_control_and_format_characters_are_never_words():
    for char in CONTROL:
        assert unicodedata.category(char).startswith("C")
        assert split_words(char) == [] and split_words(f" {char}{char} ") == []
        assert words_of(f"Berlin{char} und{char}München") == ["Berlin", "und", "München"]


def test_a_backend_that_tags_everything_never_tags_a_control_character(tokenizer):
    # The worst backend: every word-initial subword is B-PER, every other one I-PER.
    tagger, _ = fake_tagger(tokenizer, first="B-PER", rest="I-PER")
    for char in CONTROL:
        assert tagger(char)["entities"] == [], repr(char)
        text = f"{char}Angela {char} Merkel{char}"
        entities = tagger(text)["entities"]
        assert [e["word"] for e in entities] == ["Angela", "Merkel"], repr(char)


# --- the real smoke model ------------------------------------------------------------------------


@pytest.fixture(scope="module", params=["torch_fp32", "torch_int8", "onnx_fp32"])
def smoke_tagger(smoke_run_dir, request):
    return load_tagger(smoke_run_dir, request.param)


@pytest.mark.parametrize(
    "text",
    [
        "Jeff Dean ist ein Informatiker bei Google in Kalifornien",
        MIXED,
        "<script>alert('x')</script> Berlin &amp; München",
        "Der Donaudampfschifffahrtsgesellschaftskapitän wohnt in Schwarzwaldhochstraße.",
        "\x00",
        "Berlin\x00\x00 München \u200b\x1b[0m Paris",
    ],
)
def test_smoke_model_spans_are_word_aligned(smoke_tagger, text):
    out = smoke_tagger(text)
    assert out["text"] == text
    assert_word_aligned(text, out["entities"])
    assert all(0 < e["score"] <= 1 and e["entity_group"] in ("PER", "ORG", "LOC") for e in out["entities"])
    assert all(any(not unicodedata.category(c).startswith("C") for c in e["word"]) for e in out["entities"])


def test_smoke_model_long_text_across_windows(smoke_tagger):
    text = "Jeff Dean ist ein Informatiker bei Google in Kalifornien . " * 120  # ~1,400 words
    out = smoke_tagger(text)
    assert_word_aligned(text, out["entities"])
    assert out["entities"] and out["entities"][-1]["end"] > len(text) - 60  # the last sentence was tagged too


def test_int8_backend_keeps_the_sensitive_layers_in_float(offline_base):
    """Quantizing the feed-forward output projections cost the de model 1.6 F1 points (see
    space/backends/torch_int8.py); they and the classifier stay float32, the rest goes int8."""
    import torch
    from transformers import AutoConfig, AutoModelForTokenClassification

    from space.backends.torch_int8 import kept_in_float

    config = AutoConfig.from_pretrained(offline_base, num_hidden_layers=2)
    linear = [
        name
        for name, m in AutoModelForTokenClassification.from_config(config).named_modules()
        if isinstance(m, torch.nn.Linear)
    ]
    kept = [name for name in linear if kept_in_float(name)]
    assert kept == ["bert.encoder.layer.0.output.dense", "bert.encoder.layer.1.output.dense", "classifier"]
    assert len(linear) - len(kept) == 2 * 5  # query, key, value, attention output, intermediate per layer
