"""Space latency: the Space's tagging path vs a naive per-request pipeline, on 2 CPU cores.

    python benchmarks/space_latency.py [--models-dir space/models] [--sentences 30]

On a fixed set of PAN-X sentences of about 25 words, in one run:
  naive    `pipeline("token-classification", model=..., aggregation_strategy="simple")` built inside
           the request, as a first Space often does (baseline_p50_ms);
  cached   the same pipeline built once and called per request (cached_pipeline_p50_ms);
  space    the Space's own path (space.registry + space.tagging: cached model, pre-split words,
           one batched forward pass under inference_mode, one torch thread per request);
  int8     the Space's path with dynamic int8 quantisation of the Linear layers, kept only if its
           entities equal the fp32 ones (agreement).
Also: the side-by-side latency of three models on one sentence, and the app's cold start
(`python app.py` until it answers HTTP). Writes results/bench/space_latency.json.
"""

from __future__ import annotations

import argparse
import json
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

from space.registry import Registry, default_models  # noqa: E402
from core.facts import BUNDLED_MODELS_DIR, RESULTS_DIR, default_data_dir  # noqa: E402


def sentences(data_dir: Path, n: int) -> list[str]:
    """PAN-X validation sentences of 22-28 words, alternating languages, first n."""
    picked = []
    per_lang = {lang: [" ".join(t) for t in pq.read_table(data_dir / f"PAN-X.{lang}" / "validation.parquet", columns=["tokens"]).column("tokens").to_pylist() if 22 <= len(t) <= 28]
                for lang in ("de", "fr", "it", "en")}
    for i in range(n):
        lang = ("de", "fr", "it", "en")[i % 4]
        picked.append(per_lang[lang][i // 4])
    return picked


def percentile(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def timed(fn, inputs, repeats: int = 2) -> list[float]:
    for text in inputs[:3]:
        fn(text)  # warm-up
    out = []
    for _ in range(repeats):
        for text in inputs:
            started = time.perf_counter()
            fn(text)
            out.append((time.perf_counter() - started) * 1000)
    return out


def spans(result) -> list[tuple]:
    return [(e["entity_group"], e["start"], e["end"]) for e in result["entities"]]


def cold_start_s() -> float:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "GRADIO_SERVER_PORT": str(port), "GRADIO_SERVER_NAME": "127.0.0.1", "HF_HUB_OFFLINE": "1"}
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
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
    parser.add_argument("--models-dir", default=str(BUNDLED_MODELS_DIR))
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--sentences", type=int, default=30)
    parser.add_argument("--naive-sentences", type=int, default=6, help="the naive path reloads the model: fewer")
    parser.add_argument("--skip-cold-start", action="store_true")
    parser.add_argument("--out", default=str(RESULTS_DIR / "bench" / "space_latency.json"))
    args = parser.parse_args(argv)

    from transformers import pipeline

    texts = sentences(Path(args.data_dir or default_data_dir()), args.sentences)
    registry = Registry(args.models_dir)
    keys = default_models("fr")  # de, fr, all: the side-by-side default for a French visitor
    report = {"device": f"cpu ({os.cpu_count()} cores)", "torch": torch.__version__, "sentences": len(texts),
              "mean_words": round(statistics.mean(len(t.split()) for t in texts), 1), "models": {}}

    default_threads = torch.get_num_threads()
    for key in keys:
        folder = str(Path(args.models_dir) / key)
        torch.set_num_threads(default_threads)
        naive = timed(lambda t: pipeline("token-classification", model=folder, aggregation_strategy="simple")(t),
                      texts[: args.naive_sentences], repeats=1)
        cached_pipe = pipeline("token-classification", model=folder, aggregation_strategy="simple")
        cached = timed(cached_pipe, texts)
        torch.set_num_threads(1)  # what space.app.launch sets: one thread per request
        tagger = registry.get(key)
        ours = timed(tagger, texts)
        fp32 = [spans(tagger(t)) for t in texts]
        int8_model = torch.ao.quantization.quantize_dynamic(tagger.model, {torch.nn.Linear}, dtype=torch.qint8)
        from space.tagging import Tagger

        int8 = Tagger(tagger.tokenizer, int8_model)
        int8_ms = timed(int8, texts)
        agreement = sum(spans(int8(t)) == f for t, f in zip(texts, fp32)) / len(texts)
        report["models"][key] = {
            "p50_ms": round(statistics.median(ours), 2), "p95_ms": round(percentile(ours, 0.95), 2),
            "baseline_p50_ms": round(statistics.median(naive), 2),
            "cached_pipeline_p50_ms": round(statistics.median(cached), 2),
            "int8_p50_ms": round(statistics.median(int8_ms), 2), "int8_agreement": round(agreement, 4),
        }
        print(f"{key:6s} space p50 {report['models'][key]['p50_ms']:7.2f} ms  p95 {report['models'][key]['p95_ms']:7.2f}  "
              f"naive {report['models'][key]['baseline_p50_ms']:8.1f}  cached pipeline {report['models'][key]['cached_pipeline_p50_ms']:7.2f}  "
              f"int8 {report['models'][key]['int8_p50_ms']:7.2f} (agreement {agreement:.3f})", file=sys.stderr, flush=True)

    side_by_side = timed(lambda t: [registry.get(k)(t) for k in keys], texts)
    per_model = [m["p50_ms"] for m in report["models"].values()]
    report.update({
        "p50_ms": round(statistics.median(per_model), 2),
        "p95_ms": round(max(m["p95_ms"] for m in report["models"].values()), 2),
        "baseline_p50_ms": round(statistics.median(m["baseline_p50_ms"] for m in report["models"].values()), 2),
        "cached_pipeline_p50_ms": round(statistics.median(m["cached_pipeline_p50_ms"] for m in report["models"].values()), 2),
        "side_by_side_models": keys,
        "side_by_side_p50_ms": round(statistics.median(side_by_side), 2),
        "agreement": min(m["int8_agreement"] for m in report["models"].values()),
        "agreement_means": "share of sentences whose int8 entities equal the fp32 entities (the Space keeps fp32 unless this is 1.0)",
    })
    report["speedup_vs_naive"] = round(report["baseline_p50_ms"] / report["p50_ms"], 1)
    report["speedup_vs_cached_pipeline"] = round(report["cached_pipeline_p50_ms"] / report["p50_ms"], 2)
    if not args.skip_cold_start:
        report["cold_start_s"] = cold_start_s()
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nper model per sentence: p50 {report['p50_ms']} ms, p95 {report['p95_ms']} ms "
          f"(naive pipeline {report['baseline_p50_ms']} ms: {report['speedup_vs_naive']}x; cached pipeline "
          f"{report['cached_pipeline_p50_ms']} ms: {report['speedup_vs_cached_pipeline']}x)")
    print(f"side by side ({', '.join(keys)}): p50 {report['side_by_side_p50_ms']} ms; cold start {report.get('cold_start_s', '-')} s")
    return report


if __name__ == "__main__":
    main()
