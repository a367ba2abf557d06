"""The `ibm` backend end to end: `qrun` (in-process and as a subprocess) with the unmodified
qiskit-ibm-runtime client, talking over HTTP to the IBM Quantum emulator on 127.0.0.1.

Helpers used by test_ibm_faults.py and test_ibm_contract.py live here too.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

# Importing qiskit_ibm_runtime first in a non-main thread (an emulator request handler) and
# transpiling later in the main thread segfaults (qiskit 2.6.1, qiskit-ibm-runtime 0.51):
# import it here, in the main thread, before any emulator serves a request.
import qiskit_ibm_runtime  # noqa: F401

from runner.cli import main
from tests.ibm_emulator import IBMRuntimeEmulator

ROOT = Path(__file__).resolve().parent.parent
FAST = {"queued_polls": 0, "running_polls": 0}  # a released job completes on its first poll
BELL = '[[circuits]]\nname = "bell"\ntemplate = "bell"\n'


def ghz_sweep(*widths: int) -> str:
    return (
        f'[[circuits]]\nname = "ghz"\ntemplate = "ghz"\nsweep = {{ num_qubits = {list(widths)} }}\n'
    )


def spec_text(name: str, target: str = "ibm_fez", circuits: str = BELL, shots: int = 100) -> str:
    """A small hardware spec (few shots: the emulator runs it on noiseless Aer)."""
    return (
        f'name = "{name}"\ndescription = "{name} on the emulator"\n\n'
        f'[backend]\ntarget = "{target}"\n\n[execution]\nshots = {shots}\n\n{circuits}'
    )


def use_specs(project: Path, **specs: str) -> None:
    """Replace the example specs with these (name=text); a name mapped to '' is removed."""
    for path in (project / "specs").glob("*.toml"):
        if not path.name.endswith(".lock.toml") and path.stem not in specs:
            path.unlink()
    for name, text in specs.items():
        path = project / "specs" / f"{name}.toml"
        if text:
            path.write_text(text, encoding="utf-8")
        elif path.exists():
            path.unlink()


@dataclass(frozen=True)
class Ran:
    code: int
    out: str
    err: str

    @property
    def text(self) -> str:
        return self.out + self.err


def qrun(capsys: pytest.CaptureFixture[str], *argv: str) -> Ran:
    """`qrun argv` in this process; output captured."""
    capsys.readouterr()
    code = main(list(argv))
    captured = capsys.readouterr()
    return Ran(code, captured.out, captured.err)


def qrun_process(project: Path, *argv: str, **env: str) -> subprocess.Popen[str]:
    """`python -m runner argv` as a separate process with the test's environment."""
    environ = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONWARNINGS": "ignore", **env}
    return subprocess.Popen(
        [sys.executable, "-m", "runner", *argv],
        cwd=project,
        env=environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def qrun_subprocess(project: Path, *argv: str, **env: str) -> Ran:
    """Run `python -m runner argv` to the end."""
    process = qrun_process(project, *argv, **env)
    out, err = process.communicate(timeout=240)
    return Ran(process.returncode, out, err)


def lock_of(project: Path, name: str) -> dict[str, Any]:
    return tomllib.loads((project / "specs" / f"{name}.lock.toml").read_text(encoding="utf-8"))


def latest(project: Path, name: str) -> dict[str, Any]:
    return lock_of(project, name)["runs"][-1]


def stored(project: Path, obj: dict[str, Any]) -> bytes:
    """A stored object's bytes, checked against the SHA-256 and size the lock recorded."""
    data = (project / ".qrun/store" / obj["bucket"] / obj["key"]).read_bytes()
    assert hashlib.sha256(data).hexdigest() == obj["sha256"] and len(data) == obj["size"]
    return data


def analysis_of(project: Path, run: dict[str, Any]) -> dict[str, Any]:
    (obj,) = [o for o in run["objects"] if o["key"].endswith("/analysis.json")]
    return json.loads(stored(project, obj))


def request_of(project: Path, run: dict[str, Any]) -> dict[str, Any]:
    (obj,) = [o for o in run["objects"] if o["key"].endswith("/request.json")]
    return json.loads(stored(project, obj))


def posted_jobs(emulator: IBMRuntimeEmulator) -> int:
    return sum(1 for method, path in emulator.api_requests() if (method, path) == ("POST", "/jobs"))


def pending_rows(project: Path) -> list[str]:
    """Table rows of the dashboard's 'Pending jobs' section."""
    text = (project / "reports" / "README.md").read_text(encoding="utf-8")
    section = text.split("## Pending jobs", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ")]
    return rows[2:]  # below the header and its rule


@pytest.fixture
def emu(project: Path, make_ibm_emulator: Any) -> IBMRuntimeEmulator:
    """A fast emulator (jobs finish on their first poll unless held); env points at it."""
    return make_ibm_emulator(**FAST)


# --- submit and collect ---------------------------------------------------------------


def test_submit_in_one_process_and_collect_in_another(
    project: Path, make_ibm_emulator: Any
) -> None:
    emulator = make_ibm_emulator(running_polls=0)  # Queued for one poll (a listing): two applies
    use_specs(project, hw=spec_text("hw"))
    first = qrun_subprocess(project, "apply")
    assert first.code == 0, first.text
    run = latest(project, "hw")
    assert run["status"] in ("queued", "running") and run["backend"] == "ibm_fez"
    (job,) = run["jobs"]
    assert job["id"] in emulator.jobs and emulator.submissions == 1
    assert set(emulator.jobs[job["id"]].tags) == {"qrun", "qrun:hw", f"qrun:{run['id']}"}

    second = qrun_subprocess(project, "apply")
    assert second.code == 0, second.text
    run = latest(project, "hw")
    assert run["status"] == "completed" and run["finished"]
    assert [j["id"] for j in run["jobs"]] == [job["id"]]
    charged = emulator.jobs[job["id"]].charged_seconds
    assert charged > 0
    assert run["qpu_seconds"] == pytest.approx(charged)
    assert run["jobs"][0]["quantum_seconds"] == pytest.approx(charged)
    names = {o["key"].rsplit("/", 1)[-1] for o in run["objects"]}
    assert names == {"request.json", f"job_{job['id']}.json", "analysis.json"}
    doc = analysis_of(project, run)  # every object re-read and checked against its sha256
    assert [c["circuit_id"] for c in doc["circuits"]] == ["bell"]
    assert doc["backend"] == "ibm_fez" and doc["circuits"][0]["fidelity"]["value"] > 0.9
    page = (project / "reports" / "hw.md").read_text(encoding="utf-8")
    assert run["id"] in page and "completed" in page
    assert emulator.submissions == 1
    validated = project / ".qrun/store/circuits/validated/ibm_fez/hw/bell.qasm"
    assert validated.read_text().startswith("OPENQASM")  # hardware-validated circuit kept


def test_held_job_stays_pending_and_the_dashboard_shows_the_queue(
    project: Path, emu: IBMRuntimeEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    emu.jobs.hold()
    use_specs(project, hw=spec_text("hw"))
    for _ in range(3):
        assert qrun(capsys, "apply").code == 0
        run = latest(project, "hw")
        assert run["status"] == "queued" and run["jobs"][0]["status"] == "queued"
        (row,) = pending_rows(project)
        assert f"| {run['jobs'][0]['id']} |" in row and "| ibm\\_fez |" in row
        assert row.endswith("| 1 |")  # the backend's queue length: this one job
    assert emu.submissions == 1
    emu.jobs.release()
    assert qrun(capsys, "apply").code == 0
    assert latest(project, "hw")["status"] == "completed"
    assert pending_rows(project) == []
    assert "No pending jobs." in (project / "reports" / "README.md").read_text(encoding="utf-8")


def test_failed_job_is_recorded_and_only_retried_on_request(
    project: Path, emu: IBMRuntimeEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    emu.jobs.fail_next(reason="Calibration drift on qubit 3", reason_code=1517)
    use_specs(project, hw=spec_text("hw"))
    applied = qrun(capsys, "apply")
    assert applied.code == 1
    assert "Calibration drift on qubit 3" in applied.out
    run = latest(project, "hw")
    assert run["status"] == "failed" and run["jobs"][0]["status"] == "failed"
    assert "Calibration drift on qubit 3" in run["error"] and "1517" in run["error"]
    assert "Calibration drift on qubit 3" in (project / "reports/hw.md").read_text("utf-8")

    again = qrun(capsys, "apply")
    assert again.code == 0 and emu.submissions == 1  # never retried automatically
    planned = qrun(capsys, "plan")
    assert "qrun retry hw" in planned.out

    retried = qrun(capsys, "retry", "hw")
    assert retried.code == 0, retried.text
    assert emu.submissions == 2
    runs = lock_of(project, "hw")["runs"]
    assert [r["status"] for r in runs] == ["failed", "completed"]
    assert runs[1]["trigger"] == "retry" and runs[1]["run_hash"] == runs[0]["run_hash"]
    assert qrun(capsys, "apply").code == 0 and emu.submissions == 2


def test_cancelled_and_ran_too_long_jobs_record_the_reason(
    project: Path, emu: IBMRuntimeEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    emu.jobs.hold()
    use_specs(project, a=spec_text("a"), b=spec_text("b"))
    assert qrun(capsys, "apply").code == 0
    job_a, job_b = (latest(project, n)["jobs"][0]["id"] for n in ("a", "b"))
    emu.jobs.force(job_a, "Cancelled", "Cancelled by an administrator")
    emu.jobs.force(job_b, "Cancelled", "Ran too long", 1305)  # "cancelled - ran too long"
    applied = qrun(capsys, "apply")
    assert applied.code == 1
    a, b = latest(project, "a"), latest(project, "b")
    assert a["status"] == b["status"] == "cancelled"
    assert a["jobs"][0]["status"] == b["jobs"][0]["status"] == "cancelled"
    assert job_a in a["error"] and "cancelled" in a["error"]
    assert "ran too long" in b["error"]
    assert "ran too long" in (project / "reports/b.md").read_text("utf-8")
    assert qrun(capsys, "apply").code == 0 and emu.submissions == 2


# --- several jobs in a batch ----------------------------------------------------------


def test_a_sweep_is_split_into_jobs_of_one_batch_and_reassembled_in_order(
    project: Path,
    emu: IBMRuntimeEmulator,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("QRUN_MAX_CIRCUITS_PER_JOB", "2")
    use_specs(project, sweep=spec_text("sweep", circuits=ghz_sweep(2, 3, 4, 5, 6)))
    applied = qrun(capsys, "apply")
    assert applied.code == 0, applied.text
    run = latest(project, "sweep")
    assert run["status"] == "completed"
    ids = [f"ghz[num_qubits={n}]" for n in (2, 3, 4, 5, 6)]
    assert [j["circuits"] for j in run["jobs"]] == [ids[0:2], ids[2:4], ids[4:]]
    assert emu.submissions == 3
    (session_id, session), *others = emu.sessions.items()
    assert others == [] and session["mode"] == "batch" and not session["accepting_jobs"]
    for index, job in enumerate(run["jobs"]):
        emulated = emu.jobs[job["id"]]
        assert emulated.session_id == session_id
        assert f"qrun:part:{index}" in emulated.tags and f"qrun:{run['id']}" in emulated.tags
    doc = analysis_of(project, run)
    assert [c["circuit_id"] for c in doc["circuits"]] == ids
    for circuit in doc["circuits"]:
        assert circuit["fidelity"]["value"] > 0.9  # noiseless GHZ: each PUB landed on its circuit
    assert run["qpu_seconds"] == pytest.approx(
        sum(emu.jobs[j["id"]].charged_seconds for j in run["jobs"])
    )


# --- limits: budget and pending jobs --------------------------------------------------


def test_exhausted_usage_blocks_the_submission(
    project: Path, emu: IBMRuntimeEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    emu.set_usage(600, 600)
    use_specs(project, hw=spec_text("hw"))
    planned = qrun(capsys, "plan")
    assert "over budget" in planned.out and "IBM Quantum instance" in planned.out
    applied = qrun(capsys, "apply")
    assert applied.code == 0
    assert "blocked" in applied.out and "over budget" in applied.out
    assert emu.submissions == 0 and posted_jobs(emu) == 0
    assert not (project / "specs/hw.lock.toml").exists()


def test_pending_job_limit_defers_then_submits_after_the_first_completes(
    project: Path,
    emu: IBMRuntimeEmulator,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("QRUN_MAX_PENDING_JOBS", "1")
    emu.jobs.hold()
    use_specs(project, a=spec_text("a"))
    assert qrun(capsys, "apply").code == 0
    use_specs(project, a=spec_text("a"), b=spec_text("b"))
    applied = qrun(capsys, "apply")
    assert applied.code == 0
    assert "defer" in applied.out and "1 jobs pending, limit 1" in applied.out
    assert emu.submissions == 1 and not (project / "specs/b.lock.toml").exists()

    emu.jobs.release()
    for _ in range(2):  # collects a; b goes out on the invocation that sees a finished
        assert qrun(capsys, "apply").code == 0
        if (project / "specs/b.lock.toml").exists():
            break
    assert latest(project, "a")["status"] == "completed"
    assert latest(project, "b")["status"] == "completed"
    assert emu.submissions == 2
    first, second = emu.jobs.all()
    assert second.created >= first.finished  # b went out only after a had finished


# --- cancel and retire ----------------------------------------------------------------


def held_job(project: Path, emu: IBMRuntimeEmulator, capsys: pytest.CaptureFixture[str]) -> str:
    """Apply one hardware spec 'hw' whose job the emulator keeps queued; its job id."""
    emu.jobs.hold()
    use_specs(project, hw=spec_text("hw"))
    assert qrun(capsys, "apply").code == 0
    return str(latest(project, "hw")["jobs"][0]["id"])


def test_cancel_command_cancels_pending_jobs_on_the_service(
    project: Path, emu: IBMRuntimeEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    job_id = held_job(project, emu, capsys)
    cancelled = qrun(capsys, "cancel", "hw")
    assert cancelled.code == 0, cancelled.text
    assert emu.jobs[job_id].status == "Cancelled"
    run = latest(project, "hw")
    assert run["status"] == "cancelled" and run["jobs"][0]["status"] == "cancelled"
    assert "qrun cancel" in run["error"]
    assert qrun(capsys, "cancel", "hw").out.strip() == "hw: nothing pending to cancel"
    assert qrun(capsys, "apply").code == 0 and emu.submissions == 1


def test_cancel_leaves_a_job_that_already_finished_to_be_collected(
    project: Path, emu: IBMRuntimeEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    job_id = held_job(project, emu, capsys)
    emu.jobs.force(job_id, "Completed")  # finishes on the service before the runner looks
    cancelled = qrun(capsys, "cancel", "hw")
    assert cancelled.code == 0, cancelled.text
    assert "had already finished on the service; `qrun apply` collects it" in cancelled.out
    assert emu.jobs[job_id].status == "Completed"
    assert latest(project, "hw")["status"] == "queued"  # not falsely recorded as cancelled
    assert qrun(capsys, "apply").code == 0
    assert latest(project, "hw")["status"] == "completed" and emu.submissions == 1


def test_cancel_of_a_partly_finished_batch_records_each_job_as_it_ended(
    project: Path,
    emu: IBMRuntimeEmulator,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("QRUN_MAX_CIRCUITS_PER_JOB", "1")
    emu.jobs.hold()
    use_specs(project, sweep=spec_text("sweep", circuits=ghz_sweep(2, 3)))
    assert qrun(capsys, "apply").code == 0
    first, second = (j["id"] for j in latest(project, "sweep")["jobs"])
    emu.jobs.force(first, "Completed")
    cancelled = qrun(capsys, "cancel", "sweep")
    assert cancelled.code == 0 and "(1 job)" in cancelled.out, cancelled.text
    assert (emu.jobs[first].status, emu.jobs[second].status) == ("Completed", "Cancelled")
    run = latest(project, "sweep")
    assert run["status"] == "cancelled"
    assert [j["status"] for j in run["jobs"]] == ["completed", "cancelled"]


def test_removing_a_spec_with_a_pending_job_retires_it(
    project: Path,
    emu: IBMRuntimeEmulator,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("QRUN_MAX_PENDING_JOBS", "1")
    emu.jobs.hold()
    use_specs(project, old=spec_text("old"))
    assert qrun(capsys, "apply").code == 0
    job_id = latest(project, "old")["jobs"][0]["id"]
    use_specs(project, new=spec_text("new"))  # old.toml removed, its lock stays
    planned = qrun(capsys, "plan", "--format", "json")
    kinds = {a["name"]: (a["kind"], a["reason"]) for a in json.loads(planned.out)["data"]}
    assert kinds["old"][0] == "retire" and "cancel 1 pending job" in kinds["old"][1]
    assert kinds["new"][0] == "defer"  # the old job still counts until it is cancelled

    assert qrun(capsys, "apply").code == 0
    assert emu.jobs[job_id].status == "Cancelled"
    run = latest(project, "old")
    assert run["status"] == "cancelled" and "retired" in run["error"]
    emu.jobs.release()
    assert qrun(capsys, "apply").code == 0  # a retired run's jobs no longer count as pending
    assert latest(project, "new")["status"] == "completed"
    assert emu.submissions == 2


def test_a_removed_specs_lost_claim_is_looked_up_by_tag_and_its_job_cancelled(
    project: Path,
    emu: IBMRuntimeEmulator,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A POST whose answer was lost leaves a claim without job ids while the job runs on
    the service. When the spec is then removed, apply looks the claim up by tag once its
    lease has ended, cancels the job and records it; nothing runs unrecorded."""
    from runner.lock import RunStatus, read_lock, write_lock

    emu.jobs.hold()
    use_specs(project, old=spec_text("old"))
    assert qrun(capsys, "apply").code == 0
    job_id = latest(project, "old")["jobs"][0]["id"]
    lock = read_lock(project / "specs", "old")
    [run] = lock.runs
    lost = run.with_(status=RunStatus.CLAIMED, jobs=(), lease_expires="2026-01-01T00:00:00Z")
    write_lock(project / "specs", lock.upsert(lost))  # as if the POST's answer never came
    use_specs(project, new=spec_text("new"))
    planned = qrun(capsys, "plan", "--format", "json")
    kinds = {a["name"]: (a["kind"], a["reason"]) for a in json.loads(planned.out)["data"]}
    assert kinds["old"] == ("retire", "spec removed: look up 1 unsubmitted claim(s) by tag "
                            "and archive")  # fmt: skip
    applied = qrun(capsys, "apply")
    assert applied.code == 0, applied.out
    assert emu.jobs[job_id].status == "Cancelled"
    run_after = latest(project, "old")
    assert run_after["status"] == "cancelled" and job_id in run_after["error"]
    assert [j["id"] for j in run_after["surplus"]] == [job_id]


# --- unknown backend ------------------------------------------------------------------


def test_unknown_backend_is_a_clear_error_listing_what_is_available(
    project: Path, emu: IBMRuntimeEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    use_specs(project, nowhere=spec_text("nowhere", target="ibm_nowhere"))
    applied = qrun(capsys, "apply")
    assert applied.code == 1
    assert "Unknown backend 'ibm_nowhere'" in applied.text
    assert "ibm_fez, ibm_kingston, ibm_marrakesh" in applied.text
    assert "Traceback" not in applied.text and emu.submissions == 0
    validated = qrun(capsys, "validate")
    assert validated.code == 1
    assert "specs/nowhere.toml:5:" in validated.err  # the target line
    assert "Unknown backend 'ibm_nowhere'" in validated.err
    assert "ibm_fez, ibm_kingston, ibm_marrakesh" in validated.err
