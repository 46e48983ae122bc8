"""The run directory: the only contract between training and the cards, the Space and publishing.

A run directory is what `python -m training.train` leaves behind. `cards/` and `space/` read these
files and never import training internals. Every file is JSON except the model files.

    config.json, model.safetensors,      save_pretrained(): id2label / label2id are the PAN-X tags
    tokenizer.json, tokenizer_config.json
    trainer_state.json   Trainer state; log_history holds one training entry per epoch
                         ({"loss", "epoch", "step", ...}) and one evaluation entry per epoch
                         ({"eval_loss", "eval_f1", "eval_precision", "eval_recall", "epoch", "step"})
    hyperparameters.json flat {name: scalar}: preset, learning_rate, train_batch_size,
                         eval_batch_size, seed, optimizer, lr_scheduler_type, warmup_ratio,
                         num_epochs, weight_decay, mixed_precision, max_seq_length
    eval_results.json    {"split": "test", "test_carved_from_validation": bool,
                          "languages": {lang: {"precision", "recall", "f1", "num_sentences",
                                               "per_entity": {PER|ORG|LOC: {"precision", "recall",
                                                                            "f1", "support"}}}}}
    data_summary.json    {"experiment", "train_languages", "source", "test_carved_from_validation",
                          "carve_seed", "shuffle_seed", "fractions": {lang: f},
                          "splits": {lang: {train|validation|test: {"rows", "entities": {PER, ORG, LOC}}}},
                          "examples": {PER|ORG|LOC: [surface strings from the training data]}}
    run_info.json        {"experiment", "model_name", "base_model", "train_languages",
                          "eval_languages", "device", "train_runtime_s", "train_samples_per_s",
                          "created_at", "command", "versions": {package: version}}
    README.md            the model card (rendered by `python -m cards.render`)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

TRAINER_STATE = "trainer_state.json"
HYPERPARAMETERS = "hyperparameters.json"
EVAL_RESULTS = "eval_results.json"
DATA_SUMMARY = "data_summary.json"
RUN_INFO = "run_info.json"
CARD = "README.md"

# Which command writes each file, for error messages that tell the user how to get it.
PRODUCED_BY: dict[str, str] = {
    TRAINER_STATE: "python -m training.train (training stage)",
    HYPERPARAMETERS: "python -m training.train (start of the run)",
    EVAL_RESULTS: "python -m training.train (evaluation stage)",
    DATA_SUMMARY: "python -m training.train (data stage)",
    RUN_INFO: "python -m training.train (end of the run)",
    "config.json": "python -m training.train (save_pretrained)",
    CARD: "python -m cards.render RUN_DIR",
}


class RunDirError(FileNotFoundError):
    """A run directory is missing, or lacks a file some consumer needs."""


def read_json(run_dir: str | Path, name: str) -> Any:
    """Read one JSON file of a run directory, naming the file and the step that makes it on failure."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise RunDirError(f"run directory {run_dir} does not exist; make one with python -m training.train")
    path = run_dir / name
    if not path.is_file():
        step = PRODUCED_BY.get(name, "python -m training.train")
        raise RunDirError(f"{path} is missing; it is written by {step}")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise RunDirError(f"{path} is not valid JSON ({err}); re-run {PRODUCED_BY.get(name, 'training')}") from err


def write_json(path: str | Path, obj: Any) -> Path:
    """Write JSON atomically (temp file + rename) so an interrupted run never leaves half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path
