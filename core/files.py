"""Atomic writes: a file or folder is either the old one or the complete new one, never half written;
and the one file checksum (sha256_of) that the study's lock, the offline base and the results use.

Everything a later step trusts (JSON, Markdown, plots, bundled folders) is written to a temporary
name beside its target and renamed over it, so an interrupted or failed write leaves nothing that
passes for finished.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yields a temporary path beside `path`; renamed over it when the block ends without error."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(handle)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        tmp_path.chmod(0o644)
        tmp_path.replace(path)
    finally:
        tmp_path.unlink(missing_ok=True)


def write_text(path: str | Path, text: str) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def write_json(path: str | Path, obj: Any) -> Path:
    return write_text(path, json.dumps(obj, indent=2, ensure_ascii=False) + "\n")


def write_with(path: str | Path, writer: Callable[[Path], object]) -> Path:
    """Atomic write by a function that takes a path (matplotlib's savefig, save_file, ...)."""
    with atomic_path(path) as tmp:
        writer(tmp)
    return Path(path)


@contextmanager
def staged_folder(target: str | Path) -> Iterator[Path]:
    """Yields an empty folder beside `target`; when the block succeeds it replaces `target` whole.
    On failure the staged folder is removed and `target` is left as it was."""
    target = Path(target)
    created = [folder for folder in (target.parent, *target.parent.parents) if not folder.exists()]  # deepest first
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".staging", dir=target.parent))
    staging.chmod(0o755)
    try:
        yield staging
        replace_folder(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        for folder in created:  # the folders made for target, if nothing else went into them
            try:
                folder.rmdir()
            except OSError:
                break
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def replace_folder(new: Path, target: Path) -> None:
    """Swap `new` into `target`; the old folder is moved aside first and deleted only afterwards."""
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}.old-{os.getpid()}")
        target.rename(old)
    try:
        new.rename(target)
    except OSError:
        if old is not None:
            old.rename(target)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def sha256_of(path: str | Path) -> str:
    """The SHA-256 hex digest of a file, read in 4 MiB chunks (weights files are hundreds of MB)."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 22), b""):
            digest.update(chunk)
    return digest.hexdigest()
