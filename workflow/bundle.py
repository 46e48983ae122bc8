"""Bundle a finished run as one of the Space's models: space/models/KEY holds the model files and the card.

An adapter run bundles its adapter (about 5 MB; the base is built at set-up by python -m
training.e5_base), so `pipeline("token-classification", model="space/models/KEY")` loads it offline
and six models fit the Space's 60 MiB. A full fine-tune bundles the whole model. The card is the
one the Hub gets (cards.render), so the Space shows what a Hub visitor reads.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from cards import card_assets, render_card
from core import run_dir as rd
from core.files import staged_folder, write_text


def bundle(run_dir: str | Path, dest: str | Path, results_dir: str | Path | None) -> Path:
    """Write dest (replaced whole, only once the new folder is complete) from a finished run."""
    run_dir = rd.check_finished(run_dir)
    card = render_card(run_dir, results_dir=results_dir)
    with staged_folder(dest) as staging:
        for name in rd.model_files(run_dir):
            shutil.copy2(run_dir / name, staging / name)
        for relative, source in card_assets(results_dir).items():  # the card's plots/ links resolve here too
            (staging / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, staging / relative)
        write_text(staging / rd.CARD, card)
    return Path(dest)
