"""The facts of panx-ner, in one place.

Everything else (training, cards, the Space, tests) imports these names instead of repeating
them. This module imports nothing heavy so the Space and the card renderer can use it cheaply.
"""

from __future__ import annotations

import os
from pathlib import Path

# Labels: the xtreme PAN-X order (ids 0..6). The data loader asserts the data agrees.
LABELS: tuple[str, ...] = ("O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC")
ID2LABEL: dict[int, str] = dict(enumerate(LABELS))
LABEL2ID: dict[str, int] = {label: i for i, label in ID2LABEL.items()}
ENTITY_TYPES: tuple[str, ...] = ("PER", "ORG", "LOC")
ENTITY_NAMES: dict[str, str] = {"PER": "person", "ORG": "organisation", "LOC": "location"}
# Fixed colours per entity type, shared by the Space and the plots.
ENTITY_COLORS: dict[str, str] = {"PER": "#f4a261", "ORG": "#2a9d8f", "LOC": "#8ab6f9"}

LANGUAGES: tuple[str, ...] = ("de", "fr", "it", "en")
LANGUAGE_NAMES: dict[str, str] = {"de": "German", "fr": "French", "it": "Italian", "en": "English"}
# Share of each language among Swiss speakers: the book's corpus mix.
SWISS_FRACTIONS: dict[str, float] = {"de": 0.629, "fr": 0.229, "it": 0.084, "en": 0.059}

# Experiment name -> languages it trains on. Every experiment is evaluated on all LANGUAGES.
EXPERIMENTS: dict[str, tuple[str, ...]] = {
    "de": ("de",),
    "de-fr": ("de", "fr"),
    "fr": ("fr",),
    "it": ("it",),
    "en": ("en",),
    "all": LANGUAGES,
}

HUB_DATASET = "google/xtreme"
HUB_DATASET_CONFIG = "PAN-X.{lang}"
DEFAULT_BASE_MODEL = "xlm-roberta-base"
# Namespace the bundled models are published under (the Space's registry uses it).
HUB_NAMESPACE = "panx-ner"
# The project's own offline base: made by `python -m training.pretrain`.
OFFLINE_BASE_NAME = "panx-xlmr-mini"

# Seeds: the book subsamples with shuffle(seed=0); the labelled test split is carved from
# validation with its own fixed seed because the offline copy has no test labels.
SHUFFLE_SEED = 0
CARVE_SEED = 42

# Offline data: PANX_DATA_DIR wins; otherwise ../shared/data/panx beside the checkout.
REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA_DIR = REPO_ROOT.parent / "shared" / "data" / "panx"
RESULTS_DIR = REPO_ROOT / "results"
BUNDLED_MODELS_DIR = REPO_ROOT / "space" / "models"


def default_data_dir() -> Path | None:
    """The offline PAN-X folder to use when none is given, or None to go to the Hub."""
    env = os.environ.get("PANX_DATA_DIR")
    if env:
        return Path(env)
    return DEFAULT_DATA_DIR if DEFAULT_DATA_DIR.is_dir() else None


# One sentence per language in the style of the book's "Jeff Dean ist ein Informatiker bei
# Google in Kalifornien": used by the card widget, the Space and the smoke checks.
EXAMPLE_SENTENCES: dict[str, str] = {
    "de": "Jeff Dean ist ein Informatiker bei Google in Kalifornien",
    "fr": "Jeff Dean est informaticien chez Google en Californie",
    "it": "Jeff Dean è un informatico di Google in California",
    "en": "Jeff Dean is a computer scientist at Google in California",
}

# The book's xlm-roberta-base F1 (notebook, true PAN-X test set): model -> language -> F1.
BOOK_F1: dict[str, dict[str, float]] = {
    "de": {"de": 0.868, "fr": 0.714, "it": 0.692, "en": 0.589},
    "de-fr": {"de": 0.866, "fr": 0.868, "it": 0.815, "en": 0.677},
    "fr": {"fr": 0.851},
    "it": {"it": 0.819},
    "en": {"en": 0.707},
    "all": {"de": 0.868, "fr": 0.865, "it": 0.858, "en": 0.787},
}


def check_experiment(experiment: str) -> tuple[str, ...]:
    """Languages of an experiment, or a ValueError that lists the valid experiments."""
    if experiment not in EXPERIMENTS:
        raise ValueError(f"unknown experiment {experiment!r}; valid experiments: {', '.join(EXPERIMENTS)}")
    return EXPERIMENTS[experiment]


def check_language(lang: str) -> str:
    if lang not in LANGUAGES:
        raise ValueError(f"unknown language {lang!r}; valid languages: {', '.join(LANGUAGES)}")
    return lang


def model_name(experiment: str, base_model: str = DEFAULT_BASE_MODEL) -> str:
    """Hub model name: xlm-roberta-base-finetuned-panx-de for the book's base, else derived from the base."""
    check_experiment(experiment)
    base = Path(str(base_model).rstrip("/")).name or str(base_model)
    return f"{base}-finetuned-panx-{experiment}"
