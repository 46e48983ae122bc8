"""The train CLI end to end (smoke preset), its run directory and its refusals."""

import json

import pytest
from transformers import pipeline

from training import run_dir as rd
from training.facts import LANGUAGES
from training.train import TrainArguments, cli, main


def test_run_directory_has_the_contract(smoke_run_dir):
    for name in ("config.json", "model.safetensors", "tokenizer.json", rd.TRAINER_STATE, rd.HYPERPARAMETERS,
                 rd.EVAL_RESULTS, rd.DATA_SUMMARY, rd.RUN_INFO):
        assert (smoke_run_dir / name).is_file(), name
    assert not (smoke_run_dir / "checkpoints").exists()
    config = json.loads((smoke_run_dir / "config.json").read_text())
    assert config["id2label"]["1"] == "B-PER" and config["label2id"]["I-LOC"] == 6


def test_trainer_state_has_one_train_and_eval_entry_per_epoch(smoke_run_dir):
    state = rd.read_json(smoke_run_dir, rd.TRAINER_STATE)
    epochs = rd.read_json(smoke_run_dir, rd.HYPERPARAMETERS)["num_epochs"]
    train = [e for e in state["log_history"] if "loss" in e]
    evals = [e for e in state["log_history"] if "eval_f1" in e]
    assert len(train) == len(evals) == epochs
    assert all("eval_loss" in e for e in evals)


def test_eval_results_cover_every_language(smoke_run_dir):
    results = rd.read_json(smoke_run_dir, rd.EVAL_RESULTS)
    assert results["test_carved_from_validation"] is True
    assert list(results["languages"]) == list(LANGUAGES)
    de = results["languages"]["de"]
    assert 0.0 < de["f1"] <= 1.0  # the smoke model learns something
    assert de["num_sentences"] == 3145
    assert set(de["per_entity"]) == {"PER", "ORG", "LOC"}
    info = rd.read_json(smoke_run_dir, rd.RUN_INFO)
    assert info["versions"]["transformers"] and info["train_languages"] == ["de"]


def test_pipeline_loads_the_run_directory(smoke_run_dir):
    ner = pipeline("token-classification", model=str(smoke_run_dir), aggregation_strategy="simple")
    entities = ner("Jeff Dean ist ein Informatiker bei Google in Kalifornien")
    assert isinstance(entities, list)
    assert all(e["entity_group"] in {"PER", "ORG", "LOC"} for e in entities)


def test_existing_output_dir_is_refused_without_overwrite(smoke_run_dir, capsys):
    before = sorted(p.name for p in smoke_run_dir.iterdir())
    assert cli(["--preset", "smoke", "--output-dir", str(smoke_run_dir)]) == 2
    assert "pass --overwrite" in capsys.readouterr().err
    assert sorted(p.name for p in smoke_run_dir.iterdir()) == before  # nothing lost


def test_resume_without_checkpoint_is_refused(tmp_path, capsys):
    assert cli(["--preset", "smoke", "--output-dir", str(tmp_path / "x"), "--resume"]) == 2
    assert "no checkpoint" in capsys.readouterr().err


def test_unknown_experiment_and_preset_list_valid_ones():
    with pytest.raises(ValueError, match="valid experiments: de, de-fr, fr, it, en, all"):
        TrainArguments(experiment="es")
    with pytest.raises(ValueError, match="valid presets: book, mini, smoke"):
        TrainArguments(preset="fast")


def test_missing_base_model_says_how_to_go_offline(tmp_path, data_dir, capsys):
    code = cli(["--base-model", str(tmp_path / "no-such-model"), "--data-dir", str(data_dir),
                "--output-dir", str(tmp_path / "run"), "--max-train-samples", "8", "--max-eval-samples", "8", "--quiet"])
    assert code == 2
    assert "--base-model" in capsys.readouterr().err


def test_resume_continues_an_interrupted_run(tmp_path, data_dir, monkeypatch):
    """A run killed during epoch 2's evaluation keeps epoch 1's checkpoint; --resume finishes it."""
    import training.train as train_module

    out = tmp_path / "run"
    common = ["--preset", "smoke", "--data-dir", str(data_dir), "--output-dir", str(out), "--quiet",
              "--max-train-samples", "64", "--max-eval-samples", "32", "--num-epochs", "2"]
    real_metrics, calls = train_module.compute_metrics, []

    def crash_on_second_evaluation(prediction):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt("simulated interruption")
        return real_metrics(prediction)

    monkeypatch.setattr(train_module, "compute_metrics", crash_on_second_evaluation)
    with pytest.raises(KeyboardInterrupt):
        main(common)
    assert [p.name for p in (out / "checkpoints").iterdir()] == ["checkpoint-4"]
    assert not (out / rd.EVAL_RESULTS).exists()

    monkeypatch.setattr(train_module, "compute_metrics", real_metrics)
    main(common + ["--resume"])
    state = rd.read_json(out, rd.TRAINER_STATE)
    assert [e["epoch"] for e in state["log_history"] if "eval_f1" in e] == [1.0, 2.0]
    assert (out / rd.EVAL_RESULTS).is_file() and not (out / "checkpoints").exists()
