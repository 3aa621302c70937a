"""Value types for recipe fields: what an engine flag can actually take.

Integers fit a C ``int`` (engines parse their flags with ``stoi``/``int``), floats are finite,
text has no control characters and a bounded length, hosts parse as an IP address or a
hostname, environment names are POSIX names.
"""

from __future__ import annotations

import ipaddress
import math
import re
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field, StringConstraints

INT32_MAX = 2**31 - 1
# Parallel sizes: far past any real deployment, small enough that products of them (the GPU
# count, per-GPU lists in `plan`) stay cheap.
PARALLEL_MAX = 4096

_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")  # tab is fine
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_HOST_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")


def _no_control(value: str) -> str:
    if _CONTROL.search(value):
        raise ValueError("must not contain control characters (NUL, newline, escape…)")
    return value


def _path_parts(value: str) -> str:
    if any(len(part.encode("utf-8", "surrogatepass")) > 255 for part in value.split("/")):
        raise ValueError("has a path component longer than 255 bytes (a file name's limit)")
    return value


def _strict_int(value: Any) -> Any:
    # YAML `true` is not a count; refuse it before pydantic coerces it to 1.
    if isinstance(value, bool):
        raise ValueError("must be a whole number, not true/false")
    return value


def _host(value: str) -> str:
    text = value.strip("[]") if value.startswith("[") else value
    try:
        ipaddress.ip_address(text)
        return text
    except ValueError:
        pass
    labels = text.rstrip(".").split(".")
    if len(text) > 253 or not text or not all(_HOST_LABEL.match(label) for label in labels):
        raise ValueError("must be an IP address or a hostname")
    return text


def _env_name(value: str) -> str:
    if not _ENV_NAME.match(value):
        raise ValueError("must be an environment variable name ([A-Za-z_][A-Za-z0-9_]*)")
    return value


def _finite(value: float) -> float:
    if not math.isfinite(value):
        raise ValueError("must be a finite number")
    return value


# Text that ends up in an argv, a file name or a manifest: one line, bounded.
Text = Annotated[str, StringConstraints(max_length=4096), AfterValidator(_no_control)]
# A file path or hub id: also within what a file system takes.
PathText = Annotated[Text, AfterValidator(_path_parts)]
# Free prose (descriptions, notes): bounded, newlines allowed, no NUL.
Prose = Annotated[str, StringConstraints(max_length=16384)]
Host = Annotated[str, StringConstraints(max_length=255), AfterValidator(_host)]
EnvName = Annotated[str, StringConstraints(max_length=255), AfterValidator(_env_name)]
EnvValue = Annotated[str, StringConstraints(max_length=32768), AfterValidator(_no_control)]
FiniteFloat = Annotated[float, AfterValidator(_finite)]
Count = Annotated[int, BeforeValidator(_strict_int), Field(ge=1, le=INT32_MAX)]
NonNegative = Annotated[int, BeforeValidator(_strict_int), Field(ge=0, le=INT32_MAX)]
ParallelSize = Annotated[int, BeforeValidator(_strict_int), Field(ge=1, le=PARALLEL_MAX)]
# A flag name for the engine (speculative.extra keys): letters, digits, '_' and '-'.
FlagName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")]
ExtraScalar = Annotated[
    str | bool | int | float | None,
    AfterValidator(lambda v: _extra_scalar(v)),
]


def _extra_scalar(value: Any) -> Any:
    if isinstance(value, float):
        return _finite(value)
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 2**63 - 1:
        raise ValueError("integer out of range")
    if isinstance(value, str):
        return _no_control(value)
    return value
