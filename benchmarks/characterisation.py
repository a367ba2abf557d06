"""A characterisation spec against the same circuits in a plain qiskit script, as a ratio.

The spec: T1 and T2 (Hahn echo) of two pinned qubits of local:fake_fez, 14 delays each,
plus the 4-state readout matrix: 60 circuits at 1000 shots. `qrun apply` does everything
(validate, transpile, simulate with the device's noise, store, fit, render the page and
its figures); the plain script builds the same circuits, transpiles them with the same
seed and layouts, and runs them with SamplerV2 on the fake device, as qiskit-ibm-runtime's
local-mode guide shows (that simulates the whole 156-qubit device's noise: it runs once,
it takes minutes). A second baseline runs the same plain script on the noiseless
AerSimulator: a floor no noisy simulation reaches, so that ratio says what qrun's whole
apply costs beyond bare simulation. Each side runs in a fresh process (imports included);
qrun and the noiseless floor are medians of 3. Target: ratio to the plain script <= 3.

Run: python benchmarks/characterisation.py
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DELAYS = [0, 25, 50, 75, 100, 150, 200, 250, 300, 350, 400, 450, 500, 600]
QUBITS = (4, 5)
SHOTS = 1000

SPEC = (
    f"""name = "coherence"
[backend]
target = "local:fake_fez"
[execution]
shots = {SHOTS}
"""
    + "".join(
        f'[[circuits]]\nname = "{kind}-q{q}"\ntemplate = "{kind}"\nlayout = [{q}]\n'
        f"sweep = {{ delay_us = {DELAYS} }}\n"
        for kind in ("t1", "t2_echo")
        for q in QUBITS
    )
    + (
        f'[[circuits]]\nname = "ro"\ntemplate = "readout"\nlayout = {list(QUBITS)}\n'
        'sweep = { state = ["00", "01", "10", "11"] }\n'
    )
)

PLAIN = f"""
import warnings
warnings.filterwarnings("ignore")
from qiskit import QuantumCircuit
from qiskit.transpiler import generate_preset_pass_manager
from qiskit_ibm_runtime import SamplerV2
from qiskit_ibm_runtime.fake_provider import FakeFez

import sys
from qiskit_aer import AerSimulator
backend = FakeFez()
mode = AerSimulator() if sys.argv[1:] == ["noiseless"] else backend
pubs = []
for q in {QUBITS}:
    manager = generate_preset_pass_manager(1, backend=backend, seed_transpiler=1234,
                                           initial_layout=[q])
    for t in {DELAYS}:
        t1 = QuantumCircuit(1)
        t1.x(0)
        t1.delay(round(t * 1e-6 / backend.dt), 0, unit="dt")
        t1.measure_all()
        echo = QuantumCircuit(1)
        echo.sx(0)
        echo.delay(round(t / 2 * 1e-6 / backend.dt), 0, unit="dt")
        echo.x(0)
        echo.delay(round(t / 2 * 1e-6 / backend.dt), 0, unit="dt")
        echo.sx(0)
        echo.measure_all()
        pubs += [(manager.run(t1), None, {SHOTS}), (manager.run(echo), None, {SHOTS})]
manager = generate_preset_pass_manager(1, backend=backend, seed_transpiler=1234,
                                       initial_layout={list(QUBITS)})
for state in ("00", "01", "10", "11"):
    ro = QuantumCircuit(2)
    for q, bit in enumerate(reversed(state)):
        if bit == "1":
            ro.x(q)
    ro.measure_all()
    pubs.append((manager.run(ro), None, {SHOTS}))
assert len(pubs) == 60
result = SamplerV2(mode=mode, options={{"simulator": {{"seed_simulator": 1234}}}}).run(pubs).result()
counts = [pub.data.meas.get_counts() for pub in result]
"""


def timed(argv: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run(argv, cwd=cwd, check=True, capture_output=True,
                   env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})  # fmt: skip
    return time.perf_counter() - start


def qrun_apply() -> float:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "specs").mkdir()
        (root / "reports").mkdir()
        (root / "specs" / "coherence.toml").write_text(SPEC, encoding="utf-8")
        return timed([sys.executable, "-m", "runner", "apply"], root)


def plain(*argv: str) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        return timed([sys.executable, "-c", PLAIN, *argv], Path(tmp))


def main() -> int:
    ours = statistics.median(qrun_apply() for _ in range(3))
    base = plain()
    floor = statistics.median(plain("noiseless") for _ in range(3))
    print(
        f"T1 + T2 echo + readout, 2 qubits of local:fake_fez, 60 circuits x {SHOTS} shots "
        f"(fresh process each): qrun apply {ours:6.2f} s (with fits, store and report), "
        f"plain qiskit script on FakeFez {base:6.2f} s, ratio {ours / base:5.2f} (target <= 3); "
        f"same script on noiseless Aer {floor:6.2f} s, ratio {ours / floor:5.2f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
