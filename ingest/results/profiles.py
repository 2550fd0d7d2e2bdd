"""asv's profiles, decoded: the cProfile data `asv run --profile` stores in a result file.

asv keeps one profile per benchmark (all its parameter combinations combined): base64 of zlib-compressed
pstats data (asv.results.Results.get_profile). In a schema-2 result file it is the ``profile`` column of
the benchmark's row in ``results`` (its position given by ``result_columns``); schema-1 files keep a
top-level ``profiles`` object, benchmark -> the same text. pstats data is a marshal dump of
``{(file, line, function): (primitive calls, total calls, total time, cumulative time, callers)}``,
exactly what ``pstats.Stats`` loads; it is decoded here with the same ``marshal.loads``, then checked
field by field so that anything else is refused with the reason.

Pure functions, no warehouse and no Dagster: the profiles asset (assets/profiles.py) writes the rows.
"""

from __future__ import annotations

import base64
import binascii
import json
import marshal
import zlib
from dataclasses import dataclass

# The largest decompressed profile accepted: a profile of a big project is a few MB; a zip bomb is refused.
MAX_PROFILE_BYTES = 64 * 1024 * 1024


class ProfileError(ValueError):
    """A profile that cannot be decoded; the message is the quarantine reason (one line)."""


@dataclass(frozen=True)
class FunctionStats:
    """One function of one profile: pstats' key and its four numbers."""

    file: str
    line: int
    function: str
    primitive_calls: int  # pstats' cc
    total_calls: int  # pstats' nc
    total_time: float  # tt: seconds in the function itself
    cumulative_time: float  # ct: seconds in it and everything it called


@dataclass(frozen=True)
class EncodedProfile:
    benchmark: str
    text: object  # as found in the file: normally the base64 string


def profiles_in_document(doc: object) -> list[EncodedProfile]:
    """Every non-null profile of one parsed result file, in file order; [] when there is none."""
    if not isinstance(doc, dict):
        return []
    found: list[EncodedProfile] = []
    columns = doc.get("result_columns")
    results = doc.get("results")
    if isinstance(columns, list) and "profile" in columns and isinstance(results, dict):
        index = columns.index("profile")
        for benchmark, row in results.items():
            if isinstance(row, list) and len(row) > index and row[index] is not None:
                found.append(EncodedProfile(str(benchmark), row[index]))
    legacy = doc.get("profiles")  # schema 1
    if isinstance(legacy, dict):
        found.extend(EncodedProfile(str(b), text) for b, text in legacy.items() if text is not None)
    return found


def profiles_in_text(content: str) -> list[EncodedProfile]:
    """As profiles_in_document, from the file's JSON text (asv writes NaN and Infinity: Python's json
    reads them)."""
    return profiles_in_document(json.loads(content))


def profile_bytes(text: object) -> bytes:
    """The pstats bytes of one stored profile (asv's get_profile), or ProfileError with the reason."""
    if not isinstance(text, str):
        raise ProfileError(f"profile is a JSON {type(text).__name__}, not a base64 string")
    try:
        compressed = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise ProfileError(f"profile is not base64 ({exc})") from None
    inflater = zlib.decompressobj()
    try:
        data = inflater.decompress(compressed, MAX_PROFILE_BYTES)
    except zlib.error as exc:
        raise ProfileError(f"profile is not zlib data ({exc})") from None
    if inflater.unconsumed_tail:
        raise ProfileError(f"profile decompresses to more than {MAX_PROFILE_BYTES:,} bytes")
    if not inflater.eof:
        raise ProfileError("profile's zlib data is truncated")
    return data


def decode_pstats(data: bytes) -> list[FunctionStats]:
    """The functions of pstats bytes, as ``pstats.Stats`` reads them (marshal), each entry checked."""
    try:
        stats = marshal.loads(data)
    except (EOFError, ValueError, TypeError) as exc:
        raise ProfileError(f"profile is not pstats data ({exc or type(exc).__name__})") from None
    if not isinstance(stats, dict):
        raise ProfileError(f"profile holds a {type(stats).__name__}, not pstats' dict of functions")
    rows: list[FunctionStats] = []
    for key, value in stats.items():
        if not (
            isinstance(key, tuple)
            and len(key) == 3
            and isinstance(key[0], str)
            and isinstance(key[1], int)
            and isinstance(key[2], str)
        ):
            raise ProfileError(f"profile entry key {key!r:.80} is not (file, line, function)")
        if not (
            isinstance(value, tuple)
            and len(value) == 5
            and all(isinstance(v, int) for v in value[:2])
            and all(isinstance(v, (int, float)) for v in value[2:4])
        ):
            raise ProfileError(f"profile entry for {key[2]} is not (cc, nc, tt, ct, callers)")
        cc, nc, tt, ct, _callers = value
        rows.append(FunctionStats(key[0], key[1], key[2], cc, nc, float(tt), float(ct)))
    return rows


def decode_profile(text: object) -> list[FunctionStats]:
    """One stored profile (base64 of zlib of pstats data) -> its functions; ProfileError on anything else."""
    return decode_pstats(profile_bytes(text))
