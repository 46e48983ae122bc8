"""space.registry and space.examples: which models exist, where they load from, lazy thread-safe loading."""

from __future__ import annotations

import json
import shutil
import threading
import time

import pytest

from training.facts import EXPERIMENTS, HUB_NAMESPACE, LANGUAGES, OFFLINE_BASE_NAME, model_name

import space.registry as registry_module
from space.examples import EXAMPLES_FILE, build_examples, gold_for, load_examples
from space.registry import ModelLoadError, Registry, UnknownModelError, default_models, front_matter, strip_front_matter
from space.tagging import split_words


def fake_model_folder(path, name="smoke-finetuned-panx-de"):
    path.mkdir(parents=True)
    (path / "config.json").write_text("{}")
    (path / "run_info.json").write_text(json.dumps({"model_name": name}))
    return path


def test_six_models_with_their_languages(tmp_path):
    reg = Registry(tmp_path)
    assert list(reg.specs) == list(EXPERIMENTS)
    assert reg.spec("de-fr").languages == ("de", "fr")
    assert reg.spec("all").trained_on("it") and not reg.spec("de").trained_on("fr")
    assert reg.spec("de-fr").display_name == "de-fr (German + French)"


@pytest.mark.parametrize("key", ["xx", "../de", "/etc", "xlm-roberta-base",
                                 "panx-ner/panx-xlmr-mini-finetuned-panx-de", ""])
def test_unknown_keys_are_refused(tmp_path, key):
    with pytest.raises(UnknownModelError, match="the Space serves only: de, de-fr, fr, it, en, all"):
        Registry(tmp_path).get(key)


def test_bundled_folder_wins_else_hub_id(tmp_path):
    fake_model_folder(tmp_path / "de", name="panx-xlmr-mini-finetuned-panx-de")
    reg = Registry(tmp_path)
    assert reg.spec("de").bundled and reg.spec("de").source == str(tmp_path / "de")
    assert reg.spec("de").hub_id == f"{HUB_NAMESPACE}/panx-xlmr-mini-finetuned-panx-de"
    fr = reg.spec("fr")
    assert not fr.bundled
    assert fr.source == fr.hub_id == f"{HUB_NAMESPACE}/{model_name('fr', OFFLINE_BASE_NAME)}"


def test_hub_id_comes_from_the_bundled_run_info(tmp_path):
    fake_model_folder(tmp_path / "it", name="something-finetuned-panx-it")
    assert Registry(tmp_path).spec("it").hub_id == f"{HUB_NAMESPACE}/something-finetuned-panx-it"


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

    def slow_load(spec):
        calls.append(spec.key)
        time.sleep(0.2)
        return lambda text: {"text": text, "entities": []}

    monkeypatch.setattr(registry_module, "_load", slow_load)
    reg = Registry(tmp_path)
    assert not reg.is_loaded("de")
    got = []
    threads = [threading.Thread(target=lambda: got.append(reg.get("de"))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert calls == ["de"] and len({id(g) for g in got}) == 1 and reg.is_loaded("de")


def test_load_failure_is_reported_and_remembered(tmp_path, monkeypatch):
    calls = []

    def failing_load(spec):
        calls.append(spec.key)
        raise OSError("disk on fire")

    monkeypatch.setattr(registry_module, "_load", failing_load)
    reg = Registry(tmp_path)
    for _ in range(3):
        with pytest.raises(ModelLoadError, match=r"model 'en' could not be loaded from the Hub .*OSError: disk on"):
            reg.get("en")
    assert calls == ["en"]  # retried only after RETRY_AFTER_S


def test_offline_hub_fallback_fails_with_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelLoadError, match=r"from the Hub \(panx-ner/.*-finetuned-panx-fr; no bundled folder"):
        Registry(tmp_path).get("fr")


def test_broken_bundled_folder_fails_with_a_clear_error(tmp_path):
    fake_model_folder(tmp_path / "de")
    with pytest.raises(ModelLoadError, match=r"model 'de' could not be loaded from bundled folder"):
        Registry(tmp_path).get("de")


def test_loads_the_smoke_model_without_remote_code(tmp_path, smoke_run_dir, monkeypatch):
    import transformers

    seen = []
    for cls in (transformers.AutoTokenizer, transformers.AutoModelForTokenClassification):
        original = cls.from_pretrained

        def spy(*args, _original=original, **kwargs):
            seen.append(kwargs.get("trust_remote_code"))
            return _original(*args, **kwargs)

        monkeypatch.setattr(cls, "from_pretrained", spy)
    shutil.copytree(smoke_run_dir, tmp_path / "de")
    tagger = Registry(tmp_path).get("de")
    assert seen == [False, False]
    assert next(tagger.model.parameters()).dtype.is_floating_point
    out = tagger("Jeff Dean ist ein Informatiker bei Google in Kalifornien")
    assert set(out) == {"text", "entities"}


def test_card_without_front_matter(tmp_path):
    fake_model_folder(tmp_path / "de")
    (tmp_path / "de" / "README.md").write_text("---\nlicense: mit\nmodel-index: []\n---\n\n# panx de\n\nText ---\n")
    reg = Registry(tmp_path)
    assert reg.card("de") == "# panx de\n\nText ---\n"
    assert reg.card("fr") is None
    assert strip_front_matter("# no front matter\n") == "# no front matter\n"


def test_front_matter_names_the_six_hub_models(tmp_path):
    import gradio

    text = front_matter(Registry(tmp_path))
    assert f"sdk_version: {gradio.__version__}\n" in text and "app_file: app.py\n" in text
    assert text.count(f"  - {HUB_NAMESPACE}/") == len(EXPERIMENTS)


# --- examples ------------------------------------------------------------------------------------


def test_examples_file_is_current(data_dir):
    """space/examples.json is what `python -m space.examples` makes from the shared parquet."""
    assert json.loads(EXAMPLES_FILE.read_text(encoding="utf-8")) == build_examples(data_dir)


def test_examples_per_language_with_word_aligned_gold():
    examples = load_examples()
    assert list(examples) == list(LANGUAGES)
    for lang, per_lang in examples.items():
        assert per_lang[0].gold is None  # the book-style sentence
        assert len([e for e in per_lang if e.gold]) >= 2
        for example in per_lang[1:]:
            bounds = {b for s, e in split_words(example.text) for b in (s, e)}
            for g in example.gold:
                assert example.text[g["start"] : g["end"]] == g["word"] and {g["start"], g["end"]} <= bounds
            assert gold_for(example.text, examples) is example
    assert gold_for(examples["de"][1].text + " ", examples) is None  # edited text has no gold
