"""Experiment specs: locating TOML positions, loading, validating, expanding, hashing."""
