"""--unlabelled-text: the languages an experiment has no labels for, read as running text that only the
word-consistency term learns from (training.features.encode_unlabelled, training.word_loss)."""

from __future__ import annotations

import json
import math
from dataclasses import asdict

import pytest
import torch

from core import run_dir as rd
from core.facts import LABELS, OFFLINE_BASE_ID
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


def tiny_model(tokenizer):
    from transformers import BertConfig, BertForTokenClassification

    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        num_labels=len(LABELS),
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
    )
    return BertForTokenClassification(config)


def test_a_batch_of_unlabelled_passages_alone_trains_the_word_term_alone(tmp_path, tokenizer):
    """Shuffled among few labelled sentences (en: 1,180 against 2,200 passages), a batch can hold passages
    only: its cross-entropy over no label would be 0 / 0 and poison every weight with NaN."""
    from training.presets import get_preset
    from training.train import build_trainer, training_arguments
    from training.word_loss import continuation_pieces, word_consistency_loss

    model = tiny_model(tokenizer)
    encoded = tokenizer(["Der Kurfürstendamm liegt in Berlin-Charlottenburg."], return_tensors="pt")
    unlabelled = {**encoded, "labels": torch.full_like(encoded["input_ids"], IGNORE_INDEX)}
    targs = training_arguments(tmp_path, get_preset("smoke"), eval_strategy="no")
    trainer = build_trainer(model, tokenizer, targs, [], word_consistency=2.0)
    model.train()
    loss = trainer.compute_loss(model, dict(unlabelled), num_items_in_batch=torch.tensor(0))
    term = word_consistency_loss(
        model(**encoded).logits, encoded["input_ids"], encoded["attention_mask"], continuation_pieces(tokenizer)
    )
    assert term > 0 and torch.isclose(loss, 2.0 * term, atol=1e-5)
    loss.backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--unlabelled-text"], "--unlabelled-text is read by the word-consistency term alone"),
        (["--experiment", "all", "--word-consistency", "1", "--unlabelled-text"], "has labels in every language"),
    ],
)
def test_unlabelled_text_that_nothing_would_read_is_refused_in_one_line(flags, message, capsys, tmp_path):
    from training.train import cli

    assert cli(["--preset", "smoke", "--output-dir", str(tmp_path / "run"), *flags]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not (tmp_path / "run").exists()


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
