"""The merged model exported to ONNX and run by ONNX Runtime, in float32: torch_fp32's logits (to
about 1e-5) at 1.6x its speed on CPU (benchmarks/space_latency.py: p50 23 ms against 37 ms per 25-word
sentence on one thread), where one sentence makes small matrices and ONNX Runtime's kernels waste less
on them than torch's.

The word embeddings stay out of the graph: the graph (about 86 MB for e5-small: the encoder and the
head) takes `inputs_embeds`, and the lookup reads the one copy that the models of a base share (see
_torch). Exporting (torch.export, about 11 s a model on 2 cores) happens once per model: the file is
cached, named by a checksum of the weights that go into it and of the library versions, so a changed
model or library exports anew and a cached file is never stale. The cache is $PANX_ONNX_CACHE, else
~/.cache/panx-ner/onnx ($XDG_CACHE_HOME respected). A cache file that does not load is exported again.

    python -m space.backends.onnx_fp32              # export the bundled models now (set-up), not at first use
    python -m space.backends.onnx_fp32 FOLDER ...   # or these model folders
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime
import torch
import transformers

from core.cli import InputError, run
from core.facts import BUNDLED_MODELS_DIR
from core.files import atomic_path
from space.backends import Loaded
from space.backends._torch import load_model, max_positions, release_freed_memory

CACHE_ENV = "PANX_ONNX_CACHE"
# torch.export traces through global state: one export at a time.
_export_lock = threading.Lock()


def cache_dir() -> Path:
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "panx-ner" / "onnx"


class _Graph(torch.nn.Module):
    """The token classifier from input embeddings to logits: what the ONNX file holds."""

    def __init__(self, model: Any):
        super().__init__()
        self.model = model

    def forward(self, inputs_embeds: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.model(inputs_embeds=inputs_embeds, attention_mask=attention_mask).logits


def graph_key(model: Any) -> str:
    """A checksum of everything the exported file depends on: every weight but the word embeddings
    (names, shapes, bytes), the model's class and the versions of the libraries that export it."""
    digest = hashlib.sha256(f"{type(model).__name__} torch {torch.__version__} "
                            f"transformers {transformers.__version__}".encode())
    embeddings = model.get_input_embeddings().weight
    for name, tensor in model.state_dict().items():
        if tensor.data_ptr() == embeddings.data_ptr():
            continue
        digest.update(f"{name} {tuple(tensor.shape)} {tensor.dtype}".encode())
        digest.update(tensor.detach().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()[:24]


def export(model: Any, path: Path) -> None:
    """Write the graph of `model` (inputs_embeds, attention_mask -> logits; batch and length dynamic)."""
    embeddings = model.get_input_embeddings().weight.detach()
    # A padded example, so the traced mask arithmetic is the general one.
    ids = torch.full((2, 9), 5, dtype=torch.long)
    mask = torch.ones(2, 9, dtype=torch.long)
    mask[1, 6:] = 0
    batch, length = torch.export.Dim("batch"), torch.export.Dim("length", max=max_positions(model) or 512)
    with _export_lock, torch.no_grad(), atomic_path(path) as tmp:
        program = torch.onnx.export(
            _Graph(model).eval(), (embeddings[ids], mask), input_names=["inputs_embeds", "attention_mask"],
            output_names=["logits"], dynamic_shapes=({0: batch, 1: length}, {0: batch, 1: length}), dynamo=True,
            verbose=False,
        )
        program.save(str(tmp))


def session(path: Path) -> onnxruntime.InferenceSession:
    options = onnxruntime.SessionOptions()
    # As the torch backends: the thread count the Space set for requests (space.serving: one each).
    options.intra_op_num_threads = torch.get_num_threads()
    options.inter_op_num_threads = 1
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def cached_session(model: Any) -> onnxruntime.InferenceSession:
    path = cache_dir() / f"{graph_key(model)}.onnx"
    if path.is_file():
        try:
            return session(path)
        except Exception:  # a truncated or foreign file: export again below
            path.unlink(missing_ok=True)
    export(model, path)
    return session(path)


def load(folder: Path) -> Loaded:
    tokenizer, model = load_model(folder)
    runtime = cached_session(model)
    embeddings = model.get_input_embeddings().weight.detach().numpy()  # the shared copy, not duplicated
    id2label, positions = dict(model.config.id2label), max_positions(model)
    del model  # the session holds its own weights: the torch encoder goes back to the system
    release_freed_memory()

    def logits(input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        feed = {"inputs_embeds": embeddings[input_ids], "attention_mask": attention_mask.astype(np.int64, copy=False)}
        return runtime.run(["logits"], feed)[0]

    return Loaded(tokenizer, logits, id2label, positions)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m space.backends.onnx_fp32",
                                     description="Export model folders to ONNX once, into the cache the Space reads.")
    parser.add_argument("folders", nargs="*", type=Path, help=f"model folders (default: every one in {BUNDLED_MODELS_DIR.name}/)")
    args = parser.parse_args(argv)
    folders = args.folders or sorted(p for p in BUNDLED_MODELS_DIR.iterdir() if p.is_dir())
    if not folders:
        raise InputError(f"no model folders in {BUNDLED_MODELS_DIR}; give the folders to export")
    for folder in folders:
        started = time.perf_counter()
        load(folder)
        print(f"{folder.name}: ONNX graph ready in {cache_dir()} ({time.perf_counter() - started:.1f} s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(run(main))
