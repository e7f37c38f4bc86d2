"""The allowed values of every numeric option, defined once.

The Python API checks its arguments with these objects (a ``ValueError`` that names the
argument) and the CLI builds its argparse types from the same objects
(:mod:`daekit.cli.options`), so ``ImageDenoiser(...)(x, sigma=nan)`` and
``daekit image denoise --sigma nan`` are refused by one rule in the same words.

Example:
    >>> from daekit.checks import PROBABILITY, SIGMA_255
    >>> SIGMA_255.check("sigma", 25)
    25
    >>> PROBABILITY.check("p", 1.5)
    Traceback (most recent call last):
    ...
    ValueError: p must be a number from 0 to 1, not 1.5.
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = [
    "Range",
    "check_device",
    "argparse_type",
    "device_argument",
    "parse_device",
    "COUNT",
    "POSITIVE_INT",
    "SEED",
    "PORT",
    "FINITE",
    "POSITIVE",
    "NON_NEGATIVE",
    "PROBABILITY",
    "OPEN_UNIT",
    "FRACTION",
    "SIGMA_255",
    "SNR_DB",
    "WINDOW",
    "CONTAMINATION",
    "SAMPLE_RATE",
    "N_FFT",
    "TILE",
    "PATCH",
    "DEVICE_NAMES",
]


@dataclass(frozen=True)
class Range:
    """A kind of number (``int`` or ``float``, always finite) and the interval it must lie in.

    Args:
        kind: ``int`` (integers only: ``2.0`` is not a batch size) or ``float``.
        low, high: the bounds (None: unbounded on that side).
        low_open, high_open: exclude the bound itself.
        what: how the allowed values read in a sentence ("a whole number of 1 or more").
    """

    kind: type
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    what: str = ""

    def describe(self) -> str:
        if self.what:
            return self.what
        noun = "a whole number" if self.kind is int else "a finite number"
        parts = []
        if self.low is not None:
            parts.append(f"{'above' if self.low_open else 'at least'} {_fmt(self.low)}")
        if self.high is not None:
            parts.append(f"{'below' if self.high_open else 'at most'} {_fmt(self.high)}")
        return noun + (" " + " and ".join(parts) if parts else "")

    def contains(self, value: float) -> bool:
        if not math.isfinite(value):
            return False
        if self.low is not None and (value < self.low or (self.low_open and value == self.low)):
            return False
        return self.high is None or not (value > self.high or (self.high_open and value == self.high))

    def check(self, name: str, value: Any, *, optional: bool = False, words: tuple[str, ...] = ()) -> Any:
        """``value`` itself when allowed (None too when ``optional``, and any of ``words``
        such as ``"auto"``); else ``ValueError`` naming ``name``. Booleans and strings
        are refused: ``True`` is not a batch size."""
        if (value is None and optional) or (isinstance(value, str) and value in words):
            return value
        number = _as_number(value)
        if (
            number is None
            or (self.kind is int and not isinstance(value, numbers.Integral))
            or not self.contains(number)
        ):
            allowed = "".join(f"{w!r} or " for w in words) + self.describe()
            raise ValueError(f"{name} must be {allowed}, not {_show(value)}.")
        return value

    def parse(self, text: str) -> int | float:
        """The number a command-line string means; ``ValueError`` saying what is allowed."""
        try:
            number = int(text) if self.kind is int else float(text)
        except ValueError:
            raise ValueError(f"must be {self.describe()}, not {_show(text)}") from None
        if not self.contains(number):
            raise ValueError(f"must be {self.describe()}, not {_show(text)}")
        return number


def _as_number(value: Any) -> float | None:
    # numbers.Real covers Python and numpy numbers; bool is a Real too, but True is not a batch size.
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return None
    try:
        return float(value)
    except (OverflowError, ValueError):  # an integer too large for a float is not a sane option
        return None


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


COUNT = Range(int, low=0, what="a whole number of 0 or more")
POSITIVE_INT = Range(int, low=1, what="a whole number of 1 or more")
SEED = Range(int, low=0, high=2**32 - 1, what="a whole number from 0 to 4294967295")
PORT = Range(int, low=1, high=65535, what="a port number from 1 to 65535")
FINITE = Range(float, what="a finite number")
POSITIVE = Range(float, low=0, low_open=True, what="a finite number above 0")
NON_NEGATIVE = Range(float, low=0, what="a finite number of 0 or more")
PROBABILITY = Range(float, low=0, high=1, what="a number from 0 to 1")
OPEN_UNIT = Range(float, low=0, high=1, low_open=True, high_open=True, what="a number between 0 and 1 (both excluded)")
FRACTION = Range(float, low=0, high=1, high_open=True, what="a number from 0 up to (not including) 1")
#: Image noise levels are on the 0-255 scale everywhere in the CLI (DESIGN.md, conventions).
SIGMA_255 = Range(float, low=0, high=255, what="a noise level from 0 to 255 (the 0-255 pixel scale)")
SNR_DB = Range(float, low=-100, high=100, what="an SNR from -100 to 100 dB")

WINDOW = Range(int, low=2, what="a whole number of 2 or more")
#: PyOD's rule: the expected share of anomalies lies in (0, 0.5].
CONTAMINATION = Range(float, low=0, high=0.5, low_open=True, what="a share above 0 and at most 0.5")
SAMPLE_RATE = Range(int, low=1000, high=768_000, what="a sample rate from 1000 to 768000 Hz")
N_FFT = Range(int, low=16, high=16384, what="an STFT size from 16 to 16384 samples")
#: Image tiles and training patches: the models pad to a multiple of 8 or 16, so smaller is no image.
TILE = Range(int, low=16, high=65536, what="a side from 16 to 65536 pixels")
PATCH = Range(int, low=16, high=4096, what="a side from 16 to 4096 pixels")

DEVICE_NAMES = "auto, cpu, cuda, cuda:N or mps"
_DEVICE = re.compile(r"auto|cpu|mps|cuda(:\d+)?")


def parse_device(text: str) -> str:
    """``text`` when it names a device daekit can use; ``ValueError`` otherwise."""
    if not isinstance(text, str) or not _DEVICE.fullmatch(text.strip().lower()):
        raise ValueError(f"must be one of {DEVICE_NAMES}, not {_show(text)}")
    return text.strip().lower()


def argparse_type(spec: Range) -> Callable[[str], int | float]:
    """The argparse ``type=`` for numbers in ``spec``: a bad value becomes argparse's
    "argument --flag: must be ..." error. Its ``.range`` is ``spec`` (the CLI's tests read it)."""
    import argparse

    def parse(text: str) -> int | float:
        try:
            return spec.parse(text)
        except ValueError as e:
            raise argparse.ArgumentTypeError(str(e)) from None

    parse.__name__ = spec.describe()
    parse.range = spec  # type: ignore[attr-defined]
    return parse


def device_argument(text: str) -> str:
    """The argparse ``type=`` for ``--device``."""
    import argparse

    try:
        return parse_device(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def check_device(name: str, value: Any) -> str:
    """The API form of :func:`parse_device`: the message names the argument."""
    try:
        return parse_device(value)
    except ValueError as e:
        raise ValueError(f"{name} {e}.") from None
