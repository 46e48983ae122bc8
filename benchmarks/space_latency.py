"""Space latency per model per sentence, by backend, with the F1 each backend keeps; and cold start.

    python benchmarks/space_latency.py [--models-dir space/models] [--sentences 40] [--f1-sentences 800]

On PAN-X validation sentences of 22-28 words (about 25), alternating languages, one torch thread
(as the Space runs each request, torch and ONNX Runtime alike), in one run:
  naive      `pipeline("token-classification", model=FOLDER, aggregation_strategy="simple")` built
             inside the request, as a first Space often does: the baseline
  pipeline   the same pipeline built once and called per request
  torch_fp32 the Space's tagger (space.backends, pre-split words, one batched forward pass) on torch
  torch_int8 the same with dynamic int8 Linear layers
  onnx_fp32  the same graph in float32 on ONNX Runtime (made once per model, then cached)
For each model and backend, the entity F1 on the carved test split of every language the model was
trained on (at most --f1-sentences per language), so a faster backend is kept only where its F1
stays within 0.005 of torch_fp32. Also the app's cold start: `python app.py` until it answers HTTP
(the median of --cold-starts starts, timed before this process loads any model; a fresh clone's first
start after set-up is benchmarks/fresh_setup.py's).
Writes results/bench/space_latency.json.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pyarrow.parquet as pq
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.facts import BUNDLED_MODELS_DIR, EXPERIMENTS, LANGUAGES, RESULTS_DIR, dataset_config, default_data_dir  # noqa: E402
from core.files import write_json  # noqa: E402
from space.backends import DEFAULT_BACKEND, available, load_tagger, set_threads  # noqa: E402
from workflow.pipeline_check import f1, gold_spans  # noqa: E402

REFERENCE = "torch_fp32"
BACKENDS = (REFERENCE, "torch_int8", "onnx_fp32")
F1_TOLERANCE = 0.005


def timing_sentences(data_dir: Path, n: int) -> list[str]:
    """PAN-X validation sentences of 22-28 words, alternating languages, first n."""
    per_lang = {}
    for lang in LANGUAGES:
        tokens = pq.read_table(data_dir / dataset_config(lang) / "validation.parquet", columns=["tokens"]).column(
            "tokens"
        )
        per_lang[lang] = [" ".join(t) for t in tokens.to_pylist() if 22 <= len(t) <= 28]
    return [per_lang[LANGUAGES[i % len(LANGUAGES)]][i // len(LANGUAGES)] for i in range(n)]


def percentile(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def timed(fn, texts: list[str]) -> dict:
    for text in texts[:3]:
        fn(text)  # warm-up
    ms = []
    for text in texts:
        started = time.perf_counter()
        fn(text)
        ms.append((time.perf_counter() - started) * 1000)
    return {"p50_ms": round(statistics.median(ms), 2), "p95_ms": round(percentile(ms, 0.95), 2)}


def test_f1(tagger, experiment: str, data_dir: Path, per_language: int) -> dict[str, float]:
    """Entity F1 (exact character spans) of the Space's path on the carved test split of each training language."""
    from training.data import load_sampled

    scores = {}
    for lang in EXPERIMENTS[experiment]:
        test = load_sampled(lang, data_dir)[0]["test"]
        test = test.select(range(min(per_language, len(test))))
        counts = [0, 0, 0]
        for tokens, tags in zip(test["tokens"], test["ner_tags"]):
            gold = gold_spans(tokens, tags)
            found = {(e["start"], e["end"], e["entity_group"]) for e in tagger(" ".join(tokens))["entities"]}
            counts = [counts[0] + len(found), counts[1] + len(gold), counts[2] + len(found & gold)]
        scores[lang] = round(f1(*counts), 4)
    return scores


def cold_start_s(root: Path = ROOT, python: str = sys.executable, env: dict[str, str] | None = None) -> float:
    """Seconds from `python app.py` in `root` until the app answers HTTP."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {
        **(os.environ if env is None else env),
        "GRADIO_SERVER_PORT": str(port),
        "GRADIO_SERVER_NAME": "127.0.0.1",
        "HF_HUB_OFFLINE": "1",
    }
    started = time.perf_counter()
    proc = subprocess.Popen([python, "app.py"], cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while time.perf_counter() - started < 120:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1) as response:
                    if response.status == 200:
                        return round(time.perf_counter() - started, 2)
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("app did not answer within 120 s")
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models-dir", type=Path, default=BUNDLED_MODELS_DIR)
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--sentences", type=int, default=40)
    parser.add_argument("--naive-sentences", type=int, default=5, help="the naive path reloads the model: fewer")
    parser.add_argument("--f1-sentences", type=int, default=800, help="test sentences per language for the F1 check")
    parser.add_argument("--skip-cold-start", action="store_true")
    parser.add_argument("--cold-starts", type=int, default=3, help="app starts to time; the median is reported")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / "bench" / "space_latency.json")
    args = parser.parse_args(argv)
    if args.cold_starts < 1:
        parser.error(f"--cold-starts must be at least 1, not {args.cold_starts} (--skip-cold-start skips them)")
    from transformers import pipeline

    data_dir = args.data_dir or default_data_dir()
    texts = timing_sentences(data_dir, args.sentences)
    set_threads(1)  # what the Space does (torch's and ONNX Runtime's): one thread per request, two requests at a time
    report = {
        "device": f"cpu ({os.cpu_count()} cores), 1 torch thread",
        "torch": torch.__version__,
        "sentences": len(texts),
        "mean_words": round(statistics.mean(len(t.split()) for t in texts), 1),
        "default_backend": DEFAULT_BACKEND,
        "backends": available(),
        "f1_tolerance": F1_TOLERANCE,
        "command": "python benchmarks/space_latency.py",
        "models": {},
    }
    if not args.skip_cold_start:
        # Timed first, while this process holds no model: timed after the loading below, the first start
        # was four times slower than the next ones in two runs. The median of a few, each one reported.
        runs = [cold_start_s() for _ in range(args.cold_starts)]
        report["cold_start_s"], report["cold_start_runs_s"] = statistics.median(runs), runs
    for key in EXPERIMENTS:
        folder = args.models_dir / key
        row = {
            "naive_pipeline": timed(
                lambda t, folder=folder: pipeline(
                    "token-classification", model=str(folder), aggregation_strategy="simple"
                )(t),
                texts[: args.naive_sentences],
            )
        }
        row["cached_pipeline"] = timed(
            pipeline("token-classification", model=str(folder), aggregation_strategy="simple"), texts
        )
        for backend in BACKENDS:
            tagger = load_tagger(folder, backend)
            row[backend] = {**timed(tagger, texts), "test_f1": test_f1(tagger, key, data_dir, args.f1_sentences)}
        reference = row[REFERENCE]["test_f1"]
        row["f1_drop"] = {
            backend: round(max(reference[lang] - row[backend]["test_f1"][lang] for lang in reference), 4)
            for backend in BACKENDS
            if backend != REFERENCE
        }
        report["models"][key] = row
        print(
            f"{key:6s} naive {row['naive_pipeline']['p50_ms']:7.1f} ms  "
            f"pipeline {row['cached_pipeline']['p50_ms']:6.1f}  "
            + "  ".join(f"{b} {row[b]['p50_ms']:6.1f}" for b in BACKENDS)
            + f" ms  F1 drop {row['f1_drop']}",
            file=sys.stderr,
            flush=True,
        )
    models = report["models"].values()
    report["summary"] = {
        path: {
            "p50_ms": round(statistics.median(m[path]["p50_ms"] for m in models), 2),
            "p95_ms": round(max(m[path]["p95_ms"] for m in models), 2),
        }
        for path in ("naive_pipeline", "cached_pipeline", *BACKENDS)
    }
    report["f1_drop_max"] = {b: max(m["f1_drop"][b] for m in models) for b in BACKENDS if b != REFERENCE}
    report["within_f1_tolerance"] = {b: drop <= F1_TOLERANCE for b, drop in report["f1_drop_max"].items()}
    report["speedup_vs_naive"] = round(
        report["summary"]["naive_pipeline"]["p50_ms"] / report["summary"][DEFAULT_BACKEND]["p50_ms"], 1
    )
    write_json(args.out, report)
    print(
        f"\n{report['summary']}\nF1 drop at most {report['f1_drop_max']}; cold start "
        f"{report.get('cold_start_s', '-')} s"
    )
    return report


if __name__ == "__main__":
    main()
