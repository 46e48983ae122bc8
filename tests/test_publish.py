"""Publishing: the Hub path with a recording fake HfApi, and the local mirror for real."""

import pytest

from training.publish import PublishError, main, publish_to_hub, publish_to_mirror


class RecordingApi:
    def __init__(self, fail_upload=False):
        self.calls, self.fail_upload = [], fail_upload

    def create_repo(self, repo_id, **kwargs):
        self.calls.append(("create_repo", repo_id, kwargs))

    def upload_folder(self, folder_path, repo_id, **kwargs):
        from pathlib import Path

        files = sorted(str(p.relative_to(folder_path)) for p in Path(folder_path).rglob("*") if p.is_file())
        self.calls.append(("upload_folder", repo_id, files))
        if self.fail_upload:
            raise ConnectionError("network unreachable")
        return "https://huggingface.co/panx-ner/x/commit/abc"


def test_hub_path_creates_repo_and_uploads_card_and_model(smoke_run_dir, tmp_path):
    api = RecordingApi()
    url = publish_to_hub(smoke_run_dir, "panx-ner/smoke-de", results_dir=tmp_path, api=api)
    assert url.endswith("/commit/abc")
    (create, repo, kwargs), (upload, repo2, files) = api.calls
    assert (create, repo, kwargs["exist_ok"]) == ("create_repo", "panx-ner/smoke-de", True)
    assert upload == "upload_folder" and repo2 == "panx-ner/smoke-de"
    assert {"README.md", "model.safetensors", "config.json", "tokenizer.json", "trainer_state.json", "eval_results.json"} <= set(files)


def test_failed_upload_says_so_and_is_safe_to_rerun(smoke_run_dir, tmp_path):
    with pytest.raises(PublishError, match="re-run the same command"):
        publish_to_hub(smoke_run_dir, "panx-ner/smoke-de", results_dir=tmp_path, api=RecordingApi(fail_upload=True))


def test_no_token_is_a_clear_error(smoke_run_dir, monkeypatch, capsys):
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setattr("huggingface_hub.get_token", lambda: None)
    assert main([str(smoke_run_dir), "--repo-id", "panx-ner/smoke-de"]) == 2
    assert "no Hugging Face token" in capsys.readouterr().err


def test_mirror_writes_the_release_and_replaces_it_whole(smoke_run_dir, tmp_path):
    from huggingface_hub import ModelCard
    from transformers import pipeline

    target = publish_to_mirror(smoke_run_dir, "panx-ner/smoke-de", tmp_path / "hub", results_dir=tmp_path / "none", fp16=True)
    assert target == tmp_path / "hub" / "panx-ner" / "smoke-de"
    card = ModelCard.load(target / "README.md")
    assert card.data.pipeline_tag == "token-classification"
    assert "panx-ner/smoke-de" in card.text
    ner = pipeline("token-classification", model=str(target), aggregation_strategy="simple")
    assert isinstance(ner("Jeff Dean ist ein Informatiker bei Google in Kalifornien"), list)
    (target / "stale.txt").write_text("from an older release")
    publish_to_mirror(smoke_run_dir, "panx-ner/smoke-de", tmp_path / "hub", results_dir=tmp_path / "none")
    assert not (target / "stale.txt").exists()
    assert [p.name for p in target.parent.iterdir()] == ["smoke-de"]  # no temp folders left


def test_incomplete_run_directory_is_refused_and_nothing_written(tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text("{}")
    assert main([str(run), "--repo-id", "panx-ner/x", "--hub-dir", str(tmp_path / "hub")]) == 2
    assert "incomplete" in capsys.readouterr().err
    assert not (tmp_path / "hub" / "panx-ner" / "x").exists()


def test_bad_repo_id(capsys, tmp_path):
    assert main([str(tmp_path), "--repo-id", "no-namespace"]) == 2
    assert "NAMESPACE/NAME" in capsys.readouterr().err


def test_offline_base_is_published_with_its_own_card(tmp_path, data_dir):
    from huggingface_hub import ModelCard
    from transformers import AutoModelForMaskedLM

    from training.pretrain import main as pretrain

    base = tmp_path / "panx-xlmr-mini"
    pretrain(["--preset", "smoke", "--data-dir", str(data_dir), "--output-dir", str(base), "--quiet"])
    target = publish_to_mirror(base, "panx-ner/panx-xlmr-mini", tmp_path / "hub", results_dir=None, fp16=True)
    card = ModelCard.load(target / "README.md")
    assert card.data.pipeline_tag == "fill-mask"
    assert {"pretraining.json", "pretraining_loss.png", "tokenizer.json"} <= {p.name for p in target.iterdir()}
    model = AutoModelForMaskedLM.from_pretrained(target)
    assert next(model.parameters()).dtype.is_floating_point
