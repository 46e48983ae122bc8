"""Label alignment on multi-subword words, and seqeval on hand-worked cases."""

import numpy as np
import pytest

from training.features import IGNORE_INDEX, align_labels, tokenize_and_align
from training.metrics import align_predictions, bootstrap_f1, sentence_counts, seqeval_scores


@pytest.fixture(scope="module")
def tokenizer():
    from transformers import AutoTokenizer

    from core.e5_base import build
    from core.facts import OFFLINE_BASE_ID

    build(progress=False)
    return AutoTokenizer.from_pretrained(OFFLINE_BASE_ID, local_files_only=True)


def test_align_labels_first_subword_only():
    word_ids = [None, 0, 0, 0, 1, 2, 2, None]
    assert align_labels(word_ids, [1, 2, 0]) == [
        IGNORE_INDEX,
        1,
        IGNORE_INDEX,
        IGNORE_INDEX,
        2,
        0,
        IGNORE_INDEX,
        IGNORE_INDEX,
    ]


def test_align_labels_every_subword_continues_its_entity_with_i():
    # B-PER word in 3 pieces, I-PER word in 1, O word in 2, B-LOC word in 2
    word_ids = [None, 0, 0, 0, 1, 2, 2, 3, 3, None]
    labels = align_labels(word_ids, [1, 2, 0, 5], label_all_subwords=True)
    assert labels == [IGNORE_INDEX, 1, 2, 2, 2, 0, 0, 5, 6, IGNORE_INDEX]


def test_tokenize_and_align_on_words_that_split(tokenizer):
    words = ["Jeff", "Dean", "ist", "Informatiker", "bei", "Google"]
    tags = [1, 2, 0, 0, 0, 3]
    enc = tokenize_and_align({"tokens": [words], "ner_tags": [tags]}, tokenizer)
    labels, word_ids = enc["labels"][0], enc.word_ids(0)
    assert len(labels) == len(enc["input_ids"][0])
    assert word_ids.count(1) == 2 and word_ids.count(3) == 2  # ▁De an, ▁Informati ker
    kept = [label for label in labels if label != IGNORE_INDEX]
    assert kept == tags  # exactly one label per word, in order
    assert labels[0] == labels[-1] == IGNORE_INDEX  # <s> and </s>
    every = tokenize_and_align({"tokens": [words], "ner_tags": [tags]}, tokenizer, label_all_subwords=True)["labels"][0]
    assert every[1:-1] == [1, 2, 2, 0, 0, 0, 0, 3]  # ▁Jeff ▁De an ▁ist ▁Informati ker ▁bei ▁Google


def test_align_predictions_skips_ignored_positions():
    logits = np.zeros((1, 5, 7))
    for pos, tag in enumerate([0, 1, 2, 5, 0]):
        logits[0, pos, tag] = 1
    labels = np.array([[IGNORE_INDEX, 1, IGNORE_INDEX, 5, IGNORE_INDEX]])
    preds, refs = align_predictions(logits, labels)
    assert preds == [["B-PER", "B-LOC"]] and refs == [["B-PER", "B-LOC"]]


def test_seqeval_hand_worked():
    gold = [["B-PER", "I-PER", "O", "B-ORG", "O", "B-LOC"]]
    pred = [["B-PER", "I-PER", "O", "B-LOC", "O", "B-LOC"]]
    scores = seqeval_scores(pred, gold)
    # 3 gold entities, 3 predicted, 2 right: P = R = F1 = 2/3.
    assert scores["precision"] == pytest.approx(2 / 3)
    assert scores["recall"] == pytest.approx(2 / 3)
    assert scores["f1"] == pytest.approx(2 / 3)
    assert scores["per_entity"]["PER"] == {"precision": 1.0, "recall": 1.0, "f1": 1.0, "support": 1}
    assert scores["per_entity"]["ORG"]["recall"] == 0.0 and scores["per_entity"]["ORG"]["support"] == 1
    assert scores["per_entity"]["LOC"]["precision"] == 0.5


def test_seqeval_partial_span_is_wrong():
    gold = [["B-PER", "I-PER", "O"]]
    pred = [["B-PER", "O", "O"]]
    assert seqeval_scores(pred, gold)["f1"] == 0.0


def test_sentence_counts_add_up_to_seqeval():
    gold = [["B-PER", "I-PER", "O"], ["B-ORG", "O", "B-LOC"], ["O", "O", "O"]]
    pred = [["B-PER", "I-PER", "O"], ["B-LOC", "O", "B-LOC"], ["B-PER", "O", "O"]]
    counts = sentence_counts(pred, gold)
    assert counts.tolist() == [[1, 1, 1], [1, 2, 2], [0, 1, 0]]
    correct, predicted, total = counts.sum(axis=0)
    assert 2 * correct / (predicted + total) == pytest.approx(seqeval_scores(pred, gold)["f1"])


def test_bootstrap_interval_brackets_f1_and_is_reproducible():
    gold = [["B-PER", "O"], ["B-LOC", "O"], ["B-ORG", "I-ORG"], ["O", "B-PER"]] * 25
    pred = [["B-PER", "O"], ["B-ORG", "O"], ["B-ORG", "I-ORG"], ["O", "O"]] * 25
    low, high = bootstrap_f1(pred, gold)
    f1 = seqeval_scores(pred, gold)["f1"]
    assert low < f1 < high and high - low < 0.3
    assert bootstrap_f1(pred, gold) == (low, high)  # fixed seed
    assert bootstrap_f1(gold, gold) == (1.0, 1.0)
