"""PAN-X loading, validation, carving and the book's subsample, on the shared parquet and tiny fixtures."""

import json

import pandas as pd
import pytest

from core.facts import LABELS, SWISS_FRACTIONS
from training.data import DataError, carve_test, entity_counts, load_experiment, load_language, main, swiss_sample


def write_panx(root, lang="de", train=None, validation=None):
    folder = root / f"PAN-X.{lang}"
    folder.mkdir(parents=True)
    rows = train or [{"tokens": ["Jeff", "Dean", "lebt", "in", "Berlin"], "ner_tags": [1, 2, 0, 0, 5]}] * 4
    pd.DataFrame(rows).to_parquet(folder / "train.parquet")
    pd.DataFrame(validation or rows).to_parquet(folder / "validation.parquet")
    return root


def test_german_train_split_is_the_books(data_dir):
    de = load_language("de", data_dir)
    train = swiss_sample(de.splits["train"], SWISS_FRACTIONS["de"])
    assert len(train) == 12580
    assert entity_counts(train) == {"PER": 5810, "ORG": 5366, "LOC": 6186}
    assert (
        " ".join(train[0]["tokens"])
        == "2.000 Einwohnern an der Danziger Bucht in der polnischen Woiwodschaft Pommern ."
    )
    assert train[0]["ner_tags"] == [0, 0, 0, 0, 5, 6, 0, 0, 5, 5, 6, 0]


def test_test_split_is_carved_from_validation_without_overlap(data_dir):
    de = load_language("de", data_dir)
    assert de.test_carved_from_validation
    assert len(de.splits["validation"]) == len(de.splits["test"]) == 5000
    assert de.splits["train"].features["ner_tags"].feature.names == list(LABELS)
    # Deterministic: the same seed carves the same test split.
    again = load_language("de", data_dir)
    assert again.splits["test"]["tokens"][:50] == de.splits["test"]["tokens"][:50]


def test_carve_is_a_partition():
    from datasets import Dataset

    ds = Dataset.from_dict({"i": list(range(11))})
    val, test = carve_test(ds, seed=3)
    assert sorted(list(val["i"]) + list(test["i"])) == list(range(11))
    assert len(test) == 5 and list(val["i"]) == sorted(val["i"])


def test_experiment_sizes_follow_swiss_fractions(data_dir):
    data = load_experiment("de-fr", data_dir)
    assert len(data.train) == 12580 + 4580
    assert set(data.test) == {"de", "fr", "it", "en"}
    assert len(data.test["it"]) == int(0.084 * 5000)
    summary = data.summary()
    assert summary["splits"]["de"]["train"]["rows"] == 12580
    assert summary["test_carved_from_validation"] is True
    assert all(summary["examples"][t] for t in ("PER", "ORG", "LOC"))


def test_summary_cli_prints_json(data_dir, capsys):
    assert main(["summary", "--data-dir", str(data_dir)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["languages"]["de"]["train"] == {"rows": 12580, "entities": {"PER": 5810, "ORG": 5366, "LOC": 6186}}
    assert out["languages"]["fr"]["test_carved_from_validation"] is True


def test_missing_folder_names_the_layout(tmp_path):
    with pytest.raises(DataError, match="PAN-X.{lang}/train.parquet"):
        load_language("de", tmp_path / "nowhere")
    with pytest.raises(DataError, match="PAN-X.fr/train.parquet is missing"):
        load_language("fr", write_panx(tmp_path, "de"))


def test_unknown_language_lists_valid_ones(tmp_path):
    with pytest.raises(ValueError, match="valid languages: de, fr, it, en"):
        load_language("es", tmp_path)


def test_wrong_columns_and_out_of_range_tags(tmp_path):
    write_panx(tmp_path / "a", train=[{"words": ["x"], "ner_tags": [0]}])
    with pytest.raises(DataError, match=r"missing column\(s\) \['tokens'\]"):
        load_language("de", tmp_path / "a")
    write_panx(tmp_path / "b", train=[{"tokens": ["x", "y"], "ner_tags": [0, 9]}])
    with pytest.raises(DataError, match="tag id 9 is out of range 0..6"):
        load_language("de", tmp_path / "b")
    write_panx(tmp_path / "c", train=[{"tokens": ["x", "y"], "ner_tags": [0]}])
    with pytest.raises(DataError, match="differ in length"):
        load_language("de", tmp_path / "c")


def test_broken_parquet_is_reported(tmp_path):
    write_panx(tmp_path)
    (tmp_path / "PAN-X.de" / "train.parquet").write_bytes(b"not parquet")
    with pytest.raises(DataError, match="cannot read"):
        load_language("de", tmp_path)


def test_labelled_test_parquet_is_used_instead_of_carving(tmp_path):
    write_panx(tmp_path)
    pd.DataFrame([{"tokens": ["Paris"], "ner_tags": [5]}]).to_parquet(tmp_path / "PAN-X.de" / "test.parquet")
    de = load_language("de", tmp_path)
    assert not de.test_carved_from_validation
    assert de.splits["test"]["tokens"] == [["Paris"]]
    assert len(de.splits["validation"]) == 4
