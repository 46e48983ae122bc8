"""A word's subwords should name one entity type: a training loss that says so.

Most users meet the models through `pipeline(aggregation_strategy="simple")`, which reads every
subword's own prediction and starts a new span wherever two neighbouring subwords disagree. Labelling
continuation subwords with I- (training.features) teaches each piece the word's tag, but on words the
model is unsure of, the pieces still disagree ("Genove|se-Familie": PER, PER, O), and the pipeline cuts
the word. This adds, for every subword that continues a word, the symmetric KL divergence between its
entity-type distribution (O, PER, ORG, LOC: B- and I- summed) and the previous subword's, weighted by
the preset's `word_consistency`. It needs no labels: it asks the pieces to agree with each other, so it
also acts where the model is unsure of the word. Chosen on validation: on PAN-X's sentences alone
(English, results/word_consistency.json) weight 1 cut the pipeline's spans inside words by a third at no
F1 cost, 20 by two thirds but 0.05 of F1; with packed running text (results/paragraph_recipe.json) 4:
12 and 32 cut fewer words but lose validation F1, and a wider stride saves more cuts for nothing. Pulling
later pieces towards the first piece alone (a one-way KL, the first piece as teacher) stalled training at
F1 0.2 and was dropped.

Which pieces continue a word is a property of the vocabulary: XLM-R's SentencePiece marks a word's first
piece with "▁", so a piece without it, after another piece, continues the word before it. That is the
same whitespace word the pipeline check (workflow.pipeline_check) measures against.
"""

from __future__ import annotations

import functools

import torch
from transformers import PreTrainedTokenizerBase, Trainer

from core.facts import LABELS
from training.features import IGNORE_INDEX

WORD_START = "\u2581"  # SentencePiece's word-boundary mark
_EPSILON = 1e-6


def continuation_pieces(tokenizer: PreTrainedTokenizerBase, running_text: bool = False) -> torch.Tensor:
    """Boolean over the vocabulary: True where a piece continues the word before it. In running text a mark
    touches its word ("Google," "(Google"): a piece that starts with one is a PAN-X word of its own, not
    the previous word's continuation."""
    pieces = tokenizer.convert_ids_to_tokens(list(range(len(tokenizer))))
    special = set(tokenizer.all_special_ids)
    return torch.tensor(
        [
            i not in special and not piece.startswith(WORD_START) and (not running_text or piece[:1].isalnum())
            for i, piece in enumerate(pieces)
        ]
    )


@functools.cache  # one small constant, asked for at every training step
def type_matrix() -> torch.Tensor:
    """(labels, types) 0/1 matrix summing B-X and I-X into X; O stays O."""
    columns = ["O", *dict.fromkeys(label[2:] for label in LABELS if label != "O")]
    return torch.tensor(
        [[float((label[2:] if label != "O" else "O") == column) for column in columns] for label in LABELS]
    )


def word_consistency_loss(
    logits: torch.Tensor, input_ids: torch.Tensor, attention_mask: torch.Tensor, continues: torch.Tensor
) -> torch.Tensor:
    """Mean symmetric KL divergence between the entity-type distributions of each subword that
    continues a word and the subword before it; 0 when the batch has none."""
    types = torch.softmax(logits.float(), dim=-1) @ type_matrix().to(logits.device)
    pairs = continues.to(input_ids.device)[input_ids[:, 1:]] & attention_mask[:, 1:].bool()
    if not pairs.any():
        return logits.sum() * 0.0  # keeps the graph (and the loss's dtype and device)
    current, previous = types[:, 1:][pairs].clamp_min(_EPSILON), types[:, :-1][pairs].clamp_min(_EPSILON)
    return ((current - previous) * (current.log() - previous.log())).sum(-1).mean()


class WordConsistentTrainer(Trainer):
    """The Trainer with `word_consistency_loss` added to the model's own loss in training."""

    def __init__(self, *args, word_consistency: float = 0.0, running_text: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.word_consistency = word_consistency
        self.continues = continuation_pieces(self.processing_class, running_text) if word_consistency else None

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        if (inputs["labels"] == IGNORE_INDEX).all():
            # Unlabelled passages alone (preset unlabelled_text): cross-entropy over no label is 0 / 0.
            outputs = model(**{key: value for key, value in inputs.items() if key != "labels"})
            loss = outputs.logits.sum() * 0.0
        else:
            loss, outputs = super().compute_loss(
                model, inputs, return_outputs=True, num_items_in_batch=num_items_in_batch
            )
        if self.word_consistency and model.training:
            loss = loss + self.word_consistency * word_consistency_loss(
                outputs.logits, inputs["input_ids"], inputs["attention_mask"], self.continues
            )
        return (loss, outputs) if return_outputs else loss
