"""The `local` backend: qiskit-ibm-runtime local mode on Aer, so everything runs with no account.

`local:aer` is the noiseless AerSimulator; `local:fake_<name>` is a fake device from
`qiskit_ibm_runtime.fake_provider` with its noise model, restricted to the qubits the run
uses (see `runner.backends.noise`). Jobs complete inside submit(); their outcomes live in
this process only, so a later process cannot collect them.

Results are byte-deterministic for a fixed request: transpilation and the simulator are both
seeded from `request.seed`, the result JSON has sorted keys, and `quantum_seconds` is None
(simulator wall time is neither QPU time nor reproducible).
"""

from __future__ import annotations

import difflib
import functools
import importlib
import math
import threading
from collections.abc import Sequence
from typing import Any

from runner.backends import noise
from runner.backends.base import JobOutcome, JobRef, JobStatus, RunRequest, Submission
from runner.backends.catalog import local_targets
from runner.backends.primitives import make_primitive, make_pubs, v2_shaped
from runner.backends.transpile import apply_layout_to_observables, transpile_for, two_qubit_edges
from runner.errors import BackendError
from runner.output import plural

AER_TARGET = "local:aer"
NOT_RETRIEVABLE = "local job results are not retrievable after the runner exits; run `qrun retry`"
# Local mode reads `seed_simulator` with a truthiness test, so 0 would mean "random".
ZERO_SEED_STANDIN = 2**31 - 1
STATEVECTOR_MAX_QUBITS = 20
"""Widest noiseless job run with Aer's statevector method (2^20 amplitudes: 16 MiB each);
the ideal distributions stop at the same width (analysis.ideal.IDEAL_MAX_QUBITS)."""

_outcomes: dict[str, JobOutcome] = {}
_outcomes_lock = threading.Lock()


def valid_targets() -> tuple[str, ...]:
    """Every target string the local backend accepts: the same list validation uses."""
    return tuple(local_targets())


@functools.cache
def load_device(target: str) -> Any:
    """What a `local:` target transpiles for (one instance per process): the AerSimulator,
    or the fake device's Target and calibration loaded fast (see runner.backends.devices)."""
    if target == AER_TARGET:
        from qiskit_aer import AerSimulator

        return AerSimulator()
    from runner.backends.devices import load_fake_device

    return load_fake_device(_device_class(target))


@functools.cache
def load_backend(target: str) -> Any:
    """qiskit-ibm-runtime's own object for a `local:` target: the AerSimulator, or the
    FakeBackendV2 with its full-device noise (slow to load; only the full model needs it)."""
    if target == AER_TARGET:
        return load_device(target)
    return _device_class(target)()


def _device_class(target: str) -> type:
    """The FakeBackendV2 subclass of a `local:fake_<name>` target."""
    if target not in local_targets():
        valid = valid_targets()
        close = difflib.get_close_matches(target, valid, n=1)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        shown = ", ".join(valid[:6])
        raise BackendError(
            f"Unknown backend '{target}'. Valid: {shown}, … ({len(valid)} local targets: "
            f"local:aer or local:fake_<device> for any fake device in qiskit-ibm-runtime).{hint}"
        )
    # The device's package under fake_provider/backends/ (what the catalog lists) holds
    # exactly one FakeBackendV2 class, whatever it is called (FakeManilaV2, FakeFractionalBackend).
    from qiskit_ibm_runtime.fake_provider.fake_backend import FakeBackendV2

    module = importlib.import_module(
        "qiskit_ibm_runtime.fake_provider.backends." + target.removeprefix("local:fake_")
    )
    (device_class,) = {
        v for v in vars(module).values()
        if isinstance(v, type) and issubclass(v, FakeBackendV2) and v is not FakeBackendV2
    }  # fmt: skip
    return device_class


def noiseless_method(circuits: Sequence[Any]) -> str:
    """Aer's simulation method for a noiseless job.

    Aer's automatic choice is the stabilizer method for Clifford circuits (Bell, GHZ), which
    draws each shot by measuring the tableau; the statevector method samples every shot from
    one probability vector, about 2x faster on a 50-circuit GHZ sweep. The statevector
    doubles with each qubit while the stabilizer method stays cheap on wide Clifford
    circuits, so jobs wider than STATEVECTOR_MAX_QUBITS keep the automatic choice.
    """
    widest = max((c.num_qubits for c in circuits), default=0)
    return "statevector" if widest <= STATEVECTOR_MAX_QUBITS else "automatic"


@functools.cache
def noiseless_simulator(method: str) -> Any:
    """The AerSimulator that runs noiseless jobs, experiments in parallel (the transpile
    target stays `load_device`'s)."""
    from qiskit_aer import AerSimulator

    return AerSimulator(method=method, max_parallel_experiments=0)


def load_properties(target: str) -> Any:
    """A fake device's calibration properties (parsed once per process: they never change)."""
    return load_device(target).properties


def simulator_seed(seed: int) -> int:
    """The `seed_simulator` for a request seed (0 is replaced: local mode treats it as unset)."""
    return seed if seed != 0 else ZERO_SEED_STANDIN


class LocalBackend:
    """Backend protocol on local Aer simulation; `reduce_noise=False` simulates the full device."""

    def __init__(self, target: str, *, reduce_noise: bool = True) -> None:
        self.target = target
        self.reduce_noise = reduce_noise
        self._device = load_device(target)
        self.noisy = target != AER_TARGET

    @property
    def name(self) -> str:
        """The resolved backend name, e.g. 'aer_simulator' or 'fake_fez'."""
        return str(self._device.name)

    def submit(self, request: RunRequest) -> Submission:
        """Transpile (seeded), run every PUB in one synchronous local job, keep the outcome."""
        if request.target != self.target:
            raise BackendError(
                f"run '{request.run_id}' targets '{request.target}' but this backend is "
                f"'{self.target}'; create a LocalBackend for that target"
            )
        count = plural(len(request.circuits), "circuit")
        request.progress("transpile", f"transpile {count} for {self.name}")
        isa_circuits, infos = transpile_for(
            request.circuits, self._device, request.optimization_level, request.seed
        )
        observables = []
        if request.primitive == "estimator":
            for job, isa in zip(request.circuits, isa_circuits, strict=True):
                if not job.observables:
                    raise BackendError(
                        f"circuit '{job.circuit_id}' of '{request.name}' has no observables; "
                        'the estimator needs at least one (e.g. observables = ["ZZ"])'
                    )
                observables.append(apply_layout_to_observables(job.observables, isa))
        job_id = f"local-{request.run_id}-0"
        request.progress("run", f"simulate {count} ({'noisy' if self.noisy else 'noiseless'})")
        outcome = self._execute(job_id, request, isa_circuits, observables)
        with _outcomes_lock:
            _outcomes[job_id] = outcome
        calibration: dict[str, Any] = {}
        if self.noisy:
            used = sorted({q for info in infos.values() for q in info.physical_qubits})
            calibration = device_calibration(
                load_properties(self.target), used, two_qubit_edges(isa_circuits)
            )
        return Submission(
            backend=self.name,
            jobs=(JobRef(job_id, tuple(job.circuit_id for job in request.circuits)),),
            transpiled=infos,
            calibration=calibration,
        )

    def _execute(
        self, job_id: str, request: RunRequest, isa_circuits: list[Any], observables: list[Any]
    ) -> JobOutcome:
        """Run the PUBs on the (reduced) simulator; a simulator error becomes a FAILED job."""
        from qiskit.exceptions import QiskitError

        from runner.analysis.record import circuit_registers, encode_primitive_result

        if not self.noisy:
            mode = noiseless_simulator(noiseless_method(isa_circuits))
        elif not self.reduce_noise:  # the whole device's noise model, every qubit kept
            mode = noise.full_simulator(self._device, load_properties(self.target))
        else:
            qubits = noise.active_qubits(isa_circuits, (o for obs in observables for o in obs))
            mode = noise.reduced_simulator(self._device, load_properties(self.target), qubits)
            isa_circuits = [noise.compact_circuit(isa, qubits) for isa in isa_circuits]
            observables = [
                [noise.compact_observable(o, qubits) for o in obs] for obs in observables
            ]
        primitive = make_primitive(request, mode, seed_simulator=simulator_seed(request.seed))
        try:
            result = primitive.run(make_pubs(request, isa_circuits, observables)).result()
        except QiskitError as exc:
            return JobOutcome(job_id, JobStatus.FAILED, reason=f"local simulation failed: {exc}")
        registers = [circuit_registers(job.circuit) for job in request.circuits]
        result_json = encode_primitive_result(v2_shaped(result), request.primitive, registers)
        return JobOutcome(job_id, JobStatus.COMPLETED, result_json=result_json)

    def check(self, min_qubits: int = 1) -> None:
        """The target exists (raises BackendError with the valid names otherwise)."""
        load_device(self.target)

    def find_jobs(self, request: RunRequest) -> tuple[JobRef, ...]:
        """Nothing to adopt: local jobs do not outlive the process that ran them."""
        return ()

    def strays(self, tags: Sequence[str], known: Sequence[str]) -> list[tuple[str, int]]:
        """None: no local job outlives the process that ran it."""
        return []

    def collect(self, job_ids: Sequence[str], first_job: str | None = None) -> list[JobOutcome]:
        """Outcomes of jobs run in this process; others are FAILED with the way forward. The
        calibration is the fake device's fixed one, recorded at submission."""
        with _outcomes_lock:
            known = dict(_outcomes)
        return [
            known.get(job_id) or JobOutcome(job_id, JobStatus.FAILED, reason=NOT_RETRIEVABLE)
            for job_id in job_ids
        ]

    def cancel(self, job_ids: Sequence[str]) -> list[str]:
        """Nothing to stop: local jobs end inside submit(). A local job still pending in a
        lock belongs to a process that is gone, and its results with it: none is reported
        finished, so the run is recorded cancelled."""
        return []


def device_calibration(
    properties: Any, qubits: Sequence[int], edges: Sequence[tuple[int, int]]
) -> dict[str, Any]:
    """T1/T2/readout/sx error of the used qubits and gate error of the used edges, as plain data.

    Times are in microseconds; values a device does not report are left out (TOML has no null).
    """
    from qiskit_ibm_runtime.models.exceptions import BackendPropertyError

    if properties is None:
        return {}
    readers = {
        "t1_us": lambda q: properties.t1(q) * 1e6,
        "t2_us": lambda q: properties.t2(q) * 1e6,
        "readout_error": properties.readout_error,
        "sx_error": lambda q: properties.gate_error("sx", [q]),
    }
    qubit_rows = []
    for qubit in qubits:
        row: dict[str, Any] = {"qubit": qubit}
        for key, read in readers.items():
            try:
                value = float(read(qubit))
            except BackendPropertyError:
                continue
            if math.isfinite(value):
                row[key] = round(value, 9)
        qubit_rows.append(row)
    two_qubit = {
        tuple(gate.qubits): gate.gate for gate in properties.gates if len(gate.qubits) == 2
    }
    edge_rows = []
    for edge in edges:
        pair = edge if edge in two_qubit else edge[::-1]
        if pair not in two_qubit:
            continue
        row = {"qubits": list(edge), "gate": two_qubit[pair]}
        try:
            error = float(properties.gate_error(two_qubit[pair], list(pair)))
        except BackendPropertyError:
            error = math.nan
        if math.isfinite(error):
            row["error"] = round(error, 9)
        edge_rows.append(row)
    return {
        "device": str(properties.backend_name),
        "backend_version": str(properties.backend_version),
        "last_update_date": properties.last_update_date.isoformat(),
        "qubits": qubit_rows,
        "two_qubit_gates": edge_rows,
    }
