"""Which plots from results/ a card shows, and where they go beside the card.

Convention: the card links every plot as `plots/<name>.png`, relative to README.md. Rendering never
copies files; whoever publishes the card copies each `card_assets(results_dir)` entry to that path
in the model repo (or next to a local README.md), so the links resolve. Render and copy from the same
results_dir: the card lists exactly the plots that `card_assets` returns.
"""

from __future__ import annotations

from pathlib import Path

PLOTS_DIR = "plots"

# results/-relative source -> (name under plots/, caption). Order is the order in the card.
PLOTS: dict[str, tuple[str, str]] = {
    "f1_matrix.png": ("f1_matrix.png", "F1 of each fine-tuned model (rows) on each language (columns)"),
    "fr_learning_curve.png": ("fr_learning_curve.png", "French F1 against the number of French training sentences"),
    "error_analysis/confusion_matrix.png": (
        "confusion_matrix.png",
        "Token-level confusion matrix from the project's error analysis",
    ),
}


def card_assets(results_dir: str | Path | None) -> dict[str, Path]:
    """Card-relative path ("plots/f1_matrix.png") -> file to copy there, for the plots that exist."""
    if results_dir is None:
        return {}
    results_dir = Path(results_dir)
    return {
        f"{PLOTS_DIR}/{name}": results_dir / source
        for source, (name, _caption) in PLOTS.items()
        if (results_dir / source).is_file()
    }


def plot_captions(results_dir: str | Path | None) -> list[tuple[str, str]]:
    """(card-relative path, caption) for each plot the card shows, in card order."""
    captions = {f"{PLOTS_DIR}/{name}": caption for name, caption in PLOTS.values()}
    return [(path, captions[path]) for path in card_assets(results_dir)]
