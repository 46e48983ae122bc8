"""space.routing: language detection restricted to the project's languages, and the ranking of models."""

from __future__ import annotations

import json

import pytest

from core.facts import EXAMPLE_SENTENCES, EXPERIMENTS, LANGUAGES
from core.results import F1_MATRIX_JSON
from space.examples import load_examples
from space.routing import LanguageGuess, Router, detect_language, rank_models


@pytest.mark.parametrize("lang", LANGUAGES)
def test_detects_each_language_of_the_examples(lang):
    for example in load_examples()[lang]:
        guess = detect_language(example.text)
        assert guess.language == lang, example.text
        assert 0.5 < guess.probability <= 1.0


def test_detection_never_leaves_the_project_languages():
    # Spanish, Dutch, Japanese, digits, nothing: always one of LANGUAGES, with a probability over them only.
    for text in (
        "El perro come en la casa de mi madre",
        "De hond eet in het huis",
        "東京都に住んでいます",
        "1234",
        "",
        "\x00",
    ):
        guess = detect_language(text)
        assert guess.language in LANGUAGES and 0 < guess.probability <= 1
    assert detect_language("") == LanguageGuess(detect_language("").language, round(1 / len(LANGUAGES), 4))


MATRIX = {  # the shape of results/f1_matrix.json
    "de": {"de": 0.74, "fr": 0.47, "it": 0.42, "en": 0.30},
    "de-fr": {"de": 0.75, "fr": 0.72, "it": 0.58, "en": 0.41},
    "fr": {"de": 0.35, "fr": 0.69, "it": 0.58, "en": 0.34},
    "it": {"de": 0.34, "fr": 0.48, "it": 0.67, "en": 0.28},
    "en": {"de": 0.34, "fr": 0.39, "it": 0.50, "en": 0.40},
    "all": {"de": 0.749, "fr": 0.71, "it": 0.70, "en": 0.58},
}


def test_rank_by_the_f1_matrix():
    ranking = rank_models(MATRIX)
    assert {lang: r[0] for lang, r in ranking.items()} == {"de": "de-fr", "fr": "de-fr", "it": "all", "en": "all"}
    assert ranking["fr"] == ("de-fr", "all", "fr", "it", "de", "en")
    assert all(sorted(r) == sorted(EXPERIMENTS) for r in ranking.values())


def test_without_a_matrix_the_model_trained_on_the_language_answers():
    ranking = rank_models({})
    assert {lang: r[0] for lang, r in ranking.items()} == {lang: lang for lang in LANGUAGES}
    # Then the models that saw the language among others, then the rest (in EXPERIMENTS order).
    assert ranking["fr"] == ("fr", "de-fr", "all", "de", "it", "en")


def test_a_partial_matrix_ranks_unscored_models_last():
    ranking = rank_models({"de": {"de": 0.7, "fr": 0.4}, "unknown-model": {"fr": 0.99}})
    assert ranking["fr"][:2] == ("de", "fr")  # the only scored one first, then the fallback order
    assert ranking["it"][0] == "it"


def test_router_reads_the_results_folder(tmp_path):
    assert Router(tmp_path).ranking == rank_models({})  # no matrix yet
    (tmp_path / F1_MATRIX_JSON).write_text(json.dumps(MATRIX))
    route = Router(tmp_path).route(EXAMPLE_SENTENCES["fr"])
    assert route.guess.language == "fr" and route.model == "de-fr" and route.ranking == rank_models(MATRIX)["fr"]
