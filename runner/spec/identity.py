"""The run identity: a hash of what changes the experiment's outcome, and nothing else.

Description, tags, comments, formatting, key order, schedule, budget and analysis
settings are left out, so editing them does not trigger a new run; shots, circuits,
template parameters (with defaults applied), QASM bytes and the backend are in.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

IDENTITY_VERSION = 1
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=True)
"""json.dumps with these options, without setting up an encoder for every spec."""


def run_identity(
    target: str,
    execution: dict[str, Any],
    circuits: list[dict[str, Any]],
    qasm_digests: dict[str, str],
) -> str:
    """sha256 hex of the canonical JSON of the execution-relevant spec."""
    relevant = {
        "version": IDENTITY_VERSION,
        "target": target,
        "execution": {
            k: v
            for k, v in execution.items()
            if k not in ("schedule", "max_qpu_seconds", "max_cost")
        },
        "circuits": [
            {**c, "qasm_sha256": qasm_digests.get(c["qasm"])} if c.get("qasm") else c
            for c in circuits
        ],
    }
    canonical = _CANONICAL.encode(relevant)
    return hashlib.sha256(canonical.encode()).hexdigest()
