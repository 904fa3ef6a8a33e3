"""Many runs, one report: the backend matrix (``matrix``) and the benchmarks (``bench``)."""
