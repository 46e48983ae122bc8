"""Which plots from results/ a card shows, and where they go beside the card.

Convention: the card links every plot of core.results.PLOTS that exists as `plots/<file name>`,
relative to README.md. Rendering never copies files; whoever publishes the card copies each
`card_assets(results_dir)` entry to that path in the model repo (or next to a local README.md), so
the links resolve: `copy_card_assets` does it. Render and copy from the same results_dir: the card
lists exactly these plots.
"""

from __future__ import annotations

import shutil
from pathlib import Path, PurePosixPath

from core.results import PLOTS

PLOTS_DIR = "plots"


def card_path(source: str) -> str:
    """Card-relative path of a results-relative plot: "error_analysis/confusion_matrix.png" -> "plots/confusion_matrix.png"."""
    return f"{PLOTS_DIR}/{PurePosixPath(source).name}"


def plot_sources(results_dir: str | Path | None) -> dict[str, str]:
    """Card-relative path -> results-relative source (a key of PLOTS), for the plots that exist, in card order."""
    if results_dir is None:
        return {}
    return {card_path(source): source for source in PLOTS if (Path(results_dir) / source).is_file()}


def card_assets(results_dir: str | Path | None) -> dict[str, Path]:
    """Card-relative path ("plots/f1_matrix.png") -> file to copy there, for the plots that exist, in card order."""
    return {path: Path(results_dir) / source for path, source in plot_sources(results_dir).items()}


def copy_card_assets(results_dir: str | Path | None, dest: str | Path) -> None:
    """Copy the card's plots beside a README.md in dest, so that its links resolve there."""
    for relative, source in card_assets(results_dir).items():
        (Path(dest) / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, Path(dest) / relative)
