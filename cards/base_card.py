"""The model card of panx-ner's offline base: `python -m cards.base_card BASE_DIR [--report FILE] [--out FILE] [--repo-id ID]`.

BASE_DIR is a folder made by `python -m training.pretrain --output-dir BASE_DIR`: config.json, the
tokenizer and weights, pretraining.json (the report) and pretraining_loss.png. The card is rendered
from config.json and the report, never typed by hand. `--report results/pretraining.json` uses the
project's copy of the report, which may hold more than the folder's: a "downstream" key (German F1
fine-tuned from this base vs from random init, written by `python -m training.study`) is shown when
present. Numbers are formatted with the same helpers as the fine-tuned models' cards (cards.context).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from huggingface_hub import ModelCard, ModelCardData

from training.facts import (
    DEFAULT_BASE_MODEL,
    EXAMPLE_SENTENCES,
    EXPERIMENTS,
    HUB_DATASET,
    HUB_DATASET_CONFIG,
    HUB_NAMESPACE,
    LANGUAGE_NAMES,
    LANGUAGES,
    OFFLINE_BASE_NAME,
    model_name,
)
from training.run_dir import CARD, RunDirError

from .context import MISSING, _check_no_none, cell, fmt_count, fmt_duration, fmt_hyperparameter, fmt_loss, fmt_score, join_names
from .inputs import CardError
from .metadata import LICENSE
from .render import _environment

TEMPLATE = "base_card.md.j2"
CONFIG = "config.json"
REPORT = "pretraining.json"
LOSS_PLOT = "pretraining_loss.png"
PRETRAIN_COMMAND = "python -m training.pretrain"
DEFAULT_REPO_ID = f"{HUB_NAMESPACE}/{OFFLINE_BASE_NAME}"

TAGS = ["xlm-roberta", "fill-mask", "masked-lm", "multilingual", "panx", "wikiann", "xtreme", "offline"]
PIPELINE_TAG = "fill-mask"
MASK = "<mask>"

# Keys the card reads (what training.pretrain writes). Values that may legitimately be null are
# listed apart: they are shown as "not set" or their row is left out, never printed as "None".
CONFIG_KEYS = (
    "model_type", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size",
    "vocab_size", "max_position_embeddings", "pad_token_id",
)
REPORT_KEYS = ("preset", "device", "wall_time_s", "train_time_s", "tokenizer", "parameters", "packed_blocks", "tokens_seen", "loss")
TOKENIZER_KEYS = ("vocab_size", "trained_on", "subwords_per_word")
PRESET_KEYS = ("name", "seq_len", "batch_size", "learning_rate", "max_steps")
LOSS_KEYS = ("steps", "first_train_loss", "final_train_loss")
NULLABLE_LOSS_KEYS = ("final_heldout_loss", "heldout_perplexity")  # None when no held-out evaluation ran
PHASE_KEYS = ("preset", "device", "wall_time_s", "train_time_s", "packed_blocks", "tokens_seen", "loss")
DOWNSTREAM_KEYS = (
    "de_f1_pretrained", "de_f1_random_init", "preset_pretrained", "preset_random_init",
    "zero_shot_f1_pretrained", "zero_shot_f1_random_init",
)
# A report given with --report must describe the same pretraining as BASE_DIR/pretraining.json.
SAME_RUN_KEYS = ("preset", "parameters", "tokens_seen", "loss")

# xlm-roberta-base, for scale (its config.json on the Hub; parameters counted like the report's:
# the encoder with its embeddings, without pooler or masked-LM head).
XLMR_BASE = {
    "hidden_size": 768,
    "num_hidden_layers": 12,
    "num_attention_heads": 12,
    "intermediate_size": 3072,
    "vocab_size": 250002,
    "max_position_embeddings": 514,
    "pad_token_id": 1,
    "parameters": 277_453_056,
}

# What each preset value means (training.pretrain.PretrainPreset); a key missing here is listed bare.
PRESET_NOTES = {
    "name": "preset of `python -m training.pretrain`",
    "encoder": "encoder size, a key of `training.base_model.ENCODER_SIZES`",
    "vocab_size": "Unigram vocabulary, special tokens included",
    "seq_len": "tokens per packed sequence, `<s>` and `</s>` included",
    "batch_size": "packed sequences per optimizer step",
    "learning_rate": "peak learning rate of AdamW, after linear warm-up, then linear decay to zero",
    "warmup_ratio": "share of the steps spent warming up",
    "max_steps": "optimizer steps",
    "mask_prob": "share of tokens masked; of those, 80% become `<mask>`, 10% a random token, 10% stay",
    "language_alpha": "language sampling exponent α in p(language) ∝ tokens^α; XLM-R used 0.3",
    "weight_decay": "AdamW weight decay",
    "checkpoint_minutes": "minutes between resumable checkpoints",
    "max_sentences_per_language": "cap on sentences per language; not set means all of them",
}

# A phase started with --continue-from keeps the previous tokenizer and weights: these values are unused.
CONTINUED_PRESET_NOTES = {
    "encoder": "unused in a continued phase: the weights come from the previous one",
    "vocab_size": "unused in a continued phase: the tokenizer is the first phase's",
}

# ---- reading ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class BaseInputs:
    base_dir: Path
    config: dict[str, Any]
    report: dict[str, Any]
    report_path: Path
    has_loss_plot: bool


def _pretrain_command(base_dir: Path, report: Path | None = None) -> str:
    return f"{PRETRAIN_COMMAND} --output-dir {base_dir}" + (f" --report {report}" if report is not None else "")


def _read(path: Path, made_by: str) -> Any:
    if not path.is_file():
        raise RunDirError(f"{path} is missing; it is written by {made_by}")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise CardError(f"{path} is not valid JSON ({err}); re-run {made_by}") from err


def _require(obj: Any, keys: tuple[str, ...], path: Path, made_by: str, where: str = "", nullable: tuple[str, ...] = ()) -> None:
    at = f" in {where}" if where else ""
    if not isinstance(obj, dict):
        raise CardError(f"{path}: {where or 'top level'} is not a JSON object; it is written by {made_by}")
    missing = [key for key in (*keys, *nullable) if key not in obj]
    if missing:
        raise CardError(f"{path} lacks {', '.join(map(repr, missing))}{at}; it is written by {made_by}")
    nulls = [key for key in keys if obj[key] is None]
    if nulls:  # a null would print as "None" in the card
        raise CardError(f"{path} has null {', '.join(map(repr, nulls))}{at}; it is written by {made_by}")


def load_base_inputs(base_dir: str | Path, report: str | Path | None = None) -> BaseInputs:
    """Read and check BASE_DIR/config.json and the report (default BASE_DIR/pretraining.json)."""
    base_dir = Path(base_dir)
    if not base_dir.is_dir():
        raise RunDirError(f"base folder {base_dir} does not exist; make it with {_pretrain_command(base_dir)}")
    made_by = _pretrain_command(base_dir)
    config_path, own_report_path = base_dir / CONFIG, base_dir / REPORT
    config = _read(config_path, f"{made_by} (save_pretrained)")
    report_path = Path(report) if report is not None else own_report_path
    report_made_by = made_by if report is None else _pretrain_command(base_dir, report_path)
    data = _read(report_path, report_made_by)

    _require(config, CONFIG_KEYS, config_path, made_by)
    if config["model_type"] != "xlm-roberta":
        raise CardError(f"{config_path} has model_type {config['model_type']!r}, not 'xlm-roberta'; this card describes {PRETRAIN_COMMAND}'s encoder")
    _require(data, REPORT_KEYS, report_path, report_made_by)
    _require(data["preset"], PRESET_KEYS, report_path, report_made_by, "preset")
    _require(data["tokenizer"], TOKENIZER_KEYS, report_path, report_made_by, "tokenizer")
    _require(data["loss"], LOSS_KEYS, report_path, report_made_by, "loss", NULLABLE_LOSS_KEYS)
    unknown = [lang for lang in data["tokenizer"]["subwords_per_word"] if lang not in LANGUAGES]
    if unknown:
        raise CardError(f"{report_path} has subwords_per_word for unknown languages {unknown}; valid languages: {', '.join(LANGUAGES)}")
    # The card says the tokenizer and the encoder never saw validation text (the source of the
    # labelled test split): check the report agrees before saying so.
    if any("validation" in str(name) for name in data["tokenizer"]["trained_on"]):
        raise CardError(f"{report_path} says the base was trained on validation text ({data['tokenizer']['trained_on']}); the card would misreport it")
    if data["tokenizer"]["vocab_size"] != config["vocab_size"]:
        raise CardError(
            f"{report_path} gives a {data['tokenizer']['vocab_size']}-piece tokenizer but {config_path} a vocabulary of "
            f"{config['vocab_size']}: the report is not from this base"
        )
    for i, phase in enumerate(data.get("phases") or []):
        where = f"phases[{i}]"
        _require(phase, PHASE_KEYS, report_path, report_made_by, where)
        _require(phase["preset"], PRESET_KEYS, report_path, report_made_by, f"{where}.preset")
        _require(phase["loss"], LOSS_KEYS, report_path, report_made_by, f"{where}.loss", NULLABLE_LOSS_KEYS)
    if data.get("downstream") is not None:
        downstream = data["downstream"]
        _require(downstream, DOWNSTREAM_KEYS, report_path, "python -m training.study (downstream step)", "downstream")
    # --report FILE next to the folder's own report: both must come from the same pretraining run,
    # or the card would mix two bases.
    if report is not None and own_report_path.is_file() and own_report_path.resolve() != report_path.resolve():
        own = _read(own_report_path, made_by)
        differ = [key for key in SAME_RUN_KEYS if own.get(key) != data.get(key)]
        if differ:
            raise CardError(
                f"{report_path} does not describe {base_dir}: it differs from {own_report_path} in {', '.join(differ)}; "
                f"pass the report written by the same run ({_pretrain_command(base_dir, report_path)})"
            )
    return BaseInputs(
        base_dir=base_dir,
        config=config,
        report=data,
        report_path=report_path,
        has_loss_plot=(base_dir / LOSS_PLOT).is_file(),
    )


# ---- what the template shows --------------------------------------------------------------------


def fmt_preset_value(value: Any) -> str:
    """Counts with thousands separators like the rest of the card; other values as the Trainer prints them."""
    return fmt_count(value) if isinstance(value, int) and not isinstance(value, bool) else fmt_hyperparameter(value)


def fmt_perplexity(value: float) -> str:
    return f"{value:.2f}"


def fmt_subwords(value: float) -> str:
    return f"{value:.3f}"  # the report rounds to three decimals


def fmt_passes(value: float) -> str:
    return f"{value:.1f}"


def fmt_gain(value: float) -> str:
    return f"{value:+.4f}"


def mask_sentence(lang: str) -> str:
    """The project's example sentence with its last word (a place) masked."""
    return EXAMPLE_SENTENCES[lang].rsplit(" ", 1)[0] + f" {MASK}"


@dataclass(frozen=True)
class ArchitectureRow:
    name: str
    value: str
    xlmr_base: str


@dataclass(frozen=True)
class PhaseRow:
    number: str
    preset: str
    steps: str
    learning_rate: str
    tokens_seen: str
    passes: str
    device: str
    train_time: str
    first_train_loss: str
    final_train_loss: str
    final_heldout_loss: str


@dataclass(frozen=True)
class DownstreamRow:
    init: str
    preset: str
    scores: list[str]  # German F1, then the zero-shot languages


@dataclass(frozen=True)
class BaseCardContext:
    metadata_yaml: str
    repo_id: str
    model_name: str
    languages: str
    dataset: str
    xlmr_base: str
    arch_summary: str  # "4 layers, hidden size 256"
    parameters: str
    parameters_ratio: str  # xlm-roberta-base has this many times more
    architecture: list[ArchitectureRow]
    max_length: str
    vocab_size: str
    trained_on_files: str  # "`train.parquet` and `test_unlabelled.parquet`"
    trained_on_configs: str  # "PAN-X.de, PAN-X.fr, PAN-X.it and PAN-X.en"
    subwords_per_word: list[tuple[str, str]]  # (language name, subwords per word)
    preset_name: str
    preset_values: list[tuple[str, str, str]]  # (name, value, note)
    device: str
    wall_time: str
    train_time: str
    steps: str
    tokens_seen: str
    packed_blocks: str
    seq_len: str
    passes: str
    phases: list[PhaseRow]  # [] for a base pretrained in one go
    first_train_loss: str
    final_train_loss: str
    train_perplexity: str
    has_heldout: bool
    final_heldout_loss: str  # "" when has_heldout is False
    heldout_perplexity: str
    loss_plot: str  # "" without pretraining_loss.png in BASE_DIR
    downstream_languages: list[str]  # table header: German, then the zero-shot languages; [] without downstream
    downstream_rows: list[DownstreamRow]
    downstream_de_pretrained: str
    downstream_de_random_init: str
    downstream_de_gain: str
    finetuned_models: list[tuple[str, str]]  # (experiment, repo id)
    mask_example: str  # a Python string literal, quotes included
    versions: list[tuple[str, str]]
    versions_from_config: bool  # the report has no "versions": only config.json's transformers_version
    license: str


def _trained_on(names: list[str]) -> tuple[str, str]:
    """["PAN-X.{lang}/train.parquet", ...] -> ("`train.parquet` and ...", "PAN-X.de, ... and PAN-X.en")."""
    prefix = HUB_DATASET_CONFIG + "/"
    files = [str(name).removeprefix(prefix).replace("{lang}", "LANG") for name in names]
    configs = join_names([HUB_DATASET_CONFIG.format(lang=lang) for lang in LANGUAGES])
    return join_names([f"`{cell(name)}`" for name in files]), configs


def _passes(part: dict[str, Any]) -> float:
    """Passes over the packed corpus: tokens seen / (packed blocks x tokens per block)."""
    return part["tokens_seen"] / (part["packed_blocks"] * part["preset"]["seq_len"])


def _heldout(loss: dict[str, Any]) -> str:
    return fmt_loss(loss["final_heldout_loss"]) if loss["final_heldout_loss"] is not None else MISSING


def _phase_rows(phases: list[dict[str, Any]]) -> list[PhaseRow]:
    return [
        PhaseRow(
            number=str(i),
            preset=cell(phase["preset"]["name"]),
            steps=fmt_count(phase["loss"]["steps"]),
            learning_rate=fmt_preset_value(phase["preset"]["learning_rate"]),
            tokens_seen=fmt_count(phase["tokens_seen"]),
            passes=fmt_passes(_passes(phase)),
            device=cell(phase["device"]),
            train_time=fmt_duration(float(phase["train_time_s"])),
            first_train_loss=fmt_loss(phase["loss"]["first_train_loss"]),
            final_train_loss=fmt_loss(phase["loss"]["final_train_loss"]),
            final_heldout_loss=_heldout(phase["loss"]),
        )
        for i, phase in enumerate(phases, start=1)
    ]


def _architecture(config: dict[str, Any], parameters: int) -> list[ArchitectureRow]:
    def row(name: str, ours: str, theirs: str) -> ArchitectureRow:
        return ArchitectureRow(name=name, value=ours, xlmr_base=theirs)

    def positions(c: dict[str, Any]) -> str:
        # RoBERTa's position ids start after the padding index, so two embeddings are never used for tokens.
        usable = c["max_position_embeddings"] - c["pad_token_id"] - 1
        return f"{fmt_count(usable)} ({fmt_count(c['max_position_embeddings'])} position embeddings)"

    def heads(c: dict[str, Any]) -> str:
        return f"{c['num_attention_heads']} (of {c['hidden_size'] // c['num_attention_heads']} dimensions)"

    x = XLMR_BASE
    return [
        row("Layers", str(config["num_hidden_layers"]), str(x["num_hidden_layers"])),
        row("Hidden size", fmt_count(config["hidden_size"]), fmt_count(x["hidden_size"])),
        row("Attention heads", heads(config), heads(x)),
        row("Feed-forward size", fmt_count(config["intermediate_size"]), fmt_count(x["intermediate_size"])),
        row("Vocabulary", fmt_count(config["vocab_size"]), fmt_count(x["vocab_size"])),
        row("Max sequence length (tokens)", positions(config), positions(x)),
        row("Parameters (encoder with embeddings, no LM head)", fmt_count(parameters), fmt_count(x["parameters"])),
    ]


def _downstream(downstream: dict[str, Any]) -> tuple[list[str], list[DownstreamRow], str, str, str]:
    zero_shot = [lang for lang in LANGUAGES if lang != "de" and lang in downstream["zero_shot_f1_pretrained"] and lang in downstream["zero_shot_f1_random_init"]]
    header = [f"{LANGUAGE_NAMES['de']} (trained on)"] + [f"{LANGUAGE_NAMES[lang]} (zero-shot)" for lang in zero_shot]
    pretrained = [downstream["de_f1_pretrained"]] + [downstream["zero_shot_f1_pretrained"][lang] for lang in zero_shot]
    random_init = [downstream["de_f1_random_init"]] + [downstream["zero_shot_f1_random_init"][lang] for lang in zero_shot]
    # Differences of the values as displayed, so the row adds up on the page.
    gains = [round(a, 4) - round(b, 4) for a, b in zip(pretrained, random_init)]
    rows = [
        DownstreamRow("this base (pretrained)", f"`{cell(downstream['preset_pretrained'])}`", [fmt_score(v) for v in pretrained]),
        DownstreamRow("random (same architecture, fresh weights)", f"`{cell(downstream['preset_random_init'])}`", [fmt_score(v) for v in random_init]),
        DownstreamRow("difference", "", [fmt_gain(v) for v in gains]),
    ]
    return header, rows, fmt_score(pretrained[0]), fmt_score(random_init[0]), fmt_gain(gains[0])


def _versions(report: dict[str, Any], config: dict[str, Any]) -> tuple[list[tuple[str, str]], bool]:
    """The report's "versions" when it has them, else the transformers version that saved config.json."""
    versions = {str(k): v for k, v in (report.get("versions") or {}).items()}
    from_config = not versions and bool(config.get("transformers_version"))
    if from_config:
        versions = {"transformers": config["transformers_version"]}
    return [(cell(package), "not installed" if version is None else cell(version)) for package, version in versions.items()], from_config


def build_base_context(inputs: BaseInputs, repo_id: str, metadata_yaml: str) -> BaseCardContext:
    config, report = inputs.config, inputs.report
    loss, preset = report["loss"], report["preset"]
    phases = list(report.get("phases") or [])
    files, configs = _trained_on(report["tokenizer"]["trained_on"])
    has_heldout = loss["final_heldout_loss"] is not None
    # With phases, the top-level preset and loss are the last phase's; steps and passes add up.
    steps = sum(phase["loss"]["steps"] for phase in phases) if phases else loss["steps"]
    passes = sum(_passes(phase) for phase in phases) if phases else _passes(report)
    first_train_loss = (phases[0] if phases else report)["loss"]["first_train_loss"]
    downstream = report.get("downstream")
    versions, versions_from_config = _versions(report, config)
    notes = {**PRESET_NOTES, **(CONTINUED_PRESET_NOTES if phases else {})}
    d_header, d_rows, d_pre, d_rand, d_gain = _downstream(downstream) if downstream else ([], [], "", "", "")

    context = BaseCardContext(
        metadata_yaml=metadata_yaml.strip(),
        repo_id=repo_id,
        model_name=repo_id.split("/")[-1],
        languages=join_names([LANGUAGE_NAMES[lang] for lang in LANGUAGES]),
        dataset=HUB_DATASET,
        xlmr_base=DEFAULT_BASE_MODEL,
        arch_summary=f"{config['num_hidden_layers']} layers, hidden size {fmt_count(config['hidden_size'])}",
        parameters=fmt_count(report["parameters"]),
        parameters_ratio=f"{XLMR_BASE['parameters'] / report['parameters']:.0f}",
        architecture=_architecture(config, report["parameters"]),
        max_length=fmt_count(config["max_position_embeddings"] - config["pad_token_id"] - 1),
        vocab_size=fmt_count(report["tokenizer"]["vocab_size"]),
        trained_on_files=files,
        trained_on_configs=configs,
        subwords_per_word=[
            (LANGUAGE_NAMES[lang], fmt_subwords(report["tokenizer"]["subwords_per_word"][lang]))
            for lang in LANGUAGES
            if lang in report["tokenizer"]["subwords_per_word"]
        ],
        preset_name=cell(preset["name"]),
        preset_values=[(cell(name), cell(fmt_preset_value(value)), notes.get(name, "")) for name, value in preset.items()],
        device=cell(report["device"]),
        wall_time=fmt_duration(float(report["wall_time_s"])),
        train_time=fmt_duration(float(report["train_time_s"])),
        steps=fmt_count(steps),
        tokens_seen=fmt_count(report["tokens_seen"]),
        packed_blocks=fmt_count(report["packed_blocks"]),
        seq_len=fmt_count(preset["seq_len"]),
        passes=fmt_passes(passes),
        phases=_phase_rows(phases),
        first_train_loss=fmt_loss(first_train_loss),
        final_train_loss=fmt_loss(loss["final_train_loss"]),
        train_perplexity=fmt_perplexity(math.exp(loss["final_train_loss"])),
        has_heldout=has_heldout,
        final_heldout_loss=fmt_loss(loss["final_heldout_loss"]) if has_heldout else "",
        # The report's perplexity when it has one (exp of the unrounded loss); else from the loss.
        heldout_perplexity=(
            fmt_perplexity(loss["heldout_perplexity"] if loss["heldout_perplexity"] is not None else math.exp(loss["final_heldout_loss"]))
            if has_heldout
            else ""
        ),
        loss_plot=LOSS_PLOT if inputs.has_loss_plot else "",
        downstream_languages=d_header,
        downstream_rows=d_rows,
        downstream_de_pretrained=d_pre,
        downstream_de_random_init=d_rand,
        downstream_de_gain=d_gain,
        finetuned_models=[(exp, f"{HUB_NAMESPACE}/{model_name(exp, OFFLINE_BASE_NAME)}") for exp in EXPERIMENTS],
        mask_example=json.dumps(mask_sentence("de"), ensure_ascii=False),
        versions=versions,
        versions_from_config=versions_from_config,
        license=LICENSE,
    )
    _check_no_none(context, "context")
    return context


def build_base_card_data() -> ModelCardData:
    # No model-index: this is a fill-mask model, and the only task scores (German NER F1) belong to
    # models fine-tuned from it; the Hub would list them as this model's own. They are in the body.
    return ModelCardData(
        language=list(LANGUAGES),
        license=LICENSE,
        library_name="transformers",
        pipeline_tag=PIPELINE_TAG,
        tags=TAGS,
        datasets=[HUB_DATASET],
        widget=[{"text": mask_sentence(lang), "example_title": LANGUAGE_NAMES[lang]} for lang in LANGUAGES],
    )


# ---- public API -------------------------------------------------------------------------------


def render_base_card(base_dir: str | Path, report: str | Path | None = None, repo_id: str = DEFAULT_REPO_ID) -> str:
    """The offline base's model card, as Markdown with a YAML header.

    report=None reads BASE_DIR/pretraining.json; a report with a "downstream" key adds the
    pretrained-vs-random-init section. Raises RunDirError naming a missing file and the command that
    writes it, CardError for a malformed one.
    """
    inputs = load_base_inputs(base_dir, report)
    context = build_base_context(inputs, repo_id=repo_id, metadata_yaml=build_base_card_data().to_yaml())
    text = _environment().get_template(TEMPLATE).render(vars(context))
    try:
        ModelCard(text)  # parse it back as the Hub would, before anything is written
    except ValueError as err:
        raise CardError(f"the rendered card for {base_dir} does not parse as a model card: {err}") from err
    return text


def write_base_card(
    base_dir: str | Path,
    report: str | Path | None = None,
    out: str | Path | None = None,
    repo_id: str = DEFAULT_REPO_ID,
) -> Path:
    """Render the card and write it (default: BASE_DIR/README.md, beside pretraining_loss.png it links)."""
    from cards.render import save_card

    text = render_base_card(base_dir, report=report, repo_id=repo_id)
    return save_card(text, Path(out) if out is not None else Path(base_dir) / CARD)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cards.base_card", description="Render the model card of panx-ner's offline base.")
    parser.add_argument("base_dir", type=Path, help=f"base folder written by {PRETRAIN_COMMAND} --output-dir")
    parser.add_argument("--report", type=Path, default=None, help=f"pretraining report (default: BASE_DIR/{REPORT}); results/{REPORT} adds the downstream evidence")
    parser.add_argument("--out", type=Path, default=None, help=f"where to write the card (default: BASE_DIR/{CARD})")
    parser.add_argument("--repo-id", default=DEFAULT_REPO_ID, help=f"Hub repo id used in the card (default: {DEFAULT_REPO_ID})")
    args = parser.parse_args(argv)
    try:
        out = write_base_card(args.base_dir, report=args.report, out=args.out, repo_id=args.repo_id)
    except (RunDirError, CardError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
