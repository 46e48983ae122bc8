"""The architecture in pyproject.toml holds: layers point down, no import cycles (lazy imports count)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from core.facts import REPO_ROOT


def test_import_contracts_are_kept():
    # lint-imports reads [tool.importlinter] from pyproject.toml and scans every import statement,
    # those inside functions included.
    lint_imports = Path(sys.executable).parent / "lint-imports"  # installed beside this Python by import-linter
    result = subprocess.run([str(lint_imports), "--no-cache"], cwd=REPO_ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout


def imported_packages(path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_app_py_sits_on_top_and_only_reaches_the_space_and_core():
    project = {"core", "space", "cards", "training", "workflow"}
    ours = {name for name in imported_packages(REPO_ROOT / "app.py") if name.split(".")[0] in project}
    assert ours and all(name.split(".")[0] in ("space", "core") for name in ours), ours


def test_siblings_do_not_reach_sideways():
    """space, cards and training import only core among the project's packages (import-linter says the
    same; this names the offending file when it breaks)."""
    for package in ("space", "cards", "training"):
        for path in (REPO_ROOT / package).rglob("*.py"):
            others = {name.split(".")[0] for name in imported_packages(path)} & {
                "space",
                "cards",
                "training",
                "workflow",
            }
            assert others <= {package}, f"{path.relative_to(REPO_ROOT)} imports {sorted(others - {package})}"


def test_ruff_finds_nothing_to_lint_or_format():
    """pyproject.toml's [tool.ruff] settings, as a developer runs them."""
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent)) or "ruff"
    for args in (["check", "."], ["format", "--check", "."]):
        done = subprocess.run([ruff, *args], cwd=REPO_ROOT, capture_output=True, text=True)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-1000:]
