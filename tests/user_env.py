"""A user's environment for the journey tests: no HF_HUB_OFFLINE, a Hub that cannot be reached and that
counts every attempt to reach it, and caches of their own.

The Hub endpoint is a local server (HF_ENDPOINT) that answers every request with 503 after
recording it, so a library that asks the Hub is seen asking, quickly, instead of waiting on DNS as
it would on a machine without network.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

# Variables a user does not set (or that would point at this machine's caches).
NOT_A_USERS = (
    "HF_HUB_OFFLINE",
    "TRANSFORMERS_OFFLINE",
    "HF_DATASETS_OFFLINE",
    "HF_HOME",
    "HF_HUB_CACHE",
    "HUGGINGFACE_HUB_CACHE",
    "HF_ENDPOINT",
    "PANX_ONNX_CACHE",
    "PANX_MODELS_DIR",
    "XDG_CACHE_HOME",
    "TOKENIZERS_PARALLELISM",
    "PYTEST_CURRENT_TEST",
)


class UnreachableHub:
    """A stand-in Hub endpoint on 127.0.0.1 that refuses every request and keeps the paths asked for."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def _refuse(self) -> None:
                hub.requests.append(f"{self.command} {self.path}")
                self.send_response(503)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_GET = do_HEAD = do_POST = do_PUT = _refuse

            def log_message(self, *args) -> None:  # quiet
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def user_env(hub: UnreachableHub, hf_home: Path, **extra: str) -> dict[str, str]:
    """os.environ as a user's shell has it: none of NOT_A_USERS, the Hub at `hub` and the Hugging Face
    cache at hf_home (empty but for the built base)."""
    env = {k: v for k, v in os.environ.items() if k not in NOT_A_USERS}
    return {**env, "HF_ENDPOINT": hub.url, "HF_HOME": str(hf_home), **extra}


def train_as_a_user(hub: UnreachableHub, hf_home: Path, data_dir: Path, out: Path, *args: str) -> str:
    """`python -m training.train ARGS --output-dir OUT` from the repository root in a user's environment;
    fails unless it finishes asking the Hub nothing. Returns its stderr."""
    from core.facts import REPO_ROOT

    asked = len(hub.requests)
    done = subprocess.run(
        [sys.executable, "-m", "training.train", *args, "--output-dir", str(out)],
        cwd=REPO_ROOT,
        env=user_env(hub, hf_home, PANX_DATA_DIR=str(data_dir)),
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert hub.requests[asked:] == []
    return done.stderr
