"""The card's YAML header, built with huggingface_hub's ModelCardData + EvalResult (never hand-written)."""

from __future__ import annotations

from huggingface_hub import EvalResult, ModelCardData

from training.facts import EXAMPLE_SENTENCES, HUB_DATASET, HUB_DATASET_CONFIG, LANGUAGE_NAMES, LANGUAGES

from .inputs import CardInputs

# CC BY-SA 4.0, not the base model's MIT: the weights are fitted to PAN-X, whose sentences are
# Wikipedia text (CC BY-SA) and whose annotations state no license of their own (see
# shared/data/panx/PROVENANCE.md). Releasing under the ShareAlike terms is the reading that honours
# the most restrictive input; MIT (xlm-roberta-base) allows the fine-tuned weights to carry it.
LICENSE = "cc-by-sa-4.0"
TAGS = ["token-classification", "ner", "named-entity-recognition", "panx", "wikiann", "xtreme"]
METRICS = ("f1", "precision", "recall")
TASK_TYPE = "token-classification"
CARVED_NOTE = "test split carved from validation"


def dataset_name(lang: str, carved: bool) -> str:
    """EvalResult dataset name; says so when the scores come from the carved test split."""
    name = HUB_DATASET_CONFIG.format(lang=lang)
    return f"{name} ({CARVED_NOTE})" if carved else name


def eval_results(inputs: CardInputs) -> list[EvalResult]:
    """One model-index result per evaluated language, each with F1, precision and recall."""
    carved = bool(inputs.data_summary["test_carved_from_validation"])
    split = str(inputs.eval_results["split"])
    return [
        EvalResult(
            task_type=TASK_TYPE,
            task_name="Named Entity Recognition",
            dataset_type=HUB_DATASET,
            dataset_name=dataset_name(lang, carved),
            dataset_config=HUB_DATASET_CONFIG.format(lang=lang),
            dataset_split=split,
            metric_type=metric,
            metric_name=metric.capitalize() if metric != "f1" else "F1",
            metric_value=float(inputs.eval_results["languages"][lang][metric]),
        )
        for lang in inputs.eval_languages
        for metric in METRICS
    ]


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
        metrics=list(METRICS),
        # No base_model key for a run without a pretrained checkpoint (the smoke preset's random
        # encoder): its description is not a model id. CardData drops the None on purpose here.
        base_model=base.name if base.is_hub_id or base.is_local else None,
        pipeline_tag=TASK_TYPE,
        model_name=str(inputs.run_info["model_name"]),
        eval_results=eval_results(inputs),
        widget=widget(inputs),
    )
