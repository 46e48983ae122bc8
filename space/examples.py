"""Example sentences per language, some with PAN-X gold spans, for the Space.

Each language gets the facts' book-style sentence (no gold) and three PAN-X validation sentences
with their gold entities. The sentences are picked by row index: clean, 10-22 words, at least two
entity types, and split by space.tagging.split_words exactly into PAN-X's tokens, so gold and
model spans share word boundaries. The picks live in PICKED_ROWS; space/examples.json is made
from them once, so the Space needs no parquet at run time:

    python -m space.examples                  # rewrites space/examples.json from the shared parquet
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.facts import EXAMPLE_SENTENCES, LABELS, LANGUAGES, dataset_config, default_data_dir

EXAMPLES_FILE = Path(__file__).with_name("examples.json")
# Row indices into PAN-X.{lang}/validation.parquet, chosen by hand among sentences that pass the
# rules above so that, together, each language shows PER, ORG and LOC.
PICKED_ROWS: dict[str, tuple[int, ...]] = {
    "de": (1231, 9949, 218),
    "fr": (55, 332, 109),
    "it": (5511, 8669, 276),
    "en": (5626, 85, 4479),
}


@dataclass(frozen=True)
class Example:
    text: str
    source: str  # where the sentence comes from, shown beside it
    gold: list[dict[str, Any]] | None = field(default=None)  # PAN-X spans, None for made-up sentences


def build_examples(data_dir: str | Path) -> dict[str, list[dict[str, Any]]]:
    """The PAN-X examples with gold spans, as stored in examples.json."""
    import pandas as pd

    from space.tagging import merge_spans, split_words

    out: dict[str, list[dict[str, Any]]] = {}
    for lang in LANGUAGES:
        frame = pd.read_parquet(Path(data_dir) / dataset_config(lang) / "validation.parquet")
        out[lang] = []
        for row in PICKED_ROWS[lang]:
            tokens = [str(t) for t in frame.iloc[row]["tokens"]]
            tags = [LABELS[int(t)] for t in frame.iloc[row]["ner_tags"]]
            text = " ".join(tokens)
            words = split_words(text)
            if [text[s:e] for s, e in words] != tokens:
                raise ValueError(
                    f"{dataset_config(lang)} validation row {row} does not split into its tokens; pick another row"
                )
            spans = merge_spans(text, words, tags, [1.0] * len(tags))
            gold = [{k: e[k] for k in ("entity_group", "word", "start", "end")} for e in spans]
            out[lang].append({"text": text, "source": f"{dataset_config(lang)} validation row {row}", "gold": gold})
    return out


def write_examples(data_dir: str | Path | None = None, path: Path = EXAMPLES_FILE) -> Path:
    data_dir = data_dir or default_data_dir()
    if data_dir is None:
        raise FileNotFoundError("no PAN-X parquet folder: set PANX_DATA_DIR")
    path.write_text(json.dumps(build_examples(data_dir), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def load_examples(path: Path = EXAMPLES_FILE) -> dict[str, list[Example]]:
    """Examples keyed by language: the book-style sentence first, then the PAN-X ones (if the file exists)."""
    stored = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    return {
        lang: [Example(EXAMPLE_SENTENCES[lang], "book-style sentence, no gold")]
        + [Example(e["text"], e["source"], e["gold"]) for e in stored.get(lang, [])]
        for lang in LANGUAGES
    }


def gold_for(text: str, examples: dict[str, list[Example]]) -> Example | None:
    """The example whose text this is, if it has gold spans: gold only applies to the unedited sentence."""
    for per_language in examples.values():
        for example in per_language:
            if example.gold is not None and example.text == text:
                return example
    return None


if __name__ == "__main__":
    print(f"wrote {write_examples(sys.argv[1] if len(sys.argv) > 1 else None)}")
