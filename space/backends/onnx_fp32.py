"""The merged model exported to ONNX and run by ONNX Runtime, in float32: torch_fp32's logits (to
about 1e-5) at 1.6x its speed on CPU (benchmarks/space_latency.py: p50 23 ms against 37 ms per 25-word
sentence on one thread), where one sentence makes small matrices and ONNX Runtime's kernels waste less
on them than torch's.

A model folder becomes a cache entry once, with torch; after that it loads without torch, transformers
or peft (on 2 cores: 2.3 s for a process's first model, then 0.5 s each, where merging with torch took
12 s for the first and 1-3 s for each further one):

    KEY.json              what the entry is: the files below, the labels, the tokenizer's special ids
    KEY.onnx              the encoder and the head, from input embeddings to logits (86 MB for e5-small)
    embeddings-SHA.npy    the word embeddings, outside the graph: one file the models of a base share,
                          memory-mapped (96M of e5-small's 118M parameters)
    tokenizer-SHA.json    the tokenizer as transformers builds it, read by the tokenizers library alone
    template-ARCH.onnx    the first graph exported for an architecture: torch.export takes 11 s a model,
                          swapping the weights of another model of that architecture into it 1 s

KEY is a checksum of everything the entry is made from: the folder's model files, its base's files
(for an adapter), the versions of the libraries that merge and export it, and FORMAT. So a changed
model, base or library makes a new entry and a cached one is never stale; a folder's card and logs
are not part of it. The cache is $PANX_ONNX_CACHE, else ~/.cache/panx-ner/onnx ($XDG_CACHE_HOME
respected). An entry that does not load is made again.

    python -m space.backends.onnx_fp32              # make the bundled models' entries now (set-up), not at first use
    python -m space.backends.onnx_fp32 FOLDER ...   # or these model folders'
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import os
import sys
import threading
import time
from dataclasses import asdict, dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime

from core import run_dir as rd
from core.cli import InputError, run
from core.facts import BUNDLED_MODELS_DIR
from core.files import atomic_path, write_json, write_text
from core.loading import ModelFolderError, base_location, base_of
from space.backends import Loaded, threads

CACHE_ENV = "PANX_ONNX_CACHE"
# Bump when what an entry holds or how it is made changes: every entry is then made again.
FORMAT = 2
# What merges and exports a model, and builds its tokenizer: a new version of any makes new entries.
MAKERS = ("torch", "transformers", "peft", "onnx", "onnxscript", "tokenizers")
# Files of a model folder that describe a run rather than make its model.
NOT_MODEL = frozenset({rd.CARD, rd.MERGED_FROM, *rd.LOG_FILES})
# The ONNX graph's inputs are named after the wrapper's attribute: model.bert..., model.classifier...
GRAPH_PREFIX = "model."
# Entries are made one at a time: torch.export traces through global state, and two merged models
# at once would double the memory a load takes.
_make_lock = threading.Lock()
_shared: dict[Path, Any] = {}  # embeddings and tokenizers by file: one copy for the models that share them
_shared_lock = threading.Lock()


def cache_dir() -> Path:
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "panx-ner" / "onnx"


@dataclass(frozen=True)
class Entry:
    """KEY.json: the files of an entry and what the Tagger needs besides them."""

    graph: str
    embeddings: str
    tokenizer: str
    id2label: dict[int, str]
    max_positions: int | None
    cls_token_id: int
    sep_token_id: int
    pad_token_id: int
    model_max_length: int

    @classmethod
    def read(cls, path: Path) -> Entry:
        fields = json.loads(path.read_text(encoding="utf-8"))
        fields["id2label"] = {int(i): label for i, label in fields["id2label"].items()}
        return cls(**fields)


# --- the key ---------------------------------------------------------------------------------------


def made_of(folder: Path) -> list[Path]:
    """The files a folder's model is made of: every top-level file but its card and logs."""
    return sorted(p for p in folder.iterdir() if p.is_file() and p.name not in NOT_MODEL and not p.name.startswith("."))


@functools.lru_cache(maxsize=256)
def _file_digest(path: Path, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 22), b""):
            digest.update(chunk)
    return digest.hexdigest()


def file_digest(path: Path) -> str:
    """SHA-256 of a file, read once per process while its size and time stay (a base is 0.5 GB: 0.6 s)."""
    stat = path.stat()
    return _file_digest(path.resolve(), stat.st_size, stat.st_mtime_ns)


def base_folder(base: str) -> Path | None:
    """The local folder an adapter's base loads from, or None while it is not on this machine."""
    try:
        location = Path(base_location(base))
    except ModelFolderError:
        return None
    if location.is_dir():
        return location
    from huggingface_hub import snapshot_download

    try:  # a Hub model transformers downloaded before: its snapshot in the cache, no request
        return Path(snapshot_download(base, local_files_only=True))
    except Exception:
        return None


def source_key(folder: Path) -> str | None:
    """The checksum that names a folder's entry; None while an adapter's base is not on this machine."""
    sources = [folder]
    if rd.is_adapter(folder):
        base = base_folder(base_of(folder))
        if base is None:
            return None
        sources.append(base)
    makers = " ".join(f"{name} {version(name)}" for name in MAKERS)
    digest = hashlib.sha256(f"panx-ner onnx_fp32 format {FORMAT}; {makers}".encode())
    for role, source in zip(("model", "base"), sources):
        for path in made_of(source):
            digest.update(f"\n{role} {path.name} {file_digest(path)}".encode())
    return digest.hexdigest()[:32]


# --- loading an entry (no torch) ---------------------------------------------------------------------


class WordTokenizer:
    """The calls space.tagging.Tagger makes on a transformers tokenizer, on the tokenizers library alone
    (whose Tokenizer transformers itself runs): words in, their subword ids out."""

    def __init__(self, tokenizer: Any, entry: Entry):
        self._tokenizer = tokenizer
        self.cls_token_id, self.sep_token_id = entry.cls_token_id, entry.sep_token_id
        self.pad_token_id, self.model_max_length = entry.pad_token_id, entry.model_max_length

    def __call__(self, words: list[list[str]], is_split_into_words: bool, add_special_tokens: bool) -> dict:
        if not is_split_into_words:
            raise ValueError("WordTokenizer encodes words only (is_split_into_words=True)")
        encoded = self._tokenizer.encode_batch(words, is_pretokenized=True, add_special_tokens=add_special_tokens)
        return {"input_ids": [e.ids for e in encoded]}


def _shared_file(path: Path, read: Any) -> Any:
    with _shared_lock:
        if path not in _shared:
            _shared[path] = read(path)
        return _shared[path]


def _read_tokenizer(path: Path) -> Any:
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(path))
    tokenizer.no_truncation()  # the Tagger plans its own windows
    tokenizer.no_padding()
    return tokenizer


def session(path: Path) -> onnxruntime.InferenceSession:
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads() or 0  # the server's setting (space.serving), else ONNX Runtime's
    options.inter_op_num_threads = 1
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def load_entry(key: str) -> Loaded | None:
    """The cached entry KEY, or None when it is missing or does not load (it is then made again)."""
    folder = cache_dir()
    manifest = folder / f"{key}.json"
    if not manifest.is_file():
        return None
    try:
        entry = Entry.read(manifest)
        runtime = session(folder / entry.graph)
        embeddings = _shared_file(folder / entry.embeddings, lambda p: np.load(p, mmap_mode="r"))
        tokenizer = WordTokenizer(_shared_file(folder / entry.tokenizer, _read_tokenizer), entry)
    except Exception:
        manifest.unlink(missing_ok=True)
        return None

    def logits(input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        feed = {"inputs_embeds": embeddings[input_ids], "attention_mask": attention_mask.astype(np.int64, copy=False)}
        return runtime.run(["logits"], feed)[0]

    return Loaded(tokenizer, logits, entry.id2label, entry.max_positions)


def load(folder: Path) -> Loaded:
    key = source_key(folder)
    loaded = load_entry(key) if key else None
    if loaded is None:
        loaded = load_entry(make_entry(folder))
    if loaded is None:
        raise RuntimeError(f"the ONNX graph made for {folder.name} does not load")
    return loaded


# --- making an entry (torch) ---------------------------------------------------------------------------


def make_entry(folder: Path) -> str:
    """Merge the folder's model with torch, write its entry into the cache; its key."""
    from space.backends._torch import load_model, max_positions, release_freed_memory

    with _make_lock:
        tokenizer, model = load_model(folder)
        key = source_key(folder)  # after loading: a Hub base is on this machine now
        if key is None:
            raise ModelFolderError(f"the base of {folder.name} is not on this machine after loading it")
        cache = cache_dir()
        graph = cache / f"{key}.onnx"
        if not (swap_weights(template(model), model, graph) and gives_the_logits_of(graph, model)):
            export(model, graph)  # a model the template cannot carry: its own graph
        embeddings = model.get_input_embeddings().weight.detach().numpy()
        tokenizer_json = tokenizer.backend_tokenizer.to_str()
        entry = Entry(
            graph=graph.name,
            embeddings=_write_once(cache, "embeddings", ".npy", embeddings, lambda path: _save_npy(path, embeddings)),
            tokenizer=_write_once(
                cache, "tokenizer", ".json", tokenizer_json.encode(), lambda path: write_text(path, tokenizer_json)
            ),
            id2label={int(i): label for i, label in model.config.id2label.items()},
            max_positions=max_positions(model),
            cls_token_id=tokenizer.cls_token_id,
            sep_token_id=tokenizer.sep_token_id,
            pad_token_id=tokenizer.pad_token_id,
            model_max_length=int(min(tokenizer.model_max_length, 2**31 - 1)),
        )
        write_json(cache / f"{key}.json", asdict(entry))  # last: an entry is complete once this exists
        del model
        release_freed_memory()
        return key


def _write_once(cache: Path, kind: str, suffix: str, content: bytes | np.ndarray, write: Any) -> str:
    """A file named by its content's checksum (an array: its bytes, uncopied), written unless it is there."""
    name = f"{kind}-{hashlib.sha256(content).hexdigest()[:24]}{suffix}"
    if not (cache / name).is_file():
        write(cache / name)
    return name


def _save_npy(path: Path, array: np.ndarray) -> None:
    with atomic_path(path) as tmp, tmp.open("wb") as handle:
        np.save(handle, array)


def _from_embeddings(model: Any) -> Any:
    """The token classifier from input embeddings to logits: what the ONNX file holds (torch is
    imported here, as only making an entry needs it)."""
    import torch

    class FromEmbeddings(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, inputs_embeds: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            return self.model(inputs_embeds=inputs_embeds, attention_mask=attention_mask).logits

    return FromEmbeddings().eval()


def export(model: Any, path: Path) -> None:
    """Write the graph of `model` (inputs_embeds, attention_mask -> logits; batch and length dynamic).
    Unoptimized, so that every weight stays an initializer named as in the state dict (swap_weights
    relies on it); ONNX Runtime optimizes the graph when it loads it."""
    import torch

    from space.backends._torch import max_positions

    embeddings = model.get_input_embeddings().weight.detach()
    ids, mask = _padded_batch(len(embeddings))  # padded, so the traced mask arithmetic is the general one
    batch, length = torch.export.Dim("batch"), torch.export.Dim("length", max=max_positions(model) or 512)
    with torch.no_grad(), atomic_path(path) as tmp:
        program = torch.onnx.export(
            _from_embeddings(model),
            (embeddings[ids], mask),
            input_names=["inputs_embeds", "attention_mask"],
            output_names=["logits"],
            dynamic_shapes=({0: batch, 1: length}, {0: batch, 1: length}),
            dynamo=True,
            optimize=False,
            verbose=False,
        )
        program.save(str(tmp))


def _padded_batch(vocabulary: int) -> tuple[Any, Any]:
    """Two rows of subword ids, the second padded: the example an export traces and a swap is checked on."""
    import torch

    ids = torch.randint(5, vocabulary, (2, 9), generator=torch.Generator().manual_seed(0))
    mask = torch.ones(2, 9, dtype=torch.long)
    mask[1, 6:] = 0
    return ids, mask


def gives_the_logits_of(graph: Path, model: Any, tolerance: float = 1e-4) -> bool:
    """Whether the graph computes the model's logits (on the padded batch): the last word on a swap, which
    would miss a weight the exporter had folded into the graph under another name."""
    import torch

    embeddings = model.get_input_embeddings().weight.detach()
    ids, mask = _padded_batch(len(embeddings))
    with torch.no_grad():
        expected = model(input_ids=ids, attention_mask=mask).logits.numpy()
    got = session(graph).run(["logits"], {"inputs_embeds": embeddings[ids].numpy(), "attention_mask": mask.numpy()})[0]
    real = mask.numpy().astype(bool)
    return bool(np.abs(got[real] - expected[real]).max() <= tolerance)


def architecture_key(model: Any) -> str:
    """What a graph is besides its weights: the model's class, its config, the names and shapes of its
    weights, and the versions that export it."""
    config = {k: v for k, v in model.config.to_dict().items() if k not in ("_name_or_path", "transformers_version")}
    makers = " ".join(f"{name} {version(name)}" for name in MAKERS)
    digest = hashlib.sha256(f"{FORMAT} {type(model).__name__} {makers} {json.dumps(config, sort_keys=True)}".encode())
    for name, tensor in model.state_dict().items():
        digest.update(f"\n{name} {tuple(tensor.shape)} {tensor.dtype}".encode())
    return digest.hexdigest()[:24]


def template(model: Any) -> Path:
    """The exported graph of this model's architecture, exported now if there is none."""
    path = cache_dir() / f"template-{architecture_key(model)}.onnx"
    if not path.is_file():
        export(model, path)
    return path


def _weights(model: Any) -> dict[str, np.ndarray]:
    """The model's weights by their graph names, the word embeddings left out (they stay outside the graph)."""
    embeddings = model.get_input_embeddings().weight
    return {
        GRAPH_PREFIX + name: tensor.detach().contiguous().numpy()
        for name, tensor in model.state_dict().items()
        if tensor.data_ptr() != embeddings.data_ptr()
    }


def swap_weights(template_path: Path, model: Any, out: Path) -> bool:
    """Write `template_path` with this model's weights as `out`. False (nothing written) when the template
    does not hold every weight by name and shape, or does not read."""
    import onnx
    from onnx import numpy_helper

    try:
        graph = onnx.load(str(template_path))
    except Exception:
        template_path.unlink(missing_ok=True)
        return False
    weights = _weights(model)
    placed = set()
    for initializer in graph.graph.initializer:
        array = weights.get(initializer.name)
        if array is None:
            continue  # a constant of the architecture (position ids, shapes)
        if tuple(initializer.dims) != array.shape or numpy_helper.to_array(initializer).dtype != array.dtype:
            return False
        initializer.CopyFrom(numpy_helper.from_array(array, initializer.name))
        placed.add(initializer.name)
    if placed != set(weights):  # a weight folded into the graph under another name: the template cannot carry it
        return False
    with atomic_path(out) as tmp:
        onnx.save(graph, str(tmp))
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m space.backends.onnx_fp32",
        description="Make model folders' ONNX entries once, in the cache the Space reads.",
    )
    parser.add_argument(
        "folders", nargs="*", type=Path, help=f"model folders (default: every one in {BUNDLED_MODELS_DIR.name}/)"
    )
    args = parser.parse_args(argv)
    folders = args.folders or sorted(p for p in BUNDLED_MODELS_DIR.iterdir() if p.is_dir())
    if not folders:
        raise InputError(f"no model folders in {BUNDLED_MODELS_DIR}; give the folders to export")
    missing = [str(f) for f in folders if not f.is_dir()]
    if missing:
        raise InputError(f"not a folder: {', '.join(missing)}")
    for folder in folders:
        started = time.perf_counter()
        load(folder)
        print(f"{folder.name}: ONNX graph ready in {cache_dir()} ({time.perf_counter() - started:.1f} s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(run(main))
