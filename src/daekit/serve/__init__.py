"""``daekit serve``: an HTTP API and a web page over the applications (the ``serve`` extra).

``create_app({"gray": DIR, ...})`` builds the ASGI application; ``daekit serve`` runs it
with uvicorn. Endpoints: ``GET /`` (the page), ``/docs`` (the API, offline), ``/healthz``,
``/v1/models``, ``POST /v1/image/denoise``, ``/v1/audio/denoise``, ``/v1/anomaly/score``.
See :mod:`daekit.serve.limits` for what a request may ask.

Example:
    >>> from daekit.serve import create_app, Limits                     # doctest: +SKIP
    >>> app = create_app({"speech8k": "src/daekit/pretrained/speech8k"}, Limits(max_concurrent=4))
"""

from .app import create_app
from .limits import Limits
from .registry import parse_model_specs, shipped_models

__all__ = ["create_app", "Limits", "parse_model_specs", "shipped_models"]
