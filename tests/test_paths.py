"""This machine's paths in text that leaves it (core/paths.py): one pattern, and what each reader sees instead."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.facts import REPO_ROOT
from core.paths import (
    ABSOLUTE_PATH,
    command_without_paths,
    folder_name,
    named_folders,
    portable,
    without_paths,
)


@pytest.mark.parametrize(
    "text", ["https://huggingface.co/panx-ner/x", "1/2", "de/fr", "AC/DC", "~/models/de", "./runs/de", "file:/srv/x"]
)
def test_urls_ratios_and_relative_paths_are_no_absolute_paths(text):
    assert not ABSOLUTE_PATH.search(text)


@pytest.mark.parametrize(
    "text, path",
    [
        ("--output-dir=/srv/runs/de", "/srv/runs/de"),
        ("at '/tmp/x/config.json'", "/tmp/x/config.json"),
        ("(/root/.cache/hub/model.safetensors)", "/root/.cache/hub/model.safetensors"),
    ],
)
def test_an_absolute_path_is_found_inside_text(text, path):
    assert ABSOLUTE_PATH.search(text).group() == path


def test_each_reader_sees_its_own_replacement(tmp_path):
    message = f"cannot load {tmp_path}/models/de/config.json, nor /root/.cache/x/model.safetensors."
    assert without_paths(message, tmp_path / "models") == "cannot load de/config.json, nor model.safetensors."
    log = {"a": [f"{REPO_ROOT}/runs/de", "/tmp/x/checkpoint-9 hf_secret"]}
    masked = portable(log, lambda text: text.replace("hf_secret", "<t>"))
    assert masked == {"a": ["runs/de", "…/checkpoint-9 <t>"]}
    command = "python -m training.train --data-dir /srv/data/panx --output-dir=/srv/runs/de --base-model /srv/m/e5/"
    assert command_without_paths(command) == (
        "python -m training.train --data-dir DATA_DIR --output-dir=RUN_DIR --base-model e5"
    )
    assert folder_name("intfloat/multilingual-e5-small") == "intfloat/multilingual-e5-small"  # a Hub id stays


def test_named_folders_leaves_out_short_ones(tmp_path):
    text = f"written in {tmp_path}/run, then /tmp"
    assert named_folders(text, [tmp_path, Path("/tmp"), None, tmp_path / "elsewhere"]) == [str(tmp_path.resolve())]
