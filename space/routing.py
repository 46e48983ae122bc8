"""The "auto" model: detect the text's language, then answer with the best model for that language.

    detect_language(text)   py3langid, restricted to the project's languages -> (language, probability)
    rank_models(matrix)     language -> experiments, best first: by the study's F1 on that language
                            (results/f1_matrix.json); without a matrix, the model trained on that
                            language alone, then the others that saw it, then the rest
    Router                  both together for one Space: route(text) -> Route

The Space tries the ranking in order, so a broken best model hands over to the next one.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from core.facts import EXPERIMENTS, LANGUAGES
from core.results import read_f1_matrix

AUTO = "auto"


@dataclass(frozen=True)
class LanguageGuess:
    language: str
    probability: float  # over the project's languages only; 1 / len(LANGUAGES) when the text gives no clue


@dataclass(frozen=True)
class Route:
    guess: LanguageGuess
    ranking: tuple[str, ...]  # experiments to try, best first

    @property
    def model(self) -> str:
        return self.ranking[0]


_identifier = None
_identifier_lock = threading.Lock()


def _language_identifier():
    """py3langid's model (about 1 s to load), once per process, limited to LANGUAGES."""
    global _identifier
    with _identifier_lock:
        if _identifier is None:
            from py3langid.langid import MODEL_FILE, LanguageIdentifier

            identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
            identifier.set_languages(list(LANGUAGES))
            _identifier = identifier
        return _identifier


def detect_language(text: str) -> LanguageGuess:
    language, probability = _language_identifier().classify(text)
    return LanguageGuess(language, round(float(probability), 4))


def rank_models(matrix: dict[str, dict[str, float]]) -> dict[str, tuple[str, ...]]:
    """For each language, every experiment, best first. Rows or columns the matrix lacks (a study not
    finished, an experiment added since) rank after the scored ones, by what they were trained on."""
    ranking = {}
    for lang in LANGUAGES:

        def key(experiment: str, lang: str = lang) -> tuple:
            f1 = matrix.get(experiment, {}).get(lang)
            trained = EXPERIMENTS[experiment]
            # Scored first (highest F1), then: trained on this language alone, trained on it among
            # others, the rest; ties keep the order of EXPERIMENTS (sorted() is stable).
            return (f1 is None, -(f1 or 0.0), trained != (lang,), lang not in trained)

        ranking[lang] = tuple(sorted(EXPERIMENTS, key=key))
    return ranking


class Router:
    """Detects the language and ranks the models by the study's results (read once, at start)."""

    def __init__(self, results_dir: str | Path):
        self.ranking = rank_models(read_f1_matrix(results_dir))

    def route(self, text: str) -> Route:
        guess = detect_language(text)
        return Route(guess, self.ranking[guess.language])
