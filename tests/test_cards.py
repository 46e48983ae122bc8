"""Model cards rendered from a run directory (cards/): metadata, numbers as displayed, layout, errors."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from huggingface_hub import ModelCard

from card_fixtures import (
    F1_MATRIX,
    PLOT_FILES,
    SCORES,
    assert_card_matches_run,
    assert_clean,
    section,
    table_rows,
    write_fake_results_dir,
    write_fake_run_dir,
)
from cards import CardError, card_assets, render_card, write_card
from cards.context import epoch_rows
from cards.inputs import resolve_base_model
from cards.render import TEMPLATES_DIR, _environment, main
from training.facts import (
    BOOK_F1,
    EXAMPLE_SENTENCES,
    HUB_NAMESPACE,
    LANGUAGE_NAMES,
    LANGUAGES,
    REPO_ROOT,
    SWISS_FRACTIONS,
)
from training.run_dir import (
    CARD,
    DATA_SUMMARY,
    EVAL_RESULTS,
    HYPERPARAMETERS,
    PRODUCED_BY,
    RUN_INFO,
    TRAINER_STATE,
    RunDirError,
    read_json,
    write_json,
)

GOLDEN = Path(__file__).parent / "golden" / "card_de.md"
REPO_ID = "panx-ner/xlm-roberta-base-finetuned-panx-de"


@pytest.fixture(scope="module")
def de_run(tmp_path_factory) -> Path:
    return write_fake_run_dir(tmp_path_factory.mktemp("run") / "xlm-roberta-base-finetuned-panx-de")


@pytest.fixture(scope="module")
def full_results(tmp_path_factory) -> Path:
    return write_fake_results_dir(tmp_path_factory.mktemp("results"))


@pytest.fixture(scope="module")
def no_results(tmp_path_factory) -> Path:
    # An explicit empty results dir: the repo's own results/ may gain files while the tests run.
    return write_fake_results_dir(tmp_path_factory.mktemp("empty-results"), f1_matrix=False, plots=False)


@pytest.fixture(scope="module")
def de_card(de_run, full_results) -> str:
    return render_card(de_run, results_dir=full_results)


def copy_run(run_dir: Path, dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    for path in run_dir.glob("*.json"):
        (dest / path.name).write_bytes(path.read_bytes())
    return dest


# ---- What the card says matches the run directory ----

def test_card_matches_run_directory(de_card, de_run):
    assert_card_matches_run(de_card, de_run)


@pytest.mark.parametrize("experiment", ["de-fr", "all"])
def test_multilingual_runs(tmp_path, no_results, experiment):
    run_dir = write_fake_run_dir(tmp_path / experiment, experiment)
    text = render_card(run_dir, results_dir=no_results)
    assert_card_matches_run(text, run_dir)
    card = ModelCard(text)
    train_languages = read_json(run_dir, RUN_INFO)["train_languages"]
    assert card.data.language == train_languages
    # Zero-shot wording only for languages the run did not train on.
    assert ("zero-shot" in text) == (set(train_languages) != set(LANGUAGES))


def test_metadata(de_card):
    data = ModelCard(de_card).data
    assert data.license == "cc-by-sa-4.0"
    assert data.library_name == "transformers"
    assert data.pipeline_tag == "token-classification"
    assert data.base_model == "xlm-roberta-base"
    assert data.datasets == ["google/xtreme"]
    assert data.metrics == ["f1", "precision", "recall"]
    assert {"token-classification", "ner", "panx", "xtreme"} <= set(data.tags)
    # Widget: one sentence per language, the trained language first.
    assert [item["text"] for item in data.widget] == [EXAMPLE_SENTENCES[lang] for lang in ("de", "fr", "it", "en")]
    # The carved test split is named in each result's dataset name, while the split stays "test".
    for result in data.eval_results:
        assert result.dataset_split == "test"
        assert result.dataset_name == f"{result.dataset_config} (test split carved from validation)"


def test_uncarved_test_split_is_not_called_carved(tmp_path, no_results, de_run):
    run_dir = copy_run(de_run, tmp_path / "run")
    summary = read_json(run_dir, DATA_SUMMARY)
    write_json(run_dir / DATA_SUMMARY, {**summary, "test_carved_from_validation": False})
    text = render_card(run_dir, results_dir=no_results)
    assert "carved" not in text
    assert all(r.dataset_name == r.dataset_config for r in ModelCard(text).data.eval_results)


def test_body_facts(de_card, de_run):
    # Usage snippet with the default repo id (HUB_NAMESPACE/model_name).
    assert f'pipeline("token-classification", model="{HUB_NAMESPACE}/xlm-roberta-base-finetuned-panx-de", aggregation_strategy="simple")' in de_card
    # Data: split counts, Swiss fraction, carved test, examples from data_summary.
    summary = read_json(de_run, DATA_SUMMARY)
    data = section(de_card, "## Training and evaluation data")
    rows = table_rows(data)
    for lang, splits in summary["splits"].items():
        for split, counts in splits.items():
            want = [LANGUAGE_NAMES[lang], split, f"{counts['rows']:,}"] + [f"{counts['entities'][e]:,}" for e in ("PER", "ORG", "LOC")]
            assert want in rows
    assert f"- German: {SWISS_FRACTIONS['de']:.3f}" in data
    assert "The test split was carved from validation" in data and "seed 42" in data
    labels = {row[0]: row for row in table_rows(section(de_card, "### Labels"))}
    assert list(labels) == ["`O`", "`B-PER`", "`I-PER`", "`B-ORG`", "`I-ORG`", "`B-LOC`", "`I-LOC`"]
    assert labels["`B-PER`"][1] == "1"
    assert labels["`B-LOC`"][3] == "`Danziger Bucht`, `Pommern`, `Kalifornien`"
    # Book figures beside this model's.
    evaluation = {row[0]: row for row in table_rows(section(de_card, "## Evaluation results"))}
    assert evaluation["French"][6] == f"{BOOK_F1['de']['fr']:.3f}"
    assert evaluation["French"][1] == "no (zero-shot)"
    # Framework versions from run_info.
    versions = section(de_card, "## Framework versions")
    for package, version in read_json(de_run, RUN_INFO)["versions"].items():
        assert f"- {package} {version}" in versions
    for key in ("@inproceedings{pan-etal-2017-cross", "@inproceedings{rahimi-etal-2019-massively", "@inproceedings{hu-etal-2020-xtreme"):
        assert key in de_card


def test_local_base_model_is_named_by_folder(tmp_path, no_results):
    run_dir = write_fake_run_dir(tmp_path / "run", "de", base_model=str(tmp_path / "pretrain" / "panx-xlmr-mini"))
    text = render_card(run_dir, results_dir=no_results)
    assert ModelCard(text).data.base_model == "panx-ner/panx-xlmr-mini"  # published beside the models
    assert "panx-ner's offline base" in text
    assert str(tmp_path) not in text  # no local paths on the Hub
    assert_card_matches_run(text, run_dir)


@pytest.mark.parametrize(
    "given, name, is_hub_id, is_local",
    [
        ("xlm-roberta-base", "xlm-roberta-base", True, False),
        ("FacebookAI/xlm-roberta-base", "FacebookAI/xlm-roberta-base", True, False),
        ("/srv/runs/panx-xlmr-mini", "panx-ner/panx-xlmr-mini", True, True),
        ("runs/pretrain/panx-xlmr-mini/", "panx-ner/panx-xlmr-mini", True, True),
        ("smoke (random, built on the fly)", "smoke (random, built on the fly)", False, False),
    ],
)
def test_resolve_base_model(given, name, is_hub_id, is_local):
    base = resolve_base_model(given)
    assert (base.name, base.is_hub_id, base.is_local) == (name, is_hub_id, is_local)


def test_base_without_checkpoint_has_no_base_model_key(tmp_path, no_results):
    # The smoke preset trains a random encoder; its run_info describes it instead of naming a model.
    run_dir = write_fake_run_dir(tmp_path / "run", "de", base_model="smoke (random, built on the fly)")
    text = render_card(run_dir, results_dir=no_results)
    assert "base_model" not in ModelCard(text).data.to_dict()
    assert "huggingface.co/smoke" not in text
    assert "`smoke (random, built on the fly)`" in text
    assert_card_matches_run(text, run_dir)


def test_null_hyperparameter_is_not_none(tmp_path, no_results, de_run):
    run_dir = copy_run(de_run, tmp_path / "run")
    write_json(run_dir / HYPERPARAMETERS, {**read_json(run_dir, HYPERPARAMETERS), "max_steps": None})
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


def test_checks_catch_a_drifting_number(tmp_path, no_results, de_run):
    """The card checks are not vacuous: a card from a run whose numbers moved fails them."""
    drifted = copy_run(de_run, tmp_path / "drifted")
    evaluation = read_json(drifted, EVAL_RESULTS)
    evaluation["languages"]["fr"]["f1"] += 0.001
    write_json(drifted / EVAL_RESULTS, evaluation)
    state = read_json(drifted, TRAINER_STATE)
    state["log_history"][0]["loss"] += 0.001
    write_json(drifted / TRAINER_STATE, state)
    with pytest.raises(AssertionError):
        assert_card_matches_run(render_card(drifted, results_dir=no_results), de_run)


# ---- Optional sections ----

def test_cross_lingual_section_and_plots_present(de_card):
    rows = {row[0]: row[1:] for row in table_rows(section(de_card, "### Cross-lingual transfer"))}
    own = [f"{SCORES[lang][2]:.4f}" for lang in LANGUAGES]
    assert rows["**xlm-roberta-base-finetuned-panx-de** (this model)"] == own
    # The matrix's own entry ("de") is shown once, as this model's row; the others follow.
    assert rows["de-fr"] == [f"{F1_MATRIX['de-fr'][lang]:.4f}" for lang in LANGUAGES]
    assert "de" not in rows
    plots = section(de_card, "### Plots")
    assert re.findall(r"\]\((plots/[^)]+)\)", plots) == ["plots/f1_matrix.png", "plots/fr_learning_curve.png", "plots/confusion_matrix.png"]


def test_sections_disappear_without_results(de_run, no_results):
    text = render_card(de_run, results_dir=no_results)
    assert "Cross-lingual transfer" not in text
    assert "f1_matrix.json" not in text
    assert "### Plots" not in text and "plots/" not in text
    assert_card_matches_run(text, de_run)


def test_plots_without_matrix(tmp_path, de_run):
    results = write_fake_results_dir(tmp_path / "results", f1_matrix=False)
    (results / "fr_learning_curve.png").unlink()
    text = render_card(de_run, results_dir=results)
    assert "Cross-lingual transfer" not in text
    assert re.findall(r"\]\((plots/[^)]+)\)", text) == ["plots/f1_matrix.png", "plots/confusion_matrix.png"]
    assert_clean(text)


def test_card_assets_lists_what_the_card_links(tmp_path, full_results, de_card):
    assets = card_assets(full_results)
    assert assets == {
        "plots/f1_matrix.png": full_results / "f1_matrix.png",
        "plots/fr_learning_curve.png": full_results / "fr_learning_curve.png",
        "plots/confusion_matrix.png": full_results / "error_analysis" / "confusion_matrix.png",
    }
    assert sorted(re.findall(r"\]\((plots/[^)]+)\)", de_card)) == sorted(assets)
    assert card_assets(None) == {}
    assert card_assets(tmp_path) == {}
    assert len(PLOT_FILES) == len(assets)


# ---- Bad input ----

@pytest.mark.parametrize("name", [RUN_INFO, HYPERPARAMETERS, TRAINER_STATE, EVAL_RESULTS, DATA_SUMMARY])
def test_missing_file_names_file_and_step(tmp_path, de_run, no_results, name):
    run_dir = copy_run(de_run, tmp_path / "run")
    (run_dir / name).unlink()
    with pytest.raises(RunDirError) as err:
        render_card(run_dir, results_dir=no_results)
    assert name in str(err.value) and PRODUCED_BY[name] in str(err.value)


def test_malformed_file_names_file_and_key(tmp_path, de_run, no_results):
    run_dir = copy_run(de_run, tmp_path / "run")
    evaluation = read_json(run_dir, EVAL_RESULTS)
    del evaluation["languages"]["it"]["recall"]
    write_json(run_dir / EVAL_RESULTS, evaluation)
    with pytest.raises(CardError, match=r"eval_results\.json lacks 'recall' in languages\.it"):
        render_card(run_dir, results_dir=no_results)


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
        cwd=REPO_ROOT,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and TRAINER_STATE in lines[0] and lines[0].startswith("error:")
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


# ---- A real run (the lead's tests/conftest.py provides `smoke_run_dir`: a tiny model actually trained) ----

def test_card_from_smoke_run(request, no_results):
    try:
        run_dir = request.getfixturevalue("smoke_run_dir")
    except pytest.FixtureLookupError:
        pytest.skip("no smoke_run_dir fixture in tests/conftest.py yet")
    text = render_card(run_dir, results_dir=no_results)
    assert_card_matches_run(text, Path(run_dir))
