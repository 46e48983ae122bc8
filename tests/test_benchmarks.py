"""The benchmark scripts' own logic (their timings are committed outputs, never asserted here)."""

import pytest

from benchmarks import fresh_setup, space_latency
from core.facts import REPO_ROOT


def test_fresh_setup_runs_the_readme_set_up_and_times_the_app_itself():
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    steps = fresh_setup.setup_steps(readme)
    assert f"{' && '.join(steps)} && {fresh_setup.APP_COMMAND}" in readme
    assert steps[0] == "python3 -m venv .venv" and not any("app.py" in step for step in steps)
    assert fresh_setup.after_pip(steps) == [
        ".venv/bin/python -m core.e5_base",
        ".venv/bin/python -m space.backends.onnx_fp32",
    ]


@pytest.mark.parametrize(
    "readme",
    [
        "no commands here",
        "```bash\n.venv/bin/python app.py\n```",
        "```bash\npython3 -m venv .venv && .venv/bin/python -m pytest\n```",
    ],
)
def test_fresh_setup_refuses_a_readme_without_set_up_then_app(readme):
    with pytest.raises(ValueError, match="README"):
        fresh_setup.setup_steps(readme)


def test_fresh_setup_refuses_a_set_up_that_installs_nothing():
    with pytest.raises(ValueError, match="installs nothing with pip"):
        fresh_setup.after_pip(["python3 -m venv .venv", ".venv/bin/python -m core.e5_base"])


def test_fresh_setup_runs_as_a_user_with_an_empty_home_and_none_of_this_machines_caches(tmp_path, monkeypatch):
    for name, value in [
        ("HF_HOME", "/somewhere/hf"),
        ("PANX_ONNX_CACHE", "/somewhere/onnx"),
        ("XDG_CACHE_HOME", "/somewhere/cache"),
        ("HF_HUB_OFFLINE", "1"),
        ("VIRTUAL_ENV", "/venv"),
    ]:
        monkeypatch.setenv(name, value)
    hub = type("Hub", (), {"url": "http://127.0.0.1:9"})()
    env = fresh_setup.fresh_env(tmp_path, hub)
    assert env["HOME"] == str(tmp_path) and env["HF_HOME"] == str(tmp_path / ".cache" / "huggingface")
    assert env["HF_ENDPOINT"] == hub.url and "HF_HUB_OFFLINE" not in env  # a user's: the Hub is asked, and counted
    assert not {"PANX_ONNX_CACHE", "XDG_CACHE_HOME", "VIRTUAL_ENV"} & set(env)
    assert env["PATH"]  # the rest of the environment is kept


def test_fresh_setup_holds_the_issues_targets():
    assert fresh_setup.within_targets(90.0, {"de": 20.0, "fr": 5.0, "it": 0.3})
    assert not fresh_setup.within_targets(90.1, {"de": 1.0})
    assert not fresh_setup.within_targets(10.0, {"de": 20.1})
    assert not fresh_setup.within_targets(10.0, {"de": 1.0, "fr": 5.1})


@pytest.mark.parametrize("script, flag", [(space_latency, "--cold-starts"), (fresh_setup, "--starts")])
def test_a_benchmark_refuses_to_time_no_start(script, flag, capsys):
    with pytest.raises(SystemExit) as exit_:
        script.main([flag, "0"])
    assert exit_.value.code == 2 and f"{flag} must be at least 1" in capsys.readouterr().err
