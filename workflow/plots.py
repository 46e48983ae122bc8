"""The study's figures (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from core.facts import LANGUAGE_NAMES
from core.files import write_with


def _save(fig, path: Path) -> Path:
    """Atomically: a half-written PNG never stands where the study expects a finished one."""
    fig.tight_layout()
    write_with(path, lambda tmp: fig.savefig(tmp, dpi=120, format="png"))
    plt.close(fig)
    return Path(path)


def f1_heatmap(matrix: dict[str, dict[str, float]], languages: list[str], path: Path, title: str) -> Path:
    models = list(matrix)
    values = np.array([[matrix[m].get(lang, np.nan) for lang in languages] for m in models])
    fig, ax = plt.subplots(figsize=(1.3 * len(languages) + 2, 0.6 * len(models) + 1.5))
    image = ax.imshow(values, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(languages)), [f"test {lang}" for lang in languages])
    ax.set_yticks(range(len(models)), [f"model {m}" for m in models])
    for i in range(len(models)):
        for j in range(len(languages)):
            if not np.isnan(values[i, j]):
                ax.text(
                    j,
                    i,
                    f"{values[i, j]:.3f}",
                    ha="center",
                    va="center",
                    color="white" if values[i, j] > 0.6 else "black",
                )
    fig.colorbar(image, ax=ax, label="F1")
    ax.set_title(title)
    return _save(fig, path)


def learning_curve(points: list[dict], zero_shot_f1: float, path: Path, language: str, zero_shot_model: str) -> Path:
    fig, ax = plt.subplots(figsize=(6, 4))
    xs = [p["train_samples"] for p in points]
    ax.plot(xs, [p["f1"] for p in points], "o-", label=f"fine-tuned on {language}")
    ax.axhline(zero_shot_f1, color="gray", linestyle="--", label=f"zero-shot: the {zero_shot_model} model")
    ax.set_xscale("log")
    ax.minorticks_off()  # log-axis minor labels (3x10^2 ...) would overprint the sample sizes
    ax.set_xticks(xs, [str(x) for x in xs])
    ax.set_xlabel(f"{language} training sentences")
    ax.set_ylabel(f"F1 on {language} test")
    ax.set_ylim(0, 1)
    ax.legend(loc="lower right")
    ax.set_title(f"Few-shot {LANGUAGE_NAMES[language]}: when does fine-tuning beat zero-shot?")
    return _save(fig, path)


def confusion_matrix(matrix: np.ndarray, labels: list[str], path: Path, title: str) -> Path:
    fig, ax = plt.subplots(figsize=(6.5, 5.5))
    image = ax.imshow(matrix, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(labels)), labels, rotation=45)
    ax.set_yticks(range(len(labels)), labels)
    for i in range(len(labels)):
        for j in range(len(labels)):
            ax.text(
                j,
                i,
                f"{matrix[i, j]:.2f}",
                ha="center",
                va="center",
                color="white" if matrix[i, j] > 0.5 else "black",
                fontsize=8,
            )
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    fig.colorbar(image, ax=ax)
    ax.set_title(title)
    return _save(fig, path)
