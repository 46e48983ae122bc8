"""Training throughput on the offline base: the book's plain Trainer recipe against panx-ner's.

    python benchmarks/train_throughput.py [--steps 40]

All three fine-tune multilingual-e5-small (the offline base) on the German PAN-X train split, in
one process, one after the other, on whatever device is present, for the same number of steps:
  baseline:     Trainer as the book writes it: full fine-tune, random batches, padding to the longest
                sentence, AdamW (not fused), fp16 on a GPU only, fp32 on CPU; the e5-full preset's values
  tuned (full): the same full fine-tune with training.train's speed settings only (length-grouped
                batches, padding to multiples of 8, bf16 autocast where supported, fused AdamW, and
                on CPU dropout masks from training.speed instead of torch's bernoulli_)
  tuned:        training.train's recipe as the study runs it: the e5 preset (LoRA rank 16 + the
                classifier head, the word-consistency term) with the same speed settings
  tuned_bf16:   the same with bf16 autocast forced, on CPU only: training.runtime.mixed_precision turns
                bf16 on only where the CPU has it natively (AVX-512 BF16, AMX); this shows what it costs
                where the CPU emulates it
The F1 side of the trade comes from the study's own runs (results/adapter_vs_full.json): the LoRA
recipe against a full fine-tune on the same data, over whole schedules.
Writes results/bench/train_throughput.json and prints a table.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from transformers import DataCollatorForTokenClassification, Trainer, TrainingArguments, set_seed

from core import results as res
from core.facts import RESULTS_DIR, default_data_dir
from core.files import write_json
from training.data import load_experiment
from training.features import encode
from training.presets import get_preset
from training.runtime import device_description, mixed_precision, native_cpu_bf16
from training.train import build_trainer, load_base, training_arguments

OUT = RESULTS_DIR / "bench" / "train_throughput.json"


def baseline_arguments(out: str, preset, steps: int) -> TrainingArguments:
    """The book's recipe with today's argument names; only the device decides fp16."""
    return TrainingArguments(
        output_dir=out,
        per_device_train_batch_size=preset.train_batch_size,
        learning_rate=preset.learning_rate,
        weight_decay=preset.weight_decay,
        seed=preset.seed,
        optim="adamw_torch",
        fp16=torch.cuda.is_available(),
        use_cpu=not torch.cuda.is_available(),
        max_steps=steps,
        eval_strategy="no",
        save_strategy="no",
        logging_strategy="no",
        report_to="none",
        disable_tqdm=True,
    )


def timed(trainer: Trainer, train_set) -> dict:
    started = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - started
    samples = trainer.state.global_step * trainer.args.per_device_train_batch_size
    mean_length = sum(len(ids) for ids in train_set["input_ids"]) / len(train_set)
    return {
        "seconds": round(seconds, 2),
        "steps": trainer.state.global_step,
        "samples": samples,
        "samples_per_s": round(samples / seconds, 2),
        "tokens_per_s": round(samples * mean_length / seconds, 1),
    }


def measure(recipe: str, data, steps: int, tmp: str) -> dict:
    preset = get_preset("e5-full" if recipe in ("baseline", "tuned_full") else "e5")
    set_seed(preset.seed)
    tokenizer, model = load_base(preset)
    train_set = encode(data.train, tokenizer, 256, preset.label_all_subwords)
    if recipe == "baseline":
        trainer = Trainer(
            model=model,
            args=baseline_arguments(f"{tmp}/{recipe}", preset, steps),
            train_dataset=train_set,
            data_collator=DataCollatorForTokenClassification(tokenizer),
            processing_class=tokenizer,
        )
        settings = {
            "fine_tuning": "full",
            "sampler": "random",
            "padding": "longest in batch",
            "optimizer": "adamw_torch",
            "precision": "fp16" if torch.cuda.is_available() else "fp32",
            "dropout": "torch (bernoulli_)",
        }
    else:
        forced = {"bf16": True, "fp16": False} if recipe == "tuned_bf16" else {}
        targs = training_arguments(
            Path(tmp) / recipe,
            preset,
            quiet=True,
            eval_strategy="no",
            save_strategy="no",
            logging_strategy="no",
            max_steps=steps,
            **forced,
        )
        trainer = build_trainer(model, tokenizer, targs, train_set, word_consistency=preset.word_consistency)
        settings = {
            "fine_tuning": "LoRA rank 16 + classifier" if preset.lora else "full",
            "sampler": "group_by_length",
            "padding": "longest in batch, multiple of 8",
            "optimizer": "adamw_torch_fused",
            "precision": "bf16" if forced else mixed_precision(),
            "dropout": "torch (bernoulli_)" if torch.cuda.is_available() else "training.speed (SFC64 masks)",
            "word_consistency": preset.word_consistency,
        }
    result = {"preset": preset.name, "batch_size": preset.train_batch_size, **settings, **timed(trainer, train_set)}
    print(f"  {recipe:12s} {result['samples_per_s']:8.1f} samples/s", file=sys.stderr, flush=True)
    return result


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=40, help="optimizer steps per recipe")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--out", default=str(OUT))
    args = parser.parse_args(argv)

    data = load_experiment("de", args.data_dir or default_data_dir(), None, ("de",))
    report = {
        "device": device_description(),
        "native_cpu_bf16": native_cpu_bf16(),
        "torch": torch.__version__,
        "train_sentences": len(data.train),
        "steps": args.steps,
        "command": f"python benchmarks/train_throughput.py --steps {args.steps}",
        "recipes": {},
    }
    with tempfile.TemporaryDirectory() as tmp:
        for recipe in ("baseline", "tuned_full", "tuned", *(() if torch.cuda.is_available() else ("tuned_bf16",))):
            report["recipes"][recipe] = measure(recipe, data, args.steps, tmp)
    base = report["recipes"]["baseline"]["samples_per_s"]
    report["speedup"] = {name: round(r["samples_per_s"] / base, 2) for name, r in report["recipes"].items()}
    cost = Path(RESULTS_DIR) / res.ADAPTER_COST_JSON
    if cost.is_file():
        report["f1_check"] = {"source": f"results/{res.ADAPTER_COST_JSON}", **json.loads(cost.read_text())}
    write_json(args.out, report)
    print(f"\n{'recipe':12s} {'samples/s':>10s} {'speed-up':>9s}   ({args.steps} steps each on {report['device']})")
    for name, r in report["recipes"].items():
        print(f"{name:12s} {r['samples_per_s']:10.1f} {report['speedup'][name]:8.2f}x")
    return report


if __name__ == "__main__":
    main()
