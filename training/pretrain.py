"""Pretrain panx-ner's offline base: a Unigram tokenizer and an XLM-R-shaped encoder, from PAN-X text.

    python -m training.pretrain --data-dir DIR --output-dir DIR [--preset mini|smoke] [--seed N] [--resume]

Text: the train and unlabelled test sentences of de/fr/it/en, never validation (the labelled test
split is carved from validation, so nothing evaluated is ever seen here). Languages are sampled with
XLM-R's smoothing exponent so the smaller ones are not drowned. Objective: masked language
modelling with the LM head applied to masked positions only (the head over every position costs
about half the compute), on packed sequences, with warm-up and linear decay. A checkpoint is
written every few minutes; --resume continues from it. The same command uses a GPU when present.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import shutil
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import torch
from transformers import XLMRobertaForMaskedLM, XLMRobertaTokenizer

from training.base_model import SPECIAL_TOKENS, encoder_config, save_base, train_tokenizer
from training.facts import HUB_DATASET_CONFIG, LANGUAGES, default_data_dir
from training.plots import loss_curve
from training.run_dir import write_json
from training.runtime import device_description, mixed_precision

# Only these files feed pretraining: validation (and the test carved from it) must stay unseen.
PRETRAIN_FILES = ("train.parquet", "test_unlabelled.parquet")
CHECKPOINT = "checkpoint.pt"


@dataclass(frozen=True)
class PretrainPreset:
    name: str
    encoder: str  # a key of base_model.ENCODER_SIZES
    vocab_size: int
    seq_len: int  # packed sequence length, <s> and </s> included
    batch_size: int
    learning_rate: float
    warmup_ratio: float
    max_steps: int
    mask_prob: float = 0.15
    # XLM-R's exponent: p(lang) ~ n_lang ** alpha, so smaller languages are sampled up.
    language_alpha: float = 0.3
    weight_decay: float = 0.01
    checkpoint_minutes: float = 5.0
    max_sentences_per_language: int | None = None


PRETRAIN_PRESETS = {
    # 8k vocabulary and a 768-wide FFN keep six fine-tuned fp16 copies under the Space's 60 MiB;
    # 64-token packs match PAN-X sentence lengths; 2500 steps of 128 packs (~10 passes) fit ~40 min on 2 cores.
    "mini": PretrainPreset("mini", "mini", vocab_size=8000, seq_len=64, batch_size=128,
                           learning_rate=1e-3, warmup_ratio=0.06, max_steps=2500),
    # Seconds on CPU, for tests.
    "smoke": PretrainPreset("smoke", "smoke", vocab_size=600, seq_len=32, batch_size=16,
                            learning_rate=2e-3, warmup_ratio=0.1, max_steps=20, checkpoint_minutes=0.0,
                            max_sentences_per_language=300),
}


# --- text -----------------------------------------------------------------------------------


def read_sentences(data_dir: str | Path, lang: str, limit: int | None = None) -> list[str]:
    """One language's pretraining sentences (train + unlabelled test), words joined by spaces."""
    folder = Path(data_dir) / HUB_DATASET_CONFIG.format(lang=lang)
    files = [folder / name for name in PRETRAIN_FILES if (folder / name).is_file()]
    if not files:
        raise FileNotFoundError(f"no {' or '.join(PRETRAIN_FILES)} under {folder}; expected the PAN-X parquet layout")
    sentences = [" ".join(tokens) for f in files for tokens in pq.read_table(f, columns=["tokens"]).column("tokens").to_pylist()]
    return sentences[:limit] if limit else sentences


def language_mix(sentences: dict[str, list[str]], alpha: float, seed: int) -> list[str]:
    """Resample languages to p(lang) ~ (tokens_lang / tokens_all) ** alpha, keeping the total size."""
    sizes = {lang: sum(len(s.split()) for s in sents) for lang, sents in sentences.items()}
    total = sum(sizes.values())
    weights = {lang: (n / total) ** alpha for lang, n in sizes.items()}
    norm = sum(weights.values())
    rng = random.Random(seed)
    n_sentences = sum(len(s) for s in sentences.values())
    mixed = []
    for lang, sents in sentences.items():
        target = round(weights[lang] / norm * n_sentences)
        mixed += rng.sample(sents, target) if target <= len(sents) else sents + rng.choices(sents, k=target - len(sents))
    rng.shuffle(mixed)
    return mixed


def pack(tokenizer: XLMRobertaTokenizer, sentences: list[str], seq_len: int) -> torch.Tensor:
    """Concatenate sentences (</s> between them) and cut into <s> ... </s> blocks of seq_len."""
    ids = tokenizer(sentences, add_special_tokens=False)["input_ids"]
    stream = np.fromiter((t for s in ids for t in (*s, tokenizer.eos_token_id)), dtype=np.int64)
    body = seq_len - 2
    n_blocks = len(stream) // body
    blocks = stream[: n_blocks * body].reshape(n_blocks, body)
    bos = np.full((n_blocks, 1), tokenizer.bos_token_id)
    eos = np.full((n_blocks, 1), tokenizer.eos_token_id)
    return torch.from_numpy(np.concatenate([bos, blocks, eos], axis=1))


def mask_tokens(input_ids: torch.Tensor, tokenizer, prob: float, generator: torch.Generator):
    """BERT masking: 15% of non-special tokens; of those 80% <mask>, 10% random, 10% unchanged."""
    special = (input_ids == tokenizer.bos_token_id) | (input_ids == tokenizer.eos_token_id)
    chosen = (torch.rand(input_ids.shape, generator=generator) < prob) & ~special
    inputs = input_ids.clone()
    roll = torch.rand(input_ids.shape, generator=generator)
    inputs[chosen & (roll < 0.8)] = tokenizer.mask_token_id
    random_ids = torch.randint(len(SPECIAL_TOKENS), len(tokenizer), input_ids.shape, generator=generator)
    swap = chosen & (roll >= 0.8) & (roll < 0.9)
    inputs[swap] = random_ids[swap]
    return inputs, chosen


def masked_lm_loss(model: XLMRobertaForMaskedLM, inputs: torch.Tensor, targets: torch.Tensor, chosen: torch.Tensor):
    """Cross-entropy on masked positions only: the LM head never sees the other 85%."""
    hidden = model.roberta(input_ids=inputs).last_hidden_state
    logits = model.lm_head(hidden[chosen])
    return torch.nn.functional.cross_entropy(logits.float(), targets[chosen])


# --- training -------------------------------------------------------------------------------


def lr_at(step: int, preset: PretrainPreset) -> float:
    warmup = max(1, int(preset.warmup_ratio * preset.max_steps))
    if step < warmup:
        return preset.learning_rate * (step + 1) / warmup
    return preset.learning_rate * max(0.0, (preset.max_steps - step) / (preset.max_steps - warmup))


def autocast_dtype():
    """The autocast dtype for this machine (None: full precision), as training.train chooses it."""
    return {"bf16": torch.bfloat16, "fp16": torch.float16}.get(mixed_precision())


@torch.inference_mode()
def heldout_loss(model, blocks: torch.Tensor, tokenizer, preset: PretrainPreset, device, dtype) -> float:
    model.eval()
    generator = torch.Generator().manual_seed(1234)  # the same masks every time: comparable numbers
    losses = []
    for start in range(0, len(blocks), 256):
        batch = blocks[start : start + 256]
        inputs, chosen = mask_tokens(batch, tokenizer, preset.mask_prob, generator)
        with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
            losses.append(masked_lm_loss(model, inputs.to(device), batch.to(device), chosen.to(device)).item())
    model.train()
    return float(np.mean(losses))


def save_checkpoint(path: Path, model, optimizer, step: int, log: list, rng_state) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "step": step, "log": log, "rng": rng_state}, tmp)
    tmp.replace(path)


def pretrain(tokenizer, blocks, heldout, preset: PretrainPreset, out_dir: Path, seed: int, resume: bool,
             quiet: bool = False, init_model: XLMRobertaForMaskedLM | None = None):
    """The MLM loop (from init_model's weights when given): returns the model and a log of (step, loss, lr, elapsed)."""
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dtype = autocast_dtype()
    torch.manual_seed(seed)
    model = (init_model or XLMRobertaForMaskedLM(encoder_config(preset.encoder, len(tokenizer)))).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=preset.learning_rate, weight_decay=preset.weight_decay,
                                  fused=device.type == "cuda" or None)
    generator = torch.Generator().manual_seed(seed)
    step, log = 0, []
    ckpt_path = out_dir / CHECKPOINT
    if resume and ckpt_path.is_file():
        state = torch.load(ckpt_path, map_location=device, weights_only=False)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        step, log = state["step"], state["log"]
        generator.set_state(state["rng"])
        print(f"resumed from step {step}", file=sys.stderr)
    order = torch.randperm(len(blocks), generator=generator)
    per_epoch = len(blocks) // preset.batch_size
    started, last_ckpt, window, resumed_at = time.perf_counter(), time.perf_counter(), [], step
    elapsed_before = log[-1]["elapsed_s"] if log else 0.0
    model.train()
    while step < preset.max_steps:
        position = step % per_epoch
        if position == 0 and step:
            order = torch.randperm(len(blocks), generator=generator)
        batch = blocks[order[position * preset.batch_size : (position + 1) * preset.batch_size]]
        inputs, chosen = mask_tokens(batch, tokenizer, preset.mask_prob, generator)
        for group in optimizer.param_groups:
            group["lr"] = lr_at(step, preset)
        with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
            loss = masked_lm_loss(model, inputs.to(device), batch.to(device), chosen.to(device))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        step += 1
        window.append(loss.item())
        if step % 25 == 0 or step == preset.max_steps:
            elapsed = elapsed_before + time.perf_counter() - started
            entry = {"step": step, "loss": round(float(np.mean(window)), 4), "lr": lr_at(step - 1, preset), "elapsed_s": round(elapsed, 1)}
            window = []
            if step % 250 == 0 or step == preset.max_steps:
                entry["heldout_loss"] = round(heldout_loss(model, heldout, tokenizer, preset, device, dtype), 4)
            log.append(entry)
            eta = (preset.max_steps - step) * (time.perf_counter() - started) / (step - resumed_at)
            if not quiet:
                print(f"step {step}/{preset.max_steps} loss {entry['loss']:.3f}"
                      + (f" heldout {entry['heldout_loss']:.3f}" if "heldout_loss" in entry else "")
                      + f" lr {entry['lr']:.2e} elapsed {elapsed/60:.1f} min ETA {eta/60:.1f} min", file=sys.stderr, flush=True)
        if preset.checkpoint_minutes and time.perf_counter() - last_ckpt > preset.checkpoint_minutes * 60:
            save_checkpoint(ckpt_path, model, optimizer, step, log, generator.get_state())
            last_ckpt = time.perf_counter()
    return model, log, device


def shrink_ffn(model: XLMRobertaForMaskedLM, size: int) -> XLMRobertaForMaskedLM:
    """Keep the `size` feed-forward units of each layer that carry the most weight (|w_in| * |w_out|).

    Used with --continue-from to fit a base into a smaller shape; further pretraining recovers
    what the dropped units did.
    """
    import copy

    config = copy.deepcopy(model.config)
    config.intermediate_size = size
    smaller = XLMRobertaForMaskedLM(config)
    state = model.state_dict()
    for i, layer in enumerate(model.roberta.encoder.layer):
        w_in, w_out = layer.intermediate.dense.weight, layer.output.dense.weight
        keep = torch.topk(w_in.norm(dim=1) * w_out.norm(dim=0), size).indices.sort().values
        prefix = f"roberta.encoder.layer.{i}."
        state[prefix + "intermediate.dense.weight"] = w_in[keep].clone()
        state[prefix + "intermediate.dense.bias"] = layer.intermediate.dense.bias[keep].clone()
        state[prefix + "output.dense.weight"] = w_out[:, keep].clone()
    smaller.load_state_dict(state)
    return smaller


# --- evidence -------------------------------------------------------------------------------


def subwords_per_word(tokenizer, sentences: list[str]) -> float:
    words = [w for s in sentences for w in s.split()]
    pieces = tokenizer(words, add_special_tokens=False)["input_ids"]
    return round(sum(len(p) for p in pieces) / max(1, len(words)), 3)


def loss_summary(log: list[dict]) -> dict:
    heldout = [e for e in log if "heldout_loss" in e]
    final = heldout[-1]["heldout_loss"] if heldout else None
    return {
        "steps": log[-1]["step"],
        "first_train_loss": log[0]["loss"],
        "final_train_loss": log[-1]["loss"],
        "final_heldout_loss": final,
        "heldout_perplexity": round(math.exp(final), 2) if final is not None else None,
        "curve": [{k: e[k] for k in ("step", "loss", "heldout_loss") if k in e} for e in log[:: max(1, len(log) // 40)]],
    }


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(prog="python -m training.pretrain", description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", default=None, help="PAN-X parquet folder (default $PANX_DATA_DIR or ../shared/data/panx)")
    parser.add_argument("--output-dir", required=True, help="where the base model folder goes")
    parser.add_argument("--preset", default="mini", help=f"one of {', '.join(PRETRAIN_PRESETS)}")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-steps", type=int, default=None, help="overrides the preset's steps")
    parser.add_argument("--learning-rate", type=float, default=None, help="overrides the preset's peak learning rate")
    parser.add_argument("--report", default=None, help="write the pretraining report JSON here (e.g. results/pretraining.json)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output folder")
    parser.add_argument("--resume", action="store_true", help="continue from the checkpoint in the output folder")
    parser.add_argument("--continue-from", default=None,
                        help="a finished base folder: keep its tokenizer and weights and pretrain further with a new schedule")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)

    if args.preset not in PRETRAIN_PRESETS:
        raise ValueError(f"unknown preset {args.preset!r}; valid presets: {', '.join(PRETRAIN_PRESETS)}")
    preset = PRETRAIN_PRESETS[args.preset]
    overrides = {"max_steps": args.max_steps, "learning_rate": args.learning_rate}
    from dataclasses import replace

    preset = replace(preset, **{k: v for k, v in overrides.items() if v is not None})
    out = Path(args.output_dir)
    if out.exists() and any(out.iterdir()) and not args.resume:
        if not args.overwrite:
            raise FileExistsError(f"output folder {out} exists; pass --overwrite to replace it or --resume to continue it")
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    data_dir = args.data_dir or default_data_dir()
    if data_dir is None or not Path(data_dir).is_dir():
        raise FileNotFoundError(f"data folder {data_dir} not found; pass --data-dir with the PAN-X parquet layout")

    started = time.perf_counter()
    sentences = {lang: read_sentences(data_dir, lang, preset.max_sentences_per_language) for lang in LANGUAGES}
    corpus = language_mix(sentences, preset.language_alpha, args.seed)
    previous, init_model = None, None
    if args.continue_from:
        previous = json.loads((Path(args.continue_from) / "pretraining.json").read_text())
        tokenizer = XLMRobertaTokenizer.from_pretrained(args.continue_from)
        init_model = XLMRobertaForMaskedLM.from_pretrained(args.continue_from)
        wanted = encoder_config(preset.encoder, len(tokenizer)).intermediate_size
        if init_model.config.intermediate_size != wanted:  # e.g. a base made before the preset shrank
            init_model = shrink_ffn(init_model, wanted)
    else:
        tokenizer = train_tokenizer(corpus, preset.vocab_size)
    tokenizer_s = time.perf_counter() - started
    blocks = pack(tokenizer, corpus, preset.seq_len)
    heldout_text = [" ".join(t) for lang in LANGUAGES for t in pq.read_table(
        Path(data_dir) / HUB_DATASET_CONFIG.format(lang=lang) / "validation.parquet", columns=["tokens"]
    ).column("tokens").to_pylist()[:500]]  # evaluation only: never trained on
    heldout = pack(tokenizer, heldout_text, preset.seq_len)
    print(f"tokenizer: {len(tokenizer)} pieces in {tokenizer_s:.0f}s; {len(blocks)} packed blocks of {preset.seq_len}", file=sys.stderr)

    model, log, device = pretrain(tokenizer, blocks, heldout, preset, out, args.seed, args.resume, args.quiet, init_model)
    save_base(tokenizer, model.cpu(), out)
    (out / CHECKPOINT).unlink(missing_ok=True)
    report = {
        "preset": asdict(preset),
        "device": device_description(),
        "wall_time_s": round(time.perf_counter() - started, 1),
        "train_time_s": log[-1]["elapsed_s"],
        "tokenizer": {
            "vocab_size": len(tokenizer),
            "trained_on": [f"PAN-X.{{lang}}/{f}" for f in PRETRAIN_FILES],
            "subwords_per_word": {lang: subwords_per_word(tokenizer, sentences[lang][:2000]) for lang in LANGUAGES},
        },
        "parameters": sum(p.numel() for p in model.roberta.parameters()),
        "packed_blocks": len(blocks),
        "tokens_seen": log[-1]["step"] * preset.batch_size * preset.seq_len,
        "loss": loss_summary(log),
    }
    if previous:  # the totals cover every phase; the earlier phases are kept for the record
        phases = previous.pop("phases", [previous])
        report["phases"] = [*phases, {k: v for k, v in report.items() if k != "tokenizer"}]
        report["wall_time_s"] = round(sum(p["wall_time_s"] for p in report["phases"]), 1)
        report["train_time_s"] = round(sum(p["train_time_s"] for p in report["phases"]), 1)
        report["tokens_seen"] = sum(p["tokens_seen"] for p in report["phases"])
        report["tokenizer"] = previous["tokenizer"]
    write_json(out / "pretraining.json", report)
    loss_curve(log, out / "pretraining_loss.png")
    if args.report:
        previous = json.loads(Path(args.report).read_text()) if Path(args.report).is_file() else {}
        write_json(args.report, {**previous, **report})  # keeps keys added later (sweep, downstream)
        loss_curve(log, Path(args.report).with_name("pretraining_loss.png"))
    return out


def cli(argv: list[str] | None = None) -> int:
    try:
        out = main(argv)
    except (ValueError, FileExistsError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"base model: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(cli())
