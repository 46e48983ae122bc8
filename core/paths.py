"""This machine's paths in text that leaves it: published logs, model cards, the Space's error messages.

One pattern finds an absolute path inside text; each helper decides what its reader sees instead:
a repo-relative path or "…/NAME" (published logs), a file name (an error message), a role such as
DATA_DIR (the training command on a card). A last check lists the folders a text still names.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from core.facts import REPO_ROOT

# An absolute POSIX path inside a string: not a URL's path ("https://x/y"), a ratio ("1/2"), "de/fr" or "~/x".
ABSOLUTE_PATH = re.compile(r"(?<![\w.~/:-])/(?:[\w.@+~-]+/)*[\w.@+~-]+")
# Command-line values that are paths on the training machine: shown by role, never as the path.
PATH_ARGUMENTS = {"--data-dir": "DATA_DIR", "--output-dir": "RUN_DIR"}


def _repo_relative(match: re.Match) -> str:
    path = Path(match.group())
    if not Path(*path.parts[:2]).exists():  # "/Radio" in an entity example is no folder of this machine
        return match.group()
    return path.relative_to(REPO_ROOT).as_posix() if path.is_relative_to(REPO_ROOT) else f"…/{path.name}"


def portable(value: Any, redact: Callable[[str], str] = str) -> Any:
    """A JSON value as it is published: in every string, absolute paths become repo-relative (or "…/NAME"),
    then `redact` applies (publishing masks the token with it)."""
    if isinstance(value, str):
        return redact(ABSOLUTE_PATH.sub(_repo_relative, value))
    if isinstance(value, list):
        return [portable(item, redact) for item in value]
    if isinstance(value, dict):
        return {key: portable(item, redact) for key, item in value.items()}
    return value


def without_paths(message: str, models_dir: Path) -> str:
    """A library's message with server paths cut: models_dir/KEY/FILE -> KEY/FILE, any other path -> its file name."""
    message = message.replace(f"{models_dir.resolve()}/", "").replace(f"{models_dir}/", "")
    return ABSOLUTE_PATH.sub(lambda match: match.group().rsplit("/", 1)[1], message)


def named_folders(text: str, folders: Iterable[str | Path | None]) -> list[str]:
    """The folders of this machine (resolved) that text names. Short ones ("/tmp", "/root") are left out:
    ordinary text has them too, the specific ones it cannot."""
    places = {Path(folder).resolve() for folder in folders if folder is not None}
    return sorted(str(place) for place in places if len(place.parts) > 2 and str(place) in text)


def is_local_path(text: str) -> bool:
    """Hub ids are "name" or "org/name"; anything deeper, absolute, relative or existing is a local path."""
    return Path(text).is_absolute() or text.startswith((".", "~")) or text.count("/") > 1 or Path(text).exists()


def folder_name(text: str) -> str:
    """A local path by its last part (a base model's folder by its name); anything else as it is."""
    return Path(text.rstrip("/")).name if is_local_path(text) else text


def command_without_paths(command: str) -> str:
    """A command line without the machine's paths: PATH_ARGUMENTS by role, any other local path by its name."""
    words = shlex.split(command)
    shown = []
    for i, word in enumerate(words):
        flag, equals, value = word.partition("=")
        if equals and flag in PATH_ARGUMENTS:
            shown.append(f"{flag}={PATH_ARGUMENTS[flag]}")
        elif i and words[i - 1] in PATH_ARGUMENTS:
            shown.append(PATH_ARGUMENTS[words[i - 1]])
        elif equals and flag.startswith("--"):
            shown.append(f"{flag}={folder_name(value)}")
        else:
            shown.append(folder_name(word))
    return shlex.join(shown)
