"""Benchmarks behind ``jafm-robot bench``: one module per subject."""
