"""Render a run directory's model card: `python -m cards.render RUN_DIR [--results DIR] [--out FILE] [--repo-id ID]`.

One pipeline: read and check the run's files (cards.inputs), build the YAML header with
huggingface_hub (cards.metadata) and a dataclass context (cards.context), render the Jinja template,
then parse the text back with ModelCard before returning it. Publishing calls `render_card` after
training has saved the model and before uploading (the Trainer's push_to_hub would overwrite
README.md with its own card). Any run directory renders: one outside the study (a user's own run)
from its own logs, its card saying so.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from huggingface_hub import ModelCard
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from core import run_dir as rd
from core.cli import run
from core.facts import (
    DEFAULT_DATA_DIR,
    HUB_NAMESPACE,
    REPO_ROOT,
    RESULTS_DIR,
    join_names,
)
from core.files import write_text
from core.paths import named_folders
from core.run_dir import CARD

from .context import build_context
from .inputs import CardError, CardInputs, load_inputs
from .metadata import LICENSE, build_card_data

TEMPLATES_DIR = Path(__file__).parent / "templates"
TEMPLATE = "model_card.md.j2"


def _environment() -> Environment:
    # StrictUndefined: a missing context key is an error, not an empty string. No `default` filters
    # in the templates, since they would hide a missing key even under StrictUndefined.
    environment = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,  # Markdown, not HTML
    )
    environment.filters["names"] = join_names  # ["German", "French"] | names -> "German and French"
    return environment


def default_repo_id(inputs: CardInputs) -> str:
    return f"{HUB_NAMESPACE}/{inputs.run_info.model_name}"


def _check_portable(text: str, inputs: CardInputs) -> None:
    """A card is published: it must not name this machine's folders or how it loaded models."""
    found = named_folders(text, [inputs.run_dir, REPO_ROOT, DEFAULT_DATA_DIR, inputs.results_dir])
    found += [flag for flag in rd.LOADER_FLAGS if flag in text]
    if found:
        raise CardError(
            f"the card rendered for {inputs.run_dir} names {', '.join(found)}; a published card "
            "must not mention local folders or loader flags (check run_info.json's fields)"
        )


def render_card(run_dir: str | Path, results_dir: str | Path | None = None, repo_id: str | None = None) -> str:
    """The model card of a run directory, as Markdown with a YAML header.

    results_dir holds the study's results: the card names the run one of the study's models when
    f1_matrix.json holds its scores, and quotes pipeline_vs_space.json and paragraph_check.json where they
    measured these weights (None: none of them). repo_id=None uses HUB_NAMESPACE/model_name.
    Raises RunDirError naming a missing file (and the step that writes it), CardError for a malformed one.
    """
    inputs = load_inputs(run_dir, results_dir)
    repo_id = repo_id or default_repo_id(inputs)
    card_data = build_card_data(inputs)
    context = build_context(inputs, repo_id=repo_id, metadata_yaml=card_data.to_yaml(), license=LICENSE)
    text = _environment().get_template(TEMPLATE).render(vars(context))
    _check_portable(text, inputs)
    # Parse it back as the Hub would: catches broken YAML or an invalid model-index before anyone writes it.
    try:
        ModelCard(text)
    except ValueError as err:
        raise CardError(f"the rendered card for {run_dir} does not parse as a model card: {err}") from err
    return text


def write_card(
    run_dir: str | Path,
    results_dir: str | Path | None = None,
    repo_id: str | None = None,
    out: str | Path | None = None,
) -> Path:
    """Render the card and write it atomically (default: RUN_DIR/README.md)."""
    text = render_card(run_dir, results_dir=results_dir, repo_id=repo_id)
    return write_text(Path(out) if out is not None else Path(run_dir) / CARD, text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m cards.render", description="Render the model card of a run directory."
    )
    parser.add_argument("run_dir", type=Path, help="run directory written by python -m training.train")
    parser.add_argument(
        "--results",
        type=Path,
        default=RESULTS_DIR if RESULTS_DIR.is_dir() else None,
        help=f"the study's results directory (default: {RESULTS_DIR.name}/ of the repo, when it exists)",
    )
    parser.add_argument("--out", type=Path, default=None, help=f"where to write the card (default: RUN_DIR/{CARD})")
    parser.add_argument(
        "--repo-id", default=None, help=f"Hub repo id used in the card (default: {HUB_NAMESPACE}/<model_name>)"
    )
    args = parser.parse_args(argv)
    print(write_card(args.run_dir, results_dir=args.results, repo_id=args.repo_id, out=args.out))
    return 0


if __name__ == "__main__":
    sys.exit(run(main))
