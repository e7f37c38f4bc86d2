"""argparse types for every option that is not free text, built from :mod:`daekit.checks`.

Every numeric flag of every command uses one of these (``tests/test_cli_options.py``
walks the whole parser and fails on a bare ``type=int`` or ``type=float``), so a new
flag cannot forget its range, and a bad value is refused by argparse before any work
starts, in the same words the Python API uses.

Example:
    >>> import argparse
    >>> p = argparse.ArgumentParser(); _ = p.add_argument("--sigma", type=sigma_255)
    >>> p.parse_args(["--sigma", "25"]).sigma
    25.0
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from .. import checks
from ..checks import Range

__all__ = [
    "number",
    "numbers_list",
    "number_or_word",
    "count",
    "positive_int",
    "seed",
    "port",
    "finite",
    "positive",
    "non_negative",
    "probability",
    "open_unit",
    "fraction",
    "sigma_255",
    "snr_db",
    "device",
    "noise_spec",
    "threads",
]


#: The argparse type for numbers in a :class:`~daekit.checks.Range` (its ``.range`` is the Range).
number = checks.argparse_type
#: ``--device``: auto, cpu, cuda, cuda:N or mps.
device = checks.device_argument


def numbers_list(spec: Range) -> Callable[[str], list[int | float]]:
    """The argparse type for a comma separated list of numbers in ``spec`` (``256,64``)."""

    def parse(text: str) -> list[int | float]:
        parts = [part.strip() for part in text.split(",")]
        if not text.strip() or any(not part for part in parts):
            raise argparse.ArgumentTypeError(f"must be comma separated values, each {spec.describe()}, not {text!r}")
        try:
            return [spec.parse(part) for part in parts]
        except ValueError as e:
            raise argparse.ArgumentTypeError(f"each value {e}") from None

    parse.__name__ = f"list of {spec.describe()}"
    parse.range = spec  # type: ignore[attr-defined]
    return parse


def number_or_word(spec: Range, *words: str) -> Callable[[str], Any]:
    """The argparse type for one of ``words`` (returned as given) or a number in ``spec``."""

    def parse(text: str) -> Any:
        if text.strip().lower() in words:
            return text.strip().lower()
        try:
            return spec.parse(text)
        except ValueError:
            allowed = ", ".join(repr(w) for w in words)
            raise argparse.ArgumentTypeError(f"must be {allowed} or {spec.describe()}, not {text!r}") from None

    parse.__name__ = f"{' / '.join(words)} or {spec.describe()}"
    parse.range = spec  # type: ignore[attr-defined]
    return parse


def noise_spec(text: str) -> str:
    """The argparse type for a noise spec (``gaussian:0.1+masking:0.1``): parsed once here
    so a bad spec is refused before the data is read; the text itself is kept."""
    from .. import noise

    try:
        noise.from_spec(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e).rstrip(".")) from None
    return text


count = number(checks.COUNT)
positive_int = number(checks.POSITIVE_INT)
seed = number(checks.SEED)
port = number(checks.PORT)
finite = number(checks.FINITE)
positive = number(checks.POSITIVE)
non_negative = number(checks.NON_NEGATIVE)
probability = number(checks.PROBABILITY)
open_unit = number(checks.OPEN_UNIT)
fraction = number(checks.FRACTION)
sigma_255 = number(checks.SIGMA_255)
snr_db = number(checks.SNR_DB)
#: torch threads: 1 or more (``serve --torch-threads`` alone also takes 0, "torch's default").
threads = positive_int
