"""`qrun apply` on a sweep of 50 Bell/GHZ circuits at 4096 shots on local:aer versus a plain
qiskit script doing the same transpile + sampler run directly (same process, same run).

The plain script is the floor: everything qrun adds (loading, planning, storing results,
analysis, reports) shows up in the ratio. It is measured twice: as a user would write it
(`AerSimulator()` defaults) and with the simulator settings qrun picks for noiseless jobs
(statevector method, parallel experiments); the second ratio is qrun's own overhead.
"""

from __future__ import annotations

import io
import tempfile
import time
import warnings
from contextlib import redirect_stdout
from pathlib import Path

HEAD = """name = "sweep"
[backend]
target = "local:aer"
[execution]
shots = 4096
"""
GHZ = """[[circuits]]
name = "ghz{i}"
template = "ghz"
sweep = {{ num_qubits = [2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13] }}
"""
BELL = """[[circuits]]
name = "bell"
template = "bell"
sweep = { variant = ["phi+", "psi+"] }
"""
GHZ_SIZES = list(range(2, 14)) * 4  # 48 GHZ circuits + 2 Bell variants = 50 circuits


def plain_script(tuned: bool = False) -> float:
    from qiskit import QuantumCircuit
    from qiskit.transpiler import generate_preset_pass_manager
    from qiskit_aer import AerSimulator
    from qiskit_ibm_runtime import SamplerV2

    start = time.perf_counter()
    circuits = []
    for n in GHZ_SIZES:
        qc = QuantumCircuit(n)
        qc.h(0)
        for q in range(n - 1):
            qc.cx(q, q + 1)
        qc.measure_all()
        circuits.append(qc)
    for _ in range(2):
        qc = QuantumCircuit(2)
        qc.h(0)
        qc.cx(0, 1)
        qc.measure_all()
        circuits.append(qc)
    backend = AerSimulator()
    isa = generate_preset_pass_manager(1, backend=backend, seed_transpiler=1234).run(circuits)
    if tuned:
        backend = AerSimulator(method="statevector", max_parallel_experiments=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        sampler = SamplerV2(mode=backend)
    result = sampler.run([(c,) for c in isa], shots=4096).result()
    assert len(result) == 50
    return time.perf_counter() - start


def qrun_apply(root: Path) -> float:
    from runner.cli import main

    (root / "specs").mkdir(parents=True)
    spec = HEAD + "".join(GHZ.format(i=i) for i in range(4)) + BELL
    (root / "specs" / "sweep.toml").write_text(spec)
    start = time.perf_counter()
    with redirect_stdout(io.StringIO()):
        code = main(["--repo", str(root), "apply", "--no-push"])
    assert code == 0
    return time.perf_counter() - start


def report_only(root: Path) -> float:
    """Re-rendering the reports alone (pages removed so nothing is reused): the figure cost."""
    import shutil

    from runner.cli import main

    shutil.rmtree(root / "reports")
    start = time.perf_counter()
    with redirect_stdout(io.StringIO()):
        assert main(["--repo", str(root), "report"]) == 0
    return time.perf_counter() - start


def main() -> None:
    plain_script()  # warm imports and Aer so both sides pay the same one-off costs
    plain_script(tuned=True)
    plain = min(plain_script() for _ in range(3))
    tuned = min(plain_script(tuned=True) for _ in range(3))
    with tempfile.TemporaryDirectory() as tmp:
        qrun_apply(Path(tmp) / "warm")
        timings = [qrun_apply(Path(tmp) / f"run{i}") for i in range(3)]
        reports = min(report_only(Path(tmp) / f"run{i}") for i in range(3))
    best = min(timings)
    print(
        f"apply 50-circuit sweep on local:aer: plain qiskit {plain:.2f} s; qrun apply {best:.2f} s "
        f"(best of 3) -> ratio {best / plain:.2f}x\n"
        f"  against the plain script on qrun's simulator settings ({tuned:.2f} s): "
        f"{best / tuned:.2f}x (qrun's own overhead); report rendering alone (matplotlib "
        f"figures) {reports:.2f} s -> without it {(best - reports) / tuned:.2f}x"
    )


if __name__ == "__main__":
    main()
