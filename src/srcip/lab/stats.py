"""Pearson's chi-square goodness-of-fit test, without SciPy.

The p-value is the chi-square survival function, ``Q(k/2, x/2)``: the regularized upper
incomplete gamma function, computed as in Numerical Recipes (3rd ed., §6.2): its series
for ``x < a + 1`` and Lentz's continued fraction otherwise, both to double precision.
SciPy is not a dependency of srcip; the unit tests hold these functions to values from
published tables and to closed forms (``Q(1, x) = e^-x``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["ChiSquare", "chi_square_sf", "chi_square_test", "gamma_q"]

_EPS = 1e-15
_TINY = 1e-300
_MAX_ITER = 10_000


def _series_p(a: float, x: float) -> float:
    """Regularized lower incomplete gamma P(a, x) by its series (x < a + 1)."""
    term = total = 1.0 / a
    denominator = a
    for _ in range(_MAX_ITER):
        denominator += 1.0
        term *= x / denominator
        total += term
        if abs(term) < abs(total) * _EPS:
            break
    return total * math.exp(-x + a * math.log(x) - math.lgamma(a))


def _fraction_q(a: float, x: float) -> float:
    """Regularized upper incomplete gamma Q(a, x) by a continued fraction (x ≥ a + 1)."""
    b = x + 1.0 - a
    c = 1.0 / _TINY
    d = 1.0 / b
    h = d
    for i in range(1, _MAX_ITER):
        an = -i * (i - a)
        b += 2.0
        d = an * d + b
        d = _TINY if abs(d) < _TINY else d
        c = b + an / c
        c = _TINY if abs(c) < _TINY else c
        d = 1.0 / d
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < _EPS:
            break
    return math.exp(-x + a * math.log(x) - math.lgamma(a)) * h


def gamma_q(a: float, x: float) -> float:
    """Q(a, x) = Γ(a, x) / Γ(a) for a > 0, x ≥ 0."""
    if a <= 0 or x < 0:
        raise ValueError(f"gamma_q needs a > 0 and x >= 0, got a={a}, x={x}")
    if x == 0:
        return 1.0
    if x < a + 1.0:
        return max(0.0, 1.0 - _series_p(a, x))
    return _fraction_q(a, x)


def chi_square_sf(statistic: float, dof: int) -> float:
    """P(X ≥ statistic) for X chi-square distributed with ``dof`` degrees of freedom."""
    if dof < 1:
        raise ValueError(f"degrees of freedom must be at least 1, got {dof}")
    return gamma_q(dof / 2.0, max(0.0, statistic) / 2.0)


@dataclass(frozen=True, slots=True, kw_only=True)
class ChiSquare:
    """A goodness-of-fit result; ``p_value`` None when there is nothing to test."""

    statistic: float
    dof: int
    p_value: float | None
    impossible: int  # observations in categories the model gives probability 0


def chi_square_test(observed: Sequence[int], expected: Sequence[float]) -> ChiSquare:
    """Pearson's test of ``observed`` counts against ``expected`` counts (same order).

    Categories expected 0 take no part in the statistic; any observation in one makes the
    p-value 0 (the model says it cannot happen). Fewer than two categories with an
    expectation: nothing to test (p-value None, unless impossible observations exist).
    """
    if len(observed) != len(expected):
        raise ValueError("observed and expected differ in length")
    impossible = sum(o for o, e in zip(observed, expected, strict=True) if e <= 0)
    pairs = [(o, e) for o, e in zip(observed, expected, strict=True) if e > 0]
    statistic = sum((o - e) ** 2 / e for o, e in pairs)
    dof = len(pairs) - 1
    if impossible:
        return ChiSquare(statistic=statistic, dof=max(dof, 0), p_value=0.0, impossible=impossible)
    if dof < 1:
        return ChiSquare(statistic=statistic, dof=0, p_value=None, impossible=0)
    return ChiSquare(
        statistic=statistic, dof=dof, p_value=chi_square_sf(statistic, dof), impossible=0
    )
