"""space.backends.onnx_fp32: torch_fp32's logits from ONNX Runtime, and a cache that is never stale."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from space.backends import load, onnx_fp32


@pytest.fixture()
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv(onnx_fp32.CACHE_ENV, str(tmp_path / "onnx"))
    return tmp_path / "onnx"


def padded_batch(rng: np.random.Generator, lengths: list[int]) -> tuple[np.ndarray, np.ndarray]:
    width = max(lengths)
    ids = rng.integers(5, 250_000, size=(len(lengths), width), dtype=np.int64)
    mask = np.zeros((len(lengths), width), dtype=np.int64)
    for row, n in enumerate(lengths):
        mask[row, :n] = 1
        ids[row, n:] = 1  # <pad>
    return ids, mask


def test_onnx_logits_are_torchs_for_any_batch_length_and_padding(smoke_run_dir, cache):
    onnx, reference = load(smoke_run_dir, "onnx_fp32"), load(smoke_run_dir, "torch_fp32")
    rng = np.random.default_rng(0)
    for lengths in ([3], [40], [17, 9, 2], [300, 120]):
        ids, mask = padded_batch(rng, lengths)
        got, expected = onnx.logits(ids, mask), reference.logits(ids, mask)
        assert got.shape == expected.shape == (*ids.shape, 7)
        real = mask.astype(bool)
        np.testing.assert_allclose(got[real], expected[real], atol=1e-4)
    assert onnx.id2label == reference.id2label and onnx.max_positions == reference.max_positions
    assert len(list(cache.glob("*.onnx"))) == 1


def test_a_cached_graph_is_loaded_not_exported_again(smoke_run_dir, cache, monkeypatch):
    load(smoke_run_dir, "onnx_fp32")
    (cached,) = cache.glob("*.onnx")
    monkeypatch.setattr(onnx_fp32, "export", lambda model, path: pytest.fail("exported although cached"))
    ids, mask = padded_batch(np.random.default_rng(1), [12])
    assert load(smoke_run_dir, "onnx_fp32").logits(ids, mask).shape == (1, 12, 7)
    assert list(cache.glob("*.onnx")) == [cached]


def test_a_broken_cache_file_is_exported_again(smoke_run_dir, cache):
    load(smoke_run_dir, "onnx_fp32")
    (cached,) = cache.glob("*.onnx")
    cached.write_bytes(b"not an onnx file")
    ids, mask = padded_batch(np.random.default_rng(2), [8, 5])
    np.testing.assert_allclose(load(smoke_run_dir, "onnx_fp32").logits(ids, mask)[mask.astype(bool)],
                               load(smoke_run_dir, "torch_fp32").logits(ids, mask)[mask.astype(bool)], atol=1e-4)
    assert cached.stat().st_size > 1000


def test_the_cache_key_follows_every_exported_weight_but_not_the_shared_embeddings(smoke_run_dir):
    from core.loading import load_token_classifier

    _, model = load_token_classifier(smoke_run_dir)
    key = onnx_fp32.graph_key(model)
    assert onnx_fp32.graph_key(model) == key
    with torch.no_grad():
        model.get_input_embeddings().weight[7, 0] += 1.0  # not in the graph: the lookup reads it live
        assert onnx_fp32.graph_key(model) == key
        model.classifier.bias[0] += 1e-3
        assert onnx_fp32.graph_key(model) != key


def test_the_cache_folder_is_configurable(monkeypatch, tmp_path):
    monkeypatch.setenv(onnx_fp32.CACHE_ENV, str(tmp_path / "here"))
    assert onnx_fp32.cache_dir() == tmp_path / "here"
    monkeypatch.delenv(onnx_fp32.CACHE_ENV)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert onnx_fp32.cache_dir() == tmp_path / "xdg" / "panx-ner" / "onnx"
