"""The FastAPI application: ``create_app(models, limits)``.

Everything from FastAPI is imported inside :func:`create_app` (daekit's import rule for
optional packages), and this file deliberately has no ``from __future__ import
annotations``: FastAPI reads the endpoint signatures at definition time, and the names
in them are local to the factory.

Each model endpoint follows the same steps: check the declared type, pick the model (503
when none of that kind is loaded, 404 for an unknown name), take a job slot (503 with
``Retry-After`` when all are busy), then decode, run and encode in a worker thread so
``/healthz`` keeps answering while models run. A job past ``job_timeout_s`` is stopped
and answered 504; a job whose client disconnects is stopped too (see
:mod:`daekit.serve.limits`).
"""

import logging
from importlib import resources
from typing import Any

import numpy as np

# Query bounds come from daekit.checks: the server refuses what the CLI and the API refuse.
from .. import checks
from .decode import (
    AUDIO_TYPES,
    IMAGE_TYPES,
    TABLE_TYPES,
    check_declared_type,
    decode_audio,
    decode_image,
    encode_png,
    encode_wav,
    parse_table,
)
from .limits import BodyLimit, ClientError, Job, JobGate, JobStopped, Limits, install_stop_check
from .registry import ModelRegistry

__all__ = ["create_app"]

log = logging.getLogger("daekit.serve")
STATIC = {
    "/": ("page.html", "text/html"),
    "/page.js": ("page.js", "text/javascript"),
    "/page.css": ("page.css", "text/css"),
    "/docs": ("docs.html", "text/html"),
    "/docs.js": ("docs.js", "text/javascript"),
    # Browsers ask for /favicon.ico unless a page links an icon; both names serve the SVG.
    "/favicon.svg": ("favicon.svg", "image/svg+xml"),
    "/favicon.ico": ("favicon.svg", "image/svg+xml"),
}
#: The browser itself refuses anything from elsewhere (and inline scripts): the page is
#: offline by construction, not only by care.
PAGE_HEADERS = {
    "Cache-Control": "no-cache",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'self'; img-src 'self' blob:; media-src 'self' blob:; "
    "connect-src 'self' blob:; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'none'",
}


def _static(name: str) -> bytes:
    return resources.files(__package__).joinpath(name).read_bytes()


def create_app(models=None, limits=None):
    """Build the HTTP application over the given model folders.

    Args:
        models: ``{name: model folder}``; each folder's class decides its endpoint
            (``ImageDenoiser``, ``SpeechEnhancer``, ``DAEDetector``). Loaded once, here.
        limits: a :class:`~daekit.serve.limits.Limits` (defaults when None).

    Returns:
        An ASGI application (FastAPI wrapped in the upload-size guard); ``app.state``
        of the inner FastAPI object holds ``registry``, ``limits`` and ``gate``.

    Example:
        >>> app = create_app({"gray": "src/daekit/pretrained/gray"})   # doctest: +SKIP
        >>> import uvicorn; uvicorn.run(app, port=8000)                 # doctest: +SKIP
    """
    try:
        from fastapi import FastAPI, File, Query, Request, UploadFile
        from fastapi.exceptions import RequestValidationError
        from fastapi.responses import JSONResponse, Response
        from starlette.concurrency import run_in_threadpool
        from starlette.exceptions import HTTPException
    except ImportError:
        raise ImportError("daekit serve needs the serve extra: pip install 'daekit[serve]'.") from None
    from .. import __version__

    limits = limits or Limits()
    registry = ModelRegistry(dict(models or {}))
    gate = JobGate(limits)
    install_stop_check()
    api = FastAPI(
        title="daekit serve",
        version=__version__,
        docs_url=None,
        redoc_url=None,
        description="Denoise images and recordings, score anomalies in tables and series, with "
        "denoising autoencoders. Uploads are multipart form fields named 'file'.",
    )
    api.state.registry, api.state.limits, api.state.gate = registry, limits, gate

    @api.exception_handler(ClientError)
    async def client_error(request, exc: ClientError):
        return JSONResponse({"detail": exc.message}, status_code=exc.status, headers=exc.headers)

    @api.exception_handler(HTTPException)
    async def http_error(request, exc: HTTPException):
        # The framework's own answers ("Not Found", "Method Not Allowed") say neither what
        # was asked nor what would work.
        path = request.url.path[:80]
        if exc.status_code == 404:
            detail = f"there is nothing at {path}; the page is at /, the API is listed at /docs."
        elif exc.status_code == 405:
            # Starlette builds Allow from a set: sorted, the sentence is the same on every run.
            methods = sorted(m.strip() for m in (exc.headers or {}).get("Allow", "").split(",") if m.strip())
            allowed = ", ".join(methods) or "another method"
            detail = f"{path} does not take {request.method}; it takes {allowed}."
        else:
            detail = str(exc.detail).rstrip(".") + "."
        return JSONResponse({"detail": detail}, status_code=exc.status_code, headers=exc.headers)

    @api.exception_handler(RequestValidationError)
    async def invalid_request(request, exc: RequestValidationError):
        # FastAPI's own answer is a list of objects; clients of this API get one sentence.
        parts = [
            f"{'.'.join(str(x) for x in e.get('loc', ())[1:]) or 'request'}: {e.get('msg', 'invalid')}"
            for e in exc.errors()
        ]
        return JSONResponse({"detail": "; ".join(parts).rstrip(".") + "."}, status_code=422)

    @api.exception_handler(Exception)
    async def server_error(request, exc: Exception):
        # A bug or a resource failure inside a model: say so in one sentence, log the
        # traceback for the operator, keep serving.
        log.exception("request %s %s failed", request.method, request.url.path)
        return JSONResponse(
            {
                "detail": f"the server failed on this request ({type(exc).__name__}); "
                "the failure is logged and the server keeps serving."
            },
            status_code=500,
        )

    def pick(kind: str, name, describe: str):
        loaded = registry.of_kind(kind)
        if not loaded:
            raise ClientError(
                503, f"no {describe} model is loaded on this server: {registry.describe()['endpoints'][kind]}."
            )
        if name is None:
            return loaded
        match = [m for m in loaded if m.name == name]
        if not match:
            raise ClientError(
                404, f"there is no {describe} model named {name[:60]!r}; loaded: {', '.join(m.name for m in loaded)}."
            )
        return match

    async def run_job(request, work):
        """Run ``work`` in a worker thread under a job slot, for at most the job time limit
        and only while the client waits; app errors become 400."""
        try:
            return await gate.run(work, request.receive, run_in_threadpool)
        except ClientError:
            raise
        except JobStopped as e:
            if e.reason == Job.CLIENT_GONE:  # nobody reads this answer; the access log does
                raise ClientError(499, "the client closed the connection, so its job was stopped.") from None
            raise ClientError(
                504,
                f"the job ran past this server's time limit of {limits.job_timeout_s:g} s and was stopped; "
                "send a smaller input (fewer pixels, a shorter recording, fewer rows or a shorter window).",
            ) from None
        except ValueError as e:  # the apps' one-sentence errors about the input
            raise ClientError(400, str(e)) from None

    # -- pages and facts --------------------------------------------------------------

    for route, (filename, media) in STATIC.items():

        def page(filename=filename, media=media):
            return Response(_static(filename), media_type=media, headers=PAGE_HEADERS)

        api.add_api_route(route, page, methods=["GET", "HEAD"], include_in_schema=False)

    @api.get("/healthz", summary="liveness: the server answers and how busy it is")
    async def healthz():  # on the event loop: answers even while every worker thread is busy
        return {
            "status": "ok",
            "models": len(registry.models),
            "jobs_running": gate.running,
            "max_concurrent": limits.max_concurrent,
        }

    @api.get("/v1/models", summary="the loaded models, which endpoints are ready, and the limits")
    async def list_models():
        return {
            **registry.describe(),
            "limits": {
                "max_upload_mb": limits.max_upload_mb,
                "max_pixels": limits.max_pixels,
                "max_audio_seconds": limits.max_audio_seconds,
                "max_rows": limits.max_rows,
                "max_features": limits.max_features,
                "max_window_values": limits.max_window_values,
                "max_fit_values": limits.max_fit_values,
                "job_timeout_s": limits.job_timeout_s,
                "max_concurrent": limits.max_concurrent,
            },
        }

    # -- images -----------------------------------------------------------------------

    @api.post(
        "/v1/image/denoise",
        response_class=Response,
        summary="denoise an image; PNG out",
        responses={200: {"content": {"image/png": {}}, "description": "the denoised image (PNG)"}, **_ERRORS},
    )
    async def image_denoise(
        request: Request,
        file: UploadFile = File(..., description="PNG, JPEG, BMP, TIFF or WebP image"),
        sigma: float = Query(
            None,
            ge=checks.SIGMA_255.low,
            le=checks.SIGMA_255.high,
            allow_inf_nan=False,
            description="noise std on the 0-255 scale, if known (else estimated from the image)",
        ),
        model: str = Query(
            None,
            max_length=64,
            description="model name from /v1/models "
            "(default: 'photo' for colour images when loaded, else the one matching the image's colour)",
        ),
        strength: float = Query(
            1.0,
            ge=checks.PROBABILITY.low,
            le=checks.PROBABILITY.high,
            allow_inf_nan=False,
            description="how much of the denoising to apply, 0-1 (output = strength x denoised + rest x input)",
        ),
    ):
        check_declared_type(file.content_type, IMAGE_TYPES, "an image")
        candidates = pick("image", model, "image")
        data = await file.read()

        def work():
            from ..apps.image import PHOTO_MODEL

            arr = decode_image(data, limits)
            colour = arr.ndim == 3 and arr.shape[2] >= 3
            fits = [m for m in candidates if (m.facts["channels"] == 3) == colour] or candidates
            # Colour images go to the real-photo model when one by that name is loaded.
            chosen = next((m for m in fits if colour and m.name == PHOTO_MODEL), fits[0])
            return encode_png(chosen.model(arr, sigma=sigma, strength=strength)), chosen.name, arr.shape

        (png, name, shape), seconds = await run_job(request, work)
        return Response(
            png,
            media_type="image/png",
            headers={
                "X-Daekit-Model": name,
                "X-Daekit-Seconds": f"{seconds:.3f}",
                "Content-Disposition": 'inline; filename="denoised.png"',
            },
        )

    @api.post(
        "/v1/image/preview",
        response_class=Response,
        summary="the uploaded image as the server reads it, as PNG (for the page: browsers cannot show TIFF)",
        responses={200: {"content": {"image/png": {}}, "description": "the upload, decoded and re-encoded"}, **_ERRORS},
    )
    async def image_preview(
        request: Request, file: UploadFile = File(..., description="PNG, JPEG, BMP, TIFF or WebP image")
    ):
        check_declared_type(file.content_type, IMAGE_TYPES, "an image")
        data = await file.read()
        png, _ = await run_job(request, lambda: encode_png(decode_image(data, limits)))
        return Response(png, media_type="image/png", headers={"Content-Disposition": 'inline; filename="input.png"'})

    # -- audio ------------------------------------------------------------------------

    @api.post(
        "/v1/audio/denoise",
        response_class=Response,
        summary="remove noise from speech; WAV out",
        responses={
            200: {
                "content": {"audio/wav": {}},
                "description": "the enhanced recording (16-bit WAV, same rate, channels and length)",
            },
            **_ERRORS,
        },
    )
    async def audio_denoise(
        request: Request,
        file: UploadFile = File(..., description="WAV, FLAC or OGG recording"),
        model: str = Query(None, max_length=64, description="model name from /v1/models"),
    ):
        check_declared_type(file.content_type, AUDIO_TYPES, "a recording")
        candidates = pick("audio", model, "speech")
        # Unless asked: the model with the widest band (a 16 kHz model beats the 8 kHz ones on
        # wide-band speech, README), then one that looks ahead, since an upload is a whole recording.
        chosen = max(candidates, key=lambda m: (m.model.sample_rate, not m.model.causal))
        data = await file.read()

        def work():
            wave, sr = decode_audio(data, limits)
            y = chosen.model(wave, sample_rate=sr)
            return encode_wav(y, sr), wave.shape[1] / sr

        (wav, seconds_audio), seconds = await run_job(request, work)
        return Response(
            wav,
            media_type="audio/wav",
            headers={
                "X-Daekit-Model": chosen.name,
                "X-Daekit-Seconds": f"{seconds:.3f}",
                "X-Daekit-Audio-Seconds": f"{seconds_audio:.3f}",
                "Content-Disposition": 'inline; filename="denoised.wav"',
            },
        )

    # -- anomalies ----------------------------------------------------------------------

    @api.post(
        "/v1/anomaly/score",
        summary="anomaly scores and flags for the rows of a table or series",
        openapi_extra={"requestBody": _TABLE_BODY},
        responses=_ERRORS,
    )
    async def anomaly_score(
        request: Request,
        model: str = Query(None, max_length=64, description="detector name from /v1/models"),
        fit: bool = Query(
            False, description="fit a fresh detector on the uploaded rows and score them (no loaded detector needed)"
        ),
        contamination: float = Query(
            0.05,
            gt=checks.CONTAMINATION.low,
            le=checks.CONTAMINATION.high,
            allow_inf_nan=False,
            description="expected share of anomalies (fit mode)",
        ),
        window: int = Query(
            None,
            ge=checks.WINDOW.low,
            le=4096,
            description="window length for a series (fit mode); none: rows are independent samples",
        ),
    ):
        data, kind = await _read_table_upload(request)
        chosen = None if fit else pick("anomaly", model, "anomaly")[0]

        def work():
            X, columns, index = parse_table(data, kind, limits)
            span = window if chosen is None else chosen.model.window
            if span and X.shape[0] * X.shape[1] * span > limits.max_window_values:
                raise ClientError(
                    413,
                    f"{X.shape[0]:,} rows × {X.shape[1]} columns in windows of {span} make "
                    f"{X.shape[0] * X.shape[1] * span:,} values, over the limit of "
                    f"{limits.max_window_values:,}; send fewer rows or a shorter window.",
                )
            if chosen is None:
                return _fit_and_score(X, contamination, window, limits) + (X, columns, index)
            det = chosen.model
            X = _match_columns(X, columns, det)
            scores = det.decision_function(X)
            return scores, float(det.threshold_), X, columns, index

        (scores, threshold, X, columns, index), seconds = await run_job(request, work)
        flags = scores > threshold
        return {
            "model": None if chosen is None else chosen.name,
            "mode": "fit" if chosen is None else "model",
            "n_rows": int(len(scores)),
            "columns": columns,
            "index": index,
            "values": np.round(X[:, 0], 6).tolist(),
            "scores": np.round(scores, 6).tolist(),
            "flags": flags.astype(int).tolist(),
            "threshold": round(threshold, 6),
            "n_flagged": int(flags.sum()),
            "seconds": round(seconds, 3),
        }

    async def _read_table_upload(request):
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype == "multipart/form-data":
            form = await request.form(max_files=1, max_fields=4)
            upload = form.get("file")
            if upload is None or isinstance(upload, str):
                raise ClientError(400, "the form has no file field named 'file'.")
            check_declared_type(upload.content_type, TABLE_TYPES, "a table")
            name = (upload.filename or "").lower()
            return await upload.read(), (
                "json" if name.endswith(".json") or upload.content_type == "application/json" else "csv"
            )
        check_declared_type(ctype, TABLE_TYPES, "a table")
        return await request.body(), ("json" if ctype == "application/json" else "csv")

    wrapped = BodyLimit(api, limits.max_upload_bytes)
    wrapped.state = api.state  # tests and the CLI reach the registry through either object
    wrapped.fastapi = api
    return wrapped


def _fit_and_score(X, contamination, window, limits):
    from ..apps.anomaly import DAEDetector

    det = DAEDetector(contamination=contamination, window=window, random_state=0)
    _check_fit_cost(det, X, limits)
    det.fit(X)
    return det.decision_scores_, float(det.threshold_)


def _check_fit_cost(det, X, limits):
    """Refuse a fit whose training would pass more than ``max_fit_values`` input values
    through the networks, before it starts (413)."""
    rows, cols = X.shape
    window = det.window or 1
    samples = rows - window + 1  # stride 1: one window ending at every step from the first full one
    if samples < 1:
        return  # the detector's own sentence says the series is shorter than one window
    steps = det._train_steps(samples)  # the detector's own rule for how long it trains
    batch = min(det.batch_size, samples)
    values = det.n_estimators * steps * batch * cols * window
    if values > limits.max_fit_values:
        shape = f"{rows:,} rows × {cols} column(s)" + (f" in windows of {window}" if det.window else "")
        raise ClientError(
            413,
            f"fitting on {shape} trains {det.n_estimators} networks for {steps} steps of {batch} × "
            f"{cols * window:,} values, {values:,} values in all, over this server's fit limit of "
            f"{limits.max_fit_values:,}; send a shorter window, fewer columns or fewer rows, or fit offline "
            "with 'daekit anomaly fit' and serve the folder with --model.",
        )


def _match_columns(X, columns, det):
    """Reorder the upload's columns to the detector's by name when both have names."""
    names = list(getattr(det, "feature_names_", []) or [])
    if names and not all(c.startswith("x") and c[1:].isdigit() for c in columns):
        missing = [n for n in names if n not in columns]
        if missing:
            raise ClientError(
                400, f"the table lacks the column(s) {', '.join(missing[:5])} the detector was fitted on."
            )
        return X[:, [columns.index(n) for n in names]]
    if X.shape[1] != det.n_features_in_:
        raise ClientError(
            400, f"the table has {X.shape[1]} columns but the detector was fitted on {det.n_features_in_}."
        )
    return X


_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"description": text, "content": {"application/json": {"example": {"detail": "one sentence"}}}}
    for code, text in [
        (400, "broken, truncated or lying upload"),
        (404, "no model of that name"),
        (413, "over a limit: upload size, pixels, duration, rows, fit cost"),
        (415, "a content type or format that is not accepted"),
        (503, "no model of this kind loaded, or all job slots busy (see Retry-After)"),
        (504, "the job ran past the server's time limit (--job-timeout) and was stopped"),
    ]
}

_TABLE_BODY = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "properties": {"file": {"type": "string", "format": "binary"}},
                "required": ["file"],
            }
        },
        "text/csv": {"schema": {"type": "string"}, "example": "timestamp,value\n2024-01-01 00:00,1.0\n"},
        "application/json": {
            "schema": {
                "type": "object",
                "properties": {
                    "rows": {"type": "array", "items": {"type": "array", "items": {"type": "number"}}},
                    "columns": {"type": "array", "items": {"type": "string"}},
                },
            },
            "example": {"rows": [[1.0, 2.0], [1.1, 2.1]]},
        },
    },
}
