"""Helpers the tests and the benchmarks share: service runners, ports, image generators."""
