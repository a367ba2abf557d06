"""The local backend on real Aer simulation: physics, determinism, calibration, reduced noise."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from qiskit import QuantumCircuit, qasm3
from scipy.stats import chi2_contingency

from runner.analysis.record import decode_record
from runner.backends import noise
from runner.backends.base import Backend, CircuitJob, JobStatus, RunRequest
from runner.backends.local import (
    NOT_RETRIEVABLE,
    STATEVECTOR_MAX_QUBITS,
    LocalBackend,
    load_backend,
    load_device,
    load_properties,
    noiseless_method,
    noiseless_simulator,
    valid_targets,
)
from runner.backends.transpile import apply_layout_to_observables, transpile_for
from runner.errors import BackendError

SHOTS = 4096


def ghz(num_qubits: int, *, measure: bool = True) -> QuantumCircuit:
    """GHZ state (num_qubits=2 is the Bell pair |00>+|11>)."""
    circuit = QuantumCircuit(num_qubits, name=f"ghz{num_qubits}")
    circuit.h(0)
    for qubit in range(1, num_qubits):
        circuit.cx(qubit - 1, qubit)
    if measure:
        circuit.measure_all()
    return circuit


def request(
    target: str,
    *jobs: CircuitJob,
    primitive: str = "sampler",
    seed: int = 7,
    shots: int = SHOTS,
    run_id: str = "run1",
    options: dict | None = None,
) -> RunRequest:
    return RunRequest(
        name="exp", run_id=run_id, target=target, primitive=primitive,  # type: ignore[arg-type]
        shots=shots, optimization_level=1, seed=seed, circuits=jobs, options=options or {},
    )  # fmt: skip


def run(backend: LocalBackend, req: RunRequest) -> tuple[object, str]:
    """Submit, collect, and return (submission, result JSON) of the single local job."""
    submission = backend.submit(req)
    [outcome] = backend.collect([job.job_id for job in submission.jobs])
    assert outcome.status is JobStatus.COMPLETED, outcome.reason
    assert outcome.result_json is not None
    return submission, outcome.result_json


def counts_of(result_json: str) -> list[dict[str, int]]:
    """Per-PUB counts, decoded from the result of record the way a later reader would."""
    return [pub.counts or {} for pub in decode_record(result_json, "sampler")]


def chi_square_p(first: dict[str, int], second: dict[str, int]) -> float:
    """p-value of the chi-square test that two count samples share one distribution."""
    outcomes = sorted(set(first) | set(second))
    table = np.array([[first.get(o, 0) for o in outcomes], [second.get(o, 0) for o in outcomes]])
    return float(chi2_contingency(table).pvalue)


def test_local_backend_satisfies_the_protocol():
    backend: Backend = LocalBackend("local:aer")
    req = request("local:aer", CircuitJob("bell", ghz(2)))
    assert backend.find_jobs(req) == ()
    backend.cancel(["local-anything-0"])  # a no-op, never an error


def test_sampler_bell_on_aer_is_half_00_half_11():
    submission, result_json = run(
        LocalBackend("local:aer"), request("local:aer", CircuitJob("bell", ghz(2)))
    )
    [counts] = counts_of(result_json)
    assert set(counts) == {"00", "11"}
    assert sum(counts.values()) == SHOTS
    sigma = math.sqrt(0.25 / SHOTS)
    assert abs(counts["00"] / SHOTS - 0.5) < 5 * sigma
    assert submission.backend == "aer_simulator"
    assert submission.jobs[0].job_id == "local-run1-0"
    assert submission.jobs[0].circuit_ids == ("bell",)
    assert submission.transpiled["bell"].two_qubit_gates == 1
    assert submission.transpiled["bell"].physical_qubits == (0, 1)
    assert submission.calibration == {}


def test_estimator_bell_expectation_values_on_aer():
    job = CircuitJob("zz", ghz(2, measure=False), observables=("ZZ", "XX", "ZI"))
    _, result_json = run(
        LocalBackend("local:aer"), request("local:aer", job, primitive="estimator")
    )
    [pub] = decode_record(result_json, "estimator")
    zz, xx, zi = pub.evs or ()
    assert zz == pytest.approx(1.0, abs=0.02)
    assert xx == pytest.approx(1.0, abs=0.02)
    assert zi == pytest.approx(0.0, abs=5 / math.sqrt(SHOTS))


def test_estimator_draws_exactly_the_requested_shots():
    job = CircuitJob("zz", ghz(2, measure=False), observables=("ZZ",))
    for shots in (1000, 1024, 7):
        req = request("local:aer", job, primitive="estimator", shots=shots)
        [pub] = decode_record(run(LocalBackend("local:aer"), req)[1], "estimator")
        assert pub.shots == shots


def test_fake_manila_bell_is_noisy():
    submission, result_json = run(
        LocalBackend("local:fake_manila"), request("local:fake_manila", CircuitJob("bell", ghz(2)))
    )
    [counts] = counts_of(result_json)
    errors = counts.get("01", 0) + counts.get("10", 0)
    assert 0 < errors < 0.25 * SHOTS
    assert counts["00"] + counts["11"] > 0.75 * SHOTS
    assert submission.backend == "fake_manila"


def test_same_request_gives_byte_identical_results_and_the_seed_matters():
    req = request("local:fake_manila", CircuitJob("bell", ghz(2)), CircuitJob("ghz3", ghz(3)))
    _, first = run(LocalBackend("local:fake_manila"), req)
    _, second = run(LocalBackend("local:fake_manila"), req)
    assert first == second
    _, other_seed = run(LocalBackend("local:fake_manila"), request(
        "local:fake_manila", CircuitJob("bell", ghz(2)), CircuitJob("ghz3", ghz(3)), seed=8
    ))  # fmt: skip
    assert other_seed != first


def test_seed_zero_is_still_deterministic():
    req = request("local:aer", CircuitJob("bell", ghz(2)), seed=0)
    assert run(LocalBackend("local:aer"), req)[1] == run(LocalBackend("local:aer"), req)[1]


def test_unknown_backend_names_the_valid_ones_and_suggests_one():
    with pytest.raises(BackendError) as caught:
        LocalBackend("local:fake_manilla")
    message = str(caught.value)
    assert message.startswith("Unknown backend 'local:fake_manilla'. Valid: local:aer, ")
    assert "Did you mean 'local:fake_manila'?" in message
    assert "local:fake_fez" in valid_targets()
    with pytest.raises(BackendError, match="Unknown backend 'ibm_fez'"):
        LocalBackend("ibm_fez")


def test_every_listed_fake_target_resolves_to_a_device_of_that_name():
    for target in ("local:fake_manila", "local:fake_fez", "local:fake_sherbrooke"):
        assert target in valid_targets()
        assert load_backend(target).name == target.removeprefix("local:")


def test_calibration_describes_the_used_qubits_of_a_fake_device():
    submission, _ = run(
        LocalBackend("local:fake_manila"), request("local:fake_manila", CircuitJob("bell", ghz(2)))
    )
    calibration = submission.calibration
    properties = load_properties("local:fake_manila")
    used = submission.transpiled["bell"].physical_qubits
    assert [row["qubit"] for row in calibration["qubits"]] == list(used)
    for row in calibration["qubits"]:
        assert row["t1_us"] == pytest.approx(properties.t1(row["qubit"]) * 1e6)
        assert row["t2_us"] == pytest.approx(properties.t2(row["qubit"]) * 1e6)
        assert row["readout_error"] == pytest.approx(properties.readout_error(row["qubit"]))
    [edge] = calibration["two_qubit_gates"]
    assert set(edge["qubits"]) == set(used)
    assert edge["gate"] == "cx"
    assert edge["error"] == pytest.approx(properties.gate_error("cx", edge["qubits"]))
    assert calibration["backend_version"] == properties.backend_version
    assert calibration["last_update_date"].startswith("20")
    assert json.loads(json.dumps(calibration)) == calibration  # plain JSON-able values


def test_transpilation_is_deterministic_for_a_fixed_seed():
    device = load_device("local:fake_fez")
    jobs = [CircuitJob("ghz5", ghz(5)), CircuitJob("bell", ghz(2))]
    first, info = transpile_for(jobs, device, optimization_level=2, seed=42)
    second, _ = transpile_for(jobs, device, optimization_level=2, seed=42)
    assert [qasm3.dumps(c) for c in first] == [qasm3.dumps(c) for c in second]
    assert len(info["ghz5"].physical_qubits) == 5
    assert info["ghz5"].two_qubit_gates >= 4


def test_observables_follow_the_layout():
    device = load_device("local:fake_fez")
    [isa], _ = transpile_for([CircuitJob("bell", ghz(2, measure=False))], device, 1, seed=3)
    [mapped] = apply_layout_to_observables(("ZI",), isa)
    assert mapped.num_qubits == 156
    virtual_one = isa.layout.final_index_layout()[1]
    assert mapped.paulis[0].z.nonzero()[0].tolist() == [virtual_one]
    with pytest.raises(BackendError, match="'ZZZ' has 3 Pauli letters but circuit"):
        apply_layout_to_observables(("ZZZ",), isa)


def test_circuit_wider_than_the_device_is_refused():
    with pytest.raises(
        BackendError, match=r"'ghz6' needs 6 qubits but backend 'fake_manila' has 5"
    ):
        LocalBackend("local:fake_manila").submit(
            request("local:fake_manila", CircuitJob("ghz6", ghz(6)))
        )


def test_jobs_of_another_process_are_failed_with_the_way_forward():
    [outcome] = LocalBackend("local:aer").collect(["local-from-yesterday-0"])
    assert outcome.status is JobStatus.FAILED
    assert outcome.reason == NOT_RETRIEVABLE


def test_reduced_noise_model_is_the_device_model_restricted_to_the_qubits():
    device = load_backend("local:fake_manila")
    properties = load_properties("local:fake_manila")
    isa = transpile_for([CircuitJob("bell", ghz(2))], device, 1, seed=1)[0]
    device.run(isa, shots=1).result()  # makes the fake device build its own full noise model
    full = device.options.noise_model
    assert noise.reduced_noise_model(device, properties, range(5)) == full
    assert noise.reduced_noise_model(load_device("local:fake_manila"), properties, range(5)) == full

    def errors(model, renumber):
        kept = []
        for error in model.to_dict()["errors"]:
            qubits = [q for qs in error["gate_qubits"] for q in qs]
            if all(q in renumber for q in qubits):
                kept.append(json.dumps({
                    "type": error["type"], "operations": error["operations"],
                    "qubits": [renumber[q] for q in qubits],
                    "instructions": error.get("instructions"),
                    "probabilities": np.asarray(error["probabilities"], dtype=float).tolist(),
                }, sort_keys=True))  # fmt: skip
        return sorted(kept)

    reduced = noise.reduced_noise_model(device, properties, [2, 3])
    assert errors(reduced, {0: 0, 1: 1}) == errors(full, {2: 0, 3: 1})
    assert errors(reduced, {0: 0, 1: 1}) != errors(full, {1: 0, 2: 1})


def test_readout_noise_keeps_the_calibrated_asymmetry():
    """IBM readout is asymmetric (|1⟩ decays while it is measured): the calibration has
    P(1|0) and P(0|1) apart, and the model keeps both, where AerSimulator.from_backend (what
    the executor primitives' local mode builds) averages them into one number per qubit."""
    device = load_device("local:fake_fez")
    properties = load_properties("local:fake_fez")
    model = noise.reduced_noise_model(device, properties, [0])
    [readout] = [e for e in model.to_dict()["errors"] if e["type"] == "roerror"]
    p10 = properties.qubit_property(0)["prob_meas1_prep0"][0]
    p01 = properties.qubit_property(0)["prob_meas0_prep1"][0]
    assert p01 > 2 * p10  # the calibration itself is asymmetric
    assert np.allclose(readout["probabilities"], [[1 - p10, p10], [p01, 1 - p01]])


def test_estimator_keeps_qubits_only_an_observable_touches():
    circuit = QuantumCircuit(2)
    circuit.x(0)  # qubit 1 is idle; Z on it must still be measured (with readout noise)
    job = CircuitJob("idle", circuit, observables=("ZI", "IZ"))
    raw = {"resilience_level": 0}  # no readout mitigation: the readout noise must show
    _, result_json = run(
        LocalBackend("local:fake_fez"),
        request("local:fake_fez", job, primitive="estimator", options=raw),
    )
    [pub] = decode_record(result_json, "estimator")
    z_idle, z_flipped = pub.evs or ()
    assert 0.8 < z_idle < 0.999  # exactly 1.0 would mean the qubit was dropped
    assert -0.999 < z_flipped < -0.8


@pytest.mark.slow
def test_reduced_model_matches_full_device_model_statistically():
    """Chi-square homogeneity per circuit: reduced vs full must agree, noiseless vs full not.

    Both runs are seeded, so the p-values are fixed numbers, not a flaky draw. With 8192 shots
    a shift of one percentage point in any outcome would give p far below 1e-3.
    """
    shots = 8192
    jobs = (CircuitJob("bell", ghz(2)), CircuitJob("ghz3", ghz(3)))
    target = "local:fake_fez"
    _, reduced = run(LocalBackend(target), request(target, *jobs, shots=shots, seed=11))
    _, full = run(
        LocalBackend(target, reduce_noise=False), request(target, *jobs, shots=shots, seed=12)
    )
    _, noiseless = run(LocalBackend("local:aer"), request("local:aer", *jobs, shots=shots, seed=13))
    for reduced_counts, full_counts, ideal_counts in zip(
        counts_of(reduced), counts_of(full), counts_of(noiseless), strict=True
    ):
        assert chi_square_p(reduced_counts, full_counts) > 1e-3
        assert chi_square_p(ideal_counts, full_counts) < 1e-6  # the test can tell models apart


def test_every_target_validation_accepts_is_one_the_backend_can_load() -> None:
    from runner.backends.catalog import local_targets

    assert valid_targets() == tuple(local_targets())
    # the device whose class does not follow the Fake<Name>V2 pattern once validated but failed
    assert load_backend("local:fake_fractional").num_qubits > 0


@pytest.mark.parametrize(
    "target",
    ["local:fake_manila", "local:fake_fez", "local:fake_torino", "local:fake_fractional"],
)
def test_fast_device_loading_matches_fake_backend_v2(target: str) -> None:
    """load_device reads the data files itself (FakeBackendV2 is slow to load): the Target,
    the calibration and the transpiled circuits must be FakeBackendV2's exactly."""
    ours, theirs = load_device(target), load_backend(target)
    assert ours.name == theirs.name and ours.basis_gates == theirs.configuration().basis_gates
    assert ours.properties.to_dict() == theirs.properties().to_dict()
    mine, reference = ours.target, theirs.target
    assert (mine.num_qubits, mine.dt) == (theirs.num_qubits, theirs.dt)
    assert set(mine.operation_names) == set(reference.operation_names)
    for name in reference.operation_names:
        assert set(mine[name]) == set(reference[name]), name
        for qargs, props in reference[name].items():
            got = mine[name][qargs]
            assert (got is None) == (props is None), (name, qargs)
            if props is not None:
                assert (got.error, got.duration) == (props.error, props.duration), (name, qargs)
    jobs = [CircuitJob("ghz4", ghz(4)), CircuitJob("bell", ghz(2, measure=False))]
    assert transpile_for(jobs, ours, 2, seed=5) == transpile_for(jobs, theirs, 2, seed=5)


def test_noiseless_method_is_statevector_only_for_narrow_jobs() -> None:
    narrow = [ghz(2), ghz(STATEVECTOR_MAX_QUBITS)]
    assert noiseless_method(narrow) == "statevector"
    assert noiseless_method([*narrow, ghz(STATEVECTOR_MAX_QUBITS + 1)]) == "automatic"
    noiseless_simulator.cache_clear()
    run(LocalBackend("local:aer"), request("local:aer", CircuitJob("bell", ghz(2)), shots=10))
    assert noiseless_simulator.cache_info().misses == 1  # the job ran on the simulator made here
    assert noiseless_simulator("statevector").options.method == "statevector"
    assert noiseless_simulator.cache_info().hits == 1  # ...and it was the statevector one


def test_noiseless_jobs_wider_than_a_statevector_still_run() -> None:
    """A 30-qubit GHZ (16 GiB as a statevector) runs on Aer's automatic choice (the
    stabilizer method) and gives the right distribution."""
    assert noiseless_method([ghz(30)]) == "automatic"
    _, result_json = run(LocalBackend("local:aer"), request("local:aer", CircuitJob("g", ghz(30)),
                                                           shots=500))  # fmt: skip
    [counts] = counts_of(result_json)
    assert set(counts) == {"0" * 30, "1" * 30} and sum(counts.values()) == 500
    assert 150 < counts["0" * 30] < 350  # binomial(500, 0.5): far outside 5 sigma otherwise


def test_run_finish_is_the_latest_job_end_the_backend_reported() -> None:
    """Collection takes the latest job end the service reported as the run's finish, else
    (none reported, or one before the run was created) its own time."""
    from runner.backends.base import JobOutcome
    from runner.collect import _finished_at

    ends = [JobOutcome("a", JobStatus.COMPLETED, finished_at="2026-03-01T10:00:07Z"),
            JobOutcome("b", JobStatus.COMPLETED, finished_at="2026-03-01T10:02:30Z"), None]  # fmt: skip
    assert (
        _finished_at(ends, "2026-03-01T09:59:00Z", "2026-03-01T11:00:00Z") == "2026-03-01T10:02:30Z"
    )
    assert _finished_at(ends, "2026-03-02T00:00:00Z", "later") == "later"  # before creation
    assert _finished_at([None], "2026-03-01T09:59:00Z", "now") == "now"


def test_run_times_advance_with_the_work_unless_the_clock_is_pinned() -> None:
    """A local run is created and finished in one invocation: its times are read as the
    work goes on (so the page shows a measured duration, not a constant 0s); QRUN_NOW pins
    the clock for reproducible runs and then every time is the pinned one."""
    import time
    from datetime import UTC, datetime, timedelta

    from runner.execute import RunContext
    from runner.reports.markdown import duration

    start = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
    ten_seconds_in = time.monotonic() - 10
    live = RunContext(store=None, backend_for=None, now=start, persist=print,  # type: ignore[arg-type]
                      started=ten_seconds_in)  # fmt: skip
    pinned = RunContext(store=None, backend_for=None, now=start, persist=print,  # type: ignore[arg-type]
                        started=ten_seconds_in, pinned=True)  # fmt: skip
    assert live.current_time() - start >= timedelta(seconds=10)
    assert pinned.current_time() == start
    assert duration("2026-03-01T10:00:00Z", "2026-03-01T10:00:12Z") == "12s"
    assert duration("2026-03-01T10:00:00Z", "2026-03-01T10:00:00Z") == "< 1s"


def test_local_jobs_store_only_data_and_shots_from_the_executor_primitives() -> None:
    """The executor primitives' metadata holds simulator timings: the record keeps none."""
    bell = QuantumCircuit(2)
    bell.h(0)
    bell.cx(0, 1)
    bell.measure_all()
    _, text = run(LocalBackend("local:aer"), request("local:aer", CircuitJob("bell", bell)))
    assert "time_taken" not in text and "chunk_timing" not in text
    [pub] = decode_record(text, "sampler")
    assert pub.shots == SHOTS and sum((pub.counts or {}).values()) == SHOTS


def test_local_estimator_mitigates_readout_by_default_like_the_hardware_primitive() -> None:
    """Resilience level 1 (the executor Estimator's default, TREX) on a noisy fake device
    brings <Z> of a flipped qubit closer to its ideal -1 than level 0 does."""
    circuit = QuantumCircuit(1)
    circuit.x(0)
    job = CircuitJob("flip", circuit, observables=("Z",))
    evs = {}
    for level in (0, 1):
        req = request(
            "local:fake_fez", job, primitive="estimator", options={"resilience_level": level}
        )
        [pub] = decode_record(run(LocalBackend("local:fake_fez"), req)[1], "estimator")
        evs[level] = (pub.evs or ())[0]
    assert abs(evs[1] + 1) < abs(evs[0] + 1)


def test_deprecation_warnings_from_qrun_modules_are_errors() -> None:
    """pyproject's filter: a deprecated call made by runner.* fails the suite."""
    import warnings

    with pytest.raises(DeprecationWarning):
        warnings.warn_explicit("old", DeprecationWarning, "ibm.py", 1, module="runner.backends")
