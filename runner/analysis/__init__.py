"""Analysis: from stored results and noiseless ideals to metrics with intervals.

A pure core (data in, data out, no I/O) so reports are a function of stored results and
the numbers can be tested table-style. qiskit and qiskit_ibm_runtime are imported only by
the functions that need them (`ideal`, `record`); importing this package is cheap.
"""

from runner.analysis.ideal import (
    IDEAL_MAX_QUBITS,
    ideal_expectations,
    ideal_note,
    ideal_probabilities,
)
from runner.analysis.metrics import CircuitAnalysis, analyse_estimator, analyse_sampler, headline
from runner.analysis.record import PubData, decode_record, encode_primitive_result
from runner.analysis.stats import Metric

__all__ = [
    "IDEAL_MAX_QUBITS",
    "CircuitAnalysis",
    "Metric",
    "PubData",
    "analyse_estimator",
    "analyse_sampler",
    "decode_record",
    "encode_primitive_result",
    "headline",
    "ideal_expectations",
    "ideal_note",
    "ideal_probabilities",
]
