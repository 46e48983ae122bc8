"""The study report (workflow.report): results/REPORT.md from results/*.json, every number read from them,
linked from every card and shipped by the Space, written by the study's `report` step."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from card_fixtures import (
    ADAPTER_COST,
    CURVE,
    ERROR_ANALYSIS,
    F1_MATRIX,
    PARAGRAPH_F1,
    paragraph_check,
    section,
    table_rows,
    write_fake_results_dir,
)

from cards.context import REPORT_URL
from core import results as res
from core.cli import InputError
from core.facts import (
    BOOK_F1,
    BUNDLED_MODELS_DIR,
    EXPERIMENTS,
    LANGUAGE_NAMES,
    LANGUAGES,
    RESULTS_DIR,
    SPACE_ID,
)
from core.files import write_json
from core.results import REPORT_MD
from core.run_dir import CARD
from workflow.report import REPORT_INPUTS, main, render_report

# A number as the report prints one: "0.8624", "+0.0562", "-0.0030", "1,329,799", "10.1%", "43".
NUMBER = re.compile(r"(?<![\w.])[+-]?\d+(?:,\d{3})*(?:\.\d+)?%?")


@pytest.fixture(scope="module")
def fake_results(tmp_path_factory) -> Path:
    return write_fake_results_dir(tmp_path_factory.mktemp("results"))


@pytest.fixture(scope="module")
def report(fake_results) -> str:
    return render_report(fake_results)


def load(results_dir: Path) -> dict:
    return {name: json.loads((results_dir / name).read_text(encoding="utf-8")) for name in REPORT_INPUTS}


def numbers_from_the_json(results: dict) -> set[str]:
    """Every number the report may print, computed here from the result files (and the book's figures)
    independently of workflow.report: the report prints no other."""
    matrix, cost = results[res.F1_MATRIX_JSON], results[res.ADAPTER_COST_JSON]
    curve, errors = results[res.CURVE_JSON], results[res.ERROR_ANALYSIS_JSON]
    allowed = {f"{value:.4f}" for row in matrix.values() for value in row.values()}
    for name, book in BOOK_F1.items():
        allowed |= {f"{value:.3f}" for value in book.values()}
        allowed |= {
            f"{matrix[name][lang] - value:+.4f}" for lang, value in book.items() if lang in matrix.get(name, {})
        }
    allowed |= {f"{value:.4f}" for value in cost["f1"].values()} | {f"{cost['trainable_parameters']:,}"}
    if cost["seed"]:
        allowed |= {str(cost["seed"]["seed"])} | {f"{value:.4f}" for value in cost["seed"]["f1"].values()}
        allowed |= {f"{abs(value - cost['f1'][lang]):.4f}" for lang, value in cost["seed"]["f1"].items()}
    if cost.get("full_fine_tune"):
        full = cost["full_fine_tune"]
        allowed |= {f"{value:.4f}" for value in full["f1"].values()} | {f"{full['trainable']:,}"}
        allowed |= {f"{value - cost['f1'][lang]:+.4f}" for lang, value in full["f1"].items()}
        allowed.add(f"{full['trainable'] / cost['trainable_parameters']:.0f}")
    allowed |= {f"{curve['zero_shot_f1']:.4f}"}
    for point in curve["points"]:
        allowed |= {f"{point['train_samples']:,}", f"{point['f1']:.4f}", f"{point['f1'] - curve['zero_shot_f1']:+.4f}"}
    allowed |= {f"{errors['words']:,}", f"{errors['mean_loss']:.4f}"}
    allowed |= {f"{row['rate']:.1%}" for row in errors["top_confusions"]}
    allowed |= {text for row in errors["per_label"] for text in (f"{row['count']:,}", f"{row['mean']:.4f}")}
    paragraphs = results[res.PARAGRAPH_CHECK_JSON]
    for counts in paragraphs["documents"].values():
        allowed |= {f"{counts['documents']:,}"} | {f"{length:,}" for length in counts["characters"]}
    for model in paragraphs["models"].values():
        allowed |= {f"{model[key]:.4f}" for key in ("paragraph_f1", "sentence_f1", "space_f1")}
        allowed |= {
            f"{model[key]:.1%}" for key in ("spans_cutting_letters_share", "sentence_spans_cutting_letters_share")
        }
        allowed |= {str(model["window"]), str(model["stride"])}
    return allowed


def printed_numbers(report: str) -> list[str]:
    text = report.replace("chapter 4 of", "")  # the book's chapter, the one number that is not a result
    text = re.sub(r"\]\([^)]*\)", "]", text)  # link targets are file names
    return NUMBER.findall(text)


def assert_report_numbers_come_from(report: str, results: dict) -> None:
    printed = printed_numbers(report)
    assert printed, "the report prints numbers"
    stray = sorted(set(printed) - numbers_from_the_json(results))
    assert not stray, f"numbers in the report that no result file gives: {stray}"


def unbold(cell: str) -> str:
    return cell.strip("*")


# ---- The numbers are the JSON's ----


def test_every_number_comes_from_the_result_files(report, fake_results):
    assert_report_numbers_come_from(report, load(fake_results))


def test_the_number_check_catches_a_number_typed_by_hand(report, fake_results):
    with pytest.raises(AssertionError, match="0.9999"):
        assert_report_numbers_come_from(report.replace(f"{F1_MATRIX['fr']['fr']:.4f}", "0.9999"), load(fake_results))


def test_cross_lingual_table(report):
    rows = {row[0]: row[1:] for row in table_rows(section(report, "## Cross-lingual transfer"))}
    assert list(rows) == [f"`{name}`" for name in EXPERIMENTS]
    for name, scores in F1_MATRIX.items():
        trained, *cells = rows[f"`{name}`"]
        assert trained == " and ".join(", ".join(LANGUAGE_NAMES[lang] for lang in EXPERIMENTS[name]).rsplit(", ", 1))
        assert [unbold(cell) for cell in cells] == [f"{scores[lang]:.4f}" for lang in LANGUAGES]
    # The best score of each column, and only it, is bold.
    for i, lang in enumerate(LANGUAGES):
        best = max(scores[lang] for scores in F1_MATRIX.values())
        bold = [name for name in F1_MATRIX if rows[f"`{name}`"][1 + i].startswith("**")]
        assert bold == [name for name, scores in F1_MATRIX.items() if scores[lang] == best], lang


def test_book_table(report):
    rows = {row[0]: row[1:] for row in table_rows(section(report, "## The book's figures"))}
    for name, book in BOOK_F1.items():
        cells = rows[f"`{name}`"]
        assert cells[: len(LANGUAGES)] == [f"{book[lang]:.3f}" if lang in book else "–" for lang in LANGUAGES]
        assert cells[len(LANGUAGES) :] == [
            f"{F1_MATRIX[name][lang] - book[lang]:+.4f}" if lang in book else "–" for lang in LANGUAGES
        ]


def test_seed_and_full_fine_tune(report):
    cost = section(report, "## A second seed and a full fine-tune")
    rows = {row[0]: row[1:] for row in table_rows(cost)}
    full = ADAPTER_COST["full_fine_tune"]
    assert rows["preset `e5`"] == ["1,329,799"] + [f"{ADAPTER_COST['f1'][lang]:.4f}" for lang in LANGUAGES]
    assert rows["preset `e5`, seed 43"][1:] == [f"{ADAPTER_COST['seed']['f1'][lang]:.4f}" for lang in LANGUAGES]
    assert rows["full fine-tune, preset `e5-full`"] == [f"{full['trainable']:,}"] + [
        f"{full['f1'][lang]:.4f}" for lang in LANGUAGES
    ]
    assert rows["full fine-tune − recipe"][1:] == [
        f"{full['f1'][lang] - ADAPTER_COST['f1'][lang]:+.4f}" for lang in LANGUAGES
    ]
    flat = " ".join(cost.split())
    assert (
        "On German, the language it was trained on, the full fine-tune (preset `e5-full`) scores +0.0128 F1 "
        "against the recipe's model, training 88 times as many parameters."
    ) in flat
    assert "A second seed (43) moves F1 by at most 0.0090 (English)" in flat


def test_a_study_without_second_seed_or_full_fine_tune(tmp_path):
    results = write_fake_results_dir(tmp_path / "results")
    write_json(
        results / res.ADAPTER_COST_JSON,
        {**{k: v for k, v in ADAPTER_COST.items() if k != "full_fine_tune"}, "seed": None},
    )
    cost = section(render_report(results), "## A second seed and a full fine-tune")
    assert [row[0] for row in table_rows(cost)] == ["preset `e5`"]
    flat = " ".join(cost.split())
    assert "The study has no full fine-tune of this base" in flat and "no second-seed run yet" in flat


def test_few_shot_curve(report):
    curve = section(report, "## French with few training sentences")
    assert [row for row in table_rows(curve)] == [
        [f"{point['train_samples']:,}", f"{point['f1']:.4f}", f"{point['f1'] - CURVE['zero_shot_f1']:+.4f}"]
        for point in CURVE["points"]
    ]
    flat = " ".join(curve.split())
    assert f"beside the `de` model's zero-shot French F1 of {CURVE['zero_shot_f1']:.4f}" in flat
    # 250 sentences score below the zero-shot transfer in the fixture; 500 is the first above it.
    assert "The smallest French training set that beats the zero-shot transfer has 500 sentences." in flat


def test_error_analysis(report):
    errors = section(report, "## Error analysis of the `de` model")
    assert [row for row in table_rows(errors)] == [
        [f"`{row['label']}`", f"{row['count']:,}", f"{row['mean']:.4f}"] for row in ERROR_ANALYSIS["per_label"]
    ]
    flat = " ".join(errors.split())
    assert f"On {ERROR_ANALYSIS['words']:,} German validation words" in flat
    assert "23.1% of `I-ORG` words tagged `O`; 10.3% of `B-ORG` words tagged `B-LOC`" in flat


def paragraph_rows(report: str) -> dict[str, list[str]]:
    return {row[0]: row[1:] for row in table_rows(section(report, "## Paragraphs of running text"))}


def expected_paragraph_rows(check: dict) -> dict[str, list[str]]:
    """The paragraph table as the report should display paragraph_check.json (independently of workflow.report)."""
    return {
        f"`{name}`": [
            f"{model['window']}, {model['stride']}",
            f"{model['paragraph_f1']:.4f}",
            f"{model['sentence_f1']:.4f}",
            f"{model['space_f1']:.4f}",
            f"{model['spans_cutting_letters_share']:.1%}",
            f"{model['sentence_spans_cutting_letters_share']:.1%}",
        ]
        for name, model in check["models"].items()
    }


def test_paragraphs_of_running_text(report):
    paragraphs = section(report, "## Paragraphs of running text")
    header = (
        "| Model | Window, stride | Paragraphs, pipeline | One sentence at a time, pipeline | "
        "Paragraphs, the Space's tagger |"
    )
    assert header in paragraphs
    rows = paragraph_rows(report)
    assert list(rows) == [f"`{name}`" for name in EXPERIMENTS]
    assert rows == expected_paragraph_rows(paragraph_check())
    assert rows["`de`"] == ["512, 128", "0.5271", "0.7868", "0.7394", "18.3%", "2.3%"]
    flat = " ".join(paragraphs.split())
    assert "into documents of 2,246 to 6,383 characters (2 German, 2 French, 1 Italian and 2 English)." in flat
    assert (
        'the plain `pipeline(aggregation_strategy="simple", stride=...)` on each whole document, in the windows' in flat
    )
    # en scores higher on paragraphs in the fixture: the report counts, it does not assume.
    lower = sum(paragraph < sentence for paragraph, sentence, *_ in PARAGRAPH_F1.values())
    assert lower == 5 and "Five of the six models score lower with the plain pipeline on whole paragraphs" in flat


def test_every_model_lower_on_paragraphs_is_said_so(tmp_path):
    results = write_fake_results_dir(tmp_path / "results")
    check = paragraph_check()
    check["models"]["en"]["paragraph_f1"] = 0.5
    write_json(results / res.PARAGRAPH_CHECK_JSON, check)
    flat = " ".join(section(render_report(results), "## Paragraphs of running text").split())
    assert "Every model scores lower with the plain pipeline on whole paragraphs than one sentence at a time." in flat


# ---- The committed report ----


def test_the_committed_report_is_current_and_its_numbers_are_the_results():
    committed = (RESULTS_DIR / REPORT_MD).read_text(encoding="utf-8")
    assert committed == render_report(RESULTS_DIR), "results/REPORT.md is stale: python -m workflow.study --only report"
    assert_report_numbers_come_from(committed, load(RESULTS_DIR))
    matrix = json.loads((RESULTS_DIR / res.F1_MATRIX_JSON).read_text(encoding="utf-8"))
    rows = {
        row[0]: [unbold(cell) for cell in row[2:]]
        for row in table_rows(section(committed, "## Cross-lingual transfer"))
    }
    assert rows == {f"`{name}`": [f"{scores[lang]:.4f}" for lang in LANGUAGES] for name, scores in matrix.items()}
    check = json.loads((RESULTS_DIR / res.PARAGRAPH_CHECK_JSON).read_text(encoding="utf-8"))
    assert paragraph_rows(committed) == expected_paragraph_rows(check)


def test_the_report_is_linked_from_every_card_and_shipped_with_the_space():
    from workflow.space_folder import RESULTS, SHOWN_RESULTS

    # The link points at the Space repo's copy of results/REPORT.md, which the Space folder ships.
    assert REPORT_URL == f"https://huggingface.co/spaces/{SPACE_ID}/blob/main/{RESULTS}/{REPORT_MD}"
    assert REPORT_MD in SHOWN_RESULTS
    for experiment in EXPERIMENTS:
        assert f"]({REPORT_URL})" in (BUNDLED_MODELS_DIR / experiment / CARD).read_text(encoding="utf-8"), experiment
    # The plots it links sit beside it, in the repo and in the Space folder.
    committed = (RESULTS_DIR / REPORT_MD).read_text(encoding="utf-8")
    plots = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", committed)
    assert plots == list(res.PLOTS)
    assert all((RESULTS_DIR / plot).is_file() and plot in SHOWN_RESULTS for plot in plots)


# ---- Bad input, the command line and the study step ----


@pytest.mark.parametrize(
    "name, content, problem",
    [
        (res.CURVE_JSON, None, "is missing; it is written by python -m workflow.study --only curve"),
        (res.ADAPTER_COST_JSON, {k: v for k, v in ADAPTER_COST.items() if k != "seed"}, "lacks 'seed'"),
        (res.ERROR_ANALYSIS_JSON, "not json", "is not valid JSON"),
        (res.PARAGRAPH_CHECK_JSON, None, "is missing; it is written by python -m workflow.study --only paragraph"),
        (
            res.PARAGRAPH_CHECK_JSON,
            {k: v for k, v in paragraph_check().items() if k != "languages"},
            "lacks 'languages'",
        ),
        (
            res.PARAGRAPH_CHECK_JSON,
            {**paragraph_check(), "models": {"de": {"paragraph_f1": 0.5}}},
            "lacks 'weights', 'window', 'stride', 'documents', 'sentence_f1', 'space_f1', "
            "'spans_cutting_letters_share', 'sentence_spans_cutting_letters_share' in models.de",
        ),
    ],
)
def test_a_missing_or_malformed_result_names_the_file_and_its_step(tmp_path, name, content, problem):
    results = write_fake_results_dir(tmp_path / "results")
    if content is None:
        (results / name).unlink()
    elif isinstance(content, str):
        (results / name).write_text(content, encoding="utf-8")
    else:
        write_json(results / name, content)
    with pytest.raises(InputError) as err:
        render_report(results)
    assert name in str(err.value) and problem in str(err.value)


def test_cli_writes_the_report(tmp_path, report, capsys):
    results = write_fake_results_dir(tmp_path / "results")
    assert main(["--results", str(results)]) == 0
    assert capsys.readouterr().out.strip() == str(results / REPORT_MD)
    assert (results / REPORT_MD).read_text(encoding="utf-8") == report


def test_the_study_writes_the_report_from_the_results_of_earlier_steps(tmp_path, data_dir):
    from training.presets import get_preset
    from workflow.study import REPORT_CODE, Study

    results = write_fake_results_dir(tmp_path / "results")
    steps = Study(get_preset("smoke"), tmp_path / "runs", results, tmp_path / "models", data_dir).steps()
    names = [step.name for step in steps]
    report = steps[names.index("report")]
    assert report.inputs == [*(results / name for name in REPORT_INPUTS), *REPORT_CODE]
    assert report.outputs == [results / REPORT_MD]
    made_before = {path for step in steps[: names.index("report")] for path in step.outputs}
    assert {results / name for name in REPORT_INPUTS} <= made_before
    report.run()
    assert (results / REPORT_MD).read_text(encoding="utf-8") == render_report(results)
