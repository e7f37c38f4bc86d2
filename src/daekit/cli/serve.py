"""``daekit serve``: run the HTTP API and web page (the ``serve`` extra)."""

from __future__ import annotations

import argparse

from . import options


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "serve",
        help="run the HTTP API and web page",
        description="Serve the bundled models (and any given with --model) over HTTP: a web page at /, "
        "the API at /v1/... (documented at /docs), /healthz. Models load once at start; "
        "each folder's class picks its endpoint (ImageDenoiser: image, SpeechEnhancer: "
        "audio, DAEDetector: anomaly).",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (0.0.0.0 exposes it to the network)")
    p.add_argument("--port", type=options.port, default=8000, help="port to listen on")
    p.add_argument(
        "--model",
        action="append",
        default=[],
        metavar="NAME=DIR",
        help="serve the model folder DIR under NAME (repeatable)",
    )
    p.add_argument(
        "--no-bundled",
        action="store_true",
        help="do not load the bundled models (gray, color, photo, speech8k, speech8k-offline, speech16k)",
    )
    p.add_argument("--max-upload-mb", type=options.positive, default=20.0, help="largest request body, in MB")
    p.add_argument(
        "--max-pixels", type=options.positive_int, default=4096 * 4096, help="largest image, in pixels (width x height)"
    )
    p.add_argument("--max-audio-seconds", type=options.positive, default=300.0, help="longest recording, in seconds")
    p.add_argument("--max-rows", type=options.positive_int, default=100_000, help="most rows in one anomaly request")
    p.add_argument(
        "--max-fit-values",
        type=options.positive_int,
        default=200_000_000,
        help="most input values a fit-mode anomaly request may train on (networks x steps x samples per step x "
        "values per sample); more get 413 before training starts",
    )
    p.add_argument(
        "--job-timeout",
        type=options.positive,
        default=60.0,
        metavar="SECONDS",
        help="longest a model job may run; it is then stopped and answered 504 (a job is also stopped "
        "when its client disconnects)",
    )
    p.add_argument(
        "--max-concurrent",
        type=options.positive_int,
        default=2,
        help="model jobs running at once; more get 503 with Retry-After",
    )
    p.add_argument(
        "--max-connections",
        type=options.positive_int,
        default=64,
        help="open connections at once (uvicorn answers 503 beyond it); with --max-upload-mb "
        "this bounds the memory that uploads in flight can take",
    )
    p.add_argument(
        "--torch-threads",
        type=options.count,
        default=0,
        help="threads per model job (0: PyTorch's default); jobs x threads should not exceed the cores",
    )
    p.add_argument("--quiet", action="store_true", help="log warnings only (no access log)")
    p.set_defaults(func=cmd_serve)


def cmd_serve(args: argparse.Namespace) -> int:
    try:
        import uvicorn
    except ImportError:
        raise ImportError("daekit serve needs the serve extra: pip install 'daekit[serve]'.") from None
    import torch

    from ..serve import Limits, create_app, parse_model_specs, shipped_models

    if args.max_connections < args.max_concurrent + 1:
        raise ValueError(
            f"--max-connections {args.max_connections} must exceed --max-concurrent {args.max_concurrent}."
        )
    models = {} if args.no_bundled else shipped_models()
    models.update(parse_model_specs(args.model))
    limits = Limits(
        max_upload_mb=args.max_upload_mb,
        max_pixels=args.max_pixels,
        max_audio_seconds=args.max_audio_seconds,
        max_rows=args.max_rows,
        max_fit_values=args.max_fit_values,
        job_timeout_s=args.job_timeout,
        max_concurrent=args.max_concurrent,
    )
    if args.torch_threads:
        torch.set_num_threads(args.torch_threads)
    app = create_app(models, limits)
    loaded = ", ".join(f"{m.name} ({m.kind})" for m in app.state.registry.models.values()) or "none"
    print(f"daekit serve: models {loaded}; http://{args.host}:{args.port}/", flush=True)
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_level="warning" if args.quiet else "info",
        access_log=not args.quiet,
        limit_concurrency=args.max_connections,
    )
    return 0
