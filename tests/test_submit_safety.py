"""The submit path keeps every paid job: answers cut off or unreadable, a batch failing on a
later part, adoption after a crash, and the claim lease against a slow owner. Real client,
the IBM emulator over HTTP, faults injected at its HTTP layer."""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Callable
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


JOBS = r"^/api/v1/jobs$"


# --- #9: the deadline ends before the claim lease; the lease is kept while posting -------


def test_a_deadline_longer_than_the_claim_lease_is_refused_naming_both(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QRUN_STALE_CLAIM_MINUTES", "5")
    monkeypatch.setenv("QRUN_DEADLINE_SECONDS", "600")
    ran = qrun(capsys, "plan")
    assert ran.code == 2, ran.text
    assert "QRUN_DEADLINE_SECONDS (600 s)" in ran.err and "QRUN_STALE_CLAIM_MINUTES" in ran.err
    monkeypatch.setenv("QRUN_DEADLINE_SECONDS", "240")
    assert qrun(capsys, "plan").code == 0


def test_the_default_deadline_is_shortened_to_end_before_a_short_lease(
    project: Path,
    emu: IBMRuntimeEmulator,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A POST that never answers: the apply gives up before its claim could be taken over."""
    use_specs(project, hw=spec_text("hw"))
    monkeypatch.setenv("QRUN_STALE_CLAIM_MINUTES", "0.1")  # 6 s
    monkeypatch.setenv("QRUN_IBM_READ_TIMEOUT", "20")
    gate = threading.Event()
    emu.faults.add("POST", JOBS, None, gate=gate)
    try:
        ran = qrun(capsys, "apply")
    finally:
        gate.set()
    assert ran.code == 1
    assert "deadline of 5.4 s" in ran.out and "QRUN_STALE_CLAIM_MINUTES = 0.1 min" in ran.out
    wait_for(lambda: emu.submissions == 1)  # the held POST lands once released


def wait_for(done: Callable[[], bool], process: subprocess.Popen[str] | None = None) -> None:
    """Poll until done (a generous bound; a runner process must still be alive)."""
    deadline = time.monotonic() + 120
    while not done():
        assert process is None or process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "gave up waiting"
        time.sleep(0.05)
