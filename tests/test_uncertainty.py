"""ipcc.factor_uncertainty: Approach 1 and Monte Carlo for sums of products whose factors are
shared between terms, against hand computations and an independent Monte Carlo written here."""

from __future__ import annotations

import json
import math

import numpy as np
import psycopg
import pytest


def run(conn: psycopg.Connection, terms: list[dict], draws: int = 20000, seed: int = 7):
    return conn.execute("select * from ipcc.factor_uncertainty(%s::jsonb, %s, %s)",
                        (json.dumps(terms), draws, seed)).fetchone()


def test_one_product_is_ipcc_equation_3_1(conn: psycopg.Connection) -> None:
    total, u1, mean, lo, hi, missing = run(conn, [
        {"c": 1000.0, "f": [["a", 100.0, 10.0], ["b", 0.5, 20.0]]}])
    assert total == pytest.approx(50_000)
    assert u1 == pytest.approx(math.sqrt(10 ** 2 + 20 ** 2))  # 22.36 %
    assert lo <= total <= hi and missing == []
    # the Monte Carlo half-width agrees with Approach 1 for moderate, normal factors
    assert (hi - lo) / 2 / total * 100 == pytest.approx(u1, rel=0.08)


def test_independent_sum_is_ipcc_equation_3_2(conn: psycopg.Connection) -> None:
    total, u1, *_ = run(conn, [{"c": 10.0, "f": [["forest", 100.0, 20.0]]},
                               {"c": 30.0, "f": [["grass", 10.0, 30.0]]}])
    # sqrt((1000 x 20)^2 + (300 x 30)^2) / 1300
    assert total == pytest.approx(1300.0)
    assert u1 == pytest.approx(math.sqrt(20000 ** 2 + 9000 ** 2) / 1300)


def _hand_mc(soc_ref, u_ref, f_lu, u_flu, area, draws, seed):
    """Cropland (SOC_REF x F_LU) turned grassland (SOC_REF x 1) on `area` ha: the change
    SOC_REF x (1 - F_LU) x area, drawing SOC_REF once per iteration for both classes."""
    rng = np.random.default_rng(seed)

    def draw(mean, u):
        sd = mean * u / 196
        if u > 30:
            s2 = math.log(1 + (sd / mean) ** 2)
            return rng.lognormal(math.log(mean) - s2 / 2, math.sqrt(s2), draws)
        return np.clip(rng.normal(mean, sd, draws), 0, None)

    ref, f = draw(soc_ref, u_ref), draw(f_lu, u_flu)
    change = area * (ref * 1.0 - ref * f)
    return np.percentile(change, [2.5, 97.5])


def test_shared_soc_ref_in_a_conversion(conn: psycopg.Connection) -> None:
    """Cropland -> grassland: SOC_REF 88 t C/ha (+-90 %, IPCC 2006 Table 2.3 nominal), F_LU
    0.69 (+-12 %, Table 5.5 temperate moist). Treated as independent classes the change's
    uncertainty is several hundred per cent; with SOC_REF shared it is the uncertainty of
    SOC_REF x (1 - F_LU)."""
    terms = [{"c": 100.0, "f": [["SOC_REF", 88.0, 90.0], ["F_LU:grass", 1.0, 0.0]]},
             {"c": -100.0, "f": [["SOC_REF", 88.0, 90.0], ["F_LU:crop", 0.69, 12.0]]}]
    total, u1, mean, lo, hi, missing = run(conn, terms, draws=50000, seed=11)
    assert total == pytest.approx(100 * 88 * 0.31)
    # Approach 1 by hand: d/dSOC_REF = 100 (1 - 0.69); d/dF_LU = -100 x 88
    sd_ref, sd_f = 88 * 0.90 / 1.96, 0.69 * 0.12 / 1.96
    hand = 196 * math.hypot(100 * 0.31 * sd_ref, 100 * 88 * sd_f) / (100 * 88 * 0.31) / 100
    assert u1 == pytest.approx(hand * 100)
    assert 90 < u1 < 110  # not the ~576 % of independent terms
    h_lo, h_hi = _hand_mc(88.0, 90.0, 0.69, 12.0, 100.0, 50000, 12345)
    assert lo == pytest.approx(h_lo, rel=0.05)
    assert hi == pytest.approx(h_hi, rel=0.05)
    assert lo <= total <= hi and lo <= mean <= hi
    # the same terms as independent factors give a far wider interval: the sharing matters
    apart = [{"c": 100.0, "f": [["SOC_REF:a", 88.0, 90.0]]},
             {"c": -100.0, "f": [["SOC_REF:b", 88.0, 90.0], ["F_LU:crop", 0.69, 12.0]]}]
    _, u_apart, *_ = run(conn, apart)
    assert u_apart > 3 * u1


def test_lognormal_keeps_the_mean_and_positive_draws(conn: psycopg.Connection) -> None:
    total, _u1, mean, lo, hi, _ = run(conn, [{"c": 1.0, "f": [["x", 10.0, 150.0]]}],
                                      draws=200000)
    assert mean == pytest.approx(total, rel=0.02)
    assert 0 < lo < total < hi


def test_missing_uncertainty_is_never_zero(conn: psycopg.Connection) -> None:
    total, u1, mean, lo, hi, missing = run(conn, [
        {"c": 5.0, "f": [["known", 10.0, 10.0]]},
        {"c": 2.0, "f": [["invest_pool_table:agb:51", 3.0, None]]}])
    assert total == pytest.approx(56.0)
    assert (u1, mean, lo, hi) == (None, None, None, None)
    assert missing == ["invest_pool_table:agb:51"]


def test_bounds_and_consistency(conn: psycopg.Connection) -> None:
    with pytest.raises(psycopg.Error, match="mc_draws"):
        run(conn, [{"c": 1.0, "f": [["x", 1.0, 1.0]]}], draws=2_000_000_000)
    conn.rollback()
    with pytest.raises(psycopg.Error, match="two values"):
        run(conn, [{"c": 1.0, "f": [["x", 1.0, 1.0]]}, {"c": 1.0, "f": [["x", 2.0, 1.0]]}])


def test_a_factor_only_in_zero_terms_needs_no_uncertainty(conn: psycopg.Connection) -> None:
    """A factor without an uncertainty that only appears in terms equal to 0 (a coefficient of
    0, or a zero density beside it) changes nothing: it is neither reported as unquantified nor
    allowed to turn the Monte Carlo into NaN (0 x NaN)."""
    total, u1, mean, lo, hi, missing = run(conn, [{"c": 0.0, "f": [["a", 1.0, None]]},
                                                  {"c": 1.0, "f": [["b", 0.0, 10.0]]},
                                                  {"c": 2.0, "f": [["d", 5.0, 10.0]]}])
    assert missing == [] and total == pytest.approx(10.0)
    assert all(math.isfinite(x) for x in (u1, mean, lo, hi))
    assert lo <= total <= hi and u1 == pytest.approx(10.0)
