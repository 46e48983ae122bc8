"""PAN-X data: load each language (Hub or parquet), validate it, carve a labelled test split,
subsample with the Swiss fractions, and summarise.

    python -m training.data summary [--data-dir DIR]

The offline layout (see ../shared/data/panx/PROVENANCE.md) is
    DIR/PAN-X.{lang}/train.parquet, validation.parquet[, test_unlabelled.parquet]
with columns tokens: list<string>, ner_tags: list<int> (ids into facts.LABELS).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from datasets import (
    ClassLabel,
    Dataset,
    DatasetDict,
    Features,
    List,
    Value,
    concatenate_datasets,
    disable_progress_bars,
)

from core.bio import tag_spans
from core.cli import InputError, run
from core.facts import (
    CARVE_SEED,
    ENTITY_TYPES,
    EXPERIMENTS,
    HUB_DATASET,
    LABELS,
    LANGUAGES,
    PANX_TRAIN_ROWS,
    SHUFFLE_SEED,
    SWISS_FRACTIONS,
    check_experiment,
    check_language,
    dataset_config,
    default_data_dir,
)

SPLITS = ("train", "validation", "test")
PARQUET_SOURCE = "parquet"
FEATURES = Features({"tokens": List(Value("string")), "ner_tags": List(ClassLabel(names=list(LABELS)))})
EXPECTED_LAYOUT = (
    "expected DIR/PAN-X.{lang}/train.parquet and DIR/PAN-X.{lang}/validation.parquet "
    f"for lang in {', '.join(LANGUAGES)}, with columns tokens (list of strings) and ner_tags "
    f"(list of ints 0..{len(LABELS) - 1}); see ../shared/data/panx/PROVENANCE.md"
)


class DataError(InputError):
    """PAN-X data is missing or not shaped as expected."""


@dataclass
class LanguageData:
    """One language's labelled splits, before any subsampling."""

    lang: str
    splits: DatasetDict  # train, validation, test: all labelled
    test_carved_from_validation: bool
    source: str  # "hub" or "parquet" (never the folder: run directories are published)


# --- loading -------------------------------------------------------------------------------


def validate(ds: Dataset, where: str) -> Dataset:
    """Check columns and tag ids, then cast ner_tags to the PAN-X ClassLabel."""
    missing = {"tokens", "ner_tags"} - set(ds.column_names)
    if missing:
        raise DataError(f"{where}: missing column(s) {sorted(missing)} (has {ds.column_names}); {EXPECTED_LAYOUT}")
    tags = ds.data.column("ner_tags").combine_chunks()
    tokens = ds.data.column("tokens").combine_chunks()
    values = np.asarray(tags.flatten())
    if values.size and (values.min() < 0 or values.max() >= len(LABELS)):
        bad = int(values[(values < 0) | (values >= len(LABELS))][0])
        raise DataError(f"{where}: tag id {bad} is out of range 0..{len(LABELS) - 1} ({', '.join(LABELS)})")
    if not np.array_equal(np.diff(np.asarray(tags.offsets)), np.diff(np.asarray(tokens.offsets))):
        raise DataError(f"{where}: tokens and ner_tags differ in length in some rows")
    return ds.select_columns(["tokens", "ner_tags"]).cast(FEATURES)


def carve_test(validation: Dataset, seed: int = CARVE_SEED) -> tuple[Dataset, Dataset]:
    """Split labelled validation 50/50 into (validation, test), each kept in the original order."""
    order = np.random.default_rng(seed).permutation(len(validation))
    half = len(validation) // 2
    test_idx, val_idx = np.sort(order[:half]), np.sort(order[half:])
    return validation.select(val_idx), validation.select(test_idx)


def _read_parquet(path: Path, where: str) -> Dataset:
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except Exception as err:  # pyarrow raises many types for a broken file
        raise DataError(f"{where}: cannot read {path} as parquet ({type(err).__name__}: {err})") from err
    if table.num_rows == 0:
        raise DataError(f"{where}: {path} has no rows; {EXPECTED_LAYOUT}")
    return Dataset(table)


def load_language(lang: str, data_dir: str | Path | None = None) -> LanguageData:
    """Load one language: from parquet when data_dir is given, else from the Hub."""
    check_language(lang)
    if data_dir is None:
        return _load_from_hub(lang)
    folder = Path(data_dir) / dataset_config(lang)
    if not Path(data_dir).is_dir():
        raise DataError(f"data folder {data_dir} does not exist; {EXPECTED_LAYOUT}")
    for name in ("train", "validation"):
        if not (folder / f"{name}.parquet").is_file():
            raise DataError(f"{folder / (name + '.parquet')} is missing; {EXPECTED_LAYOUT}")
    train = validate(_read_parquet(folder / "train.parquet", f"{lang}/train"), f"{folder}/train.parquet")
    val = validate(_read_parquet(folder / "validation.parquet", f"{lang}/validation"), f"{folder}/validation.parquet")
    labelled_test = folder / "test.parquet"
    if labelled_test.is_file():
        test_raw = _read_parquet(labelled_test, f"{lang}/test")
        if "ner_tags" in test_raw.column_names:
            test = validate(test_raw, str(labelled_test))
            return LanguageData(lang, DatasetDict(train=train, validation=val, test=test), False, PARQUET_SOURCE)
    val, test = carve_test(val)
    return LanguageData(lang, DatasetDict(train=train, validation=val, test=test), True, PARQUET_SOURCE)


def _load_from_hub(lang: str) -> LanguageData:
    from datasets import load_dataset

    config = dataset_config(lang)
    try:
        raw = load_dataset(HUB_DATASET, config)
    except Exception as err:
        raise DataError(
            f"could not load {HUB_DATASET} {config} from the Hugging Face Hub ({type(err).__name__}: {err}). "
            "Offline? Pass --data-dir DIR or set PANX_DATA_DIR to a PAN-X parquet folder."
        ) from err
    names = raw["train"].features["ner_tags"].feature.names
    if list(names) != list(LABELS):
        raise DataError(f"{HUB_DATASET} {config} tags {names} differ from panx-ner's {list(LABELS)}")
    splits = DatasetDict({s: validate(raw[s], f"{HUB_DATASET} {config} {s}") for s in SPLITS})
    return LanguageData(lang, splits, False, "hub")


# --- the book's subsampling ------------------------------------------------------------------


def swiss_rows(rows: int, fraction: float) -> int:
    """How many of a split's rows the book's subsample keeps."""
    return int(fraction * rows)


def swiss_sample(ds: Dataset, fraction: float, seed: int = SHUFFLE_SEED) -> Dataset:
    """The book's subsample: shuffle(seed=0) then the first swiss_rows(len, fraction) rows."""
    return ds.shuffle(seed=seed).select(range(swiss_rows(len(ds), fraction)))


def entity_counts(ds: Dataset) -> dict[str, int]:
    """Entities per type, counted by their B- tags (as the book does)."""
    tags = ds.with_format("arrow")[:].column("ner_tags").combine_chunks().flatten()  # arrow: 10x faster than rows
    counts = np.bincount(np.asarray(tags), minlength=len(LABELS))
    return {etype: int(counts[LABELS.index(f"B-{etype}")]) for etype in ENTITY_TYPES}


def split_summary(ds: Dataset) -> dict:
    return {"rows": len(ds), "entities": entity_counts(ds)}


@dataclass
class ExperimentData:
    """Everything one experiment trains and evaluates on."""

    experiment: str
    train: Dataset  # sampled train splits of the training languages (with a lang column), concatenated and shuffled
    validation: Dataset  # sampled validation splits of the training languages
    test: dict[str, Dataset]  # sampled test split of every language
    per_language: dict[str, DatasetDict]  # sampled splits of every language
    test_carved_from_validation: bool
    source: str
    # Sampled train splits of the languages the experiment has no labels for, read without them
    # (preset unlabelled_text); None when it reads none.
    unlabelled: Dataset | None = None

    def summary(self) -> dict:
        unlabelled = {} if self.unlabelled is None else {"unlabelled_sentences": dict(Counter(self.unlabelled["lang"]))}
        return {
            "experiment": self.experiment,
            "train_languages": list(EXPERIMENTS[self.experiment]),
            **unlabelled,
            "source": self.source,
            "test_carved_from_validation": self.test_carved_from_validation,
            "carve_seed": CARVE_SEED,
            "shuffle_seed": SHUFFLE_SEED,
            "fractions": {lang: SWISS_FRACTIONS[lang] for lang in self.per_language},
            "splits": {
                lang: {split: split_summary(dd[split]) for split in SPLITS} for lang, dd in self.per_language.items()
            },
            "examples": entity_examples(self.train),
        }


def load_sampled(lang: str, data_dir: str | Path | None) -> tuple[DatasetDict, LanguageData]:
    raw = load_language(lang, data_dir)
    # The column is added before sampling: added to a sampled split, it would copy the whole split.
    splits = {**raw.splits, "train": with_language(raw.splits["train"], lang)}
    sampled = DatasetDict({s: swiss_sample(splits[s], SWISS_FRACTIONS[lang]) for s in SPLITS})
    return sampled, raw


def train_rows(experiment: str, data_dir: str | Path | None = None, max_train_samples: int | None = None) -> int:
    """How many sentences an experiment trains on, read from the parquet files' metadata (nothing is
    loaded); from the Hub, PAN-X's train split has PANX_TRAIN_ROWS per language."""
    import pyarrow.parquet as pq

    rows = 0
    for lang in check_experiment(experiment):
        path = Path(data_dir) / dataset_config(lang) / "train.parquet" if data_dir is not None else None
        size = pq.read_metadata(path).num_rows if path is not None and path.is_file() else PANX_TRAIN_ROWS
        rows += swiss_rows(size, SWISS_FRACTIONS[lang])
    return min(rows, max_train_samples) if max_train_samples is not None else rows


def load_experiment(
    experiment: str,
    data_dir: str | Path | None = None,
    max_train_samples: int | None = None,
    eval_languages: tuple[str, ...] = LANGUAGES,
    unlabelled_languages: tuple[str, ...] = (),
) -> ExperimentData:
    """unlabelled_languages: languages whose sampled train sentences come along in `unlabelled`."""
    train_langs = check_experiment(experiment)
    per_language, carved, source = {}, False, "hub"
    for lang in dict.fromkeys(train_langs + tuple(eval_languages) + tuple(unlabelled_languages)):
        per_language[lang], raw = load_sampled(lang, data_dir)
        carved |= raw.test_carved_from_validation
        source = raw.source
    # Each training sentence keeps its language (load_sampled): running text is spaced by its rules.
    train = concatenate_datasets([per_language[lang]["train"] for lang in train_langs])
    if len(train_langs) > 1:  # the book shuffles the multilingual corpus so batches mix languages
        train = train.shuffle(seed=SHUFFLE_SEED)
    if max_train_samples is not None:
        train = train.select(range(min(max_train_samples, len(train))))
    validation = concatenate_datasets([per_language[lang]["validation"] for lang in train_langs])
    test = {lang: per_language[lang]["test"] for lang in eval_languages}
    unlabelled = (
        concatenate_datasets([per_language[lang]["train"] for lang in unlabelled_languages])
        if unlabelled_languages
        else None
    )
    return ExperimentData(experiment, train, validation, test, per_language, carved, source, unlabelled)


def with_language(ds: Dataset, lang: str) -> Dataset:
    """ds with a column lang that names its language on every row."""
    return ds.add_column("lang", [lang] * len(ds))


def entity_examples(ds: Dataset, per_type: int = 3) -> dict[str, list[str]]:
    """The first few distinct entity surface strings of each type, for the card's label table."""
    found: dict[str, list[str]] = {etype: [] for etype in ENTITY_TYPES}
    for tokens, tags in zip(ds["tokens"], ds["ner_tags"]):
        for start, end, etype in tag_spans([LABELS[t] for t in tags]):
            text = " ".join(tokens[start:end])
            if text not in found[etype] and len(found[etype]) < per_type:
                found[etype].append(text)
        if all(len(v) >= per_type for v in found.values()):
            break
    return found


def summarise(data_dir: str | Path | None) -> dict:
    """Rows and entities of every language and split after the Swiss subsampling."""
    out: dict = {"data_dir": str(data_dir) if data_dir else "hub", "languages": {}}
    for lang in LANGUAGES:
        sampled, raw = load_sampled(lang, data_dir)
        out["languages"][lang] = {split: split_summary(sampled[split]) for split in SPLITS}
        out["languages"][lang]["test_carved_from_validation"] = raw.test_carved_from_validation
        out["languages"][lang]["fraction"] = SWISS_FRACTIONS[lang]
        out["languages"][lang]["first_train_sentence"] = " ".join(sampled["train"][0]["tokens"])
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.data", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    summary = sub.add_parser("summary", help="print rows and entity counts per language and split as JSON")
    summary.add_argument(
        "--data-dir", default=None, help="PAN-X parquet folder (default: $PANX_DATA_DIR or ../shared/data/panx)"
    )
    args = parser.parse_args(argv)
    disable_progress_bars()  # keep stdout pure JSON
    print(json.dumps(summarise(args.data_dir or default_data_dir()), indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(run(main))
