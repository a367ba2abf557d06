"""qrun: experiments-as-code for IBM Quantum."""

__version__ = "0.1.0"
