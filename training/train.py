"""Fine-tune a multilingual encoder on PAN-X and leave a run directory (see training/run_dir.py).

    python -m training.train --experiment de                       # Hub: google/xtreme + xlm-roberta-base
    python -m training.train --experiment de --data-dir DIR        # offline parquet (or $PANX_DATA_DIR)
    python -m training.train --experiment all --base-model space/base --preset mini
    python -m training.train --experiment de --preset smoke         # seconds on CPU, nothing from the Hub
    accelerate launch -m training.train --experiment de            # several GPUs: the Trainer's own DDP

Stages, top to bottom: parse, seed, prepare the output directory, load data, load the base model,
tokenize and align, train, evaluate every language, write the run directory.
"""

from __future__ import annotations

import shutil
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import datasets
import torch
from transformers import (
    AutoModelForTokenClassification,
    AutoTokenizer,
    DataCollatorForTokenClassification,
    HfArgumentParser,
    Trainer,
    TrainingArguments,
    XLMRobertaForTokenClassification,
    set_seed,
)

from training import run_dir as rd
from training.base_model import encoder_config, train_tokenizer
from training.data import DataError, ExperimentData, load_experiment
from training.facts import (
    DEFAULT_BASE_MODEL,
    EXPERIMENTS,
    ID2LABEL,
    LABEL2ID,
    LABELS,
    LANGUAGES,
    REPO_ROOT,
    default_data_dir,
    model_name,
)
from training.features import encode
from training.metrics import align_predictions, compute_metrics, seqeval_scores
from training.presets import PRESETS, Preset, get_preset
from training.runtime import device_description, library_versions, mixed_precision

CHECKPOINTS = "checkpoints"


@dataclass
class TrainArguments:
    experiment: str = field(default="de", metadata={"help": f"which model to train: {', '.join(EXPERIMENTS)}"})
    base_model: str = field(
        default=DEFAULT_BASE_MODEL,
        metadata={"help": "Hub name or local folder of the encoder to fine-tune (ignored by the smoke preset)"},
    )
    data_dir: str | None = field(
        default=None,
        metadata={"help": "PAN-X parquet folder; default $PANX_DATA_DIR, then ../shared/data/panx, then the Hub"},
    )
    output_dir: str | None = field(default=None, metadata={"help": "run directory (default runs/MODEL_NAME)"})
    preset: str = field(default="book", metadata={"help": f"hyperparameter preset: {', '.join(PRESETS)}"})
    seed: int | None = field(default=None, metadata={"help": "overrides the preset's seed"})
    learning_rate: float | None = field(default=None, metadata={"help": "overrides the preset's learning rate"})
    num_epochs: float | None = field(default=None, metadata={"help": "overrides the preset's epochs"})
    max_train_samples: int | None = field(default=None, metadata={"help": "cap on training sentences"})
    max_eval_samples: int | None = field(default=None, metadata={"help": "cap on validation/test sentences per language"})
    eval_languages: str = field(default=",".join(LANGUAGES), metadata={"help": "comma-separated test languages"})
    max_seq_length: int = field(default=256, metadata={"help": "subwords per sentence; PAN-X rarely needs 100"})
    init: str = field(default="pretrained", metadata={"help": "pretrained, or random: same architecture, fresh weights"})
    overwrite: bool = field(default=False, metadata={"help": "replace an existing run directory"})
    resume: bool = field(default=False, metadata={"help": "continue from the last checkpoint in the run directory"})
    quiet: bool = field(default=False, metadata={"help": "no progress bars"})

    def __post_init__(self):
        if self.experiment not in EXPERIMENTS:
            raise ValueError(f"unknown experiment {self.experiment!r}; valid experiments: {', '.join(EXPERIMENTS)}")
        get_preset(self.preset)
        if self.init not in ("pretrained", "random"):
            raise ValueError(f"--init must be pretrained or random, not {self.init!r}")
        for lang in self.eval_language_list:
            if lang not in LANGUAGES:
                raise ValueError(f"unknown language {lang!r} in --eval-languages; valid languages: {', '.join(LANGUAGES)}")
        if self.overwrite and self.resume:
            raise ValueError("--overwrite and --resume exclude each other")


    @property
    def eval_language_list(self) -> tuple[str, ...]:
        return tuple(lang.strip() for lang in self.eval_languages.split(",") if lang.strip())


def resolved_preset(args: TrainArguments) -> Preset:
    """The preset with the command line's overrides applied."""
    from dataclasses import replace

    preset = get_preset(args.preset)
    overrides = {
        "seed": args.seed,
        "learning_rate": args.learning_rate,
        "num_epochs": args.num_epochs,
        "max_train_samples": args.max_train_samples,
    }
    return replace(preset, **{k: v for k, v in overrides.items() if v is not None})


def prepare_output_dir(args: TrainArguments) -> Path:
    """Refuse to clobber a run unless --overwrite; --resume needs one to continue."""
    out = Path(args.output_dir or REPO_ROOT / "runs" / model_name(args.experiment, args.base_model))
    if args.resume:
        if not any((out / CHECKPOINTS).glob("checkpoint-*")):
            raise FileExistsError(f"--resume: no checkpoint under {out / CHECKPOINTS}; start without --resume")
        return out
    if out.exists() and any(out.iterdir()):
        if not args.overwrite:
            raise FileExistsError(f"output directory {out} exists and is not empty; pass --overwrite to replace it or --resume to continue it")
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    return out


def load_base(args: TrainArguments, preset: Preset, data: ExperimentData):
    """Tokenizer and token-classification model: from --base-model, or built on the fly (smoke)."""
    label_maps = dict(num_labels=len(LABELS), id2label=ID2LABEL, label2id=LABEL2ID)
    if preset.scratch_encoder:
        texts = (" ".join(tokens) for tokens in data.train["tokens"])
        tokenizer = train_tokenizer(texts, preset.scratch_vocab_size)
        config = encoder_config(preset.scratch_encoder, len(tokenizer), **label_maps)
        return tokenizer, XLMRobertaForTokenClassification(config)
    try:
        tokenizer = AutoTokenizer.from_pretrained(args.base_model)
        if args.init == "random":
            from transformers import AutoConfig

            config = AutoConfig.from_pretrained(args.base_model, **label_maps)
            return tokenizer, AutoModelForTokenClassification.from_config(config)
        # float32 master weights even when the base is stored in fp16 (mixed precision is autocast's job).
        return tokenizer, AutoModelForTokenClassification.from_pretrained(args.base_model, dtype=torch.float32, **label_maps)
    except OSError as err:
        raise OSError(
            f"cannot load base model {args.base_model!r} ({err}). Without Hub access, pass a local folder "
            "with --base-model (e.g. one made by python -m training.pretrain) or use --preset smoke."
        ) from err


def training_arguments(out: Path, preset: Preset, quiet: bool = False, **overrides) -> TrainingArguments:
    """panx-ner's recipe: the preset's hyperparameters, plus settings that only change speed."""
    precision = mixed_precision()
    settings = dict(
        output_dir=str(out / CHECKPOINTS),
        learning_rate=preset.learning_rate,
        per_device_train_batch_size=preset.train_batch_size,
        per_device_eval_batch_size=preset.eval_batch_size,
        num_train_epochs=preset.num_epochs,
        weight_decay=preset.weight_decay,
        lr_scheduler_type=preset.lr_scheduler_type,
        warmup_steps=preset.warmup_ratio,
        seed=preset.seed,
        eval_strategy="epoch",
        logging_strategy="epoch",
        save_strategy="epoch",
        save_total_limit=1,
        # Speed only (see benchmarks/train_throughput.py): batches of similar length pad less,
        # bf16 autocast where supported, the fused AdamW kernel.
        train_sampling_strategy="group_by_length",
        bf16=precision == "bf16",
        fp16=precision == "fp16",
        optim="adamw_torch_fused",
        use_cpu=not torch.cuda.is_available(),
        report_to="none",
        disable_tqdm=quiet,
    )
    return TrainingArguments(**{**settings, **overrides})


def build_trainer(model, tokenizer, targs: TrainingArguments, train_set, eval_set=None) -> Trainer:
    """The Trainer as panx-ner uses it: dynamic padding to multiples of 8 (friendlier kernels)."""
    return Trainer(
        model=model,
        args=targs,
        train_dataset=train_set,
        eval_dataset=eval_set,
        data_collator=DataCollatorForTokenClassification(tokenizer, pad_to_multiple_of=8),
        processing_class=tokenizer,
        compute_metrics=compute_metrics,
    )


def evaluate_languages(trainer: Trainer, test_sets: dict) -> dict:
    """seqeval on each language's test split."""
    results = {}
    for lang, encoded in test_sets.items():
        output = trainer.predict(encoded, metric_key_prefix="test")
        predictions, references = align_predictions(output.predictions, output.label_ids)
        results[lang] = {**seqeval_scores(predictions, references), "num_sentences": len(encoded)}
    return results


def hyperparameters(preset: Preset, args: TrainArguments, targs: TrainingArguments) -> dict:
    return {
        "preset": preset.name,
        "learning_rate": preset.learning_rate,
        "train_batch_size": preset.train_batch_size,
        "eval_batch_size": preset.eval_batch_size,
        "seed": preset.seed,
        "optimizer": f"AdamW (torch, fused) with betas=({targs.adam_beta1},{targs.adam_beta2}) and epsilon={targs.adam_epsilon}",
        "lr_scheduler_type": preset.lr_scheduler_type,
        "warmup_ratio": preset.warmup_ratio,
        "num_epochs": preset.num_epochs,
        "weight_decay": preset.weight_decay,
        "mixed_precision": mixed_precision(),
        "max_seq_length": args.max_seq_length,
        "init": args.init if not preset.scratch_encoder else f"random ({preset.scratch_encoder} encoder)",
    }


def main(argv: list[str] | None = None) -> Path:
    (args,) = HfArgumentParser(TrainArguments).parse_args_into_dataclasses(args=argv)
    preset = resolved_preset(args)
    if args.quiet:
        datasets.disable_progress_bars()
    set_seed(preset.seed)
    out = prepare_output_dir(args)

    data_dir = args.data_dir or default_data_dir()
    data = load_experiment(args.experiment, data_dir, preset.max_train_samples, args.eval_language_list)
    if args.max_eval_samples:
        cap = lambda ds: ds.select(range(min(args.max_eval_samples, len(ds))))  # noqa: E731
        data.validation = cap(data.validation)
        data.test = {lang: cap(ds) for lang, ds in data.test.items()}
    rd.write_json(out / rd.DATA_SUMMARY, data.summary())

    tokenizer, model = load_base(args, preset, data)
    train_set = encode(data.train, tokenizer, args.max_seq_length)
    validation_set = encode(data.validation, tokenizer, args.max_seq_length)
    test_sets = {lang: encode(ds, tokenizer, args.max_seq_length) for lang, ds in data.test.items()}

    targs = training_arguments(out, preset, args.quiet)
    rd.write_json(out / rd.HYPERPARAMETERS, hyperparameters(preset, args, targs))
    trainer = build_trainer(model, tokenizer, targs, train_set, validation_set)
    started = time.perf_counter()
    train_output = trainer.train(resume_from_checkpoint=True if args.resume else None)
    runtime = time.perf_counter() - started

    eval_results = evaluate_languages(trainer, test_sets)
    if trainer.is_world_process_zero():
        command = "python -m training.train " + " ".join(sys.argv[1:] if argv is None else argv)
        write_run_directory(out, trainer, args, data, eval_results, train_output, runtime, command)
    return out


def write_run_directory(out, trainer, args, data, eval_results, train_output, runtime, command: str) -> None:
    scratch = get_preset(args.preset).scratch_encoder is not None  # the smoke preset ignores --base-model
    trainer.save_model(str(out))  # model + tokenizer (processing_class), safetensors
    trainer.state.save_to_json(str(out / rd.TRAINER_STATE))
    rd.write_json(
        out / rd.EVAL_RESULTS,
        {"split": "test", "test_carved_from_validation": data.test_carved_from_validation, "languages": eval_results},
    )
    rd.write_json(
        out / rd.RUN_INFO,
        {
            "experiment": args.experiment,
            "model_name": model_name(args.experiment, "smoke" if scratch else args.base_model),
            "base_model": "smoke (random, built on the fly)" if scratch else args.base_model,
            "train_languages": list(EXPERIMENTS[args.experiment]),
            "eval_languages": list(eval_results),
            "device": device_description(),
            "train_runtime_s": round(runtime, 2),
            "train_samples_per_s": round(train_output.metrics.get("train_samples_per_second", 0.0), 2),
            "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "command": command,
            "versions": library_versions(),
        },
    )
    # Checkpoints only serve --resume; a finished run keeps the final model alone.
    shutil.rmtree(out / CHECKPOINTS, ignore_errors=True)


def cli(argv: list[str] | None = None) -> int:
    try:
        out = main(argv)
    except (ValueError, DataError, FileExistsError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"run directory: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(cli())
