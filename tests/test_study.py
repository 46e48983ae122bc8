"""The whole study on the smoke preset, in a temporary copy of the project whose facts gain a fifth
language: adding a language touches the facts and the data only, every step follows, and the lock
reruns exactly the steps whose inputs changed. The copy's French curve has two small points, so that
the study runs every step at the smallest shape (a point's size overrides --max-train-samples)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from core import run_dir as rd
from core.facts import REPO_ROOT

FIFTH = ("xx", "Testish")
PACKAGES = ("core", "training", "cards", "space", "workflow")
# A fifth language's data: the Italian sentences under another name (any labelled PAN-X folder would do).
FIFTH_DATA_FROM = "it"
CURVE_SIZES = (24, 48)


def add_language(facts: Path) -> None:
    """One more row of LANGUAGE_TABLE: the only code change a new language needs."""
    text = facts.read_text(encoding="utf-8")
    table = re.search(r"LANGUAGE_TABLE: tuple\[Language, \.\.\.\] = \(\n(.*?)\n\)\n", text, re.DOTALL)
    row = f'    Language("{FIFTH[0]}", "{FIFTH[1]}", 0.05, "Jeff Dean ist ein Informatiker bei Google in Kalifornien"),'
    facts.write_text(text[: table.end(1)] + "\n" + row + text[table.end(1) :], encoding="utf-8")


def shrink_curve(facts: Path) -> None:
    """The French curve at CURVE_SIZES: its points train as few sentences as the other runs."""
    text = facts.read_text(encoding="utf-8")
    curve = re.search(r"^CURVE_SIZES: tuple\[int, \.\.\.\] = .*$", text, re.MULTILINE)
    facts.write_text(
        text[: curve.start()] + f"CURVE_SIZES: tuple[int, ...] = {CURVE_SIZES}" + text[curve.end() :], encoding="utf-8"
    )


@pytest.fixture(scope="module")
def project(tmp_path_factory, data_dir):
    root = tmp_path_factory.mktemp("five-languages")
    for package in PACKAGES:
        shutil.copytree(REPO_ROOT / package, root / package, ignore=shutil.ignore_patterns("__pycache__", "models"))
    shutil.copy2(REPO_ROOT / "app.py", root / "app.py")
    add_language(root / "core" / "facts.py")
    shrink_curve(root / "core" / "facts.py")
    data = root / "data"
    data.mkdir()
    for lang in ("de", "fr", "it", "en"):
        (data / f"PAN-X.{lang}").symlink_to(Path(data_dir) / f"PAN-X.{lang}")
    (data / f"PAN-X.{FIFTH[0]}").symlink_to(Path(data_dir) / f"PAN-X.{FIFTH_DATA_FROM}")
    return root


def study(project: Path, *extra: str) -> subprocess.CompletedProcess:
    argv = [
        sys.executable,
        "-m",
        "workflow.study",
        "--preset",
        "smoke",
        "--data-dir",
        "data",
        "--output-dir",
        "runs",
        "--results-dir",
        "results",
        "--models-dir",
        "models",
        "--check-sentences",
        "8",
        "--paragraph-documents",
        "1",
        "--train-arg=--num-epochs=1",
        "--train-arg=--max-train-samples=32",
        "--train-arg=--max-eval-samples=16",
        *extra,
    ]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(project)}
    result = subprocess.run(argv, cwd=project, env=env, capture_output=True, text=True, timeout=1800)
    assert result.returncode == 0, result.stderr[-4000:]
    return result


def ran(result: subprocess.CompletedProcess) -> list[str]:
    return re.findall(r"^\[run \] (\S+)", result.stderr, re.MULTILINE)


@pytest.fixture(scope="module")
def first_run(project):
    return study(project)


def test_every_step_runs_and_covers_the_fifth_language(project, first_run):
    steps = ran(first_run)
    assert "train-xx" in steps and "train-all" in steps
    assert steps[-5:] == ["error-analysis", "paragraph-check", "pipeline-check", "report", "bundle"]
    matrix = json.loads((project / "results" / "f1_matrix.json").read_text())
    assert list(matrix) == ["de", "de-fr", "fr", "it", "en", "xx", "all"]
    assert all(list(row) == ["de", "fr", "it", "en", "xx"] for row in matrix.values())
    assert "| trained on \\ tested on | de | fr | it | en | xx |" in (project / "results" / "f1_matrix.md").read_text()
    curve = json.loads((project / "results" / "fr_learning_curve.json").read_text())
    de = json.loads((project / "runs" / "de" / "eval_results.json").read_text())["languages"]["fr"]["f1"]
    assert curve["zero_shot_f1"] == round(de, 4) and [p["train_samples"] for p in curve["points"]] == list(CURVE_SIZES)
    analysis = json.loads((project / "results" / "error_analysis" / "error_analysis.json").read_text())
    assert analysis["model"] == "de" and len(analysis["confusion_normalised"]) == 7
    cost = json.loads((project / "results" / "adapter_vs_full.json").read_text())
    assert set(cost) >= {"f1", "seed"} and "full_fine_tune" not in cost  # the smoke preset has no adapter
    assert cost["f1"] == matrix["de"] and cost["trainable_parameters"] > 0
    check = json.loads((project / "results" / "pipeline_vs_space.json").read_text())
    assert set(check["models"]) == set(matrix) and check["languages"][-1] == "xx"
    assert list(check["models"]["de"]["by_language"]) == check["languages"]


def test_the_fifth_language_reaches_cards_and_the_space(project, first_run):
    card = (project / "models" / "xx" / "README.md").read_text()
    assert card.startswith("---") and "Testish" in card
    check = json.loads((project / "results" / "pipeline_vs_space.json").read_text())["models"]["xx"]
    flat = " ".join(card.split())
    assert "**Pieces of words.**" in flat and f"**Pieces of words.** Of {check['pipeline_spans']:,} entities" in flat
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(project)}
    code = (
        "from core.facts import LANGUAGES, EXPERIMENTS, count_words; from space.registry import Registry; "
        "r = Registry('models'); print(list(r.specs), count_words(len(LANGUAGES)))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=project, env=env, capture_output=True, text=True, check=True)
    assert "'xx'" in out.stdout and out.stdout.strip().endswith("five")


def test_a_bundled_model_carries_its_logs_and_its_card_re_renders_from_them(project, first_run):
    """A clone has no runs/ (ignored by git): the bundled folder alone must give its card back."""
    folder = project / "models" / "de"
    assert rd.is_finished(folder)
    assert not any(str(project) in (folder / name).read_text() for name in rd.LOG_FILES)
    shutil.rmtree(project / "runs" / "de.moved", ignore_errors=True)
    (project / "runs" / "de").rename(project / "runs" / "de.moved")
    try:
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(project)}
        code = "from cards import render_card; print(render_card('models/de', results_dir='results'), end='')"
        out = subprocess.run([sys.executable, "-c", code], cwd=project, env=env, capture_output=True, text=True)
    finally:
        (project / "runs" / "de.moved").rename(project / "runs" / "de")
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout == (folder / rd.CARD).read_text(encoding="utf-8")


def test_a_run_counts_as_the_studys_only_when_made_with_its_recipe(project, first_run):
    """The adapter-cost step reports a second seed only if it was trained with the study's recipe."""
    from training.presets import get_preset
    from workflow.study import _made_by

    # This process knows four languages, the project's copy five: name the ones its runs were evaluated on.
    seed_run, seed_args = project / "runs" / "de-seed43", {"seed": 43, "eval_languages": "de,fr,it,en,xx"}
    trained_with = replace(get_preset("smoke"), num_epochs=1)  # the study above passes --num-epochs=1
    seed_recipe = replace(trained_with, seed=43)
    assert _made_by(seed_run, seed_recipe, "de", seed_args)
    assert not _made_by(seed_run, replace(seed_recipe, word_consistency=1.0), "de", seed_args)
    assert not _made_by(seed_run, replace(seed_recipe, seed=44), "de", {**seed_args, "seed": 44})
    assert not _made_by(seed_run, seed_recipe, "fr", seed_args)
    # A curve point is told by the sentences its command trained on, not by its step count: packed
    # passages come on top of the sentences (preset e5), so a point takes more steps than its sentences.
    point, point_args = project / "runs" / "fr-curve" / str(CURVE_SIZES[0]), {"max_train_samples": CURVE_SIZES[0]}
    point_args["eval_languages"] = "fr"
    assert _made_by(point, trained_with, "fr", point_args)
    assert not _made_by(point, trained_with, "fr", {**point_args, "max_train_samples": CURVE_SIZES[1]})
    packed = shutil.copytree(point, project / "packed-point")
    state = json.loads((packed / rd.TRAINER_STATE).read_text())
    state["max_steps"] *= 2
    (packed / rd.TRAINER_STATE).write_text(json.dumps(state))
    assert _made_by(packed, trained_with, "fr", point_args)


def test_a_curve_point_whose_command_no_longer_parses_is_trained_anew_not_a_crash(project, first_run):
    """A run recorded by an older train command (a flag since removed, a value now refused) is no run of
    today's recipe: the study retrains it instead of exiting on argparse's complaint."""
    from training.presets import get_preset
    from workflow.study import _made_by

    trained_with = replace(get_preset("smoke"), num_epochs=1)
    point_args = {"max_train_samples": CURVE_SIZES[0], "eval_languages": "fr"}
    point = project / "runs" / "fr-curve" / str(CURVE_SIZES[0])
    info = json.loads((point / rd.RUN_INFO).read_text())
    for tail in (" --removed-flag 3", " --max-train-samples -5", " --seed 'unclosed"):
        old = shutil.copytree(point, project / "old-point", dirs_exist_ok=True)
        (old / rd.RUN_INFO).write_text(json.dumps({**info, "command": info["command"] + tail}))
        assert not _made_by(old, trained_with, "fr", point_args), tail
    assert _made_by(point, trained_with, "fr", point_args)


def test_an_interrupted_run_resumes_only_under_the_recipe_that_wrote_it(tmp_path, smoke_run_dir):
    """A preset changed while a run was cut short: the study trains that run anew instead of finishing the old
    recipe's checkpoints under the new recipe's name."""
    from training.presets import get_preset
    from training.train import CHECKPOINTS
    from workflow.study import _resumable

    smoke, folder = get_preset("smoke"), tmp_path / "de"
    checkpoint = folder / CHECKPOINTS / "checkpoint-5"
    checkpoint.mkdir(parents=True)
    shutil.copy2(smoke_run_dir / rd.HYPERPARAMETERS, folder)
    assert not _resumable(folder, smoke)  # killed while saving: nothing complete to resume
    shutil.copy2(smoke_run_dir / rd.TRAINER_STATE, checkpoint)
    assert _resumable(folder, smoke)
    assert not _resumable(folder, replace(smoke, word_consistency=12.0))
    assert not _resumable(folder, replace(smoke, seed=43))


def test_a_second_run_skips_everything_even_from_another_folder(project, first_run):
    # The lock names paths relative to itself: a fresh clone elsewhere finds its steps current.
    lock = json.loads((project / "results" / "study.lock.json").read_text())
    assert not any(
        Path(p).is_absolute() for step in lock["steps"].values() for p in [*step["inputs"], *step["outputs"]]
    )
    moved = project.with_name(project.name + "-moved")
    project.rename(moved)
    try:
        again = study(moved)
    finally:
        moved.rename(project)
    assert ran(again) == []
    assert again.stderr.count("[skip]") == len(re.findall(r"^\[run \]", first_run.stderr, re.MULTILINE))


def test_a_half_written_output_is_redone(project, first_run):
    table = project / "results" / "f1_matrix.md"
    table.write_text(table.read_text()[:40])  # as if the writer had died half way (writes are atomic now)
    assert ran(study(project)) == ["matrix"]
    assert "| all |" in table.read_text()


def test_a_run_finished_after_a_recipe_change_but_not_recorded_is_adopted(project, first_run):
    """A study stopped between a run's end and the lock's record: the lock still holds the old recipe's
    parameters, but the run directory says the current recipe made it, so it is not trained again."""
    lock_path = project / "results" / "study.lock.json"
    lock = json.loads(lock_path.read_text())
    lock["steps"]["train-de-seed43"]["params"] = "an older recipe"
    lock_path.write_text(json.dumps(lock))
    result = study(project)
    assert ran(result) == [] and "[adopt] train-de-seed43" in result.stderr
    assert json.loads(lock_path.read_text())["steps"]["train-de-seed43"]["params"] != "an older recipe"


def test_only_steps_whose_inputs_or_outputs_changed_run_again(project, first_run):
    # Last of the runs on this project: it leaves the pipeline check recorded with other parameters.
    (project / "results" / "f1_matrix.png").unlink()  # a lost output: its step alone runs again
    assert ran(study(project)) == ["matrix"]
    # The cards' code is the bundle's input: a changed template re-renders the bundled cards, nothing else.
    template = project / "cards" / "templates" / "partials" / "uses.md.j2"
    template.write_text(template.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    assert ran(study(project)) == ["bundle"]
    # A parameter is an input too: more sentences for the pipeline check rerun that step, and the
    # bundle, whose cards quote the check.
    result = study(project, "--check-sentences", "9")
    assert ran(result) == ["pipeline-check", "bundle"] and "parameters changed" in result.stderr


def test_bad_input(tmp_path, capsys):
    from core.cli import run
    from workflow.study import main

    assert run(main, ["--data-dir", str(tmp_path / "missing"), "--results-dir", str(tmp_path / "r")]) == 2
    assert "--data-dir" in capsys.readouterr().err
    assert run(main, ["--only", "nonsense", "--results-dir", str(tmp_path / "r")]) == 2
    assert "unknown step(s) nonsense" in capsys.readouterr().err
