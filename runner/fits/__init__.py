"""Run-level analyses: fits over all circuits of one [[circuits]] entry (its sweep points).

A template names its analysis (``Template.analysis``); runner.fits.registry maps the name to
a pure function from the entry's stored counts (and the device calibration recorded at
submission) to an ``EntryResult``: fitted parameters with 95% intervals, a fit-quality flag
with its reason, the points and curve a figure needs, and the device's reported values for
the same physical qubits. Each analysis carries a version; a stored result of an older
version is re-derived from the stored counts when the report is rendered.
"""
