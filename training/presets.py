"""Fine-tuning presets: the few values that differ between recipes, each with why.

`python -m training.train --preset NAME` picks one; command-line flags override single values.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Preset:
    name: str
    learning_rate: float
    train_batch_size: int
    num_epochs: float
    weight_decay: float = 0.01
    lr_scheduler_type: str = "linear"
    warmup_ratio: float = 0.0
    seed: int = 42
    # Evaluation needs no gradients, so it takes bigger batches.
    eval_batch_size: int = 64
    # Set for presets that build a tokenizer and random encoder of this size on the fly
    # (see training.base_model.ENCODER_SIZES) instead of loading --base-model.
    scratch_encoder: str | None = None
    scratch_vocab_size: int = 0
    max_train_samples: int | None = None
    description: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


PRESETS: dict[str, Preset] = {
    # The book's recipe for xlm-roberta-base (NLP with Transformers, ch. 4).
    "book": Preset(
        "book", learning_rate=5e-5, train_batch_size=24, num_epochs=3, weight_decay=0.01,
        description="the book's xlm-roberta-base recipe",
    ),
    # panx-ner's small offline base learns slower per step than xlm-roberta-base: a 10x higher
    # learning rate with warm-up and more epochs (de validation F1 0.723 after 4 epochs, 0.731 after 6:
    # results/pretraining.json "finetune_sweep").
    "mini": Preset(
        "mini", learning_rate=5e-4, train_batch_size=32, num_epochs=6, weight_decay=0.01,
        warmup_ratio=0.06, description="for panx-ner's offline base (hidden 256, 4 layers)",
    ),
    # Seconds on 2 CPU cores, nothing from the Hub: a tiny tokenizer and encoder built on the fly.
    "smoke": Preset(
        "smoke", learning_rate=3e-3, train_batch_size=16, num_epochs=3, weight_decay=0.0,
        scratch_encoder="smoke", scratch_vocab_size=800, max_train_samples=1000,
        description="tiny random encoder for tests and smoke runs",
    ),
}


def get_preset(name: str) -> Preset:
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; valid presets: {', '.join(PRESETS)}")
    return PRESETS[name]
