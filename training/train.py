"""Fine-tune a multilingual encoder on PAN-X and leave a run directory (see core/run_dir.py).

    python -m training.train --experiment de                   # offline: LoRA on multilingual-e5-small (preset e5)
    python -m training.train --experiment de --preset book     # the book: xlm-roberta-base from the Hub
    python -m training.train --experiment de --preset smoke    # seconds on CPU: a tiny random encoder
    python -m training.train --experiment de --running-text --pack-share 0.5   # text as people write it
    torchrun --nproc_per_node 2 -m training.train --experiment de   # several processes/GPUs: the Trainer's DDP

Stages, top to bottom: parse, seed, check the output directory, load data, load the base model,
tokenize and align, train, evaluate every language, write the run directory.
"""

from __future__ import annotations

import functools
import shutil
import sys
import time
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

import datasets
import torch
from datasets import concatenate_datasets
from transformers import (
    AutoModelForTokenClassification,
    AutoTokenizer,
    BertConfig,
    DataCollatorForTokenClassification,
    Trainer,
    TrainingArguments,
    set_seed,
)
from transformers.trainer import TRAINER_STATE_NAME
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR
from transformers.utils import logging as transformers_logging

from core import loading
from core import run_dir as rd
from core.cli import InputError, run
from core.e5_base import build as build_offline_base
from core.facts import (
    EXPERIMENTS,
    ID2LABEL,
    LABEL2ID,
    LABELS,
    OFFLINE_BASE_ID,
    RUNS_DIR,
    default_data_dir,
    model_name,
)
from core.files import replace_folder
from training.arguments import TrainArguments, parse_arguments, resolved_preset, unlabelled_languages
from training.data import load_experiment
from training.features import encode, encode_running, encode_unlabelled
from training.metrics import align_predictions, bootstrap_f1, compute_metrics, seqeval_scores
from training.presets import Preset, text_form
from training.runtime import device_description, library_versions, mixed_precision
from training.speed import use_fast_dropout
from training.word_loss import WordConsistentTrainer

CHECKPOINTS = "checkpoints"
OVERWRITE_SUFFIX = ".new"  # --overwrite trains here, beside the old run, which goes only at the end


def last_complete_checkpoint(folder: Path) -> Path | None:
    """The newest checkpoint that was written to the end. The Trainer writes trainer_state.json last,
    so a process killed while saving leaves a folder without it, which must not be resumed from."""
    complete = [
        c for c in (folder / CHECKPOINTS).glob(f"{PREFIX_CHECKPOINT_DIR}-*") if (c / TRAINER_STATE_NAME).is_file()
    ]
    return max(complete, key=lambda c: int(c.name.rsplit("-", 1)[1]), default=None)


def plan_output(args: TrainArguments, preset: Preset) -> tuple[Path, Path]:
    """(the run directory, the folder to train in). Checks only: nothing is deleted here.

    A new run trains in its run directory. --overwrite trains in a folder beside it and replaces the
    old run only once the new one is complete, so a run that fails keeps the old one. --resume
    continues whichever of the two holds checkpoints.
    """
    out = Path(args.output_dir or RUNS_DIR / model_name(args.experiment, preset.base_model))
    beside = out.with_name(out.name + OVERWRITE_SUFFIX)
    if args.resume:
        for work in (beside, out):
            if last_complete_checkpoint(work):
                return out, work
        raise InputError(f"--resume: no checkpoint under {out / CHECKPOINTS}; start without --resume")
    if out.is_file():
        raise InputError(f"--output-dir {out} is a file; give a folder for the run directory")
    if out.is_dir() and any(out.iterdir()):
        if not args.overwrite:
            hint = "--resume to continue it" if last_complete_checkpoint(out) else "--overwrite to replace it"
            raise InputError(f"output directory {out} exists and is not empty; pass {hint}")
        return out, beside
    return out, out


def load_base(preset: Preset):
    """Tokenizer and token-classification model (a PEFT model when the preset has a LoRA adapter)."""
    label_maps = dict(num_labels=len(LABELS), id2label=ID2LABEL, label2id=LABEL2ID)
    if preset.base_model == OFFLINE_BASE_ID:
        build_offline_base(progress=False)  # idempotent: a checksum when it is already there
    try:
        tokenizer = loading.load_base(AutoTokenizer, preset.base_model)
        if preset.scratch:
            tiny = preset.scratch
            config = BertConfig(
                vocab_size=len(tokenizer),
                hidden_size=tiny.hidden_size,
                num_hidden_layers=tiny.num_layers,
                num_attention_heads=tiny.num_heads,
                intermediate_size=tiny.intermediate_size,
                pad_token_id=tokenizer.pad_token_id,
                **label_maps,
            )
            return tokenizer, AutoModelForTokenClassification.from_config(config)
        # float32 master weights even when the base is stored in fp16 (mixed precision is autocast's job).
        model = loading.load_base(AutoModelForTokenClassification, preset.base_model, dtype=torch.float32, **label_maps)
    except OSError as err:
        raise InputError(
            f"cannot load base model {preset.base_model!r} ({err}). Without Hub access, use the offline preset "
            "(--preset e5, built by python -m core.e5_base) or --preset smoke."
        ) from err
    if preset.lora:
        from peft import LoraConfig, get_peft_model

        lora = preset.lora
        model = get_peft_model(
            model,
            LoraConfig(
                task_type="TOKEN_CLS",
                r=lora.rank,
                lora_alpha=lora.alpha,
                lora_dropout=lora.dropout,
                target_modules=list(lora.target_modules),
                modules_to_save=["classifier"],
            ),
        )
        # Unasked, peft's save_pretrained asks the Hub whether the base (a name, not a folder) has a
        # config.json, to tell whether the embeddings changed: at every checkpoint, a wait and a warning
        # for a user without network. LoRA here never touches the embeddings, so say so.
        model.save_pretrained = functools.partial(model.save_pretrained, save_embedding_layers=False)
    return tokenizer, model


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


def build_trainer(
    model,
    tokenizer,
    targs: TrainingArguments,
    train_set,
    eval_set=None,
    word_consistency: float = 0.0,
    running_text: bool = False,
) -> Trainer:
    """The Trainer as panx-ner uses it: dynamic padding to multiples of 8 (friendlier kernels),
    dropout masks drawn by training.speed (the same distribution, a fraction of the CPU time), and
    the word-consistency loss of training.word_loss when the preset weighs it."""
    use_fast_dropout(model)
    return WordConsistentTrainer(
        model=model,
        args=targs,
        train_dataset=train_set,
        eval_dataset=eval_set,
        data_collator=DataCollatorForTokenClassification(tokenizer, pad_to_multiple_of=8),
        processing_class=tokenizer,
        compute_metrics=compute_metrics,
        word_consistency=word_consistency,
        running_text=running_text,
    )


def evaluate_languages(trainer: Trainer, test_sets: dict) -> dict:
    """seqeval on each language's test split, with a bootstrap 95% interval for F1."""
    results = {}
    for lang, encoded in test_sets.items():
        output = trainer.predict(encoded, metric_key_prefix="test")
        predictions, references = align_predictions(output.predictions, output.label_ids)
        low, high = bootstrap_f1(predictions, references)
        results[lang] = {
            **seqeval_scores(predictions, references),
            "f1_ci95": [round(low, 4), round(high, 4)],
            "num_sentences": len(encoded),
        }
    return results


def training_features(train, tokenizer, preset: Preset, max_seq_length: int, unlabelled=None):
    """The training split as the model learns it: PAN-X's words one sentence at a time (the book), or text
    as people write it (running text, some sentences packed into passages), with the unlabelled passages
    of `unlabelled` (encode_unlabelled) on top. Validation and test always use PAN-X's words (encode), so
    that F1 stays comparable between recipes."""
    labelled = labelled_features(train, tokenizer, preset, max_seq_length)
    if unlabelled is None:
        return labelled
    passages = encode_unlabelled(unlabelled, tokenizer, preset.pack_length, preset.seed)
    return concatenate_datasets([labelled, passages.cast(labelled.features)])


def labelled_features(train, tokenizer, preset: Preset, max_seq_length: int):
    if not preset.running_text and not preset.pack_share:
        return encode(train, tokenizer, max_seq_length, preset.label_all_subwords)
    return encode_running(
        train,
        tokenizer,
        max_seq_length,
        preset.label_all_subwords,
        running=preset.running_text,
        pack_share=preset.pack_share,
        pack_length=preset.pack_length,
        seed=preset.seed,
        alongside=preset.pack_alongside,
    )


def parameter_counts(model) -> dict[str, int]:
    return {
        "total": sum(p.numel() for p in model.parameters()),
        "trainable": sum(p.numel() for p in model.parameters() if p.requires_grad),
    }


def hyperparameters(preset: Preset, args: TrainArguments, targs: TrainingArguments) -> rd.Hyperparameters:
    lora = preset.lora
    return rd.Hyperparameters(
        preset=preset.name,
        fine_tuning=f"LoRA adapter (rank {lora.rank}) + full classifier head" if lora else "full",
        learning_rate=preset.learning_rate,
        train_batch_size=preset.train_batch_size,
        processes=targs.world_size,
        total_train_batch_size=preset.train_batch_size * targs.world_size,
        eval_batch_size=preset.eval_batch_size,
        seed=preset.seed,
        optimizer=f"AdamW (torch, fused) with betas=({targs.adam_beta1},{targs.adam_beta2}) "
        f"and epsilon={targs.adam_epsilon}",
        lr_scheduler_type=preset.lr_scheduler_type,
        warmup_ratio=preset.warmup_ratio,
        num_epochs=preset.num_epochs,
        min_train_steps=preset.min_train_steps,
        weight_decay=preset.weight_decay,
        mixed_precision=mixed_precision(),
        max_seq_length=args.max_seq_length,
        label_all_subwords=preset.label_all_subwords,
        word_consistency=preset.word_consistency,
        lora_rank=lora.rank if lora else None,
        lora_alpha=lora.alpha if lora else None,
        lora_dropout=lora.dropout if lora else None,
        lora_target_modules=",".join(lora.target_modules) if lora else None,
        init=f"random (tiny encoder, hidden {preset.scratch.hidden_size})" if preset.scratch else "pretrained",
        # Not declared by core.run_dir (older runs lack them): only a run on running text or packed passages has them.
        extra=text_form(asdict(preset)),
    )


def main(argv: list[str] | None = None) -> Path | None:
    """The command line: train the experiment its arguments describe (see train)."""
    args = parse_arguments(argv)
    return train(args, command=" ".join([rd.TRAIN_COMMAND, *(sys.argv[1:] if argv is None else argv)]))


def train(args: TrainArguments, command: str | None = None) -> Path | None:
    """Train one experiment; returns the run directory (None on the other processes of a torchrun).
    command: how run_info.json says the run was made (default: args.command())."""
    preset = resolved_preset(args)
    if args.quiet:
        datasets.disable_progress_bars()
        transformers_logging.disable_progress_bar()  # saving's "Writing model shards" too
    set_seed(preset.seed)
    out, work = plan_output(args, preset)
    targs = training_arguments(work, preset, args.quiet)

    # Every process needs the data; the first prepares it (and the base) while the others wait.
    with targs.main_process_first(desc="load PAN-X and the base model"):
        data = load_experiment(
            args.experiment,
            args.data_dir or default_data_dir(),
            preset.max_train_samples,
            args.eval_language_list,
            unlabelled_languages(args.experiment) if preset.unlabelled_text else (),
        )
        if preset.max_eval_samples:
            cap = lambda ds: ds.select(range(min(preset.max_eval_samples, len(ds))))
            data.validation = cap(data.validation)
            data.test = {lang: cap(ds) for lang, ds in data.test.items()}
        tokenizer, model = load_base(preset)
        train_set = training_features(data.train, tokenizer, preset, args.max_seq_length, data.unlabelled)
        validation_set = encode(data.validation, tokenizer, args.max_seq_length)
        test_sets = {lang: encode(ds, tokenizer, args.max_seq_length) for lang, ds in data.test.items()}
    # Counted in sentences, as the study and the presets count them: packed passages come on top.
    repeats = preset.epoch_repeats(len(data.train), targs.world_size)
    if (
        repeats > 1
    ):  # a small training set: `repeats` times the epochs, evaluated and checkpointed every `repeats` epochs
        every = preset.steps_per_epoch(len(train_set), targs.world_size) * repeats
        preset = preset.for_train_rows(len(data.train), targs.world_size)
        targs = training_arguments(
            work,
            preset,
            args.quiet,
            eval_strategy="steps",
            eval_steps=every,
            logging_strategy="steps",
            logging_steps=every,
            save_strategy="steps",
            save_steps=every,
        )

    recipe = hyperparameters(preset, args, targs)
    if args.resume:
        check_resumable(work, recipe)
    if targs.process_index == 0:
        if work != out and not args.resume:
            shutil.rmtree(work, ignore_errors=True)  # a failed earlier --overwrite: our own scratch
        work.mkdir(parents=True, exist_ok=True)
        rd.DataSummary.from_json(data.summary()).write(work)
        recipe.write(work)
    trainer = build_trainer(
        model, tokenizer, targs, train_set, validation_set, preset.word_consistency, preset.running_text
    )
    started = time.perf_counter()
    checkpoint = last_complete_checkpoint(work) if args.resume else None
    try:
        train_output = trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
        runtime = time.perf_counter() - started
        eval_results = evaluate_languages(trainer, test_sets)
        if trainer.is_world_process_zero():
            write_run_directory(
                work, trainer, args, preset, data, eval_results, train_output, runtime, command or args.command()
            )
    except BaseException:  # a full disk, an interrupt: keep what --resume can use, nothing half written
        if targs.process_index == 0:
            discard_unfinished(work, resumable=args.resume)
        raise
    if trainer.is_world_process_zero():
        if work != out:
            replace_folder(work, out)
        return out
    return None


def check_resumable(work: Path, recipe: rd.Hyperparameters) -> None:
    """--resume continues checkpoints only under the recipe that wrote them: otherwise the rest of the run would
    train on other settings while hyperparameters.json claimed the new ones for all of it."""
    if not (work / rd.HYPERPARAMETERS).is_file():
        return
    before, after = rd.Hyperparameters.read(work).to_json(), recipe.to_json()
    changed = [f"{k} {before.get(k)} -> {after.get(k)}" for k in {**before, **after} if before.get(k) != after.get(k)]
    if changed:
        raise InputError(
            f"--resume: the checkpoints in {work} were trained with other settings ({'; '.join(changed)}); "
            "pass --overwrite instead to train anew"
        )


def discard_unfinished(work: Path, resumable: bool) -> None:
    """After a failed run: checkpoints cut short go; so does a new run that left no complete checkpoint
    (an --resume run keeps its folder whatever happens). A finished run (run_info.json) is never touched."""
    if (work / rd.RUN_INFO).is_file():
        return
    for checkpoint in (work / CHECKPOINTS).glob(f"{PREFIX_CHECKPOINT_DIR}-*"):
        if not (checkpoint / TRAINER_STATE_NAME).is_file():
            shutil.rmtree(checkpoint, ignore_errors=True)
    if not resumable and last_complete_checkpoint(work) is None:
        shutil.rmtree(work, ignore_errors=True)


def write_run_directory(out, trainer, args, preset, data, eval_results, train_output, runtime, command: str) -> None:
    # Tokenizing for training set a truncation length on the tokenizer; it is not the model's limit.
    trainer.processing_class.backend_tokenizer.no_truncation()
    window = rd.Hyperparameters.read(out).window
    if window:  # pipeline(stride=...) reads long texts in windows of the length it was trained on
        trainer.processing_class.model_max_length = window
    trainer.save_model(str(out))  # model (or adapter) + tokenizer, safetensors
    # save_model also leaves PEFT's placeholder README.md (the card is cards.render's job) and a
    # pickled training_args.bin (hyperparameters.json says the same, readably).
    for stray in (rd.CARD, "training_args.bin"):
        (out / stray).unlink(missing_ok=True)
    if preset.lora:  # an adapter uses its base's tokenizer, as pipeline() loads it
        for name in (*rd.TOKENIZER_FILES, "special_tokens_map.json"):
            (out / name).unlink(missing_ok=True)
    else:
        rd.scrub_loader_flags(out / "tokenizer_config.json")
    trainer.state.save_to_json(str(out / rd.TRAINER_STATE))
    rd.EvalResults.from_json(
        {"split": "test", "test_carved_from_validation": data.test_carved_from_validation, "languages": eval_results},
    ).write(out)
    base = "smoke" if preset.scratch else preset.base_model
    rd.RunInfo(  # last: its presence marks the run as finished
        experiment=args.experiment,
        model_name=model_name(args.experiment, base),
        base_model="tiny random encoder (smoke preset)" if preset.scratch else preset.base_model,
        adapter=preset.lora is not None,
        parameters=rd.Parameters(**parameter_counts(trainer.model)),
        train_languages=list(EXPERIMENTS[args.experiment]),
        eval_languages=list(eval_results),
        device=device_description(),
        train_runtime_s=round(runtime, 2),
        train_samples_per_s=round(train_output.metrics.get("train_samples_per_second", 0.0), 2),
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        command=command,
        versions=library_versions(),
    ).write(out)
    # Checkpoints only serve --resume; a finished run keeps the final model alone. Removed after
    # run_info, so a run killed in between still has what --resume needs.
    shutil.rmtree(out / CHECKPOINTS, ignore_errors=True)


def cli(argv: list[str] | None = None) -> int:
    """The command line: main() with one-line errors and exit codes (core.cli)."""

    def train_and_say_where(arguments: list[str] | None) -> None:
        out = main(arguments)
        if out is not None:
            print(f"run directory: {out}")

    return run(train_and_say_where, argv)


if __name__ == "__main__":
    sys.exit(cli())
