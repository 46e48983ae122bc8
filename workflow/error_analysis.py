"""Error analysis of a fine-tuned model on a validation split, as in the book (ch. 4).

    python -m workflow.error_analysis RUN_DIR [--language de] [--data-dir DIR] [--results-dir results]

The study runs it on the German model (facts.ERROR_ANALYSIS_MODEL), as the book does.

Per word (its first subword carries the label): the loss, the gold tag and the prediction. From
these: the words with the highest total and mean loss, the loss per gold label, a normalised
confusion matrix, the highest-loss sentences, and sentences with parentheses (PAN-X labels
"Hama ( Unternehmen )" as one entity, which the model is punished for).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from transformers import DataCollatorForTokenClassification

from core import results as res
from core import run_dir as rd
from core.cli import run
from core.facts import ERROR_ANALYSIS_MODEL, LABELS, LANGUAGE_NAMES, RESULTS_DIR, check_language, default_data_dir
from core.files import write_json, write_text
from core.loading import load_token_classifier
from training.data import load_sampled
from training.features import IGNORE_INDEX, encode
from workflow import plots


@torch.inference_mode()
def word_records(model, tokenizer, words_ds, batch_size: int = 64) -> list[dict]:
    """For each sentence: words, gold tags, predicted tags and per-word losses (first subword)."""
    encoded = encode(words_ds, tokenizer)
    collator = DataCollatorForTokenClassification(tokenizer)
    model.eval()
    records = []
    for start in range(0, len(encoded), batch_size):
        features = [encoded[i] for i in range(start, min(start + batch_size, len(encoded)))]
        batch = collator(features)
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
        losses = torch.nn.functional.cross_entropy(
            logits.transpose(1, 2), batch["labels"], ignore_index=IGNORE_INDEX, reduction="none"
        )
        predicted = logits.argmax(-1)
        for row, (labels, preds, loss) in enumerate(zip(batch["labels"], predicted, losses)):
            keep = labels != IGNORE_INDEX
            sentence = words_ds[start + row]
            records.append(
                {
                    "tokens": sentence["tokens"],
                    "labels": [LABELS[i] for i in labels[keep].tolist()],
                    "predictions": [LABELS[i] for i in preds[keep].tolist()],
                    "losses": [round(x, 4) for x in loss[keep].tolist()],
                }
            )
    return records


def analyse(records: list[dict], top: int = 10) -> dict:
    words = pd.DataFrame(
        [
            (tok, lab, pred, loss)
            for r in records
            for tok, lab, pred, loss in zip(r["tokens"], r["labels"], r["predictions"], r["losses"])
        ],
        columns=["token", "label", "prediction", "loss"],
    )
    by_token = words.groupby("token")["loss"].agg(["count", "mean", "sum"])
    frequent = by_token[by_token["count"] >= 5]  # a mean over one or two words says little
    by_label = words.groupby("label")["loss"].agg(["count", "mean", "sum"]).sort_values("mean", ascending=False)
    confusion = pd.crosstab(words["label"], words["prediction"]).reindex(
        index=list(LABELS), columns=list(LABELS), fill_value=0
    )
    normalised = confusion.div(confusion.sum(axis=1).replace(0, 1), axis=0)
    sentence_loss = [float(np.sum(r["losses"])) for r in records]
    worst = np.argsort(sentence_loss)[::-1][:3]
    parentheses = [
        i for i, r in enumerate(records) if "(" in r["tokens"] and any(label != "O" for label in r["labels"])
    ]
    parentheses = sorted(parentheses, key=lambda i: -sentence_loss[i])[:2]
    table = lambda df: [
        {"token": idx, **{k: (round(float(v), 4) if k != "count" else int(v)) for k, v in row.items()}}
        for idx, row in df.iterrows()
    ]
    return {
        "words": len(words),
        "mean_loss": round(float(words["loss"].mean()), 4),
        "top_total_loss": table(by_token.sort_values("sum", ascending=False).head(top)),
        "top_mean_loss": table(frequent.sort_values("mean", ascending=False).head(top)),
        "per_label": [
            {
                "label": idx,
                "count": int(r["count"]),
                "mean": round(float(r["mean"]), 4),
                "sum": round(float(r["sum"]), 4),
            }
            for idx, r in by_label.iterrows()
        ],
        "confusion_normalised": normalised.round(4).values.tolist(),
        "highest_loss_sentences": [{**records[i], "total_loss": round(sentence_loss[i], 4)} for i in worst],
        "parenthesis_sentences": [{**records[i], "total_loss": round(sentence_loss[i], 4)} for i in parentheses],
    }


def _sentence_table(record: dict) -> str:
    rows = ["| | " + " | ".join(record["tokens"]) + " |", "|---" * (len(record["tokens"]) + 1) + "|"]
    rows.append("| labels | " + " | ".join(record["labels"]) + " |")
    rows.append("| predictions | " + " | ".join(record["predictions"]) + " |")
    rows.append("| loss | " + " | ".join(f"{x:.2f}" for x in record["losses"]) + " |")
    return "\n".join(rows)


def markdown_report(analysis: dict, model_label: str, language: str) -> str:
    def rows(items, keys):
        head = "| " + " | ".join(keys) + " |\n|" + "---|" * len(keys)
        return head + "\n" + "\n".join("| " + " | ".join(str(item[k]) for k in keys) + " |" for item in items)

    parts = [
        f"# Error analysis: model {model_label} on {language} validation",
        f"{analysis['words']} words, mean loss {analysis['mean_loss']}. Each word's loss is that of its first subword.",
        "## Words with the highest total loss",
        rows(analysis["top_total_loss"], ["token", "count", "mean", "sum"]),
        "## Words with the highest mean loss (seen at least 5 times)",
        rows(analysis["top_mean_loss"], ["token", "count", "mean", "sum"]),
        "## Loss per gold label",
        rows(analysis["per_label"], ["label", "count", "mean", "sum"]),
        "## Normalised confusion matrix",
        "![confusion matrix](confusion_matrix.png)",
        "## Sentences with the highest loss",
        *[f"Total loss {r['total_loss']}\n\n{_sentence_table(r)}" for r in analysis["highest_loss_sentences"]],
        "## The parenthesis case",
        "PAN-X comes from Wikipedia titles: text in parentheses after a name is often labelled as part of the "
        'entity ("Hama ( Unternehmen )" as one ORG), which a model reading the sentence has little reason to predict.',
        *[f"Total loss {r['total_loss']}\n\n{_sentence_table(r)}" for r in analysis["parenthesis_sentences"]],
    ]
    return "\n\n".join(parts) + "\n"


def findings(analysis: dict, top: int = 3) -> list[dict]:
    """The confusions a user of the model should know about: for each gold label, the share of its words
    predicted as another label, largest first (these feed the cards' limitations)."""
    rows = []
    for i, gold in enumerate(LABELS):
        for j, predicted in enumerate(LABELS):
            rate = analysis["confusion_normalised"][i][j]
            if i != j and gold != "O" and rate > 0:
                rows.append({"gold": gold, "predicted": predicted, "rate": round(rate, 4)})
    return sorted(rows, key=lambda r: -r["rate"])[:top]


def analyse_run(run_dir: str | Path, language: str, data_dir=None, results_dir: str | Path = RESULTS_DIR) -> Path:
    """Write results_dir/error_analysis/ (error_analysis.json, confusion_matrix.png, README.md) for one run."""
    run_dir, results_root = rd.check_finished(run_dir), Path(results_dir)
    check_language(language)
    tokenizer, model = load_token_classifier(run_dir)
    sampled, _ = load_sampled(language, data_dir or default_data_dir())
    analysis = analyse(word_records(model, tokenizer, sampled["validation"]))
    analysis = {
        "model": rd.read_json(run_dir, rd.RUN_INFO)["experiment"],
        "language": language,
        **analysis,
        "top_confusions": findings(analysis),
    }
    plots.confusion_matrix(
        np.array(analysis["confusion_normalised"]),
        list(LABELS),
        results_root / res.CONFUSION_PNG,
        f"model {analysis['model']} on {LANGUAGE_NAMES[language]} validation (row-normalised)",
    )
    write_text(results_root / res.ERROR_ANALYSIS_MD, markdown_report(analysis, analysis["model"], language))
    write_json(results_root / res.ERROR_ANALYSIS_JSON, analysis)  # last: the step's main output
    return results_root / res.ERROR_ANALYSIS_DIR


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m workflow.error_analysis", description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir")
    parser.add_argument("--language", default=ERROR_ANALYSIS_MODEL)
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--results-dir", default=str(RESULTS_DIR), help=f"writes RESULTS_DIR/{res.ERROR_ANALYSIS_DIR}/")
    args = parser.parse_args(argv)
    print(analyse_run(args.run_dir, args.language, args.data_dir, args.results_dir))
    return 0


if __name__ == "__main__":
    sys.exit(run(main))
