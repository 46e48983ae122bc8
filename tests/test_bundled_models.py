"""The six bundled models of the Space: present, within budget, loadable by pipeline(), with cards."""

import pytest
from huggingface_hub import ModelCard
from transformers import pipeline

from training.facts import BUNDLED_MODELS_DIR, EXAMPLE_SENTENCES, EXPERIMENTS

BUDGET_BYTES = 60 * 2**20  # all bundled model files together


def test_bundle_is_complete_and_within_budget():
    folders = [BUNDLED_MODELS_DIR / exp for exp in EXPERIMENTS]
    assert all((f / "model.safetensors").is_file() for f in folders), "run python -m training.study to bundle"
    total = sum(p.stat().st_size for f in folders for p in f.rglob("*") if p.is_file())
    assert total <= BUDGET_BYTES, f"bundled models take {total / 2**20:.1f} MiB"


@pytest.mark.parametrize("experiment", list(EXPERIMENTS))
def test_bundled_model_tags_the_books_sentence(experiment):
    folder = BUNDLED_MODELS_DIR / experiment
    ner = pipeline("token-classification", model=str(folder), aggregation_strategy="simple")
    groups = {e["entity_group"] for e in ner(EXAMPLE_SENTENCES["de"])}
    assert groups and groups <= {"PER", "ORG", "LOC"}
    card = ModelCard.load(folder / "README.md")
    assert {r.dataset_config for r in card.data.eval_results} == {"PAN-X.de", "PAN-X.fr", "PAN-X.it", "PAN-X.en"}
