"""A corpus of real-world-shaped QASM circuits on local:aer: counts fit the exact ideal.

tests/data/circuits holds OpenQASM 2 and 3 circuits of 1-16 qubits with what trips up a
reader of counts: registers declared out of alphabetical order, unused registers, no
measurements, partial readout, mid-circuit measurement, reset, conditions and wide output
distributions. Each runs through the local backend and the result of record, is decoded with
the registers from the request document's QASM, and must pass a chi-square goodness-of-fit
test against its exact noiseless ideal (fixed seeds: the p-values are fixed numbers).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.stats import chisquare

from runner.analysis.ideal import sampler_ideal
from runner.analysis.metrics import analyse_sampler
from runner.analysis.record import decode_record, qasm_registers
from runner.backends.base import CircuitJob, JobStatus, RunRequest
from runner.backends.local import LocalBackend
from runner.templates.qasm import dump_qasm, load_qasm

CORPUS = sorted((Path(__file__).parent / "data" / "circuits").glob("*.qasm"))
SHOTS = 4000


def _circuit(path: Path):  # type: ignore[no-untyped-def]
    qc = load_qasm(path.read_text("utf-8"))
    if not any(inst.operation.name == "measure" for inst in qc.data):
        qc.measure_all()  # what runner.circuits.build_circuit does
    qc.name = path.stem
    return qc


@pytest.fixture(scope="module")
def corpus() -> dict[str, tuple[dict[str, int], dict[str, float]]]:
    """circuit id -> (counts from local:aer, exact ideal)."""
    jobs = tuple(CircuitJob(p.stem, _circuit(p)) for p in CORPUS)
    request = RunRequest(
        name="corpus", run_id="corpus-1", target="local:aer", primitive="sampler",
        shots=SHOTS, optimization_level=1, seed=20261202, circuits=jobs,
    )  # fmt: skip
    backend = LocalBackend("local:aer")
    submission = backend.submit(request)
    [outcome] = backend.collect([submission.jobs[0].job_id])
    assert outcome.status is JobStatus.COMPLETED and outcome.result_json
    registers = [qasm_registers(dump_qasm(job.circuit)) for job in jobs]
    pubs = decode_record(outcome.result_json, "sampler", registers)
    out = {}
    for job, pub in zip(jobs, pubs, strict=True):
        ideal, note = sampler_ideal(job.circuit)
        assert ideal is not None, f"{job.circuit_id}: {note}"
        out[job.circuit_id] = (pub.counts or {}, ideal)
    return out


def _goodness_of_fit(counts: dict[str, int], ideal: dict[str, float]) -> float:
    """Chi-square p-value; outcomes expected fewer than 5 times are pooled into one cell."""
    shots = sum(counts.values())
    assert set(counts) <= set(ideal), f"outcomes the ideal forbids: {set(counts) - set(ideal)}"
    keys = sorted(ideal)
    expected = np.array([ideal[k] * shots for k in keys])
    observed = np.array([counts.get(k, 0) for k in keys], dtype=float)
    small = expected < 5
    cells_e = [*expected[~small], expected[small].sum()] if small.any() else list(expected)
    cells_o = [*observed[~small], observed[small].sum()] if small.any() else list(observed)
    if len(cells_e) < 2:
        return 1.0  # a single possible outcome: the subset check above is the whole test
    cells_e = np.array(cells_e) * (sum(cells_o) / sum(cells_e))
    return float(chisquare(cells_o, cells_e).pvalue)


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: p.stem)
def test_counts_fit_the_exact_ideal_and_get_a_fidelity(corpus, path: Path) -> None:  # type: ignore[no-untyped-def]
    counts, ideal = corpus[path.stem]
    assert sum(counts.values()) == SHOTS
    assert _goodness_of_fit(counts, ideal) > 1e-3
    analysis = analyse_sampler(path.stem, None, {}, counts, SHOTS, ideal)
    assert analysis.fidelity is not None and analysis.fidelity.value is not None
    assert analysis.fidelity_note is None


def test_fidelity_intervals_contain_the_truth(corpus) -> None:  # type: ignore[no-untyped-def]
    """On the noiseless simulator the device fidelity is exactly 1: a 95% interval may miss
    it about once in 20 circuits (the benchmark measures coverage over thousands)."""
    from runner.analysis.stats import hellinger_fidelity_interval

    misses = [
        cid for cid, (c, ideal) in corpus.items() if hellinger_fidelity_interval(c, ideal)[1] < 1.0
    ]
    assert len(misses) <= 1, misses


def test_corpus_covers_what_it_claims() -> None:
    circuits = {p.stem: _circuit(p) for p in CORPUS}
    widths = sorted(c.num_qubits for c in circuits.values())
    assert widths[0] == 1 and widths[-1] == 16
    texts = [p.read_text("utf-8") for p in CORPUS]
    assert any("OPENQASM 2" in t for t in texts) and any("OPENQASM 3" in t for t in texts)
    names = [[r.name for r in c.cregs] for c in circuits.values()]
    assert any(len(n) > 1 and n != sorted(n) for n in names)  # declared out of order
    ops = {i.operation.name for c in circuits.values() for i in c.data}
    assert {"reset", "if_else"} <= ops
