"""Confidence intervals for the proportions evaluation reports.

Wilson's score interval rather than the normal approximation: eval sets are often small and
accuracies near 0 or 1, where the normal interval leaves [0, 1] or collapses to a point.
"""

from __future__ import annotations

import math

Z_95 = 1.959963984540054


def wilson_interval(hits: int, count: int, z: float = Z_95) -> tuple[float, float]:
    """95% Wilson score interval of hits/count; (0, 1) when there is nothing to estimate from."""
    if count <= 0:
        return 0.0, 1.0
    p = hits / count
    denominator = 1 + z * z / count
    centre = (p + z * z / (2 * count)) / denominator
    half = z * math.sqrt(p * (1 - p) / count + z * z / (4 * count * count)) / denominator
    low = 0.0 if hits == 0 else max(0.0, centre - half)  # exact ends: no rounding noise like 5e-17
    high = 1.0 if hits == count else min(1.0, centre + half)
    return low, high
