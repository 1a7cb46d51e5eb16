"""Load tests and benchmarks for pixgate.

`python -m loadtest.bench` (`make bench`) measures pixgate against a bare pyvips loop doing
the same work, in one run on one machine, and prints the figures and their ratios.
"""
