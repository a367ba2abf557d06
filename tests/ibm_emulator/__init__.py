"""An emulator of the IBM Quantum Runtime REST API (plus IAM) for tests.

The unmodified ``qiskit_ibm_runtime`` client talks to it over HTTP on 127.0.0.1; jobs
run on Aer. Importing this package does not import qiskit.

    emu = IBMRuntimeEmulator(queued_polls=1, running_polls=1)   # or the ibm_emulator fixture
    os.environ.update(emu.client_env())    # IAM_URL, GLOBAL_SEARCH_URL, ..., IBM_QUANTUM_*
    service = QiskitRuntimeService(**emu.service_kwargs())   # url_resolver -> base + /api/v1
    emu.jobs.hold() / release(id) / force(id, "Failed", reason=...) / fail_next(reason)
    emu.faults.add("GET", r"/jobs/[^/]+$", 429, times=1, retry_after=1, delay=None)
    emu.requests, emu.api_requests(), emu.submissions, emu.set_usage(...), emu.revoke_tokens()
    emu.close()
"""

from __future__ import annotations

from .config import EmulatorConfig
from .emulator import IBMRuntimeEmulator, emulator_url_resolver
from .execution import CostModel
from .faults import Fault, RecordedRequest

__all__ = [
    "CostModel",
    "EmulatorConfig",
    "Fault",
    "IBMRuntimeEmulator",
    "RecordedRequest",
    "emulator_url_resolver",
]
