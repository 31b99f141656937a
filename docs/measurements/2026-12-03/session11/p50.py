# Session 11: the timing helper the time_*.py scripts share (run them from the repository root).
import time

import numpy as np


def tm(fn, n=500):
    """p50 in ms of ``n`` calls of ``fn`` after 50 warm-up calls."""
    for _ in range(50):
        fn()
    a = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        a.append(time.perf_counter() - t0)
    return round(float(np.percentile(a, 50)) * 1e3, 3)
