"""The run directory's files as dataclasses (core/run_dir.py): old files read and write back byte for byte,
a broken key is one line naming the file, the key and its command, and a preset's recipe is compared in one place."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from core import run_dir as rd
from core.facts import BUNDLED_MODELS_DIR, EXPERIMENTS
from training.presets import get_preset

RUN_FILES = (rd.Hyperparameters, rd.DataSummary, rd.EvalResults, rd.RunInfo)
# The newest bundled layout: its hyperparameters.json has every key training writes today.
NEWEST = BUNDLED_MODELS_DIR / "en"


def copy_logs(source: Path, dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    for name in rd.LOG_FILES:
        shutil.copyfile(source / name, dest / name)
    return dest


def edit(folder: Path, name: str, change) -> None:
    data = json.loads((folder / name).read_text(encoding="utf-8"))
    change(data)
    (folder / name).write_text(json.dumps(data), encoding="utf-8")


@pytest.mark.parametrize("experiment", list(EXPERIMENTS))
def test_bundled_files_read_and_write_back_byte_for_byte(tmp_path, experiment):
    folder = BUNDLED_MODELS_DIR / experiment
    for contract in RUN_FILES:
        contract.read(folder).write(tmp_path)
        assert (tmp_path / contract.NAME).read_bytes() == (folder / contract.NAME).read_bytes(), contract.NAME


def test_a_new_file_has_the_keys_of_the_newest_runs_in_their_order():
    for contract in RUN_FILES:
        written = json.loads((NEWEST / contract.NAME).read_text(encoding="utf-8"))
        made = contract.from_json(written)
        if isinstance(made, rd.Hyperparameters):  # as training makes it, not as read
            made = replace(made, order=())
        assert json.dumps(made.to_json()) == json.dumps(written), contract.NAME


def test_an_older_hyperparameters_file_reads_as_it_is(tmp_path):
    """Keys older runs lack take their defaults but stay absent; keys this version does not know stay, in place."""
    run = copy_logs(NEWEST, tmp_path / "run")
    edit(
        run,
        rd.HYPERPARAMETERS,
        lambda hyper: [hyper.pop(key) for key in ("processes", "min_train_steps", "word_consistency")],
    )
    edit(run, rd.HYPERPARAMETERS, lambda hyper: hyper.update(max_steps=None))
    before = json.loads((run / rd.HYPERPARAMETERS).read_text(encoding="utf-8"))
    hyper = rd.Hyperparameters.read(run)
    assert (hyper.processes, hyper.min_train_steps, hyper.word_consistency) == (None, None, 0.0)
    assert hyper.extra["max_steps"] is None and list(hyper.extra)[-1] == "max_steps"  # kept, in place
    assert list(hyper.to_json().items()) == list(before.items())


@pytest.mark.parametrize(
    "name, change, problem",
    [
        (rd.RUN_INFO, lambda info: info.pop("created_at"), "lacks 'created_at'"),
        (rd.RUN_INFO, lambda info: info.update(device=None), "has null 'device'"),
        (rd.RUN_INFO, lambda info: info["parameters"].pop("trainable"), "lacks 'trainable' in parameters"),
        (rd.RUN_INFO, lambda info: info.update(adapter="yes"), "has adapter 'yes', not true or false"),
        (rd.HYPERPARAMETERS, lambda hyper: hyper.update(seed=True), "has seed True, not an integer"),
        (
            rd.HYPERPARAMETERS,
            lambda hyper: hyper.update(learning_rate="5e-4"),
            "has learning_rate '5e-4', not a number",
        ),
        (rd.HYPERPARAMETERS, lambda hyper: hyper.update(schedule={"a": 1}), "is not flat: schedule hold nested values"),
        (rd.EVAL_RESULTS, lambda e: e["languages"]["it"].pop("recall"), r"lacks 'recall' in languages.it"),
        (
            rd.EVAL_RESULTS,
            lambda e: e["languages"]["de"]["per_entity"].pop("ORG"),
            "lacks 'ORG' in languages.de.per_entity",
        ),
        (
            rd.EVAL_RESULTS,
            lambda e: e["languages"]["fr"].update(f1_ci95=[0.9, 0.8]),
            "has languages.fr.f1_ci95 [0.9, 0.8], not [low, high]",
        ),
        (rd.EVAL_RESULTS, lambda e: e["languages"].update(en=[0.5]), "has languages.en [0.5], not a JSON object"),
        (
            rd.DATA_SUMMARY,
            lambda d: d["splits"]["de"]["train"]["entities"].pop("LOC"),
            "lacks 'LOC' in splits.de.train.entities",
        ),
        (
            rd.DATA_SUMMARY,
            lambda d: d["examples"].update(PER="Angela Merkel"),
            "has examples.PER 'Angela Merkel', not a list",
        ),
        (
            rd.TRAINER_STATE,
            lambda state: state["log_history"][1].pop("eval_f1"),
            "lacks 'eval_f1' in log_history entry at step 216",
        ),
        (rd.TRAINER_STATE, lambda state: state.pop("max_steps"), "lacks 'max_steps'"),
    ],
)
def test_a_broken_key_is_one_line_naming_file_key_and_command(tmp_path, name, change, problem):
    run = copy_logs(NEWEST, tmp_path / "run")
    edit(run, name, change)
    contract = next((c for c in RUN_FILES if c.NAME == name), rd.TrainerState)
    with pytest.raises(rd.RunFileError) as err:
        contract.read(run)
    assert str(err.value) == f"{run / name} {problem}; it is written by {rd.PRODUCED_BY[name]}"


def test_a_missing_file_or_folder_is_a_run_dir_error(tmp_path):
    run = copy_logs(NEWEST, tmp_path / "run")
    (run / rd.DATA_SUMMARY).unlink()
    with pytest.raises(rd.RunDirError, match=rf"{rd.DATA_SUMMARY} is missing; it is written by .*\(data stage\)"):
        rd.DataSummary.read(run)
    with pytest.raises(rd.RunDirError, match="does not exist"):
        rd.RunInfo.read(tmp_path / "nope")


def test_an_evaluation_after_the_summary_is_no_epoch_but_is_checked():
    # The pairing with training losses is tested as the card shows it (test_cards.py, epoch rows).
    summary = {"train_runtime": 1.0, "train_loss": 0.4, "epoch": 1.0, "step": 10}
    final = {"eval_loss": 0.3, "eval_f1": 0.65, "epoch": 1.0, "step": 10}
    assert rd.evaluations_of([{"loss": 0.41, "epoch": 1.0, "step": 10}, summary, final]) == []
    with pytest.raises(rd.RunFileError, match="lacks 'eval_f1' in log_history entry at step 10"):
        rd.evaluations_of([summary, {"eval_loss": 0.3, "epoch": 1.0, "step": 10}])


def test_the_bundled_trainer_state_reads_as_the_card_and_the_study_need_it():
    state = rd.TrainerState.read(NEWEST)
    assert [e.epoch for e in state.evaluations] == [4.0, 8.0, 12.0, 16.0, 20.0]  # 4 times 5 epochs: min_train_steps
    assert all(e.training_loss is not None for e in state.evaluations)
    assert state.steps_per_epoch == 54  # 1,180 sentences and their 111 passages of running text, 24 to a batch


def test_a_preset_knows_the_runs_it_made():
    """The study adopts a finished run only if its hyperparameters are the preset's (with the epochs the run trains)."""
    e5 = get_preset("e5")
    de, en = rd.Hyperparameters.read(BUNDLED_MODELS_DIR / "de"), rd.Hyperparameters.read(NEWEST)
    assert e5.made(de)
    assert not e5.made(en) and e5.for_train_rows(1180).made(en)  # en's 1,180 sentences train 4 times 5 epochs
    for changed in ({"seed": 43}, {"learning_rate": 1e-4}, {"word_consistency": 0.0}, {"name": "e5-hub"}):
        assert not replace(e5, **changed).made(de), changed
    older = replace(de, word_consistency=0.0)  # a run from before the word-consistency term
    assert replace(e5, word_consistency=0.0).made(older)
