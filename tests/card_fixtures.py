"""A fake but complete run directory (and the study's results/) for card and report tests, plus checks any
card must pass.

The numbers look like a real offline `de` run (preset e5: a LoRA adapter on the offline
multilingual-e5-small, 5 epochs, evaluated on every language) or, with preset="book", the book's full
fine-tune of xlm-roberta-base, and follow core/run_dir.py's contract. Loss and score values carry
more decimals than the card shows, so a wrong rounding or a swapped column changes the rendered text.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from huggingface_hub import ModelCard

from core import results as res
from core.facts import (
    BOOK_BASE_MODEL,
    CARVE_SEED,
    ENTITY_TYPES,
    EXPERIMENTS,
    LANGUAGE_NAMES,
    LANGUAGES,
    OFFLINE_BASE_ID,
    SHUFFLE_SEED,
    SWISS_FRACTIONS,
    dataset_config,
    join_names,
    model_name,
)
from core.files import write_json
from core.run_dir import (
    DATA_SUMMARY,
    EVAL_RESULTS,
    HYPERPARAMETERS,
    RUN_INFO,
    TRAINER_STATE,
    read_json,
)

# hyperparameters.json as training.train writes it, for the two presets the fixture knows.
HYPERPARAMETERS_BY_PRESET: dict[str, dict[str, Any]] = {
    "e5": {
        "preset": "e5",
        "fine_tuning": "LoRA adapter (rank 16) + full classifier head",
        "learning_rate": 0.0005,
        "train_batch_size": 24,
        "eval_batch_size": 64,
        "seed": 42,
        "optimizer": "AdamW (torch, fused) with betas=(0.9,0.999) and epsilon=1e-08",
        "lr_scheduler_type": "linear",
        "warmup_ratio": 0.06,
        "num_epochs": 5,
        "weight_decay": 0.01,
        "mixed_precision": "bf16",
        "max_seq_length": 256,
        "label_all_subwords": True,
        "lora_rank": 16,
        "lora_alpha": 32,
        "lora_dropout": 0.1,
        "lora_target_modules": "query,key,value,dense",
        "init": "pretrained",
    },
    "book": {
        "preset": "book",
        "fine_tuning": "full",
        "learning_rate": 5e-05,
        "train_batch_size": 24,
        "eval_batch_size": 64,
        "seed": 42,
        "optimizer": "AdamW (torch, fused) with betas=(0.9,0.999) and epsilon=1e-08",
        "lr_scheduler_type": "linear",
        "warmup_ratio": 0.0,
        "num_epochs": 3,
        "weight_decay": 0.01,
        "mixed_precision": "bf16",
        "max_seq_length": 256,
        "label_all_subwords": False,
        "lora_rank": None,
        "lora_alpha": None,
        "lora_dropout": None,
        "lora_target_modules": None,
        "init": "pretrained",
    },
}
BASE_BY_PRESET = {"e5": OFFLINE_BASE_ID, "book": BOOK_BASE_MODEL}
# run_info.json "parameters": a PEFT model in training (adapter + head) or a full model.
PARAMETERS_BY_PRESET = {
    "e5": {"total": 118_985_254, "trainable": 1_329_799},
    "book": {"total": 277_458_439, "trainable": 277_458_439},
}

# (epoch, step, training loss, validation loss, F1): 12,580 rows / 24 = 525 steps per epoch.
EPOCHS = [
    (1.0, 525, 0.265231, 0.160871, 0.816847),
    (2.0, 1050, 0.129187, 0.139432, 0.850347),
    (3.0, 1575, 0.081154, 0.136781, 0.862013),
]

# Test scores per language: (precision, recall, f1, sentences, F1 95% interval).
SCORES = {
    "de": (0.860712, 0.872388, 0.866511, 3145, (0.8581, 0.8749)),
    "fr": (0.721903, 0.689240, 0.705193, 1145, (0.6871, 0.7233)),
    "it": (0.703511, 0.667032, 0.684788, 420, (0.6512, 0.7164)),
    "en": (0.571880, 0.603462, 0.587247, 295, (0.5406, 0.6321)),
}
# Per-entity F1 offsets from the language F1, so each cell differs.
ENTITY_OFFSETS = {"PER": 0.041237, "ORG": -0.071459, "LOC": 0.023318}

EXAMPLES = {
    "PER": ["Johann Sebastian Bach", "Angela Merkel", "Jeff Dean", "Karl der Große"],
    "ORG": ["FC Bayern München", "Deutsche Bahn", "Universität Wien"],
    "LOC": ["Danziger Bucht", "Pommern", "Kalifornien"],
}
TRAINING_MACHINE = "/srv/panx-train"  # paths in run_info's command that no card may show


def _entities(rows: int) -> dict[str, int]:
    # Roughly the PAN-X de density: ~0.46 PER, 0.43 ORG, 0.49 LOC entities per sentence.
    return {"PER": round(rows * 0.4618), "ORG": round(rows * 0.4265), "LOC": round(rows * 0.4917)}


def _log_history() -> list[dict[str, Any]]:
    history: list[dict[str, Any]] = []
    for epoch, step, loss, eval_loss, f1 in EPOCHS:
        history.append(
            {"loss": loss, "grad_norm": 2.71, "learning_rate": 5e-05 * (1 - step / 1575), "epoch": epoch, "step": step}
        )
        history.append(
            {
                "eval_loss": eval_loss,
                "eval_f1": f1,
                "eval_precision": f1 - 0.01,
                "eval_recall": f1 + 0.01,
                "eval_runtime": 9.81,
                "epoch": epoch,
                "step": step,
            }
        )
    # What Trainer appends after training: the summary, then a final evaluate() that is not an epoch.
    history.append(
        {"train_runtime": 412.7, "train_samples_per_second": 91.4, "train_loss": 0.158524, "epoch": 3.0, "step": 1575}
    )
    history.append({"eval_loss": 0.136781, "eval_f1": 0.862013, "epoch": 3.0, "step": 1575})
    return history


def _language_scores(precision, recall, f1, sentences, interval) -> dict[str, Any]:
    return {
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "per_entity": {
            entity: {
                "precision": round(precision + offset, 6),
                "recall": round(recall + offset, 6),
                "f1": round(f1 + offset, 6),
                "support": _entities(sentences)[entity],
            }
            for entity, offset in ENTITY_OFFSETS.items()
        },
        "f1_ci95": list(interval),
        "num_sentences": sentences,
    }


def write_fake_run_dir(
    run_dir: Path, experiment: str = "de", preset: str = "e5", base_model: str | None = None
) -> Path:
    """Write the five JSON files of a finished run (no model weights: cards never load the model)."""
    run_dir = Path(run_dir)
    base_model = base_model or BASE_BY_PRESET[preset]
    train_languages = list(EXPERIMENTS[experiment])
    splits = {}
    for lang in LANGUAGES:
        test_rows = SCORES[lang][3]
        splits[lang] = {
            "train": {"rows": 4 * test_rows, "entities": _entities(4 * test_rows)},
            "validation": {"rows": test_rows, "entities": _entities(test_rows)},
            "test": {"rows": test_rows, "entities": _entities(test_rows)},
        }
    write_json(run_dir / HYPERPARAMETERS, HYPERPARAMETERS_BY_PRESET[preset])
    write_json(
        run_dir / TRAINER_STATE,
        {"global_step": 1575, "max_steps": 1575, "epoch": 3.0, "num_train_epochs": 3, "log_history": _log_history()},
    )
    write_json(
        run_dir / EVAL_RESULTS,
        {
            "split": "test",
            "test_carved_from_validation": True,
            "languages": {lang: _language_scores(*scores) for lang, scores in SCORES.items()},
        },
    )
    write_json(
        run_dir / DATA_SUMMARY,
        {
            "experiment": experiment,
            "train_languages": train_languages,
            "source": "parquet",
            "test_carved_from_validation": True,
            "carve_seed": CARVE_SEED,
            "shuffle_seed": SHUFFLE_SEED,
            "fractions": dict(SWISS_FRACTIONS),
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
            "adapter": HYPERPARAMETERS_BY_PRESET[preset]["lora_rank"] is not None,
            "parameters": PARAMETERS_BY_PRESET[preset],
            "train_languages": train_languages,
            "eval_languages": list(SCORES),
            "device": "cuda (NVIDIA H100 80GB HBM3)",
            "train_runtime_s": 412.7,
            "train_samples_per_s": 91.4,
            "created_at": "2025-01-15T10:32:07+00:00",
            "command": f"python -m training.train --experiment {experiment} --preset {preset} "
            f"--data-dir {TRAINING_MACHINE}/data/panx --output-dir={TRAINING_MACHINE}/runs/{experiment}",
            "versions": {
                "transformers": "5.24.0",
                "torch": "2.13.0",
                "datasets": "5.2.0",
                "peft": "0.21.2",
                "seqeval": "1.2.2",
            },
        },
    )
    return run_dir


# experiment -> language -> F1, as results/f1_matrix.json holds it (rounded to 4 decimals, like the study).
F1_MATRIX = {
    "de": {lang: round(scores[2], 4) for lang, scores in SCORES.items()},
    "de-fr": {"de": 0.8649, "fr": 0.8624, "it": 0.8012, "en": 0.6683},
    "fr": {"de": 0.7012, "fr": 0.8511, "it": 0.7904, "en": 0.6231},
    "it": {"de": 0.6833, "fr": 0.7459, "it": 0.8187, "en": 0.6013},
    "en": {"de": 0.5809, "fr": 0.6112, "it": 0.6318, "en": 0.7071},
    "all": {"de": 0.8658, "fr": 0.8612, "it": 0.8500, "en": 0.7765},
}
ADAPTER_COST = {
    "model": "de",
    "preset": "e5",
    "f1": F1_MATRIX["de"],
    "trainable_parameters": 1_329_799,
    "seed": {"seed": 43, "f1": {"de": 0.8641, "fr": 0.7107, "it": 0.6791, "en": 0.5962}},
    "full_fine_tune": {
        "preset": "e5-full",
        "f1": {"de": 0.8793, "fr": 0.7204, "it": 0.7011, "en": 0.6102},
        "total": 117_658_375,
        "trainable": 117_658_375,
    },
}
ERROR_ANALYSIS = {
    "model": "de",
    "language": "de",
    "words": 30780,
    "mean_loss": 0.2892,
    "per_label": [
        {"label": "I-LOC", "count": 685, "mean": 1.4018, "sum": 960.2607},
        {"label": "B-ORG", "count": 1428, "mean": 1.1675, "sum": 1667.2546},
        {"label": "I-ORG", "count": 2031, "mean": 1.1065, "sum": 2247.3044},
        {"label": "O", "count": 21596, "mean": 0.0584, "sum": 1262.142},
    ],
    "top_confusions": [
        {"gold": "I-ORG", "predicted": "O", "rate": 0.2311},
        {"gold": "B-ORG", "predicted": "B-LOC", "rate": 0.1032},
        {"gold": "I-LOC", "predicted": "I-ORG", "rate": 0.0871},
    ],
}
CURVE = {
    "zero_shot_f1": F1_MATRIX["de"]["fr"],
    "zero_shot_model": "de",
    "points": [
        {"train_samples": 250, "f1": 0.6532},
        {"train_samples": 500, "f1": 0.7318},
        {"train_samples": 1000, "f1": 0.7845},
        {"train_samples": 2000, "f1": 0.8211},
        {"train_samples": 4000, "f1": 0.8436},
    ],
}


# results/paragraph_check.json (workflow.paragraph_check): F1 of the plain pipeline on whole documents, one
# sentence at a time and the Space's tagger, per model. The weights are no fake run's: no card quotes them
# unless a test writes this run's checksum in. `en` scores higher on paragraphs, so "every model" is not a given.
PARAGRAPH_F1 = {  # experiment: (paragraph, sentence, space, share of spans cutting a word)
    "de": (0.52714, 0.78683, 0.73941, 0.18286),
    "de-fr": (0.56123, 0.82371, 0.76702, 0.15674),
    "fr": (0.49218, 0.73982, 0.73361, 0.22563),
    "it": (0.45537, 0.75574, 0.72552, 0.24059),
    "en": (0.77319, 0.76072, 0.72821, 0.02044),
    "all": (0.55242, 0.83627, 0.79504, 0.14421),
}
PARAGRAPH_DOCUMENTS = {  # language: (documents, sentences, characters of each, entities)
    "de": (2, 115, [2431, 6383], 163),
    "fr": (2, 131, [2246, 5582], 196),
    "it": (1, 58, [2429], 88),
    "en": (2, 133, [2400, 6020], 252),
}


def paragraph_check(weights: dict[str, str] | None = None) -> dict[str, Any]:
    """results/paragraph_check.json as the study writes it; weights: experiment -> the checksum it measured."""
    weights = weights or {}
    documents = sum(docs for docs, *_ in PARAGRAPH_DOCUMENTS.values())
    return {
        "description": "documents of running text from PAN-X validation sentences (not the carved test half)",
        "command": "python -m workflow.paragraph_check --documents 2 --min-tokens 600 --max-tokens 1500",
        "languages": list(LANGUAGES),
        "documents": {
            lang: {"documents": docs, "sentences": sentences, "characters": characters, "entities": entities}
            for lang, (docs, sentences, characters, entities) in PARAGRAPH_DOCUMENTS.items()
        },
        "models": {
            experiment: {
                "weights": weights.get(experiment, f"{i:016x}"),
                "window": 512,
                "stride": 128,
                "documents": documents,
                "entities": 699,
                "sentence_f1": sentence,
                "paragraph_f1": paragraph,
                "space_f1": space,
                "paragraph_spans": 700,
                "spans_inside_words": round(700 * cut) + 9,
                "spans_inside_words_share": round((round(700 * cut) + 9) / 700, 4),
                "spans_cutting_letters": round(700 * cut),
                "spans_cutting_letters_share": cut,
                "sentence_spans_cutting_letters_share": round(cut / 8, 4),
                "letter_cut_examples": [],
                "by_language": {},
            }
            for i, (experiment, (paragraph, sentence, space, cut)) in enumerate(PARAGRAPH_F1.items())
        },
    }


def write_fake_results_dir(results_dir: Path, f1_matrix: bool = True) -> Path:
    """The study's results as the cards and the report read them (f1_matrix=False: a study without its matrix yet)."""
    results_dir = Path(results_dir)
    results_dir.mkdir(parents=True, exist_ok=True)
    if f1_matrix:
        write_json(results_dir / res.F1_MATRIX_JSON, F1_MATRIX)
    write_json(results_dir / res.ADAPTER_COST_JSON, ADAPTER_COST)
    write_json(results_dir / res.ERROR_ANALYSIS_JSON, ERROR_ANALYSIS)
    write_json(results_dir / res.CURVE_JSON, CURVE)
    write_json(results_dir / res.PARAGRAPH_CHECK_JSON, paragraph_check())
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
            rows.append(
                [
                    shown_loss,
                    f"{entry['epoch']:.1f}",
                    str(entry["step"]),
                    f"{entry['eval_loss']:.4f}",
                    f"{entry['eval_f1']:.4f}",
                ]
            )
            loss = None
    return rows


def expected_hyperparameter_lines(run_dir: Path) -> list[str]:
    return [
        f"- {name}: {'not set' if value is None else value}"
        for name, value in read_json(run_dir, HYPERPARAMETERS).items()
    ]


def ci(interval: list[float]) -> str:
    return f"{interval[0]:.4f}–{interval[1]:.4f}"


# The sections of transformers' Trainer card, in its order, then what panx-ner adds for one model.
TRAINER_SECTIONS = [
    "## Model description",
    "## Intended uses & limitations",
    "## Training and evaluation data",
    "## Training procedure",
    "### Training hyperparameters",
    "### Training results",
    "### Framework versions",
]
ADDED_SECTIONS = ["## Evaluation results", "### Per-entity scores", "## How to use", "## Limitations"]
MAX_WORDS = 1200
CODE_BLOCK = re.compile(r"^```.*?^```$", re.M | re.S)


def body_words(text: str) -> int:
    """Words of the card's body (after the YAML header) outside code blocks, as `wc -w` counts them."""
    body = text.split("\n---\n", 1)[1]
    return len(CODE_BLOCK.sub("", body).split())


def headings(text: str) -> list[str]:
    return re.findall(r"^#{2,3} .*$", CODE_BLOCK.sub("", text), re.M)


def assert_card_layout(text: str) -> None:
    """The Trainer card's sections complete and in order, then panx-ner's, within the word budget."""
    found = headings(text)
    sections = [heading for heading in found if heading in TRAINER_SECTIONS + ADDED_SECTIONS]
    assert sections == TRAINER_SECTIONS + ADDED_SECTIONS, found
    assert body_words(text) <= MAX_WORDS, f"{body_words(text)} words outside code blocks"


def assert_card_matches_run(text: str, run_dir: Path) -> None:
    """The card parses, and every number it takes from the run directory is the run's, as displayed."""
    card = ModelCard(text)
    run_info = read_json(run_dir, RUN_INFO)
    evaluation = read_json(run_dir, EVAL_RESULTS)
    summary = read_json(run_dir, DATA_SUMMARY)
    carved = summary["test_carved_from_validation"]

    # model-index: one result (task + dataset) per evaluated language, values exactly eval_results.json,
    # on the split the sentences really come from.
    [index] = card.data.to_dict()["model-index"]
    assert index["name"] == run_info["model_name"]
    by_config = {result["dataset"]["config"]: result for result in index["results"]}
    assert sorted(by_config) == sorted(dataset_config(lang) for lang in evaluation["languages"])
    assert len(index["results"]) == len(evaluation["languages"])
    for lang, scores in evaluation["languages"].items():
        result = by_config[dataset_config(lang)]
        assert result["task"]["type"] == "token-classification"
        assert result["dataset"]["type"] == "google/xtreme"
        assert result["dataset"]["split"] == ("validation" if carved else "test")
        args = result["dataset"]["args"]
        assert (
            args["subsample_fraction"] == summary["fractions"][lang]
            and args["subsample_seed"] == summary["shuffle_seed"]
        )
        if carved:
            assert (
                args["carved_from"] == "validation"
                and args["half"] == "held-out"
                and args["carve_seed"] == summary["carve_seed"]
            )
            assert f"held-out half of validation (carve seed {summary['carve_seed']})" in result["dataset"]["name"]
        values = {metric["type"]: metric["value"] for metric in result["metrics"]}
        assert values == {"f1": scores["f1"], "precision": scores["precision"], "recall": scores["recall"]}
        assert all("seqeval" in metric["name"] for metric in result["metrics"])
    assert card.data.language == list(run_info["train_languages"])

    # The Trainer's opening lines: the last evaluation's loss and F1, on the training languages' validation sentences.
    epochs = expected_epoch_rows(run_dir)
    intro = text.split("## Model description")[0]
    validation = join_names([LANGUAGE_NAMES[lang] for lang in run_info["train_languages"]])
    assert f"evaluation set (the {validation} validation sentences" in intro
    assert f"\n- Loss: {epochs[-1][3]}\n- F1: {epochs[-1][4]}\n" in intro

    # Training results: one row per epoch, equal to trainer_state.json as displayed.
    results = section(text, "### Training results")
    assert table_rows(results) == epochs
    assert "| Training Loss | Epoch | Step | Validation Loss | F1 |" in results
    assert "The model kept is the last epoch's" in results

    # Hyperparameters: exactly hyperparameters.json, in its order.
    hyper = section(text, "### Training hyperparameters")
    assert [line for line in hyper.splitlines() if line.startswith("- ")] == expected_hyperparameter_lines(run_dir)

    # Parameter counts from run_info.json, training sentences from data_summary.json.
    description = section(text, "## Model description")
    for count in run_info["parameters"].values():
        assert f"{count:,}" in description
    data = " ".join(section(text, "## Training and evaluation data").split())
    trained = join_names(
        [f"{summary['splits'][lang]['train']['rows']:,} {LANGUAGE_NAMES[lang]}" for lang in run_info["train_languages"]]
    )
    assert f"It was trained on {trained} sentences" in data
    unlabelled_sentences = summary.get("unlabelled_sentences", {})
    read = [f"{rows:,} {LANGUAGE_NAMES[lang]}" for lang, rows in unlabelled_sentences.items()]
    if read:
        assert f" It also read {join_names(read)} training sentences without their labels" in data
    else:
        assert " It also read " not in data

    # The evaluation table (this model's row of the cross-lingual table) and the per-entity scores.
    rows = {row[0]: row for row in table_rows(section(text, "## Evaluation results"))}
    assert list(rows) == [LANGUAGE_NAMES[lang] for lang in LANGUAGES if lang in evaluation["languages"]]
    per_entity = {row[0]: row[1:] for row in table_rows(section(text, "### Per-entity scores"))}
    for lang, scores in evaluation["languages"].items():
        row = rows[LANGUAGE_NAMES[lang]]
        assert row[1] == (
            "yes"
            if lang in run_info["train_languages"]
            else "text only"
            if lang in unlabelled_sentences
            else "no (zero-shot)"
        )
        assert row[2:] == [
            f"{scores['num_sentences']:,}",
            f"{scores['precision']:.4f}",
            f"{scores['recall']:.4f}",
            f"{scores['f1']:.4f}",
            ci(scores["f1_ci95"]),
        ]
        assert per_entity[LANGUAGE_NAMES[lang]] == [
            f"{scores['per_entity'][entity]['f1']:.4f} ({scores['per_entity'][entity]['support']:,})"
            for entity in ENTITY_TYPES
        ]

    assert_card_layout(text)
    assert_clean(text)


FORBIDDEN = [
    r"\bNone\b",
    r"\bTODO\b",
    r"\bnan\b",
    r"\{\{",
    r"\{%",
    r"\bundefined\b",
    r"local_files_only",
    r"is_local",
    # a machine path: an absolute folder of a training or test machine
    r"(?<![\w.:/])/(?:tmp|work|home|root|srv|mnt|var|Users|private)/",
]


def assert_clean(text: str) -> None:
    """No leaked Python None, NaN, placeholder, unrendered Jinja, loader flag or machine path; no double space
    between words outside code blocks (a template's line break gone wrong)."""
    for pattern in FORBIDDEN:
        found = re.search(pattern, text, re.I if "nan" in pattern else 0)
        assert not found, (
            f"card contains {found.group(0)!r}: ...{text[max(found.start() - 80, 0) : found.end() + 80]}..."
        )
    doubled = [line for line in CODE_BLOCK.sub("", text).splitlines() if re.search(r"\S  +\S", line)]
    assert not doubled, doubled
