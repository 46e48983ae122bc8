"""The benchmark scripts' own logic (their timings are committed outputs, never asserted here)."""

import pytest

from benchmarks import fresh_setup, space_latency
from core.facts import REPO_ROOT


def test_fresh_setup_runs_the_readme_set_up_and_times_the_app_itself():
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    command = fresh_setup.setup_command(readme)
    assert f"{command} && {fresh_setup.APP_COMMAND}" in readme
    assert command.startswith("python3 -m venv .venv && ") and "app.py" not in command


@pytest.mark.parametrize("readme", ["no commands here", "```bash\n.venv/bin/python app.py\n```",
                                    "```bash\npython3 -m venv .venv && .venv/bin/python -m pytest\n```"])
def test_fresh_setup_refuses_a_readme_without_set_up_then_app(readme):
    with pytest.raises(ValueError, match="README"):
        fresh_setup.setup_command(readme)


def test_fresh_setup_gives_the_clone_an_empty_home_and_none_of_this_machines_caches(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HOME", "/somewhere/hf")
    monkeypatch.setenv("PANX_ONNX_CACHE", "/somewhere/onnx")
    monkeypatch.setenv("XDG_CACHE_HOME", "/somewhere/cache")
    env = fresh_setup.fresh_env(tmp_path)
    assert env["HOME"] == str(tmp_path) and env["HF_HUB_OFFLINE"] == "1"
    assert not set(fresh_setup.CACHE_VARIABLES) & set(env)
    assert env["PATH"]  # the rest of the environment is kept


@pytest.mark.parametrize("script, flag", [(space_latency, "--cold-starts"), (fresh_setup, "--starts")])
def test_a_benchmark_refuses_to_time_no_start(script, flag, capsys):
    with pytest.raises(SystemExit) as exit_:
        script.main([flag, "0"])
    assert exit_.value.code == 2 and f"{flag} must be at least 1" in capsys.readouterr().err
