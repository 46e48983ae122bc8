"""What the Space shows: its components and how a Comparison fills them (space/app.py wires the events).

    Inputs          the text, its examples, the language and the model choice
    View            the result columns (one per model, "auto" and gold), agreement line and table
    results_tab()   the study's plots, the F1 table, the paragraph table and the model cards

Every piece of user text reaches the page escaped: through gr.HighlightedText and gr.Dataframe
(which show text as text) or through html.escape in the HTML built here.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import gradio as gr
import pandas as pd

from core.facts import ENTITY_COLORS, ENTITY_NAMES, ENTITY_TYPES, LANGUAGE_NAMES, LANGUAGES
from core.results import F1_MATRIX_MD, PARAGRAPH_CHECK_JSON, PLOTS
from space.compare import Comparison, ModelResult, agreement, gold_check, result_name, span, table_rows
from space.examples import Example
from space.registry import MODEL_KEYS, ModelSpec, Registry
from space.routing import AUTO

GOLD_MARK = "★"
# A span that is not a gold span keeps its type's colour and gets this mark in its model's column.
WRONG = " ✗"
COLOR_MAP = {t: ENTITY_COLORS[t] for t in ENTITY_TYPES} | {t + WRONG: ENTITY_COLORS[t] for t in ENTITY_TYPES}
TABLE_HEADERS = ["model", "text", "type", "score", "vs gold"]
CSS = """
.legend-chip, .span-chip {
  display: inline-block; padding: 1px 8px; border-radius: 6px; margin: 2px 4px 2px 0; color: #111;
}
.notice { padding: 6px 10px; border-radius: 6px; background: #fff4d6; color: #5a4300; }
.notice.error { background: #fde2e1; color: #7a1410; }
.model-status { font-size: 0.85em; opacity: 0.85; }
.model-status.error { color: #b42318; opacity: 1; }
.model-status.pending::before {
  content: ""; display: inline-block; width: 0.8em; height: 0.8em; margin-right: 0.4em; vertical-align: -0.1em;
  border: 2px solid #f97316; border-top-color: transparent; border-radius: 50%; animation: panx-spin 0.8s linear infinite;
}
.model-status.waiting::before { animation: none; border-color: #bbb; }
@keyframes panx-spin { to { transform: rotate(360deg); } }
/* The columns of a row are as tall as the tallest; each box of spans fills its column above a status
   line two lines high, so that the status lines start at one height whatever the boxes hold. */
#results > [id^='col-'] > [id^='hl-'] { flex-grow: 1; }
#results > [id^='col-'] > [id^='status-'] { flex-grow: 0; min-height: 3.8em; }
[id^='hl-'] .token .label { white-space: nowrap; word-break: keep-all; }
"""


@dataclass
class Inputs:
    text: gr.Textbox
    examples: gr.Dataset
    language: gr.Radio
    models: gr.CheckboxGroup
    run: gr.Button

    @classmethod
    def build(cls, registry: Registry, examples: dict[str, list[Example]], language: str, chosen: list[str]) -> Inputs:
        with gr.Row():
            with gr.Column(scale=5):
                text = gr.Textbox(label="Text", value=examples[language][0].text, lines=2, max_lines=12, elem_id="text")
                example_set = gr.Dataset(
                    components=["textbox"],
                    headers=[],
                    type="index",
                    layout="table",
                    samples=example_samples(examples, language),
                    label=examples_label(language),
                    elem_id="examples",
                )
            with gr.Column(scale=4):
                radio = gr.Radio(
                    [(f"{LANGUAGE_NAMES[lang]} ({lang})", lang) for lang in LANGUAGES],
                    value=language,
                    label="Language",
                    elem_id="language",
                )
                models = gr.CheckboxGroup(
                    model_choices(registry, language),
                    value=chosen,
                    label="Models",
                    info=f"✓ = fine-tuned on this language, text only = read its text without labels, zero-shot "
                    f"= neither; {AUTO} = the best model for the language it detects",
                    elem_id="models",
                )
                run = gr.Button("Find entities", variant="primary", elem_id="run")
        return cls(text, example_set, radio, models, run)


@dataclass
class View:
    """The result components of the Compare tab and how a comparison fills them."""

    notice: gr.HTML
    gold_column: gr.Column
    gold_text: gr.HighlightedText
    columns: dict[str, gr.Column]
    highlights: dict[str, gr.HighlightedText]
    statuses: dict[str, gr.HTML]
    agreement: gr.HTML
    table: gr.Dataframe

    @classmethod
    def build(cls, registry: Registry, language: str, chosen: list[str]) -> View:
        gr.HTML(legend_html(), elem_id="legend")
        notice = gr.HTML("", visible=False, elem_id="notice")
        columns, highlights, statuses = {}, {}, {}
        with gr.Row(equal_height=True, elem_id="results"):
            with gr.Column(visible=False, min_width=220, elem_id="col-gold") as gold_column:
                gold_text = gr.HighlightedText(label="Gold (PAN-X)", color_map=COLOR_MAP, elem_id="hl-gold")
                gr.HTML("<span class='model-status'>the data set's own annotation</span>", elem_id="status-gold")
            for key in MODEL_KEYS:
                # One column per model, hidden until chosen.
                with gr.Column(visible=key in chosen, min_width=220, elem_id=f"col-{key}") as columns[key]:
                    label = AUTO_LABEL if key == AUTO else column_label(registry.spec(key), language)
                    highlights[key] = gr.HighlightedText(label=label, color_map=COLOR_MAP, elem_id=f"hl-{key}")
                    statuses[key] = gr.HTML("", elem_id=f"status-{key}")
        agreement_line = gr.HTML("", elem_id="agreement")
        table = gr.Dataframe(
            entity_table([]), datatype="str", label="Entities per model", interactive=False, wrap=True, elem_id="table"
        )
        return cls(notice, gold_column, gold_text, columns, highlights, statuses, agreement_line, table)

    @property
    def outputs(self) -> list[Any]:
        return [
            self.notice,
            self.gold_column,
            self.gold_text,
            self.agreement,
            self.table,
            *self.columns.values(),
            *self.highlights.values(),
            *self.statuses.values(),
        ]

    def _columns(self, chosen: list[str]) -> dict[Any, Any]:
        return {column: gr.Column(visible=key in chosen) for key, column in self.columns.items()}

    def message(self, message: str, chosen: list[str]) -> dict[Any, Any]:
        """No results, only a message (empty text, no model picked)."""
        return (
            self._columns(chosen)
            | {
                self.notice: gr.HTML(notice_html(message, error=True), visible=True),
                self.gold_column: gr.Column(visible=False),
                self.gold_text: None,
                self.agreement: "",
                self.table: entity_table([]),
            }
            | {h: None for h in self.highlights.values()}
            | {s: "" for s in self.statuses.values()}
        )

    def show(self, comparison: Comparison, loading: Collection[str] = ()) -> dict[Any, Any]:
        """A comparison, finished or not: each model that answered shows its spans, the one running
        says so (and that it is `loading`, its first use), the others that they wait; the agreement
        and the table follow once every model has answered."""
        gold = comparison.gold
        updates = self._columns([r.key for r in comparison.results] + list(comparison.pending)) | {
            self.notice: gr.HTML(notice_html(comparison.notice or ""), visible=bool(comparison.notice)),
            self.gold_column: gr.Column(visible=gold is not None),
            self.gold_text: gr.HighlightedText(
                value={"text": gold.text, "entities": gold.gold} if gold else None,
                label=f"Gold · {gold.source}" if gold else "Gold (PAN-X)",
            ),
        }
        if not comparison.pending:
            updates |= {self.agreement: agreement_html(comparison), self.table: entity_table(table_rows(comparison))}
        results = {r.key: r for r in comparison.results}
        for key, highlight in self.highlights.items():
            result = results.get(key)
            if key in comparison.pending:
                state = "waiting" if key != comparison.pending[0] else "loading" if key in loading else "tagging"
                updates[self.statuses[key]] = pending_html(state)
            elif result is None:
                updates[highlight], updates[self.statuses[key]] = None, ""
            else:
                updates[highlight] = gr.HighlightedText(
                    value=None if result.error else highlight_value(comparison.text, result, gold),
                    label=result_label(result, comparison),
                )
                updates[self.statuses[key]] = status_html(result, gold)
        return updates


def entity_table(rows: list[list[str]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=TABLE_HEADERS)


def highlight_value(text: str, result: ModelResult, gold: Example | None) -> dict:
    """The HighlightedText value of one model: its spans, with a ✗ after the type of those gold lacks."""
    matches, _ = gold_check(result.entities, gold)
    entities = [
        {"entity_group": e["entity_group"] + (WRONG if match is False else ""), "start": e["start"], "end": e["end"]}
        for e, match in zip(result.entities, matches, strict=True)
    ]
    return {"text": text, "entities": entities}


# --- labels ------------------------------------------------------------------------------------

AUTO_LABEL = f"{AUTO} · the best model for the detected language"


def model_choices(registry: Registry, lang: str) -> list[tuple[str, str]]:
    return [(choice_label(registry.spec(key), lang), key) for key in registry.specs] + [(AUTO_LABEL, AUTO)]


def choice_label(spec: ModelSpec, lang: str) -> str:
    return f"{spec.key} {'✓' if spec.trained_on(lang) else '·'} {spec.marker(lang)}"


def column_label(spec: ModelSpec, lang: str) -> str:
    # The key alone (the intro says it names the training languages) keeps the labels on one line each.
    verdict = {"trained": "✓ trained on", "text only": "text only in", "zero-shot": "zero-shot on"}[spec.marker(lang)]
    return f"{spec.key} · {verdict} {LANGUAGE_NAMES[lang]}"


def result_label(result: ModelResult, comparison: Comparison) -> str:
    """A model's column label; for auto: the detected language, its probability and the model that answered."""
    if result.key != AUTO or comparison.route is None:
        return column_label(result.spec, comparison.language)
    guess = comparison.route.guess
    return f"{result_name(result)} · {LANGUAGE_NAMES[guess.language]} detected (p = {guess.probability:.2f})"


def example_samples(examples: dict[str, list[Example]], lang: str) -> list[list[str]]:
    # Display only: a click sends the row index, and the text is looked up again.
    return [[f"{GOLD_MARK} {e.text}" if e.gold else e.text] for e in examples[lang]]


def examples_label(lang: str) -> str:
    return f"Examples in {LANGUAGE_NAMES[lang]}: click to run · {GOLD_MARK} = PAN-X sentence with gold spans"


# --- HTML (every text from a request is escaped) ---------------------------------------------------


def legend_html() -> str:
    chips = "".join(
        f"<span class='legend-chip' style='background:{ENTITY_COLORS[t]}'>{t} · {ENTITY_NAMES[t]}</span>"
        for t in ENTITY_TYPES
    )
    return f"<div>{chips} <span class='model-status'>{WRONG.strip()} after a type = not a gold span</span></div>"


def notice_html(message: str, error: bool = False) -> str:
    return f"<div class='notice{' error' if error else ''}'>{html.escape(message)}</div>"


def pending_html(state: str) -> str:
    """The status of a model that has not answered yet: "waiting" for the models before it, "tagging",
    or "loading" (its first use)."""
    text = {
        "waiting": "waiting for the models before it…",
        "tagging": "tagging…",
        "loading": "loading the model (its first use), then tagging…",
    }[state]
    return f"<div class='model-status pending {state}'>{text}</div>"


def status_html(result: ModelResult, gold: Example | None) -> str:
    if result.error:
        return f"<div class='model-status error'>⚠ {html.escape(result.error)}</div>"
    count = len(result.entities)
    parts = [f"{count} {'entity' if count == 1 else 'entities'}", f"{result.seconds * 1000:.0f} ms"]
    if result.load_seconds:
        parts.append(f"loaded in {result.load_seconds:.1f} s")
    if gold is not None:
        matches, _ = gold_check(result.entities, gold)
        parts.append(f"gold: {matches.count(True)}/{len(gold.gold or [])} found, {matches.count(False)} wrong")
    if result.key == AUTO:
        parts.append(f"answered by {result.spec.key}")
    if not result.spec.bundled:
        parts.append("from the Hub")
    return f"<div class='model-status'>{html.escape(' · '.join(parts))}</div>"


def chip(text: str, start: int, end: int, entity_type: str) -> str:
    color = ENTITY_COLORS.get(entity_type, "#ddd")
    words, kind = html.escape(text[start:end]), html.escape(entity_type)
    return f"<span class='span-chip' style='background:{color}'>{words} <b>{kind}</b></span>"


def agreement_html(comparison: Comparison) -> str:
    """Spans all models that ran agree on, then the disputed ones with who found them ("auto" left out)."""
    runs = comparison.ok
    if len(runs) < 2:
        return "<div class='model-status'>Pick two or more models to see where they agree.</div>"
    agreed, partial = agreement(comparison)
    text = comparison.text
    lines = [f"<b>All {len(runs)} models agree on</b>: " + (" ".join(chip(text, *s) for s in agreed) or "no span")]
    if partial:
        disputed = (
            f"{chip(text, *s)}<span class='model-status'>{html.escape(', '.join(keys))}</span>" for s, keys in partial
        )
        lines.append("<b>Only some models</b>: " + " ".join(disputed))
    if agreed and comparison.gold and comparison.gold.gold:
        gold_spans = {span(g) for g in comparison.gold.gold}
        in_gold = sum(s in gold_spans for s in agreed)
        lines.append(f"<span class='model-status'>{in_gold} of the {len(agreed)} agreed spans are gold spans.</span>")
    return "<div id='agreement-line'>" + "<br>".join(lines) + "</div>"


# --- the results tab ---------------------------------------------------------------------------------

# A relative image link in a card: ![caption](plots/f1_matrix.png). Cards link the study's plots
# beside README.md, where the Hub has them; in the Space they are served from results/ instead.
_RELATIVE_IMAGE = re.compile(r"!\[([^\]]*)\]\((?![a-z][a-z0-9+.-]*:|/)([^)\s]+)\)", re.IGNORECASE)


def plot_files(results_dir: Path) -> dict[str, Path]:
    """The study's plots that exist: file name -> file (core.results.PLOTS, in its order)."""
    return {Path(rel).name: results_dir / rel for rel in PLOTS if (results_dir / rel).is_file()}


def file_url(path: Path) -> str:
    """Where gradio serves a file it was allowed (gr.set_static_paths), relative to the page."""
    return f"gradio_api/file={quote(str(path.resolve()))}"


def card_markdown(card: str, plots: dict[str, Path]) -> str:
    """A card with its plot links pointing at the served plots; an image that cannot be served
    becomes its caption, so no image is broken."""

    def link(match: re.Match) -> str:
        caption, target = match.groups()
        plot = plots.get(Path(target).name)
        return f"![{caption}]({file_url(plot)})" if plot else f"*{caption} (plot not available here)*"

    return _RELATIVE_IMAGE.sub(link, card)


PARAGRAPH_HEADERS = [
    "model",
    "window, stride",
    "paragraphs, pipeline",
    "one sentence at a time, pipeline",
    "paragraphs, the Space's tagger",
    "pipeline spans cutting a word",
    "the same, one sentence at a time",
]


def paragraph_markdown(results_dir: Path) -> str:
    """results/paragraph_check.json as a small table: each model's F1 on paragraphs of running text through
    the plain pipeline, the same pipeline one sentence at a time, and the Space's tagger; "" without the file."""
    path = results_dir / PARAGRAPH_CHECK_JSON
    if not path.is_file():
        return ""
    try:
        check = json.loads(path.read_text(encoding="utf-8"))
        rows = [
            [
                key,
                f"{int(model['window'])}, {int(model['stride'])}",
                f"{model['paragraph_f1']:.3f}",
                f"{model['sentence_f1']:.3f}",
                f"{model['space_f1']:.3f}",
                f"{model['spans_cutting_letters_share']:.1%}",
                f"{model['sentence_spans_cutting_letters_share']:.1%}",
            ]
            for key, model in check["models"].items()
        ]
    except (ValueError, KeyError, TypeError, AttributeError) as err:
        return f"*The paragraph check cannot be read ({PARAGRAPH_CHECK_JSON}: {html.escape(str(err))}).*"
    head = "| " + " | ".join(PARAGRAPH_HEADERS) + " |\n|---|" + "---:|" * (len(PARAGRAPH_HEADERS) - 1)
    body = "\n".join("| " + " | ".join(row) + " |" for row in rows)
    return (
        "### Paragraphs of running text\n\n"
        "The scores above read one PAN-X sentence at a time. Here each model reads documents of running text built "
        'from PAN-X validation sentences: whole, through the plain `pipeline(aggregation_strategy="simple", '
        "stride=...)` in the model's windows with its card's stride; one sentence at a time through the same pipeline; and whole through this Space's tagger "
        "(entity F1 on exact character spans; the study report has the details).\n\n"
        f"{head}\n{body}\n"
    )


def results_tab(registry: Registry, results_dir: Path) -> None:
    """The study's plots, the F1 tables (sentences, paragraphs) and the model cards: why the columns of the
    Compare tab differ."""
    gr.Markdown(
        "Every model is scored on the test set of every language; a score on a language the model was not "
        f"fine-tuned on measures zero-shot transfer. {AUTO} answers with the model that scores best on the "
        "detected language. The cards below give each model's data and scores."
    )
    plots = plot_files(results_dir)
    gr.set_static_paths(list(plots.values()))  # these files only, for the cards' images
    for rel, caption in PLOTS.items():
        path = results_dir / rel
        if path.is_file():
            # The caption above the plot, not as the image's label chip, which covers the plot's title.
            gr.Markdown(f"**{caption}**", elem_classes="plot-caption")
            gr.Image(str(path), label=caption, show_label=False, interactive=False, buttons=[])
        else:
            gr.Markdown(f"*{caption}: not produced yet ({rel} is missing in the results).*")
    table = results_dir / F1_MATRIX_MD
    if table.is_file():
        gr.Markdown(table.read_text(encoding="utf-8"))
    paragraphs = paragraph_markdown(results_dir)
    if paragraphs:
        gr.Markdown(paragraphs)
    gr.Markdown("### Model cards")
    for spec in registry.specs.values():
        with gr.Accordion(f"{spec.display_name} · {spec.hub_id}", open=False):
            card = registry.card(spec.key)
            missing = f"*No model card bundled: {spec.key}/README.md is missing in the models folder.*"
            gr.Markdown(card_markdown(card, plots) if card else missing)
