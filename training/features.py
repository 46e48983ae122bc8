"""From words and tags to model inputs: subword tokenisation with word-level label alignment.

PAN-X's split words (encode: the book's features, which evaluation always uses), or text as people write
it (encode_running: running text, sentences packed into passages, labels aligned by character offsets).
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence

import numpy as np
from datasets import Dataset
from datasets.fingerprint import Hasher
from transformers import PreTrainedTokenizerBase

from core.facts import ID2LABEL, LABEL2ID
from training.running_text import Passage, pack_sentences, sentence_passage

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
    settings = (tokenizer.name_or_path, len(tokenizer), max_length, label_all_subwords)
    return ds.map(
        tokenize_and_align,
        batched=True,
        fn_kwargs={"tokenizer": tokenizer, "max_length": max_length, "label_all_subwords": label_all_subwords},
        remove_columns=ds.column_names,
        desc="tokenize",
        # Named here: otherwise datasets pickles the tokenizer's 250k pieces to name the result, 7 s a split.
        new_fingerprint=Hasher.hash((ds._fingerprint, *settings)),
    )


# --- running text: labels by character offsets ---------------------------------------------------


def align_by_offsets(
    offsets: Sequence[tuple[int, int]],
    special: Sequence[int],
    word_spans: Sequence[tuple[int, int]],
    word_labels: Sequence[int],
    label_all_subwords: bool = False,
) -> list[int]:
    """Labels of a text's subwords from its words' character spans (the text need not be split at words).

    A subword belongs to the word its first character falls in: the first subword of a word carries the
    word's label, later ones the continuation label (or -100, as align_labels); one that spans two words
    (")," in "Google),") is the first word's. Specials get -100. A piece inside no word (a lone "▁"
    before a mark) is the next word's continuation when that word continues an entity, else O.
    """
    owner = np.full(max((end for _, end in word_spans), default=0), -1)
    for w, (start, end) in enumerate(word_spans):
        owner[start:end] = w
    starts = [start for start, _ in word_spans]
    labels, previous = [], None
    for (start, end), is_special in zip(offsets, special):
        if is_special:
            labels.append(IGNORE_INDEX)
            continue
        inside = owner[start:end]
        inside = inside[inside >= 0]
        if inside.size == 0:
            following = bisect.bisect_left(starts, end)
            label = word_labels[following] if following < len(word_labels) else LABEL2ID["O"]
            labels.append(
                (label if ID2LABEL[label].startswith("I-") else LABEL2ID["O"]) if label_all_subwords else IGNORE_INDEX
            )
            continue
        word = int(inside[0])
        if word != previous:
            labels.append(word_labels[word])
        else:
            labels.append(continuation_label(word_labels[word]) if label_all_subwords else IGNORE_INDEX)
        previous = word
    return labels


def encode_passages(
    passages: Sequence[Passage], tokenizer: PreTrainedTokenizerBase, max_length: int, label_all_subwords: bool = False
) -> dict[str, list]:
    """input_ids, attention_mask and labels of passages of text, labels aligned by offsets (a fast tokenizer)."""
    if not passages:
        return {"input_ids": [], "attention_mask": [], "labels": []}
    encoded = tokenizer(
        [p.text for p in passages],
        truncation=True,
        max_length=max_length,
        return_offsets_mapping=True,
        return_special_tokens_mask=True,
    )
    labels = [
        align_by_offsets(offsets, special, p.word_spans, p.tags, label_all_subwords)
        for p, offsets, special in zip(passages, encoded["offset_mapping"], encoded["special_tokens_mask"])
    ]
    return {"input_ids": encoded["input_ids"], "attention_mask": encoded["attention_mask"], "labels": labels}


def subword_counts(texts: Sequence[str], tokenizer: PreTrainedTokenizerBase) -> list[int]:
    """Subwords of each text, without the special tokens: what a passage of them costs."""
    if not texts:
        return []
    return [len(ids) for ids in tokenizer(list(texts), add_special_tokens=False)["input_ids"]]


def encode_unlabelled(ds: Dataset, tokenizer: PreTrainedTokenizerBase, pack_length: int, seed: int = 0) -> Dataset:
    """Sentences as running text packed into passages of at most pack_length subwords, every label
    IGNORE_INDEX: text for the word-consistency term (training.word_loss) alone."""
    passages = encode_running(
        ds, tokenizer, pack_length, running=True, pack_share=1.0, pack_length=pack_length, seed=seed
    )
    return passages.map(lambda row: {"labels": [IGNORE_INDEX] * len(row["labels"])})


def encode_running(
    ds: Dataset,
    tokenizer: PreTrainedTokenizerBase,
    max_length: int | None,
    label_all_subwords: bool = False,
    running: bool = True,
    pack_share: float = 0.0,
    pack_length: int = 512,
    seed: int = 0,
    alongside: bool = False,
) -> Dataset:
    """A training split as text: each sentence as running text (running_text) or PAN-X's spaced form, and
    a pack_share of them (drawn with seed) packed, language by language in the split's order, into
    passages of at most pack_length subwords with the two special tokens. alongside: the passages are
    added, and every sentence stays one per example in PAN-X's spaced form, the form the book tests on.
    ds has tokens, ner_tags, lang."""
    langs = ds["lang"] if "lang" in ds.column_names else [""] * len(ds)
    rows = list(zip(ds["tokens"], ds["ner_tags"], langs))
    sentences = [sentence_passage(t, tags, lang, running) for t, tags, lang in rows]
    packed = np.random.default_rng(seed).random(len(sentences)) < pack_share
    if alongside:
        singles = [sentence_passage(t, tags, lang, running=False) for t, tags, lang in rows]
    else:
        singles = [s for s, pack in zip(sentences, packed) if not pack]
    passages = []
    for lang in dict.fromkeys(langs):
        chosen = [s for s, pack, row_lang in zip(sentences, packed, langs) if pack and row_lang == lang]
        passages += pack_sentences(chosen, subword_counts([s.text for s in chosen], tokenizer), pack_length - 2)
    columns = encode_passages(singles, tokenizer, max_length or tokenizer.model_max_length, label_all_subwords)
    if passages:
        more = encode_passages(passages, tokenizer, pack_length, label_all_subwords)
        columns = {key: columns[key] + more[key] for key in columns}
    return Dataset.from_dict(columns)
