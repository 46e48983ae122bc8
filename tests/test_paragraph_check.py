"""The paragraph check (workflow.paragraph_check): documents of running text, their scoring on hand-made
data, one real model on one document past the pipeline's 512-subword window, and its study step."""

from __future__ import annotations

import pytest

from core.facts import BUNDLED_MODELS_DIR, LABEL2ID, LANGUAGES
from training.running_text import join_passages, sentence_passage
from workflow.paragraph_check import Tally, build_documents, gold_spans, is_prose, score_documents

OUT, B_PER, I_PER, B_ORG, B_LOC = (LABEL2ID[t] for t in ("O", "B-PER", "I-PER", "B-ORG", "B-LOC"))


def document():
    """ "Jeff Dean arbeitet bei Google. Er lebt in Zürich." with its gold entities."""
    first = sentence_passage("Jeff Dean arbeitet bei Google .".split(), [B_PER, I_PER, OUT, OUT, B_ORG, OUT], "de")
    second = sentence_passage("Er lebt in Zürich .".split(), [OUT, OUT, OUT, B_LOC, OUT], "de")
    return join_passages([first, second])


def test_gold_spans_are_character_spans_of_the_running_text():
    doc = document()
    assert doc.text == "Jeff Dean arbeitet bei Google. Er lebt in Zürich."
    assert gold_spans(doc) == {(0, 9, "PER"), (23, 29, "ORG"), (42, 48, "LOC")}


def test_prose_is_a_sentence_without_wiki_markup():
    assert is_prose("Er lebt seit 1990 in Zürich .".split())
    assert not is_prose("Osjorsk ( Kaliningrad )".split())  # a title, no full stop
    assert not is_prose("der Verband tagt in Bonn .".split())  # a fragment
    assert not is_prose("' '' Ozark Henry '' ' ist gut .".split())
    assert not is_prose("Er lebt .".split())  # too short to count


def test_documents_take_consecutive_sentences_up_to_spread_targets():
    sentences = [sentence_passage(f"Satz {i} .".split(), [OUT] * 3, "de") for i in range(5)]
    docs = build_documents(sentences, [100] * 5, documents=3, min_tokens=150, max_tokens=250)
    # Targets 150, 200, 250: two sentences, two more, then one left, short of 150: no third document.
    assert [d.text for d in docs] == ["Satz 0. Satz 1.", "Satz 2. Satz 3."]
    assert build_documents(sentences, [100] * 5, documents=1, min_tokens=600, max_tokens=600) == []


class FakePipeline:
    """pipeline(aggregation_strategy="simple") as the check calls it: a text (with stride), or a list of
    sentences; Zürich is cut after "Zür" in the paragraph, and one sentence at a time too if sentence_cut."""

    def __init__(self, sentence_cut: bool = False):
        self.sentence_cut = sentence_cut

    def __call__(self, inputs, stride=None, batch_size=None):
        if isinstance(inputs, str):
            assert stride == 128
            return [entity("PER", 0, 9), entity("ORG", 23, 29), entity("LOC", 42, 45)]
        assert inputs == ["Jeff Dean arbeitet bei Google.", "Er lebt in Zürich."]
        zurich = entity("LOC", 10, 13) if self.sentence_cut else entity("LOC", 10, 17)  # a leading space, trimmed
        return [[entity("PER", 0, 9), entity("ORG", 23, 29)], [zurich]]


def entity(kind: str, start: int, end: int) -> dict:
    return {"entity_group": kind, "start": start, "end": end, "score": 0.9}


def test_three_paths_are_scored_on_exact_character_spans():
    tally, examples = Tally(), []
    tagger = lambda text: {"text": text, "entities": [entity("PER", 0, 9)]}
    score_documents(FakePipeline(), tagger, [document()], 128, tally, examples)
    summary = tally.summary()
    assert summary["documents"] == 1 and summary["entities"] == 3
    assert (summary["paragraph_f1"], summary["sentence_f1"], summary["space_f1"]) == (0.6667, 1.0, 0.5)
    assert (summary["spans_inside_words"], summary["spans_cutting_letters"]) == (1, 1)
    assert summary["spans_cutting_letters_share"] == round(1 / 3, 4)
    assert summary["sentence_spans_cutting_letters_share"] == 0.0
    assert examples == [{"span": "Zür", "type": "LOC", "context": document().text[2:]}]
    total = Tally.total([tally, tally]).summary()
    assert total["documents"] == 2 and total["paragraph_f1"] == summary["paragraph_f1"]


def test_words_cut_one_sentence_at_a_time_are_counted_apart():
    tally = Tally()
    score_documents(FakePipeline(sentence_cut=True), lambda text: {"entities": []}, [document()], 128, tally, [])
    summary = tally.summary()
    assert summary["sentence_f1"] == summary["paragraph_f1"] == 0.6667
    assert summary["sentence_spans_cutting_letters_share"] == summary["spans_cutting_letters_share"] == round(1 / 3, 4)
    assert Tally.total([tally, Tally()]).summary()["sentence_spans_cutting_letters_share"] == round(1 / 3, 4)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--documents", "0"], "--documents must be at least 1"),
        (["--min-tokens", "900", "--max-tokens", "600"], "--min-tokens <= --max-tokens"),
        (["--stride", "300"], "--stride must be between 0 and 255"),
        (["--window", "8"], "--window must be between 16 and 512 subwords, not 8"),
        (["--models-dir", "/nonexistent/models"], "no model folder at /nonexistent/models/de"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(argv, message, capsys, tmp_path):
    from core.cli import run
    from workflow.paragraph_check import main

    assert run(main, [*argv, "--out", str(tmp_path / "out.json")]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not (tmp_path / "out.json").exists()


def test_a_bundled_model_on_a_document_longer_than_its_window(data_dir):
    """One German document of 600 subwords from validation sentences: the pipeline reads it in overlapping
    windows of 128 (the passages it was trained on) at stride 64, as its card says; the same sentences one at a
    time score as the model does on PAN-X."""
    from core import run_dir as rd
    from workflow.paragraph_check import check_model, tokenizer_of, validation_documents

    folder = BUNDLED_MODELS_DIR / "de"
    documents = validation_documents(data_dir, tokenizer_of(folder), 1, 600, 600)
    assert list(documents) == list(LANGUAGES) and all(len(docs) == 1 for docs in documents.values())
    german = documents["de"][0]
    assert len(tokenizer_of(folder)(german.text)["input_ids"]) > 600
    report = check_model(folder, {"de": [german]})
    assert report["weights"] == rd.weights_checksum(folder) and (report["window"], report["stride"]) == (128, 64)
    assert report["documents"] == 1 and report["entities"] == len(gold_spans(german)) > 20
    assert report["sentence_f1"] > 0.7 and 0 < report["paragraph_f1"] <= 1 and 0 < report["space_f1"] <= 1
    assert 0 <= report["spans_cutting_letters"] <= report["spans_inside_words"] <= report["paragraph_spans"]
    assert list(report["by_language"]) == ["de"]
    # Read in the base's windows of 512 subwords: the pipeline's alone (the Space's tagger scores as before).
    wide = check_model(folder, {"de": [german]}, window=512)
    assert (wide["window"], wide["stride"]) == (512, 256) and wide["space_f1"] == report["space_f1"]
    assert wide["sentence_f1"] == report["sentence_f1"]  # its sentences fit 128 subwords either way


def test_the_study_declares_the_paragraph_check_before_the_report_and_the_bundle(tmp_path, data_dir):
    from core import results as res
    from core.cli import run
    from core.facts import STRIDE_SHARE
    from training.presets import get_preset
    from workflow.study import PARAGRAPH_CHECK_CODE, Study, main

    study = Study(get_preset("smoke"), tmp_path / "runs", tmp_path / "results", tmp_path / "models", data_dir)
    steps = {step.name: step for step in study.steps()}
    names = list(steps)
    assert names[-4:] == ["paragraph-check", "pipeline-check", "report", "bundle"]  # the last two quote it
    assert res.PARAGRAPH_CHECK_JSON in {p.name for p in steps["report"].inputs + steps["bundle"].inputs}
    step = steps["paragraph-check"]
    assert step.outputs == [tmp_path / "results" / res.PARAGRAPH_CHECK_JSON]
    # How much of a window the next one reads again decides the scores, and the stride the cards print.
    assert step.params == {"documents": 8, "stride_share": STRIDE_SHARE} == {**steps["bundle"].params, "documents": 8}
    assert set(PARAGRAPH_CHECK_CODE) <= set(step.inputs)
    assert tmp_path / "runs" / "all" / "model.safetensors" in step.inputs  # the smoke preset fine-tunes in full
    assert run(main, ["--paragraph-documents", "0", "--results-dir", str(tmp_path / "r")]) == 2
