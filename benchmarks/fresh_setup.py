"""The README's set-up command on a fresh clone, then how soon the Space answers: the user's first start.

    python benchmarks/fresh_setup.py [--starts 3] [--keep]

Clones this repository's committed HEAD into a temporary folder (with ../shared beside it, as CI has
it), gives it an empty home (so the Hugging Face cache, the converted e5-small base and the ONNX graph
cache all start empty), runs the README's first command up to `python app.py`, then times `python
app.py` until it answers HTTP, --starts times. The first of these is what a new user waits for after
set-up; benchmarks/space_latency.py times starts on an already set-up checkout. pip downloads what it
needs (the package index must be reachable). Writes results/bench/fresh_setup.json.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.space_latency import cold_start_s  # noqa: E402
from core.facts import RESULTS_DIR  # noqa: E402
from core.files import write_json  # noqa: E402

APP_COMMAND = ".venv/bin/python app.py"
READY_TARGET_S = 10.0
# Variables that would point the fresh clone at this machine's caches instead of its own empty home.
CACHE_VARIABLES = ("HF_HOME", "HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "XDG_CACHE_HOME", "PANX_ONNX_CACHE",
                   "PANX_DATA_DIR", "VIRTUAL_ENV")


def setup_command(readme: str) -> str:
    """The README's first command without its last step, `python app.py` (which this script times)."""
    blocks = re.findall(r"```bash\n(.*?)\n```", readme, re.DOTALL)
    if not blocks:
        raise ValueError("README.md has no ```bash block: no set-up command to run")
    steps = blocks[0].split(" && ")
    if len(steps) < 2 or steps[-1] != APP_COMMAND:
        raise ValueError(f"the README's first command should end with `&& {APP_COMMAND}`: {blocks[0]!r}")
    return " && ".join(steps[:-1])


def fresh_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in CACHE_VARIABLES}
    return {**env, "HOME": str(home), "HF_HUB_OFFLINE": "1"}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--starts", type=int, default=3, help="app starts to time after set-up; the first is reported")
    parser.add_argument("--keep", action="store_true", help="keep the temporary clone (its path is printed)")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / "bench" / "fresh_setup.json")
    args = parser.parse_args(argv)
    if args.starts < 1:
        parser.error(f"--starts must be at least 1, not {args.starts}")
    command = setup_command((ROOT / "README.md").read_text(encoding="utf-8"))
    shared = ROOT.parent / "shared"
    if not shared.is_dir():
        parser.error(f"{shared} is missing: the clone needs the shared PAN-X data beside it, as CI has it")
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
    if subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT, capture_output=True,
                      text=True, check=True).stdout.strip():
        print(f"note: uncommitted changes are not in the clone; it measures {commit[:12]}", file=sys.stderr)
    work = Path(tempfile.mkdtemp(prefix="panx-fresh-"))
    try:
        clone, home = work / "main", work / "home"
        home.mkdir()
        subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
        (work / "shared").symlink_to(shared)
        env = fresh_env(home)
        started = time.perf_counter()
        with open(work / "setup.log", "w") as log:
            done = subprocess.run(["bash", "-c", command], cwd=clone, env=env, stdout=log, stderr=subprocess.STDOUT)
        setup_s = round(time.perf_counter() - started, 1)
        if done.returncode:
            args.keep = True  # the log is the only account of what went wrong: never delete it
            raise SystemExit(f"set-up failed (exit {done.returncode}); its output: {work / 'setup.log'}")
        starts = [cold_start_s(clone, str(clone / ".venv" / "bin" / "python"), env) for _ in range(args.starts)]
    finally:
        if args.keep:
            print(f"kept: {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)
    report = {"command": "python benchmarks/fresh_setup.py", "commit": commit, "setup_command": command,
              "device": f"cpu ({os.cpu_count()} cores)", "setup_s": setup_s, "first_start_s": starts[0],
              "start_runs_s": starts, "ready_target_s": READY_TARGET_S, "ready_within_target": starts[0] <= READY_TARGET_S}
    write_json(args.out, report)
    print(f"set-up {setup_s} s; first start {starts[0]} s (runs {starts}): {args.out}")
    return report


if __name__ == "__main__":
    main()
