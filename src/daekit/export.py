"""ONNX export of every kind of daekit model folder, checked with onnxruntime.

:func:`export_model_folder` reads a folder's ``config.json`` and builds a graph for its
class, with a dynamic batch axis and dynamic spatial or temporal sizes:

========================  ===============================================  ==================
class                     inputs                                           outputs
========================  ===============================================  ==================
DenoisingAutoencoder      ``x_noisy`` (N, F) / (N, C, H, W) / (N, C, T)    ``x_hat``
ImageDenoiser             ``x_noisy`` (N, C, H, W) on [0, 1]; ``sigma``    ``x_hat``
                          (N,) noise std on [0, 1] (σ/255) when the model
                          takes a noise map
SpeechEnhancer            ``wave`` (N, 1, T) at the model's sample rate    ``enhanced``
DAEDetector (table)       ``x`` (N, F) raw features                        ``score`` (N,), ``errors``
DAEDetector (series)      ``windows`` (N, C, L) raw values                 ``errors`` (N, C, L)
========================  ===============================================  ==================

The speech graph re-states the model's STFT and overlap-add as convolutions with a DFT
basis (the exporter cannot trace ``unfold`` of a dynamic length or ``fold``), with the
same framing, so it matches PyTorch to float precision at any length. The detector graph
holds the members' scalers, error normalisation and latent (Mahalanobis) term; for series the host averages the
window errors per time step (``daekit.apps.anomaly_windows.fold_to_steps``). Facts the
host needs (sample rate, σ scale, threshold) go into the ONNX metadata.

Requires the ``onnx`` extra (``pip install 'daekit[onnx]'``).
"""

from __future__ import annotations

import copy
import math
import os
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .io import AtomicOutput, ModelFileError, read_config
from .models import Autoencoder
from .models.speech import SpectralMaskNet

if TYPE_CHECKING:
    from .apps.anomaly import DAEDetector
    from .apps.speech import SpeechEnhancer

#: Example feeds of a graph: one tuple of input tensors per call.
Feeds = list[tuple[torch.Tensor, ...]]

__all__ = ["export_model_folder", "SpeechGraph", "ImageGraph", "DetectorGraph"]


# ------------------------------------------------------------------------------ graphs


class ImageGraph(nn.Module):
    """``ImageDenoiser``'s network with σ as an explicit input (the blind estimate uses a
    median, which ONNX lacks; a host estimates σ, e.g. ``ImageDenoiser.estimate_sigma``)."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model.eval()
        self.noise_map = bool(getattr(model, "noise_map", False))

    def forward(self, x_noisy: torch.Tensor, sigma: torch.Tensor | None = None) -> torch.Tensor:
        return self.model(x_noisy, sigma=sigma) if self.noise_map else self.model(x_noisy)


class SpeechGraph(nn.Module):
    """``SpeechEnhancer`` offline on ``(N, 1, T)`` at the model's rate, STFT as convolutions.

    Same causal framing as ``SpectralMaskNet.stft``: ``n_fft - hop`` zeros on the left,
    frames every ``hop`` samples until the last sample is in four frames. Padding the
    right by a fixed ``n_fft - 1`` yields exactly those frames at every length (the extra
    zeros are never read), so no size-dependent padding is traced.
    """

    analysis: torch.Tensor  # registered buffers
    synthesis: torch.Tensor

    def __init__(self, enhancer: SpeechEnhancer):
        super().__init__()
        # A speech DAE holds a SpectralMaskNet; the DAE itself only types its model as an Autoencoder.
        net = cast(SpectralMaskNet, enhancer.dae.model).eval()
        self.net, self.n_fft, self.hop = net, net.n_fft, net.hop_length
        self.min_gain, self.wet = float(enhancer._min_gain()), float(enhancer.wet)
        n, bins = net.n_fft, net.n_fft // 2 + 1
        t = torch.arange(n, dtype=torch.float64)
        b = torch.arange(bins, dtype=torch.float64)
        angle = 2 * math.pi * b[:, None] * t[None, :] / n  # (bins, n)
        window = torch.hann_window(n, periodic=True, dtype=torch.float64)
        analysis = torch.cat([torch.cos(angle) * window, -torch.sin(angle) * window])  # (2 bins, n)
        scale = torch.full((bins, 1), 2.0 / n, dtype=torch.float64)
        scale[0], scale[-1] = 1.0 / n, 1.0 / n
        synthesis = torch.cat([scale * torch.cos(angle), -scale * torch.sin(angle)]) * window / net.ola_norm
        self.register_buffer("analysis", analysis.float().unsqueeze(1))  # (2 bins, 1, n)
        self.register_buffer("synthesis", synthesis.float().unsqueeze(1))  # (2 bins, 1, n)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        n, hop, bins = self.n_fft, self.hop, self.n_fft // 2 + 1
        left = n - hop
        padded = F.pad(wave, (left, n - 1))
        spec = F.conv1d(padded, self.analysis, stride=hop)  # (N, 2 bins, frames)
        re, im = spec[:, :bins], spec[:, bins:]
        feats = ((torch.log10(re * re + im * im + 1e-10) + 4.0) / 3.0).transpose(1, 2)
        z, _ = self.net.gru(self.net.inp(feats))
        gain = self.net.mask_from_code(z, self.min_gain).transpose(1, 2)  # (N, bins, frames)
        out = F.conv_transpose1d(torch.cat([re * gain, im * gain], 1), self.synthesis, stride=hop)
        y = out[:, :, left : left + wave.shape[-1]]
        return y if self.wet == 1.0 else self.wet * y + (1.0 - self.wet) * wave


class DetectorGraph(nn.Module):
    """``DAEDetector``'s ensemble: scale per member, reconstruct, normalised squared error."""

    lo: torch.Tensor  # registered buffers
    span: torch.Tensor
    norm: torch.Tensor
    latent_mean: torch.Tensor
    latent_precision: torch.Tensor
    latent_scale: torch.Tensor

    def __init__(self, det: DAEDetector):
        super().__init__()
        self.window = det.window
        # float32 copies: the detector scores in float64 on the host; a deployed graph is
        # float32 (the test bounds the difference from decision_function).
        self.members = nn.ModuleList(copy.deepcopy(dae.model).float().eval() for dae in det.members_)
        lo = torch.tensor(np.stack(list(det.scale_min_)) if np.ndim(det.scale_min_) > 1 else det.scale_min_[None])
        span = torch.tensor(np.stack(list(det.scale_span_)) if np.ndim(det.scale_span_) > 1 else det.scale_span_[None])
        shape = (len(self.members), 1, -1) if det.window is None else (len(self.members), 1, lo.shape[-1], 1)
        lo = lo.expand(len(self.members), -1) if lo.shape[0] == 1 else lo
        span = span.expand(len(self.members), -1) if span.shape[0] == 1 else span
        self.register_buffer("lo", lo.float().reshape(shape))
        self.register_buffer("span", span.float().reshape(shape))
        self.register_buffer("norm", torch.tensor(det.member_scale_, dtype=torch.float32))
        self.flatten = det.window is not None and det.model != "conv1d"
        # The latent (Mahalanobis) term of a table detector, when it has one.
        self.latent_weight = float(getattr(det, "latent_weight", 0.0) or 0.0) if det.window is None else 0.0
        self.geometric = getattr(det, "combine", "mean") == "geometric"  # how members' row scores combine
        if self.latent_weight:
            self.register_buffer("latent_mean", torch.tensor(np.stack(det.latent_mean_), dtype=torch.float32))
            self.register_buffer("latent_precision", torch.tensor(np.stack(det.latent_precision_), dtype=torch.float32))
            self.register_buffer("latent_scale", torch.tensor(det.latent_scale_, dtype=torch.float32))

    def forward(self, x: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        # Plain numbers until the first member's term is added: no tensor of a guessed shape to start from.
        total: torch.Tensor | float = 0.0
        member_scores = []  # tables: each member's row score (error in its unit + latent term)
        for k, model in enumerate(self.members):
            xs = (x - self.lo[k]) / self.span[k]
            inp = xs.flatten(1) if self.flatten else xs
            x_hat = model(inp).reshape(xs.shape)
            err = (x_hat - xs) ** 2 / self.norm[k]
            total = total + err
            if self.window is None:
                row = err.mean(dim=1)
                if self.latent_weight:
                    c = cast(Autoencoder, model).encode(inp) - self.latent_mean[k]
                    row = (
                        row
                        + self.latent_weight * ((c @ self.latent_precision[k]) * c).sum(dim=1) / self.latent_scale[k]
                    )
                member_scores.append(row)
        assert isinstance(total, torch.Tensor)  # a detector has at least one member
        errors = total / len(self.members)
        if self.window is None:
            stacked = torch.stack(member_scores)
            # As anomaly_score.combine_members; float32's floor for a row rebuilt perfectly.
            score = stacked.clamp_min(1e-30).log().mean(dim=0).exp() if self.geometric else stacked.mean(dim=0)
            return score, errors
        return errors


# ------------------------------------------------------------------------------ export


def example_input(model: nn.Module) -> torch.Tensor:
    """A small input of the right shape for tracing ``model``."""
    family: Any = model  # each model family has its own size attributes, which nn.Module cannot type
    if hasattr(family, "in_features"):
        return torch.rand(2, family.in_features)
    if hasattr(family, "in_channels") and hasattr(family, "dims"):
        size = 4 * getattr(family, "size_multiple", 8)
        return torch.rand(1, family.in_channels, *([size] * family.dims))
    if hasattr(family, "contract_example"):
        return torch.rand(*family.contract_example()[1])
    raise ValueError(f"cannot tell the input shape of {type(model).__name__} for export.")


def _plan(
    path: str | os.PathLike,
) -> tuple[nn.Module, list[str], Feeds, list[str], dict[str, dict[int, str]], dict[str, str]]:
    """(module, input names, [example feeds, other-size feeds], output names, dynamic axes, metadata)."""
    config = read_config(path)
    cls = config.get("class", "DenoisingAutoencoder")
    graph: nn.Module
    feeds: Feeds
    dyn: dict[str, dict[int, str]]
    if cls == "ImageDenoiser":
        from .apps.image import ImageDenoiser

        den = ImageDenoiser.from_pretrained(path)
        graph, c, m = ImageGraph(den.model), den.channels, getattr(den.model, "size_multiple", 8)
        feeds = [(torch.rand(1, c, 2 * m, 3 * m),), (torch.rand(2, c, 2 * m + 5, 3 * m + 3),)]
        names, dyn = (
            ["x_noisy"],
            {"x_noisy": {0: "batch", 2: "height", 3: "width"}, "x_hat": {0: "batch", 2: "height", 3: "width"}},
        )
        if graph.noise_map:
            feeds = [f + (torch.tensor([25.0 / 255] * f[0].shape[0]),) for f in feeds]
            names.append("sigma")
            dyn["sigma"] = {0: "batch"}
        meta = {"pixels": "float on [0, 1], NCHW", "sigma": "noise std on [0, 1] (sigma_255 / 255)"}
        return graph, names, feeds, ["x_hat"], dyn, meta
    if cls == "SpeechEnhancer" or (
        cls == "DenoisingAutoencoder" and config.get("model", {}).get("name") == "speech_mask"
    ):
        from .apps.speech import SpeechEnhancer

        enh = SpeechEnhancer.from_pretrained(path)
        graph = SpeechGraph(enh)
        sr = enh.sample_rate
        feeds = [(torch.randn(1, 1, sr // 2) * 0.1,), (torch.randn(2, 1, sr // 2 + 1234) * 0.1,)]
        dyn = {"wave": {0: "batch", 2: "samples"}, "enhanced": {0: "batch", 2: "samples"}}
        return (
            graph,
            ["wave"],
            feeds,
            ["enhanced"],
            dyn,
            {"sample_rate": str(sr), "wave": "float in [-1, 1], (N, 1, T)"},
        )
    if cls == "DAEDetector":
        from .apps.anomaly import DAEDetector

        det = DAEDetector.load(path)
        graph = DetectorGraph(det)
        lo = np.asarray(det.scale_min_, dtype=np.float32).reshape(-1, det.n_features_in_)[0]
        span = np.asarray(det.scale_span_, dtype=np.float32).reshape(-1, det.n_features_in_)[0]
        meta = {"threshold": repr(float(det.threshold_)), "window": str(det.window)}
        if det.window is None:
            rows = [
                torch.from_numpy(lo + span * np.random.default_rng(s).random((n, det.n_features_in_), np.float32))
                for s, n in ((0, 4), (1, 9))
            ]
            dyn = {"x": {0: "batch"}, "score": {0: "batch"}, "errors": {0: "batch"}}
            return graph, ["x"], [(rows[0],), (rows[1],)], ["score", "errors"], dyn, meta
        shape = (det.n_features_in_, det.window)
        windows = [
            torch.from_numpy(lo[:, None] + span[:, None] * np.random.default_rng(s).random((n, *shape), np.float32))
            for s, n in ((0, 4), (1, 9))
        ]
        dyn = {"windows": {0: "batch"}, "errors": {0: "batch"}}
        return graph, ["windows"], [(windows[0],), (windows[1],)], ["errors"], dyn, meta
    if cls == "DenoisingAutoencoder":
        from .dae import DenoisingAutoencoder

        model = DenoisingAutoencoder.from_pretrained(path).model.eval()
        x = example_input(model)
        other = torch.rand(x.shape[0] + 1, *x.shape[1:2], *[s + 3 for s in x.shape[2:]])
        axes = {0: "batch"} | {d: f"size{d}" for d in range(2, x.dim())}
        return model, ["x_noisy"], [(x,), (other,)], ["x_hat"], {"x_noisy": axes, "x_hat": axes}, {}
    raise ModelFileError(f"{path} holds a {cls}, which daekit cannot export to ONNX.")


def export_model_folder(
    path: str | os.PathLike, onnx_path: str | os.PathLike, check: bool = True, atol: float = 1e-4
) -> dict[str, Any]:
    """Export the model in folder ``path`` to ``onnx_path`` (written atomically).

    Args:
        path: a daekit model folder of any class in the table above.
        onnx_path: the ``.onnx`` file to write.
        check: run the file with onnxruntime on two inputs of different batch and
            spatial/temporal sizes and compare with PyTorch.
        atol: the largest absolute difference accepted by the check.

    Returns:
        ``{"class", "inputs", "outputs", "max_abs_diff" (None without check)}``.

    Raises:
        ValueError: the check found a difference above ``atol`` (an earlier file at
            ``onnx_path`` is then left as it was); ``OutputError`` when ``onnx_path`` is a
            folder or lies under a file.

    Example:
        >>> export_model_folder("src/daekit/pretrained/speech8k", "speech8k.onnx")  # doctest: +SKIP
        {'class': 'SpeechEnhancer', 'inputs': ['wave'], 'outputs': ['enhanced'], 'max_abs_diff': 3.1e-07}
    """
    try:
        import onnx
    except ImportError:
        raise ImportError("ONNX export needs the onnx extra: pip install 'daekit[onnx]'.") from None
    cls = read_config(path).get("class", "DenoisingAutoencoder")
    graph, inputs, feeds, outputs, dynamic, meta = _plan(path)
    graph = graph.eval()
    with AtomicOutput(onnx_path) as out:  # refuses a bad path before the export, which takes a while
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tracer warnings: the onnxruntime check is the proof
            torch.onnx.export(
                graph,
                feeds[0],
                str(out.tmp),
                input_names=inputs,
                output_names=outputs,
                dynamic_axes=dynamic,
                opset_version=17,
                dynamo=False,
            )
        proto = onnx.load(str(out.tmp))
        for key, value in {"daekit_class": cls, **meta}.items():
            entry = proto.metadata_props.add()
            entry.key, entry.value = key, value
        onnx.save(proto, str(out.tmp))
        # Checked before the rename: a file that fails the check never replaces a good one.
        worst = _check(graph, out.tmp, inputs, feeds, atol) if check else None
    return {"class": cls, "inputs": inputs, "outputs": outputs, "max_abs_diff": worst}


def _check(graph: nn.Module, onnx_path: Path, inputs: list[str], feeds: Feeds, atol: float) -> float:
    try:
        import onnxruntime as ort
    except ImportError:
        raise ImportError("checking an ONNX file needs onnxruntime: pip install 'daekit[onnx]'.") from None
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    worst = 0.0
    for feed in feeds:
        with torch.no_grad():
            expected = graph(*feed)
        expected = expected if isinstance(expected, tuple) else (expected,)
        got = session.run(None, {name: t.numpy() for name, t in zip(inputs, feed)})
        for e, g in zip(expected, got):
            if e.shape != g.shape:
                raise ValueError(f"the ONNX file returns shape {g.shape} where PyTorch returns {tuple(e.shape)}.")
            worst = max(worst, float(np.abs(e.numpy() - g).max()))
    if worst > atol:
        raise ValueError(f"the ONNX file differs from PyTorch by {worst:.2e} (more than {atol:.0e}).")
    return worst
