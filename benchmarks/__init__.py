"""Runnable comparisons of LANISTR's fusion variants: ``python -m benchmarks <name> [--quick]``.

Benchmarks: ``quality`` (accuracy, with and without pretraining), ``missing`` (modalities dropped at
test time), ``cost`` (time, memory, FLOPs), ``baseline`` (scikit-learn on the same splits).
"""

BENCHMARKS = ("quality", "missing", "cost", "baseline")
