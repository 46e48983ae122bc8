"""The plain `pipeline()` against the Space's word-level tagger, on PAN-X validation sentences.

    python -m workflow.pipeline_check [--models-dir space/models] [--sentences 250] [--skip 0]

Most users meet the models through `pipeline("token-classification", model=...,
aggregation_strategy="simple")` on raw text. Trained with every subword labelled (continuation
subwords with I-), its spans should start and end on word boundaries and score like the Space's own
tagger, which reads one prediction per word. For every model this counts the pipeline's spans that
start or end inside a PAN-X token, and among them those that cut between two letters (a broken word,
as opposed to a name inside a hyphenated compound, "Broadway-Besetzung"), and compares both paths'
entity F1 (exact character spans and type) against the gold spans. `aggregation_strategy="first"` (each
whitespace-delimited word takes its first
subword's label) is measured beside it: word-aligned by construction on such text, but it glues
punctuation that touches a word ("München.") in raw text. Each model's entry names the checksum of
the weights it measured, so the cards that quote it (and the tests) can tell a stale check.

A span's `score` (the mean of its pieces' probabilities) is low where the pieces are unsure, and that is
where they disagree: for each floor in MIN_SCORES the check also counts the spans left, those inside a
word and the F1 when only spans scoring at least that much are kept, so a user can filter knowing the cost.
The floor the cards suggest (core.facts.SUGGESTED_MIN_SCORE) was chosen on other validation sentences
(`--skip 250`: the next 250 of each language, where there are that many).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from core import results as res
from core import run_dir as rd
from core.bio import tag_spans
from core.cli import InputError, run
from core.facts import (
    BUNDLED_MODELS_DIR,
    EXPERIMENTS,
    LABELS,
    LANGUAGES,
    RESULTS_DIR,
    SUGGESTED_MIN_SCORE,
    default_data_dir,
)
from core.files import write_json

DEFAULT_SENTENCES = 250  # per language and model: 1,000 sentences per model
EXAMPLES_KEPT = 5
MIN_SCORES = (0.5, 0.6, 0.7, 0.8, 0.9)  # floors on a span's score, each counted as if the user filtered there


def word_offsets(tokens: list[str]) -> list[tuple[int, int]]:
    """Character (start, end) of each token in " ".join(tokens)."""
    offsets, position = [], 0
    for token in tokens:
        offsets.append((position, position + len(token)))
        position += len(token) + 1
    return offsets


def gold_spans(tokens: list[str], tags: list[int]) -> set[tuple[int, int, str]]:
    offsets = word_offsets(tokens)
    return {(offsets[a][0], offsets[b - 1][1], kind) for a, b, kind in tag_spans([LABELS[t] for t in tags])}


def trimmed(text: str, start: int, end: int) -> tuple[int, int]:
    """A span without the whitespace the tokenizer's offsets may include at its edges."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def cuts_letters(text: str, start: int, end: int) -> bool:
    """Does the span start or end between two letters or digits ("Jeff De|an", "Zür|ich")? A span
    that ends at a hyphen or apostrophe inside a PAN-X token ("Broadway|-Besetzung") does not."""
    return (0 < start < len(text) and text[start - 1].isalnum() and text[start].isalnum()) or (
        0 < end < len(text) and text[end - 1].isalnum() and text[end].isalnum()
    )


def f1(predicted: int, gold: int, correct: int) -> float:
    return 2 * correct / (predicted + gold) if predicted + gold else 0.0


Sentences = dict[str, list[tuple[list[str], list[int]]]]  # language -> (PAN-X tokens, tag ids)


class _Tally:
    """Spans and F1 counts of the three paths over some sentences."""

    def __init__(self) -> None:
        self.counts = {"pipeline": [0, 0, 0], "space": [0, 0, 0], "first": [0, 0, 0]}  # predicted, gold, correct
        self.floors = {
            floor: [0, 0, 0] for floor in MIN_SCORES
        }  # the pipeline's kept spans: predicted, correct, inside
        self.sentences = self.inside = self.letter_cuts = 0

    @classmethod
    def total(cls, tallies: list[_Tally]) -> _Tally:
        out = cls()
        for t in tallies:
            out.sentences += t.sentences
            out.inside += t.inside
            out.letter_cuts += t.letter_cuts
            for path, counts in t.counts.items():
                out.counts[path] = [a + b for a, b in zip(out.counts[path], counts, strict=True)]
            for floor, counts in t.floors.items():
                out.floors[floor] = [a + b for a, b in zip(out.floors[floor], counts, strict=True)]
        return out

    def add_scored(self, spans: dict[tuple[int, int, str], tuple[float, bool]], gold: set) -> None:
        """The pipeline's spans (each with its score and whether it is inside a word), kept per floor."""
        for floor, counts in self.floors.items():
            kept = [(span, inside) for span, (score, inside) in spans.items() if score >= floor]
            counts[0] += len(kept)
            counts[1] += sum(span in gold for span, _ in kept)
            counts[2] += sum(inside for _, inside in kept)

    def scores(self) -> dict[str, float]:
        return {path: round(f1(*c), 4) for path, c in self.counts.items()}

    def summary(self) -> dict:
        scores, spans = self.scores(), self.counts["pipeline"][0]
        return {
            "sentences": self.sentences,
            "pipeline_f1": scores["pipeline"],
            "space_f1": scores["space"],
            "f1_gap": round(abs(scores["pipeline"] - scores["space"]), 4),
            "first_f1": scores["first"],
            "pipeline_spans": spans,
            "spans_inside_words": self.inside,
            "spans_inside_words_share": round(self.inside / max(spans, 1), 4),
            "spans_cutting_letters": self.letter_cuts,
            "spans_cutting_letters_share": round(self.letter_cuts / max(spans, 1), 4),
            "by_min_score": {
                res.min_score_key(floor): {
                    "pipeline_spans": kept,
                    "spans_inside_words": inside,
                    "pipeline_f1": round(f1(kept, self.counts["pipeline"][1], correct), 4),
                }
                for floor, (kept, correct, inside) in self.floors.items()
            },
        }


def check_model(folder: Path, sentences: Sentences) -> dict:
    from transformers import pipeline

    from core.loading import tokenizer_of
    from space.backends import load_tagger

    # The model as a user loads it, from the folder; its tokenizer read once for all models of the base.
    ner = pipeline(
        "token-classification", model=str(folder), tokenizer=tokenizer_of(folder), aggregation_strategy="simple"
    )
    tagger = load_tagger(folder, "torch_fp32")
    by_language, examples = {}, []
    for lang, rows in sentences.items():
        tally = by_language[lang] = _Tally()
        texts = [" ".join(tokens) for tokens, _ in rows]
        outputs = ner(texts, batch_size=32)
        firsts = ner(texts, batch_size=32, aggregation_strategy="first")
        for (tokens, tags), text, entities, first in zip(rows, texts, outputs, firsts, strict=True):
            gold = gold_spans(tokens, tags)
            offsets = word_offsets(tokens)
            starts, ends = {s for s, _ in offsets}, {e for _, e in offsets}
            scored = {}  # the pipeline's spans: (score, inside a word)
            for entity in entities:
                start, end = trimmed(text, entity["start"], entity["end"])
                span, inside = (start, end, entity["entity_group"]), start not in starts or end not in ends
                scored[span] = (max(float(entity["score"]), scored.get(span, (0.0,))[0]), inside)
                cut = cuts_letters(text, start, end)
                tally.letter_cuts += cut
                if inside:
                    tally.inside += 1
                    if len(examples) < EXAMPLES_KEPT or (cut and not any(e["cuts_letters"] for e in examples)):
                        examples.append(
                            {"text": text, "span": text[start:end], "type": entity["entity_group"], "cuts_letters": cut}
                        )
            from_space = {(e["start"], e["end"], e["entity_group"]) for e in tagger(text)["entities"]}
            from_first = {(*trimmed(text, e["start"], e["end"]), e["entity_group"]) for e in first}
            tally.sentences += 1
            tally.add_scored(scored, gold)
            for path, spans in (("pipeline", set(scored)), ("space", from_space), ("first", from_first)):
                tally.counts[path][0] += len(spans)
                tally.counts[path][1] += len(gold)
                tally.counts[path][2] += len(spans & gold)
    return {
        "weights": rd.weights_checksum(folder),  # which trained model this measured (cards check it)
        **_Tally.total(list(by_language.values())).summary(),
        "inside_word_examples": examples,
        # Per language: zero-shot text (a language the model was not trained on) breaks more words.
        "by_language": {lang: tally.summary() for lang, tally in by_language.items()},
    }


def validation_sentences(data_dir: Path | None, per_language: int, skip: int = 0) -> Sentences:
    """The first sentences of each language's validation split (after `skip`), as the study samples it."""
    from training.data import load_sampled

    sentences = {}
    for lang in LANGUAGES:
        sampled, _ = load_sampled(lang, data_dir or default_data_dir())
        size = len(sampled["validation"])
        indices = range(min(skip, size), min(skip + per_language, size))
        rows = sampled["validation"].select(indices) if indices else {"tokens": [], "ner_tags": []}
        sentences[lang] = list(zip(rows["tokens"], rows["ner_tags"]))
    return sentences


def check_models(
    folders: dict[str, Path], data_dir: Path | None, per_language: int = DEFAULT_SENTENCES, skip: int = 0
) -> dict:
    sentences = validation_sentences(data_dir, per_language, skip)
    if not any(sentences.values()):
        raise InputError(f"no validation sentences are left after skipping the first {skip} of each language")
    models = {key: check_model(folder, sentences) for key, folder in folders.items()}
    return {
        "description": "plain pipeline(aggregation_strategy='simple') on raw text against the Space's word-level "
        "tagger, entity F1 on exact character spans",
        "sentences_per_language": per_language,
        "languages": list(LANGUAGES),
        "command": f"python -m workflow.pipeline_check --sentences {per_language}"
        + (f" --skip {skip}" if skip else ""),
        "skipped_sentences_per_language": skip,
        "suggested_min_score": SUGGESTED_MIN_SCORE,
        "models": models,
        "max_f1_gap": max(m["f1_gap"] for m in models.values()),
        "pipeline_spans": sum(m["pipeline_spans"] for m in models.values()),
        "spans_inside_words": sum(m["spans_inside_words"] for m in models.values()),
        "spans_cutting_letters": sum(m["spans_cutting_letters"] for m in models.values()),
        "by_min_score": {
            floor: {
                key: sum(m["by_min_score"][floor][key] for m in models.values())
                for key in ("pipeline_spans", "spans_inside_words")
            }
            for floor in next(iter(models.values()))["by_min_score"]
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m workflow.pipeline_check", description=__doc__.split("\n\n")[0])
    parser.add_argument("--models-dir", type=Path, default=BUNDLED_MODELS_DIR)
    parser.add_argument("--sentences", type=int, default=DEFAULT_SENTENCES, help="validation sentences per language")
    parser.add_argument(
        "--skip",
        type=int,
        default=0,
        help="validation sentences per language to pass over first "
        "(the suggested score floor was chosen on --skip 250)",
    )
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help=f"default: results/{res.PIPELINE_CHECK_JSON}, or "
        f"results/{res.PIPELINE_MIN_SCORE_JSON} with --skip (the sentences the score floor was chosen on)",
    )
    args = parser.parse_args(argv)
    args.out = args.out or RESULTS_DIR / (res.PIPELINE_MIN_SCORE_JSON if args.skip else res.PIPELINE_CHECK_JSON)
    if args.skip < 0 or args.sentences < 1:
        parser.error(f"--skip must be at least 0 and --sentences at least 1, not {args.skip} and {args.sentences}")
    report = check_models({key: args.models_dir / key for key in EXPERIMENTS}, args.data_dir, args.sentences, args.skip)
    write_json(args.out, report)
    print(
        f"max F1 gap {report['max_f1_gap']}; of {report['pipeline_spans']} spans, {report['spans_inside_words']} "
        f"inside a PAN-X token, {report['spans_cutting_letters']} between two letters: {args.out}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(run(main))
