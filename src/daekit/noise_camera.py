"""Camera noise for real photos: the noise of a sensor, shaped by the camera's pipeline.

Real photo noise is not white. It starts as shot and read noise on a Bayer mosaic in the
camera's linear raw space; demosaicking spreads each raw sample over its neighbours and
over the colours, the colour matrix mixes the channels, the tone curve makes it depend on
brightness, and in-camera noise reduction, sharpening and JPEG reshape it again. The
residual of a real pair (noisy - clean) is therefore correlated in space and across
channels (about 0.7 between neighbouring pixels on DSLR JPEGs, see
``benchmarks/noise_camera.py``), and a denoiser trained on white Gaussian noise leaves
most of it in place.

``Camera`` follows the camera backwards and forwards, after the idea of Brooks et al.,
"Unprocessing Images for Learned Raw Denoising" (CVPR 2019):

1. unprocess the clean sRGB image: inverse tone curve, inverse sRGB gamma, inverse
   colour matrix (a random blend of plausible camera matrices per sample) and inverse
   white balance (random red and blue gains per sample);
2. heteroscedastic Gaussian noise in linear raw space, ``var = shot * x + read``, with
   ``shot`` log-uniform per sample and ``log(read)`` a line in ``log(shot)`` plus jitter
   (phones to DSLRs), drawn on the RGGB Bayer sites only;
3. bilinear demosaicking of that noise, with torch convolutions;
4. the forward pipeline back to sRGB (white balance, colour matrix, gamma, tone curve);
5. in-camera processing: noise reduction of the luma and the chroma, an unsharp mask
   (with probability ``sharpen_p``), and a JPEG round trip at a random quality.

Only the noise travels through the demosaicking and the in-camera filters: the clean
reference of a real pair went through the same demosaicking and filters, so they shape
the noise a denoiser must remove, not the target. Without noise (``shot=0``), without
JPEG, ``Camera`` gives the image back (up to float rounding). JPEG is applied to the
whole noisy image, as a camera does, and decodes to 8-bit levels.

``CorrelatedGaussian`` is the cheap stand-in: Gaussian noise with a given lag-1 spatial
correlation and cross-channel correlation, rescaled to the drawn standard deviation.

A leaf beside ``daekit.noise``, which re-exports these names; torch only. Every random
number comes from the generator, per sample, on the generator's device.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F

from .noise_base import Noise, register_noise
from .noise_levels import Level, _float, _rand, _randn, check_level, per_sample

__all__ = [
    "Camera",
    "CorrelatedGaussian",
    "camera",
    "correlated_gaussian",
    "jpeg",
    "residual_correlations",
    "CAMERA_PRESETS",
]

# ---------------------------------------------------------------------------------------
# Colour: sRGB transfer, tone curve, colour matrices
# ---------------------------------------------------------------------------------------

# Camera-RGB -> linear sRGB matrices of the kind raw converters use: strong diagonals,
# negative off-diagonals, rows summing to 1 so that white stays white. Plausible values
# written for this module, spanning mild to strong colour correction; each sample uses a
# random convex blend of them.
_CCMS = (
    ((1.70, -0.55, -0.15), (-0.20, 1.55, -0.35), (0.02, -0.52, 1.50)),
    ((1.90, -0.80, -0.10), (-0.25, 1.60, -0.35), (0.05, -0.65, 1.60)),
    ((1.55, -0.45, -0.10), (-0.15, 1.40, -0.25), (0.00, -0.40, 1.40)),
    ((2.10, -1.00, -0.10), (-0.30, 1.75, -0.45), (0.05, -0.75, 1.70)),
)

# JFIF full-range YCbCr (the colour space of every JPEG decoder).
_RGB_TO_YCC = ((0.299, 0.587, 0.114), (-0.168736, -0.331264, 0.5), (0.5, -0.418688, -0.081312))


def _srgb_to_linear(x: torch.Tensor) -> torch.Tensor:
    x = x.clamp(0.0, 1.0)
    return torch.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)


def _linear_to_srgb(x: torch.Tensor) -> torch.Tensor:
    x = x.clamp(0.0, 1.0)
    return torch.where(x <= 0.0031308, 12.92 * x, 1.055 * x.clamp_min(1e-12) ** (1 / 2.4) - 0.055)


def _tone(x: torch.Tensor) -> torch.Tensor:
    # A global S-curve (smoothstep), the simplest stand-in for a camera's tone mapping.
    x = x.clamp(0.0, 1.0)
    return 3 * x**2 - 2 * x**3


def _untone(y: torch.Tensor) -> torch.Tensor:
    # The exact inverse of smoothstep on [0, 1].
    y = y.clamp(0.0, 1.0)
    return 0.5 - torch.sin(torch.asin(1 - 2 * y) / 3)


def _apply_matrix(m: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Per-sample 3x3 colour matrix ``m`` (N, 3, 3) applied to every pixel of ``x`` (N, 3, H, W)."""
    return torch.einsum("nij,njhw->nihw", m, x)


def _ycc_matrix(device: torch.device) -> torch.Tensor:
    return torch.tensor(_RGB_TO_YCC, device=device)


# ---------------------------------------------------------------------------------------
# Bayer mosaic, demosaicking, filters
# ---------------------------------------------------------------------------------------


def _bayer_masks(h: int, w: int, device: torch.device) -> torch.Tensor:
    """RGGB masks, shape (1, 3, H, W): red at (even, even), blue at (odd, odd), green elsewhere."""
    r = torch.arange(h, device=device)[:, None] % 2
    c = torch.arange(w, device=device)[None, :] % 2
    red = (r == 0) & (c == 0)
    blue = (r == 1) & (c == 1)
    green = ~(red | blue)
    return torch.stack([red, green, blue]).float()[None]


def _demosaic_bilinear(mosaic: torch.Tensor) -> torch.Tensor:
    """Bilinear demosaicking of a sparse (N, 3, H, W) mosaic (zeros off each colour's sites).

    Red and blue take the mean of their 2 or 4 nearest sites, green of its 4 neighbours;
    a site keeps its own value. Reflection padding keeps the Bayer phase at the borders.
    """
    device = mosaic.device
    k_rb = torch.tensor([[1.0, 2.0, 1.0], [2.0, 4.0, 2.0], [1.0, 2.0, 1.0]], device=device) / 4
    k_g = torch.tensor([[0.0, 1.0, 0.0], [1.0, 4.0, 1.0], [0.0, 1.0, 0.0]], device=device) / 4
    weight = torch.stack([k_rb, k_g, k_rb])[:, None]
    mode = "reflect" if min(mosaic.shape[-2:]) > 1 else "replicate"
    return F.conv2d(F.pad(mosaic, (1, 1, 1, 1), mode=mode), weight, groups=3)


# Malvar, He and Cutler, "High-quality linear interpolation for demosaicing of Bayer-patterned
# color images" (ICASSP 2004): bilinear plus a correction from the other colours' Laplacian,
# 5x5, in eighths. The correction carries green's noise into red and blue, so the channels'
# noise correlates, and makes it less smooth than bilinear's.
_MHC = (
    # green at a red or blue site
    ((0, 0, -1, 0, 0), (0, 0, 2, 0, 0), (-1, 2, 4, 2, -1), (0, 0, 2, 0, 0), (0, 0, -1, 0, 0)),
    # red (blue) at a green site whose row holds red (blue): horizontal neighbours
    ((0, 0, 0.5, 0, 0), (0, -1, 0, -1, 0), (-1, 4, 5, 4, -1), (0, -1, 0, -1, 0), (0, 0, 0.5, 0, 0)),
    # red (blue) at a green site whose column holds red (blue): vertical neighbours
    ((0, 0, -1, 0, 0), (0, -1, 4, -1, 0), (0.5, 0, 5, 0, 0.5), (0, -1, 4, -1, 0), (0, 0, -1, 0, 0)),
    # red at a blue site, blue at a red site: diagonal neighbours
    ((0, 0, -1.5, 0, 0), (0, 2, 0, 2, 0), (-1.5, 0, 6, 0, -1.5), (0, 2, 0, 2, 0), (0, 0, -1.5, 0, 0)),
)


def _demosaic_malvar(cfa: torch.Tensor) -> torch.Tensor:
    """Malvar-He-Cutler demosaicking of an RGGB colour-filter-array plane (N, 1, H, W) -> (N, 3, H, W)."""
    h, w = cfa.shape[-2:]
    weight = torch.tensor(_MHC, dtype=torch.float32, device=cfa.device)[:, None] / 8
    mode = "reflect" if min(h, w) > 2 else "replicate"
    est = F.conv2d(F.pad(cfa, (2, 2, 2, 2), mode=mode), weight)  # (N, 4, H, W)
    g_rb, along_row, along_col, diag = est.unbind(1)
    c = cfa[:, 0]
    r = torch.arange(h, device=cfa.device)[:, None] % 2
    q = torch.arange(w, device=cfa.device)[None, :] % 2
    at_r, at_b = (r == 0) & (q == 0), (r == 1) & (q == 1)
    at_g_red_row, at_g_blue_row = (r == 0) & (q == 1), (r == 1) & (q == 0)
    red = torch.where(at_r, c, torch.where(at_g_red_row, along_row, torch.where(at_g_blue_row, along_col, diag)))
    green = torch.where(at_r | at_b, g_rb, c)
    blue = torch.where(at_b, c, torch.where(at_g_blue_row, along_row, torch.where(at_g_red_row, along_col, diag)))
    return torch.stack([red, green, blue], 1)


def _gaussian_kernel(std: float, device: torch.device) -> torch.Tensor:
    radius = max(1, math.ceil(3 * std))
    t = torch.arange(-radius, radius + 1, device=device, dtype=torch.float32)
    k = torch.exp(-(t**2) / (2 * std**2))
    return k / k.sum()


def _blur(x: torch.Tensor, std: float) -> torch.Tensor:
    """Separable Gaussian blur of every channel of (N, C, H, W), edges replicated."""
    k = _gaussian_kernel(std, x.device)
    c, r = x.shape[1], (k.numel() - 1) // 2
    x = F.conv2d(F.pad(x, (r, r, 0, 0), mode="replicate"), k.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
    return F.conv2d(F.pad(x, (0, 0, r, r), mode="replicate"), k.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)


# ---------------------------------------------------------------------------------------
# JPEG
# ---------------------------------------------------------------------------------------

# The example quantisation tables of the JPEG standard (ITU-T T.81, Annex K), row by row.
_Q_LUMA = (
    (16, 11, 10, 16, 24, 40, 51, 61),
    (12, 12, 14, 19, 26, 58, 60, 55),
    (14, 13, 16, 24, 40, 57, 69, 56),
    (14, 17, 22, 29, 51, 87, 80, 62),
    (18, 22, 37, 56, 68, 109, 103, 77),
    (24, 35, 55, 64, 81, 104, 113, 92),
    (49, 64, 78, 87, 103, 121, 120, 101),
    (72, 92, 95, 98, 112, 100, 103, 99),
)
_Q_CHROMA = (
    (17, 18, 24, 47, 99, 99, 99, 99),
    (18, 21, 26, 66, 99, 99, 99, 99),
    (24, 26, 56, 99, 99, 99, 99, 99),
    (47, 66, 99, 99, 99, 99, 99, 99),
    (99, 99, 99, 99, 99, 99, 99, 99),
    (99, 99, 99, 99, 99, 99, 99, 99),
    (99, 99, 99, 99, 99, 99, 99, 99),
    (99, 99, 99, 99, 99, 99, 99, 99),
)


def _dct_matrix(device: torch.device) -> torch.Tensor:
    """The orthonormal 8-point DCT-II as a matrix: ``D @ block @ D.T`` transforms a block."""
    u = torch.arange(8, device=device, dtype=torch.float32)[:, None]
    i = torch.arange(8, device=device, dtype=torch.float32)[None, :]
    d = torch.cos((2 * i + 1) * u * math.pi / 16) * math.sqrt(2 / 8)
    d[0] = math.sqrt(1 / 8)
    return d


def _quant_tables(quality: torch.Tensor, table: tuple[tuple[int, ...], ...]) -> torch.Tensor:
    """Per-sample tables, shape (N, 8, 8), scaled by quality 1..100 as libjpeg does."""
    q = quality.clamp(1, 100).view(-1, 1, 1)
    scale = torch.where(q < 50, 5000 / q, 200 - 2 * q)
    base = torch.tensor(table, dtype=torch.float32, device=quality.device)
    return torch.floor((base * scale + 50) / 100).clamp(1, 255)


def _block_codec(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """Quantise the 8x8 block DCT of planes ``p`` (N, K, h, w) with tables ``q`` (N, 8, 8)."""
    n, k, h, w = p.shape
    ph, pw = -h % 8, -w % 8
    if ph or pw:
        p = F.pad(p, (0, pw, 0, ph), mode="replicate")
    hb, wb = p.shape[-2] // 8, p.shape[-1] // 8
    blocks = (p - 128).view(n, k, hb, 8, wb, 8).transpose(3, 4)  # (N, K, hb, wb, 8, 8)
    d = _dct_matrix(p.device)
    qq = q.view(n, 1, 1, 1, 8, 8)
    coef = torch.round((d @ blocks @ d.T) / qq) * qq
    out = (d.T @ coef @ d).transpose(3, 4).reshape(n, k, hb * 8, wb * 8) + 128
    return out[..., :h, :w]


def jpeg(x: torch.Tensor, quality: float | torch.Tensor, chroma_subsampling: bool = True) -> torch.Tensor:
    """A baseline-JPEG round trip in torch: what an image looks like after saving as JPEG.

    RGB -> YCbCr (JFIF), optional 4:2:0 chroma subsampling (2x2 means), 8x8 block DCT,
    quantisation with the standard tables scaled by ``quality`` (libjpeg's rule: 100 is
    all ones, 50 the tables as printed), then the inverse, decoded to 8-bit levels. No
    entropy coding (it is lossless) and no gradient: it corrupts inputs.

    Args:
        x: images on [0, 1].
        quality: 1..100, one number or one per sample (a tensor of shape (N,)).
        chroma_subsampling: halve the chroma resolution both ways, as most cameras do.

    Shape:
        x: ``(N, 3, H, W)``; returns the same shape and dtype.

    Example:
        >>> import torch
        >>> from daekit.noise_camera import jpeg
        >>> y = jpeg(torch.rand(2, 3, 32, 32), quality=75)
    """
    if x.dim() != 4 or x.shape[1] != 3:
        raise ValueError(f"jpeg needs RGB images of shape (N, 3, H, W), not {tuple(x.shape)}.")
    xf = _float(x).float()
    n, _, h, w = xf.shape
    q = torch.as_tensor(quality, dtype=torch.float32, device=x.device).flatten().expand(n)
    if not bool(((q >= 1) & (q <= 100)).all()):
        raise ValueError("jpeg quality must lie from 1 to 100.")
    m = _ycc_matrix(x.device)
    ycc = torch.einsum("ij,njhw->nihw", m, xf.clamp(0, 1) * 255)
    luma, chroma = ycc[:, :1], ycc[:, 1:] + 128
    luma = _block_codec(luma, _quant_tables(q, _Q_LUMA))
    if chroma_subsampling and h > 1 and w > 1:
        small = F.avg_pool2d(F.pad(chroma, (0, w % 2, 0, h % 2), mode="replicate"), 2)
        small = _block_codec(small, _quant_tables(q, _Q_CHROMA))
        chroma = F.interpolate(small, scale_factor=2, mode="bilinear", align_corners=False)[..., :h, :w]
    else:
        chroma = _block_codec(chroma, _quant_tables(q, _Q_CHROMA))
    ycc = torch.cat([luma, chroma - 128], 1)
    rgb = torch.einsum("ij,njhw->nihw", torch.linalg.inv(m), ycc)
    return (torch.round(rgb).clamp(0, 255) / 255).to(x.dtype)


# ---------------------------------------------------------------------------------------
# Camera
# ---------------------------------------------------------------------------------------


def _log_uniform(level: Level, n: int, x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """One draw per sample, log-uniform on a (lo, hi) range (a fixed level as it is), shape (N,)."""
    if not isinstance(level, tuple):
        return torch.full((n,), float(level), device=x.device)
    lo, hi = level
    if lo == hi or lo == 0:
        return lo + (hi - lo) * _rand((n,), x, generator)
    u = _rand((n,), x, generator)
    return torch.exp(math.log(lo) + u * (math.log(hi) - math.log(lo)))


def _uniform(level: Level, n: int, x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """One uniform draw per sample on a (lo, hi) range (a fixed level as it is), shape (N,)."""
    if not isinstance(level, tuple):
        return torch.full((n,), float(level), device=x.device)
    lo, hi = level
    return lo + (hi - lo) * _rand((n,), x, generator)


def camera(
    x: torch.Tensor,
    shot: Level = (2e-4, 2e-2),
    read_slope: float = 2.0,
    read_offset: float = 1.0,
    read_jitter: float = 0.25,
    red_gain: Level = (1.5, 2.4),
    blue_gain: Level = (1.3, 2.0),
    ccm_strength: Level = 1.0,
    malvar_p: float = 0.0,
    denoise: Level = 0.0,
    chroma_denoise: Level = 0.0,
    sharpen_p: float = 0.0,
    sharpen_amount: Level = (0.1, 0.5),
    jpeg_quality: Level | None = None,
    jpeg_p: float = 1.0,
    chroma_subsampling: bool = True,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Camera noise on sRGB images on [0, 1]; the arguments are those of ``Camera``.

    Shape:
        x: ``(N, 3, H, W)``; returns the same shape, dtype and device, on [0, 1].
    """
    if x.dim() != 4 or x.shape[1] != 3:
        raise ValueError(f"Camera noise needs RGB images of shape (N, 3, H, W) on [0, 1], not {tuple(x.shape)}.")
    n, _, h, w = x.shape
    if n == 0:
        return x
    xf = _float(x).float().clamp(0.0, 1.0)
    dev = x.device

    # Per-sample camera: colour matrix, white balance, noise level. Drawn in a fixed order
    # so that a seeded generator gives the same camera on every machine.
    mix = _rand((n, len(_CCMS)), x, generator)
    mix = mix / mix.sum(1, keepdim=True)
    ccm = torch.einsum("nk,kij->nij", mix, torch.tensor(_CCMS, device=dev))
    eye = torch.eye(3, device=dev)
    ccm = eye + _uniform(ccm_strength, n, xf, generator).view(n, 1, 1) * (ccm - eye)
    gains = torch.ones(n, 3, device=dev)
    gains[:, 0] = _uniform(red_gain, n, xf, generator)
    gains[:, 2] = _uniform(blue_gain, n, xf, generator)
    shot_n = _log_uniform(shot, n, xf, generator)
    jitter = read_jitter * _randn((n,), x, generator)
    read_n = torch.exp(read_slope * torch.log(shot_n.clamp_min(1e-30)) + read_offset + jitter)
    read_n = torch.where(shot_n > 0, read_n, torch.zeros_like(read_n))

    # 1. Unprocess: sRGB -> linear sRGB -> camera RGB -> before white balance.
    lin = _srgb_to_linear(_untone(xf))
    raw = _apply_matrix(torch.linalg.inv(ccm), lin) / gains.view(n, 3, 1, 1)

    # 2-3. Shot and read noise on the Bayer sites only, then demosaicked.
    masks = _bayer_masks(h, w, dev)
    var = shot_n.view(n, 1, 1, 1) * raw.clamp_min(0) + read_n.view(n, 1, 1, 1)
    cfa = (var.sqrt() * masks).sum(1, keepdim=True) * _randn((n, 1, h, w), x, generator)
    demosaicked = _demosaic_bilinear(cfa * masks)
    if malvar_p > 0:
        use = (_rand((n,), x, generator) < malvar_p).view(n, 1, 1, 1)
        demosaicked = torch.where(use, _demosaic_malvar(cfa), demosaicked)
    noisy_raw = raw + demosaicked

    # 4. The forward pipeline: white balance, colour matrix, gamma, tone curve.
    def forward(r: torch.Tensor) -> torch.Tensor:
        return _tone(_linear_to_srgb(_apply_matrix(ccm, r * gains.view(n, 3, 1, 1))))

    clean = forward(raw)
    noise = forward(noisy_raw) - clean

    # 5. In-camera noise reduction and sharpening act on the noise (see the module doc).
    a_luma = _uniform(denoise, n, xf, generator).view(n, 1, 1, 1)
    a_chroma = _uniform(chroma_denoise, n, xf, generator).view(n, 1, 1, 1)
    sharpen = (_rand((n,), x, generator) < sharpen_p).float() * _uniform(sharpen_amount, n, xf, generator)
    if _any(denoise) or _any(chroma_denoise):
        m = _ycc_matrix(dev)
        ycc = torch.einsum("ij,njhw->nihw", m, noise)
        luma, chroma = ycc[:, :1], ycc[:, 1:]
        luma = luma + a_luma * (_blur(luma, 1.0) - luma)
        chroma = chroma + a_chroma * (_blur(chroma, 2.0) - chroma)
        noise = torch.einsum("ij,njhw->nihw", torch.linalg.inv(m), torch.cat([luma, chroma], 1))
    if sharpen_p > 0:
        noise = noise + sharpen.view(n, 1, 1, 1) * (noise - _blur(noise, 1.0))
    out = (xf + noise).clamp(0.0, 1.0)

    if jpeg_quality is not None and jpeg_p > 0:
        quality = _uniform(jpeg_quality, n, xf, generator)
        use = (_rand((n,), x, generator) < jpeg_p).view(n, 1, 1, 1)
        out = torch.where(use, jpeg(out, quality, chroma_subsampling), out)
    return out.to(x.dtype)


def _any(level: Level) -> bool:
    return (level[1] if isinstance(level, tuple) else level) > 0


def _check_number(name: str, value: Any, lo: float = -math.inf, hi: float = math.inf) -> float:
    if isinstance(value, (list, tuple)):
        raise ValueError(f"{name}={value!r} is not valid: expected one number, not a range.")
    return check_level(name, value, lo, hi)  # type: ignore[return-value]


# Settings that match each real set of benchmarks/noise_camera.py on its own (every
# correlation within 0.1 of the set's, measured on the set's clean images). The sets differ
# too much for one setting to match all three (neighbouring-pixel correlation 0.44 on SIDD
# phones, 0.70 on DSLR JPEGs; channel correlation 0.3 on Nam, 0.67 on PolyU), so Camera's
# defaults draw a camera per sample from a span around them and match the mean of the three.
CAMERA_PRESETS: dict[str, dict[str, Any]] = {
    # Canon DSLR in-camera JPEGs: smooth, strongly chroma-denoised noise.
    "polyu": {
        "shot": (1e-3, 4e-3),
        "ccm_strength": (0.0, 0.1),
        "malvar_p": 0.0,
        "denoise": (0.35, 0.5),
        "chroma_denoise": (0.9, 1.0),
        "jpeg_quality": (85.0, 95.0),
        "jpeg_p": 1.0,
    },
    # Canon and Nikon DSLR JPEGs: smooth noise, colour noise left in.
    "nam": {
        "shot": (4e-4, 2e-3),
        "ccm_strength": (0.4, 0.6),
        "malvar_p": 1.0,
        "denoise": (0.5, 0.7),
        "chroma_denoise": 0.0,
        "jpeg_quality": (85.0, 95.0),
        "jpeg_p": 1.0,
    },
    # Smartphone raw rendered to PNG: strong, fine-grained noise, no JPEG.
    "sidd": {
        "shot": (1.5e-3, 1.2e-2),
        "ccm_strength": (0.45, 0.65),
        "malvar_p": 1.0,
        "denoise": 0.0,
        "chroma_denoise": 0.0,
        "jpeg_quality": None,
    },
}


@register_noise
class Camera(Noise):
    """Realistic camera noise for sRGB photos on [0, 1]: sensor noise through a camera pipeline.

    Each sample gets its own camera: a colour matrix, white-balance gains, a noise level,
    noise-reduction strengths, sharpening and a JPEG quality, all drawn from the ranges
    below. See the module docstring for the pipeline and ``camera`` for the function.

    Args:
        shot: shot-noise gain in linear raw space (variance per unit of signal, white = 1):
            a number or a ``(lo, hi)`` range drawn log-uniformly. About 1e-4 is a clean
            DSLR frame, 1e-2 a phone in dim light. 0 means no sensor noise.
        read_slope, read_offset, read_jitter: the read-noise variance follows the shot
            noise in log space, ``log(read) = read_slope * log(shot) + read_offset +
            read_jitter * N(0, 1)`` (a sensor with more gain has more of both).
        red_gain, blue_gain: white-balance gains (green is 1), numbers or ranges.
        ccm_strength: how far the colour matrix is from the identity, 0..1 (1: the blend of
            camera matrices as it is); its negative off-diagonals anti-correlate the
            channels' noise, so this sets much of the cross-channel correlation.
        malvar_p: the chance a sample is demosaicked by Malvar-He-Cutler (gradient
            corrected, as MATLAB's ``demosaic``) rather than bilinearly.
        denoise: strength (0..1) of the camera's luma noise reduction, a Gaussian blur of
            the noise's luma (std 1 pixel) blended in by this fraction.
        chroma_denoise: the same for the chroma (std 2 pixels): cameras smooth colour
            noise much harder than luma noise, which makes the channels' noise alike.
        sharpen_p: the chance a sample is sharpened (an unsharp mask on the noise).
        sharpen_amount: the unsharp mask's amount, a number or a range.
        jpeg_quality: JPEG quality 1..100 (a number or a range), or None for no JPEG.
        jpeg_p: the chance a sample is saved as JPEG (when ``jpeg_quality`` is not None).
        chroma_subsampling: JPEG with 4:2:0 chroma, as cameras save.

    Shape:
        x: ``(N, 3, H, W)`` sRGB on [0, 1]; returns the same shape, dtype and device.

    Example:
        >>> import torch, daekit as dk
        >>> x_noisy = dk.noise.Camera()(torch.rand(4, 3, 64, 64), generator=torch.Generator().manual_seed(0))
        >>> sidd_like = dk.noise.Camera(**dk.noise.CAMERA_PRESETS["sidd"])
    """

    _params = (
        "shot",
        "read_slope",
        "read_offset",
        "read_jitter",
        "red_gain",
        "blue_gain",
        "ccm_strength",
        "malvar_p",
        "denoise",
        "chroma_denoise",
        "sharpen_p",
        "sharpen_amount",
        "jpeg_quality",
        "jpeg_p",
        "chroma_subsampling",
    )
    _unchanged_hint = "shot is 0 and no JPEG is asked for; raise shot or give a jpeg_quality"

    def __init__(
        self,
        shot: Level = (4e-4, 1.2e-2),
        read_slope: float = 2.0,
        read_offset: float = 1.0,
        read_jitter: float = 0.25,
        red_gain: Level = (1.5, 2.4),
        blue_gain: Level = (1.3, 2.0),
        ccm_strength: Level = (0.2, 0.7),
        malvar_p: float = 0.6,
        denoise: Level = (0.0, 0.6),
        chroma_denoise: Level = (0.0, 0.8),
        sharpen_p: float = 0.0,
        sharpen_amount: Level = (0.1, 0.5),
        jpeg_quality: Level | None = (80.0, 98.0),
        jpeg_p: float = 0.6,
        chroma_subsampling: bool = True,
    ) -> None:
        self.shot = check_level("shot", shot, 0.0, 1.0)
        self.read_slope = _check_number("read_slope", read_slope, 0.0, 10.0)
        self.read_offset = _check_number("read_offset", read_offset, -20.0, 20.0)
        self.read_jitter = _check_number("read_jitter", read_jitter, 0.0, 5.0)
        self.red_gain = check_level("red_gain", red_gain, 0.25, 8.0)
        self.blue_gain = check_level("blue_gain", blue_gain, 0.25, 8.0)
        self.ccm_strength = check_level("ccm_strength", ccm_strength, 0.0, 1.0)
        self.malvar_p = _check_number("malvar_p", malvar_p, 0.0, 1.0)
        self.denoise = check_level("denoise", denoise, 0.0, 1.0)
        self.chroma_denoise = check_level("chroma_denoise", chroma_denoise, 0.0, 1.0)
        self.sharpen_p = _check_number("sharpen_p", sharpen_p, 0.0, 1.0)
        self.sharpen_amount = check_level("sharpen_amount", sharpen_amount, 0.0, 5.0)
        self.jpeg_quality = None if jpeg_quality is None else check_level("jpeg_quality", jpeg_quality, 1.0, 100.0)
        self.jpeg_p = _check_number("jpeg_p", jpeg_p, 0.0, 1.0)
        if not isinstance(chroma_subsampling, bool):
            raise ValueError(f"chroma_subsampling={chroma_subsampling!r} is not valid: expected True or False.")
        self.chroma_subsampling = chroma_subsampling

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        out = camera(
            x,
            shot=self.shot,
            read_slope=self.read_slope,
            read_offset=self.read_offset,
            read_jitter=self.read_jitter,
            red_gain=self.red_gain,
            blue_gain=self.blue_gain,
            ccm_strength=self.ccm_strength,
            malvar_p=self.malvar_p,
            denoise=self.denoise,
            chroma_denoise=self.chroma_denoise,
            sharpen_p=self.sharpen_p,
            sharpen_amount=self.sharpen_amount,
            jpeg_quality=self.jpeg_quality,
            jpeg_p=self.jpeg_p,
            chroma_subsampling=self.chroma_subsampling,
            generator=generator,
        )
        if _any(self.shot) or (self.jpeg_quality is not None and self.jpeg_p > 0):
            self._warn_if_unchanged(x, out)
        return out


# ---------------------------------------------------------------------------------------
# Correlated Gaussian
# ---------------------------------------------------------------------------------------

_MAX_CORRELATION = 0.95
_RADIUS = 8


def _kernel_for_correlation(rho: torch.Tensor) -> torch.Tensor:
    """Per-sample 1-D Gaussian kernels (N, 2R+1) with unit energy whose lag-1 autocorrelation is ``rho``.

    The kernel's width is found by bisection (vectorised over samples): the lag-1
    autocorrelation of noise blurred by ``k`` is ``sum k[j] k[j+1] / sum k[j]^2``, which
    grows with the width.
    """
    t = torch.arange(-_RADIUS, _RADIUS + 1, device=rho.device, dtype=torch.float32)

    def kernel(width: torch.Tensor) -> torch.Tensor:
        k = torch.exp(-(t**2) / (2 * width[:, None] ** 2))
        return k / k.square().sum(1, keepdim=True).sqrt()

    lo = torch.full_like(rho, 1e-3)
    hi = torch.full_like(rho, 4.0)
    for _ in range(30):
        mid = (lo + hi) / 2
        k = kernel(mid)
        r = (k[:, 1:] * k[:, :-1]).sum(1)
        lo, hi = torch.where(r < rho, mid, lo), torch.where(r < rho, hi, mid)
    return kernel((lo + hi) / 2)


def correlated_gaussian(
    x: torch.Tensor,
    std: Level,
    correlation: Level = 0.5,
    channel_correlation: Level = 0.0,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Gaussian noise with a lag-1 spatial correlation and a cross-channel correlation.

    White noise is blurred by a per-sample Gaussian kernel chosen so that neighbouring
    entries correlate by ``correlation`` (along every spatial axis), mixed across channels
    so that every pair of channels correlates by ``channel_correlation``, and scaled to
    ``std``. Each of the three is a number or a ``(lo, hi)`` range (one draw per sample).

    Shape:
        x: ``(N, C, T)`` or ``(N, C, H, W)``; returns the same shape and dtype.
    """
    std = check_level("std", std)
    correlation = check_level("correlation", correlation, 0.0, _MAX_CORRELATION)
    channel_correlation = check_level("channel_correlation", channel_correlation, 0.0, 1.0)
    if x.dim() not in (3, 4):
        raise ValueError(f"correlated Gaussian noise needs (N, C, T) or (N, C, H, W) data, not {tuple(x.shape)}.")
    n, c = x.shape[:2]
    xf = _float(x)
    if n == 0:
        return x
    rho = per_sample(correlation, x, generator).flatten().expand(n).clone()
    cc = per_sample(channel_correlation, x, generator).flatten().expand(n).clone()
    s = per_sample(std, x, generator)
    z = _randn(x.shape, x, generator)
    k = _kernel_for_correlation(rho.to(torch.float32))  # (N, K)
    taps = k.shape[1]
    # One kernel per sample, shared by its channels: a grouped convolution over N * C planes.
    w = k.repeat_interleave(c, 0)
    planes = z.reshape(1, n * c, *x.shape[2:])
    if x.dim() == 3:
        planes = F.conv1d(F.pad(planes, (_RADIUS, _RADIUS), mode="circular"), w.view(n * c, 1, taps), groups=n * c)
    else:
        planes = F.pad(planes, (_RADIUS, _RADIUS, 0, 0), mode="circular")
        planes = F.conv2d(planes, w.view(n * c, 1, 1, taps), groups=n * c)
        planes = F.pad(planes, (0, 0, _RADIUS, _RADIUS), mode="circular")
        planes = F.conv2d(planes, w.view(n * c, 1, taps, 1), groups=n * c)
    z = planes.reshape(x.shape)
    if c > 1:
        # The symmetric square root of (1 - cc) I + cc 11^T: unit variances, pairwise cc.
        a = torch.sqrt(1 - cc)
        b = (torch.sqrt(1 + (c - 1) * cc) - a) / c
        mixm = a.view(n, 1, 1) * torch.eye(c, device=x.device) + b.view(n, 1, 1)
        z = torch.einsum("nij,nj...->ni...", mixm, z)
    return (xf + s * z).to(x.dtype)


@register_noise
class CorrelatedGaussian(Noise):
    """Gaussian noise correlated in space and across channels; see ``correlated_gaussian``.

    Args:
        std: standard deviation on the data's scale, a number or a ``(lo, hi)`` range.
        correlation: lag-1 spatial autocorrelation, 0 (white) to 0.95.
        channel_correlation: correlation between any two channels, 0 to 1.

    Shape:
        x: ``(N, C, T)`` or ``(N, C, H, W)``.

    Example:
        >>> import torch, daekit as dk
        >>> noise = dk.noise.CorrelatedGaussian(std=(0, 0.1), correlation=0.7, channel_correlation=0.5)
        >>> x_noisy = noise(torch.rand(4, 3, 32, 32))
    """

    _params = ("std", "correlation", "channel_correlation")
    _unchanged_hint = "std is below the resolution of the data's type; raise it or use float32 data"

    def __init__(self, std: Level = 0.05, correlation: Level = 0.6, channel_correlation: Level = 0.4) -> None:
        self.std = check_level("std", std)
        self.correlation = check_level("correlation", correlation, 0.0, _MAX_CORRELATION)
        self.channel_correlation = check_level("channel_correlation", channel_correlation, 0.0, 1.0)

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        out = correlated_gaussian(x, self.std, self.correlation, self.channel_correlation, generator)
        if _any(self.std):
            self._warn_if_unchanged(x, out)
        return out


# ---------------------------------------------------------------------------------------
# Measuring how noise is correlated
# ---------------------------------------------------------------------------------------

RESIDUAL_STATISTICS = ("h1", "v1", "h2", "v2", "rg", "rb", "gb")


def residual_correlations(noisy: torch.Tensor, clean: torch.Tensor) -> dict[str, float]:
    """How the residual ``noisy - clean`` of RGB images is correlated, averaged over the batch.

    ``h1``, ``v1``, ``h2``, ``v2``: the Pearson correlation of the residual with itself
    shifted by 1 or 2 pixels horizontally or vertically, per channel, then the mean over
    channels; ``rg``, ``rb``, ``gb``: the correlation between two channels' residuals.
    Each is computed per image, then averaged over images. The scale does not matter
    (correlations), so [0, 1] and 0..255 data read alike.

    Shape:
        noisy, clean: ``(N, 3, H, W)``, H and W at least 3.
    """
    r = _float(noisy).double() - _float(clean).double()

    def corr(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        a = a - a.mean((-2, -1), keepdim=True)
        b = b - b.mean((-2, -1), keepdim=True)
        den = (a.square().mean((-2, -1)) * b.square().mean((-2, -1))).sqrt().clamp_min(1e-20)
        return (a * b).mean((-2, -1)) / den

    out = {}
    for lag in (1, 2):
        out[f"h{lag}"] = corr(r[..., :, :-lag], r[..., :, lag:]).mean(1)
        out[f"v{lag}"] = corr(r[..., :-lag, :], r[..., lag:, :]).mean(1)
    for name, (i, j) in {"rg": (0, 1), "rb": (0, 2), "gb": (1, 2)}.items():
        out[name] = corr(r[:, i], r[:, j])
    return {k: float(out[k].mean()) for k in RESIDUAL_STATISTICS}
