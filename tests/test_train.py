"""The train CLI end to end (smoke preset, and LoRA on the real offline base), its run directory,
its refusals, and what it never loses."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace

import pytest
from transformers import pipeline
from user_env import train_as_a_user

from core import run_dir as rd
from core.facts import LANGUAGES, OFFLINE_BASE_ID, REPO_ROOT
from training.arguments import TrainArguments
from training.presets import PRESETS
from training.train import CHECKPOINTS, OVERWRITE_SUFFIX, cli, last_complete_checkpoint, main

SMALL = ["--max-train-samples", "48", "--max-eval-samples", "24", "--quiet"]


def test_run_directory_has_the_contract(smoke_run_dir):
    assert rd.is_finished(smoke_run_dir) and not rd.is_adapter(smoke_run_dir)
    assert not (smoke_run_dir / CHECKPOINTS).exists()
    assert not (smoke_run_dir / "training_args.bin").exists()  # a pickle says nothing hyperparameters.json does not
    config = json.loads((smoke_run_dir / "config.json").read_text())
    assert config["id2label"]["1"] == "B-PER" and config["label2id"]["I-LOC"] == 6
    tokenizer_config = json.loads((smoke_run_dir / "tokenizer_config.json").read_text())
    assert not {"is_local", "local_files_only"} & set(
        tokenizer_config
    )  # how this machine loaded it is no one's business
    # Every log reads back through its dataclass as written, and hyperparameters.json holds every declared key.
    for contract in (rd.Hyperparameters, rd.DataSummary, rd.EvalResults, rd.RunInfo):
        assert contract.read(smoke_run_dir).to_json() == rd.read_json(smoke_run_dir, contract.NAME), contract.NAME
    hyper = rd.Hyperparameters.read(smoke_run_dir)
    assert hyper.extra == {} and hyper.order == tuple(replace(hyper, order=()).to_json())
    assert rd.TrainerState.read(smoke_run_dir).evaluations


def test_trainer_state_has_one_train_and_eval_entry_per_epoch(smoke_run_dir):
    state = rd.read_json(smoke_run_dir, rd.TRAINER_STATE)
    epochs = rd.read_json(smoke_run_dir, rd.HYPERPARAMETERS)["num_epochs"]
    train = [e for e in state["log_history"] if "loss" in e]
    evals = [e for e in state["log_history"] if "eval_f1" in e]
    assert len(train) == len(evals) == epochs
    assert all("eval_loss" in e for e in evals)


def test_eval_results_cover_every_language_with_an_interval(smoke_run_dir):
    results = rd.read_json(smoke_run_dir, rd.EVAL_RESULTS)
    assert results["test_carved_from_validation"] is True
    assert list(results["languages"]) == list(LANGUAGES)
    de = results["languages"]["de"]
    assert 0.0 < de["f1"] <= 1.0  # the smoke model learns something
    low, high = de["f1_ci95"]
    assert low <= de["f1"] <= high
    assert de["num_sentences"] == PRESETS["smoke"].max_eval_samples  # the smoke preset reads a slice
    assert set(de["per_entity"]) == {"PER", "ORG", "LOC"}
    info = rd.read_json(smoke_run_dir, rd.RUN_INFO)
    assert info["versions"]["transformers"] and info["train_languages"] == ["de"]
    assert info["parameters"]["trainable"] == info["parameters"]["total"] > 0 and info["adapter"] is False
    assert rd.read_json(smoke_run_dir, rd.DATA_SUMMARY)["source"] == "parquet"  # never this machine's folder


def test_pipeline_loads_the_run_directory(smoke_run_dir):
    ner = pipeline("token-classification", model=str(smoke_run_dir), aggregation_strategy="simple")
    entities = ner("Jeff Dean ist ein Informatiker bei Google in Kalifornien")
    assert isinstance(entities, list)
    assert all(e["entity_group"] in {"PER", "ORG", "LOC"} for e in entities)


def test_lora_on_the_offline_base_leaves_an_adapter_that_pipeline_loads(
    tmp_path, data_dir, unreachable_hub, user_hf_home
):
    """The default preset as a user runs it (no HF_HUB_OFFLINE, no network): it asks the Hub nothing, at
    its checkpoints included (peft would ask whether the base has a config.json on the Hub)."""
    out = tmp_path / "lora"
    # --min-train-steps 0: 48 sentences would otherwise train 400 epochs to reach the preset's 800 steps
    argv = ["--experiment", "de", "--num-epochs", "1", "--min-train-steps", "0", "--eval-languages", "de", *SMALL]
    stderr = train_as_a_user(unreachable_hub, user_hf_home, data_dir, out, *argv)
    assert "Unable to fetch remote file" not in stderr
    assert rd.is_finished(out) and rd.is_adapter(out)
    assert not (out / "tokenizer.json").exists()  # an adapter uses its base's tokenizer
    adapter = json.loads((out / rd.ADAPTER_CONFIG).read_text())
    assert adapter["base_model_name_or_path"] == OFFLINE_BASE_ID  # a name, never a machine path
    assert adapter["modules_to_save"] and "classifier" in adapter["modules_to_save"]
    info = rd.read_json(out, rd.RUN_INFO)
    assert info["adapter"] and 1_000_000 < info["parameters"]["trainable"] < 2_000_000 < info["parameters"]["total"]
    assert info["model_name"] == "multilingual-e5-small-finetuned-panx-de"
    hyper = rd.read_json(out, rd.HYPERPARAMETERS)
    assert hyper["lora_rank"] == 16 and hyper["label_all_subwords"] is True
    e5 = PRESETS["e5"]  # the default preset's recipe, as the run records it
    assert hyper["word_consistency"] == e5.word_consistency > 0
    assert (hyper["running_text"], hyper["pack_length"], hyper["pack_alongside"]) == (True, e5.pack_length, True)
    assert hyper["num_epochs"] == 1 and hyper["min_train_steps"] == 0
    ner = pipeline("token-classification", model=str(out), aggregation_strategy="simple")
    assert isinstance(ner("Angela Merkel besuchte Paris."), list)


def test_a_small_training_set_repeats_its_epochs_up_to_the_minimum_of_steps(tmp_path, data_dir):
    """48 sentences in batches of 16 are 3 steps an epoch, 6 in the 2 epochs asked for: a minimum of 15
    steps repeats them 3 times (6 epochs, 18 steps), evaluated and logged twice as 2 epochs would be,
    every 3 epochs."""
    out = tmp_path / "stretched"
    main(smoke_args(data_dir, out, "--num-epochs", "2", "--min-train-steps", "15", *SMALL))
    hyper = rd.read_json(out, rd.HYPERPARAMETERS)
    assert hyper["num_epochs"] == 6 and hyper["min_train_steps"] == 15
    state = rd.read_json(out, rd.TRAINER_STATE)
    assert state["max_steps"] == 18
    evals = [(e["epoch"], e["step"]) for e in state["log_history"] if "eval_f1" in e]
    assert evals == [(3.0, 9), (6.0, 18)]
    assert [e["step"] for e in state["log_history"] if "loss" in e] == [9, 18]


def test_passages_packed_alongside_add_steps_not_epochs(tmp_path, data_dir):
    """The repeats count sentences, as the study's lock and the presets do (Preset.recipe(train_rows)): the
    48 sentences still train 6 epochs, and their passages make each epoch longer."""
    out = tmp_path / "packed"
    packing = ["--running-text", "--pack-share", "1", "--pack-length", "64", "--pack-alongside"]
    main(smoke_args(data_dir, out, "--num-epochs", "2", "--min-train-steps", "15", *packing, *SMALL))
    assert rd.read_json(out, rd.HYPERPARAMETERS)["num_epochs"] == 6
    steps = rd.read_json(out, rd.TRAINER_STATE)["max_steps"]
    assert steps > 18 and steps % 6 == 0


def test_unknown_experiment_and_preset_list_valid_ones():
    with pytest.raises(ValueError, match="valid experiments: de, de-fr, fr, it, en, all"):
        TrainArguments(experiment="es")
    with pytest.raises(ValueError, match="valid presets: e5, e5-full, e5-hub, book, smoke"):
        TrainArguments(preset="fast")


@pytest.mark.parametrize(
    "args, message",
    [
        (["--num-epochs", "0"], "--num-epochs must be greater than 0, not 0"),
        (["--num-epochs", "-1"], "--num-epochs must be greater than 0, not -1"),
        (["--max-train-samples", "0"], "--max-train-samples must be greater than 0, not 0"),
        (["--max-eval-samples", "-5"], "--max-eval-samples must be greater than 0, not -5"),
        (["--learning-rate", "0"], "--learning-rate must be greater than 0"),
        (["--word-consistency", "-1"], "--word-consistency must be a finite number, 0 or more, not -1"),
        (["--word-consistency", "nan"], "--word-consistency must be a finite number, 0 or more, not nan"),
        (["--word-consistency", "inf"], "--word-consistency must be a finite number, 0 or more, not inf"),
        (["--min-train-steps", "-1"], "--min-train-steps must be 0 (off) or more, not -1"),
        (["--max-seq-length", "0"], "--max-seq-length must be at least 8"),
        (["--eval-languages", "de,xx"], "unknown language 'xx' in --eval-languages; valid languages: de, fr, it, en"),
        (["--eval-languages", ","], "--eval-languages is empty"),
        (["--preset", "smoke", "--lora-rank", "8"], "--lora-rank: preset 'smoke' fine-tunes the whole model"),
        (["--overwrite", "--resume"], "--overwrite and --resume exclude each other"),
        (["--data-dir", "/no/such/folder"], "data folder /no/such/folder does not exist"),
        (["--preset", "nope"], "unknown preset 'nope'; valid presets: e5, e5-full, e5-hub, book, smoke"),
        (["--seed", "-5"], "--seed must be between 0 and 2**32 - 1"),
        (["--seed", str(2**32)], "--seed must be between 0 and 2**32 - 1"),
    ],
)
def test_bad_arguments_are_one_line_and_exit_2_before_anything_is_written(tmp_path, capsys, args, message):
    out = tmp_path / "run"
    assert cli(["--preset", "smoke", "--output-dir", str(out), *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and err.count("\n") == 1, err
    assert not out.exists()


@pytest.fixture
def full_disk(tmp_path):
    """A 3 MB file system: the smoke model (32 MB) cannot be saved on it."""
    disk = tmp_path / "disk"
    disk.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(disk)], capture_output=True).returncode:
        pytest.skip("mounting a small tmpfs needs root (CI runs as root)")
    yield disk
    subprocess.run(["umount", str(disk)], check=True)


def test_a_full_disk_is_one_line_exit_1_and_leaves_nothing_half_written(full_disk, data_dir, capsys):
    out = full_disk / "run"
    assert cli(["--preset", "smoke", "--data-dir", str(data_dir), "--output-dir", str(out), *SMALL]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: No space left on device") and err.count("\n") == 1, err
    assert not out.exists()  # no checkpoint was complete: nothing to resume, nothing kept


def test_missing_base_model_says_how_to_go_offline(tmp_path, data_dir, capsys):
    code = cli(
        [
            "--base-model",
            str(tmp_path / "no-such-model"),
            "--data-dir",
            str(data_dir),
            "--output-dir",
            str(tmp_path / "run"),
            *SMALL,
        ]
    )
    assert code == 2
    assert "--preset e5" in capsys.readouterr().err


def test_existing_output_dir_is_refused_without_overwrite(smoke_run_dir, capsys):
    before = sorted(p.name for p in smoke_run_dir.iterdir())
    assert cli(["--preset", "smoke", "--output-dir", str(smoke_run_dir)]) == 2
    assert "pass --overwrite" in capsys.readouterr().err
    assert sorted(p.name for p in smoke_run_dir.iterdir()) == before  # nothing lost


def test_resume_without_checkpoint_is_refused(tmp_path, capsys):
    assert cli(["--preset", "smoke", "--output-dir", str(tmp_path / "x"), "--resume"]) == 2
    assert "no checkpoint" in capsys.readouterr().err


def smoke_args(data_dir, out, *extra) -> list[str]:
    """A smoke run on German: the arguments the training tests share."""
    return [
        "--preset",
        "smoke",
        "--data-dir",
        str(data_dir),
        "--output-dir",
        str(out),
        "--eval-languages",
        "de",
        *extra,
    ]


def test_overwrite_with_bad_data_keeps_the_finished_run(tmp_path, data_dir, capsys):
    out = tmp_path / "run"
    main(smoke_args(data_dir, out, "--num-epochs", "1", *SMALL))
    before = rd.read_json(out, rd.RUN_INFO)["created_at"], (out / rd.MODEL_WEIGHTS).read_bytes()
    assert (
        cli(["--preset", "smoke", "--data-dir", str(tmp_path / "nothing"), "--output-dir", str(out), "--overwrite"])
        == 2
    )
    assert "does not exist" in capsys.readouterr().err
    assert (rd.read_json(out, rd.RUN_INFO)["created_at"], (out / rd.MODEL_WEIGHTS).read_bytes()) == before


def test_overwrite_failing_midway_keeps_the_old_run_then_replaces_it(tmp_path, data_dir, monkeypatch):
    import training.train as train_module

    out = tmp_path / "run"
    common = smoke_args(data_dir, out, "--num-epochs", "1", *SMALL)
    main(common)
    first = rd.read_json(out, rd.RUN_INFO)["created_at"]

    def fail(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(train_module, "evaluate_languages", fail)
    with pytest.raises(OSError):
        main([*common, "--overwrite"])
    assert rd.is_finished(out) and rd.read_json(out, rd.RUN_INFO)["created_at"] == first  # the old run stands
    assert not rd.is_finished(out.with_name(out.name + OVERWRITE_SUFFIX))  # and the failed one never passes as finished
    monkeypatch.undo()
    time.sleep(1.1)  # created_at has one-second resolution
    main([*common, "--overwrite"])
    assert rd.read_json(out, rd.RUN_INFO)["created_at"] != first
    assert not out.with_name(out.name + OVERWRITE_SUFFIX).exists()


def test_resume_under_another_recipe_is_refused_and_keeps_the_checkpoints(tmp_path, data_dir, monkeypatch, capsys):
    """Resuming with changed settings would finish the run on them while hyperparameters.json claimed them for all
    of it: one line naming what changed, and the checkpoints stay for a resume with the settings that wrote them."""
    import training.train as train_module

    out = tmp_path / "run"
    common = smoke_args(data_dir, out, "--num-epochs", "1", *SMALL)

    def interrupted(*args, **kwargs):  # after the last checkpoint, before the run directory is written
        raise KeyboardInterrupt

    monkeypatch.setattr(train_module, "evaluate_languages", interrupted)
    with pytest.raises(KeyboardInterrupt):
        main(common)
    monkeypatch.undo()
    checkpoint = last_complete_checkpoint(out)
    assert checkpoint is not None and not rd.is_finished(out)

    assert cli([*common, "--resume", "--word-consistency", "2"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "word_consistency 0.0 -> 2.0" in err and "--overwrite" in err, err
    assert last_complete_checkpoint(out) == checkpoint and rd.Hyperparameters.read(out).word_consistency == 0.0
    assert cli([*common, "--resume"]) == 0 and rd.is_finished(out)


def _train_command(out, data_dir, *extra):
    schedule = ["--num-epochs", "3", "--max-train-samples", "160", "--max-eval-samples", "48", "--quiet"]
    return [sys.executable, "-m", "training.train", *smoke_args(data_dir, out, *schedule, *extra)]


# The second: 3 epochs of 10 steps under a minimum of 40 steps train 6 epochs, checkpointed every 2.
@pytest.mark.parametrize("schedule", [(), ("--min-train-steps", "40")], ids=["epochs", "stretched"])
def test_a_run_killed_with_sigkill_resumes_to_the_same_metrics(tmp_path, data_dir, schedule):
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    reference, killed = tmp_path / "reference", tmp_path / "killed"
    subprocess.run(
        _train_command(reference, data_dir, *schedule), cwd=REPO_ROOT, env=env, check=True, capture_output=True
    )

    process = subprocess.Popen(
        _train_command(killed, data_dir, *schedule),
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 300
    while not list((killed / CHECKPOINTS).glob("checkpoint-*/trainer_state.json")) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.1)  # into epoch 2
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert not rd.is_finished(killed)
    # A kill while the Trainer saves leaves a newer checkpoint without trainer_state.json (written
    # last); resuming from it would fail, so --resume must take the last complete one.
    partial = killed / CHECKPOINTS / "checkpoint-999"
    partial.mkdir()
    (partial / "model.safetensors").write_bytes(b"\0" * 16)
    assert last_complete_checkpoint(killed).name != partial.name
    subprocess.run(
        _train_command(killed, data_dir, *schedule, "--resume"), cwd=REPO_ROOT, env=env, check=True, capture_output=True
    )

    losses = [
        [
            (e["step"], round(e.get("loss", e.get("eval_loss")), 4))
            for e in rd.read_json(run, rd.TRAINER_STATE)["log_history"]
            if "loss" in e or "eval_loss" in e
        ]
        for run in (killed, reference)
    ]
    assert losses[0] == losses[1] and len(losses[0]) == 6  # three evaluations, each with its training loss
    assert losses[0][-1][0] == (60 if schedule else 30)  # the stretched run took twice the steps
    ours, theirs = rd.read_json(killed, rd.EVAL_RESULTS), rd.read_json(reference, rd.EVAL_RESULTS)
    for key in ("precision", "recall", "f1"):
        assert ours["languages"]["de"][key] == pytest.approx(theirs["languages"]["de"][key], abs=1e-4)
