"""Read what a card needs from a run directory (and results/), and check it follows the contract.

All checks happen here, so the context and metadata builders can index the JSON freely and every
error names the file at fault and the step that writes it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from training.facts import ENTITY_TYPES, HUB_NAMESPACE, LANGUAGES, OFFLINE_BASE_NAME, RESULTS_DIR, check_language
from training.run_dir import (
    DATA_SUMMARY,
    EVAL_RESULTS,
    HYPERPARAMETERS,
    PRODUCED_BY,
    RUN_INFO,
    TRAINER_STATE,
    RunDirError,
    read_json,
)

F1_MATRIX = "f1_matrix.json"

# Keys the card reads, per file (the contract in training/run_dir.py).
RUN_INFO_KEYS = (
    "experiment", "model_name", "base_model", "train_languages", "device", "train_runtime_s",
    "created_at", "command", "versions",
)
EVAL_KEYS = ("split", "languages")
EVAL_LANGUAGE_KEYS = ("precision", "recall", "f1", "num_sentences", "per_entity")
ENTITY_SCORE_KEYS = ("precision", "recall", "f1", "support")
DATA_SUMMARY_KEYS = (
    "experiment", "source", "test_carved_from_validation", "carve_seed", "shuffle_seed",
    "fractions", "splits", "examples",
)
EVAL_LOG_KEYS = ("eval_loss", "eval_f1", "epoch", "step")


class CardError(ValueError):
    """A run-directory file exists but does not follow the contract the card relies on."""


# "name" or "owner/name", as the Hub spells repo ids.
HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[A-Za-z0-9][\w.-]*)?$")


@dataclass(frozen=True)
class BaseModel:
    """The base checkpoint as the card names it: a Hub id, the folder name of a local path, or (for
    a run with no pretrained base, e.g. the smoke preset's random encoder) the run's description."""

    name: str
    is_hub_id: bool
    is_local: bool
    is_offline_base: bool  # panx-ner's own base made by `python -m training.pretrain`


@dataclass(frozen=True)
class CardInputs:
    """The parsed files a card is made from. Optional results are empty, never None."""

    run_dir: Path
    run_info: dict[str, Any]
    hyperparameters: dict[str, Any]
    trainer_state: dict[str, Any]
    eval_results: dict[str, Any]
    data_summary: dict[str, Any]
    results_dir: Path | None  # None: no results/ to draw on (no cross-lingual section, no plots)
    f1_matrix: dict[str, dict[str, float]]  # model -> language -> F1; {} without results/f1_matrix.json
    train_languages: tuple[str, ...]  # LANGUAGES order
    eval_languages: tuple[str, ...]  # the languages eval_results.json holds, LANGUAGES order
    base_model: BaseModel


def _fail(name: str, problem: str) -> CardError:
    return CardError(f"{name} {problem}; it is written by {PRODUCED_BY.get(name, 'python -m training.train')}")


def _require(obj: Any, keys: tuple[str, ...], name: str, where: str = "") -> None:
    if not isinstance(obj, dict):
        raise _fail(name, f"{where or 'top level'} is not a JSON object")
    missing = [key for key in keys if key not in obj]
    if missing:
        raise _fail(name, f"lacks {', '.join(map(repr, missing))}{' in ' + where if where else ''}")
    nulls = [key for key in keys if obj[key] is None]
    if nulls:
        # A null would print as "None" in the card.
        raise _fail(name, f"has null {', '.join(map(repr, nulls))}{' in ' + where if where else ''}")


def _languages(codes: Any, name: str) -> tuple[str, ...]:
    try:
        given = {check_language(code) for code in codes}
    except (TypeError, ValueError) as err:
        raise _fail(name, f"has bad languages ({err})") from err
    return tuple(lang for lang in LANGUAGES if lang in given)


def resolve_base_model(base_model: str) -> BaseModel:
    """A Hub id stays as is; a local checkpoint path becomes its folder name (no local paths on the Hub)."""
    path = Path(base_model.rstrip("/"))
    # Hub ids are "name" or "org/name"; anything deeper, absolute, relative or existing is a path.
    is_local = (
        path.is_absolute()
        or base_model.startswith((".", "~"))
        or base_model.count("/") > 1
        or path.exists()
        or path.name == OFFLINE_BASE_NAME
    )
    if path.name == OFFLINE_BASE_NAME:  # panx-ner's own base is published beside the models
        return BaseModel(name=f"{HUB_NAMESPACE}/{OFFLINE_BASE_NAME}", is_hub_id=True, is_local=is_local, is_offline_base=True)
    return BaseModel(
        name=path.name if is_local else base_model,
        is_hub_id=not is_local and bool(HUB_ID.match(base_model)),
        is_local=is_local,
        is_offline_base=path.name == OFFLINE_BASE_NAME,
    )


def default_results_dir() -> Path | None:
    return RESULTS_DIR if RESULTS_DIR.is_dir() else None


def load_inputs(run_dir: str | Path, results_dir: str | Path | None = None) -> CardInputs:
    """Read and check a run directory; results_dir=None falls back to the repo's results/ when it exists."""
    run_dir = Path(run_dir)
    run_info = read_json(run_dir, RUN_INFO)
    hyperparameters = read_json(run_dir, HYPERPARAMETERS)
    trainer_state = read_json(run_dir, TRAINER_STATE)
    eval_results = read_json(run_dir, EVAL_RESULTS)
    data_summary = read_json(run_dir, DATA_SUMMARY)

    _require(run_info, RUN_INFO_KEYS, RUN_INFO)
    _require(eval_results, EVAL_KEYS, EVAL_RESULTS)
    _require(data_summary, DATA_SUMMARY_KEYS, DATA_SUMMARY)
    _require(trainer_state, ("log_history",), TRAINER_STATE)
    if not isinstance(hyperparameters, dict) or not hyperparameters:
        raise _fail(HYPERPARAMETERS, "is not a non-empty JSON object")
    bad = [key for key, value in hyperparameters.items() if isinstance(value, (dict, list))]
    if bad:
        raise _fail(HYPERPARAMETERS, f"is not flat: {', '.join(bad)} hold nested values")

    train_languages = _languages(run_info["train_languages"], RUN_INFO)
    if not train_languages:
        raise _fail(RUN_INFO, "lists no train_languages")
    eval_languages = _languages(eval_results["languages"], EVAL_RESULTS)
    if not eval_languages:
        raise _fail(EVAL_RESULTS, "holds no evaluated language")
    for lang in eval_languages:
        scores = eval_results["languages"][lang]
        _require(scores, EVAL_LANGUAGE_KEYS, EVAL_RESULTS, f"languages.{lang}")
        for entity in ENTITY_TYPES:
            _require(scores["per_entity"], (entity,), EVAL_RESULTS, f"languages.{lang}.per_entity")
            _require(scores["per_entity"][entity], ENTITY_SCORE_KEYS, EVAL_RESULTS, f"languages.{lang}.per_entity.{entity}")

    for entry in trainer_state["log_history"]:
        if "eval_loss" in entry and "train_runtime" not in entry:
            _require(entry, EVAL_LOG_KEYS, TRAINER_STATE, f"log_history entry at step {entry.get('step')}")

    _require(data_summary["examples"], ENTITY_TYPES, DATA_SUMMARY, "examples")
    for lang, splits in data_summary["splits"].items():
        for split, counts in splits.items():
            _require(counts, ("rows", "entities"), DATA_SUMMARY, f"splits.{lang}.{split}")
            _require(counts["entities"], ENTITY_TYPES, DATA_SUMMARY, f"splits.{lang}.{split}.entities")

    if results_dir is None:
        results_dir = default_results_dir()
    elif not Path(results_dir).is_dir():
        raise RunDirError(f"results directory {results_dir} does not exist")
    results_dir = Path(results_dir) if results_dir is not None else None
    f1_matrix: dict[str, dict[str, float]] = {}
    if results_dir is not None and (results_dir / F1_MATRIX).is_file():
        f1_matrix = read_json(results_dir, F1_MATRIX)
        if not isinstance(f1_matrix, dict) or not all(isinstance(row, dict) for row in f1_matrix.values()):
            raise CardError(f"{results_dir / F1_MATRIX} is not a model -> language -> F1 mapping")

    return CardInputs(
        run_dir=run_dir,
        run_info=run_info,
        hyperparameters=hyperparameters,
        trainer_state=trainer_state,
        eval_results=eval_results,
        data_summary=data_summary,
        results_dir=results_dir,
        f1_matrix=f1_matrix,
        train_languages=train_languages,
        eval_languages=eval_languages,
        base_model=resolve_base_model(str(run_info["base_model"])),
    )
