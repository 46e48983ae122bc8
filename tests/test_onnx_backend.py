"""space.backends.onnx_fp32: torch_fp32's logits from ONNX Runtime, entries made once (one export per
architecture, the weights of the others swapped in) and loaded without torch, and a cache that is never stale."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch

from core.facts import REPO_ROOT
from space.backends import load, onnx_fp32
from space.backends._torch import load_model
from space.examples import load_examples
from space.tagging import split_words

# Words the tagger sends to a tokenizer, odd ones included: accents, a ligature, full-width letters,
# an emoji, a control character, right-to-left scripts.
ODD_WORDS = ["Zürich", "ﬁnance", "Ｔｏｋｙｏ", "🙂", "\x1b", "القاهرة", "תל", "Œuvre", "d'Uruguay", "U.S."]


@pytest.fixture(scope="module")
def made(smoke_run_dir, other_smoke_dir, tmp_path_factory):
    """A cache with the entries of two models of one architecture, and the graphs exported to make them."""
    cache = tmp_path_factory.mktemp("onnx")
    exported = []
    real_export = onnx_fp32.export
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(onnx_fp32.CACHE_ENV, str(cache))
        patch.setattr(onnx_fp32, "export", lambda model, path: exported.append(path.name) or real_export(model, path))
        onnx_fp32.load(smoke_run_dir)
        onnx_fp32.load(other_smoke_dir)
    return cache, exported


@pytest.fixture()
def cache(made, monkeypatch):
    monkeypatch.setenv(onnx_fp32.CACHE_ENV, str(made[0]))
    return made[0]


@pytest.fixture()
def cache_copy(made, tmp_path, monkeypatch):
    """A copy of the made cache, for a test that damages it."""
    shutil.copytree(made[0], tmp_path / "onnx")
    monkeypatch.setenv(onnx_fp32.CACHE_ENV, str(tmp_path / "onnx"))
    return tmp_path / "onnx"


def padded_batch(rng: np.random.Generator, lengths: list[int], vocab: int = 250_000) -> tuple[np.ndarray, np.ndarray]:
    width = max(lengths)
    ids = rng.integers(5, vocab, size=(len(lengths), width), dtype=np.int64)
    mask = np.zeros((len(lengths), width), dtype=np.int64)
    for row, n in enumerate(lengths):
        mask[row, :n] = 1
        ids[row, n:] = 1  # <pad>
    return ids, mask


def assert_same_logits(a, b, ids, mask, atol):
    real = mask.astype(bool)
    np.testing.assert_allclose(a.logits(ids, mask)[real], b.logits(ids, mask)[real], atol=atol)


@pytest.fixture(scope="module")
def other_smoke_dir(smoke_run_dir, tmp_path_factory):
    """The smoke model with other weights: another model of the same architecture."""
    from transformers import AutoModelForTokenClassification, AutoTokenizer

    model = AutoModelForTokenClassification.from_pretrained(smoke_run_dir)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(torch.randn_like(parameter) * 0.05)
    out = tmp_path_factory.mktemp("other") / "smoke-other"
    model.save_pretrained(out)
    AutoTokenizer.from_pretrained(smoke_run_dir).save_pretrained(out)
    return out


def test_onnx_logits_and_tokens_are_torchs_for_any_batch_length_and_padding(smoke_run_dir, cache):
    onnx, reference = load(smoke_run_dir, "onnx_fp32"), load(smoke_run_dir, "torch_fp32")
    rng = np.random.default_rng(0)
    for lengths in ([3], [40], [17, 9, 2], [300, 120]):
        ids, mask = padded_batch(rng, lengths)
        assert onnx.logits(ids, mask).shape == (*ids.shape, 7)
        assert_same_logits(onnx, reference, ids, mask, atol=1e-4)
    assert onnx.id2label == reference.id2label and onnx.max_positions == reference.max_positions
    # The tokenizer is read without transformers: the same subword ids, special ids and limit.
    sentences = [e.text for per_language in load_examples().values() for e in per_language] + [" ".join(ODD_WORDS)]
    for text in sentences:
        words = [[text[s:e]] for s, e in split_words(text)] + [[w] for w in ODD_WORDS]
        encode = {"is_split_into_words": True, "add_special_tokens": False}
        assert onnx.tokenizer(words, **encode)["input_ids"] == reference.tokenizer(words, **encode)["input_ids"]
    for name in ("cls_token_id", "sep_token_id", "pad_token_id", "model_max_length"):
        assert getattr(onnx.tokenizer, name) == getattr(reference.tokenizer, name), name


def test_a_cached_entry_loads_without_torch_and_without_making_it_again(smoke_run_dir, cache):
    files = sorted(p.name for p in cache.iterdir())
    code = (
        "import sys, numpy as np; from pathlib import Path; import space.backends.onnx_fp32 as o; "
        "o.make_entry = lambda folder: sys.exit('made again although cached'); "
        f"loaded = o.load(Path({str(smoke_run_dir)!r})); "
        "print(loaded.logits(np.full((1, 5), 7), np.ones((1, 5), dtype=np.int64)).shape, "
        "sorted({'torch', 'transformers', 'peft'} & set(sys.modules)))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, onnx_fp32.CACHE_ENV: str(cache)},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "(1, 5, 7) []"
    assert sorted(p.name for p in cache.iterdir()) == files


def test_a_broken_entry_is_made_again(smoke_run_dir, cache_copy, monkeypatch):
    graph = cache_copy / f"{onnx_fp32.source_key(smoke_run_dir)}.onnx"
    graph.write_bytes(b"not an onnx file")
    monkeypatch.setattr(onnx_fp32, "export", lambda model, path: pytest.fail("exported although the template is there"))
    ids, mask = padded_batch(np.random.default_rng(2), [8, 5])
    assert_same_logits(load(smoke_run_dir, "onnx_fp32"), load(smoke_run_dir, "torch_fp32"), ids, mask, atol=1e-4)
    assert graph.stat().st_size > 1000


def test_one_export_per_architecture_and_swapped_weights_give_a_direct_exports_logits(
    smoke_run_dir, other_smoke_dir, made, cache, tmp_path
):
    exported = made[1]
    assert len(exported) == 1 and exported[0].startswith("template-")  # the second model's graph is swapped in
    assert len(list(cache.glob("template-*.onnx"))) == 1 and len(list(cache.glob("[0-9a-f]*.json"))) == 2
    first, swapped = load(smoke_run_dir, "onnx_fp32"), load(other_smoke_dir, "onnx_fp32")

    _, model = load_model(other_smoke_dir)
    onnx_fp32.export(model, tmp_path / "direct.onnx")  # the second model exported on its own
    direct = onnx_fp32.session(tmp_path / "direct.onnx")
    embeddings = model.get_input_embeddings().weight.detach().numpy()
    rng = np.random.default_rng(3)
    for lengths in ([12], [30, 7, 19]):
        ids, mask = padded_batch(rng, lengths, vocab=len(embeddings))
        expected = direct.run(["logits"], {"inputs_embeds": embeddings[ids], "attention_mask": mask})[0]
        real = mask.astype(bool)
        np.testing.assert_allclose(swapped.logits(ids, mask)[real], expected[real], atol=1e-5)
        assert not np.allclose(first.logits(ids, mask)[real], expected[real], atol=1e-3)  # the weights were swapped


def test_a_template_that_lacks_a_weight_is_not_used(smoke_run_dir, cache, tmp_path, monkeypatch):
    (template,) = cache.glob("template-*.onnx")
    _, model = load_model(smoke_run_dir)
    real_weights = onnx_fp32._weights
    monkeypatch.setattr(
        onnx_fp32, "_weights", lambda m: {**real_weights(m), "model.extra.weight": np.zeros(3, np.float32)}
    )
    assert not onnx_fp32.swap_weights(template, model, tmp_path / "swapped.onnx")
    assert not (tmp_path / "swapped.onnx").exists()


def test_a_swapped_graph_that_does_not_give_the_models_logits_is_exported_instead(
    other_smoke_dir, cache_copy, monkeypatch
):
    (cache_copy / f"{onnx_fp32.source_key(other_smoke_dir)}.json").unlink()
    monkeypatch.setattr(onnx_fp32, "swap_weights", lambda template, model, out: bool(shutil.copyfile(template, out)))
    exported = []
    real_export = onnx_fp32.export
    monkeypatch.setattr(onnx_fp32, "export", lambda model, path: exported.append(path.name) or real_export(model, path))
    ids, mask = padded_batch(np.random.default_rng(4), [11, 6], vocab=1000)
    assert_same_logits(load(other_smoke_dir, "onnx_fp32"), load(other_smoke_dir, "torch_fp32"), ids, mask, atol=1e-4)
    assert exported == [f"{onnx_fp32.source_key(other_smoke_dir)}.onnx"]  # the template held the other model's weights


def test_the_key_follows_the_model_its_base_and_the_libraries_not_the_card_or_logs(
    smoke_run_dir, adapter_dir, tmp_path, monkeypatch
):
    folder = tmp_path / "model"
    shutil.copytree(smoke_run_dir, folder)
    key = onnx_fp32.source_key(folder)
    assert onnx_fp32.source_key(folder) == key
    (folder / "README.md").write_text("# another card")
    (folder / "eval_results.json").write_text("{}")
    assert onnx_fp32.source_key(folder) == key
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "layer_norm_eps": 1e-6}))
    assert onnx_fp32.source_key(folder) != key

    adapter_key = onnx_fp32.source_key(adapter_dir)
    base = tmp_path / "base"
    shutil.copytree(onnx_fp32.base_folder(onnx_fp32.base_of(adapter_dir)), base)
    monkeypatch.setattr(onnx_fp32, "base_folder", lambda name: base)
    assert onnx_fp32.source_key(adapter_dir) == adapter_key
    (base / "config.json").write_text((base / "config.json").read_text() + " ")
    assert onnx_fp32.source_key(adapter_dir) != adapter_key
    monkeypatch.setattr(onnx_fp32, "base_folder", lambda name: None)
    assert onnx_fp32.source_key(adapter_dir) is None  # a base not on this machine: made with torch, then keyed
    monkeypatch.undo()
    monkeypatch.setattr(onnx_fp32, "version", lambda name: "99.0" if name == "torch" else "1.0")
    assert onnx_fp32.source_key(adapter_dir) != adapter_key


def test_the_cache_folder_is_configurable(monkeypatch, tmp_path):
    monkeypatch.setenv(onnx_fp32.CACHE_ENV, str(tmp_path / "here"))
    assert onnx_fp32.cache_dir() == tmp_path / "here"
    monkeypatch.delenv(onnx_fp32.CACHE_ENV)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert onnx_fp32.cache_dir() == tmp_path / "xdg" / "panx-ner" / "onnx"


def test_the_set_up_command_refuses_a_missing_folder(tmp_path, capsys):
    from core.cli import run

    assert run(onnx_fp32.main, [str(tmp_path / "nope")]) == 2
    assert "not a folder" in capsys.readouterr().err
