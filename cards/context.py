"""What the template shows: a dataclass of display-ready values built from a run directory.

Numbers are formatted here, once, so the template only places strings and the tests can check the
card "as displayed". Every field is always present and never None (StrictUndefined catches a missing
one; `_check_no_none` catches a None that would print as "None"). Optional sections are empty lists.
"""

from __future__ import annotations

import dataclasses
import json
import shlex
from dataclasses import dataclass
from typing import Any

from training.facts import (
    BOOK_F1,
    DEFAULT_BASE_MODEL,
    ENTITY_NAMES,
    ENTITY_TYPES,
    EXAMPLE_SENTENCES,
    HUB_DATASET,
    LABEL2ID,
    LABELS,
    LANGUAGE_NAMES,
    LANGUAGES,
    SWISS_FRACTIONS,
)

from .assets import plot_captions
from .inputs import CardInputs

SPLIT_ORDER = ("train", "validation", "test")
MISSING = "–"  # shown in a table cell that has no value (e.g. a book figure the book does not give)
EXAMPLES_PER_ENTITY = 3


# Display formats: the tests compare the card with the JSON through these same formats.
def fmt_score(value: float) -> str:
    return f"{value:.4f}"


def fmt_loss(value: float) -> str:
    return f"{value:.4f}"


def fmt_epoch(value: float) -> str:
    return f"{value:.1f}"


def fmt_count(value: int) -> str:
    return f"{int(value):,}"


def fmt_book(value: float) -> str:
    # The book prints three decimals; more would invent precision.
    return f"{value:.3f}"


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


def join_names(names: list[str], conjunction: str = "and") -> str:
    """["German", "French", "Italian"] -> "German, French and Italian"."""
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} {conjunction} {names[-1]}"


@dataclass(frozen=True)
class LanguageScores:
    code: str
    name: str
    trained: bool
    sentences: str
    precision: str
    recall: str
    f1: str
    book_f1: str


@dataclass(frozen=True)
class EntityScores:
    language: str
    entity: str
    precision: str
    recall: str
    f1: str
    support: str


@dataclass(frozen=True)
class SplitCounts:
    language: str
    split: str
    sentences: str
    entities: list[str]  # ENTITY_TYPES order


@dataclass(frozen=True)
class EpochRow:
    training_loss: str
    epoch: str
    step: str
    validation_loss: str
    f1: str


@dataclass(frozen=True)
class LabelRow:
    tag: str
    id: str
    meaning: str
    examples: str


@dataclass(frozen=True)
class F1Row:
    model: str
    this_model: bool
    scores: list[str]  # LANGUAGES order


@dataclass(frozen=True)
class CardContext:
    metadata_yaml: str
    repo_id: str
    model_name: str
    experiment: str
    base_model: str
    base_model_is_hub_id: bool
    base_model_is_local: bool
    base_model_is_offline_base: bool
    same_base_as_book: bool  # False: the book's figures are not a like-for-like comparison
    train_languages: str  # "German and French"
    eval_languages: str
    zero_shot_languages: str  # "" when every evaluated language was trained on
    entity_summary: str  # "persons (PER), organisations (ORG) and locations (LOC)"
    dataset: str
    example_sentence: str  # a Python string literal, quotes included
    command: str
    device: str
    runtime: str
    created_at: str
    hyperparameters: list[tuple[str, str]]
    epoch_rows: list[EpochRow]
    data_source: str
    fractions: list[tuple[str, str]]  # (language name, fraction)
    fractions_are_swiss: bool
    shuffle_seed: str
    test_carved: bool
    carve_seed: str
    eval_split: str
    split_counts: list[SplitCounts]
    entity_types: list[str]
    language_scores: list[LanguageScores]
    entity_scores: list[EntityScores]
    labels: list[LabelRow]
    matrix_languages: list[str]  # column headers of the F1 tables
    f1_rows: list[F1Row]  # [] without results/f1_matrix.json: no cross-lingual section
    book_rows: list[F1Row]
    plots: list[tuple[str, str]]  # (plots/<name>.png, caption); [] without plots
    versions: list[tuple[str, str]]
    license: str


def epoch_rows(log_history: list[dict[str, Any]]) -> list[EpochRow]:
    """One row per evaluation, paired with the training loss logged since the previous one."""
    rows: list[EpochRow] = []
    training_loss = None
    for entry in log_history:
        if "train_runtime" in entry:
            break  # the end-of-training summary: evaluations after it are final scores, not epochs
        if "loss" in entry:
            training_loss = entry["loss"]
        if "eval_loss" in entry:
            rows.append(
                EpochRow(
                    training_loss=fmt_loss(training_loss) if training_loss is not None else "No log",
                    epoch=fmt_epoch(entry["epoch"]),
                    step=str(entry["step"]),
                    validation_loss=fmt_loss(entry["eval_loss"]),
                    f1=fmt_score(entry["eval_f1"]),
                )
            )
            training_loss = None
    return rows


def _label_rows(examples: dict[str, list[str]]) -> list[LabelRow]:
    rows = []
    for tag in LABELS:
        if tag == "O":
            meaning, shown = "outside any entity", MISSING
        else:
            prefix, entity = tag.split("-")
            position = "first token" if prefix == "B" else "any later token"
            name = ENTITY_NAMES[entity]
            meaning = f"{position} of {'an' if name[0] in 'aeiou' else 'a'} {name} name"
            # Examples on the B- row only: the I- row is the same names' later tokens.
            names = examples[entity][:EXAMPLES_PER_ENTITY] if prefix == "B" else []
            shown = ", ".join(f"`{cell(name)}`" for name in names) or MISSING
        rows.append(LabelRow(tag=tag, id=str(LABEL2ID[tag]), meaning=meaning, examples=shown))
    return rows


def _f1_cells(scores: dict[str, float], fmt) -> list[str]:
    return [fmt(scores[lang]) if lang in scores else MISSING for lang in LANGUAGES]


def _f1_rows(inputs: CardInputs, repo_id: str) -> list[F1Row]:
    """This model's F1 first (from its eval_results.json), then the other models of results/f1_matrix.json."""
    if not inputs.f1_matrix:
        return []
    own = {lang: inputs.eval_results["languages"][lang]["f1"] for lang in inputs.eval_languages}
    # The matrix may name this model by experiment, model name or repo id; show it once, from this run.
    own_keys = {inputs.run_info["experiment"], inputs.run_info["model_name"], repo_id}
    rows = [F1Row(model=cell(inputs.run_info["model_name"]), this_model=True, scores=_f1_cells(own, fmt_score))]
    rows += [
        F1Row(model=cell(model), this_model=False, scores=_f1_cells(scores, fmt_score))
        for model, scores in inputs.f1_matrix.items()
        if model not in own_keys
    ]
    return rows


def _language_scores(inputs: CardInputs, book: dict[str, float]) -> list[LanguageScores]:
    scores = inputs.eval_results["languages"]
    return [
        LanguageScores(
            code=lang,
            name=LANGUAGE_NAMES[lang],
            trained=lang in inputs.train_languages,
            sentences=fmt_count(scores[lang]["num_sentences"]),
            precision=fmt_score(scores[lang]["precision"]),
            recall=fmt_score(scores[lang]["recall"]),
            f1=fmt_score(scores[lang]["f1"]),
            book_f1=fmt_book(book[lang]) if lang in book else MISSING,
        )
        for lang in inputs.eval_languages
    ]


def _entity_scores(inputs: CardInputs) -> list[EntityScores]:
    rows = []
    for lang in inputs.eval_languages:
        for entity in ENTITY_TYPES:
            scores = inputs.eval_results["languages"][lang]["per_entity"][entity]
            rows.append(
                EntityScores(
                    language=LANGUAGE_NAMES[lang],
                    entity=entity,
                    precision=fmt_score(scores["precision"]),
                    recall=fmt_score(scores["recall"]),
                    f1=fmt_score(scores["f1"]),
                    support=fmt_count(scores["support"]),
                )
            )
    return rows


def _split_counts(splits: dict[str, dict[str, Any]]) -> list[SplitCounts]:
    rows = []
    for lang in [code for code in LANGUAGES if code in splits]:
        names = sorted(splits[lang], key=lambda s: (SPLIT_ORDER.index(s) if s in SPLIT_ORDER else len(SPLIT_ORDER), s))
        for split in names:
            counts = splits[lang][split]
            rows.append(
                SplitCounts(
                    language=LANGUAGE_NAMES[lang],
                    split=cell(split),
                    sentences=fmt_count(counts["rows"]),
                    entities=[fmt_count(counts["entities"][entity]) for entity in ENTITY_TYPES],
                )
            )
    return rows


def _command(command: Any) -> str:
    return shlex.join(map(str, command)) if isinstance(command, list) else str(command).strip()


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
    experiment = str(info["experiment"])
    zero_shot = [LANGUAGE_NAMES[lang] for lang in inputs.eval_languages if lang not in inputs.train_languages]
    fractions = {lang: data["fractions"][lang] for lang in LANGUAGES if lang in data["fractions"]}

    context = CardContext(
        metadata_yaml=metadata_yaml.strip(),
        repo_id=repo_id,
        model_name=str(info["model_name"]),
        experiment=experiment,
        base_model=inputs.base_model.name,
        base_model_is_hub_id=inputs.base_model.is_hub_id,
        base_model_is_local=inputs.base_model.is_local,
        base_model_is_offline_base=inputs.base_model.is_offline_base,
        train_languages=join_names([LANGUAGE_NAMES[lang] for lang in inputs.train_languages]),
        same_base_as_book=inputs.base_model.name == DEFAULT_BASE_MODEL,
        eval_languages=join_names([LANGUAGE_NAMES[lang] for lang in inputs.eval_languages]),
        zero_shot_languages=join_names(zero_shot, "or") if zero_shot else "",
        entity_summary=join_names([f"{ENTITY_NAMES[entity]}s ({entity})" for entity in ENTITY_TYPES]),
        dataset=HUB_DATASET,
        example_sentence=json.dumps(EXAMPLE_SENTENCES[inputs.train_languages[0]], ensure_ascii=False),
        command=_command(info["command"]),
        device=str(info["device"]),
        runtime=fmt_duration(float(info["train_runtime_s"])),
        created_at=str(info["created_at"]),
        hyperparameters=[(name, fmt_hyperparameter(value)) for name, value in inputs.hyperparameters.items()],
        epoch_rows=epoch_rows(inputs.trainer_state["log_history"]),
        # A local folder means nothing on the Hub: name the kind of copy, not the path.
        data_source="from the Hugging Face Hub" if data["source"] == "hub" else "from a local parquet copy (see PROVENANCE.md in panx-ner)",
        fractions=[(LANGUAGE_NAMES[lang], f"{value:.3f}") for lang, value in fractions.items()],
        fractions_are_swiss=all(abs(value - SWISS_FRACTIONS[lang]) < 1e-9 for lang, value in fractions.items()),
        shuffle_seed=str(data["shuffle_seed"]),
        test_carved=bool(data["test_carved_from_validation"]),
        carve_seed=str(data["carve_seed"]),
        eval_split=str(inputs.eval_results["split"]),
        split_counts=_split_counts(data["splits"]),
        entity_types=list(ENTITY_TYPES),
        language_scores=_language_scores(inputs, BOOK_F1.get(experiment, {})),
        entity_scores=_entity_scores(inputs),
        labels=_label_rows(data["examples"]),
        matrix_languages=[LANGUAGE_NAMES[lang] for lang in LANGUAGES],
        f1_rows=_f1_rows(inputs, repo_id),
        book_rows=[F1Row(model=name, this_model=name == experiment, scores=_f1_cells(row, fmt_book)) for name, row in BOOK_F1.items()],
        plots=plot_captions(inputs.results_dir),
        versions=[
            (cell(package), "not installed" if version is None else cell(version))
            for package, version in info["versions"].items()
        ],
        license=license,
    )
    _check_no_none(context, "context")
    return context
