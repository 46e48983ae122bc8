"""How the Space is served: what it accepts, how much at once, and what it refuses.

    queue       requests that run models share CONCURRENCY slots (one per core of a basic Space);
                at most QUEUE_SIZE wait, later ones are refused ("queue full") instead of piling up
    bodies      a request body over MAX_REQUEST_BYTES is refused (413): room for a 1 MB text in
                any script; the text itself is cut to compare.MAX_CHARS before tagging
    uploads     the app takes no files: every multipart request (gradio's /gradio_api/upload and
                the like) is refused (413), and gradio's own max_file_size is 0 besides
    files       gradio serves only its own assets, its cache and the study's plots (views.results_tab);
                nothing else of the server's disk (allowed_paths stays empty)

So memory is bounded by QUEUE_SIZE x MAX_REQUEST_BYTES of waiting requests plus the loaded models.
"""

from __future__ import annotations

import os
from typing import Any

import gradio as gr
from starlette.middleware import Middleware

from core.facts import ZERO_SHOT_SOURCE
from space.backends import set_threads
from space.registry import default_models

# Model-running events share this concurrency group; two at a time on two cores (see THREADS_ENV).
CONCURRENCY_ID = "models"
CONCURRENCY = 2
QUEUE_SIZE = 64
MAX_REQUEST_BYTES = 4 * 2**20
# Intra-op threads per forward pass (launch() sets it). Measured on 2 busy cores: 1 thread ~2 ms
# per sentence for a small model, 2 threads 80-250 ms as the threads wait on each other; parallel
# requests use the cores better than threads inside one small forward pass.
THREADS_ENV = "PANX_THREADS"


class RequestLimits:
    """ASGI middleware: refuses multipart bodies (file uploads) and bodies over max_bytes with 413."""

    def __init__(self, app: Any, max_bytes: int = MAX_REQUEST_BYTES):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        too_large = f"Request bodies are limited to {self.max_bytes:,} bytes."
        if headers.get(b"content-type", b"").lower().startswith(b"multipart/"):
            return await _refuse(send, "This Space takes no file uploads.")
        length = headers.get(b"content-length")
        if length is not None:  # the server holds the client to it
            if not length.isdigit() or int(length) > self.max_bytes:
                return await _refuse(send, too_large)
            return await self.app(scope, receive, send)
        if scope["method"] in ("GET", "HEAD", "OPTIONS"):
            return await self.app(scope, receive, send)
        # A chunked body says no length: read it here, up to the limit, then hand it on.
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            body += message.get("body", b"")
            if len(body) > self.max_bytes:
                return await _refuse(send, too_large)
            if not message.get("more_body", False):
                break
        handed = False

        async def replay() -> dict:
            nonlocal handed
            if handed:
                return await receive()
            handed = True
            return {"type": "http.request", "body": bytes(body), "more_body": False}

        return await self.app(scope, replay, send)


async def _refuse(send: Any, message: str) -> None:
    body = message.encode("utf-8")
    headers = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 413, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def launch(demo: gr.Blocks, **kwargs: Any) -> Any:
    """Serve the demo as the Space does (GRADIO_SERVER_PORT, default 7860; GRADIO_SERVER_NAME). The
    bundled models load in the background as soon as the server answers, the default language's first,
    so that the first visitor finds them loaded (or, on a Hugging Face Space, where no set-up step made
    their ONNX graphs, being made) instead of waiting for them."""
    from space.views import CSS

    set_threads(int(os.environ.get(THREADS_ENV, "1")))
    settings: dict[str, Any] = {
        "css": CSS,
        "max_file_size": 0,
        # Fewer doors: no /monitoring, no MCP server, no run history (which can write to Hub buckets).
        "enable_monitoring": False,
        "mcp_server": False,
        "run_history": False,
        "app_kwargs": {"middleware": [Middleware(RequestLimits)]},
    }
    block = not kwargs.get("prevent_thread_lock", False)
    # gradio's launch() checks that the server answers, with a 3 s timeout and no retry after one: a
    # warm-up exporting ONNX graphs beside it on two busy cores can miss that and fail the start
    # ("When localhost is not accessible..."). So the warm-up starts once launch() has returned.
    served = demo.launch(**(settings | kwargs | {"prevent_thread_lock": True}))
    registry = getattr(demo, "registry", None)
    if registry is not None:
        registry.warm_up(first=default_models(ZERO_SHOT_SOURCE))
    if block:
        demo.block_thread()
    return served
