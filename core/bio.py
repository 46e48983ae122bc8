"""IOB2 tags -> entity spans, the one decoder shared by the data summary, the Space and its examples."""

from __future__ import annotations

from collections.abc import Sequence


def tag_spans(tags: Sequence[str]) -> list[tuple[int, int, str]]:
    """(first, last + 1, type) for each entity in a tag sequence.

    An I- tag that does not continue a span of its type starts one: the lenient reading that
    seqeval's default mode and the transformers pipeline also use, so a model's stray I-LOC counts.
    """
    spans: list[tuple[int, int, str]] = []
    start, current = 0, None
    for i, tag in enumerate(tags):
        prefix, _, entity_type = tag.partition("-")
        if prefix == "I" and current == entity_type:
            continue
        if current is not None:
            spans.append((start, i, current))
            current = None
        if prefix in ("B", "I"):
            start, current = i, entity_type
    if current is not None:
        spans.append((start, len(tags), current))
    return spans
