"""Training throughput: the book's plain Trainer recipe vs panx-ner's tuned recipe, side by side.

    python benchmarks/train_throughput.py --base-model runs/panx-xlmr-mini [--steps 40] [--f1-epochs 1]

Both recipes fine-tune the same token classifier on the German PAN-X train split (12,580 sentences)
in one process, on whatever device is present:
  baseline: Trainer as the book writes it: random batches, default padding, AdamW (not fused),
            fp16 on a GPU only, fp32 on CPU;
  tuned:    training.train's own TrainingArguments and Trainer (training_arguments/build_trainer):
            length-grouped batches, padding to multiples of 8, bf16 autocast where supported,
            fused AdamW.
Both keep the preset's hyperparameters (learning rate, batch size, schedule, epochs), so only the
recipe differs: `book` (batch 24) for the xlm-roberta-base shape, `mini` (batch 32) for the offline base.
Models: the offline base (throughput over --f1-epochs full epochs, plus the German test F1 of both,
to show the tuned recipe loses nothing) and an xlm-roberta-base-shaped model (XLMRobertaConfig()
defaults, random weights: the real model's compute) for --steps steps.
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

from transformers import (  # noqa: E402
    AutoModelForTokenClassification,
    AutoTokenizer,
    DataCollatorForTokenClassification,
    Trainer,
    TrainingArguments,
    XLMRobertaConfig,
    XLMRobertaForTokenClassification,
    set_seed,
)

from training.data import load_experiment  # noqa: E402
from training.facts import ID2LABEL, LABEL2ID, RESULTS_DIR, default_data_dir  # noqa: E402
from training.features import encode  # noqa: E402
from training.metrics import align_predictions, compute_metrics, seqeval_scores  # noqa: E402
from training.presets import get_preset  # noqa: E402
from training.runtime import device_description, mixed_precision  # noqa: E402
from training.train import build_trainer, training_arguments  # noqa: E402

def baseline_arguments(out: str, preset, **overrides) -> TrainingArguments:
    """The book's recipe with today's argument names; only the device decides fp16."""
    settings = dict(
        output_dir=out, per_device_train_batch_size=preset.train_batch_size, per_device_eval_batch_size=preset.train_batch_size,
        learning_rate=preset.learning_rate, num_train_epochs=preset.num_epochs, weight_decay=preset.weight_decay,
        warmup_steps=preset.warmup_ratio, seed=preset.seed, optim="adamw_torch", fp16=torch.cuda.is_available(),
        use_cpu=not torch.cuda.is_available(), eval_strategy="no", save_strategy="no", logging_strategy="no",
        report_to="none", disable_tqdm=True,
    )
    return TrainingArguments(**{**settings, **overrides})


def baseline_trainer(model, tokenizer, targs, train_set) -> Trainer:
    return Trainer(model=model, args=targs, train_dataset=train_set,
                   data_collator=DataCollatorForTokenClassification(tokenizer), processing_class=tokenizer,
                   compute_metrics=compute_metrics)


def tokens_in(train_set, samples: int) -> float:
    lengths = [len(ids) for ids in train_set["input_ids"]]
    return sum(lengths) / len(lengths) * samples


def timed_train(trainer: Trainer, train_set) -> dict:
    started = time.perf_counter()
    output = trainer.train()
    seconds = time.perf_counter() - started
    samples = trainer.state.global_step * trainer.args.per_device_train_batch_size
    samples = min(samples, int(trainer.args.num_train_epochs * len(train_set))) if trainer.args.max_steps <= 0 else samples
    return {"seconds": round(seconds, 2), "steps": trainer.state.global_step, "samples": samples,
            "samples_per_s": round(samples / seconds, 2), "tokens_per_s": round(tokens_in(train_set, samples) / seconds, 1),
            "train_loss": round(output.training_loss, 4)}


def test_f1(trainer: Trainer, test_set) -> float:
    out = trainer.predict(test_set)
    return round(seqeval_scores(*align_predictions(out.predictions, out.label_ids))["f1"], 4)


def compare(name: str, make_model, tokenizer, data, preset, steps: int | None, f1_epochs: float | None) -> dict:
    train_set = encode(data.train, tokenizer, 256)
    test_set = encode(data.test["de"], tokenizer, 256)
    result = {}
    with tempfile.TemporaryDirectory() as tmp:
        run = dict(max_steps=steps) if steps else dict(num_train_epochs=f1_epochs)
        for recipe in ("baseline", "tuned"):
            set_seed(preset.seed)
            model = make_model()
            if recipe == "baseline":
                targs = baseline_arguments(f"{tmp}/{recipe}", preset, **run)
                trainer = baseline_trainer(model, tokenizer, targs, train_set)
                settings = {"batch_size": preset.train_batch_size, "sampler": "random", "padding": "longest in batch",
                            "optimizer": "adamw_torch", "precision": "fp16" if torch.cuda.is_available() else "fp32"}
            else:
                targs = training_arguments(Path(tmp) / recipe, preset, quiet=True, eval_strategy="no",
                                           save_strategy="no", logging_strategy="no", **run)
                trainer = build_trainer(model, tokenizer, targs, train_set)
                settings = {"batch_size": preset.train_batch_size, "sampler": "group_by_length",
                            "padding": "longest in batch, multiple of 8", "optimizer": "adamw_torch_fused",
                            "precision": mixed_precision()}
            timing = timed_train(trainer, train_set)
            result[f"{recipe}_samples_per_s"] = timing["samples_per_s"]
            result[f"{recipe}_tokens_per_s"] = timing["tokens_per_s"]
            result[f"{recipe}_settings"] = settings
            result[f"{recipe}_run"] = timing
            if not steps:
                result[f"{recipe}_de_test_f1"] = test_f1(trainer, test_set)
            print(f"  {name:24s} {recipe:8s} {timing['samples_per_s']:8.1f} samples/s", file=sys.stderr, flush=True)
    result["speedup"] = round(result["tuned_samples_per_s"] / result["baseline_samples_per_s"], 2)
    if not steps:
        result["f1_check"] = {"epochs": f1_epochs, "baseline_f1": result.pop("baseline_de_test_f1"),
                              "tuned_f1": result.pop("tuned_de_test_f1")}
    return result


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base-model", required=True, help="the offline base folder (python -m training.pretrain)")
    parser.add_argument("--preset", default="mini", help="preset for the offline base")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--f1-epochs", type=float, default=1.0, help="epochs per recipe on the offline base")
    parser.add_argument("--steps", type=int, default=40, help="steps per recipe for the xlm-roberta-base shape")
    parser.add_argument("--max-train-samples", type=int, default=None, help="for a quick check only")
    parser.add_argument("--skip-xlmr", action="store_true", help="offline base only")
    parser.add_argument("--out", default=str(RESULTS_DIR / "bench" / "train_throughput.json"))
    args = parser.parse_args(argv)

    data = load_experiment("de", args.data_dir or default_data_dir(), args.max_train_samples, ("de",))
    labels = dict(num_labels=len(ID2LABEL), id2label=ID2LABEL, label2id=LABEL2ID)
    tokenizer = AutoTokenizer.from_pretrained(args.base_model)
    device = device_description()
    report = {"device": device, "torch": torch.__version__, "train_sentences": len(data.train), "models": {}}
    report["models"]["offline-base"] = compare(
        "offline-base", lambda: AutoModelForTokenClassification.from_pretrained(args.base_model, **labels),
        tokenizer, data, get_preset(args.preset), None, args.f1_epochs)
    if not args.skip_xlmr:
        config = XLMRobertaConfig(**labels)  # xlm-roberta-base's shape (250k vocabulary); our ids fit inside it
        report["models"]["xlm-roberta-base-shape"] = compare(
            "xlm-roberta-base-shape", lambda: XLMRobertaForTokenClassification(config), tokenizer, data,
            get_preset("book"), args.steps, None)
        report["models"]["xlm-roberta-base-shape"]["note"] = (
            "XLMRobertaConfig() defaults (hidden 768, 12 layers, 250,002 vocabulary), random weights: the compute and "
            "optimizer cost of xlm-roberta-base; inputs come from the offline tokenizer, whose ids fit in its vocabulary")
    out = Path(args.out)
    if out.is_file():  # keep models not measured in this run (e.g. --skip-xlmr), marked as earlier
        earlier = json.loads(out.read_text())
        for name, result in earlier.get("models", {}).items():
            report["models"].setdefault(name, {**result, "measured_in_an_earlier_run": True})
    out.parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    print(f"\n{'model':24s} {'baseline':>10s} {'tuned':>10s} {'speedup':>8s}   (samples/s on {device})")
    for name, r in report["models"].items():
        print(f"{name:24s} {r['baseline_samples_per_s']:10.1f} {r['tuned_samples_per_s']:10.1f} {r['speedup']:7.2f}x")
    if "f1_check" in report["models"]["offline-base"]:
        c = report["models"]["offline-base"]["f1_check"]
        print(f"offline-base German test F1 after {c['epochs']} epoch(s): baseline {c['baseline_f1']:.4f}, tuned {c['tuned_f1']:.4f}")
    return report


if __name__ == "__main__":
    main()
