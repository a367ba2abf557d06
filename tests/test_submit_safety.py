"""The submit path keeps every paid job: answers cut off or unreadable, a batch failing on a
later part, adoption after a crash, and the claim lease against a slow owner. Real client,
the IBM emulator over HTTP, faults injected at its HTTP layer."""

from __future__ import annotations

import subprocess
import threading
import time
import tomllib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import qiskit_ibm_runtime  # noqa: F401  (main-thread import: see tests/test_ibm_backend.py)

from runner.lock import Lock, RunStatus, read_lock, write_lock
from runner.schedule import parse_time
from tests.conftest import git
from tests.ibm_emulator import IBMRuntimeEmulator
from tests.test_ibm_backend import (
    FAST,
    ghz_sweep,
    latest,
    posted_jobs,
    qrun,
    qrun_process,
    request_of,
    spec_text,
    use_specs,
)
from tests.test_ibm_faults import crash_after_submit

TIME = "%Y-%m-%dT%H:%M:%SZ"


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


# --- #1: a batch failing on a later part keeps the parts already created ----------------

JOBS = r"^/api/v1/jobs$"


def two_parts(project: Path, monkeypatch: pytest.MonkeyPatch, target: str = "ibm_fez") -> None:
    """A spec of two circuits, one per job: a batch of two parts."""
    use_specs(project, pair=spec_text("pair", target=target, circuits=ghz_sweep(2, 3)))
    monkeypatch.setenv("QRUN_MAX_CIRCUITS_PER_JOB", "1")


def test_a_rejected_later_part_fails_the_run_and_cancels_the_parts_created(
    project: Path,
    emu: IBMRuntimeEmulator,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    two_parts(project, monkeypatch)
    emu.faults.add("POST", JOBS, None)  # the first part is created
    emu.faults.add("POST", JOBS, 400, message="circuit ghz too deep for ibm_fez")
    ran = qrun(capsys, "apply")
    assert ran.code == 1 and emu.faults.pending == []
    (first,) = emu.jobs.all()
    assert first.status == "Cancelled"  # nobody pays for half a run
    run = latest(project, "pair")
    assert run["status"] == "failed", run
    assert "too deep" in run["error"] and f"cancelled job(s) {first.id}" in run["error"]
    assert [(j["id"], j["status"]) for j in run["jobs"]] == [(first.id, "cancelled")]
    assert "too deep" in ran.out


@pytest.mark.parametrize(
    "fault",
    [
        {"status": None, "drop": True},  # dropped before IBM read it: no job
        {"status": 400, "message": "You have reached the limit of 1 pending jobs (3458)"},
    ],
    ids=["dropped", "pending-cap"],
)
def test_a_later_part_lost_to_transport_or_the_cap_keeps_the_first_for_the_next_apply(
    project: Path,
    emu: IBMRuntimeEmulator,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    fault: dict[str, Any],
) -> None:
    two_parts(project, monkeypatch)
    emu.faults.add("POST", JOBS, None)
    emu.faults.add("POST", JOBS, **fault)
    ran = qrun(capsys, "apply")
    assert emu.faults.pending == []
    (first,) = emu.jobs.all()
    run = latest(project, "pair")
    assert run["status"] == "claimed" and [j["id"] for j in run["jobs"]] == [first.id], run
    assert first.status != "Cancelled"

    ran = qrun(capsys, "apply")
    assert ran.code == 0, ran.text
    assert "adopted 1 job(s)" in ran.out and "submitting the missing part(s)" in ran.out
    assert posted_jobs(emu) == 3  # the first part, the lost one, the missing one: no second first
    run = latest(project, "pair")
    assert run["status"] == "queued" and run["jobs"][0]["id"] == first.id
    assert [j["circuits"] for j in run["jobs"]] == [["ghz[num_qubits=2]"], ["ghz[num_qubits=3]"]]
    assert sorted(j.id for j in emu.jobs.all()) == sorted(j["id"] for j in run["jobs"])


# --- #8: adoption keeps the device, the transpile info and request.json ------------------


@pytest.mark.parametrize("lost_parts", [0, 1], ids=["all-jobs-found", "one-part-missing"])
def test_least_busy_jobs_adopted_after_a_crash_keep_their_device_and_transpile_info(
    project: Path,
    make_ibm_emulator: Any,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    lost_parts: int,
) -> None:
    emulator = make_ibm_emulator(**FAST)
    use_specs(project, pair=spec_text("pair", target="least_busy", circuits=ghz_sweep(2, 3)))
    crash_after_submit(project, emulator)
    jobs = {
        part: j for j in emulator.jobs.all() for part in (0, 1) if f"qrun:part:{part}" in j.tags
    }
    device = jobs[0].backend
    if lost_parts:  # the crash came between the two parts; the device is now the busiest
        emulator.jobs.remove(jobs[1].id)
    monkeypatch.setenv("QRUN_NOW", (datetime.now(UTC) + timedelta(hours=1)).strftime(TIME))
    monkeypatch.setenv("QRUN_MAX_CIRCUITS_PER_JOB", "1")
    emulator.jobs.hold()
    ran = qrun(capsys, "apply")
    assert ran.code == 0, ran.text
    run = latest(project, "pair")
    assert run["backend"] == device and {emulator.jobs[j["id"]].backend for j in run["jobs"]} == {
        device
    }
    ids = ["ghz[num_qubits=2]", "ghz[num_qubits=3]"]
    assert sorted(run["transpiled"]) == ids
    doc = request_of(project, run)
    assert doc["backend"] == device and sorted(doc["transpiled"]) == ids
    assert doc["transpiled"] == run["transpiled"] and doc["calibration"]


def test_adoption_that_cannot_derive_the_transpile_info_keeps_the_stored_request(
    project: Path, emu: IBMRuntimeEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    """The run's record was lost after request.json was stored (a push that never landed),
    and the device retired since: the job is adopted, request.json is not overwritten."""
    use_specs(project, hw=spec_text("hw"))
    assert qrun(capsys, "apply").code == 0
    submitted = latest(project, "hw")
    before = request_of(project, submitted)
    lock = read_lock(project / "specs", "hw")
    lost = lock.runs[-1].with_(status=RunStatus.CLAIMED, jobs=(), objects=(), transpiled={},
                               backend=None, lease_expires="2000-01-01T00:00:00Z")  # fmt: skip
    write_lock(project / "specs", Lock("hw", (lost,)))
    emu.retire("ibm_fez")
    ran = qrun(capsys, "apply")
    run = latest(project, "hw")
    assert [j["id"] for j in run["jobs"]] == [j["id"] for j in submitted["jobs"]]
    assert request_of(project, run) == before
    assert run["backend"] == "ibm_fez" and run["transpiled"] == submitted["transpiled"]
    assert "adopted 1 job(s)" in ran.out and "could not derive the transpile info" in ran.out
    assert emu.submissions == 1


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


def push_a_batch_of_two(project: Path) -> None:
    """A spec of two GHZ circuits (a batch of two parts, one circuit per job), on origin."""
    use_specs(project, pair=spec_text("pair", circuits=ghz_sweep(2, 3)))
    git(project, "add", "-A")
    git(project, "commit", "-m", "a batch of two")
    git(project, "push")


def test_the_lease_is_renewed_between_parts_of_a_slow_batch(
    origin_and_clone: tuple[Path, Path], make_ibm_emulator: Any
) -> None:
    """Each part's creation is preceded by a renewal once half the lease has passed: a
    second runner reading the origin never sees the claim of an owner still posting expire."""
    bare, project = origin_and_clone
    emulator = make_ibm_emulator(**FAST)
    emulator.jobs.hold()
    push_a_batch_of_two(project)
    lease = 45.0
    slow = emulator.faults.add("POST", JOBS, None, delay=lease / 2 + 0.5)  # the first part
    gate = threading.Event()
    second = emulator.faults.add("POST", JOBS, None, gate=gate)
    process = qrun_process(project, "apply", "--push", QRUN_MAX_CIRCUITS_PER_JOB="1",
                           QRUN_STALE_CLAIM_MINUTES=f"{lease / 60:g}")  # fmt: skip
    try:
        wait_for(lambda: slow.hits == 1, process)
        at_first = origin_run(bare, "pair")
        wait_for(lambda: second.hits == 1, process)
        at_second = origin_run(bare, "pair")
    finally:
        gate.set()
        out, err = process.communicate(timeout=120)
    assert at_first["status"] == at_second["status"] == "claimed"
    assert parse_time(at_second["lease_expires"]) > parse_time(at_first["lease_expires"])
    assert process.returncode == 0, out + err
    run = latest(project, "pair")
    assert run["status"] == "queued" and len(run["jobs"]) == 2 and emulator.submissions == 2


def origin_run(bare: Path, name: str) -> dict[str, Any]:
    """The latest run of a spec as the origin has it now (what another runner would see)."""
    text = git(bare, "show", f"main:specs/{name}.lock.toml")
    return tomllib.loads(text)["runs"][-1]


def wait_for(done: Callable[[], bool], process: subprocess.Popen[str] | None = None) -> None:
    """Poll until done (a generous bound; a runner process must still be alive)."""
    deadline = time.monotonic() + 120
    while not done():
        assert process is None or process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "gave up waiting"
        time.sleep(0.05)


# --- review 2: job ids held in memory are recorded whatever fails with them --------------

LISTING = r"^/api/v1/jobs$"  # the tag lookup (GET), and the job creation (POST)


@pytest.mark.parametrize(
    "faults",
    [
        # part 2's answer never comes, and the lookup by tag meets an outage
        [("POST", None, {"drop": True}), ("GET", 503, {"times": 6, "retry_after": 1})],
        # the credentials stop working mid-batch: the lookup is refused as well
        [("POST", 401, {}), ("GET", 401, {"times": 6})],
    ],
    ids=["outage", "credentials"],
)
def test_parts_created_are_recorded_when_a_later_part_and_the_lookup_fail(
    project: Path,
    emu: IBMRuntimeEmulator,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    faults: list[tuple[str, int | None, dict[str, Any]]],
) -> None:
    use_specs(project, trio=spec_text("trio", circuits=ghz_sweep(2, 3, 4)))
    monkeypatch.setenv("QRUN_MAX_CIRCUITS_PER_JOB", "1")
    emu.faults.add("GET", LISTING, None)  # the lookup before submitting finds nothing
    emu.faults.add("POST", JOBS, None, times=2)  # parts 0 and 1 are created
    for method, status, options in faults:
        emu.faults.add(method, LISTING, status, **options)
    ran = qrun(capsys, "apply")
    assert ran.code == 1
    created = sorted(j.id for j in emu.jobs.all())
    assert len(created) == 2 and posted_jobs(emu) == 3
    run = latest(project, "trio")
    assert run["status"] == "claimed", run
    assert sorted(j["id"] for j in run.get("jobs", [])) == created, run
    assert all(j.status != "Cancelled" for j in emu.jobs.all())


def test_a_job_creation_failing_oddly_after_the_request_went_out_is_not_a_failed_run(
    project: Path, emu: IBMRuntimeEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    """The job is created, but the answer lacks its id (an error qrun does not recognise) and
    the service does not list the job yet: the job may exist, so the run stays claimed and
    its lease is held a while (the next apply would otherwise submit it again at once)."""
    use_specs(project, hw=spec_text("hw"))
    emu.faults.add("GET", LISTING, None)  # the lookup before submitting finds nothing
    emu.faults.add("POST", JOBS, None, body=b'{"backend": "ibm_fez"}')
    emu.faults.add("GET", LISTING, None, times=2, body=b'{"jobs": [], "count": 0}')
    before = datetime.now(UTC)
    ran = qrun(capsys, "apply")
    run = latest(project, "hw")
    assert run["status"] == "claimed", run
    assert emu.faults.pending == [] and emu.submissions == 1
    assert parse_time(run["lease_expires"]) >= before + timedelta(minutes=4), run
    assert "may exist" in ran.out

    again = qrun(capsys, "apply")  # at once: the claim is still held, nothing is posted
    assert again.code == 0, again.text
    assert posted_jobs(emu) == 1 and latest(project, "hw")["status"] == "claimed"


def test_an_unanswered_creation_found_nowhere_holds_the_claim_before_a_retry(
    project: Path, emu: IBMRuntimeEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    use_specs(project, hw=spec_text("hw"))
    emu.faults.add("POST", JOBS, None, drop=True)
    before = datetime.now(UTC)
    assert qrun(capsys, "apply").code == 1
    run = latest(project, "hw")
    assert run["status"] == "claimed" and parse_time(run["lease_expires"]) >= before + timedelta(
        minutes=4
    ), run
    assert qrun(capsys, "apply").code == 0
    assert posted_jobs(emu) == 1  # not posted again while it may still appear


def test_a_rejected_tag_lookup_after_an_unanswered_part_cancels_nothing(
    project: Path,
    emu: IBMRuntimeEmulator,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    two_parts(project, monkeypatch)
    emu.faults.add("GET", LISTING, None)  # the lookup before submitting finds nothing
    emu.faults.add("POST", JOBS, None)  # part 0 is created
    emu.faults.add("POST", JOBS, None, drop=True)
    emu.faults.add("GET", LISTING, 400, message="bad tag filter")  # the lookup in the batch
    qrun(capsys, "apply")
    (first,) = emu.jobs.all()
    assert first.status != "Cancelled"
    run = latest(project, "pair")
    assert run["status"] == "claimed" and [j["id"] for j in run["jobs"]] == [first.id], run


def winner_claims(bare: Path, tmp_path: Path) -> None:
    """Another runner's takeover of the run, pushed to the origin."""
    other = tmp_path / "winner"
    git(tmp_path, "clone", "--quiet", str(bare), str(other))
    lock = read_lock(other / "specs", "pair")
    far = (datetime.now(UTC) + timedelta(hours=1)).strftime(TIME)
    write_lock(other / "specs", lock.upsert(lock.runs[-1].with_(claimed_by="winner:1",
                                                                lease_expires=far)))  # fmt: skip
    git(other, "commit", "-qam", "the winner's claim")
    git(other, "push", "-q")


def foreign_commit(bare: Path, tmp_path: Path) -> None:
    """Someone pushes an unrelated commit: the owner's renewal push is rejected."""
    other = tmp_path / "someone"
    git(tmp_path, "clone", "--quiet", str(bare), str(other))
    (other / "NOTES.md").write_text("notes\n")
    git(other, "add", "NOTES.md")
    git(other, "commit", "-qm", "notes")
    git(other, "push", "-q")


@pytest.mark.parametrize("meanwhile", [winner_claims, foreign_commit], ids=["taken", "git"])
def test_a_renewal_failing_between_parts_keeps_the_winner_or_records_the_part(
    origin_and_clone: tuple[Path, Path],
    make_ibm_emulator: Any,
    tmp_path: Path,
    meanwhile: Callable[[Path, Path], None],
) -> None:
    """While part 0 is posted slowly, the origin moves: taken over, the owner writes nothing
    over the winner's claim; a push failing for good (GitError) still records part 0."""
    bare, project = origin_and_clone
    emulator = make_ibm_emulator(**FAST)
    emulator.jobs.hold()
    push_a_batch_of_two(project)
    lease = 30.0
    slow = emulator.faults.add("POST", JOBS, None, delay=lease / 2 + 0.5)
    process = qrun_process(project, "apply", "--push", QRUN_MAX_CIRCUITS_PER_JOB="1",
                           QRUN_PUSH_ATTEMPTS="1",
                           QRUN_STALE_CLAIM_MINUTES=f"{lease / 60:g}")  # fmt: skip
    try:
        wait_for(lambda: slow.hits == 1, process)
        meanwhile(bare, tmp_path)
    finally:
        out, err = process.communicate(timeout=120)
    (first,) = emulator.jobs.all()
    assert emulator.submissions == 1, out + err
    if meanwhile is winner_claims:
        run = origin_run(bare, "pair")
        assert run["claimed_by"] == "winner:1", run
    else:
        assert process.returncode == 1, out + err
        run = latest(project, "pair")
        assert run["status"] == "claimed" and [j["id"] for j in run["jobs"]] == [first.id], run
