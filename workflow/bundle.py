"""Bundle a finished run as one of the Space's models: space/models/KEY holds the model files, the
run's logs and the card.

An adapter run bundles its adapter (about 5 MB; the base is built at set-up by python -m
core.e5_base), so `pipeline("token-classification", model="space/models/KEY")` loads it offline
and six models fit the Space's 60 MiB. A full fine-tune bundles the whole model. The logs (a few KB,
without this machine's folders, as publishing writes them) make the bundled folder a finished run
directory itself: a clone can re-render its card (`python -m cards.render space/models/KEY`) or
publish it without the machine that trained it. The card is the one the Hub gets (cards.render),
so the Space shows what a Hub visitor reads.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from cards import render_card
from core import run_dir as rd
from core.files import staged_folder, write_text
from workflow.publish import copy_portable_logs


def bundle(run_dir: str | Path, dest: str | Path, results_dir: str | Path | None) -> Path:
    """Write dest (replaced whole, only once the new folder is complete) from a finished run."""
    run_dir = rd.check_finished(run_dir)
    with staged_folder(dest) as staging:
        for name in rd.model_files(run_dir):
            shutil.copy2(run_dir / name, staging / name)
        copy_portable_logs(run_dir, staging)
        # Rendered from the copied logs, so the card says exactly what the folder holds.
        write_text(staging / rd.CARD, render_card(staging, results_dir=results_dir))
    return Path(dest)
