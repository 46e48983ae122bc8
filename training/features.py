"""From words and tags to model inputs: subword tokenisation with word-level label alignment."""

from __future__ import annotations

from datasets import Dataset
from transformers import PreTrainedTokenizerBase

IGNORE_INDEX = -100  # ignored by the loss and by align_predictions


def align_labels(word_ids: list[int | None], word_labels: list[int]) -> list[int]:
    """The first subword of each word carries the word's label; later subwords and specials get -100."""
    labels, previous = [], None
    for word_id in word_ids:
        if word_id is None or word_id == previous:
            labels.append(IGNORE_INDEX)
        else:
            labels.append(word_labels[word_id])
        previous = word_id
    return labels


def tokenize_and_align(batch: dict, tokenizer: PreTrainedTokenizerBase, max_length: int | None = None) -> dict:
    encoded = tokenizer(
        batch["tokens"], is_split_into_words=True, truncation=True, max_length=max_length
    )
    encoded["labels"] = [
        align_labels(encoded.word_ids(i), tags) for i, tags in enumerate(batch["ner_tags"])
    ]
    return encoded


def encode(ds: Dataset, tokenizer: PreTrainedTokenizerBase, max_length: int | None = None) -> Dataset:
    """Tokenise a PAN-X split; keeps input_ids, attention_mask and labels only (dynamic padding later)."""
    return ds.map(
        tokenize_and_align,
        batched=True,
        fn_kwargs={"tokenizer": tokenizer, "max_length": max_length},
        remove_columns=ds.column_names,
        desc="tokenize",
    )
