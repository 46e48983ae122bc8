"""README's promises: the two commands, CI running the same test command, Space front matter current."""

import re

from core.facts import REPO_ROOT

README = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
TEST_COMMAND = "HF_HUB_OFFLINE=1 .venv/bin/python -m pytest -q"


def test_readme_gives_setup_and_test_commands():
    blocks = re.findall(r"```bash\n(.*?)\n```", README, re.DOTALL)
    assert blocks[0] == "python3 -m venv .venv && .venv/bin/pip install -r requirements-dev.txt && .venv/bin/python -m training.e5_base && .venv/bin/python -m space.backends.onnx_fp32 && .venv/bin/python app.py"
    assert blocks[1] == TEST_COMMAND


def test_ci_runs_the_readme_test_command():
    ci = (REPO_ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert TEST_COMMAND in ci.splitlines()
    assert "pip install -q -r requirements-dev.txt" in ci


def test_requirements_pin_torch():
    assert "torch==2.13.0" in (REPO_ROOT / "requirements.txt").read_text().splitlines()
