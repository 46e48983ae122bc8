"""A fake but complete run directory (and results/) for card tests, plus checks any run must pass.

The numbers look like a real `de` run (book hyperparameters, 3 epochs, evaluated on de/fr/it/en)
and follow training/run_dir.py's contract. Loss and score values carry more decimals than the card
shows, so a wrong rounding or a swapped column changes the rendered text.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from huggingface_hub import ModelCard

from training.facts import ENTITY_TYPES, EXPERIMENTS, LANGUAGE_NAMES, SWISS_FRACTIONS, model_name
from training.run_dir import DATA_SUMMARY, EVAL_RESULTS, HYPERPARAMETERS, RUN_INFO, TRAINER_STATE, read_json, write_json

HYPERPARAMETERS_DE: dict[str, Any] = {
    "preset": "book",
    "learning_rate": 5e-05,
    "train_batch_size": 24,
    "eval_batch_size": 24,
    "seed": 42,
    "optimizer": "adamw_torch",
    "lr_scheduler_type": "linear",
    "warmup_ratio": 0.0,
    "num_epochs": 3,
    "weight_decay": 0.01,
    "mixed_precision": "fp16",
    "max_seq_length": 512,
}

# (epoch, step, training loss, validation loss, F1, precision, recall): 12,580 rows / 24 = 525 steps.
EPOCHS = [
    (1.0, 525, 0.265231, 0.160871, 0.816847, 0.801204, 0.833105),
    (2.0, 1050, 0.129187, 0.139432, 0.850347, 0.839911, 0.861046),
    (3.0, 1575, 0.081154, 0.136781, 0.862013, 0.853372, 0.870829),
]

# Test scores per language: (precision, recall, f1, sentences).
SCORES = {
    "de": (0.860712, 0.872388, 0.866511, 3145),
    "fr": (0.721903, 0.689240, 0.705193, 2290),
    "it": (0.703511, 0.667032, 0.684788, 840),
    "en": (0.571880, 0.603462, 0.587247, 590),
}
# Per-entity F1 offsets from the language F1, so each cell differs.
ENTITY_OFFSETS = {"PER": 0.041237, "ORG": -0.071459, "LOC": 0.023318}

EXAMPLES = {
    "PER": ["Johann Sebastian Bach", "Angela Merkel", "Jeff Dean", "Karl der Große"],
    "ORG": ["FC Bayern München", "Deutsche Bahn", "Universität Wien"],
    "LOC": ["Danziger Bucht", "Pommern", "Kalifornien"],
}


def _entities(rows: int) -> dict[str, int]:
    # Roughly the PAN-X de density: ~0.46 PER, 0.43 ORG, 0.49 LOC entities per sentence.
    return {"PER": round(rows * 0.4618), "ORG": round(rows * 0.4265), "LOC": round(rows * 0.4917)}


def _log_history() -> list[dict[str, Any]]:
    history: list[dict[str, Any]] = []
    for epoch, step, loss, eval_loss, f1, precision, recall in EPOCHS:
        history.append({"loss": loss, "grad_norm": 2.71, "learning_rate": 5e-05 * (1 - step / 1575), "epoch": epoch, "step": step})
        history.append(
            {
                "eval_loss": eval_loss,
                "eval_f1": f1,
                "eval_precision": precision,
                "eval_recall": recall,
                "eval_runtime": 9.81,
                "epoch": epoch,
                "step": step,
            }
        )
    # What Trainer appends after training: the summary, then a final evaluate() that is not an epoch.
    history.append({"train_runtime": 412.7, "train_samples_per_second": 91.4, "train_loss": 0.158524, "epoch": 3.0, "step": 1575})
    history.append({"eval_loss": 0.136781, "eval_f1": 0.862013, "epoch": 3.0, "step": 1575})
    return history


def write_fake_run_dir(run_dir: Path, experiment: str = "de", base_model: str = "xlm-roberta-base") -> Path:
    """Write the five JSON files of a finished run (no model weights: cards never load the model)."""
    run_dir = Path(run_dir)
    train_languages = list(EXPERIMENTS[experiment])
    eval_languages = list(SCORES)
    splits: dict[str, dict[str, Any]] = {}
    for lang in eval_languages:
        test_rows = SCORES[lang][3]
        splits[lang] = {"test": {"rows": test_rows, "entities": _entities(test_rows)}}
        if lang in train_languages:
            train_rows = int(SWISS_FRACTIONS[lang] * 20000)
            splits[lang] = {
                "train": {"rows": train_rows, "entities": _entities(train_rows)},
                "validation": {"rows": test_rows, "entities": _entities(test_rows)},
                **splits[lang],
            }
    write_json(run_dir / HYPERPARAMETERS, HYPERPARAMETERS_DE)
    write_json(run_dir / TRAINER_STATE, {"global_step": 1575, "epoch": 3.0, "log_history": _log_history()})
    write_json(
        run_dir / EVAL_RESULTS,
        {
            "split": "test",
            "test_carved_from_validation": True,
            "languages": {
                lang: {
                    "precision": precision,
                    "recall": recall,
                    "f1": f1,
                    "num_sentences": sentences,
                    "per_entity": {
                        entity: {
                            "precision": round(precision + offset, 6),
                            "recall": round(recall + offset, 6),
                            "f1": round(f1 + offset, 6),
                            "support": _entities(sentences)[entity],
                        }
                        for entity, offset in ENTITY_OFFSETS.items()
                    },
                }
                for lang, (precision, recall, f1, sentences) in SCORES.items()
            },
        },
    )
    write_json(
        run_dir / DATA_SUMMARY,
        {
            "experiment": experiment,
            "train_languages": train_languages,
            "source": "/work/shared/data/panx (offline parquet)",
            "test_carved_from_validation": True,
            "carve_seed": 42,
            "shuffle_seed": 0,
            "fractions": {lang: SWISS_FRACTIONS[lang] for lang in train_languages},
            "splits": splits,
            "examples": EXAMPLES,
        },
    )
    write_json(
        run_dir / RUN_INFO,
        {
            "experiment": experiment,
            "model_name": model_name(experiment, base_model),
            "base_model": base_model,
            "train_languages": train_languages,
            "eval_languages": eval_languages,
            "device": "cuda (NVIDIA H100 80GB HBM3)",
            "train_runtime_s": 412.7,
            "train_samples_per_s": 91.4,
            "created_at": "2025-01-15T10:32:07+00:00",
            "command": ["python", "-m", "training.train", "--experiment", experiment],
            "versions": {"transformers": "5.23.0", "torch": "2.13.0", "datasets": "4.1.0", "huggingface_hub": "2.4.0", "seqeval": "1.2.2"},
        },
    )
    return run_dir


# model -> language -> F1, as results/f1_matrix.json holds it (other experiments' models).
F1_MATRIX = {
    "de": {"de": 0.866511, "fr": 0.705193, "it": 0.684788, "en": 0.587247},
    "de-fr": {"de": 0.864927, "fr": 0.862416, "it": 0.801155, "en": 0.668302},
    "all": {"de": 0.865841, "fr": 0.861193, "it": 0.849961, "en": 0.776504},
}
PLOT_FILES = ("f1_matrix.png", "fr_learning_curve.png", "error_analysis/confusion_matrix.png")


def write_fake_results_dir(results_dir: Path, f1_matrix: bool = True, plots: bool = True) -> Path:
    results_dir = Path(results_dir)
    results_dir.mkdir(parents=True, exist_ok=True)
    if f1_matrix:
        write_json(results_dir / "f1_matrix.json", F1_MATRIX)
    if plots:
        for name in PLOT_FILES:
            (results_dir / name).parent.mkdir(parents=True, exist_ok=True)
            (results_dir / name).write_bytes(b"\x89PNG\r\n\x1a\n")  # only existence matters to the card
    return results_dir


# ---- Checks any rendered card must pass, whatever run it came from (fake or a real smoke run). ----

def section(text: str, heading: str) -> str:
    """The body of a Markdown section, up to the next heading of the same or a higher level."""
    level = heading.split(" ")[0]
    match = re.search(rf"^{re.escape(heading)}\n(.*?)(?=^#{{1,{len(level)}}} |\Z)", text, re.M | re.S)
    assert match, f"no section {heading!r} in the card"
    return match.group(1)


def table_rows(text: str) -> list[list[str]]:
    """Cells of the first Markdown table in text, without the header and separator rows."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("|"))
    table = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        table.append([c.strip() for c in line.strip().strip("|").split(" | ")])
    return table[2:]


def expected_epoch_rows(run_dir: Path) -> list[list[str]]:
    """The training-results rows as the card should display trainer_state.json (written independently
    of cards/context.py on purpose: the two must agree)."""
    rows, loss = [], None
    for entry in read_json(run_dir, TRAINER_STATE)["log_history"]:
        if "train_runtime" in entry:
            break
        if "loss" in entry:
            loss = entry["loss"]
        if "eval_loss" in entry:
            shown_loss = "No log" if loss is None else f"{loss:.4f}"
            rows.append([shown_loss, f"{entry['epoch']:.1f}", str(entry["step"]), f"{entry['eval_loss']:.4f}", f"{entry['eval_f1']:.4f}"])
            loss = None
    return rows


def expected_hyperparameter_lines(run_dir: Path) -> list[str]:
    return [f"- {name}: {'not set' if value is None else value}" for name, value in read_json(run_dir, HYPERPARAMETERS).items()]


def assert_card_matches_run(text: str, run_dir: Path) -> None:
    """The card parses, and every number it takes from the run directory is the run's, as displayed."""
    card = ModelCard(text)
    run_info = read_json(run_dir, RUN_INFO)
    evaluation = read_json(run_dir, EVAL_RESULTS)

    # model-index: one result (task + dataset) per evaluated language, values exactly eval_results.json.
    [index] = card.data.to_dict()["model-index"]
    assert index["name"] == run_info["model_name"]
    by_config = {result["dataset"]["config"]: result for result in index["results"]}
    assert sorted(by_config) == sorted(f"PAN-X.{lang}" for lang in evaluation["languages"])
    assert len(index["results"]) == len(evaluation["languages"])
    for lang, scores in evaluation["languages"].items():
        result = by_config[f"PAN-X.{lang}"]
        assert result["task"]["type"] == "token-classification"
        assert result["dataset"]["type"] == "google/xtreme"
        assert result["dataset"]["split"] == "test"
        values = {metric["type"]: metric["value"] for metric in result["metrics"]}
        assert values == {"f1": scores["f1"], "precision": scores["precision"], "recall": scores["recall"]}
    assert card.data.language == list(run_info["train_languages"])

    # Training results: one row per epoch, equal to trainer_state.json as displayed.
    results = section(text, "### Training results")
    assert table_rows(results) == expected_epoch_rows(run_dir)
    assert "| Training Loss | Epoch | Step | Validation Loss | F1 |" in results

    # Hyperparameters: exactly hyperparameters.json, in its order.
    hyper = section(text, "### Training hyperparameters")
    assert [line for line in hyper.splitlines() if line.startswith("- ")] == expected_hyperparameter_lines(run_dir)

    # Headline F1 per language, and the evaluation table.
    for lang, scores in evaluation["languages"].items():
        assert re.search(rf"^- {LANGUAGE_NAMES[lang]}: {scores['f1']:.4f}\b", text, re.M), lang
    rows = {row[0]: row for row in table_rows(section(text, "## Evaluation results"))}
    for lang, scores in evaluation["languages"].items():
        row = rows[LANGUAGE_NAMES[lang]]
        assert row[3:6] == [f"{scores['precision']:.4f}", f"{scores['recall']:.4f}", f"{scores['f1']:.4f}"]
        per_entity = {r[1]: r for r in table_rows(section(text, "### Per-entity scores")) if r[0] == LANGUAGE_NAMES[lang]}
        for entity in ENTITY_TYPES:
            want = scores["per_entity"][entity]
            assert per_entity[entity][2:] == [
                f"{want['precision']:.4f}", f"{want['recall']:.4f}", f"{want['f1']:.4f}", f"{want['support']:,}",
            ]

    assert_clean(text)


FORBIDDEN = [r"\bNone\b", r"\bTODO\b", r"\bnan\b", r"\{\{", r"\{%", r"\bundefined\b"]


def assert_clean(text: str) -> None:
    """No leaked Python None, NaN, placeholder or unrendered Jinja."""
    for pattern in FORBIDDEN:
        found = re.search(pattern, text, re.I if "nan" in pattern else 0)
        assert not found, f"card contains {found.group(0)!r}: ...{text[max(found.start() - 80, 0):found.end() + 80]}..."
