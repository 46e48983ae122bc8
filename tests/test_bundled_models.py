"""The bundled models of the Space: one per experiment, within budget, served by the Space's registry
offline, each with its card."""

import json

import pytest
from huggingface_hub import ModelCard

from core import results as res
from core import run_dir as rd
from core.facts import (
    BUNDLED_MODELS_DIR,
    EXAMPLE_SENTENCES,
    EXPERIMENTS,
    LANGUAGES,
    RESULTS_DIR,
    dataset_config,
)
from space.registry import Registry

BUDGET_BYTES = 60 * 2**20  # all bundled model files together


@pytest.fixture(scope="module")
def registry():
    return Registry(BUNDLED_MODELS_DIR)


def test_bundle_is_complete_and_within_budget(registry):
    assert [key for key, spec in registry.specs.items() if spec.bundled] == list(EXPERIMENTS), (
        "run python -m workflow.study to bundle"
    )
    for key in EXPERIMENTS:
        folder = BUNDLED_MODELS_DIR / key
        assert all((folder / name).is_file() for name in (*rd.model_files(folder), rd.CARD)), key
    total = sum(p.stat().st_size for key in EXPERIMENTS for p in (BUNDLED_MODELS_DIR / key).rglob("*") if p.is_file())
    assert total <= BUDGET_BYTES, f"bundled models take {total / 2**20:.1f} MiB"


@pytest.mark.parametrize("experiment", list(EXPERIMENTS))
def test_bundled_card_re_renders_from_the_bundled_logs(experiment):
    """Every bundled folder is a finished run directory (model, logs without machine paths, card): a clone
    re-renders the card that is there, number for number, without the machine that trained it."""
    from cards import render_card
    from core.facts import RESULTS_DIR

    folder = BUNDLED_MODELS_DIR / experiment
    assert rd.is_finished(folder), "run python -m workflow.study --only bundle"
    assert render_card(folder, results_dir=RESULTS_DIR) == (folder / rd.CARD).read_text(encoding="utf-8"), (
        "the bundled card is stale: python -m workflow.study --only bundle"
    )


def test_no_bundled_model_scores_below_the_quality_floor():
    """A retrained model keeps every carved-test F1 at least at the lower end of the bootstrap interval
    the model it replaces had (results/quality_floor.json)."""
    floor = json.loads((RESULTS_DIR / res.QUALITY_FLOOR_JSON).read_text(encoding="utf-8"))["models"]
    assert set(floor) == set(EXPERIMENTS)
    below = []
    for experiment, languages in floor.items():
        scores = rd.EvalResults.read(BUNDLED_MODELS_DIR / experiment).languages
        assert set(scores) == set(languages), experiment
        below += [
            f"{experiment} on {lang}: {scores[lang].f1:.4f} < {was['f1_ci95'][0]} (was {was['f1']})"
            for lang, was in languages.items()
            if scores[lang].f1 < was["f1_ci95"][0]
        ]
    assert not below, below


@pytest.mark.parametrize("experiment", list(EXPERIMENTS))
def test_bundled_model_tags_the_books_sentence(registry, experiment):
    sentence = EXAMPLE_SENTENCES[LANGUAGES[0]]
    out = registry.get(experiment)(sentence)
    groups = {e["entity_group"] for e in out["entities"]}
    assert groups and groups <= {"PER", "ORG", "LOC"}
    card = ModelCard.load(BUNDLED_MODELS_DIR / experiment / rd.CARD)
    assert {r.dataset_config for r in card.data.eval_results} == {dataset_config(lang) for lang in LANGUAGES}


def test_the_pipeline_check_measured_the_bundled_weights():
    """results/pipeline_vs_space.json (whose numbers the cards quote) is about these very models."""
    import json

    from core import results as res
    from core.facts import RESULTS_DIR

    report = json.loads((RESULTS_DIR / res.PIPELINE_CHECK_JSON).read_text(encoding="utf-8"))
    assert {key: report["models"][key]["weights"] for key in EXPERIMENTS} == {
        key: rd.weights_checksum(BUNDLED_MODELS_DIR / key) for key in EXPERIMENTS
    }, "python -m workflow.study --only pipeline-check bundle"


def test_plain_pipeline_keeps_words_whole_on_pan_x(data_dir):
    """aggregation_strategy="simple" on raw PAN-X text: a span cut between two letters ("Jeff De",
    "Zür") is what labelling every subword prevents. 100 German validation sentences."""
    from transformers import pipeline

    from workflow.pipeline_check import cuts_letters, validation_sentences

    ner = pipeline("token-classification", model=str(BUNDLED_MODELS_DIR / "de"), aggregation_strategy="simple")
    texts = [" ".join(tokens) for tokens, _ in validation_sentences(data_dir, 100)["de"]]
    spans = [(text, e["start"], e["end"]) for text, entities in zip(texts, ner(texts)) for e in entities]
    broken = [text[start:end] for text, start, end in spans if cuts_letters(text, start, end)]
    # Measured: 4 of 132 (3%; results/pipeline_vs_space.json has all six models). Trained with the
    # continuation subwords ignored (-100), as before, far more words came out broken.
    assert len(spans) > 100 and len(broken) <= 0.05 * len(spans), broken


def test_plain_pipeline_scores_like_the_space_on_pan_x(data_dir):
    """On 200 German validation sentences, with the de model, the plain pipeline scores no more than 0.01 of
    entity F1 below the Space (the issue's bar). Measured: 0.8806 against the Space's 0.8598, since the model
    also learnt from running text (before: 0.8396 against 0.8358)."""
    from workflow.pipeline_check import check_model, validation_sentences

    report = check_model(BUNDLED_MODELS_DIR / "de", {"de": validation_sentences(data_dir, 200)["de"]})
    assert report["sentences"] == report["by_language"]["de"]["sentences"] == 200
    assert report["pipeline_spans"] > 200 and report["space_f1"] > 0.8
    assert report["pipeline_f1"] >= report["space_f1"] - 0.01, report
    floors = report["by_min_score"]  # a higher floor keeps fewer spans and fewer broken ones
    kept = [floors[f]["pipeline_spans"] for f in floors]
    broken = [floors[f]["spans_inside_words"] for f in floors]
    assert kept == sorted(kept, reverse=True) and broken == sorted(broken, reverse=True)
    assert kept[0] <= report["pipeline_spans"] and broken[0] <= report["spans_inside_words"]


def test_the_score_floor_is_chosen_on_sentences_the_pipeline_check_does_not_report(data_dir):
    """`--skip N` reads the validation sentences after the first N (the floor's choice, --skip 250), and
    one that leaves none is refused instead of writing an empty report."""
    from core.cli import InputError
    from workflow.pipeline_check import check_models, main, validation_sentences

    first, after = validation_sentences(data_dir, 8), validation_sentences(data_dir, 5, skip=3)
    assert all(after[lang] == first[lang][3:8] for lang in first)
    with pytest.raises(InputError, match="no validation sentences are left after skipping the first 100000"):
        check_models({}, data_dir, 5, skip=100_000)
    with pytest.raises(SystemExit):
        main(["--skip", "-1"])


def test_the_suggested_score_floor_is_the_best_one_on_its_selection_sentences():
    """core.facts.SUGGESTED_MIN_SCORE is what results/pipeline_min_score.json (validation sentences 250-499,
    which the reported check does not read) says: the floor with the highest mean entity F1 over the six."""
    import json
    import statistics

    from core import results as res
    from core.facts import RESULTS_DIR, SUGGESTED_MIN_SCORE

    selection = json.loads((RESULTS_DIR / res.PIPELINE_MIN_SCORE_JSON).read_text(encoding="utf-8"))
    assert selection["skipped_sentences_per_language"] == selection["sentences_per_language"] == 250
    assert {key: selection["models"][key]["weights"] for key in EXPERIMENTS} == {
        key: rd.weights_checksum(BUNDLED_MODELS_DIR / key) for key in EXPERIMENTS
    }
    mean_f1 = {
        float(floor): statistics.mean(m["by_min_score"][floor]["pipeline_f1"] for m in selection["models"].values())
        for floor in selection["by_min_score"]
    }
    assert max(mean_f1, key=mean_f1.get) == SUGGESTED_MIN_SCORE == selection["suggested_min_score"], mean_f1


def test_the_pipeline_check_counts_what_each_score_floor_keeps():
    """Per floor on a span's score: the spans kept, how many of them are right (for F1) and inside a word."""
    from workflow.pipeline_check import MIN_SCORES, _Tally

    tally = _Tally()
    gold = {(0, 9, "PER"), (30, 36, "LOC")}
    tally.add_scored(
        {(0, 9, "PER"): (0.99, False), (20, 23, "ORG"): (0.55, True), (30, 36, "LOC"): (0.75, False)}, gold
    )
    tally.counts["pipeline"][1] += len(gold)
    floors = tally.summary()["by_min_score"]
    assert list(floors) == [f"{floor:.1f}" for floor in MIN_SCORES]
    assert floors["0.5"] == {"pipeline_spans": 3, "spans_inside_words": 1, "pipeline_f1": 0.8}
    assert floors["0.6"] == floors["0.7"] == {"pipeline_spans": 2, "spans_inside_words": 0, "pipeline_f1": 1.0}
    assert floors["0.8"] == floors["0.9"] == {"pipeline_spans": 1, "spans_inside_words": 0, "pipeline_f1": 0.6667}
    twice = _Tally.total([tally, tally]).summary()["by_min_score"]
    assert twice["0.5"] == {"pipeline_spans": 6, "spans_inside_words": 2, "pipeline_f1": 0.8}


def test_cuts_letters():
    from workflow.pipeline_check import cuts_letters

    text = "Jeff Dean in der Broadway-Besetzung"
    assert cuts_letters(text, 0, 7)  # "Jeff De"
    assert not cuts_letters(text, 0, 9)  # "Jeff Dean"
    assert not cuts_letters(text, 17, 25)  # "Broadway", before its hyphen
    assert cuts_letters(text, 17, 23)  # "Broadw"
