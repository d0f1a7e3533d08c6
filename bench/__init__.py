"""Benchmarks: `python -m bench` (or `make bench`) runs them and writes bench/RESULTS.md.

Each benchmark times the raw tools in the same run as the service, so the printed ratios compare
like with like on whatever machine runs them. These are measurements, not tests: nothing fails.
"""
