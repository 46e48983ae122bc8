"""The Space folder: what it holds, that its requirements cover its imports, that it starts as
uploaded, and its upload plan (the same upload as the models', against the fake HfApi)."""

from __future__ import annotations

import ast
import fnmatch
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from importlib.metadata import packages_distributions, version
from pathlib import Path

import numpy as np
import pytest
from huggingface_hub import SpaceCard
from matplotlib.image import imsave
from test_publish import RecordingApi, planned_files

from benchmarks.fresh_setup import stop
from core import run_dir as rd
from core.cli import CommandFailed, InputError, run
from core.facts import BUNDLED_MODELS_DIR, EXPERIMENTS, HUB_DATASET, OFFLINE_BASE_ID, REPO_ROOT, count_words, repo_id
from workflow import space_folder
from workflow.space_folder import SHOWN_RESULTS, main

DEV_ONLY = {
    "pytest",
    "selenium",
    "import-linter",
    "matplotlib",
    "datasets",
    "seqeval",
    "evaluate",
    "accelerate",
    "jinja2",
}
LFS_THRESHOLD = 10_000_000  # bytes: the Hub refuses larger files outside LFS


def cli(args, api=None) -> int:
    return run(lambda argv: main(argv, api=api), [str(arg) for arg in args])


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory) -> Path:
    """The bundled models once they are the study's adapters; until then tiny stand-ins (the Space
    loads models on first use, so starting it reads only their cards)."""
    if all(rd.is_adapter(BUNDLED_MODELS_DIR / e) and (BUNDLED_MODELS_DIR / e / rd.CARD).is_file() for e in EXPERIMENTS):
        return BUNDLED_MODELS_DIR
    folder = tmp_path_factory.mktemp("models")
    for experiment in EXPERIMENTS:
        (folder / experiment).mkdir()
        config = {"peft_type": "LORA", "base_model_name_or_path": OFFLINE_BASE_ID}
        (folder / experiment / rd.ADAPTER_CONFIG).write_text(json.dumps(config))
        (folder / experiment / rd.ADAPTER_WEIGHTS).write_bytes(bytes(64))
        (folder / experiment / rd.CARD).write_text(f"---\nlicense: cc-by-sa-4.0\n---\n\n# {repo_id(experiment)}\n")
    return folder


@pytest.fixture(scope="module")
def results_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("results")
    for name in SHOWN_RESULTS:
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if name.endswith(".png"):
            imsave(path, np.zeros((4, 4, 3)))
        else:
            path.write_text("{}\n" if name.endswith(".json") else "| trained on | de |\n|---|---|\n| de | 0.8 |\n")
    return folder


@pytest.fixture(scope="module")
def space(tmp_path_factory, models_dir, results_dir) -> Path:
    out = tmp_path_factory.mktemp("build") / "space"
    assert cli([out, "--models-dir", models_dir, "--results-dir", results_dir]) == 0
    return out


def files(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


# --- requirements --------------------------------------------------------------------------------


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_names(path: Path) -> set[str]:
    """Distributions a requirements file names (canonical), following -r includes."""
    names = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#")[0].strip()
        if line.startswith("-r"):
            names |= requirement_names(path.parent / line[2:].strip())
        elif line and not line.startswith("-"):  # not an option (--extra-index-url)
            names.add(canonical(re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", line).group()))
    return names


def imports(path: Path) -> set[str]:
    """Absolute module names a file imports, those inside functions included."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def unmet_imports(root: Path, sources: list[Path], requirements: set[str], local: set[str]) -> list[str]:
    """Imports of the sources that neither the folder (local modules) nor a required distribution provides."""
    distributions = packages_distributions()
    unmet = []
    for source in sources:
        for module in sorted(imports(source)):
            top = module.split(".")[0]
            where = f"{source.relative_to(root)} imports {module}"
            if top in sys.stdlib_module_names:
                continue
            if top in local:
                stem = root.joinpath(*module.split("."))
                if not (stem.with_suffix(".py").is_file() or (stem / "__init__.py").is_file()):
                    unmet.append(f"{where}, which is not in the folder")
                continue
            provided = {canonical(name) for name in distributions.get(top, [])}
            if not provided & requirements:
                unmet.append(f"{where} ({', '.join(sorted(provided)) or 'not installed'}), not in the requirements")
    return unmet


def test_requirements_cover_every_import_of_the_space(space):
    sources = sorted(space.rglob("*.py"))
    local = {p.stem for p in space.iterdir() if p.suffix == ".py" or p.is_dir()}
    assert unmet_imports(space, sources, requirement_names(space / "requirements.txt"), local) == []


def test_requirements_are_the_projects_runtime_pinned_to_the_tested_versions_with_cpu_torch(space):
    lines = (space / "requirements.txt").read_text().splitlines()
    pins = [line for line in lines if line and not line.startswith(("#", "--"))]
    assert lines.index(f"--extra-index-url {space_folder.TORCH_CPU_INDEX}") < lines.index(pins[0])
    assert {canonical(pin.split("==")[0]) for pin in pins} == requirement_names(
        REPO_ROOT / "requirements.txt"
    )  # one list
    assert all(pin == f"{pin.split('==')[0]}=={version(pin.split('==')[0])}" for pin in pins)  # what the tests ran
    assert f"torch=={version('torch')}" in pins and f"starlette=={version('starlette')}" in pins
    assert not requirement_names(space / "requirements.txt") & DEV_ONLY
    assert (
        space_folder.TORCH_CPU_INDEX not in (REPO_ROOT / "requirements.txt").read_text()
    )  # CI's pip reaches PyPI only


@pytest.mark.parametrize(
    "change, problem",
    [
        (lambda s: s / "README.md", None),
        (lambda s: _edit(s / "README.md", "license: ", "licence: "), "'licence', which the Hub does not read"),
        (lambda s: _edit(s / "README.md", "colorTo: green", "colorTo: teal"), "colorTo 'teal' is not one of the Hub's"),
        (
            lambda s: _edit(s / "requirements.txt", "--extra-index-url", "# --extra-index-url"),
            "does not take torch from",
        ),
        (lambda s: _append(s / "requirements.txt", "pytest==8.0\n"), "installs pytest, a development tool"),
        (lambda s: _append(s / "requirements.txt", "mylib @ file:///home/me/mylib\n"), "is not an exact pin"),
    ],
)
def test_the_folder_is_checked_as_the_hub_will_read_it(space, tmp_path, change, problem):
    folder = shutil.copytree(space, tmp_path / "space")
    change(folder)
    if problem is None:
        space_folder.check_space(folder)
    else:
        with pytest.raises(CommandFailed, match=re.escape(problem)):
            space_folder.check_space(folder)


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def _append(path: Path, line: str) -> None:
    path.write_text(path.read_text(encoding="utf-8") + line, encoding="utf-8")


def test_the_space_carries_its_models_license_and_refuses_cards_that_disagree(space, models_dir, tmp_path, capsys):
    assert SpaceCard.load(space / "README.md").data.license == "cc-by-sa-4.0"
    models = shutil.copytree(models_dir, tmp_path / "models")
    _edit(models / "de" / "README.md", "license: cc-by-sa-4.0", "license: mit")
    assert cli([tmp_path / "out", "--models-dir", models, "--results-dir", REPO_ROOT / "results"]) == 2
    assert "must name one license" in capsys.readouterr().err and not (tmp_path / "out").exists()


def test_dev_requirements_cover_the_whole_project():
    sources = [
        p
        for p in REPO_ROOT.rglob("*.py")
        if not any(part.startswith(".") or part == "runs" for part in p.relative_to(REPO_ROOT).parts)
    ]
    local = {p.stem for p in REPO_ROOT.iterdir()} | {p.stem for p in (REPO_ROOT / "tests").glob("*.py")}
    requirements = requirement_names(REPO_ROOT / "requirements-dev.txt")
    assert DEV_ONLY <= requirements and requirement_names(REPO_ROOT / "requirements.txt") <= requirements
    unmet = [line for line in unmet_imports(REPO_ROOT, sources, requirements, local) if "not in the folder" not in line]
    assert unmet == []


# --- what the folder holds -----------------------------------------------------------------------


def test_front_matter_configures_the_space(space):
    card = SpaceCard.load(space / "README.md")
    data = card.data.to_dict()
    assert (data["sdk"], data["sdk_version"], data["python_version"], data["app_file"]) == (
        "gradio",
        version("gradio"),
        "3.11",
        "app.py",
    )
    assert data["models"] == [repo_id(experiment) for experiment in EXPERIMENTS]
    assert data["datasets"] == [HUB_DATASET]
    assert data["title"] and data["emoji"]
    description = data["short_description"]
    assert len(description) <= 60 and description.startswith(count_words(len(EXPERIMENTS)).capitalize())
    assert all(f"https://huggingface.co/{repo_id(experiment)}" in card.text for experiment in EXPERIMENTS)


def test_the_folder_holds_the_app_its_code_models_and_results(space, models_dir):
    names = files(space)
    code = {
        p.relative_to(REPO_ROOT).as_posix()
        for package in ("core", "space")
        for p in (REPO_ROOT / package).rglob("*.py")
        if "__pycache__" not in p.parts and "models" not in p.relative_to(REPO_ROOT / package).parts
    }
    assert {"app.py", *code} <= names
    assert not {name.split("/")[0] for name in names} & {
        "training",
        "workflow",
        "cards",
        "tests",
        "benchmarks",
        "runs",
        "docs",
    }
    assert not any("__pycache__" in name or name.endswith(".pyc") for name in names)
    for experiment in EXPERIMENTS:
        for name in (*rd.model_files(models_dir / experiment), rd.CARD):
            assert f"space/models/{experiment}/{name}" in names
    assert {f"results/{name}" for name in SHOWN_RESULTS} <= names


def test_binary_and_large_files_are_stored_with_lfs(space):
    patterns = [line.split()[0] for line in (space / ".gitattributes").read_text().splitlines() if "filter=lfs" in line]
    assert {"*.safetensors", "*.png"} <= set(patterns)
    for path in space.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            if b"\0" in data[:8192] or len(data) > LFS_THRESHOLD:
                assert any(fnmatch.fnmatch(path.name, pattern) for pattern in patterns), f"{path} is not in LFS"


# --- where it may be written ---------------------------------------------------------------------


def test_out_is_replaced_only_when_it_is_a_space_folder(tmp_path, models_dir, results_dir, capsys):
    out = tmp_path / "space"
    args = ["--models-dir", models_dir, "--results-dir", results_dir]
    assert cli([out, *args]) == 0
    (out / "space" / "stale.py").write_text("")
    assert cli([out, *args]) == 0
    assert not (out / "space" / "stale.py").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["space"]  # no staging folders left

    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("mine")
    assert cli([mine, *args]) == 2
    assert "exists and is not a Space folder made by this command" in capsys.readouterr().err
    assert [p.name for p in mine.iterdir()] == ["notes.txt"]
    # The checkout itself looks like a Space (README front matter, app.py); it is never replaced.
    for out in (REPO_ROOT, REPO_ROOT / "space" / "build"):
        with pytest.raises(InputError, match="would hold or sit inside the Space's own sources"):
            space_folder.check_out(out, models_dir, results_dir)


def test_missing_model_or_result_is_refused(tmp_path, models_dir, results_dir, capsys):
    partial = tmp_path / "models"
    shutil.copytree(models_dir, partial, ignore=shutil.ignore_patterns(list(EXPERIMENTS)[-1]))
    assert cli([tmp_path / "out", "--models-dir", partial, "--results-dir", results_dir]) == 2
    assert f"missing {partial / list(EXPERIMENTS)[-1]}" in capsys.readouterr().err
    assert cli([tmp_path / "out", "--models-dir", models_dir, "--results-dir", tmp_path]) == 2
    assert f"missing {tmp_path / SHOWN_RESULTS[0]}" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


# --- the upload ----------------------------------------------------------------------------------


def test_upload_plan_and_push_go_through_the_models_upload(tmp_path, models_dir, results_dir, capsys):
    out = tmp_path / "space"
    args = [out, "--models-dir", models_dir, "--results-dir", results_dir]
    api = RecordingApi()
    assert cli([*args, "--dry-run"], api) == 0
    plan = capsys.readouterr().out
    assert set(api.names()) == {"repo_info"}  # asked, found nothing, uploaded nothing
    assert "repo:        space panx-ner/panx-ner" in plan and "visibility:  a new public repo is created" in plan
    assert set(planned_files(plan)) == files(out) and re.search(r"^tag:         space-\d{8}T\d{6}Z$", plan, re.M)

    api = RecordingApi()
    assert cli([*args, "--push", "--private", "--tag", "v1"], api) == 0
    assert [name for name in api.names() if name in ("create_repo", "upload_folder", "create_tag")] == [
        "create_repo",
        "upload_folder",
        "create_tag",
    ]
    assert api.kwargs("create_repo") == {"repo_type": "space", "space_sdk": "gradio", "private": True, "exist_ok": True}
    upload = api.kwargs("upload_folder")
    assert upload["repo_type"] == "space" and upload["delete_patterns"] == "*" and set(upload["sizes"]) == files(out)
    assert api.kwargs("create_tag")["tag"] == "v1"


# --- it starts as uploaded -----------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_the_space_starts_from_its_folder(space, tmp_path):
    folder = shutil.copytree(space, tmp_path / "space")  # the app may write caches beside itself
    port = free_port()
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "PANX_MODELS_DIR")}
    # The app makes the models' ONNX entries in the background from the start: in a cache of this test's own.
    env.update(
        GRADIO_SERVER_PORT=str(port),
        GRADIO_SERVER_NAME="127.0.0.1",
        HF_HUB_OFFLINE="1",
        GRADIO_ANALYTICS_ENABLED="False",
        PANX_ONNX_CACHE=str(tmp_path / "onnx"),
    )
    no_proxy = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    log = tmp_path / "app.log"
    with log.open("wb") as output:
        app = subprocess.Popen([sys.executable, "app.py"], cwd=folder, env=env, stdout=output, stderr=subprocess.STDOUT)
        try:
            config, deadline = None, time.monotonic() + 240
            while config is None and app.poll() is None and time.monotonic() < deadline:
                try:
                    with no_proxy.open(f"http://127.0.0.1:{port}/config", timeout=10) as response:
                        config = json.load(response)
                except OSError:
                    time.sleep(1)
        finally:
            stop(app)
    assert config is not None, log.read_text(errors="replace")[-3000:]
    assert config["mode"] == "blocks" and config["components"]  # the app's UI, served from the folder
