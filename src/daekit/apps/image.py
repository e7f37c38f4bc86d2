"""Image denoising as a task: :class:`ImageDenoiser`, :func:`train_image_denoiser`, :func:`demo`.

``ImageDenoiser.pretrained("gray")(noisy)`` denoises an image array of any size with the
bundled weights; ``denoise_file`` does it file to file (bit depth, alpha and EXIF
orientation kept). Large images go through overlapping tiles blended with smooth
weights, one row of tiles at a time, so memory stays bounded by the image's width.

Training samples patches on the device from a tile bank (:class:`PatchObjective`), so on
a GPU no data loader is involved; the noise level is drawn per patch over σ ∈ [0, 55]
(0–255 scale) and the network learns all levels at once (blind).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from .. import checks
from ..data import image as imdata
from ..io import PRETRAINED_DIR, ModelFileError, bundled_models, read_model_folder, write_model_folder
from ..io_checks import config_numbers, config_section, expect_class, model_with_weights
from ..models import Autoencoder, create_model
from .image_objective import PatchObjective, validation_pairs

if TYPE_CHECKING:
    from ..train_config import TrainConfig

#: ``get(y0, y1, x0, x1)``: float ``(C, y1 - y0, x1 - x0)`` input pixels of a window.
PixelReader = Callable[[int, int, int, int], np.ndarray]
#: ``put(y0, y1, rows)``: receives finished float ``(C, y1 - y0, W)`` output rows.
RowWriter = Callable[[int, int, np.ndarray], None]
#: Told how many tiles were just finished (``progress(1)``), e.g. a progress bar's ``update``.
Progress = Callable[[int], object]

__all__ = [
    "ImageDenoiser",
    "PatchObjective",
    "train_image_denoiser",
    "compare_grid",
    "synthetic_image",
    "demo",
    "DEFAULT_MODELS",
    "PRETRAINED_DIR",
    "default_model_name",
    "PHOTO_MODEL",
]

#: Side of the centre crop the blind noise level is estimated from.
ESTIMATE_CROP = 256


#: The bundled model for real photos (camera noise); the CLI and the server prefer it for colour.
PHOTO_MODEL = "photo"


def default_model_name(colour: bool) -> str:
    """The bundled model the CLI and the server use when none is named: ``"photo"`` (real
    camera noise, also trained on white noise) for colour images where it is installed,
    else ``"color"``; ``"gray"`` for gray images."""
    if not colour:
        return "gray"
    return PHOTO_MODEL if (PRETRAINED_DIR / PHOTO_MODEL / "config.json").is_file() else "color"


#: The order a self-ensemble adds flips/rotations in (``_orient`` numbering): the identity
#: first, then the ones least alike: a vertical flip, a transpose, a rotation, ...
_ENSEMBLE_ORDER = (0, 6, 5, 3, 1, 2, 4, 7)

#: Model settings for each colour mode: the CPU-sized net that ships, and the wider one
#: the GPU recipe trains (same family; see recipes/image.md).
DEFAULT_MODELS: dict[str, dict[str, Any]] = {
    "cpu": {
        "name": "image_unet",
        "kwargs": {"channels": [32, 64, 128, 256], "blocks": [1, 1, 1, 1], "unshuffle": 2, "noise_map": True},
    },
    "gpu": {
        "name": "image_unet",
        "kwargs": {"channels": [64, 128, 256], "blocks": [2, 2, 2], "unshuffle": 2, "noise_map": True},
    },
}


# --------------------------------------------------------------------------- training


def train_image_denoiser(
    data: torch.Tensor | str | os.PathLike | Iterable[str | os.PathLike],
    out_dir: str | os.PathLike,
    channels: int = 1,
    model: dict[str, Any] | None = None,
    patch_size: int = 64,
    tile: int = 128,
    std_max: float = 55.0,
    known_sigma: float = 0.5,
    val_tiles: torch.Tensor | None = None,
    config: TrainConfig | None = None,
    init: str | os.PathLike | None = None,
    noise: Any = None,
    **train_options: Any,
) -> ImageDenoiser:
    """Train a blind image denoiser on a folder of clean images (Gaussian noise, or ``noise``).

    Args:
        data: folder(s)/file(s) of clean images, or a ready ``(N, C, T, T)`` uint8 tile bank.
        out_dir: the run folder (checkpoints, metrics); the model is saved there at the end.
        channels: 1 gray, 3 colour.
        model: ``{"name": ..., "kwargs": {...}}`` (default: ``DEFAULT_MODELS["cpu"]``).
        patch_size: training patch side; ``tile``: bank tile side (≥ patch_size).
        std_max: top of the noise range, σ on 0–255 (levels drawn uniformly from [0, std_max]).
        known_sigma: share of patches whose true σ a noise-map model is told.
        val_tiles: optional bank for fixed validation pairs (else 5 % of ``data``'s tiles are held out).
        config: a ``daekit.TrainConfig``; ``**train_options`` override its fields.
        init: a model folder (or bundled name) whose network training starts from, instead
            of ``model``; a new stage with a fresh optimiser and schedule.
        noise: a ``daekit.noise`` process to corrupt the training and validation patches
            with instead of Gaussian noise up to ``std_max`` (e.g. ``dk.noise.Camera()``, or a
            ``OneOf`` of camera and Gaussian noise); its config is kept in ``training["noise"]``.

    Returns:
        The trained :class:`ImageDenoiser`, also saved in ``out_dir``.
    """
    from ..train import TrainConfig, Trainer

    checks.POSITIVE_INT.check("channels", channels)
    checks.PATCH.check("patch_size", patch_size)
    checks.PATCH.check("tile", tile)
    if tile < patch_size:
        raise ValueError(f"tile={tile} must be at least patch_size={patch_size}: patches are cut from tiles.")
    checks.SIGMA_255.check("std_max", std_max)
    checks.PROBABILITY.check("known_sigma", known_sigma)
    if init is not None:
        start = ImageDenoiser.from_pretrained(init)  # a folder, or a bundled name
        if start.channels != channels:
            raise ValueError(f"--init model has {start.channels} channel(s) but channels={channels}.")
        net = start.model.float().train()
    else:
        spec = model or DEFAULT_MODELS["cpu"]
        net = create_model(spec["name"], in_channels=channels, **spec.get("kwargs", {}))
    tiles = data if isinstance(data, torch.Tensor) else imdata.load_tiles(data, tile=tile, channels=channels)
    if tiles.shape[1] != channels:
        raise ValueError(f"the tile bank has {tiles.shape[1]} channels but channels={channels}.")
    if val_tiles is None and len(tiles) >= 20:
        perm = torch.randperm(len(tiles), generator=torch.Generator().manual_seed(0))
        cut = max(1, len(tiles) // 20)
        val_tiles, tiles = tiles[perm[:cut]], tiles[perm[cut:]]
    config = config or TrainConfig(max_steps=1000, batch_size=32, lr=1e-3, schedule="cosine", min_lr=1e-5)
    config = config.replace(out_dir=str(out_dir), **train_options)
    objective = PatchObjective(
        net, tiles, patch_size=patch_size, std=(0.0, std_max / 255), known_sigma=known_sigma, noise=noise
    )
    val = (
        None
        if val_tiles is None
        else validation_pairs(val_tiles, n=64, patch_size=min(patch_size, val_tiles.shape[-1]), noise=noise)
    )
    # One "epoch" = 1000 steps of fresh patches; the indices only set the batch size.
    index = torch.arange(config.batch_size * 1000)
    trainer = Trainer(objective, config).fit(index, val)
    den = ImageDenoiser(
        net.cpu().float().eval(),
        std_max=std_max,
        training={
            "patch_size": patch_size,
            "steps": trainer.step_,
            "batch_size": config.batch_size,
            "seed": config.seed,
            "best_val_mse": trainer.best_val_loss_,
            **({} if noise is None else {"noise": noise.to_config() if hasattr(noise, "to_config") else repr(noise)}),
        },
    )
    if trainer.is_main_process:  # under torchrun, one process writes the model folder
        den.save_pretrained(out_dir)
    return den


# --------------------------------------------------------------------------- inference


def _ramp(n: int, overlap: int) -> torch.Tensor:
    """1-D blending weights: rising over ``overlap`` pixels at both ends, never zero."""
    w = torch.ones(n)
    k = min(overlap, n // 2)
    if k > 0:
        up = (torch.arange(k, dtype=torch.float32) + 0.5) / k
        w[:k], w[n - k :] = up, up.flip(0)
    return w


def _orient(x: torch.Tensor, k: int, undo: bool = False) -> torch.Tensor:
    """Orientation ``k`` of 8: ``k % 4`` quarter turns, then a left–right flip if ``k >= 4``."""
    if undo:
        x = x.flip(-1) if k >= 4 else x
        return torch.rot90(x, -(k % 4), dims=(-2, -1))
    x = torch.rot90(x, k % 4, dims=(-2, -1))
    return x.flip(-1) if k >= 4 else x


def _starts(size: int, tile: int, step: int) -> list[int]:
    if size <= tile:
        return [0]
    starts = list(range(0, size - tile, step)) + [size - tile]
    return sorted(set(starts))


class ImageDenoiser:
    """Denoise images of any size with a trained model; bit depth, alpha and orientation kept.

    Args:
        model: an image model (``(N, C, H, W)`` → same), e.g. from ``create_model("image_unet")``.
        tile: tile side for large images (pixels); memory grows with ``tile × width``.
        overlap: pixels shared by neighbouring tiles, blended with linear ramps.
        ensemble: geometric self-ensemble: denoise each tile in this many (1–8) of its 8
            flips/rotations, undo them and average. Costs that many times the time; on
            BSD68 at σ 25 the gray model gains 0.06 / 0.09 / 0.10 / 0.12 dB with 2 / 3 / 4 / 8.
        device: ``"cpu"``, ``"cuda"``... (``"auto"``: CUDA when available). On CUDA the
            model runs in bf16 with channels-last memory.
        std_max: the top of the σ range (0–255) the model was trained on (informational).
        training: facts about how it was trained (saved in config.json).

    Example:
        >>> den = ImageDenoiser.pretrained("gray")                      # doctest: +SKIP
        >>> clean = den(noisy_uint8)                                     # doctest: +SKIP
        >>> den.denoise_file("noisy.png", "clean.png", sigma=25)         # doctest: +SKIP
    """

    def __init__(
        self,
        model: Autoencoder,
        tile: int = 512,
        overlap: int = 32,
        device: str = "cpu",
        std_max: float = 55.0,
        training: dict | None = None,
        ensemble: int = 1,
    ):
        checks.TILE.check("tile", tile)
        checks.COUNT.check("overlap", overlap)
        if 2 * overlap >= tile:
            raise ValueError(f"overlap={overlap} must be under half of tile={tile}.")
        checks.Range(int, 1, 8).check("ensemble", ensemble)
        checks.SIGMA_255.check("std_max", std_max)
        self.model, self.tile, self.overlap, self.device = model.eval(), tile, overlap, device
        self.std_max, self.training, self.ensemble = std_max, dict(training or {}), ensemble

    # -- loading and saving --------------------------------------------------------

    @property
    def channels(self) -> int:
        in_channels: Any = self.model.in_channels  # each model's own attribute, which nn.Module cannot type
        return int(in_channels)

    @staticmethod
    def bundled() -> list[str]:
        """Names of the image models shipped with daekit (``"color"``, ``"gray"``, ``"photo"``)."""
        return list(bundled_models(("ImageDenoiser",)))

    @classmethod
    def pretrained(cls, name: str = "gray", **kwargs: Any) -> ImageDenoiser:
        """The bundled weights: ``"gray"``, ``"color"`` (white noise) or ``"photo"`` (real camera
        noise); see recipes/image.md."""
        path = PRETRAINED_DIR / name
        if not (path / "config.json").is_file():
            known = ", ".join(cls.bundled()) or "none"
            raise ValueError(f"there is no bundled image model '{name}' (bundled: {known}).")
        return cls.from_pretrained(path, **kwargs)

    @classmethod
    def from_pretrained(cls, path: str | os.PathLike, **kwargs: Any) -> ImageDenoiser:
        """Load a model folder written by :meth:`save_pretrained` (or a bundled name)."""
        if not Path(path).exists() and str(path) in cls.bundled():
            return cls.pretrained(str(path), **kwargs)
        config, tensors = read_model_folder(path)
        expect_class(path, config, ("ImageDenoiser",))
        model = model_with_weights(path, config.get("model"), tensors)
        if not hasattr(model, "in_channels") or getattr(model, "dims", 2) != 2:  # an 'mlp' takes rows, 'conv1d' series
            raise ModelFileError(f"{path} holds a model '{getattr(model, 'model_name', '?')}', which takes no images.")
        std_max = config_section(path, config, "noise").get("std_max", 55.0)
        config_numbers(path, "noise.std_max", std_max, positive=True)
        opts = {k: config[k] for k in ("tile", "overlap", "ensemble") if k in config}
        try:
            cls(model, **opts)  # the saved settings, by the constructor's own rules (kwargs may override them)
        except (TypeError, ValueError) as e:
            raise ModelFileError(f"{path}/config.json holds settings ImageDenoiser refuses: {e}") from None
        training = config_section(path, config, "training")
        return cls(model, std_max=float(std_max), training=training, **(opts | kwargs))

    def as_colour(self) -> ImageDenoiser:
        """This gray model as a colour denoiser in the opponent colour space: the network
        (a copy) denoises the luminance and the two chrominance planes of an RGB image.
        Far better than running it on R, G and B, whose noise and detail it shares."""
        if self.channels != 1 or getattr(self.model, "model_name", "") != "image_unet":
            raise ValueError("as_colour() turns a 1-channel image_unet model into a colour one.")
        net = create_model("image_unet", **(self.model.get_config() | {"in_channels": 3, "colour_space": "opponent"}))
        net.load_state_dict(self.model.state_dict())
        return ImageDenoiser(
            net,
            tile=self.tile,
            overlap=self.overlap,
            device=self.device,
            std_max=self.std_max,
            training=self.training,
            ensemble=self.ensemble,
        )

    def save_pretrained(self, path: str | os.PathLike, half: bool = False) -> Path:
        """Write ``config.json`` + ``model.safetensors`` (``half``: fp16 weights, half the size)."""
        cfg = {
            "class": "ImageDenoiser",
            "model": {"name": self.model.model_name, "kwargs": self.model.get_config()},
            "noise": {"kind": "gaussian", "std_max": self.std_max, "scale": "0-255"},
            "tile": self.tile,
            "overlap": self.overlap,
            "ensemble": self.ensemble,
            "training": self.training,
        }
        state = {
            k: (v.half() if half and v.is_floating_point() else v).detach().cpu().contiguous()
            for k, v in self.model.state_dict().items()
        }
        return write_model_folder(path, cfg, state)

    # -- arrays ----------------------------------------------------------------------

    def _device(self) -> torch.device:
        return torch.device(
            "cuda"
            if self.device == "auto" and torch.cuda.is_available()
            else ("cpu" if self.device == "auto" else self.device)
        )

    def estimate_sigma(self, x: np.ndarray) -> float:
        """Blind σ (0–255 scale) of a float ``(C, H, W)`` image on [0, 1], from at most a
        256×256 centre crop (PCA estimator of ``daekit.noise_estimate``; a larger crop
        changes the estimate by a few tenths and costs as much as the denoising itself)."""
        from ..noise_estimate import estimate_image

        c, h, w = x.shape
        y0, x0 = max(0, (h - ESTIMATE_CROP) // 2), max(0, (w - ESTIMATE_CROP) // 2)
        crop = np.asarray(x[:, y0 : y0 + ESTIMATE_CROP, x0 : x0 + ESTIMATE_CROP], dtype=np.float32)
        s = estimate_image(crop[0] if c == 1 else crop, data_range=1.0, channel_axis=None if c == 1 else 0)
        return float(np.mean(s))

    def denoise_array(self, x: np.ndarray, sigma: float | None = None, progress: Progress | None = None) -> np.ndarray:
        """Denoise a float ``(C, H, W)`` image on [0, 1] with this model's channel count.

        ``sigma``: the noise std on the 0–255 scale when known (else estimated once for the
        whole image, so every tile gets the same level). Returns float32 ``(C, H, W)``.
        """
        c, h, w = x.shape
        if c != self.channels:
            raise ValueError(f"this model takes {self.channels}-channel images, got {c}.")
        out = np.empty((c, h, w), np.float32)

        def put(y0: int, y1: int, rows: np.ndarray) -> None:
            out[:, y0:y1] = rows

        self._run_tiles(
            lambda y0, y1, x0, x1: x[:, y0:y1, x0:x1],
            put,
            h,
            w,
            sigma if sigma is not None else self._blind_sigma(lambda a, b, c_, d: x[:, a:b, c_:d], h, w),
            progress,
        )
        return out

    def _blind_sigma(self, get: PixelReader, h: int, w: int) -> float | None:
        if not getattr(self.model, "noise_map", False):
            return None
        y0, x0 = max(0, (h - ESTIMATE_CROP) // 2), max(0, (w - ESTIMATE_CROP) // 2)
        return self.estimate_sigma(get(y0, min(h, y0 + ESTIMATE_CROP), x0, min(w, x0 + ESTIMATE_CROP)))

    @torch.no_grad()
    def _run_tiles(
        self, get: PixelReader, put: RowWriter, h: int, w: int, sigma: float | None, progress: Progress | None = None
    ) -> None:
        """The tiling loop. ``get(y0, y1, x0, x1)`` gives float ``(C, h, w)`` input pixels;
        ``put(y0, y1, rows)`` receives finished float ``(C, y1 - y0, W)`` output rows, top to
        bottom. Only one row of tiles is held at a time: memory ~ C × tile × W floats."""
        c = self.channels
        dev = self._device()
        # Channels-last suits oneDNN's CPU convolutions too (about 20 % faster for the gray
        # model on one core) as well as CUDA's tensor cores.
        model = self.model.to(dev)
        model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]  # documented; not in torch's stubs
        cuda = dev.type == "cuda"
        noise_map = getattr(model, "noise_map", False)
        s = torch.tensor([float(sigma or 0.0) / 255.0], device=dev) if noise_map else None
        tile, step = self.tile, self.tile - self.overlap
        ys, xs = _starts(h, tile, step), _starts(w, tile, step)
        # Rows [pend_y, pend_y + acc.shape[1]) are still collecting contributions.
        acc, wacc, pend_y = torch.zeros(c, 0, w), torch.zeros(0, w), 0
        for row, y0 in enumerate(ys):
            th = min(tile, h - y0)
            need = y0 + th - pend_y - acc.shape[1]
            if need > 0:
                acc = torch.cat([acc, torch.zeros(c, need, w)], 1)
                wacc = torch.cat([wacc, torch.zeros(need, w)], 0)
            wy = _ramp(th, self.overlap)
            for x0 in xs:
                tw = min(tile, w - x0)
                patch = torch.from_numpy(np.ascontiguousarray(get(y0, y0 + th, x0, x0 + tw), dtype=np.float32))
                patch = patch[None].to(dev)
                y = torch.zeros_like(patch)  # 0 + x is x exactly: the sum starts from the first view
                for k in _ENSEMBLE_ORDER[: self.ensemble]:
                    view = _orient(patch, k).contiguous(memory_format=torch.channels_last)
                    with torch.autocast("cuda", dtype=torch.bfloat16, enabled=cuda):
                        out_k = model(view, sigma=s) if noise_map else model(view)
                    y = y + _orient(out_k.float(), k, undo=True)
                y = (y / self.ensemble)[0].cpu()
                wgt = wy[:, None] * _ramp(tw, self.overlap)[None, :]
                r = y0 - pend_y
                acc[:, r : r + th, x0 : x0 + tw] += y * wgt
                wacc[r : r + th, x0 : x0 + tw] += wgt
                if progress is not None:
                    progress(1)
            done_to = ys[row + 1] if row + 1 < len(ys) else h  # no later tile reaches above this
            k = done_to - pend_y
            put(pend_y, done_to, (acc[:, :k] / wacc[:k]).numpy())
            acc, wacc, pend_y = acc[:, k:], wacc[k:], done_to

    def n_tiles(self, h: int, w: int) -> int:
        step = self.tile - self.overlap
        return len(_starts(h, self.tile, step)) * len(_starts(w, self.tile, step))

    def __call__(
        self,
        image: np.ndarray,
        sigma: float | str | None = "auto",
        progress: Progress | None = None,
        strength: float = 1.0,
    ) -> np.ndarray:
        """Denoise an image array; returns the same shape and dtype.

        The image is converted tile by tile and the result written row by row into an
        array of the input's dtype, so a large photo needs little more memory than its
        own pixels (an 8000×8000 RGB photo: 192 MB in, 192 MB out, plus one row of tiles).

        Args:
            image: ``(H, W)``, ``(H, W, 1|2|3|4)`` as uint8, uint16 (kept 16-bit) or float
                on [0, 1]. Alpha (channel 2 of 2, 4 of 4) is passed through untouched. A
                gray ``image_unet`` model denoises RGB in the opponent colour space
                (:meth:`as_colour`), other gray models channel by channel; a colour model
                takes gray as three equal channels and returns their mean.
            sigma: noise std on the 0–255 scale (of the full range, also for 16-bit), if known;
                ``"auto"`` (or None) estimates it from the image. The level used, given or
                estimated, is kept in ``last_sigma_`` (one value per pass; 0.0 means no
                noise was detected).
            strength: how much of the denoising to apply, 0..1: the output is
                ``strength × denoised + (1 − strength) × image`` (1: all of it, 0: the image
                unchanged), for users who find a photo too smooth and want some grain back.

        Returns:
            The denoised image, same shape and dtype (floats are clipped to [0, 1]).
        """
        checks.SIGMA_255.check("sigma", sigma, optional=True, words=("auto",))
        checks.PROBABILITY.check("strength", strength)
        level = None if isinstance(sigma, str) else sigma
        self.last_sigma_: list[float | None] = []
        arr = np.asarray(image)
        if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (1, 2, 3, 4)):
            raise ValueError(f"expected an image of shape (H, W) or (H, W, C) with C in 1..4, got {arr.shape}.")
        floating = np.issubdtype(arr.dtype, np.floating)
        if arr.dtype not in (np.uint8, np.uint16) and not floating:
            raise ValueError(f"pixels must be uint8, uint16 or float, got {arr.dtype}.")
        if floating and not np.isfinite(arr).all():
            raise ValueError("the image holds NaN or infinite values.")
        hwc = arr[..., None] if arr.ndim == 2 else arr
        h, w, total = hwc.shape
        colours = total - 1 if total in (2, 4) else total
        out = np.empty_like(hwc)
        if colours < total:
            out[..., colours:] = hwc[..., colours:]  # alpha passes through untouched
        out_float = np.float32 if floating else None

        def reader(chans: slice) -> PixelReader:
            def get(y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
                return imdata.to_float(hwc[y0:y1, x0:x1, chans]).transpose(2, 0, 1)

            return get

        def writer(chans: slice, reduce_mean: bool = False) -> RowWriter:
            def put(y0: int, y1: int, rows: np.ndarray) -> None:
                rows = rows.mean(0, keepdims=True) if reduce_mean else rows
                rows = rows.transpose(1, 2, 0)
                if strength < 1:  # blended on [0, 1] floats, before the output's rounding
                    rows = strength * rows + (1 - strength) * imdata.to_float(hwc[y0:y1, :, chans])
                rows = np.clip(rows, 0.0, 1.0)
                out[y0:y1, :, chans] = rows.astype(out_float) if out_float else imdata.from_float(rows, arr.dtype)

            return put

        if colours == 3 and self.channels == 1 and getattr(self.model, "model_name", "") == "image_unet":
            colour = self.as_colour()  # far better than R, G and B apart
            result = colour(image, sigma=level, progress=progress, strength=strength)
            self.last_sigma_ = colour.last_sigma_
            return result
        if colours == self.channels or self.channels == 3:
            chans = slice(0, colours)
            get = reader(chans)
            if colours != self.channels:  # gray into a colour model: three equal channels
                base = get
                get = lambda *a: np.repeat(base(*a), self.channels, 0)  # noqa: E731
            s = level if level is not None else self._blind_sigma(get, h, w)
            self.last_sigma_.append(s)
            self._run_tiles(get, writer(chans, colours != self.channels), h, w, s, progress)
        else:  # a gray model on colour: channel by channel
            for i in range(colours):
                get = reader(slice(i, i + 1))
                s = level if level is not None else self._blind_sigma(get, h, w)
                self.last_sigma_.append(s)
                self._run_tiles(get, writer(slice(i, i + 1)), h, w, s, progress)
        return out[..., 0] if arr.ndim == 2 else out

    def denoise_file(
        self,
        src: str | os.PathLike,
        dst: str | os.PathLike,
        sigma: float | None = None,
        progress: Progress | None = None,
        strength: float = 1.0,
    ) -> Path:
        """Read ``src`` (EXIF orientation applied), denoise, write ``dst`` atomically (same bit depth)."""
        arr = imdata.read_image(src)
        return imdata.write_image(dst, self(arr, sigma=sigma, progress=progress, strength=strength))


# --------------------------------------------------------------------------- pictures


def compare_grid(images: Sequence[np.ndarray], labels: Sequence[str]) -> np.ndarray:
    """Images side by side (8-bit RGB) with a caption strip under each.

    Args:
        images: arrays as :func:`daekit.data.image.read_image` returns (any depth/channels).
        labels: one caption per image (e.g. ``"denoised  31.20 dB  SSIM 0.871"``).

    Returns:
        ``uint8`` array ``(H + 24, sum(W) + gaps, 3)``.
    """
    Image, _ = imdata._pil()
    from PIL import ImageDraw

    rgb = []
    for a in images:
        x = imdata.to_float(np.asarray(a))
        x = x[..., None] if x.ndim == 2 else x
        x = x[..., :-1] if x.shape[2] in (2, 4) else x
        x = np.repeat(x, 3, 2) if x.shape[2] == 1 else x
        rgb.append(imdata.from_float(x))
    h = max(a.shape[0] for a in rgb)
    gap, strip = 8, 24
    canvas = Image.new("RGB", (sum(a.shape[1] for a in rgb) + gap * (len(rgb) - 1), h + strip), "white")
    draw = ImageDraw.Draw(canvas)
    x0 = 0
    for a, label in zip(rgb, labels):
        canvas.paste(Image.fromarray(a), (x0, 0))
        draw.text((x0 + 4, h + 6), label, fill=(0, 0, 0))
        x0 += a.shape[1] + gap
    return np.asarray(canvas)


def synthetic_image(size: int = 256, seed: int = 0) -> np.ndarray:
    """A made-up 8-bit gray test picture (gradients, discs, stripes, a soft texture), so the
    demo needs no downloaded or licensed image."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] / size
    img = 0.25 + 0.5 * xx * (1 - 0.5 * yy)
    for _ in range(6):
        cy, cx, r, v = rng.uniform(0.15, 0.85), rng.uniform(0.15, 0.85), rng.uniform(0.05, 0.15), rng.uniform(0, 1)
        img = np.where((yy - cy) ** 2 + (xx - cx) ** 2 < r * r, v, img)
    band = (yy > 0.7) & (yy < 0.9) & (xx > 0.1) & (xx < 0.6)
    img = np.where(band, 0.5 + 0.4 * np.sign(np.sin(2 * np.pi * 12 * xx)), img)
    smooth = np.cumsum(np.cumsum(rng.standard_normal((size, size)), 0), 1)
    img = img + 0.05 * (smooth - smooth.mean()) / (smooth.std() + 1e-9)
    return imdata.from_float(np.clip(img, 0, 1))


def demo(out_dir: str | os.PathLike = "runs/image_demo", sigma: float = 25.0, name: str = "gray") -> dict[str, Any]:
    """Noise a generated picture, denoise it with the bundled model, save a before/after PNG.

    Returns:
        ``{"psnr_noisy", "psnr_denoised", "gain_db", "seconds", "picture"}``.
    """
    from .. import metrics
    from ..io import make_output_folder

    out = make_output_folder(out_dir)  # "out is a file, not a folder." before the work
    clean = synthetic_image(256)
    rng = np.random.default_rng(0)
    noisy_f = clean.astype(np.float32) / 255 + sigma / 255 * rng.standard_normal(clean.shape).astype(np.float32)
    noisy = imdata.from_float(noisy_f)
    den = ImageDenoiser.pretrained(name)
    start = time.perf_counter()
    denoised = den(noisy_f.clip(0, 1).astype(np.float32))
    seconds = time.perf_counter() - start
    denoised8 = imdata.from_float(denoised)
    p_noisy, p_den = metrics.psnr(noisy, clean, data_range=255), metrics.psnr(denoised8, clean, data_range=255)
    s_noisy, s_den = metrics.ssim(noisy, clean, data_range=255), metrics.ssim(denoised8, clean, data_range=255)
    grid = compare_grid(
        [clean, noisy, denoised8],
        ["clean", f"noisy {p_noisy:.2f} dB SSIM {s_noisy:.3f}", f"denoised {p_den:.2f} dB SSIM {s_den:.3f}"],
    )
    picture = imdata.write_image(out / "image_demo.png", grid)
    result = {
        "psnr_noisy": p_noisy,
        "psnr_denoised": p_den,
        "gain_db": p_den - p_noisy,
        "seconds": seconds,
        "picture": str(picture),
    }
    print(f"image demo: a generated 256×256 picture, Gaussian noise σ={sigma:g} (0–255), bundled '{name}' model")
    print(f"  noisy     PSNR {p_noisy:6.2f} dB  SSIM {s_noisy:.3f}")
    print(f"  denoised  PSNR {p_den:6.2f} dB  SSIM {s_den:.3f}   (+{p_den - p_noisy:.2f} dB in {seconds:.2f} s)")
    print(f"  before/after picture: {picture}")
    return result
