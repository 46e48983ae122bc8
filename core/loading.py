"""Load the model of a run directory or bundled folder, adapter or full, as one plain token classifier.

The same reading serves the workflow (error analysis, publishing merged models) and the Space. A
folder whose weights lack the trained classifier head is refused instead of being served with a
random one. torch, transformers and peft are imported on first use only.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import json
import warnings
from pathlib import Path
from typing import Any

from core import run_dir as rd
from core.cli import InputError
from core.facts import LABELS, OFFLINE_BASE_ID

CLASSIFIER = "classifier"


class ModelFolderError(InputError):
    """A model folder that cannot be served: missing files, a missing head, a base that is not there."""


def base_of(folder: str | Path) -> str:
    """The base model an adapter folder names (base_model_name_or_path)."""
    config = _json(Path(folder) / rd.ADAPTER_CONFIG)
    base = config.get("base_model_name_or_path")
    if not base:
        raise ModelFolderError(f"{rd.ADAPTER_CONFIG} in {Path(folder).name} names no base_model_name_or_path")
    return str(base)


def base_location(base: str) -> str:
    """Where from_pretrained reads a base: the offline base from its folder in the local cache, any other
    as named. By its id, transformers would ask the Hub whether the base is itself an adapter
    (adapter_config.json), with retries, even under local_files_only."""
    if base != OFFLINE_BASE_ID:
        return base
    from core.e5_base import BaseBuildError, local_folder

    try:
        return str(local_folder())
    except BaseBuildError as err:
        raise ModelFolderError(str(err)) from None


def load_base(loader: Any, base: str, **kwargs: Any) -> Any:
    """loader.from_pretrained(base) without a Hub request for a local base, named by its id as a
    download would be (peft records that name in adapter_config.json; a path would leak this machine)."""
    loaded = loader.from_pretrained(base_location(base), **kwargs)
    loaded.name_or_path = base  # a model copies it from its config at load: both are renamed
    if hasattr(loaded, "config"):
        loaded.config._name_or_path = base
    return loaded


@functools.cache
def base_tokenizer(base: str) -> Any:
    """The tokenizer of a base, read once per process: the adapters of one base share it, and XLM-R's
    250k-piece tokenizer.json takes seconds to parse."""
    from transformers import AutoTokenizer

    return load_base(AutoTokenizer, base)


_tokenizers_by_content: dict[tuple[str, ...], Any] = {}


def folder_tokenizer(folder: str | Path) -> Any:
    """A full model folder's tokenizer, read once per process for each content of its files: the runs of
    one base save the same tokenizer, and parsing it again costs seconds."""
    from transformers import AutoTokenizer

    from core.files import sha256_of

    folder = Path(folder)
    content = tuple(sha256_of(folder / name) for name in rd.TOKENIZER_FILES if (folder / name).is_file())
    if content not in _tokenizers_by_content:
        for name in rd.TOKENIZER_FILES:  # readable, or one line naming the file (not a tokenizers traceback)
            _json(folder / name)
        _tokenizers_by_content[content] = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    return _tokenizers_by_content[content]


def tokenizer_of(folder: str | Path) -> Any:
    """The tokenizer a folder's model reads with: an adapter's is its base's, in the adapter's windows."""
    if rd.is_adapter(Path(folder)):
        return adapter_tokenizer(folder, base_tokenizer(base_of(folder)))
    return folder_tokenizer(folder)


def adapter_tokenizer(folder: str | Path, base: Any) -> Any:
    """The base's tokenizer with the model_max_length of the adapter's training windows (pipeline(stride=...)
    reads long texts in windows of that many subwords); a copy, since the adapters of one base share it."""
    hyperparameters = Path(folder) / rd.HYPERPARAMETERS
    window = rd.Hyperparameters.read(folder).window if hyperparameters.is_file() else None
    return windowed(base, window)


def windowed(tokenizer: Any, window: int | None) -> Any:
    """The tokenizer reading in windows of `window` subwords (its model_max_length): a shallow copy, so that
    whoever else holds it keeps its own limit; itself when window is None or already its limit."""
    if window is None or window == tokenizer.model_max_length:
        return tokenizer
    copied = copy.copy(tokenizer)
    copied.model_max_length = window
    return copied


def load_token_classifier(folder: str | Path, dtype: Any = None) -> tuple[Any, Any]:
    """(tokenizer, model) of a folder: an adapter is merged into its base; the model is in eval mode."""
    import torch
    from transformers import AutoModelForTokenClassification

    folder = Path(folder)
    dtype = dtype or torch.float32
    if rd.is_adapter(folder):
        base = base_of(folder)
        _check_adapter_head(folder)
        try:
            tokenizer = adapter_tokenizer(folder, base_tokenizer(base))
            with _quiet_transformers():  # the base's head is "missing" by design: the adapter brings it
                model = load_base(AutoModelForTokenClassification, base, dtype=dtype)
        except OSError as err:
            raise ModelFolderError(f"the base model {base} could not be loaded: {_first_line(err)}") from err
        _check_labels(model.config, folder)
        from peft import PeftModel

        with warnings.catch_warnings():  # peft 0.x asks transformers 5 a deprecated question; not ours to fix
            warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
            model = PeftModel.from_pretrained(model, str(folder)).merge_and_unload()
    else:
        _check_full_model(folder)
        try:  # a local folder: nothing to ask the Hub
            tokenizer = folder_tokenizer(folder)
            model, info = AutoModelForTokenClassification.from_pretrained(
                folder, dtype=dtype, output_loading_info=True, local_files_only=True
            )
        except (OSError, ValueError) as err:
            raise ModelFolderError(f"the model in {folder.name} cannot be loaded: {_first_line(err)}") from err
        missing_head = [key for key in info["missing_keys"] if CLASSIFIER in key]
        if missing_head:
            raise ModelFolderError(
                f"the weights in {folder.name} lack the trained classifier head "
                f"({', '.join(missing_head)}); it would tag at random"
            )
        _check_labels(model.config, folder)
    return tokenizer, model.eval()


@contextlib.contextmanager
def _quiet_transformers():
    from transformers.utils import logging as hf_logging

    previous = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    try:
        yield
    finally:
        hf_logging.set_verbosity(previous)


def _check_adapter_head(folder: Path) -> None:
    if not (folder / rd.ADAPTER_WEIGHTS).is_file():
        raise ModelFolderError(f"{folder.name} has {rd.ADAPTER_CONFIG} but no {rd.ADAPTER_WEIGHTS}")
    if not any(CLASSIFIER in key for key in _weight_names(folder / rd.ADAPTER_WEIGHTS)):
        raise ModelFolderError(
            f"the adapter in {folder.name} lacks the trained classifier head; it would tag at random"
        )


def _check_full_model(folder: Path) -> None:
    """Every file of a full model there and readable, before transformers (whose errors for a broken
    folder are tracebacks, or a Hub request for a file it cannot find)."""
    if not (folder / rd.MODEL_CONFIG).is_file():
        raise ModelFolderError(f"{folder.name} holds neither {rd.ADAPTER_CONFIG} nor {rd.MODEL_CONFIG}")
    missing = [name for name in rd.FULL_MODEL_FILES if not (folder / name).is_file()]
    if missing:
        raise ModelFolderError(f"{folder.name} has {rd.MODEL_CONFIG} but no {', '.join(missing)}")
    _json(folder / rd.MODEL_CONFIG)  # the tokenizer's files are read by folder_tokenizer
    _weight_names(folder / rd.MODEL_WEIGHTS)


def _weight_names(weights: Path) -> list[str]:
    """The tensor names in a safetensors file, or ModelFolderError for a damaged (e.g. truncated) one."""
    from safetensors import safe_open

    try:
        with safe_open(str(weights), framework="pt") as handle:
            return list(handle.keys())
    except Exception as err:  # safetensors raises its own error types for a damaged file
        raise ModelFolderError(f"{weights.name} in {weights.parent.name} cannot be read: {_first_line(err)}") from err


def _check_labels(config: Any, folder: Path) -> None:
    labels = [config.id2label[i] for i in sorted(config.id2label)]
    if labels != list(LABELS):
        raise ModelFolderError(f"the model in {folder.name} predicts {labels}, not the PAN-X tags {list(LABELS)}")


def _json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise ModelFolderError(f"{path.name} in {path.parent.name} cannot be read: {_first_line(err)}") from err


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__
