"""Reading a saved :class:`~daekit.apps.anomaly.DAEDetector` back, refusing a folder that
was tampered with: every fitted number is checked (finite; scales above 0, as they are
divided by; one per feature and per member), every tensor belongs to a member or to a
latent term, and one probe score of a zero block proves the members take the fitted width.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import torch

from ..dae import DenoisingAutoencoder
from ..io import ModelFileError
from ..io_checks import BUILD_ERRORS, config_numbers, config_section
from .anomaly_prep import check_params

# ``det`` below is the DAEDetector being loaded, typed as Any: anomaly.py imports this
# module, and an import back (even for type checking only) would make a cycle.


def restore_params(path: str | os.PathLike, det: Any, config: dict) -> None:
    """Set ``det``'s constructor arguments from ``config``, checked by the rules ``fit`` applies."""
    params = dict(config_section(path, config, "params"))
    # Folders saved before these settings existed were fitted and thresholded the old way.
    params.setdefault("latent_keep", 1.0)
    params.setdefault("combine", "mean")
    params.setdefault("trim", None)
    for name in ("hidden_sizes", "scaler"):
        if isinstance(params.get(name), list):
            params[name] = tuple(params[name])
    try:
        det.set_params(**params)
        check_params(det.get_params())
    except (TypeError, ValueError, KeyError) as e:
        raise ModelFileError(f"{path}/config.json holds parameters DAEDetector refuses: {e}") from None


def restore_fitted(path: str | os.PathLike, det: Any, config: dict, tensors: dict[str, torch.Tensor]) -> None:
    """Set ``det``'s fitted state from ``config`` and ``tensors`` (as ``read_model_folder``
    gives them), or raise ``ModelFileError`` saying what does not fit."""
    fitted = config_section(path, config, "fitted")
    members = config.get("members")
    if not isinstance(members, list) or len(members) != det.n_estimators:
        raise ModelFileError(f"{path}/config.json does not list the {det.n_estimators} members its detector has.")
    k = len(members)
    try:
        det.n_features_in_ = n = int(fitted["n_features_in"])
        det.member_scalers_ = [str(s) for s in fitted["member_scalers"]]
        det.feature_names_ = [str(s) for s in fitted.get("feature_names") or []]
        det.slow_channels_ = [int(c) for c in fitted.get("slow_channels", [])]
    except (KeyError, TypeError, ValueError) as e:
        raise ModelFileError(f"{path} is not a complete DAEDetector folder ({type(e).__name__}: {e}).") from None
    if n < 1 or len(det.member_scalers_) != k or len(det.feature_names_) not in (0, n):
        raise ModelFileError(f"{path}/config.json is inconsistent: its fitted facts do not match {k} members of {n}.")
    if any(not 0 <= c < n for c in det.slow_channels_):
        raise ModelFileError(f"{path}/config.json lists slow channels outside its {n} channels.")
    lo = config_numbers(path, "fitted.scale_min", fitted.get("scale_min"), length=n)
    span = config_numbers(path, "fitted.scale_span", fitted.get("scale_span"), positive=True, length=n)
    if lo.size != k * n or span.size != k * n:
        raise ModelFileError(f"{path}/config.json does not hold one scaling per member ({k} of {n} values).")
    det.scale_min_, det.scale_span_ = lo.reshape(k, n), span.reshape(k, n)
    member_scale = config_numbers(path, "fitted.member_scale", fitted.get("member_scale"), positive=True, length=k)
    det.member_scale_ = member_scale.tolist()
    det.threshold_ = float(config_numbers(path, "fitted.threshold", fitted.get("threshold")))
    det.score_range_ = tuple(config_numbers(path, "fitted.score_range", fitted.get("score_range"), length=2).tolist())
    _restore_latent(path, det, fitted, tensors, k)
    det.members_ = [_member(path, det, cfg, tensors, i) for i, cfg in enumerate(members)]
    _check_no_stray_tensors(path, tensors, k, len(det.latent_scale_))
    _probe(path, det)


def _restore_latent(path: str | os.PathLike, det: Any, fitted: dict, tensors: dict[str, torch.Tensor], k: int) -> None:
    scales = fitted.get("latent_scale") or []
    det.latent_scale_ = config_numbers(path, "fitted.latent_scale", scales, positive=True).tolist() if scales else []
    if len(det.latent_scale_) not in (0, k) or (det.latent_weight and det.window is None and not det.latent_scale_):
        raise ModelFileError(f"{path}/config.json does not hold one latent scale per member.")
    try:
        det.latent_mean_ = [tensors[f"latent{i}.mean"].double().numpy() for i in range(len(det.latent_scale_))]
        det.latent_precision_ = [
            tensors[f"latent{i}.precision"].double().numpy() for i in range(len(det.latent_scale_))
        ]
    except KeyError as e:
        raise ModelFileError(f"{path}/model.safetensors lacks the latent tensor {e}.") from None


def _member(
    path: str | os.PathLike, det: Any, cfg: Any, tensors: dict[str, torch.Tensor], i: int
) -> DenoisingAutoencoder:
    if not isinstance(cfg, dict):
        raise ModelFileError(f"{path}/config.json describes member {i} with no object.")
    prefix = f"member{i}."
    state = {name[len(prefix) :]: t for name, t in tensors.items() if name.startswith(prefix)}
    dae = DenoisingAutoencoder.from_weights(cfg, state, source=f"{path} (member {i})")
    try:
        return dae.to(det._device()).double().eval()
    except (RuntimeError, AssertionError) as e:  # e.g. device 'cuda' on a machine without one
        raise ModelFileError(f"{path}: its device {det.device!r} cannot be used here ({e}).") from None


def _check_no_stray_tensors(path: str | os.PathLike, tensors: dict[str, torch.Tensor], k: int, n_latent: int) -> None:
    # A tensor that belongs to nothing means the folder is not what its config describes.
    known = tuple(f"member{i}." for i in range(k))
    latent = {f"latent{i}.{part}" for i in range(n_latent) for part in ("mean", "precision")}
    for name in tensors:
        if not name.startswith(known) and name not in latent:
            raise ModelFileError(f"{path}/model.safetensors has a tensor '{name}' that no part of the detector uses.")


def _probe(path: str | os.PathLike, det: Any) -> None:
    """Score one block of zeros: the members must take the fitted width (and window), and
    the latent terms must fit the members' codes; the score must be finite."""
    try:
        score = det.decision_function(np.zeros((det.window or 1, det.n_features_in_)))
    except (*BUILD_ERRORS, IndexError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ModelFileError(f"the members in {path} do not fit its fitted facts ({first}).") from None
    if not np.isfinite(score).all():
        raise ModelFileError(f"{path} gives non-finite scores: its model folder is damaged.")
