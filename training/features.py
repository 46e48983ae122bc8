"""From words and tags to model inputs: subword tokenisation with word-level label alignment."""

from __future__ import annotations

from datasets import Dataset
from transformers import PreTrainedTokenizerBase

from core.facts import ID2LABEL, LABEL2ID

IGNORE_INDEX = -100  # ignored by the loss and by align_predictions


def continuation_label(label_id: int) -> int:
    """The tag a word's later subwords carry when every subword is labelled: I- of the word's entity, or O."""
    label = ID2LABEL[label_id]
    return label_id if label == "O" else LABEL2ID["I-" + label[2:]]


def align_labels(word_ids: list[int | None], word_labels: list[int], label_all_subwords: bool = False) -> list[int]:
    """The first subword of each word carries the word's label; specials get -100.

    Later subwords get -100 (the book's choice: one prediction per word), or with
    `label_all_subwords` the I- tag of the word's entity: trained that way, the plain
    `pipeline(aggregation_strategy="simple")` joins a word's pieces into one span instead of
    giving them arbitrary labels ("Jeff De" + "an"). Evaluation always reads first subwords only.
    """
    labels, previous = [], None
    for word_id in word_ids:
        if word_id is None:
            labels.append(IGNORE_INDEX)
        elif word_id != previous:
            labels.append(word_labels[word_id])
        else:
            labels.append(continuation_label(word_labels[word_id]) if label_all_subwords else IGNORE_INDEX)
        previous = word_id
    return labels


def tokenize_and_align(
    batch: dict, tokenizer: PreTrainedTokenizerBase, max_length: int | None = None, label_all_subwords: bool = False
) -> dict:
    encoded = tokenizer(batch["tokens"], is_split_into_words=True, truncation=True, max_length=max_length)
    encoded["labels"] = [
        align_labels(encoded.word_ids(i), tags, label_all_subwords) for i, tags in enumerate(batch["ner_tags"])
    ]
    return encoded


def encode(
    ds: Dataset, tokenizer: PreTrainedTokenizerBase, max_length: int | None = None, label_all_subwords: bool = False
) -> Dataset:
    """Tokenise a PAN-X split; keeps input_ids, attention_mask and labels only (dynamic padding later)."""
    return ds.map(
        tokenize_and_align,
        batched=True,
        fn_kwargs={"tokenizer": tokenizer, "max_length": max_length, "label_all_subwords": label_all_subwords},
        remove_columns=ds.column_names,
        desc="tokenize",
    )
