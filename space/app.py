"""The Gradio Space: pick a language and models, see their entities side by side.

`build_demo()` lays out components and reads small files (examples, results, cards); models load
on first use through the Registry, so building the demo loads none. `launch(demo)` is what
`python app.py` runs.

Public API: /tag (text, language) -> the spans of the language's default models as JSON, e.g.
`gradio_client.Client(url).predict("Jeff Dean ist ...", "de", api_name="/tag")`. The UI's own
events are private.
"""

from __future__ import annotations

import html
import itertools
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr
import pandas as pd

from training.facts import ENTITY_COLORS, ENTITY_NAMES, ENTITY_TYPES, LANGUAGE_NAMES, LANGUAGES, RESULTS_DIR

from space.compare import (
    Comparison, InputError, ModelResult, agreement, api_payload, compare, gold_check, span, table_rows,
)
from space.examples import EXAMPLES_FILE, Example, gold_for, load_examples
from space.registry import MODEL_KEYS, ModelSpec, Registry, default_models

DEFAULT_LANGUAGE = "de"
# Requests run two at a time (one per core of a basic Space); the rest wait in the queue.
CONCURRENCY = 2
QUEUE_SIZE = 64
# Intra-op threads per forward pass (launch() sets it). Measured on 2 busy cores: 1 thread ~2 ms
# per sentence for a small model, 2 threads 80-250 ms as the threads wait on each other; parallel
# requests use the cores better than threads inside one small forward pass.
TORCH_THREADS_ENV = "PANX_TORCH_THREADS"
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
[id^='hl-'] .token .label { white-space: nowrap; word-break: keep-all; }
"""


def build_demo(
    models_dir: str | Path | None = None, results_dir: str | Path = RESULTS_DIR, examples_file: Path = EXAMPLES_FILE
) -> gr.Blocks:
    """The Space. `models_dir` overrides where bundled models are looked for ($PANX_MODELS_DIR, else space/models)."""
    registry = Registry(models_dir)
    examples = load_examples(examples_file)
    first_models = default_models(DEFAULT_LANGUAGE)

    with gr.Blocks(title="PAN-X NER: six models side by side", analytics_enabled=False) as demo:
        gr.Markdown(
            "## PAN-X cross-lingual NER: six models side by side\n"
            "One multilingual encoder fine-tuned six times on PAN-X (Wikipedia), each on the languages in its name "
            "(`all` = de+fr+it+en). **Zero-shot** = the model never saw the chosen language in fine-tuning."
        )
        with gr.Tab("Compare"):
            with gr.Row():
                with gr.Column(scale=5):
                    text_box = gr.Textbox(
                        label="Text", value=examples[DEFAULT_LANGUAGE][0].text, lines=2, max_lines=12, elem_id="text"
                    )
                    example_set = gr.Dataset(
                        components=["textbox"], headers=[], type="index", layout="table",
                        samples=example_samples(examples, DEFAULT_LANGUAGE), label=examples_label(DEFAULT_LANGUAGE),
                        elem_id="examples",
                    )
                with gr.Column(scale=4):
                    language_radio = gr.Radio(
                        [(f"{LANGUAGE_NAMES[lang]} ({lang})", lang) for lang in LANGUAGES],
                        value=DEFAULT_LANGUAGE, label="Language", elem_id="language",
                    )
                    model_boxes = gr.CheckboxGroup(
                        model_choices(registry, DEFAULT_LANGUAGE), value=first_models, label="Models",
                        info="✓ = fine-tuned on this language, zero-shot = not", elem_id="models",
                    )
                    run_button = gr.Button("Find entities", variant="primary", elem_id="run")
            view = View.build(registry, first_models)

        with gr.Tab("Why the models differ"):
            results_tab(registry, Path(results_dir))

        latest = LatestRun()

        def respond(text: str, lang: str, keys: list[str], progress: gr.Progress) -> dict:
            chosen = [k for k in MODEL_KEYS if k in (keys or [])]  # registry order, whatever the click order
            if not chosen:
                return view.message("Pick at least one model.", chosen)

            def on_load(spec: ModelSpec) -> None:
                where = "its bundled folder" if spec.bundled else f"the Hub ({spec.hub_id})"
                progress(0.5, desc=f"Loading model {spec.key} from {where} (first use only)…")

            try:
                comparison = compare(text, lang, chosen, registry, gold_for(text or "", examples), on_load=on_load)
            except InputError as err:
                return view.message(str(err), chosen)
            return view.show(comparison)

        def run(
            text: str, lang: str, keys: list[str], request: gr.Request, progress: gr.Progress = gr.Progress()
        ) -> dict:
            token = latest.start(request.session_hash)
            updates = respond(text, lang, keys, progress)
            if not latest.is_latest(request.session_hash, token):
                return {component: gr.skip() for component in view.outputs}  # a newer run of this session paints
            return updates

        def switch_language(lang: str, text: str) -> tuple:
            # Text the user wrote stays; an untouched example is swapped for one in the new language.
            all_examples = [e.text for per_lang in examples.values() for e in per_lang]
            untouched = not (text or "").strip() or text in all_examples
            return (
                gr.CheckboxGroup(choices=model_choices(registry, lang), value=default_models(lang)),
                gr.Dataset(samples=example_samples(examples, lang), label=examples_label(lang)),
                examples[lang][0].text if untouched else text,
            )

        def pick_example(index: int | None, lang: str) -> Any:
            return examples[lang][index].text if index is not None else gr.skip()

        run_inputs = [text_box, language_radio, model_boxes]
        private = {"api_visibility": "private"}  # UI plumbing; the public API is /tag
        run_button.click(run, run_inputs, view.outputs, **private)
        text_box.submit(run, run_inputs, view.outputs, **private)
        model_boxes.input(run, run_inputs, view.outputs, **private)
        switched = language_radio.input(
            switch_language, [language_radio, text_box], [model_boxes, example_set, text_box], **private
        )
        switched.then(run, run_inputs, view.outputs, **private)
        picked = example_set.click(pick_example, [example_set, language_radio], text_box, **private)
        picked.then(run, run_inputs, view.outputs, **private)

        def tag(text: str, language: str) -> dict:
            """Entities found in `text` by the language's default models (German, that language's own, all).

            Returns {"text", "language", "notice", "models": {key: {"model", "trained_on", "zero_shot",
            "entities": [{"entity_group", "word", "start", "end", "score"}], "error"}}}; start and end
            are character offsets into the returned "text" (cut to 10,000 characters, see "notice")."""
            try:
                return api_payload(compare(text, language, default_models(language), registry))
            except InputError as err:
                raise gr.Error(str(err), print_exception=False) from None

        gr.api(tag, api_name="tag")

    demo.queue(default_concurrency_limit=CONCURRENCY, max_size=QUEUE_SIZE)
    demo.registry = registry  # lets tests and warm-up scripts reach the demo's model cache
    return demo


class LatestRun:
    """Which run of each browser session is the newest, so that an older one cannot paint over it.

    Runs of one session can overlap (a language switch runs the models, then an example click runs
    them again while the first still loads a model); the slower, older one must not win.
    """

    def __init__(self, capacity: int = 10_000):
        self._latest: OrderedDict[str, int] = OrderedDict()
        self._tokens = itertools.count()
        self._lock = threading.Lock()
        self._capacity = capacity  # sessions remembered; the oldest are forgotten

    def start(self, session: str | None) -> int:
        with self._lock:
            token = next(self._tokens)
            self._latest[session or ""] = token
            self._latest.move_to_end(session or "")
            while len(self._latest) > self._capacity:
                self._latest.popitem(last=False)
            return token

    def is_latest(self, session: str | None, token: int) -> bool:
        with self._lock:
            return self._latest.get(session or "", token) == token


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
    def build(cls, registry: Registry, first_models: list[str]) -> View:
        gr.HTML(legend_html(), elem_id="legend")
        notice = gr.HTML("", visible=False, elem_id="notice")
        columns, highlights, statuses = {}, {}, {}
        with gr.Row(equal_height=False):
            with gr.Column(visible=False, min_width=220, elem_id="col-gold") as gold_column:
                gold_text = gr.HighlightedText(label="Gold (PAN-X)", color_map=COLOR_MAP, elem_id="hl-gold")
                gr.HTML("<span class='model-status'>the data set's own annotation</span>")
            for key in MODEL_KEYS:
                # One column per model, hidden until chosen: at most 6 + gold side by side.
                with gr.Column(visible=key in first_models, min_width=220, elem_id=f"col-{key}") as columns[key]:
                    label = column_label(registry.spec(key), DEFAULT_LANGUAGE)
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
            self.notice, self.gold_column, self.gold_text, self.agreement, self.table,
            *self.columns.values(), *self.highlights.values(), *self.statuses.values(),
        ]

    def _columns(self, chosen: list[str]) -> dict[Any, Any]:
        return {column: gr.Column(visible=key in chosen) for key, column in self.columns.items()}

    def message(self, message: str, chosen: list[str]) -> dict[Any, Any]:
        """No results, only a message (empty text, no model picked)."""
        return self._columns(chosen) | {
            self.notice: gr.HTML(notice_html(message, error=True), visible=True),
            self.gold_column: gr.Column(visible=False),
            self.gold_text: None,
            self.agreement: "",
            self.table: entity_table([]),
        } | {h: None for h in self.highlights.values()} | {s: "" for s in self.statuses.values()}

    def show(self, comparison: Comparison) -> dict[Any, Any]:
        gold = comparison.gold
        updates = self._columns([r.spec.key for r in comparison.results]) | {
            self.notice: gr.HTML(notice_html(comparison.notice or ""), visible=bool(comparison.notice)),
            self.gold_column: gr.Column(visible=gold is not None),
            self.gold_text: gr.HighlightedText(
                value={"text": gold.text, "entities": gold.gold} if gold else None,
                label=f"Gold · {gold.source}" if gold else "Gold (PAN-X)",
            ),
            self.agreement: agreement_html(comparison),
            self.table: entity_table(table_rows(comparison)),
        }
        results = {r.spec.key: r for r in comparison.results}
        for key, highlight in self.highlights.items():
            result = results.get(key)
            if result is None:
                updates[highlight], updates[self.statuses[key]] = None, ""
                continue
            updates[highlight] = gr.HighlightedText(
                value=None if result.error else highlight_value(comparison.text, result, gold),
                label=column_label(result.spec, comparison.language),
            )
            updates[self.statuses[key]] = status_html(result, gold)
        return updates


def entity_table(rows: list[list[str]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=TABLE_HEADERS)


def highlight_value(text: str, result: ModelResult, gold: Example | None) -> dict:
    """The HighlightedText value of one model: its spans, with a ✗ after the type of those gold lacks."""
    matches, _ = gold_check(result.entities, gold)
    return {
        "text": text,
        "entities": [
            {
                "entity_group": e["entity_group"] + (WRONG if match is False else ""),
                "start": e["start"],
                "end": e["end"],
            }
            for e, match in zip(result.entities, matches, strict=True)
        ],
    }


def model_choices(registry: Registry, lang: str) -> list[tuple[str, str]]:
    return [(choice_label(registry.spec(key), lang), key) for key in MODEL_KEYS]


def choice_label(spec: ModelSpec, lang: str) -> str:
    return f"{spec.key} {'✓ trained' if spec.trained_on(lang) else '· zero-shot'}"


def column_label(spec: ModelSpec, lang: str) -> str:
    # The key alone (the intro says it names the training languages) keeps six labels on one line each.
    verdict = "✓ trained on" if spec.trained_on(lang) else "zero-shot on"
    return f"{spec.key} · {verdict} {LANGUAGE_NAMES[lang]}"


def example_samples(examples: dict[str, list[Example]], lang: str) -> list[list[str]]:
    # Display only: a click sends the row index, and the text is looked up again.
    return [[f"{GOLD_MARK} {e.text}" if e.gold else e.text] for e in examples[lang]]


def examples_label(lang: str) -> str:
    return f"Examples in {LANGUAGE_NAMES[lang]}: click to run · {GOLD_MARK} = PAN-X sentence with gold spans"


def legend_html() -> str:
    chips = "".join(
        f"<span class='legend-chip' style='background:{ENTITY_COLORS[t]}'>{t} · {ENTITY_NAMES[t]}</span>"
        for t in ENTITY_TYPES
    )
    return f"<div>{chips} <span class='model-status'>{WRONG.strip()} after a type = not a gold span</span></div>"


def notice_html(message: str, error: bool = False) -> str:
    return f"<div class='notice{' error' if error else ''}'>{html.escape(message)}</div>"


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
    parts.append("bundled" if result.spec.bundled else "from the Hub")
    return f"<div class='model-status'>{' · '.join(parts)}</div>"


def chip(text: str, start: int, end: int, entity_type: str) -> str:
    color = ENTITY_COLORS.get(entity_type, "#ddd")
    words, kind = html.escape(text[start:end]), html.escape(entity_type)
    return f"<span class='span-chip' style='background:{color}'>{words} <b>{kind}</b></span>"


def agreement_html(comparison: Comparison) -> str:
    """Spans all models that ran agree on, then the disputed ones with who found them."""
    runs = comparison.ok
    if len(runs) < 2:
        return "<div class='model-status'>Pick two or more models to see where they agree.</div>"
    agreed, partial = agreement(comparison)
    text = comparison.text
    lines = [f"<b>All {len(runs)} models agree on</b>: " + (" ".join(chip(text, *s) for s in agreed) or "no span")]
    if partial:
        disputed = (f"{chip(text, *s)}<span class='model-status'>{', '.join(keys)}</span>" for s, keys in partial)
        lines.append("<b>Only some models</b>: " + " ".join(disputed))
    if agreed and comparison.gold and comparison.gold.gold:
        gold_spans = {span(g) for g in comparison.gold.gold}
        in_gold = sum(s in gold_spans for s in agreed)
        lines.append(f"<span class='model-status'>{in_gold} of the {len(agreed)} agreed spans are gold spans.</span>")
    return "<div id='agreement-line'>" + "<br>".join(lines) + "</div>"


def results_tab(registry: Registry, results_dir: Path) -> None:
    """F1 matrix, French learning curve and model cards: why the columns of the Compare tab differ."""
    gr.Markdown(
        "Every model is scored on the test set of every language; a score on a language the model was not "
        "fine-tuned on measures zero-shot transfer. The cards below give each model's data and scores."
    )
    plots = (
        ("f1_matrix.png", "F1 per training and test language"),
        ("fr_learning_curve.png", "French: F1 against training sentences"),
    )
    for name, label in plots:
        path = results_dir / name
        if path.is_file():
            gr.Image(str(path), label=label, interactive=False, buttons=[])
        else:
            gr.Markdown(f"*{label}: not produced yet ({results_dir.name}/{name} is missing).*")
    table = results_dir / "f1_matrix.md"
    if table.is_file():
        gr.Markdown(table.read_text(encoding="utf-8"))
    gr.Markdown("### Model cards")
    for key in MODEL_KEYS:
        spec = registry.spec(key)
        with gr.Accordion(f"{spec.display_name} · {spec.hub_id}", open=False):
            card = registry.card(key)
            missing = f"*No model card bundled: {spec.folder.name}/README.md is missing in the models folder.*"
            gr.Markdown(card or missing)


def launch(demo: gr.Blocks, **kwargs: Any) -> Any:
    """Serve the demo as the Space does (GRADIO_SERVER_PORT, default 7860; GRADIO_SERVER_NAME)."""
    import torch

    torch.set_num_threads(int(os.environ.get(TORCH_THREADS_ENV, "1")))
    return demo.launch(css=CSS, **kwargs)
