"""The study report: `python -m workflow.report [--results DIR]` writes DIR/REPORT.md (default results/).

What concerns all of the study's models, which every model card links to instead of repeating it: the
cross-lingual F1 matrix beside the book's, a second seed and a full fine-tune against the study's recipe,
the French few-shot curve, the error analysis and the models on paragraphs of running text, with the study's
plots. Every number is read from
the result files (the book's figures from core.facts.BOOK_F1) and formatted as the cards format theirs;
the words are the template's. The study runs it as its `report` step.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import Environment, StrictUndefined

from cards.context import fmt_count, fmt_loss, fmt_score, fmt_share
from core import results as res
from core.cli import InputError, run
from core.facts import (
    BOOK_F1,
    CURVE_LANGUAGE,
    EXPERIMENTS,
    LANGUAGE_NAMES,
    LANGUAGES,
    SPACE_ID,
    count_words,
    join_names,
)
from core.files import write_text

# The result files the report reads, with the keys it needs: the study step's inputs.
REPORT_INPUTS: dict[str, tuple[str, ...]] = {
    res.F1_MATRIX_JSON: (),
    res.ADAPTER_COST_JSON: ("model", "preset", "f1", "trainable_parameters", "seed"),
    res.CURVE_JSON: ("zero_shot_f1", "zero_shot_model", "points"),
    res.ERROR_ANALYSIS_JSON: ("model", "language", "words", "mean_loss", "per_label", "top_confusions"),
    res.PARAGRAPH_CHECK_JSON: res.PARAGRAPH_CHECK_KEYS,
}
MADE_BY = {
    **res.PRODUCED_BY,
    res.CURVE_JSON: f"{res.STUDY_COMMAND} --only curve",
}
MISSING = "–"  # a table cell without a value (a figure the book does not give)

TEMPLATE = """\
# panx-ner: the study

The {{ models | length | words }} models of panx-ner's reproduction of chapter 4 of *Natural Language Processing with
Transformers*, side by side. Each model's own scores, with their intervals and per entity type, are on its model card;
the [Space](https://huggingface.co/spaces/{{ space_id }}) runs the models on your text. This page is written by
`python -m workflow.report` (the study's `report` step) from the study's result files, and every number in it is
read from them. Scores are entity-level micro F1 (seqeval) on each language's test split; each card says which
sentences those are.

## Cross-lingual transfer

Each model (row: the languages it was trained on) on each language's test split (column), from
`{{ files.matrix }}`; the best score of each column is in bold.

| Model | Trained on |{% for name in languages %} {{ name }} |{% endfor %}

|---|---|{% for name in languages %}---:|{% endfor %}

{% for row in models %}
| `{{ row.model }}` | {{ row.trained_on | names }} | {% for score in row.scores %}{{ "**" ~ score.text ~ "**" if score.best else score.text }}{{ " | " if not loop.last }}{% endfor %} |
{% endfor %}

![{{ plots.matrix }}]({{ plots.matrix_path }})

## The book's figures

The book's xlm-roberta-base models on the official PAN-X test set, with three decimals as the book prints them
("{{ missing }}" where it gives none), and this study's scores minus the book's: a rough comparison only where the
study's test sentences or base model differ from the book's.

| Model |{% for name in languages %} {{ name }} |{% endfor %}{% for name in languages %} {{ name }}, study − book |{% endfor %}

|---|{% for name in languages %}---:|{% endfor %}{% for name in languages %}---:|{% endfor %}

{% for row in book %}
| `{{ row.model }}` | {{ row.scores | join(" | ") }} | {{ row.differences | join(" | ") }} |
{% endfor %}

## A second seed and a full fine-tune

The `{{ cost.model }}` model trained with the study's recipe (preset `{{ cost.preset }}`){% if cost.seed %}, the same
recipe with another seed{% endif %}{% if cost.full %}, and a full fine-tune of the same base{% endif %},
from `{{ files.cost }}`:

| Run | Trainable parameters |{% for name in languages %} {{ name }} |{% endfor %}

|---|---:|{% for name in languages %}---:|{% endfor %}

{% for row in cost.rows %}
| {{ row.run }} | {{ row.trainable }} | {{ row.scores | join(" | ") }} |
{% endfor %}

{% for full in cost.full %}
On {{ full.languages | names }}, the language{{ "s" if full.languages | length > 1 }} it was trained on, the full
fine-tune (preset `{{ full.preset }}`) scores
{%+ for gap in full.gaps %}{{ gap }} F1{{ ", " if not loop.last }}{% endfor %} against the recipe's model, training
{{ full.ratio }} times as many parameters.
{% else %}
The study has no full fine-tune of this base, so what its recipe costs against one is not measured.
{% endfor %}
{% for seed in cost.seed %}
A second seed ({{ seed.seed }}) moves F1 by at most {{ seed.widest }} ({{ seed.language }}): differences of that size
between two models are within seed noise.
{% else %}
The study has no second-seed run yet, so how much a seed moves these scores is not measured: read differences of a
point or two between models with that in mind.
{% endfor %}

## {{ curve.language }} with few training sentences

{{ curve.language }} F1 of models trained on the first {{ curve.points | map(attribute="samples") | list | names }}
{{ curve.language }} training sentences, from `{{ files.curve }}`, beside the `{{ curve.zero_shot_model }}` model's
zero-shot {{ curve.language }} F1 of {{ curve.zero_shot }}:

| {{ curve.language }} training sentences | {{ curve.language }} F1 | Against zero-shot |
|---:|---:|---:|
{% for point in curve.points %}
| {{ point.samples }} | {{ point.f1 }} | {{ point.gain }} |
{% endfor %}

{% for samples in curve.first_above %}
The smallest {{ curve.language }} training set that beats the zero-shot transfer has {{ samples }} sentences.
{% else %}
None of these models beats the zero-shot transfer.
{% endfor %}

![{{ plots.curve }}]({{ plots.curve_path }})

## Error analysis of the `{{ errors.model }}` model

On {{ errors.words }} {{ errors.language }} validation words (`{{ files.errors }}`; each word's loss is its first
subword's), the mean loss is {{ errors.mean_loss }}. The highest confusion rates:
{%+ for row in errors.confusions %}{{ row.share }} of `{{ row.gold }}` words tagged `{{ row.predicted }}`
{{- "; " if not loop.last }}{% endfor %}.

| Gold label | Words | Mean loss |
|---|---:|---:|
{% for row in errors.labels %}
| `{{ row.label }}` | {{ row.count }} | {{ row.mean }} |
{% endfor %}

![{{ plots.confusion }}]({{ plots.confusion_path }})

## Paragraphs of running text

The scores above read one PAN-X sentence at a time, in PAN-X's split form ("Jeff Dean ( Google ) ."), as the book
does; people paste paragraphs. From `{{ files.paragraphs }}`: each language's validation sentences that read as prose
(never the carved test half) are written as running text and joined, in their order, into documents of
{{ paragraphs.characters }} characters ({% for row in paragraphs.documents %}{{ row.documents }} {{ row.language }}{{ ", " if loop.revindex > 2 else " and " if loop.revindex == 2 }}{% endfor %}).
Each model reads them three ways: the plain `pipeline(aggregation_strategy="simple", stride=...)` on each whole
document, in the windows of its tokenizer's `model_max_length` with the stride its card gives; the same pipeline one
sentence at a time; and the Space's tagger on each whole document. F1 is
entity-level micro F1 on exact character spans over all the documents; the last two columns are the shares of the
pipeline's spans that cut a word between two letters ("Zür|ich"), on paragraphs and one sentence at a time.

| Model | Window, stride | Paragraphs, pipeline | One sentence at a time, pipeline | Paragraphs, the Space's tagger | Pipeline spans cutting a word | The same, one sentence at a time |
|---|---:|---:|---:|---:|---:|---:|
{% for row in paragraphs.rows %}
| `{{ row.model }}` | {{ row.window }}, {{ row.stride }} | {{ row.paragraph }} | {{ row.sentence }} | {{ row.space }} | {{ row.cut }} | {{ row.sentence_cut }} |
{% endfor %}

{% if paragraphs.lower == paragraphs.rows | length %}
Every model scores lower with the plain pipeline on whole paragraphs than one sentence at a time.
{% else %}
{{ paragraphs.lower | words | capitalize }} of the {{ paragraphs.rows | length | words }} models score lower with the
plain pipeline on whole paragraphs than one sentence at a time.
{% endif %}
"""


@dataclass(frozen=True)
class Score:
    text: str
    best: bool


@dataclass(frozen=True)
class ModelRow:
    model: str
    trained_on: list[str]
    scores: list[Score]


@dataclass(frozen=True)
class BookRow:
    model: str
    scores: list[str]
    differences: list[str]


@dataclass(frozen=True)
class CostRow:
    run: str
    trainable: str
    scores: list[str]


@dataclass(frozen=True)
class FullFineTune:
    preset: str
    languages: list[str]
    gaps: list[str]  # full fine-tune − recipe, on languages
    ratio: str


@dataclass(frozen=True)
class SecondSeed:
    seed: str
    widest: str
    language: str


@dataclass(frozen=True)
class Cost:
    model: str
    preset: str
    rows: list[CostRow]
    full: list[FullFineTune]  # [] without a full fine-tune
    seed: list[SecondSeed]  # [] without a second seed


@dataclass(frozen=True)
class CurvePoint:
    samples: str
    f1: str
    gain: str


@dataclass(frozen=True)
class Curve:
    language: str
    zero_shot_model: str
    zero_shot: str
    points: list[CurvePoint]
    first_above: list[str]  # the smallest training set that beats zero-shot; [] when none does


@dataclass(frozen=True)
class Confusion:
    gold: str
    predicted: str
    share: str


@dataclass(frozen=True)
class LabelLoss:
    label: str
    count: str
    mean: str


@dataclass(frozen=True)
class Errors:
    model: str
    language: str
    words: str
    mean_loss: str
    confusions: list[Confusion]
    labels: list[LabelLoss]


@dataclass(frozen=True)
class ParagraphRow:
    model: str
    paragraph: str  # F1 of the plain pipeline on whole documents
    sentence: str  # ... one sentence at a time
    space: str  # ... of the Space's tagger on whole documents
    cut: str  # share of the pipeline's paragraph spans that cut a word
    sentence_cut: str  # ... of its spans one sentence at a time
    window: str  # subwords per pipeline window
    stride: str  # of them shared by consecutive windows


@dataclass(frozen=True)
class LanguageDocuments:
    language: str
    documents: str


@dataclass(frozen=True)
class Paragraphs:
    documents: list[LanguageDocuments]
    characters: str  # the shortest and the longest document: "2,246 to 6,383"
    rows: list[ParagraphRow]
    lower: int  # models whose paragraph F1 is below their one-sentence F1


@dataclass(frozen=True)
class ReportContext:
    space_id: str
    missing: str
    files: dict[str, str]
    plots: dict[str, str]
    languages: list[str]
    models: list[ModelRow]
    book: list[BookRow]
    cost: Cost
    curve: Curve
    errors: Errors
    paragraphs: Paragraphs


def fmt_delta(value: float) -> str:
    return f"{value:+.4f}"


def fmt_book(value: float) -> str:
    # The book prints three decimals; more would invent precision.
    return f"{value:.3f}"


def read_results(results_dir: str | Path) -> dict[str, Any]:
    """The report's result files, checked for the keys it reads; an error names the file and its step."""
    results = {}
    for name, keys in REPORT_INPUTS.items():
        path = Path(results_dir) / name
        if not path.is_file():
            raise InputError(f"{path} is missing; it is written by {MADE_BY[name]}")
        try:
            results[name] = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise InputError(f"{path} is not valid JSON ({err}); re-run {MADE_BY[name]}") from err
        missing = [key for key in keys if key not in results[name]]
        if not isinstance(results[name], dict) or missing:
            raise InputError(f"{path} lacks {', '.join(map(repr, missing or keys))}; re-run {MADE_BY[name]}")
    return results


def _cells(scores: dict[str, float], fmt) -> list[str]:
    return [fmt(scores[lang]) if lang in scores else MISSING for lang in LANGUAGES]


def _models(matrix: dict[str, dict[str, float]]) -> list[ModelRow]:
    order = [name for name in EXPERIMENTS if name in matrix] + [name for name in matrix if name not in EXPERIMENTS]
    best = {
        lang: max(row[lang] for row in matrix.values() if lang in row)
        for lang in LANGUAGES
        if any(lang in row for row in matrix.values())
    }
    return [
        ModelRow(
            model=name,
            trained_on=[LANGUAGE_NAMES[lang] for lang in EXPERIMENTS.get(name, ())],
            scores=[
                Score(fmt_score(matrix[name][lang]), matrix[name][lang] == best[lang])
                if lang in matrix[name]
                else Score(MISSING, False)
                for lang in LANGUAGES
            ],
        )
        for name in order
    ]


def _book(matrix: dict[str, dict[str, float]]) -> list[BookRow]:
    return [
        BookRow(
            model=name,
            scores=_cells(book, fmt_book),
            differences=_cells(
                {lang: matrix[name][lang] - value for lang, value in book.items() if lang in matrix.get(name, {})},
                fmt_delta,
            ),
        )
        for name, book in BOOK_F1.items()
    ]


def _cost(report: dict[str, Any]) -> Cost:
    recipe = report["f1"]
    trainable = fmt_count(report["trainable_parameters"])
    rows = [CostRow(f"preset `{report['preset']}`", trainable, _cells(recipe, fmt_score))]
    seeds = []
    if report["seed"] is not None:
        other = report["seed"]["f1"]
        rows.append(
            CostRow(f"preset `{report['preset']}`, seed {report['seed']['seed']}", trainable, _cells(other, fmt_score))
        )
        spread = {lang: abs(other[lang] - recipe[lang]) for lang in recipe if lang in other}
        widest = max(spread, key=spread.get)
        seeds.append(SecondSeed(str(report["seed"]["seed"]), fmt_score(spread[widest]), LANGUAGE_NAMES[widest]))
    fulls = []
    full = report.get("full_fine_tune")
    if full:
        gaps = {lang: full["f1"][lang] - recipe[lang] for lang in recipe if lang in full["f1"]}
        rows.append(
            CostRow(
                f"full fine-tune, preset `{full['preset']}`",
                fmt_count(full["trainable"]),
                _cells(full["f1"], fmt_score),
            )
        )
        rows.append(CostRow("full fine-tune − recipe", MISSING, _cells(gaps, fmt_delta)))
        own = [lang for lang in EXPERIMENTS.get(str(report["model"]), ()) if lang in gaps] or list(gaps)
        fulls.append(
            FullFineTune(
                preset=str(full["preset"]),
                languages=[LANGUAGE_NAMES[lang] for lang in own],
                gaps=[fmt_delta(gaps[lang]) for lang in own],
                ratio=f"{full['trainable'] / report['trainable_parameters']:.0f}",
            )
        )
    return Cost(model=str(report["model"]), preset=str(report["preset"]), rows=rows, full=fulls, seed=seeds)


def _curve(curve: dict[str, Any]) -> Curve:
    zero_shot = curve["zero_shot_f1"]
    above = [point["train_samples"] for point in curve["points"] if point["f1"] > zero_shot]
    return Curve(
        language=LANGUAGE_NAMES[CURVE_LANGUAGE],
        zero_shot_model=str(curve["zero_shot_model"]),
        zero_shot=fmt_score(zero_shot),
        points=[
            CurvePoint(fmt_count(point["train_samples"]), fmt_score(point["f1"]), fmt_delta(point["f1"] - zero_shot))
            for point in curve["points"]
        ],
        first_above=[fmt_count(min(above))] if above else [],
    )


def _errors(analysis: dict[str, Any]) -> Errors:
    return Errors(
        model=str(analysis["model"]),
        language=LANGUAGE_NAMES[analysis["language"]],
        words=fmt_count(analysis["words"]),
        mean_loss=fmt_loss(analysis["mean_loss"]),
        confusions=[
            Confusion(row["gold"], row["predicted"], fmt_share(row["rate"])) for row in analysis["top_confusions"]
        ],
        labels=[
            LabelLoss(row["label"], fmt_count(row["count"]), fmt_loss(row["mean"])) for row in analysis["per_label"]
        ],
    )


def _paragraphs(check: dict[str, Any]) -> Paragraphs:
    models = check["models"]
    for name, entry in models.items():
        missing = [key for key in res.PARAGRAPH_MODEL_KEYS if key not in entry]
        if missing:
            raise InputError(
                f"{res.PARAGRAPH_CHECK_JSON} lacks {', '.join(map(repr, missing))} in models.{name}; "
                f"re-run {MADE_BY[res.PARAGRAPH_CHECK_JSON]}"
            )
    order = [name for name in EXPERIMENTS if name in models] + [name for name in models if name not in EXPERIMENTS]
    characters = [length for counts in check["documents"].values() for length in counts["characters"]]
    return Paragraphs(
        documents=[
            LanguageDocuments(LANGUAGE_NAMES[lang], fmt_count(check["documents"][lang]["documents"]))
            for lang in LANGUAGES
            if lang in check["documents"]
        ],
        characters=f"{fmt_count(min(characters))} to {fmt_count(max(characters))}" if characters else MISSING,
        rows=[
            ParagraphRow(
                model=name,
                paragraph=fmt_score(models[name]["paragraph_f1"]),
                sentence=fmt_score(models[name]["sentence_f1"]),
                space=fmt_score(models[name]["space_f1"]),
                cut=fmt_share(models[name]["spans_cutting_letters_share"]),
                sentence_cut=fmt_share(models[name]["sentence_spans_cutting_letters_share"]),
                window=str(models[name]["window"]),
                stride=str(models[name]["stride"]),
            )
            for name in order
        ],
        lower=sum(entry["paragraph_f1"] < entry["sentence_f1"] for entry in models.values()),
    )


def build_context(results: dict[str, Any]) -> ReportContext:
    matrix = results[res.F1_MATRIX_JSON]
    return ReportContext(
        space_id=SPACE_ID,
        missing=MISSING,
        files={
            "matrix": res.F1_MATRIX_JSON,
            "cost": res.ADAPTER_COST_JSON,
            "curve": res.CURVE_JSON,
            "errors": res.ERROR_ANALYSIS_JSON,
            "paragraphs": res.PARAGRAPH_CHECK_JSON,
        },
        # Relative to REPORT.md, which sits in the results folder beside them.
        plots={
            "matrix": res.PLOTS[res.F1_MATRIX_PNG],
            "matrix_path": res.F1_MATRIX_PNG,
            "curve": res.PLOTS[res.CURVE_PNG],
            "curve_path": res.CURVE_PNG,
            "confusion": res.PLOTS[res.CONFUSION_PNG],
            "confusion_path": res.CONFUSION_PNG,
        },
        languages=[LANGUAGE_NAMES[lang] for lang in LANGUAGES],
        models=_models(matrix),
        book=_book(matrix),
        cost=_cost(results[res.ADAPTER_COST_JSON]),
        curve=_curve(results[res.CURVE_JSON]),
        errors=_errors(results[res.ERROR_ANALYSIS_JSON]),
        paragraphs=_paragraphs(results[res.PARAGRAPH_CHECK_JSON]),
    )


def render_report(results_dir: str | Path) -> str:
    environment = Environment(
        undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True, autoescape=False
    )
    environment.filters["names"] = join_names
    environment.filters["words"] = count_words
    return environment.from_string(TEMPLATE).render(vars(build_context(read_results(results_dir))))


def write_report(results_dir: str | Path) -> Path:
    return write_text(Path(results_dir) / res.REPORT_MD, render_report(results_dir))


def main(argv: list[str] | None = None) -> int:
    from core.facts import RESULTS_DIR

    parser = argparse.ArgumentParser(prog="python -m workflow.report", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--results", type=Path, default=RESULTS_DIR, help="the study's results folder (default: results/)"
    )
    args = parser.parse_args(argv)
    print(write_report(args.results))
    return 0


if __name__ == "__main__":
    sys.exit(run(main))
