"""The whole chapter-4 study as named steps with declared inputs and outputs (spaCy-projects style).

    python -m workflow.study                          # offline: LoRA on multilingual-e5-small (preset e5)
    python -m workflow.study --preset book            # with the Hub: the book's xlm-roberta-base
    python -m workflow.study --only matrix curve      # some steps (and nothing else); --force re-runs them
    python -m workflow.study --list                   # every step: inputs, outputs, state

Every step declares its inputs (files, plus the parameters that shape its result, such as the preset)
and its outputs. After a step succeeds, results/study.lock.json records the checksums of both. A step
runs when it has no record, when an input or a parameter changed since, or when an output is missing
or differs from the recorded one (a half-written or edited file); otherwise it is skipped. Outputs are
written atomically and an interrupted training resumes from its last checkpoint. A finished run
directory made outside the study by the same training command is adopted, not retrained.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import hashlib
import io
import json
import os
import shlex
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import Any

from core import results as res
from core import run_dir as rd
from core.cli import InputError, run
from core.facts import (
    BOOK_F1,
    BUNDLED_MODELS_DIR,
    CURVE_LANGUAGE,
    CURVE_SIZES,
    ERROR_ANALYSIS_MODEL,
    EXPERIMENTS,
    LANGUAGES,
    REPO_ROOT,
    RESULTS_DIR,
    RUNS_DIR,
    STRIDE_SHARE,
    SUGGESTED_MIN_SCORE,
    ZERO_SHOT_SOURCE,
    dataset_config,
    default_data_dir,
    hub_base,
)
from core.files import sha256_of, write_json, write_text
from training.presets import DEFAULT_PRESET, PRESETS, Preset, get_preset
from training.runtime import device_description
from workflow.paragraph_check import DEFAULT_DOCUMENTS
from workflow.report import REPORT_INPUTS, write_report

CURVE_DIR = f"{CURVE_LANGUAGE}-curve"
# The code whose changes re-run the pipeline check (the Space's word splitter and tagger, the check itself).
PIPELINE_CHECK_CODE = (REPO_ROOT / "space" / "tagging.py", REPO_ROOT / "workflow" / "pipeline_check.py")
# The code whose changes re-run the paragraph check: the check, the helpers it shares with the pipeline check,
# how PAN-X becomes running text, and the Space's tagger.
PARAGRAPH_CHECK_CODE = (
    REPO_ROOT / "workflow" / "paragraph_check.py",
    REPO_ROOT / "workflow" / "pipeline_check.py",
    REPO_ROOT / "training" / "running_text.py",
    REPO_ROOT / "space" / "tagging.py",
)
# The code that writes the cards: a changed sentence or template re-renders the bundled cards.
CARD_CODE = tuple(sorted([*(REPO_ROOT / "cards").glob("*.py"), *(REPO_ROOT / "cards" / "templates").rglob("*.j2")]))
# The report's code (its words, and the score formats it shares with the cards): a change rewrites the report.
REPORT_CODE = (REPO_ROOT / "workflow" / "report.py", REPO_ROOT / "cards" / "context.py")


@dataclass
class Step:
    name: str
    inputs: list[Path]
    outputs: list[Path]
    run: Callable[[], object]
    params: dict = field(default_factory=dict)  # values that shape the outputs besides the input files
    # A finished run directory made outside the study with these parameters counts as this step's work.
    adopt: Callable[[], bool] | None = None
    # Inputs the step uses when they exist (recorded as absent otherwise): it reruns once they appear.
    optional_inputs: list[Path] = field(default_factory=list)

    @property
    def checked_inputs(self) -> list[Path]:
        return [*self.inputs, *self.optional_inputs]


def checksum(path: Path) -> str | None:
    if not path.is_file():
        return None
    stat = path.stat()
    return _checksum(str(path), stat.st_size, stat.st_mtime_ns)


@functools.cache  # many steps share inputs (parquet, model files): each is read once while it stays unchanged
def _checksum(path: str, size: int, mtime_ns: int) -> str:
    return sha256_of(path)[:16]


def params_checksum(params: dict) -> str:
    return hashlib.sha256(json.dumps(params, sort_keys=True, default=str).encode()).hexdigest()[:16]


class Lock:
    """results/study.lock.json: per step, the checksums of its inputs, parameters and outputs."""

    def __init__(self, path: Path):
        self.path = path
        self.steps: dict[str, dict] = {}
        if path.is_file():
            try:
                self.steps = json.loads(path.read_text(encoding="utf-8")).get("steps", {})
            except json.JSONDecodeError:
                self.steps = {}  # a damaged lock: every step is checked again

    def state(self, step: Step) -> str:
        """ "current", or why the step must run."""
        recorded = self.steps.get(step.name)
        if recorded is None:
            return "never recorded"
        if recorded.get("params") != params_checksum(step.params):
            return "parameters changed"
        for path in step.checked_inputs:
            if recorded["inputs"].get(self.key(path)) != checksum(path):
                return f"input changed: {path}"
        for path in step.outputs:
            if not path.is_file() or recorded["outputs"].get(self.key(path)) != checksum(path):
                return f"output {'missing' if not path.exists() else 'changed'}: {path}"
        return "current"

    def key(self, path: Path) -> str:
        """A path as seen from the lock file, so the lock holds in any clone with ../shared beside it."""
        return Path(os.path.relpath(os.path.abspath(path), os.path.abspath(self.path.parent))).as_posix()

    def record(self, step: Step) -> None:
        self.steps[step.name] = {
            "params": params_checksum(step.params),
            "inputs": {self.key(p): checksum(p) for p in step.checked_inputs},
            "outputs": {self.key(p): checksum(p) for p in step.outputs},
            "recorded_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        write_json(self.path, {"steps": self.steps})


@dataclass
class Study:
    preset: Preset
    runs_dir: Path
    results_dir: Path
    models_dir: Path
    data_dir: Path | None
    extra_train_args: list[str] = field(default_factory=list)  # --train-arg, as given: the lock records them
    check_sentences: int = 250  # validation sentences per language for pipeline-check
    paragraph_documents: int = DEFAULT_DOCUMENTS  # documents per language for paragraph-check

    # --- training -------------------------------------------------------------------------------

    @cached_property
    def train_overrides(self) -> dict[str, Any]:
        """The --train-arg flags as the TrainArguments fields they set (checked as training checks them)."""
        from training.arguments import changed_fields, parse_arguments

        return changed_fields(parse_arguments(self.extra_train_args))

    def train(self, experiment: str, output_dir: Path, preset: Preset, overrides: dict[str, Any]) -> Path:
        """training.train.train on typed arguments: the study's settings, then the step's overrides."""
        from training.arguments import TrainArguments
        from training.train import OVERWRITE_SUFFIX, train

        beside = output_dir.with_name(output_dir.name + OVERWRITE_SUFFIX)
        recipe = self.recipe_for(experiment, preset, overrides)
        resume = any(_resumable(folder, recipe) for folder in (output_dir, beside))
        args = TrainArguments(
            experiment=experiment,
            preset=preset.name,
            base_model=preset.base_model,
            output_dir=_relative(output_dir),
            data_dir=str(self.data_dir) if self.data_dir else None,
            quiet=True,
            resume=resume,
            overwrite=not resume and output_dir.exists(),  # replaced only once the new run is complete
            **{**self.train_overrides, **overrides},
        )
        return train(args)

    def train_step(
        self, name: str, experiment: str, output_dir: Path, preset: Preset | None = None, **overrides: Any
    ) -> Step:
        """A training run as a step; overrides are TrainArguments fields (max_train_samples=250, seed=43)."""
        from training.arguments import as_flags

        preset = preset or self.preset
        languages = dict.fromkeys(EXPERIMENTS[experiment] + _eval_languages(overrides))
        rows = self.train_rows(experiment, preset, overrides)
        params = {
            "preset": preset.recipe(rows),
            "experiment": experiment,
            "extra": [*self.extra_train_args, *as_flags(overrides)],
            "base": _base_revision(preset.base_model),
        }
        return Step(
            name,
            inputs=[path for lang in languages for path in self.parquet(lang)],
            outputs=[output_dir / name for name in (*rd.LOG_FILES, *_model_files(preset))],
            run=lambda: self.train(experiment, output_dir, preset, overrides),
            params=params,
            adopt=lambda: self.made_by(output_dir, preset, experiment, overrides),
        )

    def made_by(self, run_dir: Path, preset: Preset, experiment: str, overrides: dict[str, Any]) -> bool:
        """_made_by with the recipe this step trains."""
        return _made_by(run_dir, self.recipe_for(experiment, preset, overrides), experiment, overrides)

    def recipe_for(self, experiment: str, preset: Preset, overrides: dict[str, Any]) -> Preset:
        """The preset as this step trains it: the study's --train-arg values and the step's overrides applied
        as the train command applies them, its epochs stretched to min_train_steps."""
        from training.arguments import TrainArguments, resolved_preset

        arguments = {**self.train_overrides, **overrides}
        recipe = resolved_preset(TrainArguments(experiment=experiment, preset=preset.name, **arguments))
        return recipe.for_train_rows(self.train_rows(experiment, recipe, arguments))

    def train_rows(self, experiment: str, preset: Preset, overrides: dict[str, Any]) -> int:
        """The size of the run's training set: with the preset's epoch_repeats, it gives the epochs it trains for."""
        from training.data import train_rows

        samples = overrides.get("max_train_samples")
        return train_rows(experiment, self.data_dir, preset.max_train_samples if samples is None else samples)

    def parquet(self, lang: str) -> list[Path]:
        folder = Path(self.data_dir or default_data_dir() or "") / dataset_config(lang)
        return [folder / "train.parquet", folder / "validation.parquet"]

    def run_dir(self, experiment: str) -> Path:
        return self.runs_dir / experiment

    def curve_dir(self, size: int) -> Path:
        return self.runs_dir / CURVE_DIR / str(size)

    @property
    def full_preset(self) -> Preset | None:
        """The full fine-tune to weigh the adapter against (None when the study fine-tunes in full)."""
        return get_preset(self.preset.full_counterpart) if self.preset.full_counterpart else None

    # --- results --------------------------------------------------------------------------------

    def f1_of(self, run_dir: Path) -> dict[str, float]:
        return {lang: round(scores.f1, 4) for lang, scores in rd.EvalResults.read(run_dir).languages.items()}

    def write_matrix(self) -> None:
        from workflow import plots

        matrix = {exp: self.f1_of(self.run_dir(exp)) for exp in EXPERIMENTS}
        write_json(self.results_dir / res.F1_MATRIX_JSON, matrix)
        write_text(self.results_dir / res.F1_MATRIX_MD, matrix_markdown(matrix, self.preset.base_model))
        plots.f1_heatmap(
            matrix,
            list(LANGUAGES),
            self.results_dir / res.F1_MATRIX_PNG,
            "Cross-lingual F1 (rows: trained on, columns: tested on)",
        )

    def write_curve(self) -> None:
        from workflow import plots

        points = [{"train_samples": n, "f1": self.f1_of(self.curve_dir(n))[CURVE_LANGUAGE]} for n in CURVE_SIZES]
        zero_shot = self.f1_of(self.run_dir(ZERO_SHOT_SOURCE))[CURVE_LANGUAGE]
        write_json(
            self.results_dir / res.CURVE_JSON,
            {"zero_shot_f1": zero_shot, "zero_shot_model": ZERO_SHOT_SOURCE, "points": points},
        )
        plots.learning_curve(points, zero_shot, self.results_dir / res.CURVE_PNG, CURVE_LANGUAGE, ZERO_SHOT_SOURCE)

    def write_adapter_cost(self) -> None:
        """What the adapter costs against a full fine-tune, and how much a second seed moves the scores."""
        from training.train import load_base, parameter_counts

        # The adapter's side from the committed matrix, not its run directory: the comparison can be
        # completed on a fresh clone, where runs/ (ignored by git) is empty, without retraining the model.
        matrix = json.loads((self.results_dir / res.F1_MATRIX_JSON).read_text(encoding="utf-8"))
        report = {
            "model": ZERO_SHOT_SOURCE,
            "preset": self.preset.name,
            "f1": matrix[ZERO_SHOT_SOURCE],
            "trainable_parameters": parameter_counts(load_base(self.preset)[1])["trainable"],
            # null until the second-seed step has run with this recipe (python -m workflow.study runs it first)
            "seed": (
                {"seed": self.preset.seed + 1, "f1": self.f1_of(self.seed_dir)}
                if self.made_by(self.seed_dir, self.preset, ZERO_SHOT_SOURCE, self.seed_overrides)
                else None
            ),
        }
        if self.full_preset and rd.is_finished(self.full_dir):
            report["full_fine_tune"] = {
                "preset": self.full_preset.name,
                "f1": self.f1_of(self.full_dir),
                **asdict(rd.RunInfo.read(self.full_dir).parameters),
            }
        write_json(self.results_dir / res.ADAPTER_COST_JSON, report)

    @property
    def full_dir(self) -> Path:
        return self.runs_dir / f"{ZERO_SHOT_SOURCE}-full"

    @property
    def seed_overrides(self) -> dict[str, Any]:
        return {"seed": self.preset.seed + 1}

    @property
    def seed_dir(self) -> Path:
        return self.runs_dir / f"{ZERO_SHOT_SOURCE}-seed{self.preset.seed + 1}"

    def write_error_analysis(self) -> None:
        from workflow.error_analysis import analyse_run

        analyse_run(self.run_dir(ERROR_ANALYSIS_MODEL), ERROR_ANALYSIS_MODEL, self.data_dir, self.results_dir)

    def write_bundle(self) -> None:
        from workflow.bundle import bundle

        for exp in EXPERIMENTS:
            bundle(self.run_dir(exp), self.models_dir / exp, self.results_dir)

    def write_pipeline_check(self) -> None:
        from workflow.pipeline_check import check_models

        # The run directories' models: the very weights bundle copies (the report names their checksums),
        # checked before bundling so that the cards can say what the plain pipeline does with them.
        folders = {exp: self.run_dir(exp) for exp in EXPERIMENTS}
        write_json(
            self.results_dir / res.PIPELINE_CHECK_JSON, check_models(folders, self.data_dir, self.check_sentences)
        )
        # The next sentences of each language, which that report does not read: where the score floor the
        # cards suggest (core.facts.SUGGESTED_MIN_SCORE) is chosen, and a test checks it is still the best.
        write_json(
            self.results_dir / res.PIPELINE_MIN_SCORE_JSON,
            check_models(folders, self.data_dir, self.check_sentences, skip=self.check_sentences),
        )

    def write_paragraph_check(self) -> None:
        from workflow.paragraph_check import check_models

        # The run directories' models, as the pipeline check measures them (the weights bundle copies).
        folders = {exp: self.run_dir(exp) for exp in EXPERIMENTS}
        write_json(
            self.results_dir / res.PARAGRAPH_CHECK_JSON,
            check_models(folders, self.data_dir, self.paragraph_documents),
        )

    # --- the plan ---------------------------------------------------------------------------------

    def steps(self) -> list[Step]:
        r = self.results_dir
        evals = {exp: self.run_dir(exp) / rd.EVAL_RESULTS for exp in EXPERIMENTS}
        steps = [self.train_step(f"train-{exp}", exp, self.run_dir(exp)) for exp in EXPERIMENTS]
        steps += [
            self.train_step(
                f"train-{CURVE_DIR}-{n}",
                CURVE_LANGUAGE,
                self.curve_dir(n),
                max_train_samples=n,
                eval_languages=CURVE_LANGUAGE,
            )
            for n in CURVE_SIZES
        ]
        steps.append(
            self.train_step(
                f"train-{ZERO_SHOT_SOURCE}-seed{self.preset.seed + 1}",
                ZERO_SHOT_SOURCE,
                self.seed_dir,
                **self.seed_overrides,
            )
        )
        cost_inputs = [r / res.F1_MATRIX_JSON]
        optional_cost_inputs = [self.seed_dir / rd.RUN_INFO, self.seed_dir / rd.EVAL_RESULTS]
        if self.full_preset:
            steps.append(
                self.train_step(
                    f"train-{ZERO_SHOT_SOURCE}-full", ZERO_SHOT_SOURCE, self.full_dir, preset=self.full_preset
                )
            )
            optional_cost_inputs += [self.full_dir / rd.RUN_INFO, self.full_dir / rd.EVAL_RESULTS]
        error_model = self.run_dir(ERROR_ANALYSIS_MODEL)
        bundled = [
            self.models_dir / exp / name
            for exp in EXPERIMENTS
            for name in (*_model_files(self.preset), *rd.LOG_FILES, rd.CARD)
        ]
        card_results = [
            r / res.F1_MATRIX_JSON,
            r / res.ADAPTER_COST_JSON,
            r / res.ERROR_ANALYSIS_JSON,
            r / res.PIPELINE_CHECK_JSON,
            r / res.PARAGRAPH_CHECK_JSON,
        ]
        steps += [
            Step(
                "matrix",
                list(evals.values()),
                [r / res.F1_MATRIX_JSON, r / res.F1_MATRIX_MD, r / res.F1_MATRIX_PNG],
                self.write_matrix,
                {"base": self.preset.base_model},
            ),
            Step(
                "curve",
                [evals[ZERO_SHOT_SOURCE], *(self.curve_dir(n) / rd.EVAL_RESULTS for n in CURVE_SIZES)],
                [r / res.CURVE_JSON, r / res.CURVE_PNG],
                self.write_curve,
            ),
            # The second seed and the full fine-tune are optional: `--only adapter-cost` reports what exists,
            # and reruns once they do.
            Step(
                "adapter-cost",
                cost_inputs,
                [r / res.ADAPTER_COST_JSON],
                self.write_adapter_cost,
                {"preset": self.preset.recipe()},
                optional_inputs=optional_cost_inputs,
            ),
            Step(
                "error-analysis",
                [*(error_model / n for n in _model_files(self.preset)), *self.parquet(ERROR_ANALYSIS_MODEL)],
                [r / res.ERROR_ANALYSIS_JSON, r / res.ERROR_ANALYSIS_MD, r / res.CONFUSION_PNG],
                self.write_error_analysis,
            ),
            # The same models on paragraphs of running text from validation sentences (workflow/paragraph_check.py).
            Step(
                "paragraph-check",
                [
                    *(self.run_dir(exp) / n for exp in EXPERIMENTS for n in _model_files(self.preset)),
                    *(p for lang in LANGUAGES for p in self.parquet(lang)),
                    *PARAGRAPH_CHECK_CODE,
                ],
                [r / res.PARAGRAPH_CHECK_JSON],
                self.write_paragraph_check,
                {"documents": self.paragraph_documents, "stride_share": STRIDE_SHARE},
            ),
            # Its code too: how the Space splits words decides the Space's side of the comparison.
            Step(
                "pipeline-check",
                [
                    *(self.run_dir(exp) / n for exp in EXPERIMENTS for n in _model_files(self.preset)),
                    *(p for lang in LANGUAGES for p in self.parquet(lang)),
                    *PIPELINE_CHECK_CODE,
                ],
                [r / res.PIPELINE_CHECK_JSON, r / res.PIPELINE_MIN_SCORE_JSON],
                self.write_pipeline_check,
                {"sentences": self.check_sentences, "suggested_min_score": SUGGESTED_MIN_SCORE},
            ),
            # The study report that every card links to, from the result files above.
            Step(
                "report",
                [*(r / name for name in REPORT_INPUTS), *REPORT_CODE],
                [r / res.REPORT_MD],
                lambda: write_report(r),
            ),
            # The plots too: each bundled folder carries copies of those its card links.
            Step(
                "bundle",
                [
                    *(
                        self.run_dir(exp) / n
                        for exp in EXPERIMENTS
                        for n in (*rd.LOG_FILES, *_model_files(self.preset))
                    ),
                    *card_results,
                    *CARD_CODE,
                ],
                bundled,
                self.write_bundle,
                {"stride_share": STRIDE_SHARE},  # the cards' snippet reads long texts with it
                optional_inputs=[r / name for name in res.PLOTS],
            ),
        ]
        return steps


def _model_files(preset: Preset) -> tuple[str, ...]:
    return rd.ADAPTER_FILES if preset.lora else rd.FULL_MODEL_FILES


def _eval_languages(overrides: dict[str, Any]) -> tuple[str, ...]:
    languages = overrides.get("eval_languages")
    return tuple(languages.split(",")) if languages is not None else LANGUAGES


def _base_revision(base_model: str) -> str:
    """The offline base is identified by the checksum of the file it is built from; others by name."""
    from core.facts import OFFLINE_BASE_ID

    if base_model != OFFLINE_BASE_ID:
        return base_model
    from core.e5_base import revision_of, source_path

    return revision_of(sha256_of(source_path()))


def _resumable(folder: Path, recipe: Preset) -> bool:
    """An interrupted run continues under the recipe that wrote its checkpoints only: one from an older recipe
    (the preset changed since) trains anew, as training.train refuses to resume it."""
    from training.train import last_complete_checkpoint

    return (
        last_complete_checkpoint(folder) is not None
        and (folder / rd.HYPERPARAMETERS).is_file()
        and recipe.made(rd.Hyperparameters.read(folder))
    )


def _made_by(run_dir: Path, recipe: Preset, experiment: str, overrides: dict[str, Any]) -> bool:
    """Did `python -m training.train` finish this run with this recipe (the preset as the step's TrainArguments
    overrides resolve it: Study.recipe_for), experiment and overrides?"""
    if not rd.is_finished(run_dir):
        return False
    info = rd.RunInfo.read(run_dir)
    if not (
        recipe.made(rd.Hyperparameters.read(run_dir))
        and info.experiment == experiment
        and info.eval_languages == list(_eval_languages(overrides))
    ):
        return False
    samples = overrides.get("max_train_samples")
    if samples is None:
        return True
    arguments = _command_arguments(info.command)
    return arguments is not None and arguments.max_train_samples == samples


def _command_arguments(command: str):
    """The TrainArguments of a run's recorded command: its sentences, which its step count does not give
    away once packed passages come on top of them. None when today's train command would refuse it (a flag
    since removed, a value now out of range): no run of the current recipe."""
    from training.arguments import parse_arguments

    try:
        with contextlib.redirect_stderr(io.StringIO()):  # argparse prints its usage before it exits
            return parse_arguments(shlex.split(command)[len(rd.TRAIN_COMMAND.split()) :])
    except (SystemExit, InputError, ValueError):
        return None


def _relative(path: Path) -> str:
    """path relative to the working directory when it lies below it: run_info.json records the command."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def matrix_markdown(matrix: dict[str, dict[str, float]], base_model: str) -> str:
    head = "| trained on \\ tested on | " + " | ".join(LANGUAGES) + " |\n|---|" + "---|" * len(LANGUAGES)
    ours = "\n".join(
        f"| {exp} | " + " | ".join(f"{matrix[exp][lang]:.3f}" for lang in LANGUAGES) + " |" for exp in matrix
    )
    book = "\n".join(
        f"| {exp} | "
        + " | ".join(f"{BOOK_F1[exp][lang]:.3f}" if lang in BOOK_F1[exp] else "–" for lang in LANGUAGES)
        + " |"
        for exp in BOOK_F1
    )
    return (
        f"# Cross-lingual F1\n\nEach model (row) on each language's test split (column), entity-level micro F1 "
        f"from seqeval. Base model: `{hub_base(base_model)}`. The test splits are carved 50/50 from PAN-X "
        f"validation (the offline copy has no test labels), then subsampled with the Swiss fractions.\n\n"
        f"## panx-ner\n\n{head}\n{ours}\n\n"
        f"## The book (xlm-roberta-base, true PAN-X test set)\n\n{head}\n{book}\n"
    )


def run_steps(steps: list[Step], lock: Lock, only: list[str] | None, force: bool, log_path: Path) -> dict:
    known = [s.name for s in steps]
    unknown = [n for n in only or [] if n not in known]
    if unknown:
        raise InputError(f"unknown step(s) {', '.join(unknown)}; steps: {', '.join(known)}")
    record = json.loads(log_path.read_text(encoding="utf-8")) if log_path.is_file() else {"steps": {}}
    record["device"] = device_description()
    record["steps"] = {name: kept for name, kept in record["steps"].items() if name in known}  # retired steps go
    for step in steps:
        if only and step.name not in only:
            continue
        state = lock.state(step)
        if state == "current" and not force:
            print(f"[skip] {step.name}: inputs and outputs unchanged", file=sys.stderr)
            continue
        # A run finished outside the study, or by a study stopped before it wrote the lock (after a recipe
        # change, the lock still holds the old recipe's parameters): its run directory says what made it.
        adoptable = state in ("never recorded", "parameters changed")
        if adoptable and not force and step.adopt is not None and step.adopt():
            lock.record(step)
            print(f"[adopt] {step.name}: finished by the same training command, not yet recorded", file=sys.stderr)
            info = rd.RunInfo.read(step.outputs[0].parent)
            record["steps"][step.name] = {
                "wall_time_s": info.train_runtime_s,
                "finished_at": info.created_at,
                "device": info.device,
                "adopted": True,
            }
            continue
        missing = [str(p) for p in step.inputs if not p.exists()]
        if missing:
            raise InputError(f"step {step.name} needs {', '.join(missing)}; run the steps before it first")
        print(
            f"[run ] {step.name} ({'--force' if force and state == 'current' else state})", file=sys.stderr, flush=True
        )
        started = time.perf_counter()
        step.run()
        lock.record(step)
        record["steps"][step.name] = {
            "wall_time_s": round(time.perf_counter() - started, 1),
            "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "device": record["device"],
        }
        _write_record(log_path, record)
    _write_record(log_path, record)
    return record


def _write_record(log_path: Path, record: dict) -> None:
    """results/study.json, after every step: an interrupted study keeps its timings."""
    record["total_wall_time_s"] = round(sum(s["wall_time_s"] for s in record["steps"].values()), 1)
    write_json(log_path, record)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m workflow.study", description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default=DEFAULT_PRESET, choices=list(PRESETS), help="base model and recipe")
    parser.add_argument(
        "--data-dir", default=None, help="PAN-X parquet folder (default $PANX_DATA_DIR or ../shared/data/panx)"
    )
    parser.add_argument("--output-dir", default=str(RUNS_DIR / "study"), help="where the run directories go")
    parser.add_argument("--results-dir", default=str(RESULTS_DIR))
    parser.add_argument("--models-dir", default=str(BUNDLED_MODELS_DIR), help="where bundle puts the Space's models")
    parser.add_argument("--only", nargs="+", default=None, help="run only these steps")
    parser.add_argument("--force", action="store_true", help="run the chosen steps even when they are current")
    parser.add_argument("--list", action="store_true", help="print each step's state, inputs and outputs, run nothing")
    parser.add_argument(
        "--train-arg", action="append", default=[], help="extra argument for training.train (repeatable)"
    )
    parser.add_argument("--check-sentences", type=int, default=250, help="pipeline-check: sentences per language")
    parser.add_argument(
        "--paragraph-documents", type=int, default=DEFAULT_DOCUMENTS, help="paragraph-check: documents per language"
    )
    args = parser.parse_args(argv)
    data_dir = Path(args.data_dir) if args.data_dir else default_data_dir()
    if data_dir is not None and not data_dir.is_dir():
        raise InputError(f"--data-dir {data_dir} does not exist; give the PAN-X parquet folder")
    if args.paragraph_documents < 1:
        raise InputError(f"--paragraph-documents must be at least 1, not {args.paragraph_documents}")
    results_dir = Path(args.results_dir)
    study = Study(
        get_preset(args.preset),
        Path(args.output_dir),
        results_dir,
        Path(args.models_dir),
        data_dir,
        args.train_arg,
        args.check_sentences,
        args.paragraph_documents,
    )
    study.train_overrides  # noqa: B018 - a bad --train-arg is refused before any step runs
    steps = study.steps()
    lock = Lock(results_dir / res.STUDY_LOCK)
    if args.list:
        for step in steps:
            print(
                f"{step.name}: {lock.state(step)}\n  in:  "
                + "\n       ".join(map(str, step.checked_inputs or ["-"]))
                + "\n  out: "
                + "\n       ".join(map(str, step.outputs))
            )
        return 0
    record = run_steps(steps, lock, args.only, args.force, results_dir / res.STUDY_LOG)
    print(f"study done: {record.get('total_wall_time_s', 0)} s of step time in all on {record['device']}")
    return 0


if __name__ == "__main__":
    sys.exit(run(main))
