"""The explicit registry of circuit templates: a spec's ``template = "…"`` is looked up here.

Adding a template means writing it in one of the family modules and listing it below;
there is no discovery magic. Importing this module does not import qiskit.
"""

from __future__ import annotations

import difflib

from runner.errors import QrunError
from runner.templates import benchmarks, characterisation, entangling, variational
from runner.templates.base import Template

TEMPLATES: dict[str, Template] = {
    "bell": entangling.BELL,
    "ghz": entangling.GHZ,
    "qft": entangling.QFT,
    "qaoa_maxcut": variational.QAOA_MAXCUT,
    "vqe_ansatz": variational.VQE_ANSATZ,
    "quantum_volume": benchmarks.QUANTUM_VOLUME,
    "t1": characterisation.T1,
    "t2_ramsey": characterisation.T2_RAMSEY,
    "t2_echo": characterisation.T2_ECHO,
    "readout": characterisation.READOUT,
    "ghz_parity": characterisation.GHZ_PARITY,
    "rb": characterisation.RB,
}


def get_template(name: str) -> Template:
    """The template called ``name``; an unknown name gets a "did you mean" hint and the list."""
    try:
        return TEMPLATES[name]
    except KeyError:
        pass
    close = difflib.get_close_matches(str(name), TEMPLATES, n=1)
    hint = f" Did you mean '{close[0]}'?" if close else ""
    raise QrunError(f"Unknown template '{name}'.{hint} Valid: {', '.join(TEMPLATES)}") from None


def describe_templates() -> list[tuple[str, str]]:
    """(name, one-line description) pairs in registry order, for ``--help``-style listings."""
    return [(template.name, template.description) for template in TEMPLATES.values()]
