"""The `ibm` backend when things go wrong: a runner killed between submit and record, service
faults (503, 429 with Retry-After, an outage past the client's retries), bad credentials,
and secrets that must never reach output or files. Real client, emulator over HTTP."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import qiskit_ibm_runtime  # noqa: F401  (main-thread import: see tests/test_ibm_backend.py)

from tests.ibm_emulator import IBMRuntimeEmulator
from tests.test_ibm_backend import (
    FAST,
    Ran,
    analysis_of,
    ghz_sweep,
    latest,
    qrun,
    qrun_process,
    qrun_subprocess,
    spec_text,
    use_specs,
)

CRASH_WAIT_SECONDS = 120  # a generous bound for the subprocess to get past POST /jobs


@pytest.fixture
def emu(project: Path, make_ibm_emulator: Any) -> IBMRuntimeEmulator:
    """A fast emulator (jobs finish on their first poll unless held); env points at it."""
    return make_ibm_emulator(**FAST)


def get_job_polls(emulator: IBMRuntimeEmulator) -> int:
    return sum(
        1 for m, p in emulator.api_requests() if m == "GET" and re.fullmatch(r"/jobs/\w+", p)
    )


# --- a runner killed after submitting, before the lock records the job ids --------------


def crash_after_submit(project: Path, emulator: IBMRuntimeEmulator) -> dict[str, Any]:
    """Run `qrun apply` in a subprocess and kill -9 it once both jobs of its batch are on
    the service. Leaving the batch (PATCH /sessions/{id}) is the first request after the
    last POST /jobs and comes before the lock is written: the emulator holds it there."""
    emulator.faults.add("PATCH", r"^/api/v1/sessions/", None, delay=30)
    process = qrun_process(project, "apply", QRUN_MAX_CIRCUITS_PER_JOB="1")
    try:
        deadline = time.monotonic() + CRASH_WAIT_SECONDS
        while emulator.submissions < 2:
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "the runner never submitted"
            time.sleep(0.05)
    finally:
        process.kill()
        process.communicate()
    emulator.faults.clear()
    run = latest(project, "pair")
    assert run["status"] == "claimed" and "jobs" not in run  # submitted, but not recorded
    return run


@pytest.mark.parametrize("lost_parts", [0, 1], ids=["all-jobs-found", "one-part-missing"])
def test_a_runner_killed_after_submit_is_adopted_not_resubmitted(
    project: Path,
    make_ibm_emulator: Any,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    lost_parts: int,
) -> None:
    emulator = make_ibm_emulator(**FAST)
    use_specs(project, pair=spec_text("pair", circuits=ghz_sweep(2, 3)))
    claimed = crash_after_submit(project, emulator)
    submitted = {
        part: job.id
        for job in emulator.jobs.all()
        for part in (0, 1)
        if f"qrun:part:{part}" in job.tags
    }
    assert len(submitted) == 2

    fresh = qrun(capsys, "plan")  # a fresh claim may be another runner mid-submission
    assert "claimed by" in fresh.out and emulator.submissions == 2

    if lost_parts:  # as if the runner died between the two submissions of its batch
        emulator.jobs.remove(submitted[1])
    later = datetime.now(UTC) + timedelta(hours=1)  # the crashed runner's lease has ended
    monkeypatch.setenv("QRUN_NOW", later.strftime("%Y-%m-%dT%H:%M:%SZ"))
    monkeypatch.setenv("QRUN_MAX_CIRCUITS_PER_JOB", "1")
    applied = qrun(capsys, "apply")
    assert applied.code == 0, applied.text
    assert f"adopted {2 - lost_parts} job(s) already submitted for {claimed['id']}" in applied.out
    assert posted_after_crash(emulator) == lost_parts  # only the missing part is submitted
    run = latest(project, "pair")
    assert run["id"] == claimed["id"] and run["status"] == "completed"
    ids = [j["id"] for j in run["jobs"]]
    assert ids[0] == submitted[0]
    assert (ids[1] == submitted[1]) is (lost_parts == 0)
    assert [j["circuits"] for j in run["jobs"]] == [["ghz[num_qubits=2]"], ["ghz[num_qubits=3]"]]
    doc = analysis_of(project, run)
    assert [c["circuit_id"] for c in doc["circuits"]] == ["ghz[num_qubits=2]", "ghz[num_qubits=3]"]
    assert all(c["fidelity"]["value"] > 0.9 for c in doc["circuits"])


def posted_after_crash(emulator: IBMRuntimeEmulator) -> int:
    """POST /jobs answered after the crashed runner's two (recorded requests, in order)."""
    posts = [r for r in emulator.requests if r.method == "POST" and r.api_path == "/jobs"]
    return len(posts) - 2


# --- service faults -------------------------------------------------------------------


def test_transient_faults_on_reads_are_survived(
    project: Path, make_ibm_emulator: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    emulator = make_ibm_emulator(**FAST)
    emulator.jobs.hold()
    use_specs(project, hw=spec_text("hw"))
    emulator.faults.add("GET", r"/api/v1/backends$", 503)
    emulator.faults.add("GET", r"/api/v1/instances/usage$", 429, retry_after=1)
    emulator.faults.add("GET", r"/api/v1/backends/[^/]+/status$", 429, retry_after=1)
    assert qrun(capsys, "apply").code == 0
    assert latest(project, "hw")["status"] == "queued"

    emulator.jobs.release()
    emulator.faults.add("GET", r"/api/v1/jobs/[^/]+$", 503)
    emulator.faults.add("GET", r"/api/v1/jobs/[^/]+$", 429)  # no Retry-After: qrun retries
    emulator.faults.add("GET", r"/api/v1/jobs/[^/]+/results$", 429, retry_after=1)
    emulator.faults.add("GET", r"/api/v1/jobs/[^/]+/metrics$", 503)
    applied = qrun(capsys, "apply")
    assert applied.code == 0, applied.text
    assert latest(project, "hw")["status"] == "completed"
    assert emulator.faults.pending == []  # every fault was met, and survived
    assert emulator.submissions == 1


def test_an_outage_past_the_retries_fails_fast_and_keeps_the_jobs(
    project: Path, make_ibm_emulator: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    emulator = make_ibm_emulator(**FAST)
    emulator.jobs.hold()
    use_specs(project, a=spec_text("a"), b=spec_text("b"))
    assert qrun(capsys, "apply").code == 0
    jobs = {n: latest(project, n)["jobs"][0]["id"] for n in ("a", "b")}
    emulator.jobs.release()
    # One poll answered 503 six times: the client's first try and its five retries.
    emulator.faults.add("GET", r"/api/v1/jobs/[^/]+$", 503, times=6, retry_after=1)
    polls_before = get_job_polls(emulator)
    applied = qrun(capsys, "apply")
    assert applied.code == 1
    assert emulator.faults.pending == []
    assert get_job_polls(emulator) - polls_before == 6  # b was not polled: the service is down
    for name in ("a", "b"):
        row = next(line for line in applied.out.splitlines() if line.startswith(f"{name} "))
        assert "failed" in row and "unavailable" in row and "HTTP 503" in row, row
        assert "next apply" in row
        run = latest(project, name)
        assert run["status"] == "queued" and run["jobs"][0]["id"] == jobs[name]
    assert "Traceback" not in applied.text

    assert qrun(capsys, "apply").code == 0
    assert {latest(project, n)["status"] for n in ("a", "b")} == {"completed"}
    assert emulator.submissions == 2


# --- credentials ----------------------------------------------------------------------


def test_a_wrong_token_is_one_clear_line_naming_the_variable(
    project: Path,
    emu: IBMRuntimeEmulator,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    wrong = "not-the-right-api-key-4242"
    monkeypatch.setenv("IBM_QUANTUM_TOKEN", wrong)
    use_specs(project, hw=spec_text("hw"))
    ran = qrun(capsys, "apply")
    assert ran.code == 1
    assert "IBM_QUANTUM_TOKEN" in ran.err and "refused the credentials" in ran.err
    assert "Traceback" not in ran.text and wrong not in ran.text
    assert emu.submissions == 0


def test_a_missing_token_names_the_variable(
    project: Path,
    emu: IBMRuntimeEmulator,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("IBM_QUANTUM_TOKEN")
    use_specs(project, hw=spec_text("hw"))
    ran = qrun(capsys, "apply")
    assert ran.code == 1
    assert "set IBM_QUANTUM_TOKEN" in ran.text and "Traceback" not in ran.text
    assert emu.submissions == 0 and emu.requests == []


# --- secrets --------------------------------------------------------------------------


def test_the_token_never_reaches_output_files_or_errors(
    project: Path,
    emu: IBMRuntimeEmulator,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A full cycle (submit and collect in separate processes, a failed job, a retry, a
    cancel, bad credentials) and then a search of everything it produced."""
    outputs: list[Ran] = []
    emu.jobs.hold()
    use_specs(project, hw=spec_text("hw"), flaky=spec_text("flaky", circuits=ghz_sweep(3)))
    emu.jobs.fail_next(reason="Readout failure", count=1)
    outputs.append(qrun_subprocess(project, "apply"))  # submits both
    emu.jobs.release()
    outputs.append(qrun_subprocess(project, "apply"))  # collects: flaky failed, hw completed
    assert {latest(project, "hw")["status"], latest(project, "flaky")["status"]} == {
        "completed",
        "failed",
    }
    emu.jobs.hold()
    outputs.append(qrun(capsys, "retry", "flaky"))
    outputs.append(qrun(capsys, "cancel", "flaky"))
    use_specs(
        project,
        hw=spec_text("hw"),
        flaky=spec_text("flaky", circuits=ghz_sweep(3)),
        more=spec_text("more"),
    )
    monkeypatch.setenv("IBM_QUANTUM_TOKEN", emu.token[::-1])
    outputs.append(qrun(capsys, "apply"))  # refused at the quota check, before any claim
    outputs.append(qrun(capsys, "validate"))  # backend names not checked: a warning
    monkeypatch.setenv("IBM_QUANTUM_TOKEN", emu.token)
    emu.faults.add("GET", r"/api/v1/jobs$", 503, times=6, retry_after=1)
    outputs.append(qrun(capsys, "apply"))  # the adoption lookup meets an outage
    assert [o.code for o in outputs] == [0, 1, 0, 0, 1, 0, 1]
    assert "refused the credentials" in outputs[4].err and "not checked" in outputs[5].out
    assert "unavailable" in outputs[6].out

    secrets = [emu.token, emu.token[::-1]]
    for output in outputs:
        for secret in secrets:
            assert secret not in output.text
        assert "Bearer" not in output.text
    files = [p for p in project.rglob("*") if p.is_file()]
    assert any(".qrun/store" in p.as_posix() for p in files) and len(files) > 10
    for path in files:
        data = path.read_bytes()
        for secret in secrets:
            assert secret.encode() not in data, path
        assert b"Bearer" not in data and b"eyJhbGciOi" not in data, path  # no access token (JWT)


def test_no_post_is_re_sent_after_the_request_went_out() -> None:
    """The session's Retry: a POST whose answer failed in any way but a connection never
    made (a read error, a TLS error while reading, a 5xx) raises instead of posting again;
    a refused connection (nothing sent) and GET reads are retried."""
    from urllib3.exceptions import (
        MaxRetryError,
        NewConnectionError,
        ProtocolError,
        ReadTimeoutError,
        SSLError,
    )

    from runner.backends.ibm_http import retry_policy

    sent = [SSLError("bad record mac"), ProtocolError("Connection aborted"),
            ReadTimeoutError(None, "/jobs", "read timed out")]  # fmt: skip
    for error in sent:
        with pytest.raises((MaxRetryError, ProtocolError, ReadTimeoutError, SSLError)):
            retry_policy().increment("POST", "/jobs", error=error)
    refused = NewConnectionError(None, "connection refused")  # type: ignore[arg-type]
    assert retry_policy().increment("POST", "/jobs", error=refused).connect == 2
    assert retry_policy().increment("GET", "/jobs/x", error=sent[2]).total == 4
