"""The report's section on the benefit against matched controls (marts project_matched_benefits,
project_match_balance, project_sink_rate_change, project_cost_effectiveness): per project the
credited benefit with its interval, the match diagnostics, the leakage belt apart, the
standard's sink-rate figure with pass / fail, cost-effectiveness, and a chart of the cumulative
benefit by year."""

from __future__ import annotations

import psycopg

from . import figures
from .data import rows
from .document import Block, code, f0, f1


def load(conn: psycopg.Connection, run_id: int) -> dict:
    p = (run_id,)
    return {
        "periods": rows(conn, """
            select project_id, project_name, is_example, year_t1, year_t2, timing,
                   project_pixels, matched_pixels, benefit_t, benefit_p2_5_t, benefit_p97_5_t,
                   belt_change_t, belt_excess_change_t, controls_used, signal_layer,
                   signal_units, density_method, leakage_belt_m, note
            from marts.project_matched_benefits where run_id = %s
            order by project_id, year_t1""", p),
        "balance": rows(conn, """
            select project_id, max(abs(smd_before)) as smd_before,
                   max(abs(smd_after)) as smd_after, string_agg(covariate, ', ') as covariates
            from marts.project_match_balance where run_id = %s
            group by project_id order by project_id""", p),
        "sink": rows(conn, """
            select project_id, start_year, pre_years, post_years, rate_kind,
                   rate_pre_t_per_yr, rate_post_t_per_yr, change_vs_pre_pct,
                   change_vs_pre_p2_5_pct, change_vs_pre_p97_5_pct, change_vs_controls_pct,
                   change_vs_controls_p2_5_pct, change_vs_controls_p97_5_pct, threshold_pct,
                   passes_vs_pre, passes_vs_controls, note
            from marts.project_sink_rate_change where run_id = %s order by project_id""", p),
        "signal": rows(conn, """
            select year, signal_layer, sum(biomass_t) as biomass_t,
                   sum(class_constant_biomass_t) as class_constant_biomass_t,
                   sum(within_class_t) as within_class_t
            from marts.signal_carbon_stocks where run_id = %s and zone_set = 'region'
            group by year, signal_layer order by year""", p),
        "cost": rows(conn, """
            select project_id, periods, from_year, to_year, benefit_t, benefit_co2e_t,
                   investment_cny, co2e_t_per_10k_cny, cny_per_co2e_t
            from marts.project_cost_effectiveness where run_id = %s
            order by project_id""", p),
    }


def _pct(v, lo=None, hi=None) -> str:
    if v is None:
        return ""
    text = f"{v:+.1f} %"
    return text + (f" ({lo:+.1f} … {hi:+.1f})" if lo is not None and hi is not None else "")


def signal_blocks(m: dict, L) -> list[Block]:  # noqa: N803 - the report's chooser
    """The region's biomass following the vegetation signal, year by year."""
    if not m["signal"]:
        return []
    return [Block("table", L(
        f"随植被信号（{code(m['signal'][0]['signal_layer'], True)}）变化的生物量碳（全区，吨碳）",
        f"Biomass carbon following the vegetation signal ({m['signal'][0]['signal_layer']}), "
        "whole region (t C)"),
        headers=[L("年份", "year"), L("生物量碳", "biomass"), L("按地类常数", "class constant"),
                 L("类内部分", "within classes")],
        rows=[[str(r["year"]), f0(r["biomass_t"]), f0(r["class_constant_biomass_t"]),
               f0(r["within_class_t"])] for r in m["signal"]])]


def blocks(m: dict, L, zh: bool) -> list[Block]:  # noqa: N803 - the report's chooser
    """The section's blocks (only the region's signal table when the run has no project with
    pixels)."""
    if not m["periods"]:
        return signal_blocks(m, L)
    first = m["periods"][0]
    yes, no = L("通过", "pass"), L("未通过", "fail")
    out = [Block("p", L(
               "对照匹配的增汇效益（动态基线）。"
               f"生物量碳（地上与地下）随植被信号{code(first['signal_layer'], True)}"
               f"（{code(first['signal_units'], True) or '—'}）在类内变化"
               f"（{code(first['density_method'], True)}）。"
               "每个项目像元按起始地类精确匹配，并按项目前信号水平、趋势（及高程、坡度，如有）"
               "在卡尺内选取最近的对照像元；对照位于所有项目及其泄漏带"
               f"（{first['leakage_belt_m']:g} 米）之外。"
               "增汇量 = 匹配项目像元变化 − 其对照平均变化，"
               "区间为像元自助法 95% 区间（未计空间自相关，偏窄）。泄漏带的变化单列，不计入增汇量。"
               "示例项目仅为演示。",
               "Benefit against matched controls (dynamic baseline). "
               f"Biomass carbon (above and below ground) follows the vegetation signal "
               f"{code(first['signal_layer'], False)} "
               f"({code(first['signal_units'], False) or '—'}) within classes "
               f"({code(first['density_method'], False)}). Each project pixel is matched "
               "exactly on its starting class and to its nearest controls within calipers "
               "on the pre-project signal level and trend (and elevation and slope where "
               "loaded); controls lie "
               f"outside every project and its leakage belt ({first['leakage_belt_m']:g} m). "
               "Benefit = change of the matched project pixels − the mean change of their "
               "controls; intervals are a 95 % bootstrap over pixels (spatial autocorrelation "
               "is not modelled, so they are narrow). The belt's change is reported apart and "
               "never enters the benefit. Example projects are illustrations only."))]
    after = {}
    for r in m["periods"]:
        if r["timing"] == "after_start" and r["benefit_t"] is not None:
            after.setdefault(r["project_id"], []).append(r)
    bal = {r["project_id"]: r for r in m["balance"]}
    cost = {r["project_id"]: r for r in m["cost"]}
    out.append(Block("table", L("匹配对照的增汇效益（开始后各时段合计）",
                                "Benefit against matched controls (periods after the start)"),
                     headers=[L("项目", "project"), L("像元（匹配）", "pixels (matched)"),
                              L("增汇量（吨碳）", "benefit t C"),
                              L("增汇量（吨 CO₂ 当量）", "t CO2e"),
                              L("泄漏带变化（吨碳）", "belt change t C"),
                              L("匹配前/后 最大|SMD|", "max |SMD| before/after"),
                              L("吨 CO₂ 当量/万元", "t CO2e per 10k CNY")],
                     rows=[[pid + (L("（示例）", " (example)") if rs[0]["is_example"] else ""),
                            f"{rs[0]['project_pixels']} ({rs[0]['matched_pixels']})",
                            f0(sum(r["benefit_t"] for r in rs)),
                            f0(cost.get(pid, {}).get("benefit_co2e_t")),
                            f0(sum(r["belt_change_t"] or 0 for r in rs)),
                            (f"{bal[pid]['smd_before']:.2f} / {bal[pid]['smd_after']:.2f}"
                             if pid in bal and bal[pid]["smd_after"] is not None else ""),
                            f1(cost.get(pid, {}).get("co2e_t_per_10k_cny"))]
                           for pid, rs in after.items()]))
    notes = sorted({f"{r['project_id']}: {r['note']}" for r in m["periods"] if r["note"]})
    if notes:
        out.append(Block("p", L("说明：", "Notes: ") + "; ".join(notes)))
    if m["sink"]:
        out.append(Block("table", L(
            f"年固碳速率变化（开始后 3 年对比开始前，阈值 {m['sink'][0]['threshold_pct']:g}%）",
            f"Annual sink-rate change (the years after the start against those before; "
            f"threshold {m['sink'][0]['threshold_pct']:g} %)"),
            headers=[L("项目", "project"), L("开始年", "start"), L("对比开始前", "vs before"),
                     L("判定", "result"), L("对比匹配对照", "vs controls"), L("判定", "result")],
            rows=[[r["project_id"], str(r["start_year"]),
                   _pct(r["change_vs_pre_pct"], r["change_vs_pre_p2_5_pct"],
                        r["change_vs_pre_p97_5_pct"]),
                   "" if r["passes_vs_pre"] is None else (yes if r["passes_vs_pre"] else no),
                   _pct(r["change_vs_controls_pct"], r["change_vs_controls_p2_5_pct"],
                        r["change_vs_controls_p97_5_pct"]),
                   "" if r["passes_vs_controls"] is None
                   else (yes if r["passes_vs_controls"] else no)] for r in m["sink"]]))
        kinds = {r["rate_kind"] for r in m["sink"]}
        if "flux" in kinds:
            out.append(Block("p", L(
                "信号为碳通量（GPP/NPP）时，年固碳速率以该通量表示（假定净固碳与通量之比不变）。"
                "通量随当年降水波动，按其推算的生物量逐年起伏主要反映天气，宜看多年均值与对照比较。",
                "Where the signal is a carbon flux (GPP/NPP) the annual sink rate is that flux "
                "(the ratio of the net sink to it assumed constant). A flux follows the year's "
                "rainfall: year-to-year swings of the biomass derived from it are mostly weather; "
                "read multi-year means and the comparison with the controls.")))
    # cumulative from the start: 0 at the start of the first period after it
    series = {pid: [(rs[0]["year_t1"], 0.0)] + [(r["year_t2"], r["benefit_t"]) for r in rs]
              for pid, rs in after.items()}
    if series:
        out.append(Block("img", L("项目开始后匹配对照增汇量累计（吨碳）",
                                  "Cumulative benefit against matched controls since the start "
                                  "(t C)"), name="matched_benefit",
                         png=figures.cumulative_chart(
                             series, L("累计增汇量（吨碳）", "cumulative benefit (t C)"),
                             L("匹配对照增汇量逐年累计", "Cumulative benefit against matched "
                                                       "controls")),
                         note=L("数据来源：各项目开始后每个时段的匹配对照增汇量（结果表 "
                                "marts.project_matched_benefits），自开始年起逐段累加；像元为评估"
                                "网格像元。逐段数值含自助法抽样误差，未计空间自相关。",
                                "Source: each project's benefit against matched controls per "
                                "period after its start (marts.project_matched_benefits), summed "
                                "from the start year; pixels of the assessment grid. Each "
                                "period's value carries bootstrap error; spatial "
                                "autocorrelation is not modelled.")))
    return out + signal_blocks(m, L)
