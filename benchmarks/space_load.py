"""Space load test: concurrent /tag calls against the app served as the Space serves it.

    python benchmarks/space_load.py                           # the bundled models (space/models)
    python benchmarks/space_load.py --same-model RUN_DIR      # one model folder under every key
    python benchmarks/space_load.py --requests 32 --out results/bench/space_load.json

Starts `python app.py` (the Space's entry point: offline base check, queue and request limits,
one torch thread per request), waits until it answers, warms each language once (first loads are
reported apart: a visitor pays them once per Space start), then fires --requests /tag calls at
once through gradio_client. Texts cycle through the French, Italian and English example sentences,
so each request runs three e5-small models (de, the language's own, all) and auto, which reuses one
of them or adds the model the study ranks first. Records latency p50/p95/max, errors (refused calls
and per-model errors in the answers), the server's RSS before and after, and the machine's load
(other work on the cores slows every number). Writes results/bench/space_load.json.

--same-model serves copies of one folder (say, a tiny adapter from `python -m training.train ...
--max-train-samples 24`) under every key: the timings of real e5-small adapters before the real
ones are bundled; their entities mean nothing.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core import run_dir as rd  # noqa: E402
from core.cli import InputError, run  # noqa: E402
from core.facts import BUNDLED_MODELS_DIR, EXAMPLE_SENTENCES, EXPERIMENTS, LANGUAGES, RESULTS_DIR  # noqa: E402
from core.files import write_json  # noqa: E402
from space.serving import CONCURRENCY, QUEUE_SIZE  # noqa: E402

# Languages whose default models are three (German's are two: de and all).
LOAD_LANGUAGES = tuple(lang for lang in LANGUAGES if lang != LANGUAGES[0])
TARGET_P95_S = 5.0
START_TIMEOUT_S = 300


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models-dir", default=str(BUNDLED_MODELS_DIR), help="bundled models folder to serve")
    parser.add_argument("--same-model", help="serve copies of this model folder under every key instead")
    parser.add_argument("--requests", type=int, default=32, help="calls fired at once")
    parser.add_argument("--out", default=str(RESULTS_DIR / "bench" / "space_load.json"))
    args = parser.parse_args(argv)
    if args.same_model and not (rd.is_adapter(args.same_model) or (Path(args.same_model) / rd.MODEL_CONFIG).is_file()):
        raise InputError(f"--same-model {args.same_model}: no {rd.ADAPTER_CONFIG} or {rd.MODEL_CONFIG} there")
    if args.requests < 1:
        raise InputError(f"--requests must be at least 1, not {args.requests}")
    return args


def same_model_dir(folder: Path, into: Path) -> Path:
    for key in EXPERIMENTS:
        (into / key).mkdir(parents=True)
        for name in rd.model_files(folder):
            shutil.copy2(folder / name, into / key / name)
    return into


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def memory_mib(pid: int) -> dict[str, float]:
    """RSS, and PSS: RSS counts each model's mapping of the base's safetensors file again, though the
    pages are the same; PSS counts them once, so it is what the models really take."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:])
    return {name.lower(): round(int(fields[name].split()[0]) / 1024, 1) for name in ("Rss", "Pss")}


def start_app(models_dir: Path, port: int, log: Path) -> subprocess.Popen:
    env = {
        **os.environ,
        "PANX_MODELS_DIR": str(models_dir),
        "GRADIO_SERVER_PORT": str(port),
        "GRADIO_SERVER_NAME": "127.0.0.1",
        "HF_HUB_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
    }
    with log.open("w") as output:  # a file, not a pipe: nobody reads a pipe while the app runs
        app = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if app.poll() is not None:
            raise RuntimeError(f"app.py exited with {app.returncode}: {log.read_text()[-2000:]}")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2)
            return app
        except OSError:
            time.sleep(0.5)
    app.kill()
    raise RuntimeError(f"app.py did not answer within {START_TIMEOUT_S} s")


def percentile(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


def timed_call(client, text: str, language: str) -> tuple[float, dict | None, str | None]:
    started = time.perf_counter()
    try:
        answer = client.predict(text, language, api_name="/tag")
    except Exception as err:
        return time.perf_counter() - started, None, f"{type(err).__name__}: {err}"
    return time.perf_counter() - started, answer, None


def main(argv: list[str] | None = None) -> dict:
    from gradio_client import Client

    args = parse(argv)
    with tempfile.TemporaryDirectory(prefix="space-load-") as tmp:
        if args.same_model:
            models_dir = same_model_dir(Path(args.same_model), Path(tmp) / "models")
        else:
            models_dir = Path(args.models_dir)
        port = free_port()
        started = time.perf_counter()
        app = start_app(models_dir, port, Path(tmp) / "app.log")
        try:
            start_s = time.perf_counter() - started
            memory_started = memory_mib(app.pid)
            client = Client(f"http://127.0.0.1:{port}/", verbose=False)
            warmup = {lang: round(timed_call(client, EXAMPLE_SENTENCES[lang], lang)[0], 2) for lang in LOAD_LANGUAGES}
            memory_warm = memory_mib(app.pid)
            languages = [LOAD_LANGUAGES[i % len(LOAD_LANGUAGES)] for i in range(args.requests)]
            calls = [(EXAMPLE_SENTENCES[lang], lang) for lang in languages]
            load = os.getloadavg()[0]
            fired = time.perf_counter()
            with ThreadPoolExecutor(args.requests) as pool:
                results = list(pool.map(lambda call: timed_call(client, *call), calls))
            wall_s = time.perf_counter() - fired
            memory_after = memory_mib(app.pid)
        finally:
            app.terminate()
            app.wait(30)

    latencies = [seconds for seconds, _, _ in results]
    refused = [error for _, _, error in results if error]
    answers = [answer for _, answer, _ in results if answer]
    model_errors = sorted({r["error"] for a in answers for r in [*a["models"].values(), a["auto"]] if r["error"]})
    report = {
        "device": f"cpu ({os.cpu_count()} cores)",
        "load_average_1m_at_start": round(load, 2),
        "models": "same model under every key" if args.same_model else "bundled",
        "requests": args.requests,
        "app_concurrency": CONCURRENCY,
        "app_queue_size": QUEUE_SIZE,
        "languages": list(LOAD_LANGUAGES),
        "models_per_request": sorted({len(a["models"]) for a in answers}),
        "auto_answered_by": sorted({a["auto"]["answered_by"] for a in answers}),
        "app_start_s": round(start_s, 2),
        "warmup_s": warmup,
        "wall_s": round(wall_s, 2),
        "p50_s": round(statistics.median(latencies), 2),
        "p95_s": round(percentile(latencies, 95), 2),
        "max_s": round(max(latencies), 2),
        "target_p95_s": TARGET_P95_S,
        "meets_target": percentile(latencies, 95) <= TARGET_P95_S and not refused and not model_errors,
        "refused": len(refused),
        "refused_examples": refused[:3],
        "model_errors": model_errors,
        "memory_mib": {"started": memory_started, "warm": memory_warm, "after": memory_after},
    }
    write_json(args.out, report)
    print(
        f"{args.requests} concurrent /tag calls: p50 {report['p50_s']} s, p95 {report['p95_s']} s, "
        f"max {report['max_s']} s; {len(refused)} refused, {len(model_errors)} model errors; "
        f"PSS {memory_started['pss']} -> {memory_warm['pss']} -> {memory_after['pss']} MiB; "
        f"wrote {args.out}",
        file=sys.stderr,
    )
    return report


if __name__ == "__main__":
    sys.exit(run(lambda argv: main(argv) and 0))
