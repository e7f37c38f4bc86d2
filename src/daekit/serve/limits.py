"""What the server accepts, and the two guards that enforce it before any model runs.

* :class:`Limits`: upload size, pixels, audio duration, table size, concurrent jobs.
* :class:`BodyLimit`: a pure-ASGI middleware that refuses a request body over the upload
  limit with 413, from its ``Content-Length`` or while it streams in, before the
  application (or the multipart parser) sees a byte of it.
* :class:`JobGate`: at most ``max_concurrent`` model jobs at once; one more is refused
  at once (503 with ``Retry-After``) rather than queued, so a burst cannot pile up
  memory and latency behind the workers.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["Limits", "BodyLimit", "JobGate", "Busy", "ClientError"]

# The ASGI callables, spelled out (starlette.types holds the same, but starlette is optional).
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


@dataclass(frozen=True)
class Limits:
    """Bounds on what one request may ask of the server.

    Args:
        max_upload_mb: largest request body, in MB (10^6 bytes).
        max_pixels: largest image (width × height), checked from the header before decoding.
        max_audio_seconds: longest recording, checked from the header and again while reading.
        max_rows: most rows (or time steps) in one anomaly request.
        max_features: most columns in one anomaly request.
        max_window_values: most values a series request may unfold into (rows × window ×
            columns): sliding windows are materialised, so this bounds their memory.
        max_concurrent: model jobs running at once; beyond it requests get 503.
        retry_after_s: the ``Retry-After`` a refused request is told.
    """

    max_upload_mb: float = 20.0
    max_pixels: int = 4096 * 4096
    max_audio_seconds: float = 300.0
    max_rows: int = 100_000
    max_features: int = 1024
    max_window_values: int = 20_000_000
    max_concurrent: int = 2
    retry_after_s: int = 1

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if not value > 0:
                raise ValueError(f"the serve limit {name}={value!r} must be positive.")

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1_000_000)


class ClientError(Exception):
    """A request the server refuses: an HTTP status and one sentence saying why."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.headers = status, message, dict(headers or {})


class Busy(ClientError):
    """All job slots are taken."""

    def __init__(self, limits: Limits) -> None:
        super().__init__(
            503,
            f"the server is busy: {limits.max_concurrent} job(s) are already running; "
            f"retry in {limits.retry_after_s} s.",
            {"Retry-After": str(limits.retry_after_s)},
        )


class JobGate:
    """A non-blocking counting semaphore: ``with gate.slot(): ...`` or :class:`Busy`."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self._lock = threading.Lock()
        self.running = 0

    @contextmanager
    def slot(self) -> Iterator[None]:
        with self._lock:
            if self.running >= self.limits.max_concurrent:
                raise Busy(self.limits)
            self.running += 1
        try:
            yield
        finally:
            with self._lock:
                self.running -= 1


class BodyLimit:
    """ASGI middleware: refuse request bodies over ``max_bytes`` with 413 and a JSON message.

    The body is read here, counted as it arrives, and handed on in one piece, so the
    application never parses (or spools to disk) more than the limit.
    """

    # create_app sets these to the wrapped FastAPI app and its state, so that tests and the
    # CLI reach the registry through either object.
    state: Any
    fastapi: Any

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH"):
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None:
            try:
                if int(declared) > self.max_bytes:
                    return await self._refuse(send, int(declared))
            except ValueError:
                return await _send_json(send, 400, {"detail": "the Content-Length header is not a number."})
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                return await self._refuse(send, None)
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if delivered:
                return await receive()  # only a disconnect can follow
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}

        return await self.app(scope, replay, send)

    async def _refuse(self, send: Send, declared: int | None) -> None:
        mb = self.max_bytes / 1e6
        said = f" ({declared / 1e6:.1f} MB)" if declared is not None else ""
        await _send_json(send, 413, {"detail": f"the upload{said} is over the limit of {mb:g} MB."})


async def _send_json(send: Send, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None) -> None:
    body = json.dumps(payload).encode()
    raw = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]
    raw += [(k.lower().encode(), str(v).encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})
