"""Fine-tuning presets: which base, full fine-tune or LoRA adapter, and the few values that differ,
each with why.

`python -m training.train --preset NAME` picks one; command-line flags override single values.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace

from core.cli import InputError
from core.facts import BOOK_BASE_MODEL, E5_SMALL, MAX_INPUT_TOKENS, OFFLINE_BASE_ID
from core.run_dir import Hyperparameters


@dataclass(frozen=True)
class Lora:
    """A PEFT LoRA adapter; the classifier head is trained in full (`modules_to_save`)."""

    rank: int = 16
    alpha: int = 32
    dropout: float = 0.1
    # Every dense layer of the encoder: attention query/key/value and the three "dense" projections.
    target_modules: tuple[str, ...] = ("query", "key", "value", "dense")


@dataclass(frozen=True)
class ScratchEncoder:
    """A tiny randomly initialised BERT on the offline base's tokenizer: seconds on CPU, for tests."""

    hidden_size: int = 32
    num_layers: int = 2
    num_heads: int = 2
    intermediate_size: int = 64


@dataclass(frozen=True)
class Preset:
    name: str
    base_model: str  # Hub id (or the offline base's id, built by python -m core.e5_base)
    learning_rate: float
    train_batch_size: int
    num_epochs: float
    lora: Lora | None = None  # None: full fine-tune
    # A run with fewer optimizer steps than this trains for a whole multiple of num_epochs, still evaluated
    # num_epochs times (see epoch_repeats). None: num_epochs whatever the data's size.
    min_train_steps: int | None = None
    weight_decay: float = 0.01
    lr_scheduler_type: str = "linear"
    warmup_ratio: float = 0.0
    seed: int = 42
    # Evaluation needs no gradients, so it takes bigger batches.
    eval_batch_size: int = 64
    # Label a word's later subwords with I- too (see training.features.align_labels).
    label_all_subwords: bool = True
    # Weight of training.word_loss: a word's subwords pushed towards one entity type (0: off).
    word_consistency: float = 0.0
    # Train on text as people write it (training.running_text: "Jeff Dean (Google)." rather than PAN-X's
    # "Jeff Dean ( Google ) ."), labels carried by character offsets; validation stays on PAN-X's words.
    running_text: bool = False
    # The share of training sentences packed, consecutive ones of a language together, into passages of
    # at most pack_length subwords: paragraph context and late positions, as pipeline(stride=...) reads
    # long texts in windows of the tokenizer's model_max_length (512 for both bases, MAX_INPUT_TOKENS).
    pack_share: float = 0.0
    pack_length: int = MAX_INPUT_TOKENS
    # The passages come on top of the book's data (every sentence stays one per example in PAN-X's words,
    # the form the carved test is in) rather than taking their sentences from it.
    pack_alongside: bool = False
    # The train sentences of the languages the experiment has no labels for (their Swiss samples) as running
    # text in passages of pack_length, every label ignored: only the word-consistency term reads them, so the
    # pieces of a word agree in those languages too (German compounds: "Kur|für|stendamm" LOC, ORG, LOC).
    unlabelled_text: bool = False
    scratch: ScratchEncoder | None = None
    max_train_samples: int | None = None
    max_eval_samples: int | None = None  # per language, for validation and test
    # The full fine-tune the study weighs this preset's adapter against (results/adapter_vs_full.json).
    full_counterpart: str | None = None
    description: str = ""

    def steps_per_epoch(self, train_rows: int, processes: int = 1) -> int:
        return math.ceil(train_rows / (self.train_batch_size * processes))

    def epoch_repeats(self, train_rows: int, processes: int = 1) -> int:
        """How many times a run on train_rows sentences repeats the preset's epochs to reach min_train_steps
        (1 when it reaches them anyway): en's 1,180 sentences at 5 epochs are only 250 steps."""
        if not self.min_train_steps:
            return 1
        steps = self.steps_per_epoch(train_rows, processes) * self.num_epochs
        return max(1, math.ceil(self.min_train_steps / steps))

    def for_train_rows(self, train_rows: int, processes: int = 1) -> Preset:
        """The preset as a run on train_rows sentences trains: num_epochs times its epoch_repeats."""
        return replace(self, num_epochs=self.num_epochs * self.epoch_repeats(train_rows, processes))

    def recipe(self, train_rows: int | None = None) -> dict:
        """Every value that shapes a trained model (not the description): what the study's lock compares.
        Given the run's training-set size, the epochs it trains for stand in for min_train_steps, so a
        run that the minimum does not stretch keeps the recipe it had before the minimum existed."""
        values = asdict(self)
        values.pop("description")
        if values["max_eval_samples"] is None:  # every sentence, as before the cap existed
            values.pop("max_eval_samples")
        if not values["word_consistency"]:  # off: the recipe as it was before the term existed (its runs stay current)
            values.pop("word_consistency")
        if not values["running_text"]:  # PAN-X's words, as before running text existed
            values.pop("running_text")
        if not values["pack_share"]:  # one sentence per example: the packing length shapes nothing
            values.pop("pack_share")
            values.pop("pack_length")
        if not values.get("pack_share") or not values["pack_alongside"]:  # as before passages could be added
            values.pop("pack_alongside")
        if not values["unlabelled_text"]:  # labelled text alone, as before unlabelled text existed
            values.pop("unlabelled_text")
        if train_rows is not None or not values["min_train_steps"]:
            values.pop("min_train_steps")
        if train_rows is not None:
            values["num_epochs"] = self.for_train_rows(train_rows).num_epochs
        return values

    def made(self, hyperparameters: Hyperparameters) -> bool:
        """Whether a run's hyperparameters.json says this preset trained it: the same preset, learning rate,
        epochs (as the run trains them: see for_train_rows), seed, word-consistency weight and text form."""
        hyper = hyperparameters
        return (hyper.preset, hyper.learning_rate, hyper.num_epochs, hyper.seed, hyper.word_consistency) == (
            self.name,
            self.learning_rate,
            self.num_epochs,
            self.seed,
            self.word_consistency,
        ) and text_form(hyper.to_json()) == text_form(asdict(self))


def text_form(entries: dict) -> dict:
    """The entries hyperparameters.json gains when a run trains on running text, packs sentences or reads
    unlabelled text, from a
    preset's values or a hyperparameters.json: none for PAN-X's words one sentence at a time, so that the
    runs from before both stay as they were."""
    form = {"running_text": True} if entries.get("running_text") else {}
    if entries.get("pack_share"):
        form |= {"pack_share": entries["pack_share"], "pack_length": entries.get("pack_length")}
        if entries.get("pack_alongside"):
            form["pack_alongside"] = True
    if entries.get("unlabelled_text"):
        form["unlabelled_text"] = True
    return form


# The offline default: LoRA on multilingual-e5-small, so that six models fit the Space's 60 MiB. Rank 16,
# learning rate 5e-4 and 5 epochs won on German validation F1 (results/e5_tuning.json); at least 800
# optimizer steps, so that small training sets (en, it, the fr curve's points) are not under-trained.
# Every sentence also as running text, packed into passages of 128 subwords that the published tokenizer
# reads in (its model_max_length): paragraphs through pipeline(stride=...) within .022 of one sentence at a
# time, against .062 unpacked. Word-consistency weight 4 (training/word_loss.py): a third fewer words cut in
# paragraphs than 1; 12 cuts fewer still but costs validation F1 in fr and de (results/word_consistency.json,
# results/paragraph_recipe.json).
E5 = Preset(
    "e5",
    OFFLINE_BASE_ID,
    learning_rate=5e-4,
    train_batch_size=24,
    num_epochs=5,
    lora=Lora(),
    warmup_ratio=0.06,
    word_consistency=4.0,
    running_text=True,
    pack_share=1.0,
    pack_length=128,
    pack_alongside=True,
    min_train_steps=800,
    full_counterpart="e5-full",
    description="LoRA on multilingual-e5-small (offline, dequantized 4-bit weights)",
)

PRESETS: dict[str, Preset] = {
    "e5": E5,
    # The same base fine-tuned in full, on the same text and loss as "e5": what the adapter alone costs in F1
    # (results/adapter_vs_full.json). A full fine-tune takes a smaller rate and fewer epochs.
    "e5-full": replace(
        E5,
        name="e5-full",
        lora=None,
        learning_rate=1e-4,
        num_epochs=3,
        warmup_ratio=0.0,
        min_train_steps=None,
        full_counterpart=None,
        description="full fine-tune of multilingual-e5-small (offline, dequantized 4-bit weights)",
    ),
    # With Hub access: the full-precision multilingual-e5-small, the same recipe as "e5".
    "e5-hub": replace(
        E5,
        name="e5-hub",
        base_model=E5_SMALL,
        full_counterpart=None,
        description="LoRA on multilingual-e5-small from the Hub (full precision)",
    ),
    # The book's recipe for xlm-roberta-base (NLP with Transformers, ch. 4): needs the Hub.
    "book": Preset(
        "book",
        BOOK_BASE_MODEL,
        learning_rate=5e-5,
        train_batch_size=24,
        num_epochs=3,
        label_all_subwords=False,
        description="the book's xlm-roberta-base recipe",
    ),
    # Seconds on 2 CPU cores: a tiny random encoder on the offline base's tokenizer.
    "smoke": Preset(
        "smoke",
        OFFLINE_BASE_ID,
        learning_rate=3e-3,
        train_batch_size=16,
        num_epochs=3,
        weight_decay=0.0,
        scratch=ScratchEncoder(),
        max_train_samples=1000,
        max_eval_samples=500,
        description="tiny random encoder for tests and smoke runs",
    ),
}
DEFAULT_PRESET = "e5"


def get_preset(name: str) -> Preset:
    if name not in PRESETS:
        raise InputError(f"unknown preset {name!r}; valid presets: {', '.join(PRESETS)}")
    return PRESETS[name]
