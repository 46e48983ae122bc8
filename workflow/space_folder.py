"""Build the folder that is uploaded as the Hugging Face Space, and upload it.

    python -m workflow.space_folder OUT                       # the Space as it is uploaded, in OUT
    python -m workflow.space_folder OUT --dry-run             # ... and the upload plan; uploads nothing
    python -m workflow.space_folder OUT --push [--private]    # ... and upload it: one commit, then a tag

OUT starts as the Space does (`cd OUT && python app.py`). It holds app.py and the code it imports
(core/, which also builds the offline base at start-up, and space/), the bundled
models (space/models/), the results the Space shows (results/), a requirements.txt made from the
project's runtime requirements.txt (each pinned to the version installed here, the one the tests ran,
and torch from PyTorch's CPU wheel index), a .gitattributes that keeps binaries in LFS, and a README.md
whose front matter configures the Space. The folder is checked before it is kept (check_space: the
front matter the Hub reads, no development tools, no machine paths). The upload is workflow.publish's,
as for the models.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from core import results as res
from core import run_dir as rd
from core.cli import CommandFailed, InputError, run
from core.facts import (
    BUNDLED_MODELS_DIR,
    ENTITY_NAMES,
    EXPERIMENTS,
    HUB_DATASET,
    LANGUAGE_NAMES,
    LANGUAGES,
    OFFLINE_BASE_ID,
    REPO_ROOT,
    RESULTS_DIR,
    SPACE_ID,
    count_words,
    hub_base,
    join_names,
    repo_id,
)
from core.files import staged_folder, write_text
from workflow.publish import (
    SPACE,
    Release,
    check_portable,
    check_repo_id,
    check_tag,
    hub_api,
    normalise_permissions,
    publish,
    tag_for,
)

# The Space's code: app.py and what it imports (tests/test_space_folder.py checks that it is enough).
CODE = ("app.py", "core", "space")
MODELS = "space/models"
RESULTS = "results"
SHOWN_RESULTS = (res.F1_MATRIX_JSON, res.F1_MATRIX_MD, res.PARAGRAPH_CHECK_JSON, *res.PLOTS, res.REPORT_MD)
REQUIREMENTS = "requirements.txt"
DEV_REQUIREMENTS = "requirements-dev.txt"  # what it adds to REQUIREMENTS never goes into the Space
# torch's CPU wheels: without this index a Space's pip takes PyPI's Linux torch, which pulls gigabytes of CUDA.
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"
GITATTRIBUTES = ".gitattributes"
# The Hub refuses binary files outside LFS; tokenizer.json is text but often over its 10 MB limit.
LFS_PATTERNS = (
    "*.safetensors",
    "*.bin",
    "*.pt",
    "*.onnx",
    "*.png",
    "*.jpg",
    "*.jpeg",
    "*.gif",
    "*.webp",
    "*.parquet",
    "*.arrow",
    "*.model",
    "tokenizer.json",
)
TOP_LEVEL = {name.split("/")[0] for name in CODE} | {RESULTS, REQUIREMENTS, GITATTRIBUTES, rd.CARD}
SKIPPED = ("__pycache__", "*.pyc", ".*")

TITLE = "PAN-X cross-lingual NER"
SDK = "gradio"
PYTHON_VERSION = "3.11"
SHORT_DESCRIPTION_LIMIT = 60  # characters, the Hub's limit
# The front-matter keys the Hub reads for a Space (https://huggingface.co/docs/hub/spaces-config-reference);
# it ignores any other, so a misspelt key would silently configure nothing.
HUB_SPACE_KEYS = frozenset(
    {
        "title",
        "short_description",
        "emoji",
        "colorFrom",
        "colorTo",
        "sdk",
        "python_version",
        "sdk_version",
        "suggested_hardware",
        "suggested_storage",
        "app_file",
        "app_port",
        "base_path",
        "fullWidth",
        "header",
        "models",
        "datasets",
        "tags",
        "thumbnail",
        "pinned",
        "hf_oauth",
        "hf_oauth_scopes",
        "hf_oauth_expiration_minutes",
        "hf_oauth_authorized_org",
        "disable_embedding",
        "startup_duration_timeout",
        "custom_headers",
        "preload_from_hub",
        "license",
    }
)
REQUIRED_KEYS = ("title", "sdk", "sdk_version", "python_version", "app_file", "license", "short_description")
HUB_COLORS = frozenset({"red", "yellow", "green", "blue", "indigo", "purple", "pink", "gray"})


def short_description() -> str:
    models = f"{count_words(len(EXPERIMENTS)).capitalize()} {Path(hub_base(OFFLINE_BASE_ID)).name} NER models"
    text = f"{models} on {'/'.join(LANGUAGES)}"
    return text if len(text) <= SHORT_DESCRIPTION_LIMIT else models


def readme(space_license: str) -> str:
    """The Space's README.md: front matter (huggingface_hub's SpaceCardData) and a short description."""
    from huggingface_hub import SpaceCard, SpaceCardData

    base = hub_base(OFFLINE_BASE_ID)
    data = SpaceCardData(
        title=TITLE,
        emoji="🏷️",
        colorFrom="indigo",
        colorTo="green",
        sdk=SDK,
        sdk_version=version(SDK),
        python_version=PYTHON_VERSION,
        app_file=CODE[0],
        pinned=False,
        short_description=short_description(),
        license=space_license,
        models=[repo_id(experiment) for experiment in EXPERIMENTS],
        datasets=[HUB_DATASET],
    )
    links = ", ".join(f"[{experiment}](https://huggingface.co/{repo_id(experiment)})" for experiment in EXPERIMENTS)
    body = (
        f"# {TITLE}\n\n"
        f"{count_words(len(EXPERIMENTS)).capitalize()} named-entity recognisers "
        f"({join_names(list(ENTITY_NAMES.values()))}) fine-tuned from [{base}](https://huggingface.co/{base}) "
        f"on PAN-X ([{HUB_DATASET}](https://huggingface.co/datasets/{HUB_DATASET})), side by side on "
        f"{join_names([LANGUAGE_NAMES[lang] for lang in LANGUAGES])} text: chapter 4 of *Natural Language "
        f"Processing with Transformers*. The models, named by the languages they were fine-tuned on: {links}.\n"
    )
    text = f"---\n{data.to_yaml()}\n---\n\n{body}"
    SpaceCard(text)  # parses as the Hub will, or raises
    return text


def models_license(models_dir: Path) -> str:
    """The license of the bundled models, which the Space redistributes: their cards must agree on one."""
    from huggingface_hub import ModelCard

    licenses = {
        experiment: ModelCard.load(models_dir / experiment / rd.CARD).data.license for experiment in EXPERIMENTS
    }
    if len(set(licenses.values())) != 1 or None in licenses.values():
        found = ", ".join(f"{experiment}: {license}" for experiment, license in licenses.items())
        raise InputError(f"the bundled models' cards must name one license for the Space to carry; they name {found}")
    return next(iter(licenses.values()))


def requirement_names(path: Path) -> list[str]:
    """The distributions a requirements file names, in its order (comments and includes left out)."""
    names = []
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#")[0].strip()
        if line and not line.startswith("-"):
            names.append(re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", line).group())
    return names


def requirements() -> str:
    """The Space's requirements.txt: the project's runtime requirements, each pinned to the version
    installed here (the one the tests ran), torch from PyTorch's CPU wheel index."""
    pins = []
    for name in requirement_names(REPO_ROOT / REQUIREMENTS):
        try:
            pins.append(f"{name}=={version(name)}")
        except PackageNotFoundError:
            raise InputError(
                f"{name} (in {REQUIREMENTS}) is not installed; pip install -r {REQUIREMENTS} first, "
                "so that the Space gets the versions the tests run"
            ) from None
    header = (
        f"# The Space's runtime: {REQUIREMENTS} of the project, pinned to the versions its tests ran.\n"
        f"# PyTorch's CPU wheels (PyPI's torch for Linux pulls CUDA); everything else comes from PyPI.\n"
        f"--extra-index-url {TORCH_CPU_INDEX}\n"
    )
    return header + "".join(f"{pin}\n" for pin in pins)


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


_PIN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*==[A-Za-z0-9.+!-]+")


def check_space(folder: Path) -> None:
    """What the Hub needs of the folder as written: front-matter keys it reads (and the required ones,
    with valid values), requirements that are exact pins of runtime packages with torch's CPU index, and
    no development tools. CommandFailed names the first problem."""
    from huggingface_hub import SpaceCard

    data = SpaceCard.load(folder / rd.CARD).data.to_dict()
    problems = [
        f"README.md's front matter has {key!r}, which the Hub does not read"
        for key in data
        if key not in HUB_SPACE_KEYS
    ]
    problems += [f"README.md's front matter lacks {key!r}" for key in REQUIRED_KEYS if not data.get(key)]
    problems += [
        f"README.md's {key} {data[key]!r} is not one of the Hub's colours"
        for key in ("colorFrom", "colorTo")
        if key in data and data[key] not in HUB_COLORS
    ]
    lines = [
        line
        for line in (folder / REQUIREMENTS).read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    if f"--extra-index-url {TORCH_CPU_INDEX}" not in lines:
        problems.append(f"requirements.txt does not take torch from {TORCH_CPU_INDEX}")
    pins = [line for line in lines if not line.startswith("--extra-index-url")]
    problems += [
        f"requirements.txt line {line!r} is not an exact pin (name==version)"
        for line in pins
        if not _PIN.fullmatch(line)
    ]
    dev_only = {_canonical(n) for n in requirement_names(REPO_ROOT / DEV_REQUIREMENTS)} - {
        _canonical(n) for n in requirement_names(REPO_ROOT / REQUIREMENTS)
    }
    problems += [
        f"requirements.txt installs {line.split('==')[0]}, a development tool"
        for line in pins
        if _canonical(line.split("==")[0]) in dev_only
    ]
    if problems:
        raise CommandFailed(f"the Space folder would not deploy as written: {problems[0]}")


def gitattributes() -> str:
    return "".join(f"{pattern} filter=lfs diff=lfs merge=lfs -text\n" for pattern in LFS_PATTERNS)


def check_sources(models_dir: Path, results_dir: Path) -> None:
    """Every bundled model with its card, and every result the Space shows, or an error naming what is missing."""
    missing = []
    for experiment in EXPERIMENTS:
        folder = models_dir / experiment
        if not folder.is_dir():
            missing.append(str(folder))
            continue
        missing += [str(folder / name) for name in (*rd.model_files(folder), rd.CARD) if not (folder / name).is_file()]
    if missing:
        raise InputError(
            f"the Space needs every bundled model with its card; missing {', '.join(missing)} "
            f"({res.STUDY_COMMAND} bundles them)"
        )
    missing = [str(results_dir / name) for name in SHOWN_RESULTS if not (results_dir / name).is_file()]
    if missing:
        raise InputError(
            f"the Space shows the study's results; missing {', '.join(missing)} ({res.STUDY_COMMAND} makes them)"
        )


def is_space_folder(folder: Path) -> bool:
    """An empty folder, or one this command wrote: nothing but the Space's own entries, a Space README."""
    from huggingface_hub import SpaceCard

    if not folder.is_dir():
        return False
    entries = {path.name for path in folder.iterdir()}
    if not entries:
        return True
    if not entries <= TOP_LEVEL or not (folder / rd.CARD).is_file():
        return False
    try:
        card = SpaceCard.load(folder / rd.CARD)
    except ValueError:
        return False
    return card.data.sdk == SDK and card.data.app_file == CODE[0]


def check_out(out: Path, models_dir: Path, results_dir: Path) -> None:
    resolved = out.resolve()
    sources = [REPO_ROOT / name for name in CODE if (REPO_ROOT / name).is_dir()] + [models_dir, results_dir]
    if REPO_ROOT.is_relative_to(resolved) or any(resolved.is_relative_to(Path(s).resolve()) for s in sources):
        raise InputError(f"OUT {out} would hold or sit inside the Space's own sources; pick a folder outside them")
    if out.exists() and not is_space_folder(out):
        raise InputError(
            f"{out} exists and is not a Space folder made by this command; move it away or pick another OUT"
        )


def _skip(folder: str, names: list[str]) -> set[str]:
    skipped = set(shutil.ignore_patterns(*SKIPPED)(folder, names))
    # The repo's bundled models are copied from --models-dir instead.
    return skipped | ({"models"} if Path(folder).resolve() == (REPO_ROOT / "space").resolve() else set())


def write_space(dest: Path, models_dir: Path, results_dir: Path) -> None:
    for name in CODE:
        source, target = REPO_ROOT / name, dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target, ignore=_skip)
        else:
            shutil.copyfile(source, target)
    for experiment in EXPERIMENTS:
        shutil.copytree(models_dir / experiment, dest / MODELS / experiment, ignore=shutil.ignore_patterns(*SKIPPED))
    for name in SHOWN_RESULTS:
        (dest / RESULTS / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(results_dir / name, dest / RESULTS / name)
    write_text(dest / REQUIREMENTS, requirements())
    write_text(dest / GITATTRIBUTES, gitattributes())
    write_text(dest / rd.CARD, readme(models_license(models_dir)))
    check_space(dest)
    check_portable(dest, [models_dir, results_dir])  # no machine paths, no token
    normalise_permissions(dest)


def build_space_folder(
    out: str | Path, models_dir: str | Path = BUNDLED_MODELS_DIR, results_dir: str | Path = RESULTS_DIR
) -> Path:
    """Write OUT (replaced whole, once complete; only ever over an earlier Space folder)."""
    out, models_dir, results_dir = Path(out), Path(models_dir), Path(results_dir)
    check_sources(models_dir, results_dir)
    check_out(out, models_dir, results_dir)
    with staged_folder(out) as staging:
        write_space(staging, models_dir, results_dir)
    return out


def space_release(folder: Path, space_id: str, private: bool, tag: str | None) -> Release:
    now = datetime.now(UTC)
    message = f"The Space: {count_words(len(EXPERIMENTS))} models, {SDK} {version(SDK)}"
    description = "\n".join(
        [
            f"models: {', '.join(repo_id(experiment) for experiment in EXPERIMENTS)}",
            f"results: {', '.join(SHOWN_RESULTS)}",
            f"built at: {now.isoformat(timespec='seconds')}",
            "published with python -m workflow.space_folder",
        ]
    )
    return Release(folder, space_id, SPACE, message, description, tag or tag_for(now, "space"), private, space_sdk=SDK)


def main(argv: list[str] | None = None, api: Any = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m workflow.space_folder", description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="the folder to write (replaced whole; only an earlier Space folder)")
    parser.add_argument(
        "--models-dir", type=Path, default=BUNDLED_MODELS_DIR, help="the bundled models, one folder per experiment"
    )
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR, help="the study's results")
    upload = parser.add_mutually_exclusive_group()
    upload.add_argument("--push", action="store_true", help="upload OUT to the Space")
    upload.add_argument("--dry-run", action="store_true", help="print the upload plan and upload nothing")
    parser.add_argument("--space-id", default=SPACE_ID, help=f"NAMESPACE/NAME of the Space (default {SPACE_ID})")
    parser.add_argument("--private", action="store_true", help="make the Space private if this upload creates it")
    parser.add_argument("--tag", default=None, help="the upload's tag (default: space-<UTC time>)")
    args = parser.parse_args(argv)
    space_id = check_repo_id(args.space_id, "--space-id")
    tag = check_tag(args.tag) if args.tag else None
    if (args.private or tag) and not (args.push or args.dry_run):
        raise InputError("--private and --tag are for an upload: add --push or --dry-run")
    uploading = args.push or args.dry_run
    api = api or (hub_api(args.dry_run) if uploading else None)  # no token or offline: say so before building
    out = build_space_folder(args.out, args.models_dir, args.results_dir)
    files = sorted(p for p in out.rglob("*") if p.is_file())
    print(f"wrote {out}: {len(files)} files, {sum(p.stat().st_size for p in files):,} bytes")
    if uploading:
        publish(api, space_release(out, space_id, args.private, tag), args.dry_run)
    return 0


if __name__ == "__main__":
    sys.exit(run(main))
