"""The Space served for real: app.py's shape, /tag through gradio_client with tiny models, and what the
running server refuses (uploads, large bodies, files outside its own assets)."""

from __future__ import annotations

import http.client
import importlib
import json
import shutil
import socket
import subprocess
import sys
import time
import unicodedata
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import quote, urlsplit

import gradio as gr
import pytest
import torch
from card_fixtures import paragraph_check
from gradio_client import Client
from gradio_client.exceptions import AppError

from core.facts import OFFLINE_BASE_ID, REPO_ROOT, repo_id
from core.results import F1_MATRIX_JSON, F1_MATRIX_MD, PARAGRAPH_CHECK_JSON, PLOTS
from space.app import build_demo, launch
from space.backends import set_threads
from space.compare import MAX_CHARS, REQUEST_LANGUAGES
from space.serving import CONCURRENCY, CONCURRENCY_ID, MAX_REQUEST_BYTES, QUEUE_SIZE

SENTENCE = "Jeff Dean ist ein Informatiker bei Google in Kalifornien ."
PNG = bytes.fromhex(  # a 1x1 PNG
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d4944415478da63f8ffff3f0005fe02fea7d6a4c80000000049454e44ae426082"
)
# The served app's F1 matrix: auto routes German to "all", French to "fr" (broken: it hands over to "all").
MATRIX = {"all": {"de": 0.9, "fr": 0.8}, "fr": {"fr": 0.9}, "de": {"de": 0.5, "fr": 0.5}}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def models_dir(smoke_run_dir, tmp_path_factory):
    """de and all: copies of the smoke model (de with a card linking the study's plots); fr: a broken
    folder; the rest absent (not bundled, and the Hub is off)."""
    root = tmp_path_factory.mktemp("models")
    for key in ("de", "all"):
        shutil.copytree(smoke_run_dir, root / key)
    (root / "de" / "README.md").write_text(
        "---\nlicense: mit\n---\n\n# The de card\n\n"
        + "".join(f"![{c}](plots/{p.split('/')[-1]})\n" for p, c in PLOTS.items())
    )
    (root / "fr").mkdir()
    (root / "fr" / "config.json").write_text("{ not json")
    return root


@pytest.fixture(scope="module")
def results_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("results")
    for rel in PLOTS:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(PNG)
    (root / F1_MATRIX_JSON).write_text(json.dumps(MATRIX))
    (root / F1_MATRIX_MD).write_text("| model | de |\n|---|---|\n| de | 0.86 |\n")
    (root / PARAGRAPH_CHECK_JSON).write_text(json.dumps(paragraph_check()))
    return root


@pytest.fixture(scope="module")
def served(models_dir, results_dir):
    """The demo on a free port in a background thread, as the Space runs it (launch() included)."""
    threads = torch.get_num_threads()
    demo = build_demo(models_dir=models_dir, results_dir=results_dir)
    _, url, _ = launch(demo, server_port=free_port(), prevent_thread_lock=True, quiet=True)
    yield demo, url
    demo.close()
    set_threads(None)  # launch() sets the Space's thread count; give the test session its own back
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def client(served):
    return Client(served[1], verbose=False)


def raw_request(url: str, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
    """A request sent exactly as written: no client normalises "../" or re-encodes the path."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


# --- app.py and the demo's shape ----------------------------------------------------------------------


def test_app_py_builds_the_base_then_serves(monkeypatch):
    import core.e5_base

    calls = []
    app = importlib.reload(sys.modules["app"]) if "app" in sys.modules else importlib.import_module("app")
    assert not hasattr(app, "demo")  # importing it builds nothing
    monkeypatch.setattr(core.e5_base, "build", lambda progress: calls.append(("base", progress)))
    monkeypatch.setattr(app, "build_demo", lambda: calls.append("demo") or "DEMO")
    monkeypatch.setattr(app, "launch", lambda demo: calls.append(("launch", demo)))
    app.main()
    assert calls == [("base", False), "demo", ("launch", "DEMO")]


def test_the_space_imports_only_core_and_nothing_heavy():
    code = (
        "import sys; import space.app as a; a.build_demo(); "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'torch', 'transformers', 'peft', 'py3langid', "
        "'training', 'cards', 'workflow'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_building_loads_no_model(models_dir, results_dir):
    demo = build_demo(models_dir=models_dir, results_dir=results_dir)
    assert demo.registry.models_dir == models_dir
    assert not any(demo.registry.is_loaded(key) for key in demo.registry.specs)


def test_queue_limits(served):
    demo, _ = served
    assert demo._queue.max_size == QUEUE_SIZE
    runs_models = [fn for fn in demo.fns.values() if fn.concurrency_id == CONCURRENCY_ID]
    assert {fn.api_name for fn in runs_models if fn.api_visibility == "public"} == {"tag"}
    assert len(runs_models) == 6 and {fn.concurrency_limit for fn in runs_models} == {CONCURRENCY}
    assert demo.max_file_size == 0


def test_the_page_load_runs_the_first_example_and_a_burst_of_ticks_runs_once_more(served):
    demo, _ = served
    runs = [fn for fn in demo.fns.values() if fn.concurrency_id == CONCURRENCY_ID and fn.api_visibility != "public"]
    assert {fn.show_progress for fn in runs} == {"hidden"}  # each column shows its own state, no overlay
    triggers = {event: fn for fn in runs for _, event in fn.targets}
    assert "load" in triggers  # the first view shows the first example's result
    models = next(b for b in demo.blocks.values() if getattr(b, "elem_id", None) == "models")
    (tick,) = [fn for fn in runs if (models._id, "input") in fn.targets]
    assert tick.trigger_mode == "always_last"  # ticks during a run: one more run, not one per tick


def markdown_texts(demo) -> str:
    return "\n".join(str(block.value) for block in demo.blocks.values() if isinstance(block, gr.Markdown))


def test_results_tab_without_and_with_results(tmp_path, models_dir, results_dir):
    text = markdown_texts(build_demo(models_dir=models_dir, results_dir=tmp_path))
    assert all(f"({rel} is missing in the results)" in text for rel in PLOTS)
    assert "No model card bundled: fr/README.md is missing" in text
    assert "(plot not available here)" in text and "plots/" not in text  # no broken image

    assert "Paragraphs of running text" not in text  # no paragraph check, no table

    demo = build_demo(models_dir=models_dir, results_dir=results_dir)
    text = markdown_texts(demo)
    assert "is missing in the results" not in text and "| de | 0.86 |" in text
    # The paragraph check beside it: each model's F1 on whole paragraphs (pipeline), one sentence at a time
    # (pipeline) and on whole paragraphs (the Space's tagger), and the pipeline's spans that cut a word, in
    # paragraphs and one sentence at a time.
    assert "### Paragraphs of running text" in text
    assert "| de | 512, 128 | 0.527 | 0.787 | 0.739 | 18.3% | 2.3% |" in text
    assert "| en | 512, 128 | 0.773 | 0.761 | 0.728 | 2.0% | 0.3% |" in text
    assert "# The de card" in text and "license: mit" not in text and "plots/" not in text
    assert len([b for b in demo.blocks.values() if isinstance(b, gr.Image)]) == len(PLOTS)


# --- /tag ------------------------------------------------------------------------------------------


def test_tag_is_the_only_public_endpoint(client):
    assert list(client.view_api(print_info=False, return_format="dict")["named_endpoints"]) == ["/tag"]


def test_tag_returns_spans_of_the_default_models_and_auto(client):
    out = client.predict(SENTENCE, "de", api_name="/tag")
    assert out["text"] == SENTENCE and out["language"] == "de" and out["notice"] is None
    assert list(out["models"]) == ["de", "all"]
    assert [out["models"]["de"]["model"], out["models"]["all"]["model"], out["auto"]["model"]] == [
        repo_id("de", OFFLINE_BASE_ID),
        repo_id("all", OFFLINE_BASE_ID),
        repo_id("all", OFFLINE_BASE_ID),
    ]
    for result in [*out["models"].values(), out["auto"]]:
        assert result["error"] is None
        for e in result["entities"]:
            assert set(e) == {"entity_group", "word", "start", "end", "score"}
            assert SENTENCE[e["start"] : e["end"]] == e["word"]
    assert out["models"]["de"]["zero_shot"] is False
    auto = out["auto"]
    assert auto["detected_language"] == "de" and 0.5 < auto["probability"] <= 1 and auto["answered_by"] == "all"
    assert auto["entities"] == out["models"]["all"]["entities"]


def test_language_auto_detects_it(client):
    out = client.predict("Jeff Dean est informaticien chez Google en Californie .", "auto", api_name="/tag")
    assert out["language"] == "fr" and list(out["models"]) == ["de", "fr", "all"]
    # The best model for French (fr) is broken: auto hands over to the next one.
    assert out["auto"]["detected_language"] == "fr" and out["auto"]["answered_by"] == "all"


def test_failing_models_report_errors_and_the_rest_answer(client, models_dir):
    out = client.predict(SENTENCE, "fr", api_name="/tag")
    assert list(out["models"]) == ["de", "fr", "all"]
    error = out["models"]["fr"]["error"]
    assert error.startswith("model 'fr' (bundled) cannot be served: ") and "config" in error
    assert str(models_dir) not in error and "/tmp" not in error
    assert out["models"]["de"]["error"] is None and out["models"]["de"]["zero_shot"] is True
    it = client.predict(SENTENCE, "it", api_name="/tag")["models"]["it"]
    assert it["error"].endswith(
        "is not bundled (it/adapter_config.json or it/config.json in the models folder) "
        "and the Hub is off (HF_HUB_OFFLINE)"
    )


@pytest.mark.parametrize(
    "text,language,message",
    [
        ("", "de", "The text is empty"),
        ("  \n ", "de", "The text is empty"),
        (SENTENCE, "xx", f"unknown language 'xx'; valid languages: {', '.join(REQUEST_LANGUAGES)}"),
        (SENTENCE, "<img src=x onerror=alert(1)>", "unknown language '&lt;img src=x onerror=alert(1)&gt;'"),
    ],
)
def test_bad_input_gets_a_clear_message(client, text, language, message):
    with pytest.raises(AppError) as err:
        client.predict(text, language, api_name="/tag")
    assert message in str(err.value)


def test_html_emoji_rtl_come_back_intact_with_right_offsets(client):
    text = "<img src=x onerror=alert(1)> Angela Merkel 🙂 besucht القاهرة und תל אביב &amp; Zürich"
    out = client.predict(text, "de", api_name="/tag")
    assert out["text"] == text  # JSON, not HTML: the text as sent, so that offsets hold
    for result in [*out["models"].values(), out["auto"]]:
        for e in result["entities"]:
            assert text[e["start"] : e["end"]] == e["word"]


def test_control_characters_are_never_entities(client):
    out = client.predict("\x00", "de", api_name="/tag")
    assert all(r["entities"] == [] for r in out["models"].values())
    text = "\x00Jeff\x00 Dean \u200b\x1b ist bei Google\x07 in Berlin\x00"
    for result in client.predict(text, "de", api_name="/tag")["models"].values():
        for e in result["entities"]:
            assert any(not unicodedata.category(c).startswith("C") for c in e["word"])


def test_long_text_is_cut_with_a_notice_and_tagged_to_the_end(client):
    text = (SENTENCE + " ") * (MAX_CHARS // len(SENTENCE) + 20)
    out = client.predict(text, "de", api_name="/tag")
    assert len(out["text"]) <= MAX_CHARS and text.startswith(out["text"])
    assert f"{len(text):,} characters" in out["notice"] and "Long text" in out["notice"]
    entities = out["models"]["de"]["entities"]
    assert all(out["text"][e["start"] : e["end"]] == e["word"] for e in entities)
    assert entities[-1]["end"] > len(out["text"]) - 2 * len(SENTENCE)  # windows reach the end


@pytest.mark.parametrize(
    "text", ["Berlin " * 150_000, "Wort " * 20_000, "." * 20_000], ids=["1MB", "20k-words", "20k-dots"]
)
def test_huge_texts_are_cut_in_bounded_time(client, text):
    started = time.monotonic()
    out = client.predict(text, "de", api_name="/tag")
    assert time.monotonic() - started < 60  # generous: two busy cores
    assert len(out["text"]) <= MAX_CHARS and f"only the first {len(out['text']):,} were tagged" in out["notice"]
    assert all(r["error"] is None for r in out["models"].values())


def test_sixteen_concurrent_requests_are_all_answered(client):
    texts = [f"{SENTENCE} Nummer {i}" for i in range(16)]
    with ThreadPoolExecutor(16) as pool:
        jobs = [pool.submit(client.predict, t, "de", api_name="/tag") for t in texts]
        answers = [job.result(timeout=120) for job in jobs]
    assert [a["text"] for a in answers] == texts  # each caller got its own answer
    assert all(a["models"]["de"]["error"] is None for a in answers)


# --- what the server refuses --------------------------------------------------------------------------


def multipart(name: str, content: bytes) -> tuple[bytes, dict]:
    boundary = "panxboundary"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="{name}"\r\n'
            f"Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + content
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, {"Content-Type": f"multipart/form-data; boundary={boundary}"}


@pytest.mark.parametrize(
    "path", ["/gradio_api/upload", "/gradio_api/upload?upload_id=x", "/gradio_api/process_recording"]
)
def test_uploads_are_refused(served, path):
    for content in (b"", b"x" * 10, b"x" * 100_000):
        body, headers = multipart("evil.html", content)
        status, text = raw_request(served[1], "POST", path, body, headers)
        assert status == 413 and b"no file uploads" in text


def test_large_bodies_are_refused(served):
    url = served[1]
    status, _ = raw_request(
        url,
        "POST",
        "/gradio_api/queue/join",
        b"{}",
        {"Content-Length": str(MAX_REQUEST_BYTES + 1), "Content-Type": "application/json"},
    )
    assert status == 413
    # A chunked body gives no length: it is counted as it arrives.
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    chunks = (b"x" * 2**20 for _ in range(MAX_REQUEST_BYTES // 2**20 + 2))
    conn.request(
        "POST", "/gradio_api/queue/join", body=chunks, headers={"Content-Type": "application/json"}, encode_chunked=True
    )
    assert conn.getresponse().status == 413
    conn.close()


def test_only_the_apps_own_files_are_served(served, models_dir, results_dir):
    url = served[1]
    forbidden = [
        "/gradio_api/file=../../../../../../etc/passwd",
        "/gradio_api/file=..%2f..%2f..%2f..%2f..%2f..%2fetc%2fpasswd",
        "/gradio_api/file=%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "/gradio_api/file=%252e%252e%252f%252e%252e%252fetc%252fpasswd",
        "/gradio_api/file=/etc/passwd",
        "/gradio_api/file=%2Fetc%2Fpasswd",
        "/gradio_api/file=//etc/passwd",
        "/gradio_api/file=/proc/self/environ",
        "/gradio_api/file/../../../etc/passwd",
        "/gradio_api/file=file:///etc/passwd",
        "/static/../../../../etc/passwd",
        "/static/..%2f..%2f..%2f..%2fetc%2fpasswd",
        "/assets/..%2f..%2f..%2f..%2f..%2fetc%2fpasswd",
        "/svelte/..%2f..%2f..%2f..%2fetc%2fpasswd",
        f"/gradio_api/file={quote(str(REPO_ROOT / 'app.py'))}",
        f"/gradio_api/file={quote(str(models_dir / 'de' / 'config.json'))}",
        f"/gradio_api/file={quote(str(results_dir / F1_MATRIX_JSON))}",
        f"/gradio_api/file={quote(str(results_dir))}/../{quote(str(models_dir.name))}/de/config.json",
    ]
    for path in forbidden:
        status, body = raw_request(url, "GET", path)
        assert status in (400, 403, 404), (path, status)
        assert b"root:" not in body and b"PATH=" not in body and b"id2label" not in body, path


def test_the_cards_plots_are_served(served, results_dir):
    demo, url = served
    card = next(
        str(b.value) for b in demo.blocks.values() if isinstance(b, gr.Markdown) and "# The de card" in str(b.value)
    )
    links = [line.split("](", 1)[1].rstrip(")") for line in card.splitlines() if line.startswith("![")]
    assert len(links) == len(PLOTS)
    for link in links:
        assert link.startswith("gradio_api/file=")
        status, body = raw_request(url, "GET", "/" + link)
        assert status == 200 and body == PNG, link
