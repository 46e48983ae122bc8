"""--unlabelled-text: the languages an experiment has no labels for, read as running text that only the
word-consistency term learns from (training.features.encode_unlabelled, training.word_loss)."""

from __future__ import annotations

import json
import math
from dataclasses import asdict

import pytest

from core import run_dir as rd
from core.facts import OFFLINE_BASE_ID
from training.features import IGNORE_INDEX


@pytest.fixture(scope="module")
def tokenizer():
    from core.loading import base_tokenizer

    return base_tokenizer(OFFLINE_BASE_ID)


def test_unlabelled_passages_are_running_text_with_every_label_ignored(tokenizer):
    from datasets import Dataset

    from training.features import encode_unlabelled

    rows = {
        "tokens": [s.split(" ") for s in ("Jeff Dean ( Google ) .", "Anna lebt in Bern .", "Il vit à Paris .")],
        "ner_tags": [[1, 2, 0, 3, 0, 0], [1, 0, 0, 5, 0], [0, 0, 0, 5, 0]],
        "lang": ["de", "de", "fr"],
    }
    passages = encode_unlabelled(Dataset.from_dict(rows), tokenizer, pack_length=32)
    assert len(passages) == 2  # one passage per language, both German sentences in the first
    for row in passages:
        assert set(row["labels"]) == {IGNORE_INDEX} and len(row["labels"]) == len(row["input_ids"]) <= 32
    text = tokenizer.decode(passages[0]["input_ids"], skip_special_tokens=True)
    assert text == "Jeff Dean (Google). Anna lebt in Bern."


def test_the_switch_is_part_of_the_recipe_only_when_on():
    from training.arguments import parse_arguments, resolved_preset, unlabelled_languages
    from training.presets import PRESETS, text_form

    assert all("unlabelled_text" not in preset.recipe() for preset in PRESETS.values())  # their runs stay current
    args = parse_arguments(["--experiment", "fr", "--unlabelled-text"])
    preset = resolved_preset(args)
    assert preset.unlabelled_text and preset.recipe()["unlabelled_text"] is True
    assert "--unlabelled-text" in args.command()
    assert text_form({"unlabelled_text": True}) == {"unlabelled_text": True}
    assert not PRESETS["e5"].made(rd.Hyperparameters.from_json(hyperparameters_of(preset)))
    assert preset.made(rd.Hyperparameters.from_json(hyperparameters_of(preset)))
    assert unlabelled_languages("fr") == ("de", "it", "en") and unlabelled_languages("de-fr") == ("it", "en")


def hyperparameters_of(preset) -> dict:
    from training.presets import text_form

    return {
        "preset": preset.name,
        "fine_tuning": "LoRA",
        "learning_rate": preset.learning_rate,
        "train_batch_size": preset.train_batch_size,
        "eval_batch_size": preset.eval_batch_size,
        "seed": preset.seed,
        "optimizer": "AdamW",
        "lr_scheduler_type": "linear",
        "warmup_ratio": preset.warmup_ratio,
        "num_epochs": preset.num_epochs,
        "weight_decay": preset.weight_decay,
        "mixed_precision": "no",
        "max_seq_length": 256,
        "label_all_subwords": True,
        "word_consistency": preset.word_consistency,
        "lora_rank": 16,
        "lora_alpha": 32,
        "lora_dropout": 0.1,
        "lora_target_modules": "query,key,value,dense",
        "init": "pretrained",
        **text_form(asdict(preset)),
    }


def test_a_run_reads_the_other_languages_and_says_so(tmp_path, data_dir):
    """A real (smoke) run: the other languages' Swiss train sentences come along without labels, the run
    directory records them, training stays finite, and validation still scores the labelled language."""
    from cards import render_card
    from training.data import load_sampled
    from training.train import cli

    out = tmp_path / "run"
    flags = ["--preset", "smoke", "--experiment", "it", "--eval-languages", "it", "--num-epochs", "1"]
    flags += ["--word-consistency", "1", "--unlabelled-text", "--max-train-samples", "200"]
    assert cli([*flags, "--data-dir", str(data_dir), "--output-dir", str(out), "--quiet"]) == 0
    summary = rd.DataSummary.read(out)
    expected = {lang: len(load_sampled(lang, data_dir)[0]["train"]) for lang in ("de", "fr", "en")}
    assert summary.unlabelled_sentences == expected and summary.train_languages == ["it"]
    assert rd.Hyperparameters.read(out).extra["unlabelled_text"] is True
    losses = [e["loss"] for e in json.loads((out / rd.TRAINER_STATE).read_text())["log_history"] if "loss" in e]
    assert losses and all(math.isfinite(loss) for loss in losses)
    assert "--unlabelled-text" in rd.RunInfo.read(out).command
    (tmp_path / "no-results").mkdir()
    card = " ".join(render_card(out, results_dir=tmp_path / "no-results").split())
    read = f"{expected['de']:,} German, {expected['fr']:,} French and {expected['en']:,} English"
    assert f"It also read {read} training sentences without their labels" in card
