"""Model folders on disk (``config.json`` + ``model.safetensors``), written atomically.

A model folder is the one artifact format of daekit. Nothing here unpickles anything:
weights are safetensors, the description is JSON, and the weights' SHA-256 sits in the
config so that a tampered or half-written folder is caught with a clear sentence.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import socket
import stat
import tempfile
import time
from collections.abc import Collection
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np
import torch

__all__ = [
    "ModelFileError",
    "write_model_folder",
    "read_model_folder",
    "read_config",
    "MODEL_CLASSES",
    "bundled_models",
    "atomic_write_bytes",
    "AtomicOutput",
    "OutputError",
    "NonFiniteOutputError",
    "check_finite_output",
    "check_output_file",
    "check_output_folder",
    "make_output_folder",
    "default_file_mode",
    "CONFIG_NAME",
    "WEIGHTS_NAME",
    "PRETRAINED_DIR",
]

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
FORMAT = "daekit"
#: Where the model folders shipped inside the package live (``gray``, ``speech8k``...).
PRETRAINED_DIR = Path(__file__).resolve().parent / "pretrained"


class ModelFileError(ValueError):
    """A model folder is missing, truncated, tampered with, or does not fit its model."""


def default_file_mode() -> int:
    """The permissions a plain ``open(path, "w")`` would give a new file (0666 less the umask)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename, so a reader (or a
    crash) never sees half a file. Refusals are one sentence naming ``path`` (see
    :class:`AtomicOutput`)."""
    with AtomicOutput(path) as out, open(out.tmp, "wb") as fh:
        fh.write(data)


class OutputError(ValueError, OSError):
    """An output path cannot be written (a folder where a file goes, a file on the way, no
    space, no permission); the message is one sentence naming the path the user gave.

    A ValueError, as every refusal of an argument is, and an OSError, as writes failed
    before: code that caught either keeps working."""


class NonFiniteOutputError(ValueError):
    """Values about to be written hold NaN or infinity: nothing was written."""


def check_finite_output(values: Any, path: str | os.PathLike | None = None) -> None:
    """Refuse to write model output that holds NaN or infinity (integers always pass).

    A diverged or damaged model gives such values; written out they would look like a
    result. Called by the writers (arrays, images, audio, score tables) before they write.

    Raises:
        NonFiniteOutputError: one sentence, naming ``path`` when given.
    """
    arr = values.detach().cpu().numpy() if isinstance(values, torch.Tensor) else np.asarray(values)
    if arr.dtype.kind not in "fc" or np.isfinite(arr).all():
        return
    what = f"{path} was not written" if path is not None else "nothing was written"
    raise NonFiniteOutputError(
        f"{what}: the model produced non-finite values (NaN or infinity), so its model folder may be damaged."
    )


def check_output_file(path: str | os.PathLike) -> Path:
    """``path`` as a :class:`~pathlib.Path` when a file can be written there; creates nothing.

    CLI commands call it before long work, so a bad ``-o`` is refused before, not after, it.

    Raises:
        OutputError: ``path`` is a folder, or a file lies where one of its folders should.
    """
    path = Path(path)
    _check_folders_above(path)
    if path.is_dir():
        raise OutputError(f"{path} is a folder, not a file: give the name of the file to write.")
    return path


def check_output_folder(path: str | os.PathLike) -> Path:
    """``path`` as a :class:`~pathlib.Path` when it is a folder or can become one; creates nothing.

    Raises:
        OutputError: ``path`` is a file, or a file lies where one of its folders should.
    """
    path = Path(path)
    _check_folders_above(path)
    if path.exists() and not path.is_dir():
        raise OutputError(f"{path} is a file, not a folder: give a folder to write into (it is created if missing).")
    return path


def make_output_folder(path: str | os.PathLike) -> Path:
    """Create folder ``path`` (and its parents) after :func:`check_output_folder`."""
    path = check_output_folder(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:  # a race with another process, a read-only disk: still one sentence
        raise OutputError(f"{path}: the folder cannot be created ({_reason(e)}).") from None
    return path


def _check_folders_above(path: Path) -> None:
    # The nearest ancestor that exists decides: a folder is fine (missing ones below it get
    # created), anything else blocks every path beneath it.
    for parent in path.parents:
        if parent.exists() or parent.is_symlink():
            if not parent.is_dir():
                raise OutputError(f"{path}: {parent} is a file, not a folder.")
            return


def _reason(e: OSError) -> str:
    # strerror first: str(e) of an errno error carries "[Errno 28]" and the temp file's name.
    return (e.strerror or str(e) or type(e).__name__).lower()


class AtomicOutput:
    """A temporary file next to ``path`` that becomes ``path`` in one rename, or vanishes.

    For writers that need a file name (soundfile, ONNX, ``torch.save``): write to ``tmp``,
    then :meth:`commit`; :meth:`discard` (or an exception in a ``with`` block) removes it,
    so an existing ``path`` stays byte-identical after any failure. Folders above ``path``
    are created; stale temporary files of ``path`` left by killed writers are removed first
    (see :func:`_is_stale`). Errors name ``path``, never the hidden temporary file.

    Example:
        >>> with AtomicOutput("out.bin") as out:  # doctest: +SKIP
        ...     out.tmp.write_bytes(b"...")
    """

    def __init__(self, path: str | os.PathLike):
        self.path = check_output_file(path)
        make_output_folder(self.path.parent)
        _remove_stale_temps(self.path)
        try:
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=_temp_prefix(self.path), suffix=".tmp")
            try:
                os.fchmod(fd, default_file_mode())  # mkstemp makes the file private (0600)
            finally:
                os.close(fd)
        except OSError as e:
            raise OutputError(f"{self.path} cannot be written ({_reason(e)}).") from None
        self.tmp = Path(tmp)
        self.done = False

    def commit(self) -> Path:
        """Flush the finished temporary file to disk and rename it onto ``path``."""
        try:
            _fsync(self.tmp)
            os.replace(self.tmp, self.path)
        except OSError as e:
            self.discard()
            if self.path.is_dir():  # became a folder after the checks: say so plainly
                raise OutputError(f"{self.path} is a folder, not a file: give the name of the file to write.") from None
            raise OutputError(f"{self.path} cannot be written ({_reason(e)}).") from None
        self.done = True
        _fsync_folder(self.path.parent)
        return self.path

    def discard(self) -> None:
        """Remove the temporary file; ``path`` is left as it was."""
        self.done = True
        self.tmp.unlink(missing_ok=True)

    def __enter__(self) -> AtomicOutput:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.done:
            return
        if exc is None:
            self.commit()
            return
        self.discard()
        if isinstance(exc, OSError) and not isinstance(exc, OutputError):
            # e.g. a full disk while writing: the error names the temp file; name the output.
            raise OutputError(f"{self.path} cannot be written ({_reason(exc)}).") from None


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_folder(path: Path) -> None:
    # Makes the rename itself durable; some file systems cannot fsync a folder, which only
    # weakens durability after a power cut, never atomicity: ignore them.
    try:
        _fsync(path)
    except OSError:
        pass


# Temporary files are ".NAME.PID@HOST.RANDOM.tmp": the owner is in the name, so a later
# run can tell a file whose writer was killed from one still being written.
_HOST = re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname())[:40]
#: A temporary file whose owner cannot be checked (another host, an older daekit's name)
#: counts as stale only when untouched this long: writers keep touching theirs.
STALE_TEMP_AGE_S = 24 * 3600


def _temp_prefix(path: Path) -> str:
    return f".{_temp_stem(path)}.{os.getpid()}@{_HOST}."


def _temp_stem(path: Path) -> str:
    return path.name[:120]  # keeps the temp name within the 255-byte limit of file names


#: folder → the hidden ".tmp" names found in it, listed once per process: writing 10,000
#: images into one folder must not list that folder 10,000 times. A temporary file a killed
#: writer leaves while this process runs is then removed by the next run instead.
_TEMP_NAMES: dict[str, list[str]] = {}


def _temp_names(folder: Path) -> list[str]:
    key = os.path.abspath(folder)
    if key not in _TEMP_NAMES:
        try:
            with os.scandir(folder) as entries:
                _TEMP_NAMES[key] = [e.name for e in entries if e.name.startswith(".") and e.name.endswith(".tmp")]
        except OSError:
            return []
    return _TEMP_NAMES[key]


def _remove_stale_temps(path: Path) -> None:
    """Remove the temporary files of ``path`` (and only of ``path``) whose writer is gone."""
    stem = _temp_stem(path)
    pattern = re.compile(rf"\.{re.escape(stem)}\.(?:(\d+)@([A-Za-z0-9-]*)\.)?[a-z0-9_]+\.tmp")
    names = _temp_names(path.parent)
    for name in list(names):
        match = pattern.fullmatch(name)
        if match and _is_stale(path.parent / name, match.group(1), match.group(2)):
            names.remove(name)
            with contextlib.suppress(OSError):  # another run may be removing it too
                (path.parent / name).unlink()


def _is_stale(tmp: Path, pid: str | None, host: str | None) -> bool:
    """Whether temporary file ``tmp`` was left by a writer that is gone.

    The rule is chosen never to delete a file that is still being written: on this host a
    writer is gone when its process id no longer runs (a reused id only delays the clean-up);
    a file from another host sharing the folder, or named by an older daekit, is stale only
    when nobody has written to it for ``STALE_TEMP_AGE_S``.
    """
    try:
        st = tmp.lstat()
    except OSError:
        return False
    if not stat.S_ISREG(st.st_mode):
        return False
    if pid is not None and host == _HOST:
        return int(pid) != os.getpid() and not _process_runs(int(pid))
    return time.time() - st.st_mtime > STALE_TEMP_AGE_S


def _process_runs(pid: int) -> bool:
    if pid <= 0:  # kill(0, ...) would ask about our own process group
        return False
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except (ProcessLookupError, OverflowError):  # gone, or an id no process can have
        return False
    except PermissionError:  # another user's process: it runs
        return True
    return True


def write_model_folder(path: str | os.PathLike, config: dict, tensors: dict[str, torch.Tensor]) -> Path:
    """Write ``config.json`` and ``model.safetensors`` into folder ``path`` (created).

    Each file is written atomically, weights first; the config carries the weights'
    hash, so a crash between the two leaves a folder that ``read_model_folder`` rejects
    rather than one that silently mixes old and new.
    """
    from safetensors.torch import save

    from . import __version__

    path = make_output_folder(path)
    blob = save({k: v.detach().cpu().contiguous() for k, v in tensors.items()})
    config = {
        "format": FORMAT,
        "daekit_version": __version__,
        **config,
        "weights_sha256": hashlib.sha256(blob).hexdigest(),
    }
    atomic_write_bytes(path / WEIGHTS_NAME, blob)
    atomic_write_bytes(path / CONFIG_NAME, (json.dumps(config, indent=2) + "\n").encode())
    return path


def read_config(path: str | os.PathLike) -> dict:
    """The parsed ``config.json`` of a model folder, checked to be a daekit config."""
    path = Path(path)
    if not path.is_dir():
        raise ModelFileError(
            f"{path} is not a model folder (expected a folder holding {CONFIG_NAME} and {WEIGHTS_NAME})."
        )
    cfg_path = path / CONFIG_NAME
    if not cfg_path.is_file():
        raise ModelFileError(f"{path} has no {CONFIG_NAME}: it is not a daekit model folder.")
    try:
        config = json.loads(cfg_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ModelFileError(f"{cfg_path} is not valid JSON ({e.msg if hasattr(e, 'msg') else e}).") from None
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        raise ModelFileError(f"{cfg_path} is not a daekit model config (its 'format' is not '{FORMAT}').")
    _check_class_is_known(cfg_path, config.get("class"))
    return config


#: Every class a model folder can hold, with the command and the Python call that load it.
#: A config naming anything else (``"os.system"``) is refused before anything is built.
MODEL_CLASSES: dict[str, tuple[str, str]] = {
    "DenoisingAutoencoder": ("daekit denoise", "daekit.DenoisingAutoencoder.from_pretrained"),
    "ImageDenoiser": ("daekit image denoise --model DIR", "daekit.ImageDenoiser.from_pretrained"),
    "SpeechEnhancer": ("daekit audio denoise --model DIR", "daekit.SpeechEnhancer.from_pretrained"),
    "DAEDetector": ("daekit anomaly score", "daekit.DAEDetector.load"),
    "DAEFeatureExtractor": ("daekit features transform", "daekit.DAEFeatureExtractor.load"),
}


def _check_class_is_known(cfg_path: Path, cls: object) -> None:
    if not isinstance(cls, str) or cls not in MODEL_CLASSES:  # a list or dict in JSON is not hashable
        said = f"names the class {cls!r}, which is not a daekit model class" if cls else "names no model 'class'"
        raise ModelFileError(f"{cfg_path} {said} (daekit writes {', '.join(MODEL_CLASSES)}).")


def bundled_models(classes: Collection[str]) -> dict[str, Path]:
    """The shipped model folders whose config names one of ``classes`` (e.g.
    ``("ImageDenoiser",)``): name → folder, sorted by name; unreadable folders are skipped."""
    if not PRETRAINED_DIR.is_dir():
        return {}
    found = {}
    for p in sorted(PRETRAINED_DIR.iterdir()):
        try:
            if read_config(p).get("class") in classes:
                found[p.name] = p
        except ModelFileError:
            continue
    return found


def read_model_folder(path: str | os.PathLike) -> tuple[dict, dict[str, torch.Tensor]]:
    """Read and verify a model folder: returns ``(config, tensors)``.

    Raises:
        ModelFileError: one sentence saying which file is wrong and how.
    """
    from safetensors.torch import load

    path = Path(path)
    config = read_config(path)
    w_path = path / WEIGHTS_NAME
    if not w_path.is_file():
        raise ModelFileError(f"{path} has no {WEIGHTS_NAME}: the weights are missing.")
    blob = w_path.read_bytes()
    expected = config.get("weights_sha256")
    if expected and hashlib.sha256(blob).hexdigest() != expected:
        raise ModelFileError(
            f"{w_path} does not match the hash in {CONFIG_NAME}: the file was changed, "
            "truncated or written by another save."
        )
    try:
        tensors = load(blob)
    except Exception:  # safetensors raises its own error types for every kind of damage
        raise ModelFileError(f"{w_path} is not a readable safetensors file (truncated or corrupt).") from None
    _check_finite_weights(w_path, tensors)
    return config, tensors


def _check_finite_weights(w_path: Path, tensors: dict[str, torch.Tensor]) -> None:
    # A NaN or an infinity in any weight turns every output into NaN: refuse the folder
    # here rather than write NaN results that look like any other.
    for name, t in tensors.items():
        if t.is_floating_point() and not bool(torch.isfinite(t).all()):
            raise ModelFileError(f"{w_path} holds non-finite values (NaN or infinity) in '{name}': it is damaged.")
