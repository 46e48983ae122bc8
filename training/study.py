"""The whole chapter-4 study, as named steps with declared inputs and outputs (spaCy-projects style).

    python -m training.study --base-model runs/panx-xlmr-mini --preset mini
    python -m training.study --base-model xlm-roberta-base --preset book       # with the Hub
    python -m training.study ... --only matrix fr-curve      # some steps; --force re-runs them

A step is skipped when all its outputs exist, so an interrupted study continues where it stopped
(an interrupted training resumes from its last checkpoint). Steps, in order:

    train-{de,de-fr,fr,it,en,all}  base model           -> RUNS/{exp}/ (a run directory)
    matrix                         RUNS/*/eval_results   -> results/f1_matrix.{json,md,png}
    train-de-random-init           base model (shape)    -> RUNS/de-random-init/ (the same, fresh weights)
    downstream                     RUNS/de, RUNS/de-random-init -> results/pretraining.json "downstream"
    fr-curve                       base model, RUNS/de   -> results/fr_learning_curve.{json,png}
    error-analysis                 RUNS/de               -> results/error_analysis/
    bundle                         RUNS/*, results/      -> space/models/{exp}/ (fp16 + card)
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from training import plots
from training import run_dir as rd
from training.runtime import device_description
from training.facts import BOOK_F1, BUNDLED_MODELS_DIR, EXPERIMENTS, HUB_NAMESPACE, LANGUAGES, RESULTS_DIR, REPO_ROOT, model_name

FR_CURVE_SIZES = (250, 500, 1000, 2000, 4000)


@dataclass
class Step:
    name: str
    deps: list[Path]
    outputs: list[Path]
    run: Callable[[], object]
    made_by: dict[Path, str] = field(default_factory=dict)

    def is_done(self) -> bool:
        return bool(self.outputs) and all(p.exists() for p in self.outputs)


@dataclass
class Study:
    base_model: str
    preset: str
    runs_dir: Path
    results_dir: Path
    models_dir: Path
    data_dir: str | None
    extra_train_args: list[str] = field(default_factory=list)

    # --- training ------------------------------------------------------------------------

    def train(self, experiment: str, output_dir: Path, *extra: str) -> Path:
        from training.train import CHECKPOINTS, main

        # Relative paths where possible: the command is recorded in run_info.json and shown on the card.
        args = ["--experiment", experiment, "--base-model", relative(self.base_model), "--preset", self.preset,
                "--output-dir", relative(output_dir), "--quiet", *self.extra_train_args, *extra]
        if self.data_dir:
            args += ["--data-dir", str(self.data_dir)]
        if any((output_dir / CHECKPOINTS).glob("checkpoint-*")):
            args.append("--resume")  # an interrupted run continues
        elif output_dir.exists():
            args.append("--overwrite")  # stopped before its first checkpoint: nothing to keep
        return main(args)

    def run_dir(self, experiment: str) -> Path:
        return self.runs_dir / experiment

    # --- results ---------------------------------------------------------------------------

    def f1_matrix(self) -> dict[str, dict[str, float]]:
        return {
            exp: {lang: round(s["f1"], 4) for lang, s in rd.read_json(self.run_dir(exp), rd.EVAL_RESULTS)["languages"].items()}
            for exp in EXPERIMENTS
        }

    def write_matrix(self) -> None:
        matrix = self.f1_matrix()
        rd.write_json(self.results_dir / "f1_matrix.json", matrix)
        (self.results_dir / "f1_matrix.md").write_text(matrix_markdown(matrix, self.base_model), encoding="utf-8")
        plots.f1_heatmap(matrix, list(LANGUAGES), self.results_dir / "f1_matrix.png",
                         f"Cross-lingual F1 (rows: trained on, columns: tested on)")

    def write_fr_curve(self) -> None:
        points = []
        for n in FR_CURVE_SIZES:
            out = self.train("fr", self.runs_dir / "fr-curve" / str(n), "--max-train-samples", str(n), "--eval-languages", "fr")
            points.append({"train_samples": n, "f1": round(rd.read_json(out, rd.EVAL_RESULTS)["languages"]["fr"]["f1"], 4)})
        zero_shot = round(rd.read_json(self.run_dir("de"), rd.EVAL_RESULTS)["languages"]["fr"]["f1"], 4)
        rd.write_json(self.results_dir / "fr_learning_curve.json", {"zero_shot_f1": zero_shot, "points": points})
        plots.learning_curve(points, zero_shot, self.results_dir / "fr_learning_curve.png")

    def write_error_analysis(self) -> None:
        from training.error_analysis import run

        run(self.run_dir("de"), "de", self.data_dir, self.results_dir / "error_analysis")

    def write_downstream(self) -> None:
        """Is pretraining worth it? German test F1 of the de experiment from the base vs random init."""
        scores = {name: rd.read_json(self.runs_dir / name, rd.EVAL_RESULTS)["languages"] for name in ("de", "de-random-init")}
        presets = {name: rd.read_json(self.runs_dir / name, rd.HYPERPARAMETERS)["preset"] for name in scores}
        report_path = self.results_dir / "pretraining.json"
        report = rd.read_json(report_path.parent, report_path.name) if report_path.is_file() else {}
        report["downstream"] = {
            "de_f1_pretrained": round(scores["de"]["de"]["f1"], 4),
            "de_f1_random_init": round(scores["de-random-init"]["de"]["f1"], 4),
            "preset_pretrained": presets["de"],
            "preset_random_init": presets["de-random-init"],
            "zero_shot_f1_pretrained": {lang: round(scores["de"][lang]["f1"], 4) for lang in LANGUAGES if lang != "de"},
            "zero_shot_f1_random_init": {lang: round(scores["de-random-init"][lang]["f1"], 4) for lang in LANGUAGES if lang != "de"},
        }
        rd.write_json(report_path, report)

    def bundle(self) -> None:
        from training.publish import write_release

        for exp in EXPERIMENTS:
            repo_id = f"{HUB_NAMESPACE}/{model_name(exp, self.base_model)}"
            write_release(self.run_dir(exp), self.models_dir / exp, repo_id, self.results_dir, fp16=True)

    # --- the plan ------------------------------------------------------------------------------

    def steps(self) -> list[Step]:
        runs = {exp: self.run_dir(exp) / rd.EVAL_RESULTS for exp in EXPERIMENTS}
        base = [Path(self.base_model)] if Path(self.base_model).exists() else []
        steps = [Step(f"train-{exp}", base, [runs[exp]], lambda exp=exp: self.train(exp, self.run_dir(exp))) for exp in EXPERIMENTS]
        r = self.results_dir
        random_init = self.runs_dir / "de-random-init"
        steps += [
            Step("train-de-random-init", base, [random_init / rd.EVAL_RESULTS],
                 lambda: self.train("de", random_init, "--init", "random")),
            Step("downstream", [runs["de"], random_init / rd.EVAL_RESULTS], [], self.write_downstream),
            Step("matrix", list(runs.values()), [r / "f1_matrix.json", r / "f1_matrix.md", r / "f1_matrix.png"], self.write_matrix),
            Step("fr-curve", [*base, runs["de"]], [r / "fr_learning_curve.json", r / "fr_learning_curve.png"], self.write_fr_curve),
            Step("error-analysis", [runs["de"]], [r / "error_analysis" / n for n in ("README.md", "confusion_matrix.png", "error_analysis.json")], self.write_error_analysis),
            Step("bundle", [*runs.values(), r / "f1_matrix.json"], [self.models_dir / exp / rd.CARD for exp in EXPERIMENTS], self.bundle),
        ]
        return steps


def relative(path: str | Path) -> str:
    """path relative to the working directory when it lies below it, else unchanged."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def matrix_markdown(matrix: dict[str, dict[str, float]], base_model: str) -> str:
    head = "| trained on \\ tested on | " + " | ".join(LANGUAGES) + " |\n|---|" + "---|" * len(LANGUAGES)
    ours = "\n".join(f"| {exp} | " + " | ".join(f"{matrix[exp][lang]:.3f}" for lang in LANGUAGES) + " |" for exp in matrix)
    book = "\n".join(
        f"| {exp} | " + " | ".join(f"{BOOK_F1[exp][lang]:.3f}" if lang in BOOK_F1[exp] else "–" for lang in LANGUAGES) + " |"
        for exp in BOOK_F1
    )
    return (
        f"# Cross-lingual F1\n\nEach model (row) on each language's test split (column), micro F1 from seqeval.\n"
        f"Base model: `{Path(base_model).name}`. The test splits are carved 50/50 from PAN-X validation "
        f"(the offline copy has no test labels), then subsampled with the Swiss fractions.\n\n"
        f"## panx-ner\n\n{head}\n{ours}\n\n"
        f"## The book (xlm-roberta-base, true PAN-X test set)\n\n{head}\n{book}\n"
    )


def run_steps(steps: list[Step], only: list[str] | None, force: bool, log_path: Path) -> dict:
    known = {s.name for s in steps}
    unknown = [n for n in only or [] if n not in known]
    if unknown:
        raise ValueError(f"unknown step(s) {unknown}; steps: {', '.join(s.name for s in steps)}")
    record = rd.read_json(log_path.parent, log_path.name) if log_path.is_file() else {"steps": {}}
    record["device"] = device_description()
    for step in steps:
        if only and step.name not in only:
            continue
        if step.is_done() and not force:
            print(f"[skip] {step.name}: outputs exist", file=sys.stderr)
            continue
        missing = [d for d in step.deps if not d.exists()]
        if missing:
            raise FileNotFoundError(f"step {step.name} needs {', '.join(map(str, missing))}; run the steps before it first")
        print(f"[run ] {step.name}", file=sys.stderr, flush=True)
        started = time.perf_counter()
        step.run()
        record["steps"][step.name] = {"wall_time_s": round(time.perf_counter() - started, 1),
                                      "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                                      "device": record["device"]}
        record["total_wall_time_s"] = round(sum(s["wall_time_s"] for s in record["steps"].values()), 1)
        rd.write_json(log_path, record)  # after every step: an interrupted study keeps its timings
    return record


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.study", description=__doc__.split("\n\n")[0])
    parser.add_argument("--base-model", required=True, help="local folder (python -m training.pretrain) or Hub name")
    parser.add_argument("--preset", default="mini", help="fine-tuning preset (training/presets.py)")
    parser.add_argument("--data-dir", default=None, help="PAN-X parquet folder (default $PANX_DATA_DIR or ../shared/data/panx)")
    parser.add_argument("--output-dir", default=str(REPO_ROOT / "runs" / "study"), help="where the run directories go")
    parser.add_argument("--results-dir", default=str(RESULTS_DIR))
    parser.add_argument("--models-dir", default=str(BUNDLED_MODELS_DIR), help="where bundle puts the Space's models")
    parser.add_argument("--only", nargs="+", default=None, help="run only these steps")
    parser.add_argument("--force", action="store_true", help="re-run steps even when their outputs exist")
    parser.add_argument("--train-arg", action="append", default=[], help="extra argument for training.train (repeatable)")
    args = parser.parse_args(argv)
    base = Path(args.base_model)
    if (args.base_model.startswith((".", "/")) or base.exists() or "runs" in base.parts) and not (base / "config.json").is_file():
        print(f"error: base model folder {base} not found (no config.json); make it with python -m training.pretrain", file=sys.stderr)
        return 2
    study = Study(args.base_model, args.preset, Path(args.output_dir), Path(args.results_dir), Path(args.models_dir),
                  args.data_dir, args.train_arg)
    try:
        record = run_steps(study.steps(), args.only, args.force, Path(args.results_dir) / "study.json")
    except (ValueError, FileNotFoundError, FileExistsError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"study done in {record.get('total_wall_time_s', 0)} s of step time on {record['device']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
