"""What the server accepts, and the two guards that enforce it before any model runs.

* :class:`Limits`: upload size, pixels, audio duration, table size, concurrent jobs.
* :class:`BodyLimit`: a pure-ASGI middleware that refuses a request body over the upload
  limit with 413, from its ``Content-Length`` or while it streams in, before the
  application (or the multipart parser) sees a byte of it.
* :class:`JobGate`: at most ``max_concurrent`` model jobs at once; one more is refused
  at once (503 with ``Retry-After``) rather than queued, so a burst cannot pile up
  memory and latency behind the workers. Each job runs in a worker thread for at most
  ``job_timeout_s`` and is stopped when its client disconnects (:class:`Job`).

A Python thread cannot be killed, so a job stops itself: every PyTorch module call in a
job's thread first checks whether that job should stop (:func:`install_stop_check`), and
raises :class:`JobStopped` if so. Every model the server runs (a denoiser's tiles, a
speech model, a detector's training steps and scoring) goes through module calls, so a
stopped job ends within one layer's work, and its slot is freed only then: the count of
running jobs is always the count of threads doing model work.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any, TypeVar

__all__ = ["Limits", "BodyLimit", "JobGate", "Job", "JobStopped", "Busy", "ClientError", "install_stop_check"]

log = logging.getLogger("daekit.serve")
T = TypeVar("T")

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
        max_fit_values: most input values a fit-mode anomaly request may train on
            (members × steps × samples per step × values per sample, a sample being a
            row or a window of ``window × columns`` values): this bounds its time before
            it starts (the default is about 10 s of training on two CPU cores).
        job_timeout_s: longest a model job may run; a job past it is stopped and its
            request answered 504.
        max_concurrent: model jobs running at once; beyond it requests get 503.
        retry_after_s: the ``Retry-After`` a refused request is told.
    """

    max_upload_mb: float = 20.0
    max_pixels: int = 4096 * 4096
    max_audio_seconds: float = 300.0
    max_rows: int = 100_000
    max_features: int = 1024
    max_window_values: int = 20_000_000
    max_fit_values: int = 200_000_000
    job_timeout_s: float = 60.0
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


class JobStopped(Exception):
    """Raised in a job's worker thread once the job is stopped; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Job:
    """One model job: its deadline and the flag that stops it.

    The event loop calls :meth:`stop` (the client left, the time is up); the worker
    thread, inside :meth:`run`, finds out at its next module call (:func:`stop_if_asked`).
    The worker also checks the deadline itself, so a job stops on time even when the
    event loop is slow to notice.
    """

    TIMEOUT = "timeout"
    CLIENT_GONE = "client gone"

    def __init__(self, timeout_s: float) -> None:
        self.deadline = time.monotonic() + timeout_s
        self.reason: str | None = None
        self._stop = threading.Event()

    def stop(self, reason: str) -> None:
        if self.reason is None:
            self.reason = reason
        self._stop.set()

    def should_stop(self) -> bool:
        if not self._stop.is_set() and time.monotonic() > self.deadline:
            self.stop(Job.TIMEOUT)
        return self._stop.is_set()

    def run(self, work: Callable[[], T]) -> T:
        """Call ``work`` in this thread as this job (what :func:`stop_if_asked` checks)."""
        _current.job = self
        try:
            return work()
        finally:
            _current.job = None  # worker threads are reused for other work


# The job each worker thread is running, if any. Thread-local: two jobs run at once in two
# threads through the same model objects, and each must see only its own flag.
_current = threading.local()


def stop_if_asked() -> None:
    """Raise :class:`JobStopped` in a worker thread whose job should stop; elsewhere, nothing."""
    job: Job | None = getattr(_current, "job", None)
    if job is not None and job.should_stop():
        raise JobStopped(job.reason or Job.TIMEOUT)


_hook_lock = threading.Lock()
_hook_installed = False


def install_stop_check() -> None:
    """Make every PyTorch module call check :func:`stop_if_asked` first (once per process).

    A global forward pre-hook rather than a hook per model: fit mode builds its networks
    inside ``DAEDetector.fit``, and the apps wrap their networks in ways (a colour view of
    a gray denoiser, ensemble members) the server should not have to know. Outside a
    job's thread the check is one thread-local lookup per module call.
    """
    global _hook_installed
    import torch

    with _hook_lock:
        if not _hook_installed:
            torch.nn.modules.module.register_module_forward_pre_hook(_stop_check_hook)
            _hook_installed = True


def _stop_check_hook(module: Any, args: Any) -> None:
    stop_if_asked()


class JobGate:
    """At most ``max_concurrent`` jobs: ``await gate.run(work, receive, to_thread)``, or :class:`Busy`.

    ``slot()`` takes a slot for the length of a ``with`` block (tests use it to fill the gate).
    """

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self._lock = threading.Lock()
        self.running = 0

    def _take(self) -> None:
        with self._lock:
            if self.running >= self.limits.max_concurrent:
                raise Busy(self.limits)
            self.running += 1

    def _give_back(self) -> None:
        with self._lock:
            self.running -= 1

    @contextmanager
    def slot(self) -> Iterator[None]:
        self._take()
        try:
            yield
        finally:
            self._give_back()

    async def run(
        self, work: Callable[[], T], receive: Receive, to_thread: Callable[..., Awaitable[T]]
    ) -> tuple[T, float]:
        """Run ``work`` in a worker thread under a slot; ``(its result, seconds)``.

        Raises what ``work`` raises, :class:`Busy` when no slot is free, and
        :class:`JobStopped` when the job ran past ``job_timeout_s`` or the client went
        away (``receive`` gave ``http.disconnect``). Either way the answer goes out at once,
        and the slot stays taken until the worker has actually stopped.
        """
        self._take()
        job = Job(self.limits.job_timeout_s)
        t0 = time.perf_counter()
        try:
            worker = asyncio.ensure_future(to_thread(job.run, work))
        except BaseException:
            self._give_back()
            raise
        # Registered before anything awaits the worker, so the slot is free by the time
        # the request that ran it answers.
        worker.add_done_callback(self._worker_done)
        watcher = asyncio.ensure_future(_client_gone(receive))
        try:
            done, _ = await asyncio.wait(
                {worker, watcher}, timeout=self.limits.job_timeout_s, return_when=asyncio.FIRST_COMPLETED
            )
        except BaseException:  # the request itself was cancelled (server shutting down)
            job.stop(Job.CLIENT_GONE)
            raise
        finally:
            watcher.cancel()
        if worker not in done:
            job.stop(Job.CLIENT_GONE if watcher in done else Job.TIMEOUT)
            log.warning(
                "job stopped (%s) after %.1f s; its slot frees when its worker stops",
                job.reason,
                time.perf_counter() - t0,
            )
            raise JobStopped(job.reason or Job.TIMEOUT)
        return worker.result(), time.perf_counter() - t0

    def _worker_done(self, worker: asyncio.Future[Any]) -> None:
        self._give_back()
        if not worker.cancelled():
            worker.exception()  # marks it retrieved: a stopped job's error is expected, not news


async def _client_gone(receive: Receive) -> None:
    """Return when the client disconnects (the request body has already been read)."""
    while (await receive())["type"] != "http.disconnect":
        await asyncio.sleep(0.05)  # another message after the body: not expected, but never spin on it


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
