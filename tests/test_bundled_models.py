"""The bundled models of the Space: one per experiment, within budget, served by the Space's registry
offline, each with its card."""

import pytest
from huggingface_hub import ModelCard

from core import run_dir as rd
from core.facts import BUNDLED_MODELS_DIR, EXAMPLE_SENTENCES, EXPERIMENTS, LANGUAGES, dataset_config

from space.registry import Registry

BUDGET_BYTES = 60 * 2**20  # all bundled model files together


@pytest.fixture(scope="module")
def registry():
    return Registry(BUNDLED_MODELS_DIR)


def test_bundle_is_complete_and_within_budget(registry):
    assert [key for key, spec in registry.specs.items() if spec.bundled] == list(EXPERIMENTS), (
        "run python -m workflow.study to bundle"
    )
    for key in EXPERIMENTS:
        folder = BUNDLED_MODELS_DIR / key
        assert all((folder / name).is_file() for name in (*rd.model_files(folder), rd.CARD)), key
    total = sum(p.stat().st_size for key in EXPERIMENTS for p in (BUNDLED_MODELS_DIR / key).rglob("*") if p.is_file())
    assert total <= BUDGET_BYTES, f"bundled models take {total / 2**20:.1f} MiB"


@pytest.mark.parametrize("experiment", list(EXPERIMENTS))
def test_bundled_model_tags_the_books_sentence(registry, experiment):
    sentence = EXAMPLE_SENTENCES[LANGUAGES[0]]
    out = registry.get(experiment)(sentence)
    groups = {e["entity_group"] for e in out["entities"]}
    assert groups and groups <= {"PER", "ORG", "LOC"}
    card = ModelCard.load(BUNDLED_MODELS_DIR / experiment / rd.CARD)
    assert {r.dataset_config for r in card.data.eval_results} == {dataset_config(lang) for lang in LANGUAGES}
