"""Benchmark definitions shipped as package data (see docs/benchmark-format.md)."""
