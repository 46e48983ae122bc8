"""The run directory: the only contract between training and the cards, the Space and publishing.

A run directory is what `python -m training.train` leaves behind. `cards/`, `space/` and the
workflow read these files and never import training internals. Every file is JSON except the model.

    the model, one of:
      adapter_config.json,               a PEFT LoRA adapter (+ classifier head); its base is named by
      adapter_model.safetensors          base_model_name_or_path, whose tokenizer it uses
      config.json, model.safetensors,    a full model (save_pretrained): id2label / label2id are the
      tokenizer.json, tokenizer_config.json   PAN-X tags
    trainer_state.json   Trainer state; log_history holds one training entry ({"loss", "epoch", "step",
                         ...}) and one evaluation entry ({"eval_loss", "eval_f1", "eval_precision",
                         "eval_recall", "epoch", "step"}) per epoch, or every k epochs where a small
                         training set trains k times the preset's epochs (Preset.min_train_steps)
    hyperparameters.json flat {name: scalar or null}: preset, fine_tuning, learning_rate,
                         train_batch_size, eval_batch_size, seed, optimizer, lr_scheduler_type,
                         warmup_ratio, num_epochs, min_train_steps, weight_decay, mixed_precision, max_seq_length,
                         label_all_subwords, word_consistency, lora_rank, lora_alpha, lora_dropout,
                         lora_target_modules, init
    eval_results.json    {"split": "test", "test_carved_from_validation": bool,
                          "languages": {lang: {"precision", "recall", "f1", "f1_ci95": [low, high],
                                               "num_sentences",
                                               "per_entity": {PER|ORG|LOC: {"precision", "recall",
                                                                            "f1", "support"}}}}}
    data_summary.json    {"experiment", "train_languages", "source" ("hub" or "parquet"),
                          "test_carved_from_validation", "carve_seed", "shuffle_seed", "fractions": {lang: f},
                          "splits": {lang: {train|validation|test: {"rows", "entities": {PER, ORG, LOC}}}},
                          "examples": {PER|ORG|LOC: [surface strings from the training data]}}
    run_info.json        {"experiment", "model_name", "base_model", "adapter": bool,
                          "parameters": {"total", "trainable"}, "train_languages", "eval_languages",
                          "device", "train_runtime_s", "train_samples_per_s", "created_at", "command",
                          "versions": {package: version}}; written last: a run without it is unfinished
    README.md            the model card (rendered by `python -m cards.render`)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from core.cli import InputError


TRAINER_STATE = "trainer_state.json"
HYPERPARAMETERS = "hyperparameters.json"
EVAL_RESULTS = "eval_results.json"
DATA_SUMMARY = "data_summary.json"
RUN_INFO = "run_info.json"
CARD = "README.md"
ADAPTER_CONFIG = "adapter_config.json"
ADAPTER_WEIGHTS = "adapter_model.safetensors"
MODEL_CONFIG = "config.json"
MODEL_WEIGHTS = "model.safetensors"
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json")
ADAPTER_FILES = (ADAPTER_CONFIG, ADAPTER_WEIGHTS)
FULL_MODEL_FILES = (MODEL_CONFIG, MODEL_WEIGHTS, *TOKENIZER_FILES)
LOG_FILES = (TRAINER_STATE, HYPERPARAMETERS, EVAL_RESULTS, DATA_SUMMARY, RUN_INFO)

TRAIN_COMMAND = "python -m training.train"
# Which command writes each file, for error messages that tell the user how to get it.
PRODUCED_BY: dict[str, str] = {
    TRAINER_STATE: f"{TRAIN_COMMAND} (training stage)",
    HYPERPARAMETERS: f"{TRAIN_COMMAND} (start of the run)",
    EVAL_RESULTS: f"{TRAIN_COMMAND} (evaluation stage)",
    DATA_SUMMARY: f"{TRAIN_COMMAND} (data stage)",
    RUN_INFO: f"{TRAIN_COMMAND} (end of the run)",
    MODEL_CONFIG: f"{TRAIN_COMMAND} (save_pretrained)",
    ADAPTER_CONFIG: f"{TRAIN_COMMAND} (save_pretrained)",
    CARD: "python -m cards.render RUN_DIR",
}


# Loading arguments that save_pretrained writes back into tokenizer_config.json: they describe how
# this machine loaded the base, not the tokenizer, and would mislead whoever loads a published copy.
LOADER_FLAGS = ("is_local", "local_files_only", "cache_dir", "_commit_hash")


def scrub_loader_flags(path: Path) -> None:
    """Remove LOADER_FLAGS from a saved tokenizer_config.json (atomically)."""
    from core.files import write_json

    if path.is_file():
        config = json.loads(path.read_text(encoding="utf-8"))
        write_json(path, {k: v for k, v in config.items() if k not in LOADER_FLAGS})


class RunDirError(InputError, FileNotFoundError):
    """A run directory is missing, unfinished, or lacks a file some consumer needs."""


def is_adapter(run_dir: str | Path) -> bool:
    return (Path(run_dir) / ADAPTER_CONFIG).is_file()


def model_files(run_dir: str | Path) -> tuple[str, ...]:
    """The files that hold the model of this run directory (adapter or full model)."""
    return ADAPTER_FILES if is_adapter(run_dir) else FULL_MODEL_FILES


def weights_checksum(run_dir: str | Path) -> str:
    """The first 16 hex digits of the SHA-256 of the model's weights file: which trained model a result
    measured (the same in a run directory and in its bundled or published copy)."""
    from core.files import sha256_of

    return sha256_of(Path(run_dir) / (ADAPTER_WEIGHTS if is_adapter(run_dir) else MODEL_WEIGHTS))[:16]


def is_finished(run_dir: str | Path) -> bool:
    """A finished run has its model and every log; run_info.json is written last."""
    run_dir = Path(run_dir)
    return all((run_dir / name).is_file() for name in (*model_files(run_dir), *LOG_FILES))


def check_finished(run_dir: str | Path) -> Path:
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise RunDirError(f"run directory {run_dir} does not exist; make one with {TRAIN_COMMAND}")
    missing = [name for name in (*model_files(run_dir), *LOG_FILES) if not (run_dir / name).is_file()]
    if missing:
        raise RunDirError(
            f"run directory {run_dir} is unfinished (missing {', '.join(missing)}); finish it with "
            f"{TRAIN_COMMAND} --resume (same arguments) or train it again"
        )
    return run_dir


def read_json(run_dir: str | Path, name: str) -> Any:
    """Read one JSON file of a run directory, naming the file and the step that makes it on failure."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise RunDirError(f"run directory {run_dir} does not exist; make one with {TRAIN_COMMAND}")
    path = run_dir / name
    if not path.is_file():
        step = PRODUCED_BY.get(name, TRAIN_COMMAND)
        raise RunDirError(f"{path} is missing; it is written by {step}")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise RunDirError(f"{path} is not valid JSON ({err}); re-run {PRODUCED_BY.get(name, 'training')}") from err
