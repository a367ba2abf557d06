"""The submit path keeps every paid job: answers cut off or unreadable, a batch failing on a
later part, adoption after a crash, and the claim lease against a slow owner. Real client,
the IBM emulator over HTTP, faults injected at its HTTP layer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import qiskit_ibm_runtime  # noqa: F401  (main-thread import: see tests/test_ibm_backend.py)

from tests.ibm_emulator import IBMRuntimeEmulator
from tests.test_ibm_backend import FAST, latest, qrun, spec_text, use_specs


@pytest.fixture
def emu(project: Path, make_ibm_emulator: Any) -> IBMRuntimeEmulator:
    """A fast emulator whose jobs stay queued until released; env points at it."""
    emulator = make_ibm_emulator(**FAST)
    emulator.jobs.hold()
    return emulator


# --- #4: an answer to POST /jobs that is cut off or does not parse -----------------------


@pytest.mark.parametrize(
    "fault",
    [{"truncate": True}, {"body": b"<html>502 from a proxy</html>"}],
    ids=["cut-off", "unparsable"],
)
def test_a_garbled_answer_to_a_job_creation_is_looked_up_not_failed(
    project: Path, emu: IBMRuntimeEmulator, capsys: pytest.CaptureFixture[str], fault: dict
) -> None:
    """The job was created and its answer lost in transit: the tag lookup finds it."""
    use_specs(project, hw=spec_text("hw"))
    emu.faults.add("POST", r"^/api/v1/jobs$", None, **fault)
    ran = qrun(capsys, "apply")
    assert emu.faults.pending == []
    assert ran.code == 0, ran.text
    (job_id,) = list(emu.jobs)
    run = latest(project, "hw")
    assert run["status"] == "queued" and [j["id"] for j in run["jobs"]] == [job_id]
    assert emu.submissions == 1
