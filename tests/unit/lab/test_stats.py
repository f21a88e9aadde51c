"""The chi-square survival function and goodness-of-fit test, against known values."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from srcip.lab.stats import chi_square_sf, chi_square_test, gamma_q


@pytest.mark.parametrize(
    ("statistic", "dof", "p"),
    [
        # critical values from the NIST/SEMATECH e-Handbook chi-square table (upper tail)
        pytest.param(3.841, 1, 0.05, id="df1-5pct"),
        pytest.param(6.635, 1, 0.01, id="df1-1pct"),
        pytest.param(5.991, 2, 0.05, id="df2-5pct"),
        pytest.param(9.210, 2, 0.01, id="df2-1pct"),
        pytest.param(11.070, 5, 0.05, id="df5-5pct"),
        pytest.param(18.307, 10, 0.05, id="df10-5pct"),
        pytest.param(23.209, 10, 0.01, id="df10-1pct"),
        pytest.param(67.505, 50, 0.05, id="df50-5pct"),
        pytest.param(2.706, 1, 0.10, id="df1-10pct"),
        pytest.param(0.584, 3, 0.90, id="df3-90pct"),
    ],
)
def test_survival_function_matches_the_table(statistic: float, dof: int, p: float) -> None:
    """P(X >= critical value) is the table's tail probability (3 significant figures)."""
    assert chi_square_sf(statistic, dof) == pytest.approx(p, rel=2e-3, abs=2e-4)


@given(st.floats(min_value=0.0, max_value=700.0))
def test_q_of_one_is_the_exponential(x: float) -> None:
    """Q(1, x) = e^-x, on both sides of the series/fraction switch."""
    assert gamma_q(1.0, x) == pytest.approx(math.exp(-x), rel=1e-9, abs=1e-300)


@given(st.floats(min_value=0.0, max_value=200.0))
def test_two_degrees_of_freedom_have_a_closed_form(x: float) -> None:
    """For 2 degrees of freedom the survival function is e^(-x/2)."""
    assert chi_square_sf(x, 2) == pytest.approx(math.exp(-x / 2), rel=1e-9, abs=1e-300)


def test_zero_statistic_has_p_one() -> None:
    """A perfect fit has p = 1."""
    assert chi_square_sf(0.0, 4) == 1.0


@pytest.mark.parametrize(
    ("a", "x"),
    [pytest.param(0.0, 1.0, id="a-zero"), pytest.param(1.0, -1.0, id="x-negative")],
)
def test_gamma_q_rejects_bad_arguments(a: float, x: float) -> None:
    """Q(a, x) needs a > 0 and x >= 0."""
    with pytest.raises(ValueError, match="a > 0"):
        gamma_q(a, x)


def test_survival_function_needs_a_degree_of_freedom() -> None:
    """Zero degrees of freedom is an error."""
    with pytest.raises(ValueError, match="at least 1"):
        chi_square_sf(1.0, 0)


def test_goodness_of_fit_of_a_fair_split() -> None:
    """302/298 against 300/300: statistic 2/75, one degree of freedom."""
    result = chi_square_test([302, 298], [300.0, 300.0])
    assert result.statistic == pytest.approx(8 / 300)
    assert result.dof == 1
    assert result.p_value == pytest.approx(chi_square_sf(8 / 300, 1))
    assert result.impossible == 0


def test_observations_where_the_model_expects_none_make_p_zero() -> None:
    """A count in a category of probability 0 is impossible: p = 0."""
    result = chi_square_test([10, 10, 1], [10.0, 10.0, 0.0])
    assert result.p_value == 0.0
    assert result.impossible == 1


def test_one_category_has_nothing_to_test() -> None:
    """All mass in one category: no degrees of freedom, p None."""
    assert chi_square_test([600, 0], [600.0, 0.0]).p_value is None


def test_lengths_must_agree() -> None:
    """Observed and expected must line up."""
    with pytest.raises(ValueError, match="length"):
        chi_square_test([1, 2], [1.0])
