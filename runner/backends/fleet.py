"""IBM Quantum's devices as qrun knows them offline: the current fleet and the retired ones.

The service's own answer comes first: a retired device is simply missing from the instance's
backend listing (and `service.backend(name)` cannot tell "retired" from "mistyped"). This
table supplies what the listing cannot: that a name was a real device and the day it was
retired, and a fallback fleet for messages when no credentials are at hand. Runs already
recorded on a retired device stay collectable (IBM keeps its jobs retrievable).
Check the dates against https://quantum.cloud.ibm.com/docs/guides/retired-qpus.
"""

from __future__ import annotations

from collections.abc import Sequence

RETIRED: dict[str, str | None] = {
    "ibm_brisbane": "2025-11-03",
    "ibm_torino": "2026-04-01",
    "ibm_strasbourg": "2026-04-27",
    "ibm_sherbrooke": None,  # retired before ibm_brisbane; day not recorded here
    "ibm_kyiv": None,  # likewise
}
"""device name -> retirement day (ISO date), None when the day is not known."""

CURRENT_FLEET = (
    "ibm_boston",
    "ibm_fez",
    "ibm_kingston",
    "ibm_marrakesh",
    "ibm_miami",
    "ibm_pittsburgh",
)
"""IBM's Heron devices as of late 2026 (their fake twins ship with qiskit-ibm-runtime)."""


def is_retired(name: str, listed: Sequence[str] | None = None) -> bool:
    """A device the table knows as retired and, when the service was asked, not listed."""
    return name in RETIRED and (listed is None or name not in listed)


def retired_note(name: str) -> str:
    """'ibm_brisbane was retired on 2025-11-03' (or without the day when unknown)."""
    day = RETIRED.get(name)
    return f"{name} was retired on {day}" if day else f"{name} has been retired"


def retirement_message(name: str, listed: Sequence[str] | None = None) -> str:
    """Why a retired target is blocked, with the devices to use instead (the service's
    listing when it was asked, else the known current fleet)."""
    current = sorted(n for n in (listed or CURRENT_FLEET) if n not in RETIRED)
    return (
        f"{retired_note(name)}; current devices: {', '.join(current)}. Change [backend] target "
        "(a local:fake_<device> twin simulates one offline)"
    )
