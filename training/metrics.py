"""seqeval metrics on word-level tag sequences (used directly: `evaluate.load` needs the Hub)."""

from __future__ import annotations

import numpy as np
from seqeval.metrics import classification_report, f1_score, precision_score, recall_score
from seqeval.metrics.sequence_labeling import get_entities

from core.facts import BOOTSTRAP_RESAMPLES, ENTITY_TYPES, ID2LABEL
from training.features import IGNORE_INDEX


def align_predictions(logits: np.ndarray, label_ids: np.ndarray) -> tuple[list[list[str]], list[list[str]]]:
    """Tag sequences (predicted, gold) at the positions that carry a label: one tag per word."""
    predicted_ids = np.argmax(logits, axis=-1)
    predictions, references = [], []
    for pred_row, label_row in zip(predicted_ids, label_ids):
        keep = label_row != IGNORE_INDEX
        predictions.append([ID2LABEL[int(i)] for i in pred_row[keep]])
        references.append([ID2LABEL[int(i)] for i in label_row[keep]])
    return predictions, references


def seqeval_scores(predictions: list[list[str]], references: list[list[str]]) -> dict:
    """Micro precision / recall / F1 over entities, plus per-type scores with their support."""
    report = classification_report(references, predictions, output_dict=True, zero_division=0)
    per_entity = {
        etype: {
            "precision": float(report[etype]["precision"]) if etype in report else 0.0,
            "recall": float(report[etype]["recall"]) if etype in report else 0.0,
            "f1": float(report[etype]["f1-score"]) if etype in report else 0.0,
            "support": int(report[etype]["support"]) if etype in report else 0,
        }
        for etype in ENTITY_TYPES
    }
    return {
        "precision": float(precision_score(references, predictions, zero_division=0)),
        "recall": float(recall_score(references, predictions, zero_division=0)),
        "f1": float(f1_score(references, predictions, zero_division=0)),
        "per_entity": per_entity,
    }


BOOTSTRAP_SEED = 0


def sentence_counts(predictions: list[list[str]], references: list[list[str]]) -> np.ndarray:
    """Per sentence: (correct entities, predicted entities, gold entities), as seqeval counts them."""
    counts = np.zeros((len(references), 3), dtype=np.int64)
    for i, (pred, gold) in enumerate(zip(predictions, references, strict=True)):
        pred_set, gold_set = set(get_entities(pred)), set(get_entities(gold))
        counts[i] = (len(pred_set & gold_set), len(pred_set), len(gold_set))
    return counts


def bootstrap_f1(
    predictions: list[list[str]],
    references: list[list[str]],
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
) -> tuple[float, float]:
    """95% percentile bootstrap interval of micro F1, resampling sentences with replacement."""
    counts = sentence_counts(predictions, references)
    if len(counts) == 0:
        return 0.0, 0.0
    rng = np.random.default_rng(seed)
    sums = counts[rng.integers(0, len(counts), size=(resamples, len(counts)))].sum(axis=1)
    denominators = sums[:, 1] + sums[:, 2]
    f1 = np.divide(2 * sums[:, 0], denominators, out=np.zeros(resamples), where=denominators > 0)
    low, high = np.percentile(f1, [2.5, 97.5])
    return float(low), float(high)


def compute_metrics(eval_prediction) -> dict[str, float]:
    """For Trainer: flat micro scores (the Trainer prefixes them with eval_)."""
    predictions, references = align_predictions(eval_prediction.predictions, eval_prediction.label_ids)
    scores = seqeval_scores(predictions, references)
    return {"precision": scores["precision"], "recall": scores["recall"], "f1": scores["f1"]}
