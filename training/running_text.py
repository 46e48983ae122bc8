"""PAN-X sentences as people write them: running text with each word's character span, and sentences
packed into passages.

PAN-X splits every mark off its word ("Jeff Dean ( Google ) ."); people write "Jeff Dean (Google).",
and paste whole paragraphs. `running_text(tokens, lang)` puts the marks back where print puts them,
language by language (RULES, then the few rules that need context in `_glue`), and gives each PAN-X
word's span in the text, so that labels follow by character offsets (training.features). Every token
appears in the text exactly as it is: only the spaces between tokens change.

`pack_sentences(...)` joins consecutive sentences (spans and tags shifted) into passages up to a
subword budget, so that a model meets paragraph context and late positions, as
`pipeline(stride=...)` reads long texts.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

Span = tuple[int, int]

# How a token meets its neighbours in print: LEFT, no space before it ("Google,"); RIGHT, no space
# after it ("(Google"); BOTH, neither. Tokens not listed are spaced on both sides.
LEFT, RIGHT, BOTH, SPACED = "left", "right", "both", "spaced"
COMMON_RULES: dict[str, str] = {
    **dict.fromkeys([",", ".", ";", ":", "!", "?", ")", "]", "}", "]]", "…", "...", "%"], LEFT),
    **dict.fromkeys(["(", "[", "{", "[["], RIGHT),
    "``": RIGHT,  # the opening quote of PTB-style text; its "''" closes it (see _glue)
}
RULES: dict[str, dict[str, str]] = {
    # „So“ and ‚so‘, or »so«; "50 %" with a space, as Duden prints it.
    "de": {**COMMON_RULES, "„": RIGHT, "‚": RIGHT, "»": RIGHT, "“": LEFT, "‘": LEFT, "«": LEFT, "%": SPACED},
    # French print spaces before ; : ! ? and % and inside « »: "Paris : « la ville »".
    "fr": {**COMMON_RULES, **dict.fromkeys([";", ":", "!", "?", "%", "«", "»"], SPACED), "“": RIGHT, "”": LEFT},
    "it": {**COMMON_RULES, "«": RIGHT, "»": LEFT, "“": RIGHT, "”": LEFT},
    "en": {**COMMON_RULES, "“": RIGHT, "”": LEFT, "‘": RIGHT, "’": LEFT},
}
# Quotes written the same way at both ends (and the wiki markup '' and ''' of PAN-X's source): the
# first of a kind opens (RIGHT), the next closes (LEFT). "' '' Ozark Henry '' '" -> "'''Ozark Henry'''".
TOGGLES = frozenset({'"', "''", "'", "'''"})
# English contractions, attached in every language (English titles and names occur in all): "John's".
CONTRACTIONS = frozenset(
    {f"{apostrophe}{end}" for apostrophe in "'’" for end in ("s", "S", "m", "re", "ll", "ve", "d")} | {"n't", "n’t"}
)
# French and Italian elisions written apart attach to the next word: "l' Italie" -> "l'Italie", "dell' Arte".
ELIDING = frozenset({"fr", "it"})
_ELISION = re.compile(r"[^\W\d_]{1,5}['’]")


@dataclass(frozen=True)
class Passage:
    """Running text with its PAN-X words' character spans and tag ids: one sentence, or several joined."""

    text: str
    word_spans: tuple[Span, ...]
    tags: tuple[int, ...]
    sentence_spans: tuple[Span, ...]  # each sentence's characters in text
    lang: str = ""


def running_text(tokens: Sequence[str], lang: str) -> tuple[str, list[Span]]:
    """(text, each token's (start, end) in text): PAN-X tokens spaced as print spaces them in lang.
    A language without rules gets COMMON_RULES."""
    rules = RULES.get(lang, COMMON_RULES)
    pieces: list[str] = []
    spans: list[Span] = []
    open_quotes: set[str] = set()  # the TOGGLES (and ``) opened and not yet closed
    position, glue_after = 0, True  # nothing goes before the first token
    for i, token in enumerate(tokens):
        before, after = tokens[i - 1] if i else "", tokens[i + 1] if i + 1 < len(tokens) else ""
        glue = _glue(token, before, after, lang, rules, open_quotes)
        if not (glue_after or glue in (LEFT, BOTH)):
            pieces.append(" ")
            position += 1
        pieces.append(token)
        spans.append((position, position + len(token)))
        position += len(token)
        glue_after = glue in (RIGHT, BOTH)
    return "".join(pieces), spans


def _glue(token: str, before: str, after: str, lang: str, rules: dict[str, str], open_quotes: set[str]) -> str:
    """How one token meets its neighbours: the table first, then the rules that need context."""
    if token in TOGGLES:
        if token == "''" and "``" in open_quotes:  # PTB style: `` opens, '' closes
            open_quotes.discard("``")
            return LEFT
        if token == "'" and lang == "en" and token not in open_quotes and before[-1:] in ("s", "S"):
            return LEFT  # the plural possessive: "the Beatles' songs"
        # An open quote closes; so does one that nothing it could open follows ("Kiseki '' ( 2004 )").
        if token in open_quotes or not (after[:1].isalnum() or after in TOGGLES or after == "``"):
            open_quotes.discard(token)
            return LEFT
        open_quotes.add(token)
        return RIGHT
    if token == "``":
        open_quotes.add(token)
    for mark in ('"', "''"):  # a quote glued to a word ("''Die", "Geburtstag''") opens or closes it
        if token.strip("'\"`") and (token.startswith(mark) + token.endswith(mark)) % 2:
            open_quotes.symmetric_difference_update({mark})
    if token in rules:
        return rules[token]
    if token in CONTRACTIONS:
        return LEFT
    if lang in ELIDING and _ELISION.fullmatch(token):
        return RIGHT
    if token == "/" and before[-1:].isdigit() and after[:1].isdigit():  # "1993 / 94" -> "1993/94"
        return BOTH
    return SPACED


def spaced_text(tokens: Sequence[str]) -> tuple[str, list[Span]]:
    """PAN-X's own form, one space between tokens, with each token's span (what the book evaluates on)."""
    spans, position = [], 0
    for token in tokens:
        spans.append((position, position + len(token)))
        position += len(token) + 1
    return " ".join(tokens), spans


def sentence_passage(tokens: Sequence[str], tags: Sequence[int], lang: str, running: bool = True) -> Passage:
    """One PAN-X sentence as a Passage: running text (running_text) or PAN-X's spaced form."""
    text, spans = running_text(tokens, lang) if running else spaced_text(tokens)
    return Passage(text, tuple(spans), tuple(tags), ((0, len(text)),), lang)


def join_passages(passages: Sequence[Passage], separator: str = " ") -> Passage:
    """Passages one after another, separator between them; spans shifted into the joined text."""
    texts, word_spans, tags, sentence_spans = [], [], [], []
    position = 0
    for k, passage in enumerate(passages):
        if k:
            texts.append(separator)
            position += len(separator)
        texts.append(passage.text)
        word_spans += [(s + position, e + position) for s, e in passage.word_spans]
        sentence_spans += [(s + position, e + position) for s, e in passage.sentence_spans]
        tags += passage.tags
        position += len(passage.text)
    lang = passages[0].lang if passages and all(p.lang == passages[0].lang for p in passages) else ""
    return Passage("".join(texts), tuple(word_spans), tuple(tags), tuple(sentence_spans), lang)


def pack_groups(lengths: Sequence[int], budget: int) -> list[range]:
    """Consecutive indices grouped greedily so that each group's lengths sum to at most budget; an item
    longer than the budget is a group of its own (truncated where it is encoded)."""
    groups, start, size = [], 0, 0
    for i, length in enumerate(lengths):
        if i > start and size + length > budget:
            groups.append(range(start, i))
            start, size = i, 0
        size += length
    if start < len(lengths):
        groups.append(range(start, len(lengths)))
    return groups


def pack_sentences(passages: Sequence[Passage], lengths: Sequence[int], budget: int) -> list[Passage]:
    """Consecutive passages (sentences) joined into passages of at most budget subwords in all;
    lengths[i] is passage i's subword count. The one space between two sentences costs no subword
    with SentencePiece, whose pieces carry their leading space."""
    return [join_passages([passages[i] for i in group]) for group in pack_groups(lengths, budget)]
