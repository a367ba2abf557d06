"""The fault matrix: every way IBM Quantum, object storage, git or a second runner can fail
qrun's promises (issue 14, points 1-11), reproduced against the emulator over HTTP with the
unmodified client, moto's S3 server behind the fault-injecting proxy, runner processes on
one bare origin, and kills (SIGKILL of a runner subprocess) at chosen requests or commits.

Each scenario drives the faults, then `settle` lets every job finish and applies again, and
`audit` counts what must be 0: duplicates (a second job for circuits that already have one,
not cancelled, or a second run of one run hash), orphan jobs (on the service, in no lock
record), lost results (a job that completed for a run that did not, or a completed run's
object missing from the store), corrupt or stray files (in the working copy, git's index or
any commit on origin), stuck runs (not final after the next apply, or failed by a transport
error), hangs (an apply killed at its wall bound), unclear errors (an apply that crashed or
exited as a bug), unpushed commits (qrun's, left behind), incomplete uploads (multipart, on
the S3 server), plaintext requests (any attempt to reach a host other than this machine),
unencrypted uploads (without the SSE header, or stored without encryption) and extra
requests (a collect pass costing more than one listing plus one request per finished job).

To add a case: write `def scenario_x(world) -> None` and add it to SCENARIOS.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import qiskit_ibm_runtime  # noqa: F401  (main-thread import: see tests/test_ibm_backend.py)

from runner.files import TEMP_SUFFIX, is_temp
from runner.lock import JobRecord, Lock, RunRecord, RunStatus, merge_locks
from tests.conftest import git
from tests.ibm_emulator import IBMRuntimeEmulator
from tests.ibm_emulator.plugin import NetworkGuard
from tests.s3_fixtures import FaultProxy, S3Setup
from tests.test_hostile_input import DATA, header
from tests.test_ibm_backend import FAST, ROOT, Ran, ghz_sweep, qrun, spec_text, use_specs

OWN_HIDDEN_FILES = {".gitkeep", ".qrun-manifest"}  # anything else hidden is a stray temp file
HANG_BOUND_SECONDS = 60  # an apply still running after this is counted as a hang
TRANSPORT = re.compile(r"connection|HTTP 5\d\d|timed out|timeout|unavailable", re.IGNORECASE)
BUG = re.compile(r"Traceback \(most recent call last\)|internal error|this is a bug", re.I)


@dataclass
class Tally:
    duplicates: int = 0
    orphan_jobs: int = 0
    lost_results: int = 0
    corrupt_or_stray_files: int = 0
    stuck_runs: int = 0
    hangs: int = 0
    unclear_errors: int = 0
    unpushed_commits: int = 0
    incomplete_uploads: int = 0
    plaintext_requests: int = 0
    unencrypted_uploads: int = 0
    extra_requests: int = 0

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
class Cos:
    """Fresh buckets on the module's moto server, reached through a fault-injecting proxy."""

    s3: S3Setup
    buckets: dict[str, str]
    proxy: FaultProxy

    def client(self) -> Any:
        return self.s3.client()

    def incomplete(self) -> list[str]:
        """Keys of multipart uploads started and neither completed nor aborted."""
        client = self.client()
        return [
            u["Key"]
            for name in self.buckets.values()
            for u in client.list_multipart_uploads(Bucket=name).get("Uploads", [])
        ]


@dataclass
class World:
    """One scenario's emulator, working copy (and origin, for the multi-runner cases)."""

    emulator: IBMRuntimeEmulator
    project: Path
    capsys: pytest.CaptureFixture[str]
    monkeypatch: pytest.MonkeyPatch
    tmp_path: Path
    moto: S3Setup
    guard: NetworkGuard
    hangs: int = 0
    origin: Path | None = None
    cos: Cos | None = None
    env: dict[str, str] = field(default_factory=dict)  # for every apply (the COS store)
    ran: list[tuple[Ran, bool]] = field(default_factory=list)  # each apply ended, own output
    extra_requests: int = 0
    measured: list[str] = field(default_factory=list)  # printed with the scenario's line
    notes: list[str] = field(default_factory=list)

    def apply(self, **env: str) -> Ran:
        """`qrun apply` in this process (env set for the call only)."""
        with self.monkeypatch.context() as patch:
            for name, value in {**self.env, **env}.items():
                patch.setenv(name, value)
            ran = qrun(self.capsys, "apply")
        self.notes.append(f"apply -> {ran.code}: {ran.text[-400:]}")
        self.ran.append((ran, False))  # captured with the emulator's threads' output
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
            **self.env,
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

    def finish(self, process: subprocess.Popen[str], killed: bool = False) -> Ran:
        """Wait for a runner process; one still running at the bound is killed: a hang.
        `killed`: the scenario kills it (QRUN_CRASH_AT), so SIGKILL is its expected end."""
        try:
            out, _ = process.communicate(timeout=HANG_BOUND_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            out, _ = process.communicate()
            self.hangs += 1
        self.notes.append(f"process -> {process.returncode}: {out[-400:]}")
        ran = Ran(process.returncode, out, "")
        if not (killed and process.returncode == -signal.SIGKILL):
            self.ran.append((ran, True))
        return ran

    def kill_when(self, process: subprocess.Popen[str], reached: Callable[[], bool]) -> None:
        """SIGKILL the runner once it has reached a chosen request (it is held there)."""
        deadline = time.monotonic() + HANG_BOUND_SECONDS
        while not reached():
            if process.poll() is not None or time.monotonic() > deadline:
                out = process.communicate()[0] if process.poll() is not None else ""
                raise AssertionError(f"the runner never reached the kill point: {out[-2000:]}")
            time.sleep(0.05)
        process.kill()
        out, _ = process.communicate()
        self.notes.append(f"killed at the chosen request: {out[-400:]}")

    def apply_push(self, **env: str) -> Ran:
        """`qrun apply --push` in a subprocess, to its end."""
        return self.finish(self.start(self.project, "apply", "--push", **env))

    def crash(self, point: str, **env: str) -> None:
        """`qrun apply --push` in a subprocess that SIGKILLs itself at a QRUN_CRASH_AT point."""
        ran = self.finish(
            self.start(self.project, "apply", "--push", QRUN_CRASH_AT=point, **env), killed=True
        )
        assert ran.code == -signal.SIGKILL, f"not killed at {point}: {ran.out}"

    def use_cos(self, **extra: str) -> Cos:
        """Point every apply at fresh buckets on moto, through a proxy recording each request."""
        suffix = uuid.uuid4().hex[:10]
        buckets = {b: f"fm-{b}-{suffix}" for b in ("experiments", "results", "circuits")}
        for name in buckets.values():
            self.moto.client().create_bucket(Bucket=name)
        host, port = self.moto.endpoint.removeprefix("http://").split(":")
        self.cos = Cos(self.moto, buckets, FaultProxy(upstream=(host, int(port))))
        names = {f"COS_BUCKET_{b.upper()}": n for b, n in buckets.items()}
        self.env = self.moto.env(self.cos.proxy.endpoint, **{**names, **extra})
        return self.cos


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


def stray(path: str) -> bool:
    """A path qrun must never leave or commit: a writer's temp file, or any other hidden
    file under specs/ or reports/."""
    name = Path(path).name
    under = path.startswith(("specs/", "reports/"))
    return (
        is_temp(path)
        or TEMP_SUFFIX in name
        or (under and name.startswith(".") and name not in OWN_HIDDEN_FILES)
    )


def audit(world: World) -> Tally:
    """Count what must never happen, from the service's jobs, the lock files, git and S3."""
    tally = Tally(hangs=world.hangs, extra_requests=world.extra_requests)
    specs = world.project / "specs"
    if world.origin is not None:
        git(world.project, "fetch", "--quiet", "origin")
        ahead = int(git(world.project, "rev-list", "--count", "origin/main..HEAD"))
        tally.unpushed_commits = ahead
        if not ahead:
            git(world.project, "merge", "--quiet", "--ff-only", "origin/main")
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
        if run.status is RunStatus.COMPLETED:
            tally.lost_results += sum(1 for o in run.objects if not stored(world, o))
    # one run hash, run twice (no spec here has a schedule, and no failed run is retried)
    hashes = Counter(r.run_hash for _, r in runs if r.jobs and r.status is not RunStatus.FAILED)
    tally.duplicates += sum(n - 1 for n in hashes.values())
    for folder in (specs, world.project / "reports"):
        tally.corrupt_or_stray_files += sum(
            1 for p in folder.rglob(".*") if p.is_file() and p.name not in OWN_HIDDEN_FILES
        )
    if world.origin is not None:
        dirty = git(world.project, "status", "--porcelain", "--untracked-files=all")
        tally.corrupt_or_stray_files += len([line for line in dirty.splitlines() if line.strip()])
        index = git(world.project, "ls-files").splitlines()
        history = git(world.origin, "log", "--all", "--name-only", "--format=").splitlines()
        tally.corrupt_or_stray_files += len({p for p in index + history if p and stray(p)})
    tally.unclear_errors = sum(
        1 for r, own in world.ran if r.code not in (0, 1, 2) or (own and BUG.search(r.text))
    )
    tally.plaintext_requests = len(world.guard.attempts)
    if world.cos is not None:
        tally.incomplete_uploads = len(world.cos.incomplete())
        tally.unencrypted_uploads = unencrypted(world.cos)
    return tally


def stored(world: World, obj: Any) -> bool:
    """Whether a recorded object is in the store with the bytes the lock names."""
    if world.cos is not None:
        client, name = world.cos.client(), world.cos.buckets[obj.bucket]
        try:
            data = client.get_object(Bucket=name, Key=obj.key)["Body"].read()
        except client.exceptions.NoSuchKey:
            return False
    else:
        path = world.project / ".qrun" / "store" / obj.bucket / obj.key
        if not path.is_file():
            return False
        data = path.read_bytes()
    return hashlib.sha256(data).hexdigest() == obj.sha256


def unencrypted(cos: Cos) -> int:
    """Uploads sent without the SSE header (single PUTs and multipart starts, as seen on the
    wire) plus objects the server holds unencrypted."""
    sent = 0
    for raw in cos.proxy.heads:
        head = raw.decode("latin-1")
        line = head.split("\r\n", 1)[0]
        starts = (line.startswith("PUT ") and "partNumber=" not in line) or (
            line.startswith("POST ") and "?uploads" in line
        )
        if starts and not re.search(r"(?im)^x-amz-server-side-encryption:\s*AES256\s*$", head):
            sent += 1
    client = cos.client()
    at_rest = 0
    for name in cos.buckets.values():
        for obj in client.list_objects_v2(Bucket=name).get("Contents", []):
            head = client.head_object(Bucket=name, Key=obj["Key"])
            at_rest += head.get("ServerSideEncryption") != "AES256"
    return sent + at_rest


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


def scenario_killed_while_submitting(world: World) -> None:
    """The runner is killed while its POST /jobs is in flight; the service still creates the
    job. The next apply finds it by tag and adopts it: no second job."""
    one_spec(world)
    world.emulator.jobs.hold()
    gate = threading.Event()
    post = world.emulator.faults.add("POST", r"/api/v1/jobs$", None, gate=gate)
    world.kill_when(world.start(world.project, "apply"), lambda: post.hits > 0)
    gate.set()  # the request the dead runner sent is processed after all
    deadline = time.monotonic() + HANG_BOUND_SECONDS
    while world.emulator.submissions == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert world.emulator.submissions == 1
    ((_, run),) = runs_of(world.project / "specs")
    assert run.status is RunStatus.CLAIMED and run.jobs == ()


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
    one_spec(world)  # (settle then applies one small spec, not the examples)
    base = RunRecord("0001-abcdef12", "a" * 64, "manual", "ibm_fez", RunStatus.QUEUED,
                     "2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z")  # fmt: skip
    mine = base.with_(jobs=(JobRecord("job-a", ("bell",), "queued"),))
    theirs = base.with_(jobs=(JobRecord("job-b", ("bell",), "queued"),))
    for first, second in ((mine, theirs), (theirs, mine)):
        (merged,) = merge_locks(Lock("x", (first,)), Lock("x", (second,))).runs
        ids = {j.id for j in merged.jobs + merged.surplus}
        assert ids == {"job-a", "job-b"} and len(merged.jobs) == 1


# --- point 5: a crash between qrun's commit and its push ----------------------------------


def ahead_of_origin(world: World) -> int:
    git(world.project, "fetch", "--quiet", "origin")
    return int(git(world.project, "rev-list", "--count", "origin/main..HEAD"))


def scenario_killed_before_pushing_claim(world: World) -> None:
    """Killed after committing its claim, before pushing it: the claim is published (and,
    its lease long gone, taken over after an empty tag lookup); one job in the end."""
    world.crash("push@1")
    assert ahead_of_origin(world) == 1 and world.emulator.submissions == 0


def scenario_killed_before_pushing_job_ids(world: World) -> None:
    """Killed after committing the submitted job's id, before pushing it: the next apply
    publishes that commit instead of submitting again."""
    world.emulator.jobs.hold()
    world.crash("push@3")  # claim, lease renewal, job ids
    assert ahead_of_origin(world) == 1 and world.emulator.submissions == 1
    origin_lock = git(world.origin or world.project, "show", "main:specs/hw.lock.toml")
    assert 'status = "claimed"' in origin_lock


def scenario_killed_before_pushing_results_origin_moved(world: World) -> None:
    """Killed before pushing the collected results while a person pushed to origin: the
    bot's commits are replayed on top of theirs, the person's change kept."""
    world.emulator.jobs.hold()
    assert world.apply_push().code == 0
    world.emulator.jobs.release()
    world.crash("push@1")  # results committed (collection is this apply's first push)
    assert ahead_of_origin(world) >= 1
    person = world.tmp_path / "person"
    git(world.tmp_path, "clone", "--quiet", str(world.origin), str(person))
    (person / "notes.md").write_text("a person's change\n")
    git(person, "add", "notes.md")
    git(person, "commit", "--quiet", "-m", "notes")
    git(person, "push", "--quiet", "origin", "main")
    settled = world.apply_push()
    assert settled.code == 0 and "unpushed qrun commit(s)" in settled.out, settled.out
    assert git(world.origin or world.project, "show", "main:notes.md") == "a person's change"


# --- point 6: no stray files from a kill inside the atomic writer -------------------------


def temps(folder: Path) -> list[Path]:
    return [p for p in folder.rglob(f"*{TEMP_SUFFIX}") if p.is_file()]


def scenario_killed_writing_the_claim(world: World) -> None:
    """Killed inside the atomic write of the claim: a temp file beside the lock, no claim."""
    world.crash("write:hw.lock.toml")
    assert temps(world.project / "specs") and world.emulator.submissions == 0


def scenario_killed_writing_job_ids(world: World) -> None:
    """Killed inside the write that records the job id: the temp file goes, the job is
    found by tag; only the lock and reports are committed."""
    world.emulator.jobs.hold()
    world.crash("write:hw.lock.toml@3")
    assert temps(world.project / "specs") and world.emulator.submissions == 1


def scenario_killed_writing_a_report(world: World) -> None:
    """Killed inside the write of the experiment's report page."""
    world.crash("write:hw.md")
    assert temps(world.project / "reports")


def scenario_killed_writing_the_dashboard(world: World) -> None:
    """Killed inside the write of reports/README.md, after the run was recorded."""
    world.crash("write:README.md")
    assert temps(world.project / "reports")


# --- point 7: multipart uploads killed midway --------------------------------------------

JOB_PART = r"^PUT [^ ]*/job_[^ ]*partNumber="


def submitted(world: World) -> None:
    """One run submitted, its job done: the next apply collects (and uploads) it."""
    held_run(world)
    world.emulator.jobs.release()


def scenario_upload_killed_midway(world: World) -> None:
    """The collecting runner is killed while a part of the job's result is on the wire: the
    started upload is left on the server until the next collect uploads that key again."""
    cos = world.use_cos(COS_MULTIPART_THRESHOLD="1")  # every object goes up in parts
    submitted(world)
    cos.proxy.delay_next(1, 3.0, match=JOB_PART)
    world.kill_when(world.start(world.project, "apply"), lambda: bool(cos.proxy.injected))
    assert [k for k in cos.incomplete() if "/job_" in k], cos.incomplete()


def scenario_upload_refused_midway(world: World) -> None:
    """A part is refused (403): the upload is aborted at once and the run stays to collect."""
    cos = world.use_cos(COS_MULTIPART_THRESHOLD="1")
    submitted(world)
    cos.proxy.respond_next(1, 403, "AccessDenied", "Access Denied", match=JOB_PART)
    ran = world.apply()
    assert ran.code == 1 and "AccessDenied" in ran.text, ran.text
    assert any(line.startswith("DELETE ") for line in cos.proxy.request_lines)
    assert cos.incomplete() == []
    ((_, run),) = runs_of(world.project / "specs")
    assert run.status.pending


def scenario_upload_killed_while_submitting(world: World) -> None:
    """Killed while uploading the experiment's definition, after the job was submitted and
    recorded: no later collect uploads that key, yet its started upload must not stay."""
    cos = world.use_cos(COS_MULTIPART_THRESHOLD="1")
    one_spec(world)
    world.emulator.jobs.hold()
    cos.proxy.delay_next(1, 3.0, match=r"^PUT [^ ]*/definition\.json\?[^ ]*partNumber=")
    world.kill_when(world.start(world.project, "apply"), lambda: bool(cos.proxy.injected))
    assert world.emulator.submissions == 1
    assert [k for k in cos.incomplete() if k.endswith("definition.json")], cos.incomplete()


# --- point 8: hostile input is a clear error, and never a second run ----------------------


def plant(world: World, fixture: Path) -> list[Path]:
    """Put a hostile fixture into specs/ (linked from outside the repository where it says
    so), with a spec of its name for a lock; returns what a person removes to fix it."""
    specs = world.project / "specs"
    name = fixture.name.removesuffix(".lock.toml").removesuffix(".toml")
    planted = []
    if fixture.name.endswith(".lock.toml"):
        (specs / f"{name}.toml").write_text(spec_text(name))
        planted.append(specs / f"{name}.toml")
    target = specs / fixture.name
    if header(fixture, "symlink-self") or header(fixture, "spec-symlink"):
        outside = world.tmp_path / "outside" / fixture.name
        outside.parent.mkdir(exist_ok=True)
        shutil.copy(fixture, outside)
        target.symlink_to(outside)
    else:
        shutil.copy(fixture, target)
    return [*planted, target]


def refused(world: World, fixture: Path) -> None:
    """apply refuses the hostile file with the message its header expects and submits
    nothing for it; then the person removes it (settle runs the good spec beside it)."""
    one_spec(world)
    planted = plant(world, fixture)
    ran = world.apply()
    assert ran.code == 1, ran.text
    for expected in header(fixture, "expect"):
        position, _, message = expected.partition(" ")
        assert f"specs/{fixture.name}:{position}: {message}" in ran.err, ran.err
    name = fixture.name.removesuffix(".lock.toml").removesuffix(".toml")
    assert not [j for j in world.emulator.jobs.all() if f"qrun:{name}" in j.tags]
    for path in planted:
        path.unlink()


def scenario_deeply_nested_spec(world: World) -> None:
    refused(world, DATA / "specs" / "invalid" / "deep-inline-tables.toml")


def scenario_huge_dotted_header(world: World) -> None:
    refused(world, DATA / "specs" / "invalid" / "deep-dotted-header.toml")


def scenario_spec_linking_out(world: World) -> None:
    refused(world, DATA / "specs" / "invalid" / "spec-symlink.toml")


def scenario_lock_linking_out(world: World) -> None:
    refused(world, DATA / "locks" / "invalid" / "symlink-out.lock.toml")


def scenario_lock_naming_another_spec(world: World) -> None:
    refused(world, DATA / "locks" / "invalid" / "name-differs.lock.toml")


def scenario_run_id_recorded_twice(world: World) -> None:
    refused(world, DATA / "locks" / "invalid" / "run-twice.lock.toml")


def scenario_spec_and_lock_renamed(world: World) -> None:
    """A spec renamed with its lock: a clear error until the lock's name is fixed, then the
    recorded run is kept and its run hash is not submitted again."""
    one_spec(world)
    assert world.apply().code == 0
    specs = world.project / "specs"
    (specs / "hw.toml").unlink()
    (specs / "renamed.toml").write_text(spec_text("renamed"))
    lock = specs / "renamed.lock.toml"
    (specs / "hw.lock.toml").rename(lock)
    ran = world.apply()
    assert ran.code == 1 and 'set name = "renamed" here' in ran.err, ran.err
    lock.write_text(lock.read_text().replace('name = "hw"', 'name = "renamed"'))
    assert world.apply().code == 0
    assert world.emulator.submissions == 1


# --- point 9: https for every endpoint that is not this machine ---------------------------


def scenario_http_ibm_url(world: World) -> None:
    """IBM_QUANTUM_URL over plain http to IBM: refused, naming it, before any request."""
    one_spec(world)
    ran = world.apply(IBM_QUANTUM_URL="http://quantum.cloud.ibm.com")
    assert ran.code == 1 and "IBM_QUANTUM_URL must start with https://" in ran.err, ran.text
    assert world.emulator.token not in ran.text
    assert world.emulator.submissions == 0 and runs_of(world.project / "specs") == []


def scenario_http_cos_endpoint(world: World) -> None:
    """COS_ENDPOINT over plain http to COS: refused before claiming (no results would be
    stored for a job submitted anyway)."""
    one_spec(world)
    env = world.moto.env("http://s3.us-south.cloud-object-storage.appdomain.cloud")
    ran = world.apply(**env)
    assert ran.code == 1 and "COS_ENDPOINT must start with https://" in ran.err, ran.text
    assert world.emulator.submissions == 0 and runs_of(world.project / "specs") == []


def scenario_http_iam_endpoint(world: World) -> None:
    """COS_AUTH_ENDPOINT over plain http (an API key would cross in clear): refused."""
    one_spec(world)
    env = world.moto.env(COS_AUTH_ENDPOINT="http://iam.cloud.ibm.com/identity/token")
    env.pop("COS_HMAC_ACCESS_KEY_ID")
    env.pop("COS_HMAC_SECRET_ACCESS_KEY")
    ran = world.apply(**env, COS_API_KEY="iam-key-do-not-print", COS_INSTANCE_ID="crn:x")
    assert ran.code == 1 and "COS_AUTH_ENDPOINT must start with https://" in ran.err, ran.text
    assert "iam-key-do-not-print" not in ran.text
    assert world.emulator.submissions == 0


# --- point 10: encryption at rest asked for on every upload -------------------------------


def scenario_sse_on_every_upload(world: World) -> None:
    """Single PUTs (objects under the multipart threshold): each asks for SSE (audited)."""
    cos = world.use_cos()
    one_spec(world)
    assert world.apply().code == 0
    assert any(line.startswith("PUT ") for line in cos.proxy.request_lines)


# --- point 11: collect costs O(1) in pending jobs -----------------------------------------

GHZ5 = ghz_sweep(2, 3, 4, 5, 6)
JOB_PATH = re.compile(r"^/api/v1/jobs/[^/]+")  # a request about one job, not the listing
LOOKUP = re.compile(r"^/api/v1/jobs/[^/]+$")


@dataclass(frozen=True)
class Pass:
    """The IBM requests of one apply: about single jobs, listings of pending and of finished
    jobs, and the rest."""

    per_job: int
    lookups: int  # GET /jobs/{id}: the state of one job
    listings: int
    finished_listings: int
    others: int


def collect_pass(world: World) -> Pass:
    world.emulator.clear_requests()
    assert world.apply().code == 0
    requests = world.emulator.requests
    per_job = sum(1 for r in requests if JOB_PATH.match(r.path))
    listed = [r.query.get("pending", [""])[0] for r in requests if r.path == "/api/v1/jobs"]
    pending, finished = listed.count("true"), listed.count("false")
    lookups = sum(1 for r in requests if LOOKUP.match(r.path))
    return Pass(per_job, lookups, pending, finished, len(requests) - per_job - len(listed))


def scenario_collect_is_one_listing_per_pass(world: World) -> None:
    """A pass over one pending job and one over five cost the same, with one listing and no
    request per pending job; a pass that finishes jobs adds at most one page of finished jobs,
    and finishing five costs five times finishing one. Whatever is above that is counted as
    extra requests."""
    world.env = {"QRUN_MAX_CIRCUITS_PER_JOB": "1", "QRUN_MAX_PENDING_JOBS": "100",
                 "QRUN_SUBMISSIONS_PER_MINUTE": "100"}  # fmt: skip
    job_id = held_run(world)
    one = collect_pass(world)
    world.emulator.jobs.release(job_id)
    finish_one = collect_pass(world)
    use_specs(world.project, hw=spec_text("hw"), sweep=spec_text("sweep", circuits=GHZ5))
    assert world.apply().code == 0 and world.emulator.submissions == 6
    five = collect_pass(world)
    world.emulator.jobs.release()
    finish_five = collect_pass(world)
    passes = (one, finish_one, five, finish_five)
    world.extra_requests += sum(abs(p.listings - 1) for p in passes)
    world.extra_requests += one.finished_listings + five.finished_listings
    world.extra_requests += sum(max(0, p.finished_listings - 1) for p in (finish_one, finish_five))
    world.extra_requests += one.per_job + five.per_job + max(0, five.others - one.others)
    world.extra_requests += max(0, finish_five.per_job - 5 * finish_one.per_job)
    world.extra_requests += max(0, finish_one.lookups - 1) + max(0, finish_five.lookups - 5)
    world.notes.append(f"collect passes (1 pending, 1 finishing, 5, 5 finishing): {passes}")
    world.measured.append(
        f"collect: {finish_one.per_job} request(s) per finished job ({finish_one.lookups} of its "
        f"state), {five.per_job} per pending job, {five.listings} listing(s) per pass"
    )


Scenario = Callable[[World], None]
SCENARIOS: dict[str, tuple[Scenario, bool]] = {  # name -> (scenario, needs a git origin)
    "1-lost-answer-502": (scenario_lost_answer_502, False),
    "1-lost-answer-dropped": (scenario_lost_answer_dropped, False),
    "1-lost-answer-timeout": (scenario_lost_answer_timeout, False),
    "1-extra-job-found": (scenario_extra_job_found, False),
    "1-killed-while-submitting": (scenario_killed_while_submitting, False),
    "2-dropped-before-processing": (scenario_dropped_before_processing, False),
    "2-503-on-submit": (scenario_503_on_submit, False),
    "2-rejection-fails-with-reason": (scenario_rejection_fails_with_reason, False),
    "3-lookup-never-answers": (scenario_lookup_never_answers, False),
    "4-merge-keeps-every-job-id": (scenario_merge_keeps_every_job_id, False),
    "4-slow-owner-and-takeover": (scenario_slow_owner_and_takeover, True),
    "5-killed-before-pushing-claim": (scenario_killed_before_pushing_claim, True),
    "5-killed-before-pushing-job-ids": (scenario_killed_before_pushing_job_ids, True),
    "5-killed-before-pushing-results-origin-moved": (
        scenario_killed_before_pushing_results_origin_moved,
        True,
    ),
    "6-killed-writing-the-claim": (scenario_killed_writing_the_claim, True),
    "6-killed-writing-job-ids": (scenario_killed_writing_job_ids, True),
    "6-killed-writing-a-report": (scenario_killed_writing_a_report, True),
    "6-killed-writing-the-dashboard": (scenario_killed_writing_the_dashboard, True),
    "7-upload-killed-midway": (scenario_upload_killed_midway, False),
    "7-upload-refused-midway": (scenario_upload_refused_midway, False),
    "7-upload-killed-while-submitting": (scenario_upload_killed_while_submitting, False),
    "8-deeply-nested-spec": (scenario_deeply_nested_spec, False),
    "8-huge-dotted-header": (scenario_huge_dotted_header, False),
    "8-spec-linking-out": (scenario_spec_linking_out, False),
    "8-lock-linking-out": (scenario_lock_linking_out, False),
    "8-lock-naming-another-spec": (scenario_lock_naming_another_spec, False),
    "8-run-id-recorded-twice": (scenario_run_id_recorded_twice, False),
    "8-spec-and-lock-renamed": (scenario_spec_and_lock_renamed, False),
    "9-http-ibm-url": (scenario_http_ibm_url, False),
    "9-http-cos-endpoint": (scenario_http_cos_endpoint, False),
    "9-http-iam-endpoint": (scenario_http_iam_endpoint, False),
    "10-sse-on-every-upload": (scenario_sse_on_every_upload, False),
    "11-collect-is-one-listing-per-pass": (scenario_collect_is_one_listing_per_pass, False),
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
    moto_s3: S3Setup,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    scenario, needs_origin = SCENARIOS[name]
    emulator = make_ibm_emulator(**FAST)
    guard = NetworkGuard()  # records (and refuses) any attempt to leave this machine
    guard.install(monkeypatch)
    world = World(emulator, project, capsys, monkeypatch, tmp_path, moto_s3, guard)
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
    try:
        scenario(world)
        settle(world)
        tally = audit(world)
    finally:
        if world.cos is not None:
            world.cos.proxy.stop()
    TOTAL.add(tally)
    print(f"fault matrix {name}: {tally.line()}", *world.measured, sep="\n  ")
    assert tally.clean, f"{name}: {tally.line()}\n" + "\n".join(world.notes)
    assert world.cos is None or world.cos.proxy.errors == []
    if not os.environ.get("QRUN_FAULT_MATRIX_KEEP"):
        emulator.faults.clear()


def test_every_scenario_is_in_the_table() -> None:
    defined = {n for n in globals() if n.startswith("scenario_")}
    listed = {f.__name__ for f, _ in SCENARIOS.values()}
    assert defined == listed
