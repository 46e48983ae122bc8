"""A new user's first minutes: the README's set-up command on a fresh clone, then `python app.py` and the
first /tag of each language, in a user's environment.

    python benchmarks/fresh_setup.py [--starts 3] [--keep] [--skip-swap-check] [--working-tree]

Clones this repository's committed HEAD (or, with --working-tree, copies the checkout's files as they
are, uncommitted changes included) into a temporary folder (with ../shared beside it, as CI has it)
and gives it an empty home, so that pip's, the Hugging Face and the ONNX caches start empty. Every
command runs as a user runs it (tests/user_env.py): HF_HUB_OFFLINE unset and the Hub endpoint a local
one that refuses and counts every request. The set-up's steps are timed one by one (pip downloads what
it needs: the package index must be reachable); then `python app.py` is started --starts times, each
time until its page answers and then the first /tag of each language, sent one after the other as soon
as the page is up (German, the default language, first: counted from the launch; the others from when
they are sent). Last, unless --skip-swap-check, the bundled models' ONNX graphs made by swapping weights
into one export are compared with a direct export of each model. Writes results/bench/fresh_setup.json.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.facts import EXAMPLE_SENTENCES, LANGUAGES, RESULTS_DIR, ZERO_SHOT_SOURCE  # noqa: E402
from core.files import write_json  # noqa: E402

APP_COMMAND = ".venv/bin/python app.py"
# Issue 24's targets on 2 cores: set-up after pip, the first /tag after launch, each further language's first /tag.
SETUP_AFTER_PIP_TARGET_S = 90.0
FIRST_TAG_TARGET_S = 20.0
FURTHER_TAG_TARGET_S = 5.0
# The default language first (what the page shows), then the others.
TAG_ORDER = (ZERO_SHOT_SOURCE, *(lang for lang in LANGUAGES if lang != ZERO_SHOT_SOURCE))
# Not a user's: they would point the clone at this checkout's environment.
NOT_IN_A_FRESH_CLONE = ("VIRTUAL_ENV", "PANX_DATA_DIR")


def setup_steps(readme: str) -> list[str]:
    """The README's first command as its steps, without the last one, `python app.py` (which is timed apart)."""
    blocks = re.findall(r"```bash\n(.*?)\n```", readme, re.DOTALL)
    if not blocks:
        raise ValueError("README.md has no ```bash block: no set-up command to run")
    steps = blocks[0].split(" && ")
    if len(steps) < 2 or steps[-1] != APP_COMMAND:
        raise ValueError(f"the README's first command should end with `&& {APP_COMMAND}`: {blocks[0]!r}")
    return steps[:-1]


def after_pip(steps: list[str]) -> list[str]:
    """The set-up steps after the packages are installed (what issue 24 times against SETUP_AFTER_PIP_TARGET_S)."""
    installs = [i for i, step in enumerate(steps) if " -m pip install " in f" {step} " or "/pip install " in step]
    if not installs:
        raise ValueError(f"the README's set-up command installs nothing with pip: {' && '.join(steps)!r}")
    return steps[installs[-1] + 1 :]


def fresh_env(home: Path, hub: Any) -> dict[str, str]:
    """A user's environment (tests/user_env.py, the Hub at hub.url) with an empty home: its own Hugging
    Face and ONNX caches."""
    from tests.user_env import user_env

    env = user_env(hub, home / ".cache" / "huggingface", HOME=str(home))
    return {k: v for k, v in env.items() if k not in NOT_IN_A_FRESH_CLONE}


def copy_working_tree(dest: Path) -> None:
    """The checkout's files as they are: tracked and untracked, git's ignored ones (caches, .venv) left out."""
    listed = (
        subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=ROOT,
            capture_output=True,
            check=True,
        )
        .stdout.decode()
        .split("\0")
    )
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file():  # a tracked file deleted in the working tree is not copied
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def first_answers(root: Path, python: str, env: dict[str, str], log: Path, timeout: float = 180.0) -> dict:
    """Start `python app.py` in `root`; seconds until its page answers, and until the first /tag of each
    language is answered (TAG_ORDER, one after the other: the first counted from the launch, the
    others from when they were sent). A /tag that reports a model error raises RuntimeError."""
    from gradio_client import Client  # imported before the launch: the client's import is not the app's time

    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    env = {**env, "GRADIO_SERVER_PORT": str(port), "GRADIO_SERVER_NAME": "127.0.0.1"}
    with log.open("wb") as output:
        started = time.perf_counter()
        app = subprocess.Popen([python, "app.py"], cwd=root, env=env, stdout=output, stderr=subprocess.STDOUT)
        try:
            page_s = _page_up(url, app, started, timeout)
            client = Client(url, verbose=False)
            tags = {}
            for lang in TAG_ORDER:
                sent = time.perf_counter()
                answer = client.predict(EXAMPLE_SENTENCES[lang], lang, api_name="/tag")
                errors = [r["error"] for r in answer["models"].values() if r["error"]]
                if errors:
                    raise RuntimeError(f"/tag in {lang} answered with errors: {errors}")
                tags[lang] = round(time.perf_counter() - (started if lang == TAG_ORDER[0] else sent), 2)
        finally:
            stop(app)
    return {"page_up_s": page_s, "first_tag_s": tags}


def stop(process: subprocess.Popen) -> None:
    """SIGTERM, then SIGKILL if the process has not ended 30 s later."""
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _page_up(url: str, app: subprocess.Popen, started: float, timeout: float) -> float:
    no_proxy = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    while time.perf_counter() - started < timeout:
        if app.poll() is not None:
            raise RuntimeError(f"app.py exited with {app.returncode} before its page answered")
        try:
            with no_proxy.open(url, timeout=1) as response:
                if response.status == 200:
                    return round(time.perf_counter() - started, 2)
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"app.py's page did not answer within {timeout:.0f} s")


def within_targets(setup_after_pip_s: float, first_tag_s: dict[str, float]) -> bool:
    first, *further = first_tag_s.values()
    return (
        setup_after_pip_s <= SETUP_AFTER_PIP_TARGET_S
        and first <= FIRST_TAG_TARGET_S
        and all(s <= FURTHER_TAG_TARGET_S for s in further)
    )


def swap_check(models_dir: Path, cache: Path) -> dict[str, float]:
    """For each model whose graph was swapped into another's export: the largest difference between its
    logits and those of a direct export of it, on random subword ids with padding."""
    import numpy as np

    os.environ["PANX_ONNX_CACHE"] = str(cache)
    from space.backends import onnx_fp32
    from space.backends._torch import load_model

    exported = []
    real_export = onnx_fp32.export
    onnx_fp32.export = lambda model, path: exported.append(path.name) or real_export(model, path)
    try:
        folders = sorted(p for p in models_dir.iterdir() if p.is_dir())
        loaded = {folder.name: onnx_fp32.load(folder) for folder in folders}
    finally:
        onnx_fp32.export = real_export
    rng = np.random.default_rng(0)
    ids = rng.integers(5, 250_000, size=(3, 40))
    mask = np.ones_like(ids)
    mask[1, 25:], mask[2, 9:] = 0, 0
    real = mask.astype(bool)
    differences = {}
    for folder in folders[1:]:  # the first model's graph is the export itself
        _, model = load_model(folder)
        direct = cache / f"direct-{folder.name}.onnx"
        onnx_fp32.export(model, direct)
        embeddings = model.get_input_embeddings().weight.detach().numpy()
        expected = onnx_fp32.session(direct).run(
            ["logits"], {"inputs_embeds": embeddings[ids], "attention_mask": mask}
        )[0]
        differences[folder.name] = float(np.abs(loaded[folder.name].logits(ids, mask)[real] - expected[real]).max())
    return {"exports_to_make_all": len(exported), "max_abs_logit_difference": differences}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--starts", type=int, default=3, help="app starts to time after set-up; the first is reported")
    parser.add_argument("--keep", action="store_true", help="keep the temporary clone (its path is printed)")
    parser.add_argument(
        "--skip-swap-check", action="store_true", help="do not compare swapped graphs with direct exports"
    )
    parser.add_argument(
        "--working-tree",
        action="store_true",
        help="copy the checkout's files as they are (untracked too, ignored ones not) instead of cloning HEAD",
    )
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / "bench" / "fresh_setup.json")
    args = parser.parse_args(argv)
    if args.starts < 1:
        parser.error(f"--starts must be at least 1, not {args.starts}")
    steps = setup_steps((ROOT / "README.md").read_text(encoding="utf-8"))
    after_pip(steps)  # refuse a README whose set-up installs nothing before timing anything
    shared = ROOT.parent / "shared"
    if not shared.is_dir():
        parser.error(f"{shared} is missing: the clone needs the shared PAN-X data beside it, as CI has it")
    from tests.user_env import UnreachableHub

    commit = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    changed = bool(
        subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    if changed and not args.working_tree:
        print(f"note: uncommitted changes are not in the clone; it measures {commit[:12]}", file=sys.stderr)
    source = (
        f"the working tree at {commit[:12]}{' with uncommitted changes' if changed else ''}"
        if args.working_tree
        else f"a clone of {commit[:12]}"
    )
    work = Path(tempfile.mkdtemp(prefix="panx-fresh-"))
    hub = UnreachableHub()
    try:
        clone, home = work / "main", work / "home"
        home.mkdir()
        if args.working_tree:
            copy_working_tree(clone)
        else:
            subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
        (work / "shared").symlink_to(shared)
        env = fresh_env(home, hub)
        step_s = {}
        with open(work / "setup.log", "w") as log:
            for step in steps:
                started = time.perf_counter()
                done = subprocess.run(["bash", "-c", step], cwd=clone, env=env, stdout=log, stderr=subprocess.STDOUT)
                step_s[step] = round(time.perf_counter() - started, 1)
                if done.returncode:
                    args.keep = True  # the log is the only account of what went wrong: never delete it
                    raise SystemExit(
                        f"set-up step {step!r} failed (exit {done.returncode}); its output: {work / 'setup.log'}"
                    )
        starts = [
            first_answers(clone, str(clone / ".venv" / "bin" / "python"), env, work / f"app-{i}.log")
            for i in range(args.starts)
        ]
        swaps = None if args.skip_swap_check else swap_check(clone / "space" / "models", work / "swap-check")
    finally:
        hub.close()
        if args.keep:
            print(f"kept: {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)
    after_pip_s = round(sum(step_s[step] for step in after_pip(steps)), 1)
    first = starts[0]
    report = {
        "command": f"python benchmarks/fresh_setup.py{' --working-tree' if args.working_tree else ''}",
        "measured": source,
        "commit": commit,
        "device": f"cpu ({os.cpu_count()} cores)",
        "environment": "a user's: HF_HUB_OFFLINE unset, the Hub endpoint unreachable (every request counted), "
        "an empty home",
        "setup_steps_s": step_s,
        "setup_s": round(sum(step_s.values()), 1),
        "setup_after_pip_s": after_pip_s,
        "page_up_s": first["page_up_s"],
        "first_tag_s": first["first_tag_s"],
        "later_starts": starts[1:],
        "targets_s": {
            "setup_after_pip": SETUP_AFTER_PIP_TARGET_S,
            "first_tag_after_launch": FIRST_TAG_TARGET_S,
            "first_tag_of_each_further_language": FURTHER_TAG_TARGET_S,
        },
        "within_targets": within_targets(after_pip_s, first["first_tag_s"]),
        "hub_requests": len(hub.requests),
        "hub_requests_seen": hub.requests[:20],
        "swapped_graphs": swaps,
    }
    write_json(args.out, report)
    print(
        f"set-up {report['setup_s']} s ({after_pip_s} s after pip); page up {first['page_up_s']} s; "
        f"first /tag {first['first_tag_s']}; Hub requests {len(hub.requests)}: {args.out}"
    )
    return report


if __name__ == "__main__":
    main()
