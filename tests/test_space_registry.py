"""space.registry and space.examples: which models exist, where they load from, per-model locks,
remembered failures, the Hub only when allowed; real loads of a full model and a LoRA adapter."""

from __future__ import annotations

import json
import shutil
import threading
import time

import huggingface_hub
import pytest
from huggingface_hub import constants

import space.registry as registry_module
from core import run_dir as rd
from core.facts import BUNDLED_MODELS_DIR, EXPERIMENTS, HUB_NAMESPACE, LANGUAGES, OFFLINE_BASE_ID, repo_id
from space.examples import EXAMPLES_FILE, build_examples, gold_for, load_examples
from space.registry import (
    MODEL_KEYS,
    ModelLoadError,
    Registry,
    UnknownModelError,
    default_models,
    strip_front_matter,
    without_paths,
)
from space.routing import AUTO
from space.tagging import split_words

SENTENCE = "Jeff Dean ist ein Informatiker bei Google in Kalifornien"


def adapter_folder(path, base=OFFLINE_BASE_ID):
    path.mkdir(parents=True)
    (path / rd.ADAPTER_CONFIG).write_text(json.dumps({"base_model_name_or_path": base}))
    return path


def fake_tagger(text):
    return {"text": text, "entities": []}


@pytest.fixture
def loads(monkeypatch):
    """Replaces the backend: records each folder loaded and returns a fake tagger."""
    calls = []

    def load(folder, backend):
        calls.append(folder.name)
        return fake_tagger

    monkeypatch.setattr(registry_module, "load_tagger", load)
    return calls


@pytest.fixture
def no_hub(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the Hub was called")

    monkeypatch.setattr(huggingface_hub, "snapshot_download", refuse)


def test_one_model_per_experiment_and_auto(tmp_path):
    reg = Registry(tmp_path)
    assert list(reg.specs) == list(EXPERIMENTS) and MODEL_KEYS == (*EXPERIMENTS, AUTO)
    assert reg.spec("de-fr").languages == ("de", "fr")
    assert reg.spec("all").trained_on("it") and not reg.spec("de").trained_on("fr")
    assert reg.spec("de-fr").display_name == "de-fr (German + French)"


@pytest.mark.parametrize("key", ["xx", "../de", "/etc", "xlm-roberta-base", f"{HUB_NAMESPACE}/x-finetuned-panx-de", ""])
def test_unknown_keys_are_refused_with_the_valid_ones(tmp_path, key):
    with pytest.raises(UnknownModelError, match=f"valid models: {', '.join(MODEL_KEYS)}$"):
        Registry(tmp_path).get(key)


def test_auto_is_no_model_folder(tmp_path):
    with pytest.raises(UnknownModelError, match="'auto' is no model of its own"):
        Registry(tmp_path).get(AUTO)


def test_hub_id_from_the_bundled_adapters_base(tmp_path):
    adapter_folder(tmp_path / "de")
    adapter_folder(tmp_path / "fr", base="xlm-roberta-base")
    (tmp_path / "it").mkdir()
    (tmp_path / "it" / rd.MODEL_CONFIG).write_text("{}")  # a full model: its base is not recorded
    (tmp_path / "en").mkdir()
    (tmp_path / "en" / rd.ADAPTER_CONFIG).write_text("{ broken")
    reg = Registry(tmp_path)
    assert (
        reg.spec("de").hub_id
        == repo_id("de", OFFLINE_BASE_ID)
        == f"{HUB_NAMESPACE}/multilingual-e5-small-finetuned-panx-de"
    )
    assert reg.spec("fr").hub_id == f"{HUB_NAMESPACE}/xlm-roberta-base-finetuned-panx-fr"
    assert reg.spec("it").hub_id == repo_id("it", OFFLINE_BASE_ID) and reg.spec("en").hub_id == repo_id("en")
    assert [key for key, spec in reg.specs.items() if spec.bundled] == ["de", "fr", "it", "en"]


def test_models_dir_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv(registry_module.MODELS_DIR_ENV, str(tmp_path))
    assert Registry().spec("en").folder == tmp_path / "en"
    assert Registry(tmp_path / "other").spec("en").folder == tmp_path / "other" / "en"  # the argument wins


def test_default_models_per_language():
    assert default_models("de") == ["de", "all"]
    assert default_models("fr") == ["de", "fr", "all"]
    assert {lang: len(default_models(lang)) for lang in LANGUAGES} == {"de": 2, "fr": 3, "it": 3, "en": 3}


def test_loads_lazily_once_across_threads(tmp_path, monkeypatch):
    calls = []

    def slow_load(folder, backend):
        calls.append(folder.name)
        time.sleep(0.2)
        return fake_tagger

    monkeypatch.setattr(registry_module, "load_tagger", slow_load)
    adapter_folder(tmp_path / "de")
    reg = Registry(tmp_path)
    assert not reg.is_loaded("de")
    got = []
    threads = [threading.Thread(target=lambda: got.append(reg.get("de"))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert calls == ["de"] and got == [fake_tagger] * 8 and reg.is_loaded("de")


def test_a_slow_download_holds_up_no_other_model(tmp_path, monkeypatch, loads):
    """fr is not bundled and the Hub is slow; de, bundled, is served meanwhile."""
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    adapter_folder(tmp_path / "de")
    downloading, release, asked = threading.Event(), threading.Event(), []

    def slow_download(repo, **kwargs):
        asked.append((repo, kwargs))
        downloading.set()
        release.wait(10)
        return str(adapter_folder(tmp_path / "hub" / "fr"))

    monkeypatch.setattr(huggingface_hub, "snapshot_download", slow_download)
    reg = Registry(tmp_path)
    fr = threading.Thread(target=reg.get, args=("fr",))
    fr.start()
    assert downloading.wait(10)
    started = time.monotonic()
    assert reg.get("de") is fake_tagger and time.monotonic() - started < 1
    release.set()
    fr.join(10)
    assert reg.is_loaded("fr") and loads == ["de", "fr"]
    # Timeouts are huggingface_hub's: the download's by its constant, the metadata call's passed on.
    assert asked == [
        (
            repo_id("fr"),
            {
                "allow_patterns": [*rd.ADAPTER_FILES, *rd.FULL_MODEL_FILES],
                "etag_timeout": constants.HF_HUB_ETAG_TIMEOUT,
            },
        )
    ]


def test_bundled_models_never_call_the_hub(tmp_path, monkeypatch, loads, no_hub):
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    adapter_folder(tmp_path / "de")
    assert Registry(tmp_path).get("de") is fake_tagger


def test_offline_and_not_bundled_is_refused_without_calling_the_hub(tmp_path, monkeypatch, loads, no_hub):
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(ModelLoadError) as err:
        Registry(tmp_path).get("fr")
    assert str(err.value) == (
        f"model 'fr' (from the Hub, {repo_id('fr')}) cannot be served: it is not bundled (fr/adapter_config.json "
        "or fr/config.json in the models folder) and the Hub is off (HF_HUB_OFFLINE)"
    )
    assert loads == []


def test_a_failure_is_remembered_then_retried(tmp_path, monkeypatch):
    calls = []

    def failing_load(folder, backend):
        calls.append(folder.name)
        raise OSError(f"disk on fire at {folder}/adapter_model.safetensors")

    monkeypatch.setattr(registry_module, "load_tagger", failing_load)
    adapter_folder(tmp_path / "en")
    reg = Registry(tmp_path)
    for _ in range(3):
        with pytest.raises(ModelLoadError) as err:
            reg.get("en")
        assert str(err.value) == "model 'en' (bundled) cannot be served: disk on fire at en/adapter_model.safetensors"
    assert calls == ["en"]
    now = time.monotonic()
    monkeypatch.setattr(registry_module.time, "monotonic", lambda: now + registry_module.RETRY_AFTER_S + 1)
    with pytest.raises(ModelLoadError):
        reg.get("en")
    assert calls == ["en", "en"]


def test_paths_are_cut_from_library_messages(tmp_path):
    models = tmp_path / "models"
    assert without_paths(f"no file at '{models}/de/config.json'", models) == "no file at 'de/config.json'"
    assert (
        without_paths("see /root/.cache/huggingface/hub/x/model.safetensors now", models) == "see model.safetensors now"
    )
    assert (
        without_paths("https://huggingface.co/panx-ner/x and de/fr", models)
        == "https://huggingface.co/panx-ner/x and de/fr"
    )


def assert_refused(reg, key, *parts, tmp_path):
    with pytest.raises(ModelLoadError) as err:
        reg.get(key)
    message = str(err.value)
    assert message.startswith(f"model {key!r} (bundled) cannot be served: ") and "\n" not in message
    assert str(tmp_path) not in message and "/tmp/" not in message, message
    for part in parts:
        assert part in message, message
    return message


def test_broken_folders_are_refused_and_the_others_serve(tmp_path, smoke_run_dir, adapter_dir):
    from safetensors.torch import load_file, save_file

    shutil.copytree(smoke_run_dir, tmp_path / "de")
    (tmp_path / "fr").mkdir()
    (tmp_path / "fr" / rd.MODEL_CONFIG).write_text("{ not json")
    # A full model whose weights lack the classifier head, and an adapter without it.
    shutil.copytree(smoke_run_dir, tmp_path / "it")
    weights = load_file(tmp_path / "it" / rd.MODEL_WEIGHTS)
    save_file({k: v for k, v in weights.items() if "classifier" not in k}, tmp_path / "it" / rd.MODEL_WEIGHTS)
    shutil.copytree(adapter_dir, tmp_path / "en")
    weights = load_file(tmp_path / "en" / rd.ADAPTER_WEIGHTS)
    save_file({k: v for k, v in weights.items() if "classifier" not in k}, tmp_path / "en" / rd.ADAPTER_WEIGHTS)
    # An adapter whose weights file is garbage.
    shutil.copytree(adapter_dir, tmp_path / "all")
    (tmp_path / "all" / rd.ADAPTER_WEIGHTS).write_bytes(b"not safetensors")

    reg = Registry(tmp_path)
    assert_refused(reg, "fr", "config.json", tmp_path=tmp_path)
    assert_refused(reg, "it", "lack the trained classifier head", tmp_path=tmp_path)
    assert_refused(reg, "en", "the adapter in en lacks the trained classifier head", tmp_path=tmp_path)
    assert_refused(reg, "all", "adapter_model.safetensors in all cannot be read", tmp_path=tmp_path)
    out = reg.get("de")(SENTENCE)  # the smoke model, through the default backend
    assert out["text"] == SENTENCE and all(SENTENCE[e["start"] : e["end"]] == e["word"] for e in out["entities"])


def test_a_bundled_lora_adapter_loads_offline(tmp_path, adapter_dir, no_hub):
    shutil.copytree(adapter_dir, tmp_path / "de")
    reg = Registry(tmp_path, backend="torch_fp32")
    assert reg.spec("de").hub_id == repo_id("de", OFFLINE_BASE_ID)
    out = reg.get("de")(SENTENCE)
    assert out["text"] == SENTENCE
    assert all(
        SENTENCE[e["start"] : e["end"]] == e["word"] and e["entity_group"] in ("PER", "ORG", "LOC")
        for e in out["entities"]
    )


def test_card_without_front_matter(tmp_path):
    adapter_folder(tmp_path / "de")
    (tmp_path / "de" / "README.md").write_text("---\nlicense: mit\nmodel-index: []\n---\n\n# panx de\n\nText ---\n")
    reg = Registry(tmp_path)
    assert reg.card("de") == "# panx de\n\nText ---\n"
    assert reg.card("fr") is None
    assert strip_front_matter("# no front matter\n") == "# no front matter\n"


# --- examples ------------------------------------------------------------------------------------


def test_examples_file_is_current(data_dir):
    """space/examples.json is what `python -m space.examples` makes from the shared parquet."""
    assert json.loads(EXAMPLES_FILE.read_text(encoding="utf-8")) == build_examples(data_dir)


def test_examples_per_language_with_word_aligned_gold():
    examples = load_examples()
    assert list(examples) == list(LANGUAGES)
    for per_lang in examples.values():
        assert per_lang[0].gold is None  # the book-style sentence
        assert len([e for e in per_lang if e.gold]) >= 2
        for example in per_lang[1:]:
            bounds = {b for s, e in split_words(example.text) for b in (s, e)}
            for g in example.gold:
                assert example.text[g["start"] : g["end"]] == g["word"] and {g["start"], g["end"]} <= bounds
            assert gold_for(example.text, examples) is example
    assert gold_for(examples["de"][1].text + " ", examples) is None  # edited text has no gold


def test_warm_up_loads_every_bundled_model_in_the_background_first_ones_first(tmp_path, adapter_dir, monkeypatch):
    for key in ("de", "fr", "all", "en"):
        shutil.copytree(adapter_dir, tmp_path / key)
    calls = []

    def load(folder, backend):  # en fails to load: the warm-up goes on past it, and the registry remembers it
        calls.append(folder.name)
        if folder.name == "en":
            raise OSError("broken")
        return fake_tagger

    monkeypatch.setattr(registry_module, "load_tagger", load)
    reg = Registry(tmp_path)
    thread = reg.warm_up(first=["all", "fr"])
    thread.join(timeout=30)
    assert not thread.is_alive() and thread.daemon
    assert calls == ["all", "fr", "de", "en"]  # those asked for first, then the rest; it is not bundled
    assert all(reg.is_loaded(k) for k in ("de", "fr", "all")) and not reg.is_loaded("it")
    with pytest.raises(ModelLoadError, match="'en'.*broken"):
        reg.get("en")
    assert calls.count("en") == 1  # the remembered failure, not a second load


def test_launch_warms_the_default_models_up_once_the_server_answers(monkeypatch):
    """gradio's launch() gives up when its own first request to the server times out (3 s), so the
    warm-up, which exports ONNX graphs on the same cores, starts only after it; then launch blocks as
    gradio's would, unless asked not to."""
    import torch

    from space import backends, serving

    monkeypatch.setattr(torch, "set_num_threads", lambda n: None)  # launch's setting would outlive the test
    monkeypatch.setattr(backends, "_threads", None)
    monkeypatch.delenv(serving.THREADS_ENV, raising=False)
    events = []

    class Demo:
        registry = type("R", (), {"warm_up": lambda self, first: events.append(("warm_up", first))})()

        def launch(self, **settings):
            events.append(("launch", settings["prevent_thread_lock"]))
            return "served"

        def block_thread(self):
            events.append(("block_thread",))

    assert serving.launch(Demo()) == "served"  # as app.py calls it
    assert events == [("launch", True), ("warm_up", default_models("de")), ("block_thread",)]
    assert backends.threads() == 1
    events.clear()
    monkeypatch.setenv(serving.THREADS_ENV, "2")
    serving.launch(Demo(), prevent_thread_lock=True)
    assert events == [("launch", True), ("warm_up", default_models("de"))]
    assert backends.threads() == 2


def test_a_model_that_read_a_language_without_labels_is_marked_text_only(tmp_path):
    """The data_summary.json of a bundled run says which languages it read without labels: the Space marks
    them "text only", neither trained nor zero-shot; a missing or broken file marks none."""
    from space.views import choice_label, column_label

    # The bundled fr model's own summary, as if it had read German and Italian text without labels.
    summary = json.loads((BUNDLED_MODELS_DIR / "fr" / "data_summary.json").read_text(encoding="utf-8"))
    (tmp_path / "fr").mkdir()
    (tmp_path / "fr" / "data_summary.json").write_text(
        json.dumps({**summary, "unlabelled_sentences": {"de": 12580, "it": 1680}})
    )
    (tmp_path / "it").mkdir()
    (tmp_path / "it" / "data_summary.json").write_text("{broken")
    specs = Registry(tmp_path).specs
    fr = specs["fr"]
    assert [fr.marker(lang) for lang in ("de", "fr", "it", "en")] == ["text only", "trained", "text only", "zero-shot"]
    assert choice_label(fr, "de") == "fr · text only" and choice_label(fr, "fr") == "fr ✓ trained"
    assert (
        column_label(fr, "de") == "fr · text only in German" and column_label(fr, "en") == "fr · zero-shot on English"
    )
    assert specs["it"].read_without_labels == () and specs["de"].read_without_labels == ()
