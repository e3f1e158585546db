"""The assessment report as a list of blocks (headings, paragraphs, tables, figures), in Chinese
or English, built only from one run's results. Renderers turn it into HTML, Markdown or PDF."""

from __future__ import annotations

from dataclasses import dataclass

from . import figures
from .data import ReportData

TEXT = {
    "title": ("生态修复区域识别与固碳增汇效益评估报告", "Ecological restoration areas and carbon "
              "sink enhancement: assessment report"),
    "s_overview": ("1 概述", "1 Overview"),
    "s_data": ("2 数据与来源", "2 Data and provenance"),
    "s_methods": ("3 方法与参数", "3 Methods and parameters"),
    "s_ident": ("4 生态修复区域识别结果", "4 Restoration-area identification"),
    "s_carbon": ("5 碳储量与固碳增汇效益", "5 Carbon stocks and sink enhancement"),
    "s_unc": ("6 不确定性与验证", "6 Uncertainty and validation"),
    "s_concl": ("7 结论", "7 Conclusions"),
    "north": ("北", "N"),
    "grade": ("修复等级", "Priority grade"),
    "map_grades": ("生态修复优先等级分布图", "Restoration priority grades"),
    "map_change": ("碳密度变化图（{t1}→{t2}，全部碳库）",
                   "Change of carbon density ({t1} → {t2}, all pools)"),
    "t_c_per_ha": ("t C/ha", "t C/ha"),
    "mt_c": ("碳储量（百万吨碳）", "Carbon stock (million t C)"),
    "chart_stocks": ("各时期分碳库碳储量", "Carbon stock by epoch and pool"),
    "chart_grades": ("各修复等级面积（公顷）", "Area by priority grade (ha)"),
    "ha": ("公顷", "ha"),
    "pool_agb": ("地上生物量", "above-ground biomass"),
    "pool_bgb": ("地下生物量", "below-ground biomass"),
    "pool_soc": ("土壤有机碳", "soil organic carbon"),
    "pool_dead_wood": ("枯死木", "dead wood"),
    "pool_litter": ("凋落物", "litter"),
    "yes": ("是", "yes"),
    "no": ("否", "no"),
    "pass": ("通过", "pass"),
    "fail": ("未通过", "fail"),
}


def tr(lang: str):
    i = 0 if lang == "zh" else 1

    def t(key: str, **kw) -> str:
        return TEXT[key][i].format(**kw)
    return t


def f0(v) -> str:
    return "" if v is None else f"{float(v):,.0f}"


def f1(v) -> str:
    return "" if v is None else f"{float(v):,.1f}"


def f2(v) -> str:
    return "" if v is None else f"{float(v):,.2f}"


def f3(v) -> str:
    return "" if v is None else f"{float(v):,.3f}"


#: the area columns of the five priority grades (marts.zone_scores), grade 1 first
GRADE_AREAS = ("priority_restoration_ha", "restoration_ha", "improvement_ha", "protection_ha",
               "general_ha")


def pool_name(t, pool: str) -> str:
    """A carbon pool's name in the report's language (the code itself when it has none)."""
    return t("pool_" + pool) if "pool_" + pool in TEXT else pool


@dataclass
class Block:
    kind: str            # h1, h2, p, table, img
    text: str = ""
    headers: list | None = None
    rows: list | None = None
    png: bytes | None = None
    name: str = ""


def build(d: ReportData, lang: str) -> list[Block]:
    zh = lang == "zh"
    t = tr(lang)

    def L(cn: str, en: str) -> str:  # noqa: N802 - short bilingual chooser
        return cn if zh else en

    b: list[Block] = [Block("h1", t("title") + f" — {d.region['title']}")]
    run = d.run

    # 1 overview ---------------------------------------------------------------------------
    b.append(Block("h2", t("s_overview")))
    b.append(Block("p", L(
        f"评估区域：{d.region['title']}（{d.region['name']}）。边界面积 "
        f"{f0(d.region['boundary_area_ha'])} 公顷；网格 {d.region['crs_name']}，像元 "
        f"{d.region['pixel_size_m']:g} 米，{d.region['width_px']} × {d.region['height_px']} 像元。"
        f"评估运行编号 {run['run_id']}（{run['started_at']:%Y-%m-%d %H:%M} UTC，ecorest "
        f"{run['code_version']}），IPCC 指南版本 {run['ipcc_edition']}。本报告的全部数字均取自该"
        f"次运行的结果表（marts）。",
        f"Region: {d.region['title']} ({d.region['name']}). Boundary area "
        f"{f0(d.region['boundary_area_ha'])} ha; grid {d.region['crs_name']}, "
        f"{d.region['pixel_size_m']:g} m pixels, {d.region['width_px']} × "
        f"{d.region['height_px']} px. Assessment run {run['run_id']} "
        f"({run['started_at']:%Y-%m-%d %H:%M} UTC, ecorest {run['code_version']}), IPCC "
        f"guidelines edition {run['ipcc_edition']}. Every figure in this report is read from "
        f"that run's result tables (marts).")))
    if d.region.get("ipcc_climate_zone"):
        b.append(Block("p", L(
            f"IPCC 气候区 {d.region['ipcc_climate_zone']}，土壤类型 {d.region['ipcc_soil_type']}。",
            f"IPCC climate zone {d.region['ipcc_climate_zone']}, soil type "
            f"{d.region['ipcc_soil_type']}.")))

    # 2 data -------------------------------------------------------------------------------
    b.append(Block("h2", t("s_data")))
    b.append(Block("table", L("栅格输入（每个文件的 SHA-256 校验值）",
                              "Raster inputs (SHA-256 of every file)"),
                   headers=[L("图层", "layer"), L("时期", "epoch"), L("文件", "file"),
                            "SHA-256", L("单位", "units"), L("重采样", "resampling")],
                   rows=[[r["layer"], r["epoch_label"], r["file"], r["source_sha256"][:16] + "…",
                          r["units"] or "", r["resampling"]] for r in d.inputs]))
    if d.loads:
        b.append(Block("table", L("矢量与表格输入", "Vector and table inputs"),
                       headers=[L("类型", "kind"), L("文件", "file"), "SHA-256",
                                L("记录数", "rows")],
                       rows=[[r["loader"], r["file"], r["source_sha256"][:16] + "…",
                              f0(r["rows_loaded"])] for r in d.loads]))

    # 3 methods ----------------------------------------------------------------------------
    b.append(Block("h2", t("s_methods")))
    b.append(Block("p", L(
        "碳储量 = 面积 × 碳密度（分碳库）；变化量采用 IPCC 储量差法（Eq. 2.5），CO2 当量 = "
        "−ΔC × 44/12（清除为负，另给出正值的“碳汇”）。碳密度按层级取值：样地实测（Tier 2，"
        "≥ min_plots 个样地）> 参数集 > IPCC Tier 1 默认值。修复区域识别：NDVI 趋势（Theil–Sen "
        "斜率 + Mann–Kendall 检验）、土地覆盖退化转移、坡度等退化因子与碳密度、植被覆盖度等"
        "重要性因子经归一化和加权（AHP/熵权/显式权重）叠加，"
        "按“重要性 × 退化程度”矩阵划分优先等级。",
        "Carbon stock = area × carbon density per pool; change by the IPCC stock-difference "
        "method (Eq. 2.5); CO2e = −ΔC × 44/12 (removals negative; a positive 'sink' column is "
        "given too). Densities by tier: survey plots (Tier 2, ≥ min_plots plots) before the "
        "parameter set before the IPCC Tier 1 defaults. Identification: degradation factors "
        "(NDVI trend by Theil–Sen slope and Mann–Kendall test, land-cover degradation "
        "transitions, slope) and importance factors (carbon density, vegetation cover) are "
        "normalised, weighted (AHP, entropy or explicit weights) and combined; an importance × "
        "degradation matrix gives the priority grade.")))
    b.append(Block("table", L("本次运行实际使用的碳密度层级与来源",
                              "Density tiers and sources this run used"),
                   headers=[L("层级", "tier"), L("碳库", "pool"), L("类别数", "classes"),
                            L("来源（示例）", "source (example)")],
                   rows=[[r["tier"], pool_name(t, r["pool"]), str(r["classes"]),
                          (r["source"] or "")[:80]] for r in d.tiers]))
    if d.factors:
        b.append(Block("table", L("识别因子、归一化与权重", "Identification factors and weights"),
                       headers=[L("因子", "factor"), L("类别", "group"), L("方向", "direction"),
                                L("数据", "layer"), L("权重", "weight"), L("方法", "method"),
                                "AHP CR", L("归一化区间", "normalised between")],
                       rows=[[r["factor"], r["factor_group"], "+" if r["direction"] > 0 else "−",
                              r["source_layer"], f3(r["weight"]), r["weight_method"],
                              f3(r["ahp_cr"]), f"{r['normalise_low']} … {r['normalise_high']}"]
                             for r in d.factors]))

    # 4 identification ---------------------------------------------------------------------
    b.append(Block("h2", t("s_ident")))
    names = {1: L("优先修复区", "priority restoration"), 2: L("修复区", "restoration"),
             3: L("提升区", "improvement"), 4: L("保护区", "protection"),
             5: L("一般区", "general")}
    if d.grade_grid is not None:
        b.append(Block("img", t("map_grades"), name="grade_map",
                       png=figures.grade_map(d.grade_grid, d.outlines, t, names)))
    region_row = next((z for z in d.zones if z["zone_set"] == "region"), None)
    if region_row:
        areas = [float(region_row[c]) for c in GRADE_AREAS]
        b.append(Block("img", t("chart_grades"), name="grade_areas", png=figures.bar_chart(
            [f"{g} {names[g]}" for g in range(1, 6)], areas, t("chart_grades"), t("ha"),
            figures.GRADE_COLOURS)))
    b.append(Block("table", L("按分区统计的修复等级面积（公顷）", "Priority grades by zone (ha)"),
                   headers=[L("分区集", "zone set"), L("代码", "code"), L("名称", "name"),
                            L("评估面积", "assessed"), "1", "2", "3", "4", "5",
                            L("需修复比例 %", "need %"), L("综合得分", "score"),
                            L("主要因子", "top factors")],
                   rows=[[z["zone_set"], z["zone_code"], z["zone_name"], f0(z["assessed_ha"]),
                          *(f0(z[c]) for c in GRADE_AREAS), f1(z["restoration_need_pct"]),
                          f3(z["mean_composite"]), z["top_factors"] or ""]
                         for z in d.zones[:30]]))
    if d.patch_totals:
        b.append(Block("table", L("修复图斑", "Restoration patches"),
                       headers=[L("等级", "grade"), L("名称", "name"), L("图斑数", "patches"),
                                L("面积（公顷）", "area ha")],
                       rows=[[str(r["grade"]), r["grade_name_zh"] if zh else r["grade_name_en"],
                              str(r["patches"]), f1(r["area_ha"])] for r in d.patch_totals]))
        b.append(Block("table", L("面积最大的图斑", "Largest patches"),
                       headers=[L("编号", "no"), L("等级", "grade"), L("面积（公顷）", "ha"),
                                L("综合得分", "score"), L("主导因子", "dominant factors"),
                                L("行政区代码", "admin codes")],
                       rows=[[str(r["patch_no"]), str(r["grade"]), f1(r["area_ha"]),
                              f3(r["mean_composite"]), r["dominant_factors"] or "",
                              r["admin_codes"] or ""] for r in d.patches]))
    if d.ndvi:
        b.append(Block("table", L("NDVI 变化趋势（全区）", "NDVI trend classes (whole region)"),
                       headers=[L("类别", "class"), L("名称", "name"), L("面积（公顷）", "ha"),
                                L("比例 %", "share %")],
                       rows=[[str(r["trend_class"]),
                              r["trend_name_zh"] if zh else r["trend_name_en"], f0(r["area_ha"]),
                              f1(r["share_pct"])] for r in d.ndvi]))
    if d.accuracy:
        a0 = d.accuracy[0]
        gate = t("pass") if a0["passes_gate"] else t("fail")
        oa, ci, kappa = f3(a0["overall_accuracy"]), f3(a0["overall_accuracy_ci"]), f3(a0["kappa"])
        b.append(Block("p", L(
            f"精度评价：{a0['total_samples']} 个参考样点；面积加权总体精度 {oa} ± {ci}，"
            f"Kappa {kappa}；总体精度 ≥ {a0['gate_overall_accuracy']:.0%} 的要求：{gate}。",
            f"Accuracy: {a0['total_samples']} reference samples; area-weighted overall accuracy "
            f"{oa} ± {ci}, kappa {kappa}; overall accuracy ≥ "
            f"{a0['gate_overall_accuracy']:.0%}: {gate}.")))
        b.append(Block("table", L("分等级精度与面积校正（Olofsson 等, 2014）",
                                  "Accuracy and area-adjusted estimates (Olofsson et al. 2014)"),
                       headers=[L("等级", "grade"), L("样点", "samples"), L("用户精度", "UA"),
                                L("制图精度", "PA"), L("制图面积", "mapped ha"),
                                L("校正面积", "adjusted ha"), "± 95 %"],
                       rows=[[str(r["grade"]), str(r["map_samples"]), f3(r["users_accuracy"]),
                              f3(r["producers_accuracy"]), f0(r["mapped_area_ha"]),
                              f0(r["estimated_area_ha"]), f0(r["estimated_area_ci_ha"])]
                             for r in d.accuracy]))
    else:
        b.append(Block("p", L(
            "精度评价：本区域未载入带修复等级的参考样点，未进行精度评价（总体精度 ≥ 85% 的要求无法"
            "检验）。",
            "Accuracy: no reference samples with a priority grade are loaded for this region, "
            "so the identification is not assessed (the 85 % overall-accuracy gate cannot be "
            "checked).")))

    # 5 carbon -----------------------------------------------------------------------------
    b.append(Block("h2", t("s_carbon")))
    if not d.stocks:
        b.append(Block("p", L("本区域未载入土地覆盖数据，未计算碳储量及其变化。",
                              "No land-cover layer is loaded for this region, so no carbon "
                              "stocks or changes were computed.")))
    if d.stocks:
        b.append(Block("img", t("chart_stocks"), name="stocks",
                       png=figures.stock_chart(d.stocks, t)))
        epochs = sorted({s["epoch_label"] for s in d.stocks})
        pools = sorted({s["pool"] for s in d.stocks})
        val = {(s["epoch_label"], s["pool"]): s["carbon_t"] for s in d.stocks}
        b.append(Block("table", L("碳储量（吨碳）", "Carbon stock (t C)"),
                       headers=[L("碳库", "pool"), *epochs],
                       rows=[[t("pool_" + p), *(f0(val.get((e, p))) for e in epochs)]
                             for p in pools]
                       + [[L("合计", "total"),
                           *(f0(sum(val.get((e, p), 0) for p in pools)) for e in epochs)]]))
    if d.changes:
        b.append(Block("table", L("碳储量变化（储量差法）", "Stock change (stock difference)"),
                       headers=[L("时段", "period"), L("碳库", "pool"),
                                L("变化（吨碳）", "change t C"),
                                L("碳汇（吨CO2当量/年）", "sink t CO2e/yr")],
                       rows=[[f"{r['epoch_t1']}–{r['epoch_t2']}", t("pool_" + r["pool"]),
                              f0(r["change_t"]), f1(r["sink_co2e_t_per_yr"])]
                             for r in d.changes]))
    if d.change_grid is not None and d.changes:
        b.append(Block("img", "", name="change_map", png=figures.change_map(
            d.change_grid, d.outlines, t,
            t("map_change", t1=d.changes[0]["epoch_t1"], t2=d.changes[-1]["epoch_t2"]))))
    if d.transitions:
        b.append(Block("table", L("面积最大的土地覆盖转移（公顷）",
                                  "Largest land-cover transitions (ha)"),
                       headers=[L("时段", "period"), L("由", "from"), L("至", "to"),
                                L("面积", "ha")],
                       rows=[[f"{r['epoch_t1']}–{r['epoch_t2']}",
                              r["name_zh_t1"] if zh else r["name_en_t1"],
                              r["name_zh_t2"] if zh else r["name_en_t2"], f0(r["area_ha"])]
                             for r in d.transitions]))
    if d.projects:
        b.append(Block("table", L("修复项目固碳增汇效益（全部碳库）",
                                  "Restoration projects: sink enhancement (all pools)"),
                       headers=[L("项目", "project"), L("名称", "name"), L("面积", "ha"),
                                L("项目内变化", "change t C"), L("基线变化", "baseline t C"),
                                L("增汇量", "benefit t C"), L("增汇（吨CO2e/年）", "t CO2e/yr"),
                                L("基线", "baseline")],
                       rows=[[r["project_id"], (r["project_name"] or "")
                              + (L("（示例）", " (example)") if r["is_example"] else ""),
                              f1(r["area_ha"]), f0(r["change_t"]), f0(r["baseline_change_t"]),
                              f0(r["benefit_t"]), f1(r["sink_enhancement_co2e_t_per_yr"]),
                              r["baseline_method"]] for r in d.projects]))

    # 6 uncertainty and validation ---------------------------------------------------------
    b.append(Block("h2", t("s_unc")))
    if d.uncertainty:
        b.append(Block("table", L("不确定性（IPCC 方法1 误差传递与蒙特卡洛 95% 区间）",
                                  "Uncertainty (IPCC Approach 1 and Monte Carlo 95 % range)"),
                       headers=[L("量", "quantity"), L("时期", "epoch"), L("碳库", "pool"),
                                L("值（吨碳）", "t C"), L("面积", "areas"),
                                L("方法1 ±%", "Approach 1 ±%"), "MC 2.5 %", "MC 97.5 %"],
                       rows=[[r["quantity"], r["epoch_t1"] if r["quantity"] == "stock"
                              else f"{r['epoch_t1']}–{r['epoch_t2']}", t("pool_" + r["pool"]),
                              f0(r["total_t"]),
                              L("校正", "adjusted") if r["area_basis"] == "olofsson_adjusted"
                              else L("制图", "mapped"),
                              f1(r["u_approach1_pct"]), f0(r["mc_p2_5_t"]),
                              f0(r["mc_p97_5_t"])] for r in d.uncertainty]))
        missing = sorted({f for r in d.uncertainty for f in (r["unquantified"] or [])})
        b.append(Block("p", L(
            "不确定性按共享因子传递：同一因子（如各类共用的土壤参考碳储量 SOC_REF、前后两期共用的"
            "密度）在每次抽样中只抽取一次。"
            + ("以下因子缺少不确定性，相关行的区间留空（不按 0 计）：" + "；".join(missing)
               + "。" if missing else ""),
            "Uncertainty is propagated over shared factors: a factor used by several classes "
            "or both epochs (SOC_REF behind every class's soil carbon, a density at t1 and t2) "
            "is drawn once per iteration."
            + (" These factors have no stated uncertainty, so the rows using them have no "
               "interval (it is not counted as 0): " + "; ".join(missing) + "."
               if missing else ""))))
    if d.landcover_accuracy:
        a0 = d.landcover_accuracy[0]
        oa, kappa = f3(a0["overall_accuracy"]), f3(a0["kappa"])
        gate = t("pass") if a0["passes_gate"] else t("fail")
        b.append(Block("p", L(
            f"土地覆盖分类精度（{a0['epoch_label']} 年，参考样点）：总体精度 {oa}，"
            f"Kappa {kappa}，总体精度 ≥ 85%：{gate}。"
            f"有参考样点的时期，碳储量按面积校正后的各类面积估计（Olofsson 2014），"
            f"其不确定性计入校正面积的置信区间。",
            f"Land-cover accuracy ({a0['epoch_label']}, reference samples): overall accuracy "
            f"{oa}, kappa {kappa}, overall accuracy ≥ 85 %: "
            f"{gate}. Stock totals of epochs with reference samples are estimated on the "
            f"area-adjusted class areas (Olofsson 2014), their uncertainty including the "
            f"adjusted areas' confidence intervals.")))
        b.append(Block("table", L("土地覆盖分类精度与面积校正",
                                  "Land-cover accuracy and adjusted areas"),
                       headers=[L("时期", "epoch"), L("类别", "class"), L("样点", "samples"),
                                L("用户精度", "UA"), L("制图精度", "PA"),
                                L("制图面积", "mapped ha"), L("校正面积", "adjusted ha"),
                                "± 95 %"],
                       rows=[[r["epoch_label"], str(r["class_code"]), str(r["map_samples"]),
                              f3(r["users_accuracy"]), f3(r["producers_accuracy"]),
                              f0(r["mapped_area_ha"]), f0(r["estimated_area_ha"]),
                              f0(r["estimated_area_ci_ha"])] for r in d.landcover_accuracy]))
    if d.validation:
        b.append(Block("table", L("样地验证（±10% 要求）", "Plot validation (±10 % criterion)"),
                       headers=[L("生态系统", "ecosystem"), L("碳库", "pool"), L("样地", "plots"),
                                L("±10% 内比例 %", "within ±10 %"), "MRE %", L("偏差 %", "bias %"),
                                "RMSE t C/ha", L("总体偏差 ≤ 10%", "bias ≤ 10 %")],
                       rows=[[r["ecosystem_type"], t("pool_" + r["pool"]), str(r["plots"]),
                              f1(r["within_10pct_share_pct"]), f1(r["mre_pct"]),
                              f1(r["bias_pct"]), f2(r["rmse_t_per_ha"]),
                              t("pass") if r["bias_within_10pct"] else t("fail")]
                             for r in d.validation]))
    else:
        b.append(Block("p", L("本区域没有可用于验证的样地实测碳密度。",
                              "No plot measurements of carbon density are available for "
                              "validation in this region.")))

    # 7 conclusions ------------------------------------------------------------------------
    b.append(Block("h2", t("s_concl")))
    for line in conclusions(d, zh):
        b.append(Block("p", line))
    return b


def conclusions(d: ReportData, zh: bool) -> list[str]:
    """Sentences computed from the run's numbers (stocks, sink, restoration need, NDVI trend,
    accuracy gate, project benefits)."""
    out = []
    if d.stocks:
        epochs = sorted({s["epoch_label"] for s in d.stocks})
        tot = {e: sum(s["carbon_t"] for s in d.stocks if s["epoch_label"] == e) for e in epochs}
        first, last = epochs[0], epochs[-1]
        diff = tot[last] - tot[first]
        sink = sum(float(r["sink_co2e_t_per_yr"]) for r in d.changes) if d.changes else None
        out.append(
            f"碳储量由 {first} 年的 {f0(tot[first])} 吨碳变为 {last} 年的 {f0(tot[last])} 吨碳"
            f"（{'+' if diff >= 0 else ''}{f0(diff)} 吨碳），"
            f"{'年均碳汇' if (sink or 0) >= 0 else '年均碳排放'} {f0(abs(sink or 0))} 吨CO2当量。"
            if zh else
            f"The carbon stock went from {f0(tot[first])} t C ({first}) to {f0(tot[last])} t C "
            f"({last}), {'+' if diff >= 0 else ''}{f0(diff)} t C: a net "
            f"{'sink' if (sink or 0) >= 0 else 'source'} of {f0(abs(sink or 0))} t CO2e per "
            f"year.")
    region_row = next((z for z in d.zones if z["zone_set"] == "region"), None)
    if region_row:
        need = sum(float(region_row[c]) for c in GRADE_AREAS[:3])

        def urgent(z) -> float:  # priority restoration + restoration area
            return float(z["priority_restoration_ha"]) + float(z["restoration_ha"])
        zones = [z for z in d.zones if z["zone_set"] != "region"]
        top = max(zones, key=urgent) if zones else None
        if top is not None and urgent(top) <= 0:
            top = None
        share, priority = f1(region_row["restoration_need_pct"]), \
            f0(region_row["priority_restoration_ha"])
        out.append(
            (f"识别出需修复（优先修复、修复、提升）区域 {f0(need)} 公顷，占评估面积的 "
             f"{share}%，其中优先修复区 {priority} 公顷。"
             + (f"优先修复与修复面积最大的分区为 {top['zone_set']} {top['zone_name']}"
                f"（{f0(urgent(top))} 公顷）。" if top else ""))
            if zh else
            (f"{f0(need)} ha ({share} % of the assessed area) need restoration "
             f"(grades 1–3), of which {priority} ha are priority restoration."
             + (f" The zone with the most priority-restoration and restoration area is "
                f"{top['zone_set']} {top['zone_name']} ({f0(urgent(top))} ha)." if top else "")))
    if d.ndvi:
        improving = sum(float(r["share_pct"]) for r in d.ndvi if r["trend_class"] in (4, 5))
        degrading = sum(float(r["share_pct"]) for r in d.ndvi if r["trend_class"] in (1, 2))
        out.append(f"NDVI 呈改善趋势的面积占 {f1(improving)}%，呈退化趋势的占 {f1(degrading)}%。"
                   if zh else
                   f"NDVI improved on {f1(improving)} % of the vegetated area and declined on "
                   f"{f1(degrading)} %.")
    if d.accuracy:
        a0 = d.accuracy[0]
        ok = a0["passes_gate"]
        oa = f3(a0["overall_accuracy"])
        out.append((f"识别结果总体精度 {oa}，{'满足' if ok else '未达到'} ≥ 85% 的要求。")
                   if zh else
                   f"The identification's overall accuracy is {oa}, which "
                   f"{'meets' if ok else 'does not meet'} the ≥ 85 % requirement.")
    if d.projects:
        total = sum(float(r["sink_enhancement_co2e_t_per_yr"] or 0) for r in d.projects)
        out.append(f"{len(d.projects)} 个登记项目的合计增汇量为 {f1(total)} 吨CO2当量/年"
                   f"（相对基线）。" if zh else
                   f"The {len(d.projects)} registered projects together enhance the sink by "
                   f"{f1(total)} t CO2e per year against their baseline.")
    return out
