"""The IPCC equation functions reproduce the Guidelines' worked examples (METHODS §4.5)."""

from __future__ import annotations

import psycopg
import pytest


def one(conn: psycopg.Connection, sql: str, params=None):
    return conn.execute(sql, params).fetchone()[0]


def test_forest_biomass_gain_example(conn: psycopg.Connection) -> None:
    # IPCC 2006 Vol. 4 Ch. 4 pp. 4.18-4.19: A = 100 000 ha, G_W = 4.0 t d.m./ha/yr, R = 0.29,
    # CF = 0.47 -> G_TOTAL = 5.16 t d.m./ha/yr; dC_G = 242 520 t C/yr
    assert one(conn, "select ipcc.total_growth(4.0, 0.29)") == pytest.approx(5.16, abs=1e-12)
    assert one(conn, "select ipcc.biomass_gain(100000, 4.0, 0.29, 0.47)") == \
        pytest.approx(242_520, abs=1e-6)


def test_disturbance_loss_example(conn: psycopg.Connection) -> None:
    # 2 000 ha x 4.0 x 1.29 x 0.47 x f_d 0.3 = 1 455.12 t C/yr
    assert one(conn, "select ipcc.disturbance_loss(2000, 4.0, 0.29, 0.47, 0.3)") == \
        pytest.approx(1455.12, abs=1e-9)


def test_cropland_soc_example(conn: psycopg.Connection) -> None:
    # IPCC 2006 Vol. 4 Ch. 5 §5.2.3.4: warm temperate moist, HAC soil, SOC_REF 88, F_LU 0.69.
    # Initial: 400 000 ha low input (F_I 0.92), full till + 600 000 ha medium, full till.
    # Final: 200 000 low/full + 700 000 medium/reduced till (F_MG 1.08) + 100 000 medium/no-till
    # (F_MG 1.15). Stocks 58.78 and 64.06 Mt C; change over D = 20 yr = 264 132 t C/yr.
    initial = one(conn, "select ipcc.soc_stock(88, 0.69, 1.0, 0.92, 400000) "
                        "+ ipcc.soc_stock(88, 0.69, 1.0, 1.0, 600000)")
    final = one(conn, "select ipcc.soc_stock(88, 0.69, 1.0, 0.92, 200000) "
                      "+ ipcc.soc_stock(88, 0.69, 1.08, 1.0, 700000) "
                      "+ ipcc.soc_stock(88, 0.69, 1.15, 1.0, 100000)")
    assert initial == pytest.approx(58_776_960, abs=1e-3)
    assert final == pytest.approx(64_059_600, abs=1e-3)
    assert round(initial / 1e6, 2) == 58.78 and round(final / 1e6, 2) == 64.06
    assert one(conn, "select ipcc.soc_change_per_year(%s, %s)", (final, initial)) == \
        pytest.approx(264_132, abs=1e-6)


def test_linear_transition_and_co2(conn: psycopg.Connection) -> None:
    assert one(conn, "select ipcc.soc_after(50, 70, 5)") == pytest.approx(55.0)
    assert one(conn, "select ipcc.soc_after(50, 70, 40)") == pytest.approx(70.0)
    # a gain of 12 t C is a removal of 44 t CO2 (negative by the IPCC sign convention)
    assert one(conn, "select ipcc.co2e(12)") == pytest.approx(-44.0)
    assert one(conn, "select ipcc.stock_difference(100, 160, 30)") == pytest.approx(2.0)


def test_approach1_uncertainty(conn: psycopg.Connection) -> None:
    # product: sqrt(30^2 + 40^2) = 50 %
    assert one(conn, "select ipcc.u_product(30, 40)") == pytest.approx(50.0)
    # sum: x = 100 (±10 %) + 300 (±20 %): sqrt(10^2 + 60^2) / 400 = 15.2069 %
    assert one(conn, "select ipcc.u_sum(array[100, 300]::float8[], array[10, 20]::float8[])") \
        == pytest.approx(100 * (10 ** 2 + 60 ** 2) ** 0.5 / 400, rel=1e-12)
