"""Short summaries of one run for the terminal: stock totals, priority by zone, carbon by pool
and project benefits (read from the marts, rows as dicts)."""

from __future__ import annotations

import psycopg
from psycopg.rows import dict_row


def _rows(conn: psycopg.Connection, query: str, params: tuple) -> list[dict]:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(query, params).fetchall()


def stock_totals(conn: psycopg.Connection, run_id: int) -> list[dict]:
    """The region's total carbon stock per epoch (t C)."""
    return _rows(conn, "select epoch_label, round(sum(carbon_t)::numeric) as carbon_t "
                       "from marts.carbon_stocks where run_id = %s and zone_set = 'region' "
                       "group by 1 order by 1", (run_id,))


def priority_by_zone(conn: psycopg.Connection, run_id: int, limit: int = 12) -> list[dict]:
    """Area per restoration priority grade, the region first, then each zone set."""
    return _rows(conn, "select zone_set, zone_code, zone_name, assessed_ha, "
                       "priority_restoration_ha, restoration_ha, improvement_ha, protection_ha, "
                       "general_ha, top_factors from marts.zone_scores where run_id = %s "
                       "order by zone_set <> 'region', zone_set, zone_code limit %s",
                 (run_id, limit))


def patch_totals(conn: psycopg.Connection, run_id: int) -> dict:
    """How many restoration patches the run found and their area."""
    return _rows(conn, "select count(*) as patches, coalesce(sum(area_ha), 0) as area_ha "
                       "from marts.restoration_patches where run_id = %s", (run_id,))[0]


def carbon_by_pool(conn: psycopg.Connection, run_id: int) -> list[dict]:
    """The region's stock change per pool."""
    return _rows(conn, "select pool, round(stock_t1_t::numeric) as stock_t1_t, "
                       "round(stock_t2_t::numeric) as stock_t2_t, "
                       "round(change_t::numeric) as change_t, "
                       "round(sink_co2e_t_per_yr::numeric) as sink_co2e_t_per_yr "
                       "from marts.carbon_stock_changes where run_id = %s "
                       "and zone_set = 'region' order by pool", (run_id,))


def project_benefits(conn: psycopg.Connection, run_id: int) -> list[dict]:
    """Each project's change, baseline change and sink enhancement, all pools."""
    return _rows(conn, "select project_id, project_name, round(max(area_ha)::numeric, 1) "
                       "as area_ha, round(sum(change_t)::numeric) as change_t, "
                       "round(sum(baseline_change_t)::numeric) as baseline_change_t, "
                       "round(sum(sink_enhancement_co2e_t_per_yr)::numeric, 1) "
                       "as sink_enhancement_co2e_t_per_yr from marts.project_benefits "
                       "where run_id = %s group by 1, 2 order by 1", (run_id,))


def matched_benefits(conn: psycopg.Connection, run_id: int) -> list[dict]:
    """Each project's benefit against matched controls over the periods after its start, with
    the bootstrap interval of that sum, and its sink-rate figure."""
    return _rows(conn, """
        select c.project_id, c.benefit_t, c.benefit_p2_5_t, c.benefit_p97_5_t,
               s.change_vs_pre_pct, s.passes_vs_pre, s.change_vs_controls_pct,
               s.passes_vs_controls
        from marts.project_cost_effectiveness as c
        left join marts.project_sink_rate_change as s
            on s.run_id = c.run_id and s.project_version_id = c.project_version_id
        where c.run_id = %s and c.benefit_t is not null
        order by 1""", (run_id,))
