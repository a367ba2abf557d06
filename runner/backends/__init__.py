"""Execution backends: where circuits run (local Aer, IBM Quantum)."""
