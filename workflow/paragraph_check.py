"""Paragraphs as people paste them: the plain `pipeline()` and the Space's tagger on running text.

    python -m workflow.paragraph_check [--models-dir space/models] [--documents 8] [--min-tokens 600]
                                       [--max-tokens 1500] [--window N] [--stride N] [--data-dir DIR]
                                       [--out FILE]

The book scores one PAN-X sentence at a time, in PAN-X's split form ("Jeff Dean ( Google ) ."); people
paste paragraphs of running text, which `pipeline(..., aggregation_strategy="simple", stride=...)` reads
in windows of the tokenizer's model_max_length (the windows the model was trained on; the stride its card
gives, core.facts.stride_for, unless --stride says otherwise; --window reads every model in windows of
another length, as a user who sets the tokenizer's model_max_length would). Here each language's
validation sentences (the half that is not the carved test split) are written as running text
(training.running_text), and those that read as prose (is_prose) are joined in their order into documents
of min to max subwords. Each model reads them:

    paragraph   every document in one pipeline call, with stride
    sentence    the same sentences, one per pipeline call: the model's F1 without the paragraph
    space       every document through the Space's word-level Tagger (space.tagging)

Entity F1 is on exact (start, end, type) character spans, whitespace trimmed (workflow.pipeline_check's
helpers). The paragraph spans that start or end inside a PAN-X word, and those that cut between two
letters ("Zür|ich"), are counted too, and so are the sentence path's: a word cut one sentence at a
time is the model's, not the paragraph's. The pipeline is built on the folder's model as core.loading reads
it (an adapter merged into its base, float32: what `pipeline(model=folder)` computes), loaded once for
all three paths.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from core import results as res
from core import run_dir as rd
from core.bio import tag_spans
from core.cli import InputError, run
from core.facts import BUNDLED_MODELS_DIR, EXPERIMENTS, LABELS, LANGUAGES, MAX_INPUT_TOKENS, RESULTS_DIR, stride_for
from core.files import write_json
from core.loading import tokenizer_of
from training.running_text import Passage, join_passages, sentence_passage
from workflow.pipeline_check import cuts_letters, f1, trimmed

DEFAULT_DOCUMENTS = 8  # per language
DEFAULT_MIN_TOKENS, DEFAULT_MAX_TOKENS = 600, 1500  # subwords per document, spread evenly between the two
EXAMPLES_KEPT = 5
MIN_WINDOW = 16  # subwords: a window must hold a few words besides its two special tokens and its stride
# Wiki markup that PAN-X keeps ('' for italics, === headings, [[ links): a sentence with it is no prose.
MARKUP = frozenset("'`*=|[]{}")
MIN_PROSE_TOKENS = 5
SENTENCE_FINAL = (".", "!", "?")


def is_prose(tokens: list[str]) -> bool:
    """A PAN-X row that reads as a sentence of a paragraph: a capital first, a full stop (or ! ?) last,
    no wiki markup. Many rows are list items, titles or redirects ("WEITERLEITUNG Colón Fútbol Club")."""
    return (
        len(tokens) >= MIN_PROSE_TOKENS
        and tokens[0][:1].isupper()
        and tokens[-1] in SENTENCE_FINAL
        and not any(set(token) <= MARKUP for token in tokens)
    )


def gold_spans(passage: Passage) -> set[tuple[int, int, str]]:
    """The passage's entities as (start, end, type) character spans."""
    spans = passage.word_spans
    return {(spans[a][0], spans[b - 1][1], kind) for a, b, kind in tag_spans([LABELS[t] for t in passage.tags])}


def build_documents(
    sentences: list[Passage], lengths: list[int], documents: int, min_tokens: int, max_tokens: int
) -> list[Passage]:
    """Consecutive sentences joined into up to `documents` documents whose sizes (lengths: subwords per
    sentence) reach targets spread evenly from min_tokens to max_tokens; fewer when the sentences run out."""
    built, i = [], 0
    for target in np.linspace(min_tokens, max_tokens, documents):
        group, size = [], 0
        while i < len(sentences) and size < target:
            group.append(sentences[i])
            size += lengths[i]
            i += 1
        if size < min_tokens:
            break
        built.append(join_passages(group))
    return built


def validation_documents(
    data_dir: Path | None, tokenizer, documents: int, min_tokens: int, max_tokens: int
) -> dict[str, list[Passage]]:
    """Each language's documents from the validation half of PAN-X validation, never the carved test half
    (training.data.carve_test), in PAN-X's order, before the Swiss subsampling (more prose to draw on)."""
    from core.facts import default_data_dir
    from training.data import load_language
    from training.features import subword_counts

    by_language = {}
    for lang in LANGUAGES:
        validation = load_language(lang, data_dir or default_data_dir()).splits["validation"]
        sentences = [
            sentence_passage(tokens, tags, lang)
            for tokens, tags in zip(validation["tokens"], validation["ner_tags"])
            if is_prose(tokens)
        ]
        lengths = subword_counts([s.text for s in sentences], tokenizer)
        by_language[lang] = build_documents(sentences, lengths, documents, min_tokens, max_tokens)
    return by_language


@dataclass
class Tally:
    """Counts of one model on some documents: [predicted, gold, correct] per path, and the paragraph
    path's spans off word boundaries."""

    counts: dict[str, list[int]] = field(
        default_factory=lambda: {"paragraph": [0, 0, 0], "sentence": [0, 0, 0], "space": [0, 0, 0]}
    )
    inside: int = 0  # paragraph spans that start or end inside a PAN-X word
    letter_cuts: int = 0  # ... between two letters or digits
    sentence_letter_cuts: int = 0  # the sentence path's spans between two letters or digits
    documents: int = 0

    def add(self, path: str, predicted: set, gold: set) -> None:
        counts = self.counts[path]
        counts[0] += len(predicted)
        counts[1] += len(gold)
        counts[2] += len(predicted & gold)

    @classmethod
    def total(cls, tallies: list[Tally]) -> Tally:
        out = cls()
        for t in tallies:
            for path, counts in t.counts.items():
                out.counts[path] = [a + b for a, b in zip(out.counts[path], counts, strict=True)]
            out.inside += t.inside
            out.letter_cuts += t.letter_cuts
            out.sentence_letter_cuts += t.sentence_letter_cuts
            out.documents += t.documents
        return out

    def summary(self) -> dict:
        spans = self.counts["paragraph"][0]
        return {
            "documents": self.documents,
            "entities": self.counts["paragraph"][1],
            "sentence_f1": round(f1(*self.counts["sentence"]), 4),
            "paragraph_f1": round(f1(*self.counts["paragraph"]), 4),
            "space_f1": round(f1(*self.counts["space"]), 4),
            "paragraph_spans": spans,
            "spans_inside_words": self.inside,
            "spans_inside_words_share": round(self.inside / max(spans, 1), 4),
            "spans_cutting_letters": self.letter_cuts,
            "spans_cutting_letters_share": round(self.letter_cuts / max(spans, 1), 4),
            "sentence_spans_cutting_letters_share": round(
                self.sentence_letter_cuts / max(self.counts["sentence"][0], 1), 4
            ),
        }


def score_documents(ner, tagger, documents: list[Passage], stride: int, tally: Tally, examples: list) -> None:
    """One language's documents through the three paths (see the module's docstring), into tally."""
    for document in documents:
        text, gold = document.text, gold_spans(document)
        starts, ends = {s for s, _ in document.word_spans}, {e for _, e in document.word_spans}
        paragraph = set()
        for entity in ner(text, stride=stride, batch_size=8):
            start, end = trimmed(text, entity["start"], entity["end"])
            paragraph.add((start, end, entity["entity_group"]))
        for start, end, kind in sorted(paragraph):  # in text order: the examples kept do not vary by run
            cut = cuts_letters(text, start, end)
            tally.inside += start not in starts or end not in ends
            tally.letter_cuts += cut
            if cut and len(examples) < EXAMPLES_KEPT:
                examples.append({"span": text[start:end], "type": kind, "context": text[max(0, start - 40) : end + 40]})
        sentence = set()
        bounds = document.sentence_spans
        for (offset, _), entities in zip(bounds, ner([text[s:e] for s, e in bounds], batch_size=32), strict=True):
            for entity in entities:
                start, end = trimmed(text, offset + entity["start"], offset + entity["end"])
                sentence.add((start, end, entity["entity_group"]))
        tally.sentence_letter_cuts += sum(cuts_letters(text, start, end) for start, end, _ in sentence)
        space = {(e["start"], e["end"], e["entity_group"]) for e in tagger(text)["entities"]}
        tally.add("paragraph", paragraph, gold)
        tally.add("sentence", sentence, gold)
        tally.add("space", space, gold)
        tally.documents += 1


def load_paths(folder: Path, window: int | None = None):
    """(pipeline, Tagger) on one loading of the folder's model; window: the pipeline's model_max_length,
    None for the folder's own (the Tagger keeps its own limit either way)."""
    from transformers import pipeline

    from core.loading import load_token_classifier, windowed
    from space.backends.torch_fp32 import tagger_on

    tokenizer, model = load_token_classifier(folder)
    ner = pipeline(
        "token-classification", model=model, tokenizer=windowed(tokenizer, window), aggregation_strategy="simple"
    )
    return ner, tagger_on(tokenizer, model)


def check_model(
    folder: Path, documents: dict[str, list[Passage]], stride: int | None = None, window: int | None = None
) -> dict:
    """One model on every document; stride: None for the one its card gives; window: None for its own."""
    ner, tagger = load_paths(folder, window)
    window = ner.tokenizer.model_max_length
    stride = stride_for(window) if stride is None else stride
    if stride >= window - 2:
        raise InputError(
            f"--stride {stride} does not fit the {ner.tokenizer.model_max_length}-subword windows of {folder.name}"
        )
    by_language, examples = {}, []
    for lang, docs in documents.items():
        by_language[lang] = Tally()
        score_documents(ner, tagger, docs, stride, by_language[lang], examples)
    return {
        "weights": rd.weights_checksum(folder),  # which trained model this measured
        "window": window,  # subwords per pipeline window, stride of them shared
        "stride": stride,
        **Tally.total(list(by_language.values())).summary(),
        "letter_cut_examples": examples,
        "by_language": {lang: tally.summary() for lang, tally in by_language.items()},
    }


def check_models(
    folders: dict[str, Path],
    data_dir: Path | None,
    documents: int = DEFAULT_DOCUMENTS,
    min_tokens: int = DEFAULT_MIN_TOKENS,
    max_tokens: int = DEFAULT_MAX_TOKENS,
    stride: int | None = None,
    window: int | None = None,
) -> dict:
    missing = [str(folder) for folder in folders.values() if not folder.is_dir()]
    if missing:
        raise InputError(f"no model folder at {', '.join(missing)}; bundle the models or train them first")
    # Documents are measured in the first model's subwords (the study's models share one base).
    by_language = validation_documents(
        data_dir, tokenizer_of(next(iter(folders.values()))), documents, min_tokens, max_tokens
    )
    if not any(by_language.values()):
        raise InputError(f"no language has prose sentences for a document of {min_tokens} subwords")
    models = {key: check_model(folder, by_language, stride, window) for key, folder in folders.items()}
    return {
        "description": "documents of running text from PAN-X validation sentences (not the carved test half): "
        "plain pipeline(aggregation_strategy='simple', stride) on each whole document, the same pipeline one "
        "sentence at a time, and the Space's tagger on each document; entity F1 on exact character spans",
        "command": f"python -m workflow.paragraph_check --documents {documents} --min-tokens {min_tokens} "
        f"--max-tokens {max_tokens}"
        + ("" if window is None else f" --window {window}")
        + ("" if stride is None else f" --stride {stride}"),
        "languages": list(LANGUAGES),
        "documents": {
            lang: {
                "documents": len(docs),
                "sentences": sum(len(d.sentence_spans) for d in docs),
                "characters": [len(d.text) for d in docs],
                "entities": sum(len(gold_spans(d)) for d in docs),
            }
            for lang, docs in by_language.items()
        },
        "models": models,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m workflow.paragraph_check", description=__doc__.split("\n\n")[0])
    parser.add_argument("--models-dir", type=Path, default=BUNDLED_MODELS_DIR)
    parser.add_argument("--documents", type=int, default=DEFAULT_DOCUMENTS, help="documents per language")
    parser.add_argument("--min-tokens", type=int, default=DEFAULT_MIN_TOKENS, help="subwords of the shortest document")
    parser.add_argument("--max-tokens", type=int, default=DEFAULT_MAX_TOKENS, help="subwords of the longest document")
    parser.add_argument(
        "--window", type=int, default=None, help="subwords per pipeline window (default: each model's own)"
    )
    parser.add_argument(
        "--stride", type=int, default=None, help="the pipeline's stride on long documents (default: each card's)"
    )
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=None, help=f"default: results/{res.PARAGRAPH_CHECK_JSON}")
    args = parser.parse_args(argv)
    if args.documents < 1 or not 0 < args.min_tokens <= args.max_tokens:
        raise InputError(
            f"--documents must be at least 1 and 0 < --min-tokens <= --max-tokens, not {args.documents}, "
            f"{args.min_tokens} and {args.max_tokens}"
        )
    if args.stride is not None and not 0 <= args.stride < MAX_INPUT_TOKENS // 2:
        raise InputError(f"--stride must be between 0 and {MAX_INPUT_TOKENS // 2 - 1} subwords, not {args.stride}")
    if args.window is not None and not MIN_WINDOW <= args.window <= MAX_INPUT_TOKENS:
        raise InputError(f"--window must be between {MIN_WINDOW} and {MAX_INPUT_TOKENS} subwords, not {args.window}")
    if args.data_dir is not None and not args.data_dir.is_dir():
        raise InputError(f"--data-dir {args.data_dir} does not exist; give the PAN-X parquet folder")
    folders = {key: args.models_dir / key for key in EXPERIMENTS}
    report = check_models(
        folders, args.data_dir, args.documents, args.min_tokens, args.max_tokens, args.stride, args.window
    )
    out = args.out or RESULTS_DIR / res.PARAGRAPH_CHECK_JSON
    write_json(out, report)
    for key, model in report["models"].items():
        print(
            f"{key}: F1 {model['sentence_f1']} a sentence at a time, {model['paragraph_f1']} in paragraphs, "
            f"{model['space_f1']} in the Space; {model['spans_cutting_letters_share']:.1%} of spans cut a word"
        )
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(run(main))
