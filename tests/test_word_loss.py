"""training.word_loss: which pieces continue a word, the consistency term, and the Trainer that adds it."""

from __future__ import annotations

import pytest
import torch

from core.facts import LABEL2ID, LABELS, OFFLINE_BASE_ID
from training.word_loss import WordConsistentTrainer, continuation_pieces, type_matrix, word_consistency_loss


@pytest.fixture(scope="module")
def tokenizer():
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(OFFLINE_BASE_ID, local_files_only=True)


@pytest.fixture(scope="module")
def continues(tokenizer):
    return continuation_pieces(tokenizer)


def test_continuation_pieces_are_the_pieces_after_a_words_first(tokenizer, continues):
    encoded = tokenizer("Jack Sparrow loves Zürich-Altstetten!")
    pieces = tokenizer.convert_ids_to_tokens(encoded["input_ids"])
    flags = continues[encoded["input_ids"]].tolist()
    words = encoded.word_ids()
    # "Jack Sparrow loves Zürich-Altstetten!" is four whitespace words: a piece continues exactly when
    # it belongs to the same word as the piece before it.
    expected = [w is not None and i > 0 and words[i - 1] == w for i, w in enumerate(words)]
    assert pieces[0] == tokenizer.cls_token and not flags[0] and not flags[-1]
    assert flags == expected and sum(flags) >= 3  # "row", pieces of "Zürich-Altstetten!"
    assert not continues[tokenizer.all_special_ids].any()


def test_in_running_text_a_mark_touching_a_word_is_a_word_of_its_own(tokenizer):
    """In "Google)," PAN-X sees three words: the loss must not pull ")" and "," towards Google's type."""
    from training.running_text import running_text

    text, spans = running_text(["bei", "Google", ")", ",", "Zürich-Altstetten"], "de")
    assert text == "bei Google), Zürich-Altstetten"
    encoded = tokenizer(text, return_offsets_mapping=True)
    words = [next((w for w, (s, e) in enumerate(spans) if s <= a < e), None) for a, _ in encoded["offset_mapping"]]
    words[0] = words[-1] = None  # the specials
    flags = continuation_pieces(tokenizer, running_text=True)[encoded["input_ids"]].tolist()
    pieces = tokenizer.convert_ids_to_tokens(encoded["input_ids"])
    # A piece continues a PAN-X word exactly when it belongs to the word of the piece before it, except for
    # "-Altstetten": PAN-X keeps the hyphen inside the word, the mark-first piece still counts as a new start.
    for i, (piece, flag) in enumerate(zip(pieces, flags)):
        same_word = words[i] is not None and i > 0 and words[i - 1] == words[i]
        assert flag == (same_word and piece[:1].isalnum()), (piece, flag)
    assert not any(f for p, f in zip(pieces, flags) if p[:1] in "),")
    assert any(flags)  # the pieces of "Altstetten" after the first still continue


def test_types_sum_b_and_i():
    matrix = type_matrix()
    assert matrix.shape == (len(LABELS), 4) and (matrix.sum(1) == 1).all()
    assert (matrix[LABEL2ID["B-PER"]] == matrix[LABEL2ID["I-PER"]]).all()
    assert not (matrix[LABEL2ID["B-PER"]] == matrix[LABEL2ID["B-LOC"]]).all()


def logits_for(rows: list[list[str]]) -> torch.Tensor:
    """Confident logits: each position's label gets 10, the others 0."""
    logits = torch.zeros(len(rows), len(rows[0]), len(LABELS))
    for b, row in enumerate(rows):
        for t, label in enumerate(row):
            logits[b, t, LABEL2ID[label]] = 10.0
    return logits


def ids_with(continuing: list[list[bool]]) -> tuple[torch.Tensor, torch.Tensor]:
    """input_ids over a two-piece vocabulary (0 starts a word, 1 continues one) and the table."""
    return torch.tensor(continuing, dtype=torch.long), torch.tensor([False, True])


def test_loss_is_zero_when_a_words_pieces_agree_on_the_type():
    ids, table = ids_with([[False, False, True, True, False]])
    logits = logits_for([["O", "B-PER", "I-PER", "I-PER", "O"]])
    mask = torch.ones_like(ids)
    assert word_consistency_loss(logits, ids, mask, table) < 1e-3
    # B- on a word's first piece and I- on its later ones is one type: no penalty either.
    logits = logits_for([["O", "B-LOC", "B-LOC", "I-LOC", "O"]])
    assert word_consistency_loss(logits, ids, mask, table) < 1e-3


def test_loss_grows_when_pieces_disagree_and_its_gradient_pulls_them_together():
    ids, table = ids_with([[False, False, True, False]])
    mask = torch.ones_like(ids)
    logits = logits_for([["O", "B-PER", "O", "O"]]).requires_grad_()
    loss = word_consistency_loss(logits, ids, mask, table)
    assert loss > 5
    loss.backward()
    # Only the word's two pieces are touched; the continuing piece is pushed towards PER.
    assert logits.grad[0, [0, 3]].abs().max() == 0
    assert logits.grad[0, 2, LABEL2ID["I-PER"]] + logits.grad[0, 2, LABEL2ID["B-PER"]] < 0


def test_word_starts_and_padding_do_not_count():
    # Disagreeing neighbours that start words, or a "continuing" piece in padding: nothing to pay.
    ids, table = ids_with([[False, False, False, True]])
    logits = logits_for([["B-PER", "B-LOC", "O", "B-ORG"]])
    assert word_consistency_loss(logits, ids, torch.tensor([[1, 1, 1, 0]]), table) == 0
    assert word_consistency_loss(logits, ids, torch.ones_like(ids), table) > 5


def tiny_model(tokenizer):
    """A one-layer BERT on the real vocabulary, without dropout: its loss is a function of its inputs."""
    from transformers import BertConfig, BertForTokenClassification

    torch.manual_seed(0)
    return BertForTokenClassification(
        BertConfig(
            vocab_size=len(tokenizer),
            hidden_size=16,
            num_hidden_layers=1,
            num_attention_heads=2,
            intermediate_size=32,
            num_labels=len(LABELS),
            hidden_dropout_prob=0.0,
            attention_probs_dropout_prob=0.0,
        )
    )


def test_trainer_adds_the_weighted_term_in_training_only(tmp_path, tokenizer):
    from training.presets import get_preset
    from training.train import build_trainer, training_arguments

    model = tiny_model(tokenizer)
    encoded = tokenizer(["Jack Sparrow loves Zürich-Altstetten!"], return_tensors="pt")
    inputs = {**encoded, "labels": torch.zeros_like(encoded["input_ids"])}
    targs = training_arguments(tmp_path, get_preset("smoke"), eval_strategy="no")
    plain = build_trainer(model, tokenizer, targs, [])
    weighted = build_trainer(model, tokenizer, targs, [], word_consistency=2.0)
    assert isinstance(weighted, WordConsistentTrainer)
    model.train()
    term = word_consistency_loss(
        model(**encoded).logits, encoded["input_ids"], encoded["attention_mask"], continuation_pieces(tokenizer)
    )
    assert term > 0
    base = plain.compute_loss(model, dict(inputs))
    assert torch.isclose(weighted.compute_loss(model, dict(inputs)), base + 2.0 * term, atol=1e-5)
    model.eval()
    assert torch.isclose(weighted.compute_loss(model, dict(inputs)), plain.compute_loss(model, dict(inputs)))


def test_a_batch_of_unlabelled_passages_alone_trains_the_word_term_alone(tmp_path, tokenizer):
    """Shuffled among few labelled sentences (--unlabelled-text, en: 1,180 against 2,200 passages), a batch can
    hold passages only: its cross-entropy over no label would be 0 / 0 and poison every weight with NaN."""
    from training.features import IGNORE_INDEX
    from training.presets import get_preset
    from training.train import build_trainer, training_arguments

    model = tiny_model(tokenizer)
    encoded = tokenizer(["Der Kurfürstendamm liegt in Berlin-Charlottenburg."], return_tensors="pt")
    unlabelled = {**encoded, "labels": torch.full_like(encoded["input_ids"], IGNORE_INDEX)}
    targs = training_arguments(tmp_path, get_preset("smoke"), eval_strategy="no")
    trainer = build_trainer(model, tokenizer, targs, [], word_consistency=2.0)
    model.train()
    loss = trainer.compute_loss(model, dict(unlabelled), num_items_in_batch=torch.tensor(0))
    term = word_consistency_loss(
        model(**encoded).logits, encoded["input_ids"], encoded["attention_mask"], continuation_pieces(tokenizer)
    )
    assert term > 0 and torch.isclose(loss, 2.0 * term, atol=1e-5)
    loss.backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)
