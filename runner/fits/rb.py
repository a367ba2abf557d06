"""Standard randomized benchmarking: survival of |0…0⟩ against sequence length.

Model A·α^m + 1/2^n: the asymptote of a depolarized register is fixed at 1/2^n, so the fit
stays identifiable when α is 1 (a noiseless simulator) and on short sequences. Error per
Clifford EPC = (1 − α)(2^n − 1)/2^n. The points are means over the seeds of each length;
their error is the spread between sequences (which already holds the shot noise of each),
never below what shot noise alone gives (a few seeds can agree by chance). The prediction from the
device's reported errors sums, per Clifford, the reported error of every physical gate the
sequences use (counted by transpiling them to the device's basis gates).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping
from typing import Any

from runner.fits.curves import Z95, binomial_sigma, curve, fit_curve, quality
from runner.fits.data import EntryData
from runner.fits.result import EntryResult, Param, Reported, Series

VERSION = 2  # 2: shot noise no longer counted twice in the point errors
ONE_QUBIT_GATES = ("sx", "x")  # rz is virtual: no error on IBM devices


def _survival(counts: Mapping[str, int], n: int) -> tuple[int, int]:
    return counts.get("0" * n, 0), sum(counts.values())


def _points(data: EntryData, n: int) -> tuple[list[float], list[float], list[float]]:
    by_length: dict[int, list[tuple[int, int]]] = {}
    for c in data.circuits:
        by_length.setdefault(int(c["params"]["length"]), []).append(_survival(c["counts"], n))
    xs, ys, ss = [], [], []
    for length, rows in sorted(by_length.items()):
        values = [h / t for h, t in rows]
        shot_var = statistics.fmean(binomial_sigma(h, t) ** 2 for h, t in rows)
        spread = statistics.variance(values) if len(values) > 1 else 0.0
        xs.append(float(length))
        ys.append(statistics.fmean(values))
        ss.append(math.sqrt(max(spread, shot_var) / len(values)))
    return xs, ys, ss


def predicted_epc(data: EntryData, n: int) -> tuple[float, str] | None:
    """EPC the device's reported gate errors predict for these sequences, and its source."""
    if not data.layout:
        return None
    from qiskit import transpile

    from runner.templates.registry import get_template

    rows = [data.qubit_calibration(q) for q in data.layout]
    errors_1q = [r.get("sx_error") for r in rows]
    edge = data.edge_error(data.layout) if n == 2 else 0.0
    if any(e is None for e in errors_1q) or edge is None:
        return None
    gates = data.calibration.get("two_qubit_gates") or [{}]
    basis = [*ONE_QUBIT_GATES, "rz", str(gates[0].get("gate") or "cx")]
    template = get_template("rb")
    total_error = cliffords = 0.0
    for c in data.circuits:
        params = c["params"]
        circuit = transpile(template.build(measure=False, **params), basis_gates=basis,
                            optimization_level=1, seed_transpiler=0)  # fmt: skip
        for inst in circuit.data:
            name = inst.operation.name
            qubits = [circuit.find_bit(q).index for q in inst.qubits]
            if name in ONE_QUBIT_GATES:
                total_error += float(errors_1q[qubits[0]] or 0.0)
            elif len(qubits) == 2:
                total_error += float(edge)
        cliffords += int(params["length"]) + 1
    return total_error / cliffords, f"{data.device} reported sx" + (
        " and two-qubit gate errors" if n == 2 else " error"
    ) + " × gates per Clifford"


def rb(data: EntryData) -> EntryResult:
    """epc with its 95% interval, beside what the reported gate errors predict."""
    n = int(data.circuits[0]["params"]["num_qubits"])
    floor = 1 / 2**n
    xs, ys, ss = _points(data, n)

    def model(m: Any, a: float, alpha: float) -> Any:
        return a * alpha**m + floor

    fit = fit_curve(model, xs, ys, ss, (1 - floor, 0.99), ([0.0, 0.0], [1.0, 1.0]))
    alpha = fit.param(1, "alpha", "", "depolarizing parameter per Clifford")
    scale = (2**n - 1) / 2**n
    epc = Param("epc", None, unit="", description="error per Clifford (1 − α)(2^n − 1)/2^n")
    if alpha.value is not None and alpha.stderr is not None:
        value, se = (1 - alpha.value) * scale, alpha.stderr * scale
        epc = Param("epc", value, value - Z95 * se, value + Z95 * se, se, "", epc.description,
                    False)  # fmt: skip
    fx, fy = curve(model, fit, 0.0, max(xs, default=1.0))
    label = f"qubits {list(data.layout)}" if data.layout else data.entry
    reported: tuple[Reported, ...] = ()
    prediction = predicted_epc(data, n)
    if prediction is not None:
        reported = (Reported("epc", tuple(data.layout or ()), epc, prediction[0], prediction[1]),)
    return EntryResult(
        analysis="rb", version=VERSION, entry=data.entry, layout=data.layout,
        metrics=(epc,), parameters=(fit.param(0, "amplitude"), alpha),
        quality=quality(fit, alpha), series=(Series(label, tuple(xs), tuple(ys), tuple(ss), fx, fy),),
        x_label="sequence length (Cliffords)", y_label=f"P({'0' * n})", reported=reported,
    )  # fmt: skip
