"""Text -> word-level entity spans with character offsets.

Why not `pipeline("ner", aggregation_strategy=...)`: with SentencePiece tokenizers its aggregation
can start or end an entity inside a word (transformers issue #27876), and it silently truncates
long texts. Here the model sees pre-split words, as in training (PAN-X is word-tokenised), and
each word is read at its first subword, so:

    split_words(text)   words and their character offsets, as PAN-X tokenises: punctuation is its own
                        word, but initials and abbreviations keep their stop ("J.", "U.S.", "St.")
    plan_windows(...)   groups of whole sentences under the model's length limit; an over-long
                        sentence is cut into overlapping word windows so nothing is truncated
    Tagger.__call__     one batched forward pass over the windows; each word takes the prediction
                        of its first subword
    merge_spans(...)    B-/I- word labels -> spans; offsets come from the words, so a span can only
                        start and end on word boundaries; score = mean probability over its words

The model itself sits behind a `LogitsFn` (space/backends/): torch fp32, torch int8, or any
backend that maps subword ids to logits.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from core.bio import tag_spans

# Titles and abbreviations that keep their full stop, in print and in PAN-X's tokens ("St. Gallen").
ABBREVIATIONS = (
    "Bros",
    "Co",
    "Col",
    "Dr",
    "Hl",
    "Inc",
    "Jr",
    "Ltd",
    "Mr",
    "Mrs",
    "Ms",
    "Mt",
    "Nr",
    "Prof",
    "Sr",
    "St",
    "Ste",
    "Vol",
    "vs",
)
# Upper-case Latin letters (ASCII, Latin-1, Latin Extended-A/B): an initial is one of them.
_UPPER = "".join(re.escape(c) for c in map(chr, range(0x250)) if c.isupper())
# A word, as PAN-X tokenises: the first alternatives keep a full stop in the word where PAN-X does
# (and the entity spans it labels do), so that the Space's spans can match them; sentence-final
# stops stay words of their own ("in Zürich." -> "Zürich", ".").
_WORD = re.compile(
    r"(?<!\w)[^\W\d_](?:\.[^\W\d_])+\.?"  # single letters joined by stops: "U.S.", "D.C", "d.h."
    rf"|(?<!\w)(?:{'|'.join(ABBREVIATIONS)})\."  # "St.", "Dr.", "Inc."
    rf"|(?<!\w)(?:[{_UPPER}]|[IVXLC]+|\d{{1,3}})\.(?=\s+\w)"  # before a next word: "J. R. R.", "Ludwig II.", "1. FC"
    r"|(?<!\S)['’][sS](?!\w)"  # the possessive written apart, as PAN-X does: "Jack 's"
    r"|\w+(?:[-'’]\w+)*"  # letters/digits with inner hyphens or apostrophes: "États-Unis", "d'Uruguay"
    r"|([^\w\s])\1*"  # any other character is a word of its own (punctuation, emoji); a run of one is one: "''", "..."
)
# Characters that end a sentence: a text that needs several windows is cut after a word made of them.
SENTENCE_END = frozenset({".", "!", "?", "…", "。", "！", "？", "؟", "।"})
# Subwords per window when the model allows more: PAN-X sentences are short (99.9% under 64
# subwords), so longer windows only cost time without giving the model anything it was trained on.
DEFAULT_WINDOW = 128
# Words shared by two neighbouring windows of an over-long sentence, for context at the cut.
OVERLAP_WORDS = 8
# Only a word's first subword is read; the cap keeps a pathological "word" (a URL, a hash) from
# filling a window on its own.
MAX_SUBWORDS_PER_WORD = 24
# Windows per forward pass: bounds memory on very long texts.
BATCH_WINDOWS = 16


def split_words(text: str) -> list[tuple[int, int]]:
    """Character (start, end) of each word of `text`, in order."""
    words: list[list[int]] = []
    for match in _WORD.finditer(text):
        start, end = match.span()
        # Control and format characters (NUL, zero-width space, bidi marks) are never words, so they can
        # never be tagged as an entity; only the last alternative (one character, or a run of it) can start with one.
        if _is_invisible(text[start]):
            continue
        # A combining mark (decomposed accents, Indic vowel signs, emoji variation selectors) is not
        # \w in Python's re: glue it, and letters right after it, to the word it belongs to.
        touching = words and words[-1][1] == start
        if touching and (_is_mark(text[start]) or (_is_mark(text[start - 1]) and text[start].isalnum())):
            words[-1][1] = end
        else:
            words.append([start, end])
    return [(s, e) for s, e in words]


def ends_sentence(word: str) -> bool:
    """A word made of sentence-final marks: ".", "...", "!!"; not "U.S." or "St."."""
    return bool(word) and set(word) <= SENTENCE_END


def _is_mark(char: str) -> bool:
    return unicodedata.category(char).startswith("M")


def _is_invisible(char: str) -> bool:
    # Cc control, Cf format, Cs surrogate, Co private use, Cn unassigned.
    return unicodedata.category(char).startswith("C")


@dataclass(frozen=True)
class Window:
    """Words [start, end) go to the model together; words [own_start, own_end) take its predictions."""

    start: int
    end: int
    own_start: int
    own_end: int


def plan_windows(
    lengths: Sequence[int], sentence_end: Sequence[bool], budget: int, overlap: int = OVERLAP_WORDS
) -> list[Window]:
    """Cover every word exactly once (by `own` ranges) with windows of at most `budget` subwords.

    lengths[i] is word i's subword count; sentence_end[i] says a sentence ends after word i.
    Whole sentences are packed greedily; a sentence longer than the budget is cut into windows that
    overlap by `overlap` words, and each overlap is split in the middle between its two windows.
    """
    sentences: list[tuple[int, int]] = []
    start = 0
    for i, is_end in enumerate(sentence_end):
        if is_end:
            sentences.append((start, i + 1))
            start = i + 1
    if start < len(lengths):
        sentences.append((start, len(lengths)))

    windows: list[Window] = []
    pack_start, pack_size = None, 0
    for s_start, s_end in sentences:
        size = sum(lengths[s_start:s_end])
        if pack_start is not None and pack_size + size > budget:
            windows.append(Window(pack_start, s_start, pack_start, s_start))
            pack_start, pack_size = None, 0
        if size > budget:
            windows.extend(_cut_long(lengths, s_start, s_end, budget, overlap))
            continue
        if pack_start is None:
            pack_start = s_start
        pack_size += size
    if pack_start is not None:
        windows.append(Window(pack_start, len(lengths), pack_start, len(lengths)))
    return windows


def _cut_long(lengths: Sequence[int], lo: int, hi: int, budget: int, overlap: int) -> list[Window]:
    spans: list[tuple[int, int]] = []
    start = lo
    while True:
        end, size = start, 0
        while end < hi and size + lengths[end] <= budget:
            size += lengths[end]
            end += 1
        end = max(end, start + 1)  # a single word over budget still gets a window (the model truncates it)
        spans.append((start, end))
        if end >= hi:
            break
        # Step back `overlap` words for context, but always move forward.
        start = max(end - overlap, start + 1)
    windows = []
    for k, (start, end) in enumerate(spans):
        own_start = lo if k == 0 else (start + spans[k - 1][1]) // 2
        own_end = hi if k == len(spans) - 1 else (spans[k + 1][0] + end) // 2
        windows.append(Window(start, end, own_start, own_end))
    return windows


def merge_spans(
    text: str, words: Sequence[tuple[int, int]], labels: Sequence[str], scores: Sequence[float]
) -> list[dict[str, Any]]:
    """Word labels (IOB2) -> entity dicts {entity_group, word, start, end, score}.

    Spans are read leniently (core.bio): an I- tag that does not continue a span of its type starts
    one, so a model's stray I-LOC still shows up. Offsets come from the words; score = mean probability.
    """
    if not len(words) == len(labels) == len(scores):
        raise ValueError(f"{len(words)} words, {len(labels)} labels and {len(scores)} scores")
    entities = []
    for first, last, entity_type in tag_spans(labels):
        start, end = words[first][0], words[last - 1][1]
        # Key order as the transformers pipeline's output, which gr.HighlightedText also reads.
        entities.append(
            {
                "entity_group": entity_type,
                "word": text[start:end],
                "start": start,
                "end": end,
                "score": round(sum(scores[first:last]) / (last - first), 4),
            }
        )
    return entities


# The backend seam: subword ids (batch, length) and their attention mask -> logits (batch, length, labels).
LogitsFn = Callable[[np.ndarray, np.ndarray], np.ndarray]


class Tagger:
    """A tokenizer and a backend's logits function, turned into a text -> spans function."""

    def __init__(
        self,
        tokenizer: Any,
        logits: LogitsFn,
        id2label: dict[int, str],
        max_positions: int | None = None,
        max_window: int = DEFAULT_WINDOW,
    ):
        self.tokenizer = tokenizer
        self.logits = logits
        self.id2label = {int(i): label for i, label in id2label.items()}
        # The model's own limit: the tokenizer's model_max_length and the position table, less <s> and </s>.
        limits = [max_window]
        if 0 < getattr(tokenizer, "model_max_length", 0) < 1_000_000:
            limits.append(tokenizer.model_max_length)
        if max_positions:
            limits.append(max_positions)
        self.budget = min(limits) - 2

    def __call__(self, text: str) -> dict[str, Any]:
        words = split_words(text)
        if not words:
            return {"text": text, "entities": []}
        labels, scores = self.predict_words([text[s:e] for s, e in words])
        return {"text": text, "entities": merge_spans(text, words, labels, scores)}

    def predict_words(self, words: Sequence[str]) -> tuple[list[str], list[float]]:
        """Label and probability of each word, read at its first subword."""
        tok = self.tokenizer
        # Each word is encoded on its own: with pre-split input that is exactly what the tokenizer
        # does inside a sentence, and it gives each word's subword ids once for all windows.
        encoded = tok([[w] for w in words], is_split_into_words=True, add_special_tokens=False)["input_ids"]
        word_ids = [ids[:MAX_SUBWORDS_PER_WORD] for ids in encoded]
        windows = plan_windows([max(len(ids), 1) for ids in word_ids], [ends_sentence(w) for w in words], self.budget)
        labels = ["O"] * len(words)
        scores = [1.0] * len(words)
        for b in range(0, len(windows), BATCH_WINDOWS):
            batch = windows[b : b + BATCH_WINDOWS]
            rows, firsts = [], []
            for win in batch:
                row, first = [tok.cls_token_id], {}
                for i in range(win.start, win.end):
                    if word_ids[i]:  # a word the tokenizer drops (e.g. a lone control char) stays "O"
                        first[i] = len(row)
                    row.extend(word_ids[i])
                row = row[: self.budget + 1] + [tok.sep_token_id]
                rows.append(row)
                firsts.append(first)
            width = max(len(r) for r in rows)
            input_ids = np.full((len(rows), width), tok.pad_token_id, dtype=np.int64)
            attention = np.zeros((len(rows), width), dtype=np.int64)
            for r, row in enumerate(rows):
                input_ids[r, : len(row)] = row
                attention[r, : len(row)] = 1
            probs = softmax(self.logits(input_ids, attention).astype(np.float32))
            best_id, best_p = probs.argmax(-1), probs.max(-1)
            for r, (win, first) in enumerate(zip(batch, firsts, strict=True)):
                for i in range(win.own_start, win.own_end):
                    pos = first.get(i)
                    if pos is not None and pos < len(rows[r]) - 1:  # not cut off by the safety truncation
                        labels[i] = self.id2label[int(best_id[r, pos])]
                        scores[i] = float(best_p[r, pos])
        return labels, scores


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)
