"""The fault matrix: every way IBM Quantum (or a second runner) can fail qrun's exactly-once
promise, reproduced against the emulator over HTTP with the unmodified client, runner
processes on one bare origin, and faults injected at the emulator's HTTP layer.

Each scenario drives the faults, then `settle` lets every job finish and applies again, and
`audit` counts what must be 0: duplicates (a second job for circuits that already have one,
not cancelled), orphan jobs (on the service, in no lock record), lost results (a job that
completed for a run that did not), corrupt or stray files, stuck runs (not final after the
next apply, or failed by a transport error), hangs (an apply killed at its wall bound).

To add a case: write `def scenario_x(world) -> None` and add it to SCENARIOS.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import qiskit_ibm_runtime  # noqa: F401  (main-thread import: see tests/test_ibm_backend.py)

from runner.lock import JobRecord, Lock, RunRecord, RunStatus, merge_locks
from tests.conftest import git
from tests.ibm_emulator import IBMRuntimeEmulator
from tests.test_ibm_backend import FAST, ROOT, Ran, qrun, spec_text, use_specs

OWN_HIDDEN_FILES = {".gitkeep", ".qrun-manifest"}  # anything else hidden is a stray temp file
HANG_BOUND_SECONDS = 60  # an apply still running after this is counted as a hang
TRANSPORT = re.compile(r"connection|HTTP 5\d\d|timed out|timeout|unavailable", re.IGNORECASE)


@dataclass
class Tally:
    duplicates: int = 0
    orphan_jobs: int = 0
    lost_results: int = 0
    corrupt_or_stray_files: int = 0
    stuck_runs: int = 0
    hangs: int = 0

    def add(self, other: Tally) -> None:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))

    def line(self) -> str:
        return ", ".join(
            f"{f.name.replace('_', ' ')} {getattr(self, f.name)}" for f in fields(self)
        )

    @property
    def clean(self) -> bool:
        return all(getattr(self, f.name) == 0 for f in fields(self))


@dataclass
class World:
    """One scenario's emulator, working copy (and origin, for the multi-runner cases)."""

    emulator: IBMRuntimeEmulator
    project: Path
    capsys: pytest.CaptureFixture[str]
    monkeypatch: pytest.MonkeyPatch
    tmp_path: Path
    hangs: int = 0
    origin: Path | None = None
    notes: list[str] = field(default_factory=list)

    def apply(self, **env: str) -> Ran:
        """`qrun apply` in this process (env set for the call only)."""
        with self.monkeypatch.context() as patch:
            for name, value in env.items():
                patch.setenv(name, value)
            ran = qrun(self.capsys, "apply")
        self.notes.append(f"apply -> {ran.code}: {ran.text[-400:]}")
        return ran

    def start(self, cwd: Path, *argv: str, **env: str) -> subprocess.Popen[str]:
        """`python -m runner argv` as its own process, with the emulator's environment."""
        environ = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "QRUN_"))},
            **self.emulator.client_env(),
            "PYTHONPATH": str(ROOT),
            "PYTHONWARNINGS": "ignore",
            "GIT_CONFIG_GLOBAL": os.devnull,
            "GIT_CONFIG_NOSYSTEM": "1",
            **env,
        }
        return subprocess.Popen(
            [sys.executable, "-m", "runner", *argv],
            cwd=cwd,
            env=environ,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

    def finish(self, process: subprocess.Popen[str]) -> Ran:
        """Wait for a runner process; one still running at the bound is killed: a hang."""
        try:
            out, _ = process.communicate(timeout=HANG_BOUND_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            out, _ = process.communicate()
            self.hangs += 1
        self.notes.append(f"process -> {process.returncode}: {out[-400:]}")
        return Ran(process.returncode, out, "")


def later(hours: float = 1) -> str:
    """A QRUN_NOW past every lease taken now."""
    return (datetime.now(UTC) + timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%SZ")


def runs_of(specs: Path) -> list[tuple[str, RunRecord]]:
    from runner.lock import read_all_locks

    return [(n, r) for n, lock in read_all_locks(specs).items() for r in lock.runs]


def settle(world: World) -> None:
    """The next apply with the faults gone (jobs still held, so a surplus can be cancelled),
    then every job released and two more applies to collect."""
    world.emulator.faults.clear()
    for step in range(3):
        if step == 1:
            world.emulator.jobs.release()
        if world.origin is not None:
            world.finish(world.start(world.project, "apply", "--push", QRUN_NOW=later(2)))
        else:
            world.apply(QRUN_NOW=later(2))


def audit(world: World) -> Tally:
    """Count what must never happen, from the service's jobs and the lock files."""
    tally = Tally(hangs=world.hangs)
    specs = world.project / "specs"
    if world.origin is not None:
        git(world.project, "pull", "--quiet", "--ff-only")
    try:
        runs = runs_of(specs)
    except Exception:  # a lock that does not parse is corrupt
        tally.corrupt_or_stray_files += 1
        runs = []
    recorded: dict[str, tuple[RunRecord, JobRecord, bool]] = {}
    for _name, run in runs:
        for job in run.jobs:
            recorded[job.id] = (run, job, False)
        for job in getattr(run, "surplus", ()):  # (so the matrix also audits older qrun)
            recorded[job.id] = (run, job, True)
    jobs = world.emulator.jobs
    tally.orphan_jobs = sum(1 for job_id in jobs if job_id not in recorded)
    for name, run in runs:
        tags = {"qrun", f"qrun:{name}", f"qrun:{run.id}"}
        on_service = [j for j in jobs.all() if tags <= set(j.tags) and j.status != "Cancelled"]
        parts = {next((t for t in j.tags if t.startswith("qrun:part:")), "") for j in on_service}
        tally.duplicates += len(on_service) - len(parts)
        if run.status.pending or (
            run.status is RunStatus.FAILED and TRANSPORT.search(run.error or "")
        ):
            tally.stuck_runs += 1
        done = [j for j in run.jobs if j.id in jobs and jobs[j.id].status == "Completed"]
        if done and run.status is not RunStatus.COMPLETED:
            tally.lost_results += 1
    for folder in (specs, world.project / "reports"):
        tally.corrupt_or_stray_files += sum(
            1 for p in folder.rglob(".*") if p.is_file() and p.name not in OWN_HIDDEN_FILES
        )
    if world.origin is not None:
        dirty = git(world.project, "status", "--porcelain", "--untracked-files=all")
        tally.corrupt_or_stray_files += len([line for line in dirty.splitlines() if line.strip()])
    return tally


def one_spec(world: World) -> None:
    use_specs(world.project, hw=spec_text("hw"))


def held_run(world: World) -> str:
    """Submit one run whose job stays queued; returns the job id."""
    one_spec(world)
    world.emulator.jobs.hold()
    assert world.apply().code == 0
    (job_id,) = list(world.emulator.jobs)
    return job_id


# --- point 1: no second job after an ambiguous failure ----------------------------------


def scenario_lost_answer_502(world: World) -> None:
    """POST /jobs created the job, then a proxy answered 502: the client must not post again."""
    one_spec(world)
    world.emulator.faults.add("POST", r"/api/v1/jobs$", 502, after=True)
    ran = world.apply()
    assert ran.code == 0, ran.text
    assert world.emulator.submissions == 1
    assert [j.id for _, r in runs_of(world.project / "specs") for j in r.jobs] == list(
        world.emulator.jobs
    )  # the job behind the lost answer is recorded in the same apply


def scenario_lost_answer_dropped(world: World) -> None:
    """POST /jobs created the job and the connection dropped before the answer."""
    one_spec(world)
    world.emulator.faults.add("POST", r"/api/v1/jobs$", None, drop=True, after=True)
    ran = world.apply()
    assert ran.code == 0, ran.text
    assert world.emulator.submissions == 1


def scenario_lost_answer_timeout(world: World) -> None:
    """POST /jobs processed after the client's read timeout: found by tag on the next apply."""
    one_spec(world)
    world.emulator.faults.add("POST", r"/api/v1/jobs$", None, delay=3)
    ran = world.apply(QRUN_IBM_READ_TIMEOUT="1")
    assert ran.code == 1 and "claim stays" in ran.text, ran.text
    time.sleep(2.5)  # the delayed POST lands
    assert world.emulator.submissions == 1


def scenario_extra_job_found(world: World) -> None:
    """A second job with the run's tags (a retry whose first answer was lost) is cancelled."""
    first = held_run(world)
    twin = world.emulator.jobs.duplicate(first)
    ran = world.apply()
    assert ran.code == 0, ran.text
    assert world.emulator.jobs[twin].status == "Cancelled"
    ((_, run),) = runs_of(world.project / "specs")
    assert [j.id for j in run.surplus] == [twin] and "surplus" in (run.surplus[0].reason or "")


# --- point 2: a blip does not fail a run forever ------------------------------------------


def scenario_dropped_before_processing(world: World) -> None:
    """The connection drops before IBM read the POST: the claim stays, the next apply submits."""
    one_spec(world)
    world.emulator.faults.add("POST", r"/api/v1/jobs$", None, drop=True)
    ran = world.apply()
    assert ran.code == 1, ran.text
    ((_, run),) = runs_of(world.project / "specs")
    assert run.status is RunStatus.CLAIMED and world.emulator.submissions == 0


def scenario_503_on_submit(world: World) -> None:
    """A 503 without the job being created: not a rejection either."""
    one_spec(world)
    world.emulator.faults.add("POST", r"/api/v1/jobs$", 503)
    assert world.apply().code == 1
    ((_, run),) = runs_of(world.project / "specs")
    assert run.status is RunStatus.CLAIMED


def scenario_rejection_fails_with_reason(world: World) -> None:
    """A 4xx with a reason is the service's answer: the run fails, the reason in the lock."""
    one_spec(world)
    reason = "You have reached the limit of 3 pending jobs"
    world.emulator.faults.add("POST", r"/api/v1/jobs$", 400, message=reason)
    assert world.apply().code == 1
    ((_, run),) = runs_of(world.project / "specs")
    assert run.status is RunStatus.FAILED and reason in (run.error or ""), run.error
    assert world.emulator.submissions == 0


# --- point 3: no hang ---------------------------------------------------------------------


def scenario_lookup_never_answers(world: World) -> None:
    """Collection's lookups never answer: apply stops at its deadline, exits 1 naming it."""
    job_id = held_run(world)
    world.emulator.jobs.release()
    world.emulator.faults.add("GET", r"/api/v1/jobs", None, delay=HANG_BOUND_SECONDS * 3, times=99)
    started = world.start(
        world.project, "apply", QRUN_DEADLINE_SECONDS="4", QRUN_IBM_READ_TIMEOUT="2"
    )
    ran = world.finish(started)
    assert ran.code == 1 and "deadline" in ran.out and "QRUN_DEADLINE_SECONDS" in ran.out, ran.out
    ((_, run),) = runs_of(world.project / "specs")
    assert run.status is RunStatus.QUEUED and [j.id for j in run.jobs] == [job_id]


# --- point 4: stale-claim takeover against a slow owner -----------------------------------


def scenario_slow_owner_and_takeover(world: World) -> None:
    """Runner A's POST /jobs is slow; B takes the expired claim over and submits. Both jobs
    end up in the lock (none dropped by the replay merge) and the surplus is cancelled."""
    origin = world.origin
    assert origin is not None
    runners = []
    for index in range(2):
        where = world.tmp_path / f"runner{index}"
        git(world.tmp_path, "clone", "--quiet", str(origin), str(where))
        runners.append(where)
    world.emulator.jobs.hold()
    gate = threading.Event()  # A's POST is held until B has taken over and submitted
    slow = world.emulator.faults.add("POST", r"/api/v1/jobs$", None, gate=gate)
    owner = world.start(
        runners[0], "apply", "--push", QRUN_STALE_CLAIM_MINUTES="1", QRUN_IBM_READ_TIMEOUT="150"
    )
    deadline = time.monotonic() + HANG_BOUND_SECONDS
    while slow.hits == 0:  # A's POST has reached the service and is being held
        assert owner.poll() is None and time.monotonic() < deadline, owner.communicate()
        time.sleep(0.1)
    try:
        taker = world.finish(world.start(runners[1], "apply", "--push", QRUN_NOW=later()))
    finally:
        gate.set()
    world.finish(owner)
    assert taker.code == 0, taker.out
    assert world.emulator.submissions == 2  # the race itself cannot be prevented
    world.project = runners[1]


def scenario_merge_keeps_every_job_id(world: World) -> None:
    """Two runners' records of one run with different jobs: the merge keeps both ids."""
    base = RunRecord("0001-abcdef12", "a" * 64, "manual", "ibm_fez", RunStatus.QUEUED,
                     "2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z")  # fmt: skip
    mine = base.with_(jobs=(JobRecord("job-a", ("bell",), "queued"),))
    theirs = base.with_(jobs=(JobRecord("job-b", ("bell",), "queued"),))
    for first, second in ((mine, theirs), (theirs, mine)):
        (merged,) = merge_locks(Lock("x", (first,)), Lock("x", (second,))).runs
        ids = {j.id for j in merged.jobs + merged.surplus}
        assert ids == {"job-a", "job-b"} and len(merged.jobs) == 1


Scenario = Callable[[World], None]
SCENARIOS: dict[str, tuple[Scenario, bool]] = {  # name -> (scenario, needs a git origin)
    "1-lost-answer-502": (scenario_lost_answer_502, False),
    "1-lost-answer-dropped": (scenario_lost_answer_dropped, False),
    "1-lost-answer-timeout": (scenario_lost_answer_timeout, False),
    "1-extra-job-found": (scenario_extra_job_found, False),
    "2-dropped-before-processing": (scenario_dropped_before_processing, False),
    "2-503-on-submit": (scenario_503_on_submit, False),
    "2-rejection-fails-with-reason": (scenario_rejection_fails_with_reason, False),
    "3-lookup-never-answers": (scenario_lookup_never_answers, False),
    "4-merge-keeps-every-job-id": (scenario_merge_keeps_every_job_id, False),
    "4-slow-owner-and-takeover": (scenario_slow_owner_and_takeover, True),
}
TOTAL = Tally()


@pytest.fixture(scope="module", autouse=True)
def _summary(request: pytest.FixtureRequest) -> Any:
    """One line for the whole matrix, printed once the module's scenarios have run."""
    yield
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    line = f"fault matrix: {TOTAL.line()}"
    if reporter is not None:
        reporter.write_line(line)
    else:
        print(line)


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_fault_matrix(
    name: str,
    project: Path,
    tmp_path: Path,
    make_ibm_emulator: Any,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    scenario, needs_origin = SCENARIOS[name]
    emulator = make_ibm_emulator(**FAST)
    world = World(emulator, project, capsys, monkeypatch, tmp_path)
    if needs_origin:
        one_spec(world)
        world.origin = tmp_path / "origin.git"
        git(tmp_path, "init", "--bare", "--quiet", "--initial-branch=main", str(world.origin))
        git(project, "init", "--quiet", "--initial-branch=main")
        (project / ".gitignore").write_text(".qrun/\n")
        git(project, "add", "-A")
        git(project, "commit", "--quiet", "-m", "a hardware spec")
        git(project, "remote", "add", "origin", str(world.origin))
        git(project, "push", "--quiet", "-u", "origin", "main")
    scenario(world)
    settle(world)
    tally = audit(world)
    TOTAL.add(tally)
    print(f"fault matrix {name}: {tally.line()}")
    assert tally.clean, f"{name}: {tally.line()}\n" + "\n".join(world.notes)
    if not os.environ.get("QRUN_FAULT_MATRIX_KEEP"):
        emulator.faults.clear()


def test_every_scenario_is_in_the_table() -> None:
    defined = {n for n in globals() if n.startswith("scenario_")}
    listed = {f.__name__ for f, _ in SCENARIOS.values()}
    assert defined == listed
