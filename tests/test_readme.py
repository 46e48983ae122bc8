"""README's promises: the two commands, CI running the same test command, a user's page in size, and
its one results table equal to the results it quotes."""

import json
import re

from core.facts import BOOK_F1, LANGUAGES, REPO_ROOT
from core.results import F1_MATRIX_JSON

README = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
SETUP_COMMAND = (
    "python3 -m venv .venv && .venv/bin/pip install -r requirements-dev.txt && .venv/bin/python -m core.e5_base"
    " && .venv/bin/python -m space.backends.onnx_fp32 && .venv/bin/python app.py"
)
TEST_COMMAND = ".venv/bin/python -m pytest -q"  # nothing set: the suite sets up its own environment
MAX_BYTES = 12_000


def test_readme_gives_setup_and_test_commands():
    blocks = re.findall(r"```bash\n(.*?)\n```", README, re.DOTALL)
    assert blocks[0] == SETUP_COMMAND
    assert blocks[1] == TEST_COMMAND


def test_ci_runs_the_readme_test_command():
    ci = (REPO_ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert TEST_COMMAND in ci.splitlines()
    assert "pip install -q -r requirements-dev.txt" in ci


def test_requirements_pin_torch():
    assert "torch==2.13.0" in (REPO_ROOT / "requirements.txt").read_text().splitlines()


def test_readme_is_a_users_page():
    assert len(README.encode()) <= MAX_BYTES
    assert not re.search(r"\b(this|last|the previous) round\b|\bthe issue's\b", README)


def test_the_results_table_is_the_f1_matrix_and_the_books_row():
    matrix = json.loads((REPO_ROOT / "results" / F1_MATRIX_JSON).read_text(encoding="utf-8"))
    rows = dict(re.findall(r"^\| (\S[^|]*?) \| (\d\.\d{3} \|.*)$", README, re.MULTILINE))
    expected = {**matrix, "the book's all": BOOK_F1["all"]}
    assert set(rows) == set(expected)
    for model, cells in rows.items():
        shown = [float(cell) for cell in cells.strip(" |").split(" | ")]
        assert shown == [round(expected[model][lang], 3) for lang in LANGUAGES], model
