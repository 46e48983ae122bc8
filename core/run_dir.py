"""The run directory: the only contract between training and the cards, the Space and publishing.

A run directory is what `python -m training.train` leaves behind. `cards/`, `space/` and the
workflow read these files and never import training internals. Every file is JSON except the model.

    the model, one of:
      adapter_config.json,               a PEFT LoRA adapter (+ classifier head); its base is named by
      adapter_model.safetensors          base_model_name_or_path, whose tokenizer it uses
      config.json, model.safetensors,    a full model (save_pretrained): id2label / label2id are the
      tokenizer.json, tokenizer_config.json   PAN-X tags
    trainer_state.json   the Trainer's own file; TrainerState reads what panx-ner uses of it
    hyperparameters.json Hyperparameters   (written at the start of the run)
    data_summary.json    DataSummary       (the data stage)
    eval_results.json    EvalResults       (the evaluation stage)
    run_info.json        RunInfo           (written last: a run without it is unfinished)
    README.md            the model card (rendered by `python -m cards.render`)
    merged_from.json     in a published release only, whose model is an adapter merged into its base:
                         {"base_model", "adapter_weights": the adapter's weights_checksum}

Each JSON file of ours is one dataclass below, its fields the file's keys in the file's order:
`Cls.read(folder)` checks the file (a key missing, null or of the wrong type is a one-line RunFileError
naming the file, the key and the command that writes it) and `obj.write(folder)` writes it atomically.
A new key is one field here plus the value its writer gives it.
"""

from __future__ import annotations

import json
import types
import typing
from dataclasses import MISSING, Field, dataclass, field, fields, is_dataclass, replace
from pathlib import Path
from typing import Any, ClassVar, Self, get_args, get_origin, get_type_hints

from core.cli import InputError
from core.facts import ENTITY_TYPES
from core.files import write_json

TRAINER_STATE = "trainer_state.json"
HYPERPARAMETERS = "hyperparameters.json"
EVAL_RESULTS = "eval_results.json"
DATA_SUMMARY = "data_summary.json"
RUN_INFO = "run_info.json"
CARD = "README.md"
ADAPTER_CONFIG = "adapter_config.json"
ADAPTER_WEIGHTS = "adapter_model.safetensors"
MODEL_CONFIG = "config.json"
MODEL_WEIGHTS = "model.safetensors"
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json")
ADAPTER_FILES = (ADAPTER_CONFIG, ADAPTER_WEIGHTS)
FULL_MODEL_FILES = (MODEL_CONFIG, MODEL_WEIGHTS, *TOKENIZER_FILES)
LOG_FILES = (TRAINER_STATE, HYPERPARAMETERS, EVAL_RESULTS, DATA_SUMMARY, RUN_INFO)
MERGED_FROM = "merged_from.json"

TRAIN_COMMAND = "python -m training.train"
# Which command writes each file, for error messages that tell the user how to get it.
PRODUCED_BY: dict[str, str] = {
    TRAINER_STATE: f"{TRAIN_COMMAND} (training stage)",
    HYPERPARAMETERS: f"{TRAIN_COMMAND} (start of the run)",
    EVAL_RESULTS: f"{TRAIN_COMMAND} (evaluation stage)",
    DATA_SUMMARY: f"{TRAIN_COMMAND} (data stage)",
    RUN_INFO: f"{TRAIN_COMMAND} (end of the run)",
    MODEL_CONFIG: f"{TRAIN_COMMAND} (save_pretrained)",
    ADAPTER_CONFIG: f"{TRAIN_COMMAND} (save_pretrained)",
    CARD: "python -m cards.render RUN_DIR",
}


# Loading arguments that save_pretrained writes back into tokenizer_config.json: they describe how
# this machine loaded the base, not the tokenizer, and would mislead whoever loads a published copy.
LOADER_FLAGS = ("is_local", "local_files_only", "cache_dir", "_commit_hash")


def scrub_loader_flags(path: Path) -> None:
    """Remove LOADER_FLAGS from a saved tokenizer_config.json (atomically)."""
    if path.is_file():
        config = json.loads(path.read_text(encoding="utf-8"))
        write_json(path, {k: v for k, v in config.items() if k not in LOADER_FLAGS})


class RunDirError(InputError, FileNotFoundError):
    """A run directory is missing, unfinished, or lacks a file some consumer needs."""


class RunFileError(InputError):
    """A file of the run directory breaks its contract: a key missing, null or of the wrong type."""


def is_adapter(run_dir: str | Path) -> bool:
    return (Path(run_dir) / ADAPTER_CONFIG).is_file()


def model_files(run_dir: str | Path) -> tuple[str, ...]:
    """The files that hold the model of this run directory (adapter or full model)."""
    return ADAPTER_FILES if is_adapter(run_dir) else FULL_MODEL_FILES


def weights_checksum(run_dir: str | Path) -> str:
    """Which trained model a folder holds, as results name it: the first 16 hex digits of the SHA-256 of
    its weights file; for a release merged from an adapter, the adapter's (merged_from.json), so a
    result on the run directory or its bundled copy also names the published model."""
    from core.files import sha256_of

    run_dir = Path(run_dir)
    if (run_dir / MERGED_FROM).is_file():
        adapter = read_json(run_dir, MERGED_FROM).get("adapter_weights")
        if not isinstance(adapter, str):
            raise RunDirError(f"{run_dir / MERGED_FROM} names no adapter_weights; publish the run again")
        return adapter
    return sha256_of(run_dir / (ADAPTER_WEIGHTS if is_adapter(run_dir) else MODEL_WEIGHTS))[:16]


def is_finished(run_dir: str | Path) -> bool:
    """A finished run has its model and every log; run_info.json is written last."""
    run_dir = Path(run_dir)
    return all((run_dir / name).is_file() for name in (*model_files(run_dir), *LOG_FILES))


def check_finished(run_dir: str | Path) -> Path:
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise RunDirError(f"run directory {run_dir} does not exist; make one with {TRAIN_COMMAND}")
    missing = [name for name in (*model_files(run_dir), *LOG_FILES) if not (run_dir / name).is_file()]
    if missing:
        raise RunDirError(
            f"run directory {run_dir} is unfinished (missing {', '.join(missing)}); finish it with "
            f"{TRAIN_COMMAND} --resume (same arguments) or train it again"
        )
    return run_dir


def read_json(run_dir: str | Path, name: str) -> Any:
    """Read one JSON file of a run directory, naming the file and the step that makes it on failure."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise RunDirError(f"run directory {run_dir} does not exist; make one with {TRAIN_COMMAND}")
    path = run_dir / name
    if not path.is_file():
        step = PRODUCED_BY.get(name, TRAIN_COMMAND)
        raise RunDirError(f"{path} is missing; it is written by {step}")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise RunDirError(f"{path} is not valid JSON ({err}); re-run {PRODUCED_BY.get(name, 'training')}") from err


# --- the JSON files of ours, as dataclasses ---------------------------------------------------------

# Field metadata. BY_ENTITY: a mapping that holds a value for every entity type. NOT_A_KEY: a field
# that is no key of the file (what reading it found out). INTERVAL: a bootstrap interval, [low, high].
BY_ENTITY = {"keys": ENTITY_TYPES}
NOT_A_KEY = {"key": False}
INTERVAL = {"check": (lambda value: len(value) == 2 and value[0] <= value[1], "[low, high]")}
KINDS = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}


def _fail(file: str | Path, problem: str, where: str = "") -> RunFileError:
    at = f" in {where}" if where else ""
    return RunFileError(f"{file} {problem}{at}; it is written by {PRODUCED_BY.get(Path(file).name, TRAIN_COMMAND)}")


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:57]}..."


def _keys(cls: type) -> list[Field]:
    return [f for f in fields(cls) if f.metadata.get("key", True)]


def _nullable(kind: Any) -> bool:
    return get_origin(kind) in (typing.Union, types.UnionType) and type(None) in get_args(kind)


def _build(cls: type, obj: Any, file: str | Path, where: str = "") -> Any:
    """The dataclass cls made from its JSON object, every key it declares checked; other keys are ignored."""
    if not isinstance(obj, dict):
        raise _fail(file, f"has {where} {_shown(obj)}, not a JSON object" if where else "is not a JSON object")
    keys = _keys(cls)
    missing = [f.name for f in keys if f.name not in obj and f.default is MISSING and f.default_factory is MISSING]
    if missing:
        raise _fail(file, f"lacks {', '.join(map(repr, missing))}", where)
    hints = get_type_hints(cls)
    nulls = [f.name for f in keys if f.name in obj and obj[f.name] is None and not _nullable(hints[f.name])]
    if nulls:  # a null would print as "None" in a card
        raise _fail(file, f"has null {', '.join(map(repr, nulls))}", where)
    values = {}
    for f in keys:
        if f.name not in obj:
            continue
        at = f"{where}.{f.name}" if where else f.name
        value = values[f.name] = _value(hints[f.name], obj[f.name], file, at)
        needed = [key for key in f.metadata.get("keys", ()) if key not in value]
        if needed:
            raise _fail(file, f"lacks {', '.join(map(repr, needed))}", at)
        check = f.metadata.get("check")
        if check and not check[0](value):
            raise _fail(file, f"has {at} {_shown(value)}, not {check[1]}")
    return cls(**values)


def _value(kind: Any, value: Any, file: str | Path, where: str) -> Any:
    """value checked against the annotation kind (nested dataclasses built); kept as JSON gave it."""
    if kind is Any:
        return value
    if _nullable(kind):
        if value is None:
            return None
        (kind,) = [arg for arg in get_args(kind) if arg is not type(None)]
    if is_dataclass(kind):
        return _build(kind, value, file, where)
    origin, args = get_origin(kind), get_args(kind)
    if origin is dict:
        if not isinstance(value, dict):
            raise _fail(file, f"has {where} {_shown(value)}, not a JSON object")
        return {key: _value(args[1], item, file, f"{where}.{key}") for key, item in value.items()}
    if origin is list:
        if not isinstance(value, list):
            raise _fail(file, f"has {where} {_shown(value)}, not a list")
        return [_value(args[0], item, file, f"{where}[{i}]") for i, item in enumerate(value)]
    if kind is bool or kind is str:
        fits = isinstance(value, kind)
    else:  # JSON's true is no number; its 5 is a float's value too (kept an int: the file reads back as written)
        fits = isinstance(value, int if kind is int else (int, float)) and not isinstance(value, bool)
    if not fits:
        raise _fail(file, f"has {where} {_shown(value)}, not {KINDS[kind]}")
    return value


def _json(value: Any) -> Any:
    if is_dataclass(value):
        return {f.name: _json(getattr(value, f.name)) for f in _keys(type(value))}
    if isinstance(value, list):
        return [_json(item) for item in value]
    if isinstance(value, dict):
        return {key: _json(item) for key, item in value.items()}
    return value


class RunFile:
    """A JSON file of ours in the run directory: a dataclass whose fields are its keys, in the file's order.
    NAME: the file's name."""

    NAME: ClassVar[str]

    @classmethod
    def read(cls, folder: str | Path) -> Self:
        """The file in folder: RunDirError when it is missing or not JSON, RunFileError when it breaks the contract."""
        return cls.from_json(read_json(folder, cls.NAME), Path(folder) / cls.NAME)

    @classmethod
    def from_json(cls, obj: Any, file: str | Path | None = None) -> Self:
        """Made from the file's JSON value and checked; file: how errors name it (default NAME)."""
        return _build(cls, obj, file or cls.NAME)

    def to_json(self) -> dict[str, Any]:
        return _json(self)

    def write(self, folder: str | Path) -> Path:
        """folder/NAME, atomically: the old file or the whole new one."""
        return write_json(Path(folder) / self.NAME, self.to_json())


@dataclass(frozen=True, kw_only=True)
class Hyperparameters(RunFile):
    """The recipe, flat {name: scalar or null}; the card lists every entry, in the file's order. A field with
    a default is a key older runs lack."""

    NAME: ClassVar[str] = HYPERPARAMETERS
    preset: str
    fine_tuning: str  # "full", or "LoRA adapter (rank R) + full classifier head"
    learning_rate: float
    train_batch_size: int  # per process
    processes: int | None = None
    total_train_batch_size: int | None = None
    eval_batch_size: int
    seed: int
    optimizer: str
    lr_scheduler_type: str
    warmup_ratio: float
    num_epochs: float  # as trained: a small training set repeats the preset's epochs (min_train_steps)
    min_train_steps: int | None = None
    weight_decay: float
    mixed_precision: str  # "bf16", "fp16" or "no"
    max_seq_length: int
    label_all_subwords: bool
    word_consistency: float = 0.0  # the weight of training.word_loss; runs before it had none
    lora_rank: int | None  # None for a full fine-tune, as are the other lora_* entries
    lora_alpha: int | None
    lora_dropout: float | None
    lora_target_modules: str | None  # "query,key,value,dense"
    init: str  # "pretrained", or the random encoder it started from
    # What reading found: the entries this version does not declare, and the file's keys in its order (an
    # older run lacks some), so that the file reads back as written and the card lists it whole.
    extra: dict[str, Any] = field(default_factory=dict, metadata=NOT_A_KEY)
    order: tuple[str, ...] = field(default=(), metadata=NOT_A_KEY)

    @classmethod
    def from_json(cls, obj: Any, file: str | Path | None = None) -> Self:
        file = file or cls.NAME
        hyperparameters = _build(cls, obj, file)
        declared = {f.name for f in _keys(cls)}
        extra = {key: value for key, value in obj.items() if key not in declared}
        nested = [key for key, value in extra.items() if isinstance(value, (dict, list))]
        if nested:
            raise _fail(file, f"is not flat: {', '.join(nested)} hold nested values")
        return replace(hyperparameters, extra=extra, order=tuple(obj))

    def to_json(self) -> dict[str, Any]:
        values = {**super().to_json(), **self.extra}
        return {key: values[key] for key in self.order} if self.order else values

    @property
    def window(self) -> int | None:
        """Subwords per sequence, specials included, that the model should read long texts in: the passages
        it was trained on when it packed sentences; None for one sentence per example (the tokenizer's own
        model_max_length stands)."""
        return int(self.extra["pack_length"]) if self.extra.get("pack_share") else None


@dataclass(frozen=True, kw_only=True)
class EntityScores:
    precision: float
    recall: float
    f1: float
    support: int  # the type's entities in the test sentences


@dataclass(frozen=True, kw_only=True)
class LanguageScores:
    """seqeval on one language's test sentences: entity-level micro averages, then per entity type."""

    precision: float
    recall: float
    f1: float
    per_entity: dict[str, EntityScores] = field(metadata=BY_ENTITY)
    f1_ci95: list[float] = field(metadata=INTERVAL)  # bootstrap 95% interval
    num_sentences: int


@dataclass(frozen=True, kw_only=True)
class EvalResults(RunFile):
    NAME: ClassVar[str] = EVAL_RESULTS
    split: str  # "test"
    test_carved_from_validation: bool  # the test sentences are the held-out half of PAN-X validation
    languages: dict[str, LanguageScores]  # in the order evaluated


@dataclass(frozen=True, kw_only=True)
class SplitSummary:
    rows: int
    entities: dict[str, int] = field(metadata=BY_ENTITY)


@dataclass(frozen=True, kw_only=True)
class DataSummary(RunFile):
    NAME: ClassVar[str] = DATA_SUMMARY
    experiment: str
    train_languages: list[str]
    # language -> its train sentences read without labels (preset unlabelled_text); runs before it had none
    unlabelled_sentences: dict[str, int] = field(default_factory=dict)
    source: str  # "hub" or "parquet", never a folder of this machine
    test_carved_from_validation: bool
    carve_seed: int
    shuffle_seed: int
    fractions: dict[str, float]  # language -> the subsample's share of each split
    splits: dict[str, dict[str, SplitSummary]]  # language -> train | validation | test -> counts
    examples: dict[str, list[str]] = field(metadata=BY_ENTITY)  # entity type -> names from the training data

    def to_json(self) -> dict[str, Any]:
        values = super().to_json()
        if not values["unlabelled_sentences"]:  # none read: the file as runs wrote it before the key existed
            del values["unlabelled_sentences"]
        return values


@dataclass(frozen=True, kw_only=True)
class Parameters:
    total: int
    trainable: int


@dataclass(frozen=True, kw_only=True)
class RunInfo(RunFile):
    """What was trained, from what and by which command; written last: a run without it is unfinished."""

    NAME: ClassVar[str] = RUN_INFO
    experiment: str
    model_name: str
    base_model: str  # a Hub id, a local folder, or what stands for none ("tiny random encoder (smoke preset)")
    adapter: bool
    parameters: Parameters  # of the model as trained (an adapter's count includes its base)
    train_languages: list[str]
    eval_languages: list[str]
    device: str
    train_runtime_s: float
    train_samples_per_s: float
    created_at: str  # ISO 8601, UTC
    command: str
    versions: dict[str, str | None]  # package -> version; null: not installed


# --- the Trainer's trainer_state.json, as read ------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Evaluation:
    """One evaluation during training (a log_history entry), with the training loss logged since the one before."""

    epoch: float
    step: int
    eval_loss: float
    eval_f1: float
    training_loss: float | None = field(default=None, metadata=NOT_A_KEY)  # None: none was logged since


def evaluations_of(log_history: list[dict[str, Any]], file: str | Path = TRAINER_STATE) -> list[Evaluation]:
    """The evaluations during training, in order. The end-of-training summary ("train_runtime") ends them:
    an evaluation after it scores the final model, not an epoch (it is checked all the same)."""
    found: list[Evaluation] = []
    loss, training = None, True
    for entry in log_history:
        training = training and "train_runtime" not in entry
        if training and "loss" in entry:
            loss = entry["loss"]
        if "eval_loss" in entry and "train_runtime" not in entry:
            evaluation = _build(Evaluation, entry, file, f"log_history entry at step {entry.get('step')}")
            if training:
                found.append(replace(evaluation, training_loss=loss))
                loss = None
    return found


@dataclass(frozen=True, kw_only=True)
class TrainerState:
    """What panx-ner reads of trainer_state.json, which the Trainer writes (save_to_json), never this module."""

    max_steps: int
    num_train_epochs: float
    log_history: list[dict[str, Any]]
    evaluations: list[Evaluation] = field(default_factory=list, metadata=NOT_A_KEY)  # see evaluations_of

    @classmethod
    def read(cls, folder: str | Path) -> TrainerState:
        file = Path(folder) / TRAINER_STATE
        state = _build(cls, read_json(folder, TRAINER_STATE), file)
        return replace(state, evaluations=evaluations_of(state.log_history, file))

    @property
    def steps_per_epoch(self) -> float:
        return self.max_steps / self.num_train_epochs
