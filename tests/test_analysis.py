"""Analysis core: statistics, ideals, per-template metrics, result decoding, stable JSON."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from qiskit import ClassicalRegister, QuantumCircuit, QuantumRegister
from qiskit.quantum_info import hellinger_fidelity as qiskit_hellinger_fidelity

from runner.analysis import (
    IDEAL_MAX_QUBITS,
    CircuitAnalysis,
    Metric,
    analyse_estimator,
    analyse_sampler,
    decode_record,
    headline,
    ideal_expectations,
    ideal_note,
    ideal_probabilities,
    stats,
)
from runner.errors import QrunError, StoreError

# SamplerV2/EstimatorV2 warn that a client-side successor exists; the warning is attributed
# to the caller, so pyproject's filter on qiskit_ibm_runtime.* does not catch it.
pytestmark = pytest.mark.filterwarnings(
    "ignore:The (Sampler|Estimator)V2 class is deprecated:DeprecationWarning"
)

BELL_IDEAL = {"00": 0.5, "11": 0.5}


def bell_circuit() -> QuantumCircuit:
    qc = QuantumCircuit(2)
    qc.h(0)
    qc.cx(0, 1)
    qc.measure_all()
    return qc


def ghz_circuit(n: int) -> QuantumCircuit:
    qc = QuantumCircuit(n)
    qc.h(0)
    for i in range(n - 1):
        qc.cx(i, i + 1)
    qc.measure_all()
    return qc


def metric(analysis: CircuitAnalysis, name: str) -> Metric:
    found = [m for m in analysis.metrics if m.name == name]
    assert len(found) == 1, [m.name for m in analysis.metrics]
    return found[0]


# --- stats -----------------------------------------------------------------------------

distributions = st.dictionaries(
    st.sampled_from(["000", "001", "010", "011", "100", "101", "110", "111"]),
    st.integers(min_value=0, max_value=1000),
    min_size=1,
).filter(lambda d: sum(d.values()) > 0)


@settings(max_examples=200, deadline=None)
@given(distributions, distributions)
def test_hellinger_matches_qiskit(p: dict[str, int], q: dict[str, int]) -> None:
    assert stats.hellinger_fidelity(p, q) == pytest.approx(
        qiskit_hellinger_fidelity(p, q), abs=1e-12
    )


def test_hellinger_of_probabilities_and_counts_agree() -> None:
    assert stats.hellinger_fidelity({"0": 3, "1": 1}, {"0": 0.75, "1": 0.25}) == pytest.approx(1)
    assert stats.hellinger_fidelity({"0": 1}, {"1": 1}) == 0.0
    with pytest.raises(ValueError, match="empty"):
        stats.hellinger_fidelity({}, {"0": 1})


def test_total_variation_distance() -> None:
    assert stats.total_variation_distance({"0": 1}, {"1": 1}) == 1.0
    assert stats.total_variation_distance({"0": 5, "1": 5}, {"0": 0.5, "1": 0.5}) == 0.0
    assert stats.total_variation_distance({"0": 3, "1": 1}, {"0": 0.5, "1": 0.5}) == 0.25


@pytest.mark.parametrize(
    ("successes", "trials", "low", "high"),
    [
        (0, 10, 0.0, 0.2775),
        (5, 10, 0.2366, 0.7634),
        (10, 10, 0.7225, 1.0),
        # Newcombe (1998), Statistics in Medicine 17:857, table I, method 3
        (81, 263, 0.2553, 0.3662),
        (15, 148, 0.0624, 0.1605),
        (0, 20, 0.0, 0.1611),
        (1, 29, 0.0061, 0.1718),
    ],
)
def test_wilson_interval_known_values(successes: int, trials: int, low: float, high: float) -> None:
    got = stats.wilson_interval(successes, trials)
    assert got == pytest.approx((low, high), abs=1e-4)


def test_wilson_interval_edges() -> None:
    assert stats.wilson_interval(0, 0) == (0.0, 1.0)
    narrow, wide = stats.wilson_interval(50, 100, z=1.0), stats.wilson_interval(50, 100, z=3.0)
    assert wide[0] < narrow[0] < 0.5 < narrow[1] < wide[1]
    with pytest.raises(ValueError, match="successes"):
        stats.wilson_interval(11, 10)


def test_expectation_from_counts() -> None:
    counts = {"00": 40, "01": 10, "10": 20, "11": 30}
    assert stats.expectation_from_counts(counts, "ZZ") == pytest.approx((40 + 30 - 30) / 100)
    assert stats.expectation_from_counts(counts, "IZ") == pytest.approx((40 + 20 - 40) / 100)
    assert stats.expectation_from_counts(counts, "ZI") == pytest.approx((40 + 10 - 50) / 100)
    assert stats.expectation_from_counts({"0 1": 1}, "ZZ") == -1.0
    with pytest.raises(ValueError, match="only Z and I"):
        stats.expectation_from_counts(counts, "XZ")
    with pytest.raises(ValueError, match="does not match"):
        stats.expectation_from_counts(counts, "ZZZ")
    assert stats.expectation_stderr(0.0, 100) == pytest.approx(0.1)
    assert stats.expectation_stderr(1.0, 100) == 0.0


def test_fidelity_interval_is_deterministic_and_brackets_estimate() -> None:
    counts = {"00": 480, "01": 20, "10": 30, "11": 470}
    first = stats.hellinger_fidelity_interval(counts, BELL_IDEAL)
    assert first == stats.hellinger_fidelity_interval(dict(reversed(counts.items())), BELL_IDEAL)
    point = stats.hellinger_fidelity(counts, BELL_IDEAL)
    assert first[0] <= point <= first[1] < 1.0
    assert first[1] - first[0] < 0.05


def test_fidelity_interval_covers_the_true_value() -> None:
    """Counts drawn from a known noisy Bell distribution: the 95% CI holds the true F."""
    truth = {"00": 0.46, "01": 0.03, "10": 0.05, "11": 0.46}
    true_f = stats.hellinger_fidelity(truth, BELL_IDEAL)
    keys = sorted(truth)
    rng = np.random.default_rng(7)
    covered = 0
    trials = 60
    for _ in range(trials):
        draw = rng.multinomial(1000, [truth[k] for k in keys])
        counts = {k: int(n) for k, n in zip(keys, draw, strict=True)}
        low, high = stats.hellinger_fidelity_interval(counts, BELL_IDEAL)
        covered += low <= true_f <= high
    assert covered / trials >= 0.88


def test_fidelity_interval_covers_one_for_a_perfect_device() -> None:
    """The plug-in fidelity of finite shots is biased low; the interval must still reach 1."""
    rng = np.random.default_rng(3)
    ideal = dict(enumerate(rng.dirichlet(np.ones(32))))
    keys = sorted(ideal)
    ideal_s = {format(k, "05b"): p for k, p in ideal.items()}
    draw = rng.multinomial(200, [ideal[k] for k in keys])
    counts = {format(k, "05b"): int(n) for k, n in zip(keys, draw, strict=True) if n}
    low, high = stats.hellinger_fidelity_interval(counts, ideal_s)
    assert stats.hellinger_fidelity(counts, ideal_s) < 0.99
    assert low <= stats.hellinger_fidelity(counts, ideal_s) and high >= 0.999


def test_total_variation_interval_covers_the_true_distance() -> None:
    """A noisy Bell device (mass off the support and an imbalance): the 95% interval holds
    the true distance in at least 93% of 200 draws, and is narrow at 1,000 shots."""
    truth = {"00": 0.50, "01": 0.03, "10": 0.05, "11": 0.42}
    true_t = stats.total_variation_distance(truth, BELL_IDEAL)
    keys = sorted(truth)
    rng = np.random.default_rng(11)
    covered, widths = 0, []
    for _ in range(200):
        draw = rng.multinomial(1000, [truth[k] for k in keys])
        counts = {k: int(n) for k, n in zip(keys, draw, strict=True)}
        low, high = stats.total_variation_interval(counts, BELL_IDEAL)
        covered += low <= true_t <= high
        widths.append(high - low)
    assert covered / 200 >= 0.93
    assert max(widths) < 0.15


@pytest.mark.parametrize("true_t", [1e-4, 1e-3, 3e-3, 0.01, 0.05, 0.25])
def test_a_basis_state_gets_exact_binomial_intervals_that_cover(true_t: float) -> None:
    """To a one-outcome ideal, T is the mass off it and F = 1 − T: both intervals are the
    exact binomial one, covering the truth in >= 95% of runs (summed over every possible
    count, not sampled) even for a near-perfect qubit, where every shot right once gave
    F = 1 [1, 1] and T = 0 [0, 0]."""
    from scipy.stats import binom

    shots, covered = 1000, 0.0
    for off in range(int(binom.ppf(1 - 1e-12, shots, true_t)) + 2):
        counts = {"0": shots - off, "1": off}
        t_low, t_high = stats.total_variation_interval(counts, {"0": 1.0})
        f_low, f_high = stats.hellinger_fidelity_interval(counts, {"0": 1.0})
        assert (t_low, t_high) == pytest.approx((1 - f_high, 1 - f_low))
        assert (f_low, f_high) == stats.clopper_pearson_interval(shots - off, shots)
        covered += binom.pmf(off, shots, true_t) * (t_low <= true_t <= t_high)
    assert covered >= 0.95
    assert stats.hellinger_fidelity_interval({"0": shots}, {"0": 1.0})[0] < 0.9965


def test_counts_that_match_the_ideal_exactly_do_not_claim_a_perfect_device() -> None:
    """500/500 on a Bell ideal: the plug-in's sd is 0 there, yet a device at F = 0.998
    often shows it; the lower bound must stay below 1."""
    low, high = stats.hellinger_fidelity_interval({"00": 500, "11": 500}, BELL_IDEAL)
    assert high == 1.0 and 0.98 < low < 0.999


def test_total_variation_interval_reaches_zero_for_a_perfect_wide_device() -> None:
    """Finite shots bias the measured distance high on wide distributions; the interval
    must still contain the perfect device's 0."""
    rng = np.random.default_rng(5)
    ideal = {format(k, "08b"): 1 / 256 for k in range(256)}
    keys = sorted(ideal)
    draw = rng.multinomial(2000, [ideal[k] for k in keys])
    counts = {k: int(n) for k, n in zip(keys, draw, strict=True) if n}
    low, high = stats.total_variation_interval(counts, ideal)
    assert stats.total_variation_distance(counts, ideal) > 0.1
    assert low == 0.0 and 0.0 < high < 0.5


def test_heavy_outputs_counts_missing_outcomes_as_zero() -> None:
    assert stats.heavy_outputs({"00": 0.4, "01": 0.3, "10": 0.2, "11": 0.1}, 2) == {"00", "01"}
    assert stats.heavy_outputs({"000": 0.5, "111": 0.5}, 3) == {"000", "111"}
    # strictly above the median: outputs equal to it are not heavy
    assert stats.heavy_outputs({"00": 0.5, "01": 0.25, "10": 0.25}, 2) == {"00"}


@pytest.mark.parametrize(
    ("edges", "nodes", "best"),
    [
        ([(0, 1), (1, 2), (0, 2)], 3, 2.0),
        ([(0, 1), (1, 2), (2, 3), (3, 0)], 4, 4.0),
        ([(0, 1, 2.5), (1, 2, 1.0), (0, 2, 1.0)], 3, 3.5),
        ([(0, 1, -1.0)], 2, 0.0),
    ],
)
def test_max_cut_brute_force(edges: list[tuple], nodes: int, best: float) -> None:
    assert stats.max_cut(edges, nodes) == best


def test_cut_value_reads_node_zero_rightmost() -> None:
    square = [(0, 1), (1, 2), (2, 3), (3, 0)]
    assert stats.cut_value("0101", square) == 4
    assert stats.cut_value("0011", square) == 2
    assert stats.cut_value("0001", [(0, 1, 0.5), (2, 3)]) == 0.5


# --- ideal -------------------------------------------------------------------------------


def test_ideal_probabilities_bell_and_ghz3() -> None:
    bell = ideal_probabilities(bell_circuit())
    assert bell is not None and bell.keys() == {"00", "11"}
    assert bell["00"] == pytest.approx(0.5) and bell["11"] == pytest.approx(0.5)
    ghz = ideal_probabilities(ghz_circuit(3))
    assert ghz is not None and ghz.keys() == {"000", "111"}
    assert sum(ghz.values()) == pytest.approx(1.0)
    assert all(type(k) is str and type(v) is float for k, v in ghz.items())


def test_ideal_probabilities_follow_clbits_like_the_sampler() -> None:
    q = QuantumRegister(3)
    a, b = ClassicalRegister(1, "a"), ClassicalRegister(2, "b")
    qc = QuantumCircuit(q, a, b)
    qc.x(0)
    qc.x(2)
    qc.measure(0, b[1])  # clbit 2
    qc.measure(1, a[0])  # clbit 0
    qc.measure(2, b[0])  # clbit 1
    assert ideal_probabilities(qc) == {"110": pytest.approx(1.0)}
    partial = QuantumCircuit(3, 2)
    partial.x(2)
    partial.measure(2, 0)
    assert ideal_probabilities(partial) == {"01": pytest.approx(1.0)}
    unmeasured = QuantumCircuit(2)
    unmeasured.x(0)
    assert ideal_probabilities(unmeasured) == {"01": pytest.approx(1.0)}


def test_width_cutoff_and_notes() -> None:
    wide = ghz_circuit(24)
    assert IDEAL_MAX_QUBITS == 20
    assert ideal_probabilities(wide) is None
    note = ideal_note(wide)
    assert note == "ideal not computed: 24 qubits > 20"
    assert ideal_note(bell_circuit()) is None
    counts = {"0" * 24: 500, "1" * 24: 480, "0" * 23 + "1": 20}
    explicit = analyse_sampler("ghz-24", "ghz", {"num_qubits": 24}, counts, 1000, None, note)
    assert explicit.fidelity is None and explicit.fidelity_note == note
    inferred = analyse_sampler("ghz-24", "ghz", {"num_qubits": 24}, counts, 1000, None)
    assert inferred.fidelity_note == note
    assert metric(inferred, "population_fidelity").value == pytest.approx(0.98)


def measured_mid_circuit() -> QuantumCircuit:
    """A qubit measured, rotated and measured again: two independent fair coins."""
    qc = QuantumCircuit(1, 2)
    qc.h(0)
    qc.measure(0, 0)
    qc.h(0)
    qc.measure(0, 1)
    return qc


def test_delays_are_the_identity_in_the_ideal() -> None:
    """T1 and Hahn-echo circuits are made of delays; a noiseless device ignores them."""
    t1 = QuantumCircuit(1, 1)
    t1.x(0)
    t1.delay(50, 0, unit="us")
    t1.measure(0, 0)
    echo = QuantumCircuit(1, 1)
    echo.sx(0)
    echo.delay(25, 0, unit="us")
    echo.x(0)
    echo.delay(25, 0, unit="us")
    echo.sx(0)
    echo.measure(0, 0)
    assert ideal_probabilities(t1) == pytest.approx({"1": 1.0})
    assert ideal_probabilities(echo) == pytest.approx({"0": 1.0})


def test_mid_circuit_measurement_gets_its_exact_ideal() -> None:
    qc = measured_mid_circuit()
    assert ideal_probabilities(qc) == pytest.approx({k: 0.25 for k in ("00", "01", "10", "11")})
    assert "mid-circuit" in (ideal_note(qc) or "")  # the estimator ideal stays unimplemented


def test_reset_and_classical_control_get_exact_ideals() -> None:
    reset = QuantumCircuit(2)
    reset.h(0)
    reset.cx(0, 1)
    reset.reset(0)  # no measurement at all: read out on every qubit, qubit 0 rightmost
    assert ideal_probabilities(reset) == pytest.approx({"00": 0.5, "10": 0.5})
    branch = QuantumCircuit(2, 2)
    branch.ry(1.0, 0)
    branch.measure(0, 0)
    with branch.if_test((branch.clbits[0], 1)):
        branch.x(1)
    branch.measure(1, 1)
    p1 = math.sin(0.5) ** 2
    assert ideal_probabilities(branch) == pytest.approx({"00": 1 - p1, "11": p1})
    loop = QuantumCircuit(1, 1)
    with loop.while_loop((loop.clbits[0], 0)):
        loop.h(0)
        loop.measure(0, 0)
    from runner.analysis.ideal import sampler_ideal

    probabilities, note = sampler_ideal(loop)
    assert probabilities is None and "while_loop" in (note or "")


def test_sampler_ideal_agrees_with_the_separate_calls() -> None:
    from qiskit.quantum_info import Statevector

    from runner.analysis.ideal import sampler_ideal

    for circuit in (bell_circuit(), ghz_circuit(3), ghz_circuit(24)):
        probabilities, note = sampler_ideal(circuit)
        assert note == ideal_note(circuit)
        assert (probabilities is None) == (note is not None)
        if probabilities is not None:  # measure_all: clbit k reads qubit k, as qiskit keys
            unitary = circuit.remove_final_measurements(inplace=False)
            expected = Statevector(unitary).probabilities_dict()
            assert probabilities == pytest.approx({k: v for k, v in expected.items() if v > 1e-12})


def test_ideal_matches_qiskit_statevector_under_a_permuted_readout() -> None:
    from qiskit.circuit.random import random_circuit
    from qiskit.quantum_info import Statevector

    unitary = random_circuit(5, 6, seed=42)
    order = [3, 0, 4, 1, 2]  # qubit order[c] is measured into clbit c
    measured = unitary.copy()
    measured.add_register(ClassicalRegister(5))
    for clbit, qubit in enumerate(order):
        measured.measure(qubit, clbit)
    ours = ideal_probabilities(measured)
    theirs = Statevector(unitary).probabilities_dict(qargs=order)
    assert ours is not None
    assert ours == pytest.approx({k: v for k, v in theirs.items() if v >= 1e-12}, abs=1e-12)


def test_ideal_expectations() -> None:
    qc = QuantumCircuit(2)
    qc.h(0)
    qc.cx(0, 1)
    assert ideal_expectations(qc, ["ZZ", "XX", "YY", "ZI"]) == pytest.approx([1, 1, -1, 0])
    assert ideal_expectations(ghz_circuit(24), ["Z" * 24]) is None
    with pytest.raises(QrunError, match="one Pauli letter per qubit"):
        ideal_expectations(qc, ["ZZZ"])


# --- template metrics --------------------------------------------------------------------


def test_perfect_bell_counts() -> None:
    a = analyse_sampler("bell", "bell", {}, {"00": 512, "11": 512}, 1024, BELL_IDEAL)
    assert a.fidelity is not None and a.fidelity.value == pytest.approx(1.0)
    assert a.fidelity.high == 1.0 and a.fidelity_note is None
    assert metric(a, "population_fidelity").value == 1.0
    parity = metric(a, "z_parity")
    assert parity.value == 1.0 and parity.stderr == 0.0 and parity.higher_is_better is True
    assert metric(a, "total_variation_distance").value == pytest.approx(0.0)


def test_noisy_bell_counts() -> None:
    counts = {"00": 460, "01": 30, "10": 50, "11": 460}
    a = analyse_sampler("bell", "bell", {}, counts, 1000, BELL_IDEAL)
    assert a.fidelity is not None and a.fidelity.value is not None
    assert a.fidelity.value < 1 and a.fidelity.low is not None and a.fidelity.high is not None
    assert a.fidelity.low <= a.fidelity.value <= a.fidelity.high
    population = metric(a, "population_fidelity")
    assert population.value == pytest.approx(0.92)
    assert population.low is not None and population.high is not None
    assert population.low < 0.92 < population.high
    parity = metric(a, "z_parity")
    assert parity.value == pytest.approx(0.84)
    assert parity.stderr == pytest.approx(math.sqrt((1 - 0.84**2) / 1000))


@pytest.mark.parametrize(
    ("variant", "counts", "parity"),
    [
        ("phi-", {"00": 50, "11": 50}, 1.0),
        ("psi+", {"01": 50, "10": 50}, -1.0),
        ("psi_minus", {"01": 50, "10": 50}, -1.0),
        ("Ψ-", {"01": 50, "10": 50}, -1.0),
    ],
)
def test_bell_variants_use_their_target_states(variant: str, counts: dict, parity: float) -> None:
    a = analyse_sampler("b", "bell", {"variant": variant}, counts, 100, None)
    assert metric(a, "population_fidelity").value == 1.0
    assert metric(a, "z_parity").value == parity == metric(a, "z_parity").ideal
    assert metric(a, "z_parity").higher_is_better is (parity > 0)


def test_ghz_parity_sign_for_odd_and_even() -> None:
    odd = analyse_sampler("g3", "ghz", {"num_qubits": 3}, {"000": 50, "111": 50}, 100, None)
    assert metric(odd, "z_parity").value == 0.0 and metric(odd, "z_parity").ideal == 0.0
    assert metric(odd, "z_parity").higher_is_better is None
    only_ones = analyse_sampler("g3", "ghz", {}, {"111": 10}, 10, None)
    assert metric(only_ones, "z_parity").value == -1.0
    even = analyse_sampler("g4", "ghz", {}, {"0000": 50, "1111": 50}, 100, None)
    assert metric(even, "z_parity").value == 1.0 and metric(even, "z_parity").ideal == 1.0
    assert metric(even, "population_fidelity").value == 1.0


def test_qaoa_triangle() -> None:
    edges = [[0, 1], [1, 2], [0, 2]]
    counts = {"001": 40, "110": 40, "000": 20}  # cut 2, 2, 0
    a = analyse_sampler("tri", "qaoa_maxcut", {"edges": edges, "p": 1}, counts, 100, None)
    assert metric(a, "expected_cut").value == pytest.approx(1.6)
    assert metric(a, "best_cut").value == 2.0 and metric(a, "best_cut").ideal == 2.0
    ratio = metric(a, "approximation_ratio")
    assert ratio.value == pytest.approx(0.8)
    assert ratio.low is not None and ratio.high is not None and ratio.low < 0.8 < ratio.high
    assert a.metrics[0].name == "approximation_ratio"


def test_qaoa_square_weighted_and_ideal_ratio() -> None:
    square = [(0, 1), (1, 2), (2, 3), (3, 0)]
    ideal = {"0101": 0.25, "1010": 0.25, "0011": 0.5}  # noiseless mean cut 3
    counts = {"0101": 30, "1010": 30, "0011": 20, "0000": 20}  # mean 0.6*4 + 0.2*2 = 2.8
    a = analyse_sampler("sq", "qaoa_maxcut", {"edges": square}, counts, 100, ideal)
    assert metric(a, "expected_cut").value == pytest.approx(2.8)
    assert metric(a, "expected_cut").ideal == pytest.approx(3.0)
    assert metric(a, "approximation_ratio").value == pytest.approx(0.7)
    assert metric(a, "approximation_ratio").ideal == pytest.approx(0.75)
    weighted = analyse_sampler(
        "w", "qaoa_maxcut", {"edges": [[0, 1, 3.0], [1, 2, 1.0]]}, {"010": 1}, 1, None
    )
    assert metric(weighted, "best_cut").value == 4.0
    assert metric(weighted, "approximation_ratio").value == 1.0


def test_heavy_output_probability() -> None:
    ideal = {"00": 0.4, "01": 0.3, "10": 0.2, "11": 0.1}  # median 0.25: heavy {00, 01}
    few = analyse_sampler(
        "qv", "quantum_volume", {}, {"00": 40, "01": 30, "10": 20, "11": 10}, 100, ideal
    )
    hop = metric(few, "heavy_output_probability")
    assert hop.value == pytest.approx(0.7) and hop.ideal == pytest.approx(0.7)
    assert hop.low is not None and hop.low < 2 / 3
    assert [m.name for m in few.metrics if "heavy" in m.name] == ["heavy_output_probability"]
    many = analyse_sampler(
        "qv", "qv", {}, {"00": 400, "01": 300, "10": 200, "11": 100}, 1000, ideal
    )
    low = metric(many, "heavy_output_probability").low
    assert low is not None and low == pytest.approx(0.67026, abs=1e-4)


def test_estimator_difference() -> None:
    a = analyse_estimator(
        "zz", "bell", {}, ["ZZ", "XX", "ZI"], [0.9, 0.02, 0.0], [0.05, 0.01, 0.0], [1.0, 0.0, 0.0]
    )
    assert metric(a, "ev[ZZ]").ideal == 1.0 and metric(a, "ev[ZZ]").stderr == 0.05
    zz = metric(a, "difference[ZZ]")
    assert zz.value == pytest.approx(-0.1) and zz.ideal == 0.0
    assert (zz.low, zz.high) == pytest.approx((-0.1 - 1.96 * 0.05, -0.1 + 1.96 * 0.05))
    assert metric(a, "difference[XX]").value == pytest.approx(0.02)
    assert metric(a, "difference[ZI]").value == 0.0
    assert a.fidelity is None and a.counts == {}
    zero_std = analyse_estimator("z", None, {}, ["Z"], [0.5], [0.0], [1.0])
    assert metric(zero_std, "difference[Z]").value == pytest.approx(-0.5)


def test_mean_abs_ev_error_interval_covers_a_perfect_device() -> None:
    """A perfect device's measured mean |⟨O⟩ − ideal| is biased high (about 0.8σ); its
    interval must still contain 0 in at least 95% of runs, and be narrower than 1."""
    rng = np.random.default_rng(7)
    ideal, std, hits, widths = [1.0, 0.0, -0.5, 0.25], 0.03, 0, []
    for _ in range(400):
        evs = [float(v + rng.normal(0, std)) for v in ideal]
        a = analyse_estimator("c", None, {}, ["ZZ", "XX", "ZI", "IZ"], evs, [std] * 4, ideal)
        top = headline([a])
        assert top is not None and top.name == "mean_abs_ev_error"
        assert top.low is not None and top.high is not None
        hits += top.low <= 0.0 <= top.high
        widths.append(top.high - top.low)
    assert hits / 400 >= 0.95
    assert max(widths) < 0.2
    shifted = analyse_estimator("c", None, {}, ["Z"], [0.5], [0.01], [1.0])
    top = headline([shifted])
    assert top is not None and top.low is not None and top.high is not None
    assert top.low <= 0.5 <= top.high and top.low > 0.4
    no_ideal = analyse_estimator("z", None, {}, ["Z"], [0.5], [0.1], None, 100, "skipped")
    assert [m.name for m in no_ideal.metrics] == ["ev[Z]"] and no_ideal.fidelity_note == "skipped"
    with pytest.raises(ValueError, match="observables"):
        analyse_estimator("z", None, {}, ["Z", "X"], [0.5], [0.1], None)


def test_mismatched_ideal_width_is_noted() -> None:
    a = analyse_sampler("x", None, {}, {"000": 10}, 10, BELL_IDEAL)
    assert a.fidelity is None
    assert a.fidelity_note == "ideal not comparable: 2 bits vs 3 measured"


def test_headline() -> None:
    good = analyse_sampler("a", "bell", {}, {"00": 500, "11": 500}, 1000, BELL_IDEAL)
    bad = analyse_sampler("b", "bell", {}, {"00": 400, "01": 200, "11": 400}, 1000, BELL_IDEAL)
    head = headline([good, bad])
    assert head is not None and head.name == "mean_hellinger_fidelity"
    fids = [a.fidelity.value for a in (good, bad) if a.fidelity and a.fidelity.value is not None]
    assert len(fids) == 2 and head.value == pytest.approx(sum(fids) / 2)
    assert head.value is not None and head.low is not None and head.high is not None
    assert head.low < head.value < head.high
    est = analyse_estimator("e", None, {}, ["ZZ", "XX"], [0.9, 0.7], [0.01, 0.01], [1.0, 1.0])
    head = headline([est])
    assert head is not None and head.name == "mean_abs_ev_error"
    assert head.value == pytest.approx(0.2) and head.higher_is_better is False
    wide = analyse_sampler("w", "ghz", {}, {"0" * 24: 9, "1" * 24: 1}, 10, None)
    head = headline([wide])
    assert head is not None and head.name == "mean_population_fidelity" and head.value == 1.0
    assert headline([]) is None


# --- JSON ----------------------------------------------------------------------------------


def test_to_json_is_deterministic_and_plain() -> None:
    counts = {"11": 470, "00": 480, "10": 30, "01": 20}
    params = {"variant": "phi+", "weights": (0.1234567891, 2)}

    def render() -> str:
        a = analyse_sampler("bell", "bell", params, counts, 1000, BELL_IDEAL)
        return json.dumps(a.to_json(), sort_keys=True)

    first = render()
    assert first == render()
    reordered = analyse_sampler(
        "bell", "bell", params, dict(reversed(counts.items())), 1000, BELL_IDEAL
    )
    assert json.dumps(reordered.to_json(), sort_keys=True) == first
    data = json.loads(first)
    assert list(data["counts"]) == ["00", "01", "10", "11"]
    assert data["probabilities"]["00"] == 0.48
    assert data["params"]["weights"] == [0.123457, 2]
    assert data["fidelity"]["name"] == "hellinger_fidelity" and data["fidelity_note"] is None
    assert set(data["metrics"]) == {"z_parity", "population_fidelity", "total_variation_distance"}
    assert data["ideal_probabilities"] == {"00": 0.5, "11": 0.5}
    for value in (data["fidelity"]["value"], data["fidelity"]["low"], data["fidelity"]["high"]):
        assert len(repr(value).replace("0.", "").lstrip("0")) <= 7  # six significant digits


def test_to_json_leaves_out_wide_ideals() -> None:
    ideal = {format(i, "011b"): 1 / 2048 for i in range(2048)}
    a = analyse_sampler("w", None, {}, {"0" * 11: 10}, 10, ideal).to_json()
    assert a["ideal_probabilities"] is None and a["fidelity"]["value"] == pytest.approx(1 / 2048)


def test_metric_json_round_trip_and_non_finite() -> None:
    m = Metric("x", 1 / 3, 0.1, 0.5, math.inf, None, "u", "d", None)
    data = m.to_json()
    assert data["value"] == 0.333333 and data["stderr"] is None and data["ideal"] is None
    assert Metric.from_json(data) == Metric("x", 0.333333, 0.1, 0.5, None, None, "u", "d", None)
    assert Metric("z", -0.0).to_json()["value"] == 0.0
    assert json.dumps(Metric("z", -0.0).to_json()) == json.dumps(Metric("z", 0.0).to_json())


def test_import_stays_light() -> None:
    code = "import sys, runner.analysis; print(sorted(m for m in ('qiskit', 'numpy', 'qiskit_ibm_runtime') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# --- decoding real primitive results ---------------------------------------------------------


def _encoded(result: object) -> str:
    from qiskit_ibm_runtime import RuntimeEncoder

    return json.dumps(result, cls=RuntimeEncoder)


def test_decode_sampler_result_round_trip() -> None:
    from qiskit_aer import AerSimulator
    from qiskit_ibm_runtime import SamplerV2

    q = QuantumRegister(3)
    a, b = ClassicalRegister(1, "a"), ClassicalRegister(2, "b")
    multi = QuantumCircuit(q, a, b)
    multi.x(0)
    multi.x(2)
    multi.measure(0, b[1])
    multi.measure(1, a[0])
    multi.measure(2, b[0])
    sampler = SamplerV2(mode=AerSimulator(seed_simulator=11))
    result = sampler.run([bell_circuit(), ghz_circuit(3), multi], shots=200).result()
    pubs = decode_record(_encoded(result), "sampler")
    assert len(pubs) == 3
    bell, ghz, regs = pubs
    assert bell.shots == 200 and sum(bell.counts.values()) == 200  # type: ignore[union-attr]
    assert set(bell.counts) == {"00", "11"}  # type: ignore[arg-type]
    assert set(ghz.counts) == {"000", "111"}  # type: ignore[arg-type]
    assert regs.counts == {"110": 200} == {k: 200 for k in ideal_probabilities(multi) or {}}
    assert bell.evs is None and bell.stds is None
    analysis = analyse_sampler(
        "bell", "bell", {}, bell.counts or {}, 200, ideal_probabilities(bell_circuit())
    )
    assert analysis.fidelity is not None and analysis.fidelity.value is not None
    assert analysis.fidelity.value > 0.95 and metric(analysis, "z_parity").value == 1.0


def test_decode_estimator_result_round_trip() -> None:
    from qiskit_aer import AerSimulator
    from qiskit_ibm_runtime import EstimatorV2

    qc = QuantumCircuit(2)
    qc.h(0)
    qc.cx(0, 1)
    estimator = EstimatorV2(mode=AerSimulator(seed_simulator=5))
    estimator.options.default_shots = 400
    result = estimator.run([(qc, ["ZZ", "XX", "ZI"]), (qc, "ZZ")]).result()
    text = _encoded(result)
    first, second = decode_record(text, "estimator")
    assert first.evs is not None and first.stds is not None and len(first.evs) == 3
    assert first.evs[:2] == pytest.approx((1.0, 1.0)) and abs(first.evs[2]) < 0.3
    assert first.stds[2] > 0 and first.counts is None
    assert second.evs == pytest.approx((1.0,))
    ideal = ideal_expectations(qc, ["ZZ", "XX", "ZI"])
    a = analyse_estimator("zz", "bell", {}, ["ZZ", "XX", "ZI"], first.evs, first.stds, ideal)
    assert metric(a, "difference[ZZ]").value == 0.0
    with pytest.raises(StoreError, match="sampler PUB 0"):
        decode_record(text, "sampler")


def test_decode_rejects_garbage() -> None:
    with pytest.raises(StoreError, match="cannot be decoded"):
        decode_record("not json", "sampler")
    with pytest.raises(StoreError, match="not a PrimitiveResult"):
        decode_record('{"a": 1}', "sampler")
    with pytest.raises(ValueError, match="primitive"):
        decode_record("{}", "sample")


@pytest.mark.parametrize("num_bits", [1, 3, 8, 9, 17, 64, 70])
def test_fast_counts_equal_qiskits(num_bits: int) -> None:
    import numpy as np
    from qiskit.primitives.containers import BitArray

    from runner.analysis.record import fast_counts

    rng = np.random.default_rng(num_bits)
    outcomes = ["".join(rng.choice(["0", "1"], num_bits)) for _ in range(12)]
    counts = {o: int(rng.integers(1, 50)) for o in outcomes}
    bits = BitArray.from_counts(counts, num_bits=num_bits)
    assert fast_counts(bits) == bits.get_counts()


def test_estimator_qaoa_gets_expected_cut_and_ratio() -> None:
    """Ring of 4: cut = Σ (1 − ⟨ZZ⟩)/2 over edges, max cut 4; errors add linearly."""
    edges = [[0, 1], [1, 2], [2, 3], [3, 0]]
    observables = ["IIZZ", "IZZI", "ZZII", "ZIIZ"]
    evs, stds, ideal = [-0.2, -0.25, -0.2, -0.22], [0.015] * 4, [-0.23] * 4
    a = analyse_estimator("ring", "qaoa_maxcut", {"edges": edges}, observables, evs, stds, ideal)
    cut, ratio = metric(a, "expected_cut"), metric(a, "approximation_ratio")
    assert cut.value == pytest.approx(sum(1 - e for e in evs) / 2)
    assert cut.stderr == pytest.approx(4 * 0.015 / 2) and cut.ideal == pytest.approx(2.46)
    assert ratio.value == pytest.approx(cut.value / 4) and ratio.ideal == pytest.approx(2.46 / 4)
    missing = analyse_estimator("r", "qaoa_maxcut", {"edges": edges}, observables[:3], evs[:3],
                                stds[:3], ideal[:3])  # fmt: skip
    assert not [m for m in missing.metrics if m.name == "expected_cut"]
