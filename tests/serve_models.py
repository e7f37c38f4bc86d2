"""Tiny, untrained model folders of every kind ``daekit serve`` takes, for the serve tests.

Untrained weights are enough here: these tests check the plumbing (formats, shapes,
limits, errors), not denoising quality, which the apps' own tests and benchmarks measure.
"""

import atexit
import shutil
import tempfile
from pathlib import Path

import numpy as np
import torch

_SHARED: dict[str, str] = {}


def shared_models() -> dict[str, str]:
    """:func:`make_models` once per test process (the folders are only ever read)."""
    if not _SHARED:
        root = Path(tempfile.mkdtemp(prefix="daekit_serve_models_"))
        atexit.register(shutil.rmtree, root, ignore_errors=True)
        _SHARED.update(make_models(root))
    return dict(_SHARED)


def make_models(root: Path) -> dict[str, str]:
    from daekit import DAEDetector, DenoisingAutoencoder, ImageDenoiser, create_model
    from daekit.apps.speech import SpeechEnhancer

    torch.manual_seed(0)
    out = {}
    for name, ch in (("gray", 1), ("color", 3)):
        net = create_model("image_unet", in_channels=ch, channels=(8, 16), blocks=1)
        ImageDenoiser(net, tile=64, overlap=8).save_pretrained(root / name)
        out[name] = str(root / name)
    net = create_model("speech_mask", n_fft=64, hop_length=16, hidden_size=16, num_layers=1)
    SpeechEnhancer(DenoisingAutoencoder(net, preprocessing={"sample_rate": 8000})).save_pretrained(root / "speech")
    out["speech"] = str(root / "speech")
    X = np.random.default_rng(0).normal(size=(300, 3))
    DAEDetector(n_estimators=1, epochs=2, random_state=0).fit(X).save(root / "table")
    out["table"] = str(root / "table")
    return out


class RunningServer:
    """``with RunningServer(app) as url:`` — uvicorn on 127.0.0.1 and a free port, in a thread."""

    def __init__(self, app):
        import socket

        import uvicorn

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))

    def __enter__(self) -> str:
        import threading
        import time

        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the test server did not start")
            time.sleep(0.02)
        return f"http://127.0.0.1:{self.port}"

    def __exit__(self, *exc):
        self.server.should_exit = True
        self.thread.join(timeout=10)
