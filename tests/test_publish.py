"""Publishing: the plan and the upload against a recording fake HfApi, the offline mirror for real,
and the merged model loaded the way a Hub user loads it (plain transformers: no peft, no project)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace
from unittest.mock import Mock

import pytest
from huggingface_hub import ModelCard
from huggingface_hub.errors import RepositoryNotFoundError

from core import run_dir as rd
from core.cli import run
from core.facts import DEFAULT_DATA_DIR, E5_SMALL, EXAMPLE_SENTENCES, OFFLINE_BASE_ID, REPO_ROOT
from workflow.publish import TOKEN_MASK, main

REPO = "panx-ner/smoke-de"
# The smoke run's encoder, served from a test Hugging Face cache as if it had been downloaded.
TINY_BASE = "panx-test/tiny-encoder"
COMMIT = "abc1234" + "0" * 33
FAKE_TOKEN = "hf_FakeTokenForTests0123456789abcdefgh"
LOADER_FLAGS = ("is_local", "local_files_only", "cache_dir")
WRITES = ("create_repo", "upload_folder", "create_tag")


class RecordingApi:
    """A fake HfApi. `repos`: repo id -> {"private", "files", "tags": {name: commit}}; `models`: the model
    ids model_info knows; `fail`: a method that raises a network error (quoting HF_TOKEN, as a careless
    library message might). Every call is recorded."""

    def __init__(self, repos=None, models=(E5_SMALL, TINY_BASE), fail=None):
        self.repos, self.models, self.fail, self.calls = dict(repos or {}), set(models), fail, []

    def _call(self, name, *args, **kwargs):
        self.calls.append((name, args, kwargs))
        if name == self.fail:
            raise ConnectionError(f"network unreachable (Authorization: Bearer {os.environ.get('HF_TOKEN')})")

    def _repo(self, repo_id):
        if repo_id not in self.repos:
            raise RepositoryNotFoundError(f"404: {repo_id}", response=Mock())
        return self.repos[repo_id]

    def model_info(self, repo_id, **kwargs):
        self._call("model_info", repo_id, **kwargs)
        if repo_id not in self.models:
            raise RepositoryNotFoundError(f"404: {repo_id}", response=Mock())
        return SimpleNamespace(id=repo_id)

    def repo_info(self, repo_id, **kwargs):
        self._call("repo_info", repo_id, **kwargs)
        return SimpleNamespace(private=self._repo(repo_id)["private"])

    def list_repo_files(self, repo_id, **kwargs):
        self._call("list_repo_files", repo_id, **kwargs)
        return list(self._repo(repo_id)["files"])

    def list_repo_refs(self, repo_id, **kwargs):
        self._call("list_repo_refs", repo_id, **kwargs)
        return SimpleNamespace(
            tags=[
                SimpleNamespace(name=name, target_commit=commit)
                for name, commit in self._repo(repo_id).get("tags", {}).items()
            ]
        )

    def create_repo(self, repo_id, **kwargs):
        self._call("create_repo", repo_id, **kwargs)
        self.repos.setdefault(
            repo_id, {"private": bool(kwargs.get("private")), "files": [".gitattributes"], "tags": {}}
        )

    def upload_folder(self, *, repo_id, folder_path, **kwargs):
        sizes = {
            p.relative_to(folder_path).as_posix(): p.stat().st_size for p in Path(folder_path).rglob("*") if p.is_file()
        }
        self._call("upload_folder", repo_id=repo_id, sizes=sizes, **kwargs)
        self.repos[repo_id]["files"] = [".gitattributes", *sizes]
        return SimpleNamespace(commit_url=f"https://huggingface.co/{repo_id}/commit/{COMMIT}", oid=COMMIT)

    def create_tag(self, repo_id, **kwargs):
        self._call("create_tag", repo_id, **kwargs)

    def names(self) -> list[str]:
        return [name for name, _, _ in self.calls]

    def kwargs(self, name: str) -> dict:
        return next(kwargs for call, _, kwargs in self.calls if call == name)


def cli(args, api=None) -> int:
    """The command line as a user runs it: exit code, one-line errors (core.cli)."""
    return run(lambda argv: main(argv, api=api), [str(arg) for arg in args])


def planned_files(out: str) -> dict[str, int]:
    return {name: int(size.replace(",", "")) for size, name in re.findall(r"^ +([\d,]+)  (\S+)$", out, re.M)}


def run_tag(run_dir: Path) -> str:
    created_at = datetime.fromisoformat(rd.read_json(run_dir, rd.RUN_INFO)["created_at"])
    return f"run-{created_at:%Y%m%dT%H%M%SZ}"


def assert_portable(folder: Path, places: list[Path]) -> None:
    """No published text names a folder of this machine."""
    for path in folder.rglob("*"):
        if path.is_file() and path.suffix in (".json", ".md"):
            text = path.read_text(encoding="utf-8")
            for place in places:
                assert str(place) not in text, f"{path.name} names {place}"
            assert not re.search(r"(?<![\w.:/~-])/(tmp|work|root|home)/", text), f"{path.name} names a local path"


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> Path:
    """A study's results folder before any result: the card draws on the run's own logs alone."""
    return tmp_path_factory.mktemp("results")


@pytest.fixture(scope="module")
def hub_cache(tmp_path_factory, smoke_run_dir) -> Path:
    cache = tmp_path_factory.mktemp("hf-cache")
    repo, revision = cache / f"models--{TINY_BASE.replace('/', '--')}", "1" * 40
    (repo / "snapshots" / revision).mkdir(parents=True)
    for name in rd.FULL_MODEL_FILES:
        shutil.copyfile(smoke_run_dir / name, repo / "snapshots" / revision / name)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(revision)
    return cache


@pytest.fixture
def tiny_hub(monkeypatch, hub_cache) -> Path:
    """TINY_BASE loads by name, offline, from hub_cache."""
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(hub_cache))
    return hub_cache


def write_logs(run_dir: Path, source: Path, **run_info) -> None:
    """The source run's logs in run_dir, with run_info.json fields replaced."""
    run_dir.mkdir(parents=True, exist_ok=True)
    for name in rd.LOG_FILES:
        shutil.copyfile(source / name, run_dir / name)
    update_run_info(run_dir, **run_info)


def update_run_info(run_dir: Path, **fields) -> None:
    info = rd.read_json(run_dir, rd.RUN_INFO)
    (run_dir / rd.RUN_INFO).write_text(json.dumps({**info, **fields}), encoding="utf-8")


@pytest.fixture
def adapter_run(tiny_hub, smoke_run_dir, tmp_path) -> Path:
    """A finished adapter run: LoRA on TINY_BASE with random (non-zero) weights, classifier head saved."""
    import torch
    from peft import LoraConfig, TaskType, get_peft_model
    from transformers import AutoModelForTokenClassification

    torch.manual_seed(0)
    base = AutoModelForTokenClassification.from_pretrained(TINY_BASE)
    lora = LoraConfig(
        task_type=TaskType.TOKEN_CLS, r=4, lora_alpha=8, target_modules=["query", "value"], init_lora_weights=False
    )
    run_dir = tmp_path / "adapter-run"
    get_peft_model(base, lora).save_pretrained(run_dir)
    (run_dir / rd.CARD).unlink(missing_ok=True)  # peft's placeholder card
    write_logs(run_dir, smoke_run_dir, adapter=True, base_model=TINY_BASE)
    hyper = rd.read_json(run_dir, rd.HYPERPARAMETERS)
    hyper.update(lora_rank=4, lora_alpha=8, lora_dropout=0.0, lora_target_modules="query,value", init="pretrained")
    (run_dir / rd.HYPERPARAMETERS).write_text(json.dumps(hyper), encoding="utf-8")
    return run_dir


def placeholder_run(run_dir: Path, source: Path, **run_info) -> Path:
    """A run whose model files exist but are empty: for refusals that come before the model is read."""
    write_logs(run_dir, source, **run_info)
    for name in rd.FULL_MODEL_FILES:
        (run_dir / name).write_bytes(b"")
    return run_dir


def test_logs_are_published_without_local_paths():
    from workflow.publish import portable

    log = {
        "command": f"train --data-dir {DEFAULT_DATA_DIR} --output-dir={REPO_ROOT}/runs/de",
        "n": 3,
        "best_model_checkpoint": "/tmp/x/checkpoint-9",
        "examples": ["AC/DC", "/Radio", "de/fr", "https://hf.co/a/b"],
    }
    assert portable(log) == {
        "command": "train --data-dir …/panx --output-dir=runs/de",
        "n": 3,
        "best_model_checkpoint": "…/checkpoint-9",
        "examples": ["AC/DC", "/Radio", "de/fr", "https://hf.co/a/b"],
    }


# --- the plan and the upload ---------------------------------------------------------------------


def test_dry_run_prints_the_exact_plan_and_uploads_nothing(smoke_run_dir, results, capsys):
    stale = ["old-weights.bin", "plots/old.png"]
    api = RecordingApi({REPO: {"private": False, "files": [".gitattributes", "README.md", *stale], "tags": {}}})
    assert cli([smoke_run_dir, "--repo-id", REPO, "--dry-run", "--results-dir", results], api) == 0
    out = capsys.readouterr().out
    assert set(api.names()) <= {"repo_info", "list_repo_files", "list_repo_refs"}  # read-only
    files = planned_files(out)
    assert set(files) == {rd.CARD, *rd.FULL_MODEL_FILES, *rd.LOG_FILES}
    assert all(size > 0 for size in files.values())
    assert f"files:       {len(files)}, {sum(files.values()):,} bytes" in out
    assert f"delete:      {', '.join(stale)}" in out  # README.md is replaced; .gitattributes is kept
    assert "visibility:  the repo exists and is public: it stays public" in out
    assert "base model:  none (trained from random weights)" in out
    info = rd.read_json(smoke_run_dir, rd.RUN_INFO)
    assert f"commit:      {info['model_name']}: the de run of {info['created_at']}" in out
    assert "preset: smoke" in out and re.search(r"test F1: de 0\.\d{3}, fr 0\.\d{3}, it 0\.\d{3}, en 0\.\d{3}", out)
    assert f"tag:         {run_tag(smoke_run_dir)}" in out


def test_dry_run_offline_says_what_it_could_not_ask(smoke_run_dir, results, monkeypatch, capsys):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    assert cli([smoke_run_dir, "--repo-id", REPO, "--dry-run", "--results-dir", results]) == 0  # the real HfApi
    out = capsys.readouterr().out
    assert "visibility:  unknown: offline (HF_HUB_OFFLINE is set)" in out
    assert "delete:      unknown" in out and planned_files(out)


@pytest.mark.parametrize("remote", ["none", "public", "public-tagged"])
def test_upload_is_one_create_one_commit_one_tag(smoke_run_dir, results, capsys, remote):
    tag = run_tag(smoke_run_dir)
    repos = (
        {}
        if remote == "none"
        else {
            REPO: {
                "private": False,
                "files": [".gitattributes", "stale.txt"],
                "tags": {tag: "f" * 40} if "tagged" in remote else {},
            }
        }
    )
    api = RecordingApi(repos)
    assert cli([smoke_run_dir, "--repo-id", REPO, "--private", "--results-dir", results], api) == 0
    out = capsys.readouterr().out
    writes = [name for name in api.names() if name in WRITES]
    assert writes == (["create_repo", "upload_folder"] if "tagged" in remote else list(WRITES))

    create = api.kwargs("create_repo")
    assert create["exist_ok"] is True and create["repo_type"] == "model"
    # --private only shapes a repo this upload creates; an existing one keeps its visibility.
    assert create["private"] is (True if remote == "none" else None)
    upload = api.kwargs("upload_folder")
    assert upload["repo_type"] == "model" and upload["delete_patterns"] == "*"
    assert upload["commit_message"].startswith("smoke-finetuned-panx-de: the de run of ")
    assert "preset: smoke" in upload["commit_description"] and "test F1: de " in upload["commit_description"]
    assert planned_files(out) == upload["sizes"]  # the plan listed exactly what went up
    assert "delete:      stale.txt" in out or remote == "none"
    if remote == "none":
        assert f"created private model repo {REPO}" in out
        assert api.kwargs("create_tag") == {"tag": tag, "revision": COMMIT, "exist_ok": True, "repo_type": "model"}
    else:
        assert (
            f"updated {REPO}; it stays public" in out
            and "it stays public (--private applies only to a new repo)" in out
        )
    if "tagged" in remote:  # create_tag(exist_ok=True) would leave the tag on the old commit: say so instead
        assert f"{tag} stays on fffffff (an earlier upload); name this commit with --tag" in out
    else:
        assert f"tag:         {tag}" in out


def test_failed_upload_is_one_line_and_exit_1(smoke_run_dir, results, capsys):
    api = RecordingApi(fail="upload_folder")
    assert cli([smoke_run_dir, "--repo-id", REPO, "--results-dir", results], api) == 1
    lines = capsys.readouterr().err.strip().splitlines()  # after transformers' progress bars
    assert [line for line in lines if "error" in line] == lines[-1:]
    assert lines[-1].startswith(f"error: upload to {REPO} failed (ConnectionError: network unreachable")
    assert lines[-1].endswith("all of it or none of it: run the same command again")
    assert "create_tag" not in api.names()


def test_an_upload_needs_the_hub_and_a_token(smoke_run_dir, monkeypatch, capsys):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    assert cli([smoke_run_dir, "--repo-id", REPO]) == 2
    assert "HF_HUB_OFFLINE is set" in capsys.readouterr().err
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setattr("huggingface_hub.get_token", lambda: None)
    assert cli([smoke_run_dir, "--repo-id", REPO]) == 2
    assert "no Hugging Face token: run `hf auth login` or set HF_TOKEN" in capsys.readouterr().err


# --- what may be published -------------------------------------------------------------------------


def test_base_not_on_the_hub_is_refused_before_anything_is_uploaded(adapter_run, capsys):
    api = RecordingApi(models=())
    assert cli([adapter_run, "--repo-id", REPO], api) == 2
    assert f"the base model {TINY_BASE} is not on the Hub" in capsys.readouterr().err
    assert api.names() == ["model_info"]


def test_offline_base_is_checked_as_the_model_it_stands_for(smoke_run_dir, tmp_path, capsys):
    run_dir = placeholder_run(tmp_path / "run", smoke_run_dir, base_model=OFFLINE_BASE_ID)
    api = RecordingApi(models=())
    assert cli([run_dir, "--repo-id", REPO], api) == 2
    assert f"the base model {E5_SMALL} is not on the Hub" in capsys.readouterr().err
    assert api.calls == [("model_info", (E5_SMALL,), {})]


def test_local_base_is_refused(adapter_run, tmp_path, capsys):
    local = tmp_path / "my-base"
    local.mkdir()
    config = json.loads((adapter_run / rd.ADAPTER_CONFIG).read_text())
    (adapter_run / rd.ADAPTER_CONFIG).write_text(json.dumps({**config, "base_model_name_or_path": str(local)}))
    update_run_info(adapter_run, base_model=str(local))
    api = RecordingApi()
    assert cli([adapter_run, "--repo-id", REPO, "--dry-run"], api) == 2
    assert "the local folder my-base, which Hub users cannot find" in capsys.readouterr().err
    assert api.calls == []


@pytest.mark.parametrize(
    "repo_id", ["../x", "/abs/x", "ns/../x", "ns/..", "ns/.x", "a/b/c", "no-namespace", "ns/", "ns/x--y"]
)
def test_repo_id_must_be_namespace_slash_name(smoke_run_dir, tmp_path, capsys, repo_id):
    assert cli([smoke_run_dir, "--repo-id", repo_id, "--hub-dir", tmp_path / "hub"]) == 2
    assert "--repo-id must be NAMESPACE/NAME" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []  # nothing written, inside --hub-dir or out of it


def test_unfinished_run_is_refused_and_nothing_written(smoke_run_dir, tmp_path, capsys):
    run_dir = placeholder_run(tmp_path / "run", smoke_run_dir)
    (run_dir / rd.RUN_INFO).unlink()
    assert cli([run_dir, "--repo-id", REPO, "--hub-dir", tmp_path / "hub"]) == 2
    assert "unfinished (missing run_info.json)" in capsys.readouterr().err
    assert not (tmp_path / "hub").exists()


def test_hub_dir_that_is_a_file_is_refused(smoke_run_dir, tmp_path, capsys):
    file = tmp_path / "hub"
    file.write_text("not a folder")
    assert cli([smoke_run_dir, "--repo-id", REPO, "--hub-dir", file]) == 2
    assert "--hub-dir" in capsys.readouterr().err and file.read_text() == "not a folder"


def test_publishing_never_writes_into_its_own_source(smoke_run_dir, tmp_path, capsys):
    run_dir = tmp_path / "ns" / "name" / "run"
    shutil.copytree(smoke_run_dir, run_dir)
    before = {p.relative_to(tmp_path): p.stat().st_mtime_ns for p in tmp_path.rglob("*")}
    cases = [
        (tmp_path / "ns", "name/run"),  # the release would be the run directory itself
        (run_dir, "x/y"),  # inside it
        (tmp_path, "ns/name"),
    ]  # around it
    for hub_dir, repo_id in cases:
        assert cli([run_dir, "--repo-id", repo_id, "--hub-dir", hub_dir]) == 2, repo_id
        assert "into the run directory itself" in capsys.readouterr().err
    assert {p.relative_to(tmp_path): p.stat().st_mtime_ns for p in tmp_path.rglob("*")} == before


def test_a_failed_mirror_leaves_no_folder_behind(smoke_run_dir, tmp_path, capsys):
    run_dir = tmp_path / "broken"
    shutil.copytree(smoke_run_dir, run_dir)
    (run_dir / rd.MODEL_WEIGHTS).write_bytes((run_dir / rd.MODEL_WEIGHTS).read_bytes()[:1000])  # truncated
    assert cli([run_dir, "--repo-id", REPO, "--hub-dir", tmp_path / "hub"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: model.safetensors in broken cannot be read") and err.count("\n") == 1, err
    assert not (tmp_path / "hub").exists()  # neither the release nor its NAMESPACE folder


# --- the mirror and the merged model ---------------------------------------------------------------


def test_mirror_replaces_an_earlier_release_only(smoke_run_dir, results, tmp_path, capsys):
    hub = tmp_path / "hub"
    target = hub / REPO
    args = [smoke_run_dir, "--repo-id", REPO, "--hub-dir", hub, "--results-dir", results]
    assert cli(args) == 0
    card = (target / rd.CARD).read_text(encoding="utf-8")
    links = re.findall(r"\]\(([^)]+)\)", card)
    assert links and all(link.startswith(("https://", "#")) for link in links)  # nothing relative to the release
    assert_portable(target, [REPO_ROOT, DEFAULT_DATA_DIR, smoke_run_dir, results])
    (target / "stale.txt").write_text("from an older release")
    assert cli(args) == 0
    assert not (target / "stale.txt").exists()
    assert [p.name for p in target.parent.iterdir()] == [target.name]  # no staging folders left

    unrelated = hub / "panx-ner" / "notes"
    unrelated.mkdir()
    (unrelated / "todo.txt").write_text("mine")
    assert cli([smoke_run_dir, "--repo-id", "panx-ner/notes", "--hub-dir", hub, "--results-dir", results]) == 2
    assert "exists and is not a release of panx-ner/notes" in capsys.readouterr().err
    assert [p.name for p in unrelated.iterdir()] == ["todo.txt"]


# A Hub user's Python: transformers only; peft cannot be imported, and neither can this project.
HUB_USER = """
import importlib.util, json, sys
sys.modules["peft"] = None
assert importlib.util.find_spec("core") is None
from transformers import pipeline
ner = pipeline("token-classification", model=sys.argv[1], ignore_labels=[])
print(json.dumps([[token["entity"], float(token["score"])] for token in ner(sys.argv[2])]))
"""


def test_a_run_trained_on_packed_passages_publishes_its_window(adapter_run, tiny_hub, results, tmp_path):
    """The release's tokenizer carries the training windows (model_max_length), and its card's long-text
    snippet reads with half of them as stride: what the pipeline then reads is what the model learned."""
    run_dir = tmp_path / "packed"
    shutil.copytree(adapter_run, run_dir)
    hyper = rd.Hyperparameters.read(run_dir)
    rd.Hyperparameters.from_json({**hyper.to_json(), "pack_share": 1.0, "pack_length": 128}).write(run_dir)
    hub = tmp_path / "hub"
    assert cli([run_dir, "--repo-id", REPO, "--hub-dir", hub, "--results-dir", results]) == 0
    target = hub / REPO
    assert json.loads((target / "tokenizer_config.json").read_text())["model_max_length"] == 128
    card = (target / rd.CARD).read_text(encoding="utf-8")
    assert 'aggregation_strategy="simple", stride=64)' in card and "reads 128 tokens at a time" in card


def test_adapter_run_is_published_merged_and_loads_with_plain_transformers(adapter_run, tiny_hub, results, tmp_path):
    import torch

    from core.loading import load_token_classifier

    hub = tmp_path / "hub"
    assert cli([adapter_run, "--repo-id", REPO, "--hub-dir", hub, "--results-dir", results]) == 0
    target = hub / REPO
    names = {p.relative_to(target).as_posix() for p in target.rglob("*") if p.is_file()}
    assert {rd.CARD, *rd.FULL_MODEL_FILES, *rd.LOG_FILES} <= names and not names & set(rd.ADAPTER_FILES)
    tokenizer_config = json.loads((target / "tokenizer_config.json").read_text())
    assert not set(LOADER_FLAGS) & set(tokenizer_config)
    assert "_name_or_path" not in json.loads((target / "config.json").read_text())
    assert_portable(target, [REPO_ROOT, DEFAULT_DATA_DIR, adapter_run, tiny_hub, results])
    assert ModelCard.load(target / rd.CARD).data.base_model == TINY_BASE

    sentence = EXAMPLE_SENTENCES["de"]
    env = {
        **{k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
        "HF_HUB_OFFLINE": "1",
        "HF_HUB_CACHE": str(tmp_path / "empty-cache"),
    }  # nor the base: the release stands alone
    user = subprocess.run(
        [sys.executable, "-c", HUB_USER, str(target), sentence],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert user.returncode == 0, user.stderr[-3000:]
    tagged = json.loads(user.stdout.splitlines()[-1])

    def probabilities(model, tokenizer):
        with torch.inference_mode():
            return model(**tokenizer(sentence, return_tensors="pt")).logits.softmax(-1)[0, 1:-1]

    tokenizer, model = load_token_classifier(adapter_run)  # the adapter, merged in memory
    expected = probabilities(model, tokenizer)
    assert [entity for entity, _ in tagged] == [model.config.id2label[int(i)] for i in expected.argmax(-1)]
    assert torch.allclose(torch.tensor([score for _, score in tagged]), expected.max(-1).values, atol=1e-4)
    _, base = load_token_classifier(tiny_hub / f"models--{TINY_BASE.replace('/', '--')}" / "snapshots" / ("1" * 40))
    assert not torch.allclose(probabilities(base, tokenizer), expected, atol=1e-3)  # the adapter made a difference


# --- secrets ---------------------------------------------------------------------------------------


def test_the_token_is_never_printed_or_written(smoke_run_dir, results, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HF_TOKEN", FAKE_TOKEN)
    run_dir = tmp_path / "run"
    shutil.copytree(smoke_run_dir, run_dir)
    info = rd.read_json(run_dir, rd.RUN_INFO)  # as if typed on the training command line
    update_run_info(run_dir, command=f"{info['command']} --hub-token {FAKE_TOKEN}")
    hub = tmp_path / "hub"
    common = ["--repo-id", REPO, "--results-dir", results]
    assert cli([run_dir, *common, "--dry-run"], RecordingApi()) == 0
    assert cli([run_dir, *common, "--hub-dir", hub]) == 0
    assert cli([run_dir, *common], RecordingApi(fail="upload_folder")) == 1
    captured = capsys.readouterr()
    written = [p for p in tmp_path.rglob("*") if p.is_file() and not p.is_relative_to(run_dir)]
    assert (hub / REPO / rd.RUN_INFO) in written
    for text in [captured.out, captured.err, *(p.read_bytes().decode("utf-8", "replace") for p in written)]:
        assert FAKE_TOKEN not in text
    assert TOKEN_MASK in captured.err and TOKEN_MASK in (hub / REPO / rd.RUN_INFO).read_text()
