"""The study end to end on a tiny base: every step's outputs, skipping, resuming and bad input."""

import json

import pytest
from transformers import pipeline

from training.facts import EXPERIMENTS, LANGUAGES
from training.study import FR_CURVE_SIZES, main


@pytest.fixture(scope="module")
def tiny_base(tmp_path_factory, data_dir):
    from training.pretrain import main as pretrain

    out = tmp_path_factory.mktemp("base") / "panx-xlmr-mini"
    pretrain(["--preset", "smoke", "--data-dir", str(data_dir), "--output-dir", str(out), "--quiet"])
    return out


@pytest.fixture(scope="module")
def study(tmp_path_factory, tiny_base, data_dir):
    root = tmp_path_factory.mktemp("study")
    argv = ["--base-model", str(tiny_base), "--preset", "mini", "--data-dir", str(data_dir),
            "--output-dir", str(root / "runs"), "--results-dir", str(root / "results"), "--models-dir", str(root / "models"),
            "--train-arg=--num-epochs=1", "--train-arg=--max-train-samples=48", "--train-arg=--max-eval-samples=24"]
    # fr-curve trains on up to 4000 sentences; keep that cheap with the same tiny base.
    assert main(argv) == 0
    return root, argv


def test_matrix_is_six_by_four(study):
    root, _ = study
    matrix = json.loads((root / "results" / "f1_matrix.json").read_text())
    assert list(matrix) == list(EXPERIMENTS)
    assert all(list(row) == list(LANGUAGES) and all(0 <= v <= 1 for v in row.values()) for row in matrix.values())
    markdown = (root / "results" / "f1_matrix.md").read_text()
    assert "| de | 0.868 | 0.714 | 0.692 | 0.589 |" in markdown  # the book's figures beside ours
    assert (root / "results" / "f1_matrix.png").stat().st_size > 5000


def test_learning_curve_and_error_analysis(study):
    root, _ = study
    curve = json.loads((root / "results" / "fr_learning_curve.json").read_text())
    assert [p["train_samples"] for p in curve["points"]] == list(FR_CURVE_SIZES)
    de_fr = json.loads((root / "runs" / "de" / "eval_results.json").read_text())["languages"]["fr"]["f1"]
    assert curve["zero_shot_f1"] == round(de_fr, 4)
    analysis = root / "results" / "error_analysis"
    assert {"README.md", "confusion_matrix.png", "error_analysis.json"} <= {p.name for p in analysis.iterdir()}
    report = (analysis / "README.md").read_text()
    assert "highest total loss" in report and "parenthesis" in report
    details = json.loads((analysis / "error_analysis.json").read_text())
    assert len(details["confusion_normalised"]) == 7
    assert {row["label"] for row in details["per_label"]} == {"O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC"}


def test_downstream_is_recorded(study):
    root, _ = study
    downstream = json.loads((root / "results" / "pretraining.json").read_text())["downstream"]
    assert set(downstream) >= {"de_f1_pretrained", "de_f1_random_init"}
    ours = json.loads((root / "runs" / "de" / "eval_results.json").read_text())["languages"]["de"]["f1"]
    assert downstream["de_f1_pretrained"] == round(ours, 4)


def test_bundled_models_load_in_pipeline_with_cards(study):
    root, _ = study
    for exp in EXPERIMENTS:
        folder = root / "models" / exp
        assert (folder / "README.md").read_text().startswith("---")
        assert (folder / "plots" / "f1_matrix.png").is_file()
    ner = pipeline("token-classification", model=str(root / "models" / "de"), aggregation_strategy="simple")
    assert isinstance(ner("Jeff Dean ist ein Informatiker bei Google in Kalifornien"), list)


def test_rerun_skips_finished_steps(study, capsys):
    root, argv = study
    before = (root / "runs" / "de" / "model.safetensors").stat().st_mtime_ns
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert "[skip] train-de: outputs exist" in err and "[skip] bundle: outputs exist" in err
    assert (root / "runs" / "de" / "model.safetensors").stat().st_mtime_ns == before
    timings = json.loads((root / "results" / "study.json").read_text())
    assert timings["device"].startswith(("cpu", "cuda")) and "train-all" in timings["steps"]


def test_interrupted_step_is_redone(study, capsys):
    root, argv = study
    (root / "results" / "f1_matrix.png").unlink()
    assert main(argv + ["--only", "matrix"]) == 0
    assert (root / "results" / "f1_matrix.png").is_file()


def test_bad_input(tmp_path, capsys):
    assert main(["--base-model", str(tmp_path / "missing-base")]) == 2
    assert "make it with python -m training.pretrain" in capsys.readouterr().err
    base = tmp_path / "base"
    base.mkdir()
    (base / "config.json").write_text("{}")
    assert main(["--base-model", str(base), "--only", "nonsense", "--results-dir", str(tmp_path / "r")]) == 2
    assert "unknown step" in capsys.readouterr().err
