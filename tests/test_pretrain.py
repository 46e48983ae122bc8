"""The offline base: smoke pretraining, the tokenizer's contract, and no leakage of evaluation text."""

import json

import pandas as pd
import pytest
from transformers import AutoModelForTokenClassification, AutoTokenizer

from training.pretrain import PRETRAIN_FILES, cli, language_mix, main, read_sentences


def fake_panx(root, real_data=None, train_word="Kwzkwtrain", validation_word="Qxqxzvalid"):
    """Real PAN-X train sentences plus a frequent marker; validation made of another marker only."""
    for lang in ("de", "fr", "it", "en"):
        folder = root / f"PAN-X.{lang}"
        folder.mkdir(parents=True)
        real = pd.read_parquet(real_data / f"PAN-X.{lang}" / "train.parquet").head(150) if real_data else pd.DataFrame()
        marker = pd.DataFrame([{"tokens": [train_word, "ist", "in", f"Stadt{i % 7}", "."], "ner_tags": [1, 0, 0, 5, 0]} for i in range(100)])
        pd.concat([real[["tokens", "ner_tags"]], marker] if real_data else [marker]).to_parquet(folder / "train.parquet")
        val = [{"tokens": [validation_word, "war", "hier", "."], "ner_tags": [1, 0, 0, 0]} for _ in range(200)]
        pd.DataFrame(val).to_parquet(folder / "validation.parquet")
        pd.DataFrame([{"tokens": ["Testsatz", "ohne", "Label"]}] * 50).to_parquet(folder / "test_unlabelled.parquet")
    return root


smoke_base_texts: list[str] = []  # what the smoke_base tokenizer was trained on


@pytest.fixture(scope="module")
def smoke_base(tmp_path_factory, data_dir):
    """A smoke pretraining on fake PAN-X; records every text the tokenizer is trained on."""
    import training.pretrain as pretrain_module

    data = fake_panx(tmp_path_factory.mktemp("panx"), data_dir)
    out = tmp_path_factory.mktemp("base") / "panx-xlmr-mini"
    seen, real_train_tokenizer = [], pretrain_module.train_tokenizer

    def recording_train_tokenizer(texts, vocab_size):
        texts = list(texts)
        seen.extend(texts)
        return real_train_tokenizer(texts, vocab_size)

    pretrain_module.train_tokenizer = recording_train_tokenizer
    try:
        main(["--preset", "smoke", "--data-dir", str(data), "--output-dir", str(out), "--quiet"])
    finally:
        pretrain_module.train_tokenizer = real_train_tokenizer
    smoke_base_texts.extend(seen)
    return out


def test_pretraining_text_never_includes_validation(tmp_path):
    data = fake_panx(tmp_path)
    assert PRETRAIN_FILES == ("train.parquet", "test_unlabelled.parquet")
    sentences = read_sentences(data, "de")
    assert any("Kwzkwtrain" in s for s in sentences) and any("Testsatz" in s for s in sentences)
    assert not any("Qxqxzvalid" in s for s in sentences)


def test_tokenizer_is_trained_on_train_text_never_validation(smoke_base):
    texts = smoke_base_texts
    assert any("Kwzkwtrain" in t for t in texts) and any("Testsatz" in t for t in texts)
    assert not any("Qxqxzvalid" in t for t in texts)
    vocab = AutoTokenizer.from_pretrained(smoke_base).get_vocab()
    assert len(vocab) == 600 and not any("Qxq" in piece for piece in vocab)


def test_tokenizer_round_trips_and_keeps_word_ids(smoke_base):
    tokenizer = AutoTokenizer.from_pretrained(smoke_base)
    assert tokenizer.convert_ids_to_tokens([0, 1, 2, 3]) == ["<s>", "<pad>", "</s>", "<unk>"]
    assert tokenizer.mask_token == "<mask>"
    text = "Kwzkwtrain ist in Stadt3 . Zürich ( Schweiz )"
    assert tokenizer.decode(tokenizer(text)["input_ids"], skip_special_tokens=True) == text
    words = text.split()
    encoded = tokenizer(words, is_split_into_words=True)
    word_ids = [w for w in encoded.word_ids() if w is not None]
    assert sorted(set(word_ids)) == list(range(len(words)))


def test_base_loads_as_token_classifier(smoke_base):
    model = AutoModelForTokenClassification.from_pretrained(smoke_base, num_labels=7)
    assert model.config.model_type == "xlm-roberta" and model.num_labels == 7
    report = json.loads((smoke_base / "pretraining.json").read_text())
    assert report["parameters"] > 0 and report["loss"]["steps"] == 20
    assert set(report["tokenizer"]["subwords_per_word"]) == {"de", "fr", "it", "en"}
    assert (smoke_base / "pretraining_loss.png").is_file()


def test_language_mix_lifts_small_languages():
    sentences = {"de": ["ein satz hier"] * 900, "en": ["a sentence"] * 100}
    mixed = language_mix(sentences, alpha=0.3, seed=0)
    assert len(mixed) == 1000
    assert 100 < mixed.count("a sentence") < 500  # sampled up, not to parity


def test_refusals(tmp_path, smoke_base, capsys):
    assert cli(["--output-dir", str(smoke_base), "--preset", "smoke"]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert cli(["--output-dir", str(tmp_path / "x"), "--preset", "huge"]) == 2
    assert "valid presets: mini, smoke" in capsys.readouterr().err
    assert cli(["--output-dir", str(tmp_path / "y"), "--data-dir", str(tmp_path / "missing"), "--preset", "smoke"]) == 2
    assert "not found" in capsys.readouterr().err


def test_shrink_ffn_keeps_the_strongest_units():
    import torch
    from transformers import XLMRobertaForMaskedLM

    from training.base_model import encoder_config
    from training.pretrain import shrink_ffn

    torch.manual_seed(0)
    model = XLMRobertaForMaskedLM(encoder_config("smoke", 50)).eval()
    ids = torch.randint(5, 50, (2, 9))
    same = shrink_ffn(model, model.config.intermediate_size).eval()
    with torch.no_grad():
        assert torch.allclose(model(input_ids=ids).logits, same(input_ids=ids).logits, atol=1e-5)
    layer = model.roberta.encoder.layer[0]
    strength = layer.intermediate.dense.weight.norm(dim=1) * layer.output.dense.weight.norm(dim=0)
    smaller = shrink_ffn(model, 16)
    assert smaller.config.intermediate_size == 16
    kept = smaller.roberta.encoder.layer[0].intermediate.dense.weight
    strongest = layer.intermediate.dense.weight[strength.topk(16).indices.sort().values]
    assert torch.equal(kept, strongest)
