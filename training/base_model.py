"""The offline base: a SentencePiece-style Unigram tokenizer and XLM-R-shaped encoder configs.

No pretrained multilingual encoder can be downloaded where panx-ner is built, so the project makes
its own from PAN-X text. Both the smoke preset of `training.train` and `training.pretrain` use this.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

from tokenizers import Tokenizer, decoders, normalizers, pre_tokenizers
from tokenizers.models import Unigram
from tokenizers.trainers import UnigramTrainer
from transformers import XLMRobertaConfig, XLMRobertaTokenizer

# XLM-R's special tokens; the tokenizer class expects <s>, <pad>, </s>, <unk> at ids 0..3.
SPECIAL_TOKENS = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]

# Encoder sizes. "mini" is the offline base: small enough that six fine-tuned copies fit the
# Space's 60 MiB budget in fp16 and pretraining fits about an hour on 2 CPU cores.
ENCODER_SIZES: dict[str, dict[str, int]] = {
    "smoke": dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64),
    # A 768-wide FFN (not 4x hidden): 4.75M parameters, so six fp16 copies stay under 60 MiB.
    "mini": dict(hidden_size=256, num_hidden_layers=4, num_attention_heads=4, intermediate_size=768),
}
# PAN-X sentences are short (99.9% under 64 subwords); 256 positions leave room for the Space's windows.
MAX_POSITIONS = 256


def train_tokenizer(texts: Iterable[str], vocab_size: int) -> XLMRobertaTokenizer:
    """Train a Unigram tokenizer with XLM-R's whitespace handling and wrap it as XLMRobertaTokenizer."""
    model = Tokenizer(Unigram())
    model.normalizer = normalizers.NFKC()
    model.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")]
    )
    model.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    trainer = UnigramTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        unk_token="<unk>",
        show_progress=False,
        max_piece_length=16,
    )
    model.train_from_iterator(_nonempty(texts), trainer=trainer)
    vocab = [(piece, float(score)) for piece, score in _unigram_vocab(model)]
    tokenizer = XLMRobertaTokenizer(vocab=vocab, model_max_length=MAX_POSITIONS)
    tokenizer._tokenizer.normalizer = normalizers.NFKC()
    return tokenizer


def _nonempty(texts: Iterable[str]) -> Iterator[str]:
    return (t for t in texts if t.strip())


def _unigram_vocab(model: Tokenizer) -> list[tuple[str, float]]:
    import json

    vocab = json.loads(model.to_str())["model"]["vocab"]
    if [piece for piece, _ in vocab[: len(SPECIAL_TOKENS)]] != SPECIAL_TOKENS:
        raise RuntimeError(f"special tokens are not first in the trained vocabulary: {vocab[:5]}")
    return vocab


def encoder_config(size: str, vocab_size: int, **overrides) -> XLMRobertaConfig:
    """An XLMRobertaConfig of a named size, with XLM-R's special token ids."""
    if size not in ENCODER_SIZES:
        raise ValueError(f"unknown encoder size {size!r}; valid sizes: {', '.join(ENCODER_SIZES)}")
    return XLMRobertaConfig(
        vocab_size=vocab_size,
        max_position_embeddings=MAX_POSITIONS + 2,  # RoBERTa positions start after the padding index
        type_vocab_size=1,
        bos_token_id=0,
        pad_token_id=1,
        eos_token_id=2,
        **{**ENCODER_SIZES[size], **overrides},
    )


def save_base(tokenizer: XLMRobertaTokenizer, model, out_dir: str | Path) -> Path:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    tokenizer.save_pretrained(out_dir)
    model.save_pretrained(out_dir)
    return out_dir
