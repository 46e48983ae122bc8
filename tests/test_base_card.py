"""The offline base's model card (cards.base_card): metadata, numbers as displayed, optional sections, errors.

Self-contained: a fake base folder is written in code (a real XLMRobertaConfig's config.json and a
pretraining.json with training.pretrain's keys); no weights, no data, nothing from runs/ or results/.
Loss values carry more decimals than the card shows, so a wrong rounding changes the rendered text.
"""

from __future__ import annotations

import copy
import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from huggingface_hub import ModelCard
from transformers import XLMRobertaConfig

from card_fixtures import assert_clean, section, table_rows
from cards import CardError, render_base_card, write_base_card
from cards.base_card import XLMR_BASE, main
from training.facts import EXAMPLE_SENTENCES, HUB_NAMESPACE, LANGUAGE_NAMES, LANGUAGES, OFFLINE_BASE_NAME, REPO_ROOT
from training.run_dir import RunDirError, write_json

GOLDEN = Path(__file__).parent / "golden" / "base_card.md"
REPO_ID = f"{HUB_NAMESPACE}/{OFFLINE_BASE_NAME}"
PRETRAIN = "python -m training.pretrain"
NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?")

# A small encoder whose every dimension differs, so a swapped row shows.
CONFIG = dict(hidden_size=192, num_hidden_layers=3, num_attention_heads=6, intermediate_size=768, vocab_size=7000)
PARAMETERS = 2_704_128  # sum(p.numel() for p in XLMRobertaForMaskedLM(config).roberta.parameters())


def fake_report() -> dict[str, Any]:
    """A one-phase report with training.pretrain's keys (see runs/*/pretraining.json)."""
    steps, batch, seq_len = 1500, 96, 64
    return {
        "preset": {
            "name": "mini", "encoder": "mini", "vocab_size": 7000, "seq_len": seq_len, "batch_size": batch,
            "learning_rate": 0.0008, "warmup_ratio": 0.06, "max_steps": steps, "mask_prob": 0.15,
            "language_alpha": 0.3, "weight_decay": 0.01, "checkpoint_minutes": 5.0, "max_sentences_per_language": None,
        },
        "device": "cuda (NVIDIA H100 80GB HBM3)",
        "wall_time_s": 1234.5,
        "train_time_s": 1100.2,
        "tokenizer": {
            "vocab_size": 7000,
            "trained_on": ["PAN-X.{lang}/train.parquet", "PAN-X.{lang}/test_unlabelled.parquet"],
            "subwords_per_word": {"de": 1.874, "fr": 1.951, "it": 1.915, "en": 1.899},
        },
        "parameters": PARAMETERS,
        "packed_blocks": 30012,
        "tokens_seen": steps * batch * seq_len,
        "loss": {
            "steps": steps,
            "first_train_loss": 8.61234,
            "final_train_loss": 4.01237,
            "final_heldout_loss": 3.95671,
            "heldout_perplexity": round(math.exp(3.95671), 2),
            "curve": [{"step": 25, "loss": 8.61234}, {"step": 750, "loss": 5.1}, {"step": 1475, "loss": 4.02}],
        },
    }


DOWNSTREAM = {
    "de_f1_pretrained": 0.7123,
    "de_f1_random_init": 0.4567,
    "preset_pretrained": "mini",
    "preset_random_init": "mini",
    "zero_shot_f1_pretrained": {"fr": 0.3456, "it": 0.3012, "en": 0.2789},
    "zero_shot_f1_random_init": {"fr": 0.1234, "it": 0.1111, "en": 0.0987},
}


def with_phases(first: dict[str, Any]) -> dict[str, Any]:
    """What `training.pretrain --continue-from` writes: the latest phase on top, totals over all phases."""
    second = copy.deepcopy(first)
    del second["tokenizer"]
    second["preset"].update(learning_rate=0.0003, max_steps=1000)
    second.update(device="cpu (2 threads)", wall_time_s=900.3, train_time_s=850.7, tokens_seen=1000 * 96 * 64)
    second["loss"].update(steps=1000, first_train_loss=4.10111, final_train_loss=3.70123, final_heldout_loss=3.68765,
                          heldout_perplexity=round(math.exp(3.68765), 2))
    phases = [first, second]
    return {
        **second,
        "phases": phases,
        "wall_time_s": round(sum(p["wall_time_s"] for p in phases), 1),
        "train_time_s": round(sum(p["train_time_s"] for p in phases), 1),
        "tokens_seen": sum(p["tokens_seen"] for p in phases),
        "tokenizer": first["tokenizer"],
    }


def write_fake_base(base_dir: Path, report: dict[str, Any] | None = None, plot: bool = True) -> Path:
    base_dir.mkdir(parents=True, exist_ok=True)
    config = XLMRobertaConfig(
        **CONFIG, max_position_embeddings=130, type_vocab_size=1, bos_token_id=0, pad_token_id=1, eos_token_id=2,
        architectures=["XLMRobertaForMaskedLM"],
    )
    config.to_json_file(base_dir / "config.json")
    # Pin the version the config records, so the golden card does not change with the installed one.
    saved = json.loads((base_dir / "config.json").read_text())
    write_json(base_dir / "config.json", {**saved, "transformers_version": "5.23.0"})
    write_json(base_dir / "pretraining.json", report if report is not None else fake_report())
    if plot:
        (base_dir / "pretraining_loss.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    return base_dir


def report_of(base_dir: Path, report: Path | None = None) -> dict[str, Any]:
    return json.loads((report or base_dir / "pretraining.json").read_text())


def config_of(base_dir: Path) -> dict[str, Any]:
    return json.loads((base_dir / "config.json").read_text())


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    return write_fake_base(tmp_path_factory.mktemp("base") / OFFLINE_BASE_NAME)


@pytest.fixture(scope="module")
def card(base) -> str:
    return render_base_card(base)


@pytest.fixture(scope="module")
def full_report(tmp_path_factory, base) -> Path:
    """results/pretraining.json after the study: the same run plus "downstream" and a key the card ignores."""
    path = tmp_path_factory.mktemp("results") / "pretraining.json"
    write_json(path, {**report_of(base), "downstream": DOWNSTREAM, "sweep": [{"learning_rate": 0.001, "de_f1": 0.7}]})
    return path


@pytest.fixture(scope="module")
def phased_base(tmp_path_factory) -> Path:
    return write_fake_base(tmp_path_factory.mktemp("phased") / OFFLINE_BASE_NAME, with_phases(fake_report()))


# ---- The checks every card must pass: its numbers are the JSON's, as displayed ----

def numbers(text: str) -> set[str]:
    return set(NUMBER.findall(text))


def assert_card_matches_base(text: str, base_dir: Path, report_path: Path | None = None) -> None:
    config, report = config_of(base_dir), report_of(base_dir, report_path)
    ModelCard(text)
    assert_clean(text)

    # Architecture: each row from config.json (and the report's parameter count), beside xlm-roberta-base.
    architecture = section(text, "### Architecture")
    rows = {row[0]: row[1:] for row in table_rows(architecture)}

    def positions(c):
        return f"{c['max_position_embeddings'] - c['pad_token_id'] - 1:,} ({c['max_position_embeddings']:,} position embeddings)"

    def heads(c):
        return f"{c['num_attention_heads']} (of {c['hidden_size'] // c['num_attention_heads']} dimensions)"

    x = XLMR_BASE
    assert rows == {
        "Layers": [str(config["num_hidden_layers"]), str(x["num_hidden_layers"])],
        "Hidden size": [f"{config['hidden_size']:,}", f"{x['hidden_size']:,}"],
        "Attention heads": [heads(config), heads(x)],
        "Feed-forward size": [f"{config['intermediate_size']:,}", f"{x['intermediate_size']:,}"],
        "Vocabulary": [f"{config['vocab_size']:,}", f"{x['vocab_size']:,}"],
        "Max sequence length (tokens)": [positions(config), positions(x)],
        "Parameters (encoder with embeddings, no LM head)": [f"{report['parameters']:,}", f"{x['parameters']:,}"],
    }
    # ... and no other number in the section.
    assert numbers(architecture) == {n for cells in rows.values() for c in cells for n in NUMBER.findall(c)}

    # Tokenizer: vocabulary and subwords per word from the report; the files it was trained on.
    tokenizer = section(text, "### Tokenizer")
    per_word = report["tokenizer"]["subwords_per_word"]
    assert table_rows(tokenizer) == [[LANGUAGE_NAMES[lang], f"{per_word[lang]:.3f}"] for lang in LANGUAGES if lang in per_word]
    assert f"Vocabulary: {report['tokenizer']['vocab_size']:,} pieces" in tokenizer
    assert "`train.parquet` and `test_unlabelled.parquet` of\nPAN-X.de, PAN-X.fr, PAN-X.it and PAN-X.en" in tokenizer
    special_ids = {"0", "4"}  # "<mask> at ids 0 to 4"
    assert numbers(tokenizer) == {f"{report['tokenizer']['vocab_size']:,}", *special_ids} | {f"{v:.3f}" for v in per_word.values()}

    # Losses: the report's values with four decimals, perplexities with two.
    results = section(text, "## Evaluation results")
    loss = report["loss"]
    first = (report.get("phases") or [report])[0]["loss"]["first_train_loss"]
    want = [
        ["First training loss", f"{first:.4f}", "–"],
        ["Final training loss", f"{loss['final_train_loss']:.4f}", f"{math.exp(loss['final_train_loss']):.2f}"],
    ]
    if loss["final_heldout_loss"] is not None:
        want.append(["Final held-out loss", f"{loss['final_heldout_loss']:.4f}", f"{loss['heldout_perplexity']:.2f}"])
    assert table_rows(results) == want
    losses = results.split("### Downstream evidence")[0]
    assert numbers(losses) == {n for row in want for c in row for n in NUMBER.findall(c)} | {f"{config['vocab_size']:,}"}

    # Procedure: totals and the preset's values.
    procedure = section(text, "## Training procedure")
    phases = report.get("phases") or [report]
    steps = sum(p["loss"]["steps"] for p in phases)
    passes = sum(p["tokens_seen"] / (p["packed_blocks"] * p["preset"]["seq_len"]) for p in phases)
    assert f"- **Steps:** {steps:,}" in procedure
    assert f"- **Tokens seen:** {report['tokens_seen']:,} (about {passes:.1f} passes over the packed corpus)" in procedure
    device = "Device (last phase)" if report.get("phases") else "Device"
    assert f"- **{device}:** {report['device']}" in procedure
    assert f"packed sequences of {report['preset']['seq_len']} tokens; {report['packed_blocks']:,} such" in procedure
    for name, value in report["preset"].items():
        shown = "not set" if value is None else f"{value:,}" if isinstance(value, int) else str(value)
        assert re.search(rf"^- {name}: {re.escape(shown)}( — |$)", procedure, re.M), (name, shown)

    # Metadata.
    data = ModelCard(text).data
    assert data.language == list(LANGUAGES)
    assert data.pipeline_tag == "fill-mask"


# ---- Metadata ----

def test_metadata(card):
    data = ModelCard(card).data
    assert data.language == ["de", "fr", "it", "en"]
    assert data.license == "cc-by-sa-4.0"
    assert data.library_name == "transformers"
    assert data.pipeline_tag == "fill-mask"
    assert data.datasets == ["google/xtreme"]
    assert {"xlm-roberta", "masked-lm", "panx", "offline"} <= set(data.tags)
    # One <mask> sentence per language, from the project's example sentences.
    assert [item["example_title"] for item in data.widget] == [LANGUAGE_NAMES[lang] for lang in LANGUAGES]
    for item, lang in zip(data.widget, LANGUAGES):
        assert item["text"].count("<mask>") == 1
        assert item["text"].replace("<mask>", "").split() == EXAMPLE_SENTENCES[lang].split()[:-1]
    # No model-index: NER scores belong to the models fine-tuned from this base, not to a fill-mask model.
    assert "model-index" not in card and not data.eval_results
    assert "base_model" not in data.to_dict()


# ---- Numbers as displayed ----

def test_card_matches_base(card, base):
    assert_card_matches_base(card, base)


def test_body_facts(card):
    assert 'pipeline("fill-mask", model="panx-ner/panx-xlmr-mini")' in card
    assert 'unmasker("Jeff Dean ist ein Informatiker bei Google in <mask>")' in card
    assert "python -m training.train --experiment de --base-model panx-ner/panx-xlmr-mini --preset mini" in card
    assert "[xlm-roberta-base](https://huggingface.co/xlm-roberta-base)" in card
    assert f"about {XLMR_BASE['parameters'] / PARAMETERS:.0f} times as many parameters" in card
    assert "never saw validation sentences" in card
    assert "- **Training time:** 18.3 min (20.6 min wall time" in card
    assert "![Masked-LM loss during pretraining](pretraining_loss.png)" in card
    # Framework versions: the report has none, so the version that saved config.json, said so.
    versions = section(card, "## Framework versions")
    assert "records no versions" in versions and "- transformers 5.23.0" in versions
    for key in ("@inproceedings{pan-etal-2017-cross", "@inproceedings{hu-etal-2020-xtreme", "@inproceedings{conneau-etal-2020-unsupervised"):
        assert key in card
    assert "`cc-by-sa-4.0`" in section(card, "## License")


def test_report_versions_win_over_config(tmp_path):
    report = {**fake_report(), "versions": {"transformers": "5.1.0", "torch": "2.9.0", "tokenizers": None}}
    text = render_base_card(write_fake_base(tmp_path / "b", report))
    versions = section(text, "## Framework versions")
    assert "records no versions" not in versions
    assert [line for line in versions.splitlines() if line.startswith("- ")] == [
        "- transformers 5.1.0", "- torch 2.9.0", "- tokenizers not installed",
    ]


def test_checks_catch_a_drifting_number(tmp_path, base):
    """The checks are not vacuous: a card from a report whose numbers moved fails them."""
    for change in (
        lambda r: r["loss"].update(final_heldout_loss=r["loss"]["final_heldout_loss"] + 0.001),
        lambda r: r["tokenizer"]["subwords_per_word"].update(fr=1.952),
        lambda r: r.update(parameters=r["parameters"] + 1),
        lambda r: r.update(tokens_seen=r["tokens_seen"] * 2),
    ):
        report = fake_report()
        change(report)
        text = render_base_card(write_fake_base(tmp_path / "drifted", report))
        with pytest.raises(AssertionError):
            assert_card_matches_base(text, base)


def test_no_heldout_loss_leaves_its_row_out(tmp_path):
    report = fake_report()
    report["loss"].update(final_heldout_loss=None, heldout_perplexity=None)
    base_dir = write_fake_base(tmp_path / "b", report)
    text = render_base_card(base_dir)
    assert "Final held-out loss" not in text
    assert f"Final masked-LM training loss: {report['loss']['final_train_loss']:.4f}" in text
    assert_card_matches_base(text, base_dir)


# ---- Optional sections ----

def test_sections_absent_without_data(tmp_path, card):
    assert "Downstream evidence" not in card and "random init" not in card.split("## Model description")[0]
    assert "### Phases" not in card and "--continue-from" not in card
    text = render_base_card(write_fake_base(tmp_path / "b", plot=False))
    assert "pretraining_loss.png" not in text and "![" not in text
    assert_clean(text)


def test_downstream_section_from_report(card, base, full_report):
    text = render_base_card(base, report=full_report)
    assert_card_matches_base(text, base, full_report)
    header = section(text, "### Downstream evidence").splitlines()
    assert "| Initialisation | Fine-tuning preset | German (trained on) | French (zero-shot) | Italian (zero-shot) | English (zero-shot) |" in header
    rows = {row[0]: row[1:] for row in table_rows(section(text, "### Downstream evidence"))}
    d = DOWNSTREAM
    pre = [d["de_f1_pretrained"]] + [d["zero_shot_f1_pretrained"][lang] for lang in ("fr", "it", "en")]
    rand = [d["de_f1_random_init"]] + [d["zero_shot_f1_random_init"][lang] for lang in ("fr", "it", "en")]
    assert rows["this base (pretrained)"] == ["`mini`"] + [f"{v:.4f}" for v in pre]
    assert rows["random (same architecture, fresh weights)"] == ["`mini`"] + [f"{v:.4f}" for v in rand]
    assert rows["difference"] == [""] + [f"{a - b:+.4f}" for a, b in zip(pre, rand)]
    assert "F1 0.7123 on the German test split (carved from validation),\nagainst 0.4567 for the same architecture from random weights (+0.2556;" in text
    assert "[Downstream evidence](#downstream-evidence)" in text
    assert "sweep" not in text  # keys the card does not know are ignored


def test_phases_table(phased_base):
    text = render_base_card(phased_base)
    assert_card_matches_base(text, phased_base)
    report = report_of(phased_base)
    rows = table_rows(section(text, "### Phases"))
    assert len(rows) == 2
    for number, (row, phase) in enumerate(zip(rows, report["phases"]), start=1):
        loss = phase["loss"]
        assert row == [
            str(number), f"`{phase['preset']['name']}`", f"{loss['steps']:,}", str(phase["preset"]["learning_rate"]),
            f"{phase['tokens_seen']:,}", f"{phase['tokens_seen'] / (phase['packed_blocks'] * phase['preset']['seq_len']):.1f}",
            phase["device"], rows[number - 1][7], f"{loss['first_train_loss']:.4f}", f"{loss['final_train_loss']:.4f}",
            f"{loss['final_heldout_loss']:.4f}",
        ]
    assert [row[7] for row in rows] == ["18.3 min", "14.2 min"]
    assert "- **Steps:** 2,500 in 2 phases" in text
    assert "The last phase's preset" in text
    assert "- **Device (last phase):** cpu (2 threads)" in text
    assert "- vocab_size: 7,000 — unused in a continued phase: the tokenizer is the first phase's" in text
    assert "*Masked-LM loss during pretraining (the last phase).*" in text
    assert "continued with `--continue-from` (2 phases in all)" in text
    # The first training loss is the first phase's; the final ones are the last phase's.
    assert ["First training loss", "8.6123", "–"] in table_rows(section(text, "## Evaluation results"))


# ---- Bad input ----

@pytest.mark.parametrize("name", ["config.json", "pretraining.json"])
def test_missing_file_names_file_and_command(tmp_path, name):
    base_dir = write_fake_base(tmp_path / "b")
    (base_dir / name).unlink()
    with pytest.raises(RunDirError) as err:
        render_base_card(base_dir)
    assert str(base_dir / name) in str(err.value) and f"{PRETRAIN} --output-dir {base_dir}" in str(err.value)


def test_missing_report_and_folder(tmp_path, base):
    with pytest.raises(RunDirError, match=rf"nope\.json is missing; it is written by {PRETRAIN} .*--report"):
        render_base_card(base, report=tmp_path / "nope.json")
    with pytest.raises(RunDirError, match=rf"base folder .* does not exist; make it with {PRETRAIN}"):
        render_base_card(tmp_path / "missing")


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda r: r.pop("tokens_seen"), r"lacks 'tokens_seen'"),
        (lambda r: r["loss"].pop("final_train_loss"), r"lacks 'final_train_loss' in loss"),
        (lambda r: r.update(device=None), r"has null 'device'"),
        (lambda r: r["tokenizer"].update(vocab_size=6999), r"6999-piece tokenizer but .*config\.json a vocabulary of 7000"),
        (lambda r: r["tokenizer"]["trained_on"].append("PAN-X.{lang}/validation.parquet"), r"trained on validation text"),
        (lambda r: r.update(downstream={"de_f1_pretrained": 0.5}), r"lacks .*'de_f1_random_init'.* in downstream; it is written by python -m training.study"),
        (lambda r: r.update(phases=[{"preset": {}}]), r"lacks .* in phases\[0\]"),
    ],
)
def test_malformed_report_names_file_and_key(tmp_path, change, message):
    report = fake_report()
    change(report)
    base_dir = write_fake_base(tmp_path / "b", report)
    with pytest.raises(CardError, match=message) as err:
        render_base_card(base_dir)
    assert "pretraining.json" in str(err.value)


def test_report_of_another_run_is_refused(tmp_path, base):
    other = fake_report()
    other["loss"]["final_heldout_loss"] = 3.5
    path = tmp_path / "pretraining.json"
    write_json(path, other)
    with pytest.raises(CardError, match=r"does not describe .*: it differs from .*pretraining\.json in loss;"):
        render_base_card(base, report=path)


# ---- CLI and write_base_card ----

def test_write_base_card_default_out(tmp_path, card):
    base_dir = write_fake_base(tmp_path / OFFLINE_BASE_NAME)
    out = write_base_card(base_dir)
    assert out == base_dir / "README.md" and out.read_text(encoding="utf-8") == card


def test_cli_writes_card(tmp_path, base, full_report, capsys):
    out = tmp_path / "elsewhere" / "README.md"
    assert main([str(base), "--report", str(full_report), "--out", str(out)]) == 0
    assert capsys.readouterr().out.strip() == str(out)
    assert out.read_text(encoding="utf-8") == render_base_card(base, report=full_report)
    assert main([str(base), "--out", str(out), "--repo-id", "me/my-base"]) == 0
    assert 'model="me/my-base"' in out.read_text(encoding="utf-8")


def test_cli_bad_input_is_one_line_without_traceback(tmp_path):
    base_dir = write_fake_base(tmp_path / "b")
    (base_dir / "pretraining.json").unlink()
    proc = subprocess.run(
        [sys.executable, "-m", "cards.base_card", str(base_dir)],
        cwd=REPO_ROOT, env={**os.environ, "HF_HUB_OFFLINE": "1"}, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and "pretraining.json" in lines[0] and PRETRAIN in lines[0]
    assert not (base_dir / "README.md").exists()


# ---- Layout ----

def test_golden_card(base, full_report, phased_base, tmp_path):
    """Layout stays stable: the card with every optional section (phases, downstream, loss plot).
    After an intended change: UPDATE_GOLDEN=1 pytest tests/test_base_card.py, then review the diff."""
    phased = report_of(phased_base)
    report = tmp_path / "pretraining.json"
    write_json(report, {**phased, "downstream": DOWNSTREAM})
    text = render_base_card(phased_base, report=report)
    assert_clean(text)
    if os.environ.get("UPDATE_GOLDEN") == "1":
        GOLDEN.parent.mkdir(parents=True, exist_ok=True)
        GOLDEN.write_text(text, encoding="utf-8")
    assert GOLDEN.is_file(), f"{GOLDEN} is missing; create it with UPDATE_GOLDEN=1"
    assert text == GOLDEN.read_text(encoding="utf-8")
