"""The Gradio Space: pick a language and models, see their entities side by side.

`build_demo()` lays out components and reads small files (examples, results, cards); models load
on first use through the Registry, so building the demo loads none. `launch(demo)` (space.serving)
is what `python app.py` runs.

Public API: /tag (text, language) -> the spans of the language's default models and of "auto" as
JSON, e.g. `gradio_client.Client(url).predict("Jeff Dean ist ...", "de", api_name="/tag")`;
language "auto" detects it. The UI's own events are private.
"""

from __future__ import annotations

import html
import itertools
import threading
from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gradio as gr

from core.cli import InputError
from core.facts import EXPERIMENTS, LANGUAGE_NAMES, LANGUAGES, RESULTS_DIR, ZERO_SHOT_SOURCE, count_words
from space.compare import MAX_CHARS, api_payload, compare, comparing
from space.examples import EXAMPLES_FILE, Example, gold_for, load_examples
from space.registry import MODEL_KEYS, Registry, default_models
from space.routing import AUTO, Router
from space.serving import CONCURRENCY, CONCURRENCY_ID, QUEUE_SIZE, launch
from space.views import Inputs, View, example_samples, examples_label, model_choices, results_tab

__all__ = ["build_demo", "launch"]

DEFAULT_LANGUAGE = ZERO_SHOT_SOURCE
PRIVATE = {"api_visibility": "private"}  # UI plumbing; the public API is /tag
# Events that run models share CONCURRENCY slots, whichever event (UI or API) asks.
MODELS = {"concurrency_id": CONCURRENCY_ID, "concurrency_limit": CONCURRENCY}


def chosen_models(lang: str) -> list[str]:
    """Models checked for a language: its default models and auto."""
    return [*default_models(lang), AUTO]


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


class Space:
    """The Space's event handlers and its /tag API, around one registry, router and set of examples."""

    def __init__(self, registry: Registry, router: Router, examples: dict[str, list[Example]], view: View):
        self.registry = registry
        self.router = router
        self.examples = examples
        self.view = view
        self.latest = LatestRun()

    def run(self, text: str, lang: str, keys: list[str], request: gr.Request) -> Iterator[dict]:
        """The chosen models on the text, each column painted as its model answers; a newer run of the
        same browser session stops this one."""
        token = self.latest.start(request.session_hash)
        chosen = [k for k in MODEL_KEYS if k in (keys or [])]  # registry order, whatever the click order
        if not chosen:
            yield self.view.message("Pick at least one model.", chosen)
            return
        steps = comparing(text, lang, chosen, self.registry, self.router, gold_for(text or "", self.examples))
        try:
            for comparison in steps:
                if not self.latest.is_latest(request.session_hash, token):
                    yield {component: gr.skip() for component in self.view.outputs}
                    return
                loading = {k for k in comparison.pending if k != AUTO and not self.registry.is_loaded(k)}
                yield self.view.show(comparison, loading)
        except InputError as err:
            yield self.view.message(str(err), chosen)

    def switch_language(self, lang: str, text: str) -> tuple:
        """New model labels and examples; text the user wrote stays, an untouched example is swapped."""
        all_examples = [e.text for per_lang in self.examples.values() for e in per_lang]
        untouched = not (text or "").strip() or text in all_examples
        return (
            gr.CheckboxGroup(choices=model_choices(self.registry, lang), value=chosen_models(lang)),
            gr.Dataset(samples=example_samples(self.examples, lang), label=examples_label(lang)),
            self.examples[lang][0].text if untouched else text,
        )

    def pick_example(self, index: int | None, lang: str) -> Any:
        return self.examples[lang][index].text if index is not None else gr.skip()

    def tag(self, text: str, language: str) -> dict:
        """Entities found in `text` by the language's default models (German, that language's own, all) and by auto.

        `language` is one of the project's languages, or "auto" to detect it. Returns {"text", "language",
        "notice", "models": {key: {"model", "trained_on", "zero_shot", "entities": [{"entity_group", "word",
        "start", "end", "score"}], "error"}}, "auto": {"detected_language", "probability", "answered_by",
        "model", "zero_shot", "entities", "error"}}; start and end are character offsets into the returned
        "text" (cut to MAX_CHARS characters, see "notice")."""
        try:
            return api_payload(compare(text, language, None, self.registry, self.router))
        except InputError as err:
            # gr.Error renders HTML in the browser: the message may quote the request.
            raise gr.Error(html.escape(str(err), quote=False), print_exception=False) from None


TITLE = f"PAN-X cross-lingual NER: {count_words(len(EXPERIMENTS))} models side by side"


def intro() -> str:
    names = "+".join(LANGUAGES)
    return (
        f"## {TITLE}\n"
        f"One multilingual encoder fine-tuned {count_words(len(EXPERIMENTS))} times on PAN-X (Wikipedia), each on "
        f"the languages in its name (`all` = {names}). **Zero-shot** = the model never saw the chosen language in "
        f"fine-tuning. **{AUTO}** detects the language ({', '.join(LANGUAGE_NAMES[lang] for lang in LANGUAGES)}) "
        f"and answers with the model that scores best on it. Texts are cut to {MAX_CHARS:,} characters."
    )


def wire(demo: gr.Blocks, space: Space, inputs: Inputs, view: View) -> None:
    # Each column says itself that its model runs (View.show): no progress overlay over the results.
    run = {
        "fn": space.run,
        "inputs": [inputs.text, inputs.language, inputs.models],
        "outputs": view.outputs,
        "show_progress": "hidden",
        **PRIVATE,
        **MODELS,
    }
    demo.load(**run)  # the first view: the first example's result
    gr.on([inputs.run.click, inputs.text.submit], **run)
    # Ticks while a run is pending make one more run, with the boxes as they are then; not one per tick.
    inputs.models.input(trigger_mode="always_last", **run)
    switched = inputs.language.input(
        space.switch_language, [inputs.language, inputs.text], [inputs.models, inputs.examples, inputs.text], **PRIVATE
    )
    switched.then(**run)
    picked = inputs.examples.click(space.pick_example, [inputs.examples, inputs.language], inputs.text, **PRIVATE)
    picked.then(**run)
    gr.api(space.tag, api_name="tag", **MODELS)


def build_demo(
    models_dir: str | Path | None = None, results_dir: str | Path = RESULTS_DIR, examples_file: Path = EXAMPLES_FILE
) -> gr.Blocks:
    """The Space. `models_dir` overrides where bundled models are looked for ($PANX_MODELS_DIR, else space/models)."""
    registry = Registry(models_dir)
    router = Router(results_dir)
    examples = load_examples(examples_file)
    chosen = chosen_models(DEFAULT_LANGUAGE)
    with gr.Blocks(title=TITLE, analytics_enabled=False) as demo:
        gr.Markdown(intro())
        with gr.Tab("Compare"):
            inputs = Inputs.build(registry, examples, DEFAULT_LANGUAGE, chosen)
            view = View.build(registry, DEFAULT_LANGUAGE, chosen)
        with gr.Tab("Why the models differ"):
            results_tab(registry, Path(results_dir))
        wire(demo, Space(registry, router, examples, view), inputs, view)
    demo.queue(default_concurrency_limit=CONCURRENCY, max_size=QUEUE_SIZE)
    demo.registry = registry  # lets tests and warm-up scripts reach the demo's model cache
    return demo
