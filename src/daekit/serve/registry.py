"""The models a server holds: loaded once at start, looked up by kind and name.

A model folder's ``config.json`` names its class, and the class decides the endpoint:
``ImageDenoiser`` → ``/v1/image/denoise``, ``SpeechEnhancer`` → ``/v1/audio/denoise``,
``DAEDetector`` → ``/v1/anomaly/score``. Serving a new kind of model is one entry in
:data:`LOADERS` plus its endpoint. Names are labels the operator chose; a client only
ever picks among them, it never passes a path.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..io import ModelFileError, bundled_models, read_config

if TYPE_CHECKING:
    from ..apps.anomaly import DAEDetector
    from ..apps.image import ImageDenoiser
    from ..apps.speech import SpeechEnhancer

__all__ = ["ModelRegistry", "LoadedModel", "LOADERS", "KINDS", "parse_model_specs", "shipped_models"]


def _load_image(path: str | os.PathLike) -> ImageDenoiser:
    from ..apps.image import ImageDenoiser

    return ImageDenoiser.from_pretrained(path)


def _load_speech(path: str | os.PathLike) -> SpeechEnhancer:
    from ..apps.speech import SpeechEnhancer

    return SpeechEnhancer.from_pretrained(path)


def _load_detector(path: str | os.PathLike) -> DAEDetector:
    from ..apps.anomaly import DAEDetector

    return DAEDetector.load(path)


def _image_facts(m: ImageDenoiser) -> dict[str, Any]:
    return {"channels": m.channels, "tile": m.tile}


def _speech_facts(m: SpeechEnhancer) -> dict[str, Any]:
    return {"sample_rate": m.sample_rate, "latency_ms": round(m.latency_ms, 2)}


def _detector_facts(m: DAEDetector) -> dict[str, Any]:
    return {
        "n_features": int(m.n_features_in_),
        "window": m.window,
        "threshold": float(m.threshold_),
        "columns": list(getattr(m, "feature_names_", []) or []),
    }


# One small call per model at start, so the first client does not pay for lazy imports
# (scipy's resampler) and first-call allocations: about 3 s for a speech model.
def _warm_image(m: ImageDenoiser) -> None:
    import numpy as np

    m(np.zeros((32, 32, 3) if m.channels == 3 else (32, 32), np.uint8), sigma=10.0)


def _warm_speech(m: SpeechEnhancer) -> None:
    import numpy as np

    # Noise, not silence: the enhancer returns a recording it measures as clean (silence
    # included) untouched, and then neither the resampler nor the model would run.
    noise = 0.1 * np.random.default_rng(0).standard_normal(m.sample_rate // 10)
    m(noise.astype(np.float32), sample_rate=m.sample_rate * 2)


#: config class -> (kind, loader, facts shown by /v1/models, warm-up call)
# Loosely typed on purpose: each row's loader, facts and warm-up take that row's class only.
LOADERS: dict[str, tuple[str, Callable[[Any], Any], Callable[[Any], dict[str, Any]], Callable[[Any], None] | None]] = {
    "ImageDenoiser": ("image", _load_image, _image_facts, _warm_image),
    "SpeechEnhancer": ("audio", _load_speech, _speech_facts, _warm_speech),
    "DAEDetector": ("anomaly", _load_detector, _detector_facts, None),
}
#: every endpoint kind, with what it needs when nothing is loaded for it
KINDS = {
    "image": "an ImageDenoiser folder (e.g. daekit/pretrained/gray)",
    "audio": "a SpeechEnhancer folder (e.g. daekit/pretrained/speech8k)",
    "anomaly": "a DAEDetector folder (from 'daekit anomaly fit'); or ask ?fit=true to fit one on the upload",
}


@dataclass
class LoadedModel:
    name: str
    kind: str
    cls: str
    model: object = field(repr=False)
    facts: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "class": self.cls, **self.facts}


def load_model(name: str, path: str | os.PathLike) -> LoadedModel:
    """Load one model folder; ``ModelFileError`` when its class is not one serve knows."""
    config = read_config(path)
    cls = config.get("class")
    if cls not in LOADERS:
        raise ModelFileError(
            f"{path} holds a {cls or 'model of unknown class'}; serve takes {', '.join(LOADERS)} folders."
        )
    kind, loader, facts, warm = LOADERS[cls]
    model = loader(path)
    if warm is not None:
        warm(model)
    return LoadedModel(name, kind, cls, model, facts(model))


def parse_model_specs(specs: list[str]) -> dict[str, str]:
    """``["gray=DIR", ...]`` → ``{"gray": "DIR"}``, refusing bad or repeated names."""
    out = {}
    for spec in specs:
        name, sep, path = spec.partition("=")
        name = name.strip()
        if not sep or not name or not path:
            raise ValueError(f"--model {spec!r} must look like NAME=DIR.")
        if not name.replace("-", "").replace("_", "").replace(".", "").isalnum():
            raise ValueError(f"--model name {name!r} may hold only letters, digits, '-', '_' and '.'.")
        if name in out:
            raise ValueError(f"--model {name} is given twice.")
        out[name] = path
    return out


def shipped_models() -> dict[str, str]:
    """The bundled model folders that exist in this install (``gray``, ``color``, ``speech8k``...)."""
    return {name: str(path) for name, path in bundled_models(LOADERS).items()}


class ModelRegistry:
    """Name → :class:`LoadedModel`, grouped by kind."""

    def __init__(self, models: dict[str, str]):
        self.models = {name: load_model(name, path) for name, path in models.items()}

    def of_kind(self, kind: str) -> list[LoadedModel]:
        return [m for m in self.models.values() if m.kind == kind]

    def describe(self) -> dict:
        return {
            "models": [m.describe() for m in self.models.values()],
            "endpoints": {
                kind: (
                    "ready"
                    if self.of_kind(kind)
                    else f"no model loaded; start the server with --model NAME=DIR, DIR being {need}"
                )
                for kind, need in KINDS.items()
            },
        }
