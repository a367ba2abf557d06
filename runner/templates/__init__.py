"""The circuit template library (see base.py for the contract and registry)."""
