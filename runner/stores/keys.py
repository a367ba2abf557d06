"""The object key layout shared by every store, so a local run and a COS run look alike.

experiments bucket: ``<name>/definition.json``, ``<name>/circuits/<circuit id>.qasm``,
``<name>/metadata.json``; results bucket: ``<name>/<run id>/job_<job id>.json``,
``<name>/<run id>/analysis.json``, ``<name>/<run id>/visualizations/<figure>``; circuits
bucket: ``templates/<template>.json``, ``validated/<backend>/<name>/<circuit id>.qasm``.

Every variable part goes through :func:`encode_segment`, which percent-encodes anything
outside ``[A-Za-z0-9._=-]`` (so ``ghz[num_qubits=4]`` becomes ``ghz%5Bnum_qubits=4%5D``).
Percent-decoding inverts it, so distinct inputs give distinct keys; a segment never
contains ``/``, never starts with ``.`` (no ``..``, no hidden files) and stays short enough
for a file name: long segments keep a readable prefix plus a SHA-256 tag after ``~``, a
character the plain encoding always escapes, so the two forms cannot collide.
"""

from __future__ import annotations

import hashlib
import re
from urllib.parse import unquote

SAFE_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._=-")
MAX_SEGMENT = 200
"""Longest encoded segment in bytes; file systems allow 255 per name, S3 1024 per key."""
_HASH_TAG = 16
_SEGMENT_RE = re.compile(r"^(?:[A-Za-z0-9_=-]|%[0-9A-F]{2})(?:[A-Za-z0-9._=-]|%[0-9A-F]{2})*$")


def encode_segment(value: str) -> str:
    """One key segment from any non-empty text, readable when the text is already safe."""
    if not value:
        raise ValueError("an object key segment cannot be empty")
    out: list[str] = []
    for index, char in enumerate(value):
        if char in SAFE_CHARS and not (index == 0 and char == "."):
            out.append(char)
        else:
            out.extend(f"%{byte:02X}" for byte in char.encode("utf-8"))
    encoded = "".join(out)
    if len(encoded) <= MAX_SEGMENT:
        return encoded
    digest = hashlib.sha256(value.encode("utf-8")).hexdigest()[:_HASH_TAG]
    prefix = encoded[: MAX_SEGMENT - _HASH_TAG - 1]
    cut = prefix.rfind("%", len(prefix) - 2)
    if cut != -1:  # never split a %XX escape
        prefix = prefix[:cut]
    return f"{prefix}~{digest}"


def decode_segment(segment: str) -> str:
    """The original text of a segment; long (hashed) segments cannot be decoded."""
    if "~" in segment:
        raise ValueError(f"segment {segment!r} was shortened with a hash and cannot be decoded")
    if not _SEGMENT_RE.match(segment):
        raise ValueError(f"{segment!r} is not an encoded key segment")
    return unquote(segment, errors="strict")


def _join(*segments: str) -> str:
    return "/".join(segments)


# experiments bucket


def experiment_prefix(name: str) -> str:
    """Prefix of everything stored for one experiment (experiments and results buckets)."""
    return encode_segment(name) + "/"


def definition_key(name: str) -> str:
    """The normalized spec of an experiment (experiments bucket)."""
    return _join(encode_segment(name), "definition.json")


def circuit_key(name: str, circuit_id: str) -> str:
    """One logical circuit of an experiment as OpenQASM (experiments bucket)."""
    return _join(encode_segment(name), "circuits", encode_segment(circuit_id) + ".qasm")


def metadata_key(name: str) -> str:
    """Descriptive metadata of an experiment (experiments bucket)."""
    return _join(encode_segment(name), "metadata.json")


# results bucket


def run_prefix(name: str, run_id: str) -> str:
    """Prefix of everything stored for one run (results bucket)."""
    return _join(encode_segment(name), encode_segment(run_id)) + "/"


def job_result_key(name: str, run_id: str, job_id: str) -> str:
    """The raw result of one job of a run (results bucket)."""
    return run_prefix(name, run_id) + "job_" + encode_segment(job_id) + ".json"


def analysis_key(name: str, run_id: str) -> str:
    """The analysis of a run: counts, fidelities, headline metric (results bucket)."""
    return run_prefix(name, run_id) + "analysis.json"


def figure_key(name: str, run_id: str, figure: str) -> str:
    """One rendered figure of a run, figure being its file name (results bucket)."""
    return run_prefix(name, run_id) + "visualizations/" + encode_segment(figure)


# circuits bucket


def template_key(template: str) -> str:
    """A circuit template's description and parameter schema (circuits bucket)."""
    return _join("templates", encode_segment(template) + ".json")


def validated_circuit_key(backend: str, name: str, circuit_id: str) -> str:
    """A circuit known to run on a backend, as OpenQASM (circuits bucket)."""
    return _join(
        "validated",
        encode_segment(backend),
        encode_segment(name),
        encode_segment(circuit_id) + ".qasm",
    )


_SEG = r"[^/]+"
_LAYOUT = {
    "experiments": re.compile(rf"^{_SEG}/(definition\.json|metadata\.json|circuits/{_SEG}\.qasm)$"),
    "results": re.compile(rf"^{_SEG}/{_SEG}/.+$"),
    "circuits": re.compile(rf"^(templates/{_SEG}\.json|validated/{_SEG}/{_SEG}/{_SEG}\.qasm)$"),
}


def is_qrun_key(bucket: str, key: str) -> bool:
    """Whether key has the layout qrun writes in that bucket (housekeeping touches no other)."""
    layout = _LAYOUT.get(bucket)
    return layout is not None and layout.match(key) is not None


def check_key(key: str) -> str:
    """The key itself if it is safe as a relative path; the stores call this before I/O."""
    segments = key.split("/")
    if key.startswith("/") or "\\" in key or "\x00" in key:
        raise ValueError(f"object key {key!r} must be a relative path without '\\' or NUL")
    if any(seg in ("", ".", "..") for seg in segments):
        raise ValueError(f"object key {key!r} has an empty, '.' or '..' segment")
    return key
