"""Today's IBM Quantum platform: current devices, retired ones, the executor primitives.

Against the emulator serving the current Heron fleet (and, where a test needs one, a device
that retires during the test), through the unmodified client and `qrun` itself.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import qiskit_ibm_runtime  # noqa: F401  (main-thread import: see tests/test_ibm_backend.py)

from runner.backends.fleet import CURRENT_FLEET, RETIRED, retirement_message
from runner.plan import Kind, PlanInput, plan
from runner.render_plan import money
from runner.spec.loader import load_spec
from runner.spec.model import Spec
from tests.ibm_emulator import IBMRuntimeEmulator
from tests.test_ibm_backend import FAST, latest, qrun, spec_text, use_specs

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)


def spec_from(root: Path, name: str, backend: str) -> Spec:
    """A one-circuit spec with this [backend] body, loaded the real way."""
    (root / "specs").mkdir(exist_ok=True)
    path = root / "specs" / f"{name}.toml"
    path.write_text(
        f'name = "{name}"\n[backend]\n{backend}\n[[circuits]]\nname = "bell"\ntemplate = "bell"\n'
    )
    return load_spec(path, root)


def test_a_new_run_on_a_retired_device_is_blocked_naming_the_day_and_the_fleet(
    tmp_path: Path,
) -> None:
    spec = spec_from(tmp_path, "old", 'target = "ibm_brisbane"')
    (action,) = plan(PlanInput(specs=[spec], locks={}, now=NOW))
    assert action.kind is Kind.BLOCKED
    assert action.reason.startswith("ibm_brisbane was retired on 2025-11-03; current devices: ")
    assert all(name in action.reason for name in CURRENT_FLEET)
    listed = ["ibm_fez", "ibm_kingston"]  # the service's answer replaces the fallback fleet
    (action,) = plan(PlanInput(specs=[spec], locks={}, now=NOW, listed_backends=listed))
    assert "current devices: ibm_fez, ibm_kingston." in action.reason
    # a device the service still lists (the table is a fallback) is not blocked
    listed.append("ibm_brisbane")
    (action,) = plan(PlanInput(specs=[spec], locks={}, now=NOW, listed_backends=listed))
    assert action.kind is Kind.SUBMIT


def test_only_the_retirement_table_and_readme_name_retired_devices() -> None:
    root = Path(__file__).resolve().parents[1]
    allowed = {Path("runner/backends/fleet.py"), Path("README.md")}
    files = [
        p
        for top in ("runner", "schemas", "specs", "benchmarks", "README.md", "noxfile.py")
        for p in ([root / top] if (root / top).is_file() else (root / top).rglob("*"))
        if p.is_file() and p.suffix in (".py", ".json", ".toml", ".md", ".j2", ".qasm")
    ]
    assert len(files) > 50
    named = {
        p.relative_to(root)
        for p in files
        if any(name.removeprefix("ibm_") in p.read_text(encoding="utf-8") for name in RETIRED)
    }
    assert named <= allowed


def test_fez_spec_is_submitted_once_through_the_executor_and_collected_later(
    project: Path, make_ibm_emulator: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    emu = make_ibm_emulator(**FAST)
    emu.jobs.hold()
    use_specs(project, fez=spec_text("fez"), old=spec_text("old", target="ibm_brisbane"))
    planned = qrun(capsys, "plan")
    assert planned.code == 0
    blocked = "ibm_brisbane was retired on 2025-11-03; current devices: ibm_fez, ibm_kingston"
    assert blocked in " ".join(planned.text.split())  # the table may wrap the reason
    assert qrun(capsys, "apply").code == 0
    assert emu.submissions == 1  # fez only: nothing for the retired device
    (job,) = [j for j in emu.jobs.all() if j.billed]  # plan's dry run went to mock_fez
    assert job.program_id == "executor" and job.backend == "ibm_fez"
    assert latest(project, "fez")["status"] == "queued"
    assert not (project / "specs" / "old.lock.toml").exists()
    emu.jobs.release()
    assert qrun(capsys, "apply").code == 0  # a later invocation collects
    run = latest(project, "fez")
    assert run["status"] == "completed" and emu.submissions == 1
    page = (project / "reports" / "fez.md").read_text(encoding="utf-8")
    assert "ibm\\_fez" in page and "retired" not in page
    doc = json.loads(qrun(capsys, "plan", "--format", "json").out)
    (old,) = [a for a in doc["data"] if a["name"] == "old"]
    assert old["kind"] == "blocked" and old["reason"] == retirement_message(
        "ibm_brisbane", ["ibm_fez", "ibm_kingston", "ibm_marrakesh"]
    )


def test_validate_with_credentials_names_the_retirement(
    project: Path, make_ibm_emulator: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    make_ibm_emulator(**FAST)
    use_specs(project, old=spec_text("old", target="ibm_torino"))
    validated = qrun(capsys, "validate")
    assert validated.code == 1
    assert "specs/old.toml:5:" in validated.err
    assert "ibm_torino was retired on 2026-04-01; current devices: ibm_fez" in validated.err


def test_a_job_submitted_before_its_device_retired_is_still_collected(
    project: Path, make_ibm_emulator: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """The device is served while the run is submitted, then retires (it leaves the backend
    listing and its configuration answers 404); the next apply still collects the job and
    the page says the device is retired."""
    emu: IBMRuntimeEmulator = make_ibm_emulator(**FAST, backends=("fake_brisbane", "fake_fez"))
    emu.jobs.hold()
    use_specs(project, late=spec_text("late", target="ibm_brisbane"))
    assert qrun(capsys, "apply").code == 0  # the service still lists it: not blocked
    assert latest(project, "late")["status"] == "queued" and emu.submissions == 1
    emu.retire("ibm_brisbane")
    emu.jobs.release()
    assert qrun(capsys, "apply").code == 0
    run = latest(project, "late")
    assert run["status"] == "completed" and run["backend"] == "ibm_brisbane"
    page = (project / "reports" / "late.md").read_text(encoding="utf-8")
    assert "ibm\\_brisbane (retired on 2025-11-03)" in page
    assert emu.submissions == 1


def test_the_emulator_caps_pending_jobs_with_error_3458(make_ibm_emulator: Any) -> None:
    from qiskit_ibm_runtime import QiskitRuntimeService
    from qiskit_ibm_runtime.exceptions import IBMRuntimeError

    from tests.test_ibm_emulator import bell

    emu: IBMRuntimeEmulator = make_ibm_emulator(**FAST, max_pending_jobs=1)
    emu.jobs.hold()
    backend = QiskitRuntimeService(**emu.service_kwargs()).backend("ibm_fez")
    from qiskit_ibm_runtime.executor_sampler import Sampler

    Sampler(mode=backend).run([bell(backend)], shots=10)
    with pytest.raises(IBMRuntimeError, match="3458"):
        Sampler(mode=backend).run([bell(backend)], shots=10)
    assert emu.submissions == 1


def test_hardware_submissions_carry_money_and_max_cost_blocks(tmp_path: Path) -> None:
    from runner.config import Limits

    hw = spec_from(tmp_path, "hw", 'target = "ibm_fez"')
    local = spec_from(tmp_path, "sim", 'target = "local:aer"')
    actions = {a.name: a for a in plan(PlanInput(specs=[hw, local], locks={}, now=NOW))}
    assert actions["hw"].kind is Kind.SUBMIT and actions["hw"].estimate_seconds > 0
    assert actions["hw"].estimate_cost == round(actions["hw"].estimate_seconds * 1.60, 2)
    assert actions["sim"].estimate_cost is None  # nothing is billed locally
    dear = PlanInput(specs=[hw], locks={}, now=NOW, limits=Limits(price_per_qpu_second=96.0))
    (action,) = plan(dear)
    assert action.estimate_cost == round(action.estimate_seconds * 96, 2)
    (action,) = plan(replace(dear, open_plan=True))  # the service says: Open Plan
    assert action.kind is Kind.SUBMIT and action.estimate_cost == 0.0
    capped = spec_from(tmp_path, "capped", 'target = "ibm_fez"\n[execution]\nmax_cost = 1')
    assert capped.run_hash == spec_from(tmp_path, "capped", 'target = "ibm_fez"').run_hash
    (action,) = plan(replace(dear, specs=[capped]))
    assert action.kind is Kind.BLOCKED
    assert f"estimated cost {action.estimate_cost:.2f}" in action.reason
    assert "exceeds max_cost = 1" in action.reason


def test_plan_shows_money_as_text_and_a_json_number(
    project: Path, make_ibm_emulator: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    make_ibm_emulator(**FAST, plan_id="paygo")
    use_specs(project, fez=spec_text("fez"))
    doc = json.loads(qrun(capsys, "plan", "--format", "json").out)
    (fez,) = doc["data"]
    assert fez["kind"] == "submit" and isinstance(fez["estimate_cost"], float)
    assert fez["estimate_cost"] == round(fez["estimate_qpu_seconds"] * 1.60, 2) > 0
    assert doc["budget"]["open_plan"] is False and doc["budget"]["price_per_qpu_second"] == 1.6
    assert 0 < doc["budget"]["qpu_seconds_left"] <= 600
    text = " ".join(qrun(capsys, "plan").text.split())
    assert f"${fez['estimate_cost']:,.2f}" in text
    assert "QPU min left in the rolling 28 days" in text


def test_pending_job_cap_defers_the_rest_to_a_later_apply(
    project: Path, make_ibm_emulator: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    emu: IBMRuntimeEmulator = make_ibm_emulator(**FAST, max_pending_jobs=1)
    emu.jobs.hold()
    use_specs(project, a=spec_text("a"), b=spec_text("b"), c=spec_text("c"))
    applied = qrun(capsys, "apply")
    assert applied.code == 0  # deferred, not failed
    assert emu.submissions == 1
    assert "3458" in applied.text and "deferred" in applied.text
    assert latest(project, "a")["status"] == "queued"
    second = latest(project, "b")
    assert second["status"] == "claimed" and second["error"].startswith("deferred: ")
    assert not (project / "specs" / "c.lock.toml").exists()  # not even claimed
    planned = " ".join(qrun(capsys, "plan").text.split())
    assert "deferred by the pending-job cap in an earlier apply" in planned
    emu.jobs.release()
    assert qrun(capsys, "apply").code == 0  # a collects; b, then c, each finish before the next
    for name in "abc":
        assert latest(project, name)["status"] == "completed"
    assert "error" not in latest(project, "b")
    assert emu.submissions == 3  # each spec submitted once


def test_plan_shows_the_services_dry_run_estimate_beside_qrun(
    project: Path,
    make_ibm_emulator: Any,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The executor's dry run goes to the device's mock twin (no QPU, nothing charged), is
    never tagged like a run's job, and its estimate sits beside qrun's in every format."""
    emu: IBMRuntimeEmulator = make_ibm_emulator(**FAST, plan_id="paygo")
    use_specs(project, fez=spec_text("fez"))
    doc = json.loads(qrun(capsys, "plan", "--format", "json").out)
    (fez,) = doc["data"]
    (dry,) = emu.dry_runs
    assert dry.backend == "mock_fez" and dry.program_id == "executor"
    assert dry.tags == ["qrun-dry-run"]  # never "qrun": no adoption or stray lookup sees it
    assert emu.submissions == 0 and emu.usage_consumed_seconds() == 0  # no device, no charge
    assert fez["kind"] == "submit" and isinstance(fez["service_estimate_qpu_seconds"], float)
    assert fez["service_estimate_qpu_seconds"] == dry.quantum_seconds
    assert fez["service_estimate_cost"] == round(dry.quantum_seconds * 1.60, 2)
    assert fez["service_estimate"] == (
        f"service est. {dry.quantum_seconds:g} QPU s (${fez['service_estimate_cost']:,.2f})"
    )
    comment = qrun(capsys, "plan", "--format", "markdown").out
    (line,) = [s for s in comment.splitlines() if s.startswith("- 🚀 submit **fez**")]
    assert f"est. {money(fez['estimate_cost'])} · service est. {dry.quantum_seconds:g}" in line
    text = " ".join(qrun(capsys, "plan").text.split())
    assert f"fez: qrun est. {fez['estimate_qpu_seconds']:g} QPU s" in text
    assert "service est." in text
    assert qrun(capsys, "apply").code == 0  # the real submission: the dry runs are not adopted
    assert emu.submissions == 1
    record = latest(project, "fez")  # the plan's figures, kept for the dashboard
    assert record["estimate_qpu_seconds"] == fez["estimate_qpu_seconds"]
    assert record["estimate_cost"] == fez["estimate_cost"]
    billed = record["qpu_seconds"]  # collected in the same apply (FAST)
    dashboard = (project / "reports" / "README.md").read_text(encoding="utf-8")
    assert f"| {billed:g} s billed · ${billed * 1.60:,.2f} |" in dashboard

    emu.faults.add("POST", r"/jobs$", 400, message="dry runs are not enabled for this instance")
    use_specs(project, fez=spec_text("fez", shots=200))  # a changed spec: submit again
    planned = qrun(capsys, "plan", "--format", "json")
    assert planned.code == 0  # a failed dry run does not fail the plan
    (fez,) = json.loads(planned.out)["data"]
    assert fez["service_estimate_qpu_seconds"] is None and fez["service_estimate_cost"] is None
    assert fez["service_estimate"].startswith("service estimate unavailable: IBM Quantum")
    assert "dry runs are not enabled" in fez["service_estimate"]


def test_a_dry_run_still_pending_at_the_time_limit_is_cancelled(
    project: Path,
    make_ibm_emulator: Any,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    emu: IBMRuntimeEmulator = make_ibm_emulator(queued_polls=10_000, plan_id="paygo")
    monkeypatch.setenv("QRUN_DRY_RUN_SECONDS", "0.2")
    use_specs(project, fez=spec_text("fez"))
    (fez,) = json.loads(qrun(capsys, "plan", "--format", "json").out)["data"]
    (dry,) = emu.dry_runs
    assert dry.status == "Cancelled"  # holds none of the instance's pending-job slots
    assert fez["service_estimate_qpu_seconds"] == dry.quantum_seconds  # known while queued
    monkeypatch.setenv("QRUN_DRY_RUN_SECONDS", "off")
    (fez,) = json.loads(qrun(capsys, "plan", "--format", "json").out)["data"]
    assert fez["service_estimate"] == (
        "service estimate unavailable: dry runs are off (QRUN_DRY_RUN_SECONDS=off)"
    )
    assert len(emu.dry_runs) == 1


def test_without_credentials_there_is_only_qrun_s_estimate_and_why(tmp_path: Path) -> None:
    from runner.backends.ibm_client import IbmSettings
    from runner.backends.ibm_dry_run import service_estimate

    spec = spec_from(tmp_path, "fez", 'target = "ibm_fez"')
    found = service_estimate(IbmSettings({}), spec, 1.0)
    assert found.seconds is None
    assert found.reason == "no IBM credentials (IBM_QUANTUM_TOKEN is not set)"
