"""The card's YAML header, built with huggingface_hub's ModelCardData + EvalResult (never hand-written).

The model-index names the split the scores really come from. Without PAN-X test labels the test
sentences are the held-out half of the validation split, so the result says `validation` and its
dataset name and args say which half and which subsample; `test` only when the run had real test labels.
"""

from __future__ import annotations

from typing import Any

from huggingface_hub import EvalResult, ModelCardData

from core.facts import EXAMPLE_SENTENCES, HUB_DATASET, LANGUAGE_NAMES, LANGUAGES, dataset_config

from .inputs import CardInputs

# CC BY-SA 4.0, not the base model's MIT: the weights are fitted to PAN-X, whose sentences are
# Wikipedia text (CC BY-SA) and whose annotations state no license of their own (see
# shared/data/panx/PROVENANCE.md). Releasing under the ShareAlike terms is the reading that honours
# the most restrictive input; the bases' MIT licenses allow the fine-tuned weights to carry it.
LICENSE = "cc-by-sa-4.0"
TAGS = ["token-classification", "ner", "named-entity-recognition", "panx", "wikiann", "xtreme"]
TASK_TYPE = "token-classification"
TASK_NAME = "Named Entity Recognition"
METRIC_NAMES = {
    "f1": "F1 (entity-level micro, seqeval)",
    "precision": "Precision (entity-level micro, seqeval)",
    "recall": "Recall (entity-level micro, seqeval)",
}


def evaluated_split(inputs: CardInputs) -> str:
    """The PAN-X split the test sentences come from: validation when they were carved from it."""
    return "validation" if inputs.data_summary.test_carved_from_validation else inputs.eval_results.split


def dataset(inputs: CardInputs, lang: str) -> tuple[str, dict[str, Any]]:
    """(dataset_name, dataset_args) of one language's result: which sentences were scored."""
    summary = inputs.data_summary
    fraction = float(summary.fractions[lang])
    subsample = {"subsample_fraction": fraction, "subsample_seed": summary.shuffle_seed}
    share = f"{fraction:.1%} subsample (shuffle seed {summary.shuffle_seed})"
    if summary.test_carved_from_validation:
        name = f"{dataset_config(lang)}: held-out half of validation (carve seed {summary.carve_seed}), {share}"
        return name, {"carved_from": "validation", "half": "held-out", "carve_seed": summary.carve_seed, **subsample}
    return f"{dataset_config(lang)} {inputs.eval_results.split}, {share}", subsample


def eval_results(inputs: CardInputs) -> list[EvalResult]:
    """One model-index result per evaluated language, each with seqeval's F1, precision and recall."""
    results = []
    for lang in inputs.eval_languages:
        name, args = dataset(inputs, lang)
        scores = inputs.eval_results.languages[lang]
        results += [
            EvalResult(
                task_type=TASK_TYPE,
                task_name=TASK_NAME,
                dataset_type=HUB_DATASET,
                dataset_name=name,
                dataset_config=dataset_config(lang),
                dataset_split=evaluated_split(inputs),
                dataset_args=args,
                metric_type=metric,
                metric_name=metric_name,
                metric_value=float(getattr(scores, metric)),
            )
            for metric, metric_name in METRIC_NAMES.items()
        ]
    return results


def widget(inputs: CardInputs) -> list[dict[str, str]]:
    """One example sentence per language, the languages the model was trained on first."""
    ordered = list(inputs.train_languages) + [lang for lang in LANGUAGES if lang not in inputs.train_languages]
    return [{"text": EXAMPLE_SENTENCES[lang], "example_title": LANGUAGE_NAMES[lang]} for lang in ordered]


def build_card_data(inputs: CardInputs) -> ModelCardData:
    base = inputs.base_model
    return ModelCardData(
        language=list(inputs.train_languages),
        license=LICENSE,
        library_name="transformers",
        tags=TAGS,
        datasets=[HUB_DATASET],
        metrics=list(METRIC_NAMES),
        # Only a Hub model is a base_model: a local folder or a random encoder has no id to link.
        # CardData drops the None, so the key is absent then.
        base_model=base.name if base.on_hub else None,
        pipeline_tag=TASK_TYPE,
        model_name=inputs.run_info.model_name,
        eval_results=eval_results(inputs),
        widget=widget(inputs),
    )
