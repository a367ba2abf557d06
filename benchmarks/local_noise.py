"""How fast the local backend is, as ratios measured in one process.

1. One Bell run (4096 shots) on local:fake_fez (156 qubits, reduced noise model) versus the
   smallest shipped fake device of at least 5 qubits: target within 2x. Cold = the first noisy run of a fresh
   process (after the same local:aer warm-up, so imports are paid alike): it loads the
   device and builds the reduced model; each device gets its own process, so neither pays
   the other's first-use costs. Warm = median of later runs (the reduced simulator is
   cached per device and qubit set).
2. fake_fez with the full-device noise model versus the reduced one.
3. local:aer running a 50-circuit Bell/GHZ sweep at 4096 shots through LocalBackend versus a
   plain qiskit script doing the same seeded transpile + executor Sampler run: target close to 1.
   The plain script runs twice: on AerSimulator() defaults, and on the simulator settings
   qrun picks (so the second ratio is the backend's own overhead).

Run: python benchmarks/local_noise.py  (`--cold <target>` prints one cold run, in ms)
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from qiskit import QuantumCircuit

from runner.backends.base import CircuitJob, RunRequest
from runner.backends.catalog import fake_devices
from runner.backends.local import LocalBackend

SHOTS = 4096
SEED = 1234
WARM_REPEATS = 5
WIDE = "local:fake_fez"
SMALL = "local:" + min((q, n) for n, (_, q) in fake_devices().items() if q >= 5)[1]


def ghz(num_qubits: int) -> QuantumCircuit:
    """GHZ state on num_qubits qubits, measured (num_qubits=2 is the Bell pair)."""
    circuit = QuantumCircuit(num_qubits, name=f"ghz{num_qubits}")
    circuit.h(0)
    for qubit in range(1, num_qubits):
        circuit.cx(qubit - 1, qubit)
    circuit.measure_all()
    return circuit


def request(target: str, circuits: list[QuantumCircuit], run_id: str = "bench") -> RunRequest:
    """A sampler run of the given circuits."""
    jobs = tuple(CircuitJob(f"c{i}_{c.name}", c) for i, c in enumerate(circuits))
    return RunRequest(
        name="bench", run_id=run_id, target=target, primitive="sampler", shots=SHOTS,
        optimization_level=1, seed=SEED, circuits=jobs,
    )  # fmt: skip


def seconds(action: Callable[[], object]) -> float:
    """Wall time of one call."""
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def local_run(target: str, circuits: list[QuantumCircuit], *, reduce_noise: bool = True) -> float:
    """Seconds for one submit + collect through LocalBackend."""
    backend = LocalBackend(target, reduce_noise=reduce_noise)
    run = request(target, circuits)

    def go() -> None:
        submission = backend.submit(run)
        backend.collect([job.job_id for job in submission.jobs])

    return seconds(go)


def plain_qiskit_run(circuits: list[QuantumCircuit], tuned: bool = False) -> float:
    """Seconds for the same seeded transpile + executor Sampler local run, by hand; `tuned`
    runs it on the simulator settings qrun picks (statevector, parallel experiments)."""
    from qiskit.transpiler import generate_preset_pass_manager
    from qiskit_aer import AerSimulator
    from qiskit_ibm_runtime.executor_sampler import Sampler

    def go() -> None:
        simulator = AerSimulator()
        manager = generate_preset_pass_manager(1, backend=simulator, seed_transpiler=SEED)
        isa = [manager.run(c) for c in circuits]
        if tuned:
            simulator = AerSimulator(method="statevector", max_parallel_experiments=0)
        sampler = Sampler(mode=simulator)
        sampler.options.simulator.seed_simulator = SEED
        sampler.run([(c,) for c in isa], shots=SHOTS).result()

    return seconds(go)


def cold_run(target: str) -> float:
    """Seconds of the first Bell run on `target` in a fresh process (after a local:aer run)."""
    out = subprocess.run([sys.executable, __file__, "--cold", target], check=True,
                         capture_output=True, text=True).stdout  # fmt: skip
    return float(out.strip()) / 1000


def main() -> int:
    """Print the three ratios."""
    warnings.filterwarnings("ignore", category=DeprecationWarning)  # third-party ones only
    bell = [ghz(2)]
    local_run("local:aer", bell)  # imports and first-use costs out of the way
    if sys.argv[1:2] == ["--cold"]:
        print(f"{local_run(sys.argv[2], bell) * 1000:.3f}")
        return 0
    cold = {t: statistics.median(cold_run(t) for _ in range(3)) for t in (SMALL, WIDE)}
    for target in (SMALL, WIDE):
        local_run(target, bell)  # this process's first run of the device is not a warm one
    warm = {
        t: statistics.median(local_run(t, bell) for _ in range(WARM_REPEATS)) for t in (SMALL, WIDE)
    }
    print(
        "Bell run, 4096 shots (cold: first noisy run of a fresh process, median of 3 processes; "
        f"warm: median of {WARM_REPEATS})"
    )
    for label, times in (("cold", cold), ("warm", warm)):
        wide, small = times[WIDE], times[SMALL]
        print(
            f"  {label}: {WIDE} (reduced) {wide * 1000:7.1f} ms, {SMALL} "
            f"{small * 1000:7.1f} ms, ratio {wide / small:5.2f}  (target <= 2)"
        )
    local_run(WIDE, bell, reduce_noise=False)  # loads FakeBackendV2 once
    full = statistics.median(local_run(WIDE, bell, reduce_noise=False) for _ in range(3))
    reduced = warm[WIDE]
    print(
        f"  {WIDE} full-device model {full * 1000:7.1f} ms vs reduced "
        f"{reduced * 1000:7.1f} ms: full/reduced {full / reduced:6.1f}x"
    )
    sweep = [ghz(2 + i % 4) for i in range(50)]
    ours = statistics.median(local_run("local:aer", sweep) for _ in range(3))
    plain = statistics.median(plain_qiskit_run(sweep) for _ in range(3))
    tuned = statistics.median(plain_qiskit_run(sweep, tuned=True) for _ in range(3))
    print(
        f"50-circuit Bell/GHZ sweep on local:aer, 4096 shots: LocalBackend {ours * 1000:7.1f} ms, "
        f"plain qiskit {plain * 1000:7.1f} ms, ratio {ours / plain:5.2f}; on qrun's simulator "
        f"settings {tuned * 1000:7.1f} ms, ratio {ours / tuned:5.2f}  (target ~1)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
