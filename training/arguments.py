"""The train command's arguments: one dataclass that the command line, the study and the tests fill,
checked before anything is loaded, and the preset they resolve to.

Light on purpose (no torch, no Trainer): the study parses its --train-arg flags with it on every run.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any

from transformers import HfArgumentParser

from core import run_dir as rd
from core.cli import InputError
from core.facts import EXPERIMENTS, LANGUAGES, MAX_INPUT_TOKENS, check_experiment
from training.presets import DEFAULT_PRESET, PRESETS, Preset, get_preset

MIN_SEQ_LENGTH = 8


@dataclass
class TrainArguments:
    experiment: str = field(default="de", metadata={"help": f"which model to train: {', '.join(EXPERIMENTS)}"})
    preset: str = field(default=DEFAULT_PRESET, metadata={"help": f"base model and recipe: {', '.join(PRESETS)}"})
    base_model: str | None = field(
        default=None, metadata={"help": "overrides the preset's base: a Hub id or a local model folder"}
    )
    data_dir: str | None = field(
        default=None,
        metadata={"help": "PAN-X parquet folder; default $PANX_DATA_DIR, then ../shared/data/panx, then the Hub"},
    )
    output_dir: str | None = field(default=None, metadata={"help": "run directory (default runs/MODEL_NAME)"})
    seed: int | None = field(default=None, metadata={"help": "overrides the preset's seed"})
    learning_rate: float | None = field(default=None, metadata={"help": "overrides the preset's learning rate"})
    num_epochs: float | None = field(default=None, metadata={"help": "overrides the preset's epochs"})
    train_batch_size: int | None = field(
        default=None, metadata={"help": "overrides the preset's batch size per process (torchrun: per process)"}
    )
    lora_rank: int | None = field(
        default=None, metadata={"help": "overrides the preset's LoRA rank (alpha keeps its ratio to the rank)"}
    )
    word_consistency: float | None = field(
        default=None, metadata={"help": "overrides the preset's word-consistency weight (training/word_loss.py)"}
    )
    min_train_steps: int | None = field(
        default=None,
        metadata={"help": "overrides the preset's minimum of optimizer steps for small training sets (0: off)"},
    )
    running_text: bool = field(
        default=False,
        metadata={"help": "train on running text (training/running_text.py), not PAN-X's words, whatever the preset"},
    )
    pack_share: float | None = field(
        default=None,
        metadata={"help": "overrides the preset's share of training sentences packed into passages (0 to 1)"},
    )
    pack_length: int | None = field(
        default=None,
        metadata={"help": f"overrides the preset's subwords per packed passage (at most {MAX_INPUT_TOKENS})"},
    )
    pack_alongside: bool = field(
        default=False,
        metadata={"help": "add the passages to PAN-X's sentences, which all stay one per example in their words"},
    )
    unlabelled_text: bool = field(
        default=False,
        metadata={
            "help": "also read the train sentences of the languages without labels in this experiment, labels "
            "ignored: the word-consistency term alone learns from them"
        },
    )
    max_train_samples: int | None = field(default=None, metadata={"help": "cap on training sentences"})
    max_eval_samples: int | None = field(
        default=None, metadata={"help": "cap on validation/test sentences per language"}
    )
    eval_languages: str = field(default=",".join(LANGUAGES), metadata={"help": "comma-separated test languages"})
    max_seq_length: int = field(default=256, metadata={"help": "subwords per sentence; PAN-X rarely needs 100"})
    overwrite: bool = field(default=False, metadata={"help": "replace an existing run directory"})
    resume: bool = field(default=False, metadata={"help": "continue from the last checkpoint in the run directory"})
    quiet: bool = field(default=False, metadata={"help": "no progress bars"})

    def __post_init__(self):
        check_experiment(self.experiment)
        get_preset(self.preset)
        for lang in self.eval_language_list:
            if lang not in LANGUAGES:
                raise InputError(
                    f"unknown language {lang!r} in --eval-languages; valid languages: {', '.join(LANGUAGES)}"
                )
        if not self.eval_language_list:
            raise InputError("--eval-languages is empty; give at least one of " + ", ".join(LANGUAGES))
        if self.overwrite and self.resume:
            raise InputError("--overwrite and --resume exclude each other")
        positive = {
            "--num-epochs": self.num_epochs,
            "--learning-rate": self.learning_rate,
            "--max-train-samples": self.max_train_samples,
            "--max-eval-samples": self.max_eval_samples,
            "--train-batch-size": self.train_batch_size,
            "--lora-rank": self.lora_rank,
        }
        for flag, value in positive.items():
            if value is not None and not value > 0:
                raise InputError(f"{flag} must be greater than 0, not {value}")
        if self.seed is not None and not 0 <= self.seed < 2**32:
            raise InputError(f"--seed must be between 0 and 2**32 - 1 (numpy's range), not {self.seed}")
        if self.min_train_steps is not None and self.min_train_steps < 0:
            raise InputError(f"--min-train-steps must be 0 (off) or more, not {self.min_train_steps}")
        if self.word_consistency is not None and not 0 <= self.word_consistency < float("inf"):
            raise InputError(f"--word-consistency must be a finite number, 0 or more, not {self.word_consistency}")
        if self.pack_share is not None and not 0 <= self.pack_share <= 1:
            raise InputError(f"--pack-share must be between 0 and 1, not {self.pack_share}")
        if self.pack_length is not None and not MIN_SEQ_LENGTH <= self.pack_length <= MAX_INPUT_TOKENS:
            raise InputError(
                f"--pack-length must be between {MIN_SEQ_LENGTH} and {MAX_INPUT_TOKENS} (the bases' input limit), "
                f"not {self.pack_length}"
            )
        if self.max_seq_length < MIN_SEQ_LENGTH:
            raise InputError(
                f"--max-seq-length must be at least {MIN_SEQ_LENGTH} (two special tokens and a word), "
                f"not {self.max_seq_length}"
            )

    @property
    def eval_language_list(self) -> tuple[str, ...]:
        return tuple(lang.strip() for lang in self.eval_languages.split(",") if lang.strip())

    def command(self) -> str:
        """The command line that makes these arguments: every field that differs from its default."""
        return " ".join([rd.TRAIN_COMMAND, *as_flags(changed_fields(self))])


def changed_fields(args: TrainArguments) -> dict[str, Any]:
    """{field: value} for the fields of args that are not at their default, in declaration order."""
    return {f.name: getattr(args, f.name) for f in fields(args) if getattr(args, f.name) != f.default}


def as_flags(values: dict[str, Any]) -> list[str]:
    """{"max_train_samples": 250, "resume": True} -> ["--max-train-samples", "250", "--resume"]."""
    flags = []
    for name, value in values.items():
        flag = "--" + name.replace("_", "-")
        flags += [flag] if value is True else [flag, str(value)]
    return flags


def parse_arguments(argv: list[str] | None = None) -> TrainArguments:
    (args,) = HfArgumentParser(TrainArguments).parse_args_into_dataclasses(args=argv)
    return args


def unlabelled_languages(experiment: str) -> tuple[str, ...]:
    """The languages an experiment has no labels for: the text that --unlabelled-text adds."""
    return tuple(lang for lang in LANGUAGES if lang not in EXPERIMENTS[experiment])


def resolved_preset(args: TrainArguments) -> Preset:
    """The preset with the command line's overrides applied."""
    preset = get_preset(args.preset)
    overrides = {
        "base_model": args.base_model,
        "seed": args.seed,
        "learning_rate": args.learning_rate,
        "num_epochs": args.num_epochs,
        "train_batch_size": args.train_batch_size,
        "max_train_samples": args.max_train_samples,
        "max_eval_samples": args.max_eval_samples,
        "min_train_steps": args.min_train_steps,
        "word_consistency": args.word_consistency,
        "running_text": args.running_text or None,  # a flag: it turns running text on, never off
        "pack_share": args.pack_share,
        "pack_length": args.pack_length,
        "pack_alongside": args.pack_alongside or None,  # a flag: it turns adding on, never off
        "unlabelled_text": args.unlabelled_text or None,
    }
    preset = replace(preset, **{k: v for k, v in overrides.items() if v is not None})
    if preset.pack_alongside and not preset.pack_share:
        raise InputError("--pack-alongside adds packed passages: give --pack-share greater than 0 too")
    if preset.unlabelled_text and not preset.word_consistency:
        raise InputError(
            "--unlabelled-text is read by the word-consistency term alone: give --word-consistency above 0"
        )
    if preset.unlabelled_text and not unlabelled_languages(args.experiment):
        raise InputError(f"--unlabelled-text: experiment {args.experiment} has labels in every language")
    if args.lora_rank is not None:
        if preset.lora is None:
            raise InputError(f"--lora-rank: preset {preset.name!r} fine-tunes the whole model, it has no adapter")
        ratio = preset.lora.alpha / preset.lora.rank
        preset = replace(preset, lora=replace(preset.lora, rank=args.lora_rank, alpha=round(ratio * args.lora_rank)))
    return preset
