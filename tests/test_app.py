"""The Space served for real: app.py's shape, and /tag through gradio_client with tiny models."""

from __future__ import annotations

import importlib
import shutil
import socket
import sys
from concurrent.futures import ThreadPoolExecutor

import gradio as gr
import pytest
import torch
from gradio_client import Client
from gradio_client.exceptions import AppError

from space.app import build_demo, launch
from space.compare import MAX_CHARS
from space.registry import MODEL_KEYS

SENTENCE = "Jeff Dean ist ein Informatiker bei Google in Kalifornien ."


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def models_dir(smoke_run_dir, tmp_path_factory):
    """de and all: copies of the smoke model; fr: a broken folder; the rest absent (Hub, offline)."""
    root = tmp_path_factory.mktemp("models")
    for key in ("de", "all"):
        shutil.copytree(smoke_run_dir, root / key)
    (root / "fr").mkdir()
    (root / "fr" / "config.json").write_text("{ not json")
    return root


@pytest.fixture(scope="module")
def served(models_dir):
    """The demo on a free port in a background thread, as the Space runs it (launch() included)."""
    threads = torch.get_num_threads()
    demo = build_demo(models_dir=models_dir)
    _, url, _ = launch(demo, server_port=free_port(), prevent_thread_lock=True, quiet=True)
    yield demo, url
    demo.close()
    torch.set_num_threads(threads)  # launch() sets the Space's thread count; give the test session its own back


@pytest.fixture(scope="module")
def client(served):
    return Client(served[1], verbose=False)


def test_app_py_builds_the_demo_without_loading_models(monkeypatch, models_dir):
    monkeypatch.setenv("PANX_MODELS_DIR", str(models_dir))
    app = importlib.reload(sys.modules["app"]) if "app" in sys.modules else importlib.import_module("app")
    assert app.demo.registry.models_dir == models_dir
    assert not any(app.demo.registry.is_loaded(key) for key in MODEL_KEYS)


def markdown_texts(demo) -> str:
    return "\n".join(str(block.value) for block in demo.blocks.values() if isinstance(block, gr.Markdown))


def test_results_tab_without_and_with_results(tmp_path, models_dir):
    text = markdown_texts(build_demo(models_dir=models_dir, results_dir=tmp_path / "none"))
    assert "f1_matrix.png is missing" in text and "fr_learning_curve.png is missing" in text
    assert "No model card bundled" in text

    results = tmp_path / "results"
    results.mkdir()
    png = bytes.fromhex(  # a 1x1 PNG
        "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
        "1f15c4890000000d4944415478da63f8ffff3f0005fe02fea7d6a4c80000000049454e44ae426082"
    )
    for name in ("f1_matrix.png", "fr_learning_curve.png"):
        (results / name).write_bytes(png)
    (results / "f1_matrix.md").write_text("| model | de |\n|---|---|\n| de | 0.86 |\n")
    cards = tmp_path / "models"
    shutil.copytree(models_dir, cards)
    (cards / "de" / "README.md").write_text("---\nlicense: mit\n---\n\n# The de card\n")
    demo = build_demo(models_dir=cards, results_dir=results)
    text = markdown_texts(demo)
    assert "is missing" not in text.split("### Model cards")[0] and "| de | 0.86 |" in text
    assert "# The de card" in text and "license: mit" not in text
    assert len([b for b in demo.blocks.values() if isinstance(b, gr.Image)]) == 2


def test_tag_is_the_only_public_endpoint(client):
    assert list(client.view_api(print_info=False, return_format="dict")["named_endpoints"]) == ["/tag"]


def test_tag_returns_spans_of_the_default_models(client):
    out = client.predict(SENTENCE, "de", api_name="/tag")
    assert out["text"] == SENTENCE and out["language"] == "de" and out["notice"] is None
    assert list(out["models"]) == ["de", "all"]
    for key, result in out["models"].items():
        assert result["error"] is None and result["model"] == "panx-ner/smoke-finetuned-panx-de"
        for e in result["entities"]:
            assert set(e) == {"entity_group", "word", "start", "end", "score"}
            assert SENTENCE[e["start"] : e["end"]] == e["word"]
    assert out["models"]["de"]["zero_shot"] is False


def test_failing_models_report_errors_and_the_rest_answer(client):
    out = client.predict(SENTENCE, "fr", api_name="/tag")
    assert list(out["models"]) == ["de", "fr", "all"]
    assert "could not be loaded from bundled folder" in out["models"]["fr"]["error"]
    assert out["models"]["de"]["error"] is None and out["models"]["de"]["zero_shot"] is True
    it = client.predict(SENTENCE, "it", api_name="/tag")["models"]["it"]
    assert "could not be loaded from the Hub" in it["error"]  # not bundled, and HF_HUB_OFFLINE=1


@pytest.mark.parametrize(
    "text,language,message",
    [("", "de", "The text is empty"), ("  \n ", "de", "The text is empty"), (SENTENCE, "xx", "unknown language 'xx'")],
)
def test_bad_input_gets_a_clear_message(client, text, language, message):
    with pytest.raises(AppError, match=message):
        client.predict(text, language, api_name="/tag")


def test_html_emoji_rtl_come_back_intact_with_right_offsets(client):
    text = "<img src=x onerror=alert(1)> Angela Merkel 🙂 besucht القاهرة und תל אביב &amp; Zürich"
    out = client.predict(text, "de", api_name="/tag")
    assert out["text"] == text
    for result in out["models"].values():
        for e in result["entities"]:
            assert text[e["start"] : e["end"]] == e["word"]


def test_long_text_is_cut_with_a_notice_and_tagged_to_the_end(client):
    text = (SENTENCE + " ") * (MAX_CHARS // len(SENTENCE) + 20)
    out = client.predict(text, "de", api_name="/tag")
    assert len(out["text"]) <= MAX_CHARS and text.startswith(out["text"])
    assert f"{len(text):,} characters" in out["notice"] and "Long text" in out["notice"]
    entities = out["models"]["de"]["entities"]
    assert all(out["text"][e["start"] : e["end"]] == e["word"] for e in entities)
    assert entities[-1]["end"] > len(out["text"]) - 2 * len(SENTENCE)  # windows reach the end


def test_sixteen_concurrent_requests_are_all_answered(client):
    texts = [f"{SENTENCE} Nummer {i}" for i in range(16)]
    with ThreadPoolExecutor(16) as pool:
        jobs = [pool.submit(client.predict, t, "de", api_name="/tag") for t in texts]
        answers = [job.result(timeout=120) for job in jobs]
    assert [a["text"] for a in answers] == texts  # each caller got its own answer
    assert all(a["models"]["de"]["error"] is None for a in answers)
