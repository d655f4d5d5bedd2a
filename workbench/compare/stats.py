"""Small statistics for paired comparisons: Wilson intervals, exact McNemar, bootstrap intervals.

scipy and numpy are imported inside the functions so importing this module costs nothing.
"""

from __future__ import annotations

import math
from collections.abc import Sequence


def z_for(confidence: float = 0.95) -> float:
    """The two-sided normal quantile for a confidence level (1.959964... for 0.95)."""
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    from statistics import NormalDist

    return NormalDist().inv_cdf(1.0 - (1.0 - confidence) / 2.0)


def wilson_ci(k: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a proportion of ``k`` successes in ``n`` trials.

    Unlike the normal (Wald) interval it stays inside [0, 1] and is sensible at k = 0 or k = n,
    which is where error rates of a good model live. With n = 0 nothing is known: (0, 1).
    """
    if n < 0 or k < 0 or k > n:
        raise ValueError(f"need 0 <= k <= n, got k={k}, n={n}")
    if n == 0:
        return (0.0, 1.0)
    z = z_for(confidence)
    p = k / n
    denom = 1.0 + z * z / n
    center = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    # at k = 0 (or k = n) the bound is exactly 0 (or 1); rounding error must not push it past
    lo = 0.0 if k == 0 else max(0.0, center - half)
    hi = 1.0 if k == n else min(1.0, center + half)
    return (lo, hi)


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value from the discordant pair counts ``b`` and ``c``.

    Under the null hypothesis each discordant pair goes either way with probability 1/2, so the
    test is a binomial test of ``b`` successes in ``b + c`` trials. No discordant pairs: p = 1.
    """
    if b < 0 or c < 0:
        raise ValueError("discordant counts must be non-negative")
    if b + c == 0:
        return 1.0
    from scipy.stats import binomtest

    return float(min(1.0, binomtest(b, b + c, 0.5, alternative="two-sided").pvalue))


# Up to this many values, resampling draws item indices (results stay what they always were);
# above it, data with at most DISCRETE_MAX_VALUES distinct values draws multinomial counts.
EXACT_RESAMPLE_MAX = 20_000
DISCRETE_MAX_VALUES = 64


def bootstrap_mean_ci(values: Sequence[float], confidence: float = 0.95, n_boot: int = 2000,
                      seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of a mean. Deterministic for a given seed."""
    import numpy as np

    x = np.asarray(values, dtype=float)
    if x.size == 0:
        return (math.nan, math.nan)
    if x.size == 1 or np.all(x == x[0]):
        return (float(x[0]), float(x[0]))
    rng = np.random.default_rng(seed)
    if x.size > EXACT_RESAMPLE_MAX:
        values, counts = np.unique(x, return_counts=True)
        if values.size <= DISCRETE_MAX_VALUES:
            # Few distinct values (pass/fail, or the -1/0/1 of a paired difference): how often
            # each value is drawn in a resample of n items is multinomial, so draw those counts
            # instead of n indices per resample. Same bootstrap distribution, O(values) per
            # resample instead of O(n): seconds become milliseconds at 500,000 items.
            drawn = rng.multinomial(x.size, counts / x.size, size=n_boot)
            means = drawn @ values / x.size
            tail = (1.0 - confidence) / 2.0
            return (float(np.quantile(means, tail)), float(np.quantile(means, 1.0 - tail)))
    # resample in chunks so memory stays bounded for large suites
    chunk = max(1, min(n_boot, 2_000_000 // x.size))
    means = np.concatenate([
        x[rng.integers(0, x.size, size=(min(chunk, n_boot - i), x.size))].mean(axis=1)
        for i in range(0, n_boot, chunk)
    ])
    tail = (1.0 - confidence) / 2.0
    return (float(np.quantile(means, tail)), float(np.quantile(means, 1.0 - tail)))


def paired_bootstrap_ci(a: Sequence[float], b: Sequence[float], confidence: float = 0.95,
                        n_boot: int = 2000, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of mean(b - a) over paired items (resampling items)."""
    import numpy as np

    xa, xb = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if xa.shape != xb.shape:
        raise ValueError("paired samples must have the same length")
    return bootstrap_mean_ci(xb - xa, confidence=confidence, n_boot=n_boot, seed=seed)
