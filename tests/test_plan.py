"""The planner is a pure function of specs, locks, the clock and limits: table-driven tests."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import pytest

from runner.budget import history, qpu_seconds_used
from runner.config import Limits
from runner.estimate import JOB_OVERHEAD_SECONDS, PRIOR_SECONDS_PER_SHOT, estimate_qpu_seconds
from runner.lock import JobRecord, Lock, RunRecord, RunStatus
from runner.plan import Action, Kind, PlanInput, plan
from runner.schedule import format_time
from runner.spec.loader import load_spec
from runner.spec.model import Spec

NOW = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)  # a Wednesday

SPECS = {
    "local": 'target = "local:aer"\n[execution]\nshots = 1000\n',
    "weekly": 'target = "local:aer"\n[execution]\nschedule = "weekly"\n',
    "ibm": 'target = "ibm_fez"\n',
    "ibm-b": 'target = "ibm_fez"\n',
    "capped": 'target = "ibm_fez"\n[execution]\nshots = 100000\nmax_qpu_seconds = 5\n',
    "fake": 'target = "local:fake_manila"\n[execution]\nshots = 100000\nmax_qpu_seconds = 1\n',
}


@pytest.fixture(scope="module")
def specs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Spec]:
    """Small valid specs, loaded the real way."""
    root = tmp_path_factory.mktemp("plan")
    (root / "specs").mkdir()
    loaded = {}
    for name, body in SPECS.items():
        path = root / "specs" / f"{name}.toml"
        path.write_text(
            f'name = "{name}"\n[backend]\n{body}\n[[circuits]]\nname = "bell"\ntemplate = "bell"\n'
        )
        loaded[name] = load_spec(path, root)
    return loaded


def ago(**delta: float) -> str:
    return format_time(NOW - timedelta(**delta))


def record(
    spec: Spec,
    n: int = 1,
    status: RunStatus = RunStatus.COMPLETED,
    run_hash: str | None = None,
    created: str | None = None,
    **fields: object,
) -> RunRecord:
    """A run record of spec, as the runner would have written it."""
    run_hash = run_hash or spec.run_hash
    created = created or ago(days=1)
    base = {
        "id": f"{n:04d}-{run_hash[:8]}",
        "run_hash": run_hash,
        "trigger": "merge",
        "target": spec.target,
        "status": status,
        "created": created,
        "updated": created,
        "shots": spec.execution.shots,
    }
    return RunRecord(**{**base, **fields})  # type: ignore[arg-type]


def job(job_id: str, status: str = "queued", circuits: tuple[str, ...] = ("bell",)) -> JobRecord:
    return JobRecord(job_id, circuits, status)


def locks(*runs: tuple[str, RunRecord]) -> dict[str, Lock]:
    out: dict[str, Lock] = {}
    for name, run in runs:
        out[name] = Lock(name, (*out.get(name, Lock(name)).runs, run))
    return out


def only(actions: list[Action], name: str) -> Action:
    [action] = [a for a in actions if a.name == name]
    return action


OTHER_HASH = "f" * 64


@dataclass(frozen=True)
class Case:
    """One planning situation: which specs, what the locks say, what we expect for `name`."""

    name: str
    make: Callable[[dict[str, Spec]], PlanInput]
    kind: Kind
    reason: str
    run_id: str | Callable[[dict[str, Spec]], str] | None = None
    trigger: str | None = None


def given(names: list[str], **kwargs: object) -> Callable[[dict[str, Spec]], PlanInput]:
    """A PlanInput builder: kwargs may be callables of the specs dict."""

    def make(specs: dict[str, Spec]) -> PlanInput:
        resolved = {k: (v(specs) if callable(v) else v) for k, v in kwargs.items()}
        return PlanInput(specs=[specs[n] for n in names], now=NOW, **resolved)  # type: ignore[arg-type]

    return make


def rid(name: str, n: int) -> Callable[[dict[str, Spec]], str]:
    return lambda specs: f"{n:04d}-{specs[name].run_hash[:8]}"


CASES = [
    Case(
        "local",
        given(["local"], locks={}, trigger="merge"),
        Kind.SUBMIT,
        "new spec",
        rid("local", 1),
        "merge",
    ),
    Case(
        "local",
        given(["local"], locks=lambda s: locks(("local", record(s["local"], run_hash=OTHER_HASH)))),
        Kind.SUBMIT,
        "spec changed (run hash ffffffff → ",
        rid("local", 2),
        "manual",
    ),
    Case(
        "local",
        given(["local"], locks=lambda s: locks(("local", record(s["local"])))),
        Kind.NOOP,
        "up to date (run 0001-",
    ),
    Case(
        "ibm",
        given(
            ["ibm"],
            locks=lambda s: locks(
                ("ibm", record(s["ibm"], status=RunStatus.QUEUED, jobs=(job("j1"), job("j2"))))
            ),
        ),
        Kind.COLLECT,
        "2 job(s) queued",
        rid("ibm", 1),
        "merge",
    ),
    Case(
        "ibm",
        given(
            ["ibm"],
            locks=lambda s: locks(
                ("ibm", record(s["ibm"], status=RunStatus.RUNNING, jobs=(job("j1", "running"),)))
            ),
        ),
        Kind.COLLECT,
        "1 job(s) running",
        rid("ibm", 1),
        "merge",
    ),
    Case(  # a fresh claim by another runner: leave it alone, do not resubmit
        "ibm",
        given(
            ["ibm"],
            locks=lambda s: locks(
                (
                    "ibm",
                    record(
                        s["ibm"],
                        status=RunStatus.CLAIMED,
                        created=ago(minutes=5),
                        claimed_by="host:42:t",
                    ),
                )
            ),
        ),
        Kind.NOOP,
        "claimed by host:42:t",
    ),
    Case(  # the claimer vanished: take over the same run id (adopt tagged jobs, else submit)
        "ibm",
        given(
            ["ibm"],
            locks=lambda s: locks(
                ("ibm", record(s["ibm"], status=RunStatus.CLAIMED, created=ago(minutes=31)))
            ),
        ),
        Kind.SUBMIT,
        "stale claim",
        rid("ibm", 1),
        "merge",
    ),
    Case(
        "local",
        given(
            ["local"],
            locks=lambda s: locks(
                ("local", record(s["local"], status=RunStatus.FAILED, error="device offline"))
            ),
        ),
        Kind.NOOP,
        "last run 0001-",
    ),
    Case(
        "local",
        given(
            ["local"],
            locks=lambda s: locks(("local", record(s["local"], status=RunStatus.FAILED))),
            retry=frozenset({"local"}),
        ),
        Kind.SUBMIT,
        "retry requested after failed run 0001-",
        rid("local", 2),
        "retry",
    ),
    Case(
        "local",
        given(
            ["local"],
            locks=lambda s: locks(("local", record(s["local"], status=RunStatus.CANCELLED))),
            retry=frozenset({"local"}),
        ),
        Kind.SUBMIT,
        "retry requested after cancelled run",
        rid("local", 2),
        "retry",
    ),
    Case(  # retry only re-runs failed runs: a completed one stays up to date
        "local",
        given(
            ["local"],
            locks=lambda s: locks(("local", record(s["local"]))),
            retry=frozenset({"local"}),
        ),
        Kind.NOOP,
        "up to date",
    ),
    Case(  # weekly: last run last Monday minus a day (Sunday 1 March); Monday 2 March passed
        "weekly",
        given(
            ["weekly"],
            locks=lambda s: locks(("weekly", record(s["weekly"], created="2026-03-01T09:00:00Z"))),
            trigger="schedule",
        ),
        Kind.SUBMIT,
        "schedule 'weekly' due since 2026-03-02 00:00Z",
        rid("weekly", 2),
        "schedule",
    ),
    Case(
        "weekly",
        given(
            ["weekly"],
            locks=lambda s: locks(("weekly", record(s["weekly"], created="2026-03-02T00:05:00Z"))),
        ),
        Kind.NOOP,
        "up to date (next scheduled run 2026-03-09 00:00Z)",
    ),
    Case(  # a failed scheduled run is not retried by the schedule either
        "weekly",
        given(
            ["weekly"],
            locks=lambda s: locks(
                (
                    "weekly",
                    record(s["weekly"], status=RunStatus.FAILED, created="2026-02-01T00:00:00Z"),
                )
            ),
        ),
        Kind.NOOP,
        "qrun retry weekly",
    ),
    Case(
        "local",
        given(
            ["local"],
            locks=lambda s: locks(("local", record(s["local"]))),
            expected_digests={"local": "d1"},
        ),
        Kind.REPORT,
        "report missing",
    ),
    Case(
        "local",
        given(
            ["local"],
            locks=lambda s: locks(("local", record(s["local"]))),
            expected_digests={"local": "d1"},
            report_digests={"local": "d0"},
        ),
        Kind.REPORT,
        "report stale",
    ),
    Case(
        "local",
        given(
            ["local"],
            locks=lambda s: locks(("local", record(s["local"]))),
            expected_digests={"local": "d1"},
            report_digests={"local": "d1"},
        ),
        Kind.NOOP,
        "up to date",
    ),
    Case(
        "broken",
        given(
            ["local"], locks={}, invalid={"broken": "specs/broken.toml:3:9: shots must be ≤ 100000"}
        ),
        Kind.BLOCKED,
        "invalid spec: specs/broken.toml:3:9: shots must be ≤ 100000",
    ),
    Case(
        "capped",
        given(["capped"], locks={}),
        Kind.BLOCKED,
        "estimated 27 QPU s exceeds max_qpu_seconds = 5",
    ),
    Case(  # local targets cost nothing: never capped, never over budget
        "fake",
        given(
            ["fake"],
            locks=lambda s: locks(("ibm", record(s["ibm"], qpu_seconds=600.0))),
            service_remaining_seconds=0.0,
        ),
        Kind.SUBMIT,
        "new spec",
        rid("fake", 1),
        "manual",
    ),
    Case(
        "ibm",
        given(
            ["ibm"],
            locks=lambda s: locks(("ibm-b", record(s["ibm-b"], qpu_seconds=598.0))),
        ),
        Kind.BLOCKED,
        "over budget: needs ~3.02 QPU s, 2 s left of 600 s in the rolling 28 days",
    ),
    Case(  # usage older than 28 days has rolled out of the window
        "ibm",
        given(
            ["ibm"],
            locks=lambda s: locks(
                ("ibm-b", record(s["ibm-b"], qpu_seconds=598.0, created=ago(days=28, seconds=1)))
            ),
        ),
        Kind.SUBMIT,
        "new spec",
        rid("ibm", 1),
        "manual",
    ),
    Case(
        "ibm",
        given(["ibm"], locks={}, service_remaining_seconds=1.5),
        Kind.BLOCKED,
        "over budget: needs ~3.02 QPU s, 1.5 s left",
    ),
    Case(
        "ibm",
        given(
            ["ibm"],
            locks=lambda s: locks(
                (
                    "ibm-b",
                    record(
                        s["ibm-b"],
                        status=RunStatus.QUEUED,
                        jobs=(job("a"), job("b"), job("c", "running")),
                    ),
                )
            ),
        ),
        Kind.DEFER,
        "new spec; deferred: 3 jobs pending, limit 3",
    ),
    Case(  # pending local jobs do not count against the service's pending-jobs limit
        "ibm",
        given(
            ["ibm"],
            locks=lambda s: locks(
                (
                    "local",
                    record(
                        s["local"],
                        status=RunStatus.QUEUED,
                        jobs=(job("a"), job("b"), job("c")),
                    ),
                )
            ),
        ),
        Kind.SUBMIT,
        "new spec",
        rid("ibm", 1),
        "manual",
    ),
    Case(
        "ibm-b",
        given(["ibm", "ibm-b"], locks={}, limits=Limits(submissions_per_minute=1)),
        Kind.DEFER,
        "new spec; deferred: submission rate limit 1/min",
    ),
]


@pytest.mark.parametrize(
    "case", CASES, ids=[f"{n:02d}-{c.kind.value}-{c.reason[:24]}" for n, c in enumerate(CASES)]
)
def test_plan_case(case, specs):
    action = only(plan(case.make(specs)), case.name)
    assert action.kind is case.kind, action
    assert case.reason in action.reason, action.reason
    expected_id = case.run_id(specs) if callable(case.run_id) else case.run_id
    assert action.run_id == expected_id
    assert action.trigger == case.trigger
    # the planner is pure: same input, same answer
    assert plan(case.make(specs)) == plan(case.make(specs))


def test_failed_run_reason_names_the_error_and_the_retry_command(specs):
    lock = locks(("local", record(specs["local"], status=RunStatus.FAILED, error="device offline")))
    action = only(plan(PlanInput([specs["local"]], lock, NOW)), "local")
    assert action.reason == (
        f"last run 0001-{specs['local'].run_hash[:8]} failed: device offline; not re-submitted "
        "for the same spec revision (`qrun retry local` to re-run)"
    )
    assert not action.changes


def test_changed_spec_after_failure_is_submitted_without_retry(specs):
    lock = locks(("local", record(specs["local"], status=RunStatus.FAILED, run_hash=OTHER_HASH)))
    action = only(plan(PlanInput([specs["local"]], lock, NOW)), "local")
    assert action.kind is Kind.SUBMIT
    assert action.reason.startswith("spec changed")


def test_run_ids_are_deterministic_and_sequential(specs):
    spec = specs["local"]
    first = only(plan(PlanInput([spec], {}, NOW)), "local")
    assert first.run_id == f"0001-{spec.run_hash[:8]}"
    done = Lock("local", (record(spec, run_hash=OTHER_HASH), record(spec, 2, run_hash=OTHER_HASH)))
    third = only(plan(PlanInput([spec], {"local": done}, NOW)), "local")
    assert third.run_id == f"0003-{spec.run_hash[:8]}"
    assert Lock("x").next_run_id("ab" * 32) == "0001-abababab"


def test_retired_spec_with_pending_jobs_cancels_them(specs):
    lock = locks(
        ("gone", record(specs["ibm"], status=RunStatus.QUEUED, jobs=(job("j1"), job("j2")))),
    )
    action = only(plan(PlanInput([specs["local"]], lock, NOW)), "gone")
    assert action.kind is Kind.RETIRE
    assert action.reason == "spec removed: cancel 2 pending job(s) and archive"
    assert action.details == {"jobs": ["j1", "j2"]}


def test_retired_spec_without_jobs_archives_its_report(specs):
    lock = locks(("gone", record(specs["ibm"])))
    stale = PlanInput(
        [], lock, NOW, expected_digests={"gone": "new"}, report_digests={"gone": "old"}
    )
    action = only(plan(stale), "gone")
    assert action.kind is Kind.REPORT
    assert "spec removed" in action.reason
    done = replace(stale, report_digests={"gone": "new"})
    action = only(plan(done), "gone")
    assert action.kind is Kind.NOOP
    assert not action.changes


def test_invalid_spec_lock_is_not_retired(specs):
    lock = locks(("broken", record(specs["ibm"], status=RunStatus.QUEUED, jobs=(job("j1"),))))
    actions = plan(PlanInput([], lock, NOW, invalid={"broken": "bad"}))
    assert [(a.kind, a.name) for a in actions] == [(Kind.BLOCKED, "broken")]


def test_budget_is_shared_across_specs_in_one_plan(specs):
    limits = Limits(qpu_seconds_budget=5.0, max_pending_jobs=10)
    actions = plan(PlanInput([specs["ibm"], specs["ibm-b"]], {}, NOW, limits=limits))
    assert [(a.name, a.kind) for a in actions] == [("ibm", Kind.SUBMIT), ("ibm-b", Kind.BLOCKED)]
    assert "over budget" in actions[1].reason


def test_pending_jobs_planned_in_this_run_count_against_the_limit(specs):
    limits = Limits(max_pending_jobs=1)
    actions = plan(PlanInput([specs["ibm"], specs["ibm-b"]], {}, NOW, limits=limits))
    assert [a.kind for a in actions] == [Kind.SUBMIT, Kind.DEFER]
    assert "1 jobs pending, limit 1" in actions[1].reason


def test_actions_are_ordered_invalid_specs_then_names_then_retired(specs):
    lock = locks(("aaa-gone", record(specs["ibm"], status=RunStatus.QUEUED, jobs=(job("j"),))))
    actions = plan(
        PlanInput(
            [specs["weekly"], specs["local"]],
            lock,
            NOW,
            invalid={"zzz": "bad"},
        )
    )
    assert [a.name for a in actions] == ["zzz", "local", "weekly", "aaa-gone"]


def test_submit_details_and_estimate(specs):
    action = only(plan(PlanInput([specs["ibm"]], {}, NOW)), "ibm")
    expected = round(JOB_OVERHEAD_SECONDS + 4096 * PRIOR_SECONDS_PER_SHOT, 2)
    assert action.estimate_seconds == expected == 3.02
    assert action.details == {"circuits": 1, "shots": 4096, "jobs": 1, "target": "ibm_fez"}
    assert action.changes


def test_local_estimate_is_zero(specs):
    assert only(plan(PlanInput([specs["local"]], {}, NOW)), "local").estimate_seconds == 0.0


def test_history_refines_the_estimate(specs):
    # a completed run on the same device: 1000 shots of one circuit took 2 s + 1 s
    past = record(
        specs["ibm-b"],
        shots=1000,
        backend="ibm_fez",
        jobs=(job("j0", "completed"),),
        qpu_seconds=JOB_OVERHEAD_SECONDS + 1.0,
    )
    [observed] = history({"ibm-b": Lock("ibm-b", (past,))})
    assert observed.circuit_shots == 1000
    assert observed.jobs == 1
    refined = only(plan(PlanInput([specs["ibm"]], {"ibm-b": Lock("ibm-b", (past,))}, NOW)), "ibm")
    assert refined.estimate_seconds == round(JOB_OVERHEAD_SECONDS + 4096 * 0.001, 2) == 6.1
    prior = only(plan(PlanInput([specs["ibm"]], {}, NOW)), "ibm")
    assert refined.estimate_seconds > prior.estimate_seconds


def test_history_ignores_local_failed_and_unmeasured_runs(specs):
    runs = Lock(
        "x",
        (
            record(specs["local"], qpu_seconds=50.0, jobs=(job("a", "completed"),)),
            record(specs["ibm"], 2, status=RunStatus.FAILED, qpu_seconds=50.0, jobs=(job("b"),)),
            record(specs["ibm"], 3, jobs=(job("c", "completed"),)),
        ),
    )
    assert history({"x": runs}) == []


def test_estimate_on_another_backend_keeps_the_prior():
    from runner.estimate import Observed

    seen = [Observed("ibm_kingston", 1, 1000, 12.0)]
    assert estimate_qpu_seconds("ibm_fez", 1, 4096, 1, seen) == 3.02
    assert estimate_qpu_seconds("ibm_kingston", 1, 4096, 1, seen) == round(2 + 4096 * 0.01, 2)
    assert estimate_qpu_seconds("local:aer", 300, 100000, 5, seen) == 0.0


def test_budget_counts_failed_runs_too(specs):
    """A failed job is charged for what ran: its QPU seconds stay in the window."""
    lock = locks(("ibm-b", record(specs["ibm-b"], status=RunStatus.FAILED, qpu_seconds=599.0)))
    assert qpu_seconds_used(lock, NOW) == 599.0
    action = only(plan(PlanInput([specs["ibm"]], lock, NOW)), "ibm")
    assert action.kind is Kind.BLOCKED


def test_qpu_seconds_window_boundary(specs):
    inside = record(specs["ibm"], qpu_seconds=10.0, created=ago(days=28))
    outside = record(specs["ibm"], 2, qpu_seconds=20.0, created=ago(days=28, seconds=1))
    assert qpu_seconds_used({"ibm": Lock("ibm", (inside, outside))}, NOW) == 10.0


def test_plan_input_lists_are_not_mutated(specs):
    lock = locks(("local", record(specs["local"])))
    before = dict(lock)
    plan(PlanInput([specs["local"]], lock, NOW))
    assert lock == before


def test_stale_claim_boundary_is_configurable(specs):
    claimed = record(specs["ibm"], status=RunStatus.CLAIMED, created=ago(minutes=10))
    lock = {"ibm": Lock("ibm", (claimed,))}
    assert only(plan(PlanInput([specs["ibm"]], lock, NOW)), "ibm").kind is Kind.NOOP
    quick = Limits(stale_claim_minutes=5)
    action = only(plan(PlanInput([specs["ibm"]], lock, NOW, limits=quick)), "ibm")
    assert (action.kind, action.run_id) == (Kind.SUBMIT, claimed.id)


def test_without_credentials_only_an_ibm_target_beside_a_local_twin_is_blocked(tmp_path, specs):
    """coherence-fez style: the twin runs with no account and the IBM target is blocked with
    the variable to set; a hardware-only spec is still planned (apply then stops, exit 1)."""
    (tmp_path / "specs").mkdir()
    path = tmp_path / "specs" / "twin.toml"
    path.write_text(
        'name = "twin"\n[backend]\ntarget = ["ibm_fez", "local:aer"]\n'
        '[[circuits]]\nname = "bell"\ntemplate = "bell"\n'
    )
    twin = load_spec(path, tmp_path)
    actions = plan(PlanInput(specs=[twin, specs["ibm"]], locks={}, now=NOW, ibm_credentials=False))
    kinds = {(a.name, a.target): a.kind for a in actions}
    assert kinds == {
        ("ibm", None): Kind.SUBMIT,
        ("twin", "ibm_fez"): Kind.BLOCKED,
        ("twin", "local:aer"): Kind.SUBMIT,
    }
    blocked = next(a for a in actions if a.kind is Kind.BLOCKED)
    assert blocked.reason.startswith("no credentials for ibm_fez: set IBM_QUANTUM_TOKEN")
    assert blocked.estimate_cost is not None and blocked.estimate_cost > 0  # still priced
    with_token = plan(PlanInput(specs=[twin], locks={}, now=NOW))
    assert {a.kind for a in with_token} == {Kind.SUBMIT}


def test_a_deferred_claim_taken_over_by_a_live_runner_is_left_alone(specs):
    """A deferral ends the claim's lease (the next apply submits it); once a runner has
    taken it over and holds a fresh lease, another runner waits, as for any live claim."""
    from runner.lock import DEFERRED_MARK

    spec = specs["ibm"]
    mark = DEFERRED_MARK + "the pending-job cap (3458)"
    ended = record(spec, status=RunStatus.CLAIMED, error=mark, lease_expires=ago(minutes=1))
    [action] = plan(PlanInput(specs=[spec], locks=locks(("ibm", ended)), now=NOW))
    assert action.kind is Kind.SUBMIT and "deferred by the pending-job cap" in action.reason
    live = replace(ended, lease_expires=format_time(NOW + timedelta(minutes=29)))
    [action] = plan(PlanInput(specs=[spec], locks=locks(("ibm", live)), now=NOW))
    assert action.kind is Kind.NOOP and "taken over if still unsubmitted" in action.reason


def test_a_stale_claim_taken_over_is_estimated_capped_and_counted(specs):
    """Taking over a claim submits under its run id, with the same estimate, caps and
    pending-job count as a new submission (it used to skip them all)."""
    stale = {"status": RunStatus.CLAIMED, "lease_expires": ago(minutes=5)}
    capped = record(specs["capped"], **stale)
    [action] = plan(PlanInput(specs=[specs["capped"]], locks=locks(("capped", capped)), now=NOW))
    assert action.kind is Kind.BLOCKED and "max_qpu_seconds" in action.reason
    first, second = record(specs["ibm"], **stale), record(specs["ibm-b"], **stale)
    limits = Limits(max_pending_jobs=1)
    actions = plan(PlanInput(specs=[specs["ibm"], specs["ibm-b"]], now=NOW, limits=limits,
                             locks=locks(("ibm", first), ("ibm-b", second))))  # fmt: skip
    assert [(a.kind, a.run_id) for a in actions] == [(Kind.SUBMIT, first.id), (Kind.DEFER, None)]
    assert actions[0].estimate_seconds > 0 and actions[0].estimate_cost


HELD = [
    # (id, status, recorded QPU s, planned estimate, created, seconds left of a 10 s budget)
    ("claim holds its estimate", RunStatus.CLAIMED, None, 6.0, ago(minutes=1), 4.0),
    ("queued run holds its estimate", RunStatus.QUEUED, None, 6.0, ago(hours=1), 4.0),
    ("running run: recorded part used, rest held", RunStatus.RUNNING, 2.0, 6.0, ago(hours=1), 4.0),
    ("completed: what it used, nothing held", RunStatus.COMPLETED, 5.0, 6.0, ago(days=1), 5.0),
    ("cancelled claim holds nothing", RunStatus.CANCELLED, None, 6.0, ago(days=1), 10.0),
    ("claim without an estimate (older lock)", RunStatus.CLAIMED, None, None, ago(minutes=1), 10.0),
    ("claim outside the window", RunStatus.QUEUED, None, 6.0, ago(days=29), 10.0),
]  # fmt: skip


@pytest.mark.parametrize(("status", "used", "estimate", "created", "left"),
                         [c[1:] for c in HELD], ids=[c[0] for c in HELD])  # fmt: skip
def test_pending_runs_hold_their_estimate(specs, status, used, estimate, created, left):
    """What another runner (a shard that pushed first) claimed is spent for this plan."""
    from runner.plan import budget

    run = record(
        specs["ibm-b"],
        status=status,
        created=created,
        qpu_seconds=used,
        estimate_qpu_seconds=estimate,
        jobs=(job("j1"),),
        backend="ibm_kingston",
    )  # fmt: skip  (another device: the estimate keeps its prior)
    inp = PlanInput(
        [specs["ibm"]], locks(("ibm-b", run)), NOW, limits=Limits(qpu_seconds_budget=10)
    )
    assert budget(inp).qpu_seconds_left == left
    action = only(plan(replace(inp, limits=Limits(qpu_seconds_budget=3.02 + 10 - left))), "ibm")
    assert action.kind is Kind.SUBMIT  # exactly enough left for its 3.02 s
    action = only(plan(replace(inp, limits=Limits(qpu_seconds_budget=3.01 + 10 - left))), "ibm")
    assert action.kind is Kind.BLOCKED and "over budget" in action.reason


def test_a_claim_taken_over_gives_back_its_hold(specs):
    """A stale claim resumed (or closed by a newer revision) is not counted twice."""
    tight = Limits(qpu_seconds_budget=4.0, stale_claim_minutes=5)
    stale = record(specs["ibm"], status=RunStatus.CLAIMED, created=ago(minutes=10),
                   estimate_qpu_seconds=3.02)  # fmt: skip
    action = only(plan(PlanInput([specs["ibm"]], locks(("ibm", stale)), NOW, limits=tight)), "ibm")
    assert (action.kind, action.run_id) == (Kind.SUBMIT, stale.id)
    old = replace(stale, run_hash=OTHER_HASH, id=f"0001-{OTHER_HASH[:8]}")
    action = only(plan(PlanInput([specs["ibm"]], locks(("ibm", old)), NOW, limits=tight)), "ibm")
    assert action.kind is Kind.SUBMIT and action.details["supersedes"] == old.id
    live = replace(stale, created=ago(minutes=1), updated=ago(minutes=1))
    other = PlanInput([specs["ibm-b"]], locks(("ibm", live)), NOW, limits=tight)
    assert only(plan(other), "ibm-b").kind is Kind.BLOCKED  # 4 - 3.02 left for a new one
