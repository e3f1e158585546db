"""The assessment report as a list of blocks (headings, paragraphs, tables, figures), in Chinese
or English, built only from one run's results. Renderers turn it into HTML, Markdown or PDF."""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass

from . import figures
from .data import ReportData

#: the standard the report follows, cited by name on the cover and in the overview
STANDARD_ZH = ("《生态修复区域识别与固碳增汇效益评估一体化技术指南》（团体标准，中国高技术产业发展"
               "促进会归口，计划编号 CHI2025002）")
STANDARD_EN = ("the group standard 《生态修复区域识别与固碳增汇效益评估一体化技术指南》 (Technical "
               "guideline for integrated identification of ecological restoration areas and "
               "assessment of carbon sequestration and sink enhancement; plan no. CHI2025002)")

TEXT = {
    "title": ("生态修复区域识别与固碳增汇效益评估报告", "Ecological restoration areas and carbon "
              "sink enhancement: assessment report"),
    "toc": ("目  录", "Contents"),
    "s_overview": ("1 概述", "1 Overview"),
    "s_data": ("2 数据与来源", "2 Data and provenance"),
    "s_methods": ("3 方法与参数", "3 Methods and parameters"),
    "s_ident": ("4 生态修复区域识别结果", "4 Restoration-area identification"),
    "s_carbon": ("5 碳储量与固碳增汇效益", "5 Carbon stocks and sink enhancement"),
    "s_unc": ("6 不确定性与验证", "6 Uncertainty and validation"),
    "s_concl": ("7 结论", "7 Conclusions"),
    "s_recom": ("8 建议", "8 Recommendations"),
    "s_appendix": ("附录 A 详细数据表", "Appendix A Detailed tables"),
    "north": ("北", "N"),
    "grade": ("修复等级", "Priority grade"),
    "map_grades": ("生态修复优先等级分布图", "Restoration priority grades"),
    "map_change": ("碳密度变化图（{t1}→{t2}，全部碳库）",
                   "Change of carbon density ({t1} → {t2}, all pools)"),
    "t_c_per_ha": ("吨碳/公顷", "t C/ha"),
    "mt_c": ("碳储量（百万吨碳）", "Carbon stock (million t C)"),
    "chart_stocks": ("各时期分碳库碳储量", "Carbon stock by epoch and pool"),
    "chart_grades": ("各修复等级面积（公顷）", "Area by priority grade (ha)"),
    "ha": ("公顷", "ha"),
    "pool_agb": ("地上生物量", "above-ground biomass"),
    "pool_bgb": ("地下生物量", "below-ground biomass"),
    "pool_soc": ("土壤有机碳", "soil organic carbon"),
    "pool_dead_wood": ("枯死木", "dead wood"),
    "pool_litter": ("凋落物", "litter"),
    "pool_total": ("全部碳库", "all pools"),
    "yes": ("是", "yes"),
    "no": ("否", "no"),
    "pass": ("通过", "pass"),
    "fail": ("未通过", "fail"),
}

#: the codes of the marts in the Chinese report (the English report shows them in words too)
CODES = {
    # IPCC climate zones and soil types
    "boreal": ("北方带", "boreal"),
    "cold_temperate_dry": ("冷温带干旱区", "cold temperate, dry"),
    "cold_temperate_moist": ("冷温带湿润区", "cold temperate, moist"),
    "warm_temperate_dry": ("暖温带干旱区", "warm temperate, dry"),
    "warm_temperate_moist": ("暖温带湿润区", "warm temperate, moist"),
    "tropical_dry": ("热带干旱区", "tropical, dry"),
    "tropical_moist": ("热带湿润区", "tropical, moist"),
    "tropical_wet": ("热带多雨区", "tropical, wet"),
    "tropical_montane": ("热带山地", "tropical montane"),
    "HAC": ("高活性黏土矿质土壤（HAC）", "high-activity clay mineral soil (HAC)"),
    "LAC": ("低活性黏土矿质土壤（LAC）", "low-activity clay mineral soil (LAC)"),
    "sandy": ("砂质土壤", "sandy soil"),
    "spodic": ("灰化土", "spodic soil"),
    "volcanic": ("火山灰土", "volcanic soil"),
    "wetland": ("湿地土壤", "wetland soil"),
    # layer kinds
    "landcover": ("土地覆盖", "land cover"),
    "ndvi": ("归一化植被指数（NDVI）", "NDVI"),
    "evi": ("增强型植被指数（EVI）", "EVI"),
    "fvc": ("植被覆盖度", "vegetation cover (FVC)"),
    "gpp": ("总初级生产力（GPP）", "gross primary production (GPP)"),
    "npp": ("净初级生产力（NPP）", "net primary production (NPP)"),
    "dem": ("数字高程模型（DEM）", "elevation (DEM)"),
    "erosivity": ("降雨侵蚀力（R）", "rainfall erosivity (R)"),
    "erodibility": ("土壤可蚀性（K）", "soil erodibility (K)"),
    "precip": ("年降水量", "annual precipitation"),
    "et0": ("参考蒸散发", "reference evapotranspiration"),
    "aet": ("实际蒸散发", "actual evapotranspiration"),
    "pawc": ("植物可利用水含量", "plant-available water content"),
    "soil_depth": ("根系限制层深度", "depth to the root-restricting layer"),
    "access": ("威胁可达性", "accessibility to threats"),
    "wind_factor": ("气候因子（风）", "weather factor (wind)"),
    "soil_sand": ("土壤砂粒含量", "soil sand"),
    "soil_silt": ("土壤粉粒含量", "soil silt"),
    "soil_clay": ("土壤黏粒含量", "soil clay"),
    "soil_om": ("土壤有机质", "soil organic matter"),
    "soil_caco3": ("土壤碳酸钙", "soil calcium carbonate"),
    "snow_cover": ("积雪覆盖", "snow cover"),
    "lithology": ("碳酸盐岩占比", "carbonate-rock share"),
    "threat_*": ("生境威胁图层", "habitat threat layers"),
    "soil_*": ("土壤质地图层", "soil texture layers"),
    # resampling
    "nearest": ("最邻近法", "nearest neighbour"),
    "bilinear": ("双线性插值", "bilinear"),
    "cubic": ("三次卷积", "cubic"),
    "average": ("均值", "average"),
    "mode": ("众数", "mode"),
    # loaders
    "zones": ("分区边界", "zones"),
    "projects": ("修复项目", "restoration projects"),
    "samples": ("参考样点", "reference samples"),
    "plots": ("样地调查", "survey plots"),
    # zone sets
    "region": ("全区", "whole region"),
    "admin": ("行政区", "administrative unit"),
    "watershed": ("流域", "watershed"),
    "subwatershed": ("子流域", "sub-watershed"),
    # identification factors, groups, weighting
    "ndvi_trend": ("NDVI 变化趋势", "NDVI trend"),
    "slope": ("坡度", "slope"),
    "steep_cropland": ("陡坡耕地", "cropland on steep slopes"),
    "soil_retention": ("土壤保持", "soil retention"),
    "water_conservation": ("水源涵养", "water conservation"),
    "water_yield": ("产水量", "water yield"),
    "sand_fixation": ("防风固沙", "sand fixation"),
    "habitat_quality": ("生境质量", "habitat quality"),
    "soil_erosion": ("土壤侵蚀强度", "soil erosion intensity"),
    "erosion_sensitivity": ("水土流失敏感性", "soil-erosion sensitivity"),
    "desertification_sensitivity": ("土地沙化敏感性", "desertification sensitivity"),
    "rocky_desertification_sensitivity": ("石漠化敏感性", "rocky-desertification sensitivity"),
    "cumulative_share": ("累积服务量占比法", "cumulative-share rule"),
    "carbon_density": ("碳密度", "carbon density"),
    "landcover_degradation": ("土地覆盖退化", "land-cover degradation"),
    "degradation": ("退化因子", "degradation"),
    "importance": ("重要性因子", "importance"),
    "ahp": ("层次分析法", "AHP"),
    "entropy": ("熵权法", "entropy"),
    "explicit": ("给定权重", "explicit"),
    "mixed": ("组合权重", "mixed"),
    "equal": ("等权", "equal"),
    # density tiers and why
    "parameter_set": ("参数集", "parameter set"),
    "ipcc_default": ("IPCC Tier 1 默认值", "IPCC Tier 1 default"),
    "pinned": ("运行指定", "pinned for the run"),
    "global": ("全局参数集", "global set"),
    # baselines, quantities, area basis
    "ring": ("项目周边环带对照", "surrounding ring"),
    "stock": ("储量", "stock"),
    "change": ("变化量", "change"),
    "olofsson_adjusted": ("面积校正", "area-adjusted"),
    "mapped": ("制图面积", "mapped areas"),
    "signal": ("随植被信号变化", "following the signal"),
    "calibrated": ("样地标定", "plot-calibrated"),
    "anchored": ("锚定规则", "anchored rule"),
    # units
    "1": ("无量纲", "dimensionless"),
    "class": ("类别代码", "class code"),
    "m": ("米", "m"),
    "t C/ha": ("吨碳/公顷", "t C/ha"),
    "kg C/m2/yr": ("千克碳/(平方米·年)", "kg C/m²/yr"),
    "g C/m2/yr": ("克碳/(平方米·年)", "g C/m²/yr"),
    "percent": ("百分比", "percent"),
    "degree": ("度", "degree"),
}


def code(value, zh: bool) -> str:
    """A code of the marts in the report's language: known codes translated, factor layers
    named, anything else unchanged."""
    if value is None:
        return ""
    v = str(value)
    if v in CODES:
        return CODES[v][0 if zh else 1]
    if v.startswith("factor_"):
        return (f"因子图层 {v[7:]}" if zh else f"factor layer {v[7:]}")
    if v.startswith("threat_"):
        return (f"威胁图层 {v[7:]}" if zh else f"threat layer {v[7:]}")
    if v.startswith("mask_"):
        return (f"约束图层 {v[5:]}" if zh else f"mask layer {v[5:]}")
    if "," in v:
        return ("、" if zh else ", ").join(code(x.strip(), zh) for x in v.split(","))
    if "+" in v:       # the inputs of a service factor, e.g. dem+erosivity+erodibility
        return ("、" if zh else ", ").join(code(x.strip(), zh) for x in v.split("+"))
    return v


#: zones with less of their area inside the region than this (%) get a warning
COVERAGE_WARN_PCT = 50.0


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
    kind: str            # cover, toc, h1, h2, h3, p, note, table, img
    text: str = ""
    headers: list | None = None
    rows: list | None = None
    png: bytes | None = None
    name: str = ""
    note: str = ""       # source, resolution and caveats under a table or figure


def patch_note(min_ha, top_grade: int, graded: float | None, in_patches: float,
               zh: bool) -> str:
    """Why the patches cover less than the graded area (or that they cover all of it)."""
    head = (f"图斑为同一等级的连片区域（四邻接），只统计面积不小于 {min_ha} 公顷（设置 "
            "min_patch_ha）的图斑" if zh else
            f"Patches are edge-connected areas of one grade of at least {min_ha} ha (setting "
            "min_patch_ha)")
    if graded is None:
        return head + ("。" if zh else ".")
    if graded - in_patches >= 0.5:
        return head + (f"；因此图斑总面积（{f0(in_patches)} 公顷）小于等级 1–{top_grade} 的分级"
                       f"面积（{f0(graded)} 公顷），差额 {f0(graded - in_patches)} 公顷为零散小块。"
                       if zh else
                       f"; so the patches ({f0(in_patches)} ha) cover less than the graded area "
                       f"of grades 1–{top_grade} ({f0(graded)} ha), the "
                       f"{f0(graded - in_patches)} ha left being scattered small areas.")
    return head + (f"；图斑总面积（{f0(in_patches)} 公顷）等于等级 1–{top_grade} 的分级面积。"
                   if zh else f"; the patches ({f0(in_patches)} ha) cover all of the graded "
                   f"area of grades 1–{top_grade}.")


def no_zh_names(names) -> str:
    """A sentence for the Chinese report when the legend gives some classes no Chinese name
    (they are shown with the legend's own name)."""
    missing = any(n and not any("\u4e00" <= ch <= "\u9fff" for ch in str(n)) for n in names)
    return "本区域图例未提供部分地类的中文名称，表中保留图例原名。" if missing else ""


def _date(ts, zh: bool) -> str:
    if ts is None:
        return ""
    return f"{ts:%Y}年{ts.month}月{ts.day}日" if zh else f"{ts:%Y-%m-%d}"


def span_rate(d: ReportData) -> dict | None:
    """The whole span of the stock changes: first and last epoch, years, total change (t C)
    and the mean annual sink (t CO2e/yr, positive = removal) = total change / total years ×
    44/12 — the sum of the periods' changes over the sum of their lengths, never the sum of
    the periods' annual rates."""
    if not d.changes:
        return None
    periods = {(r["epoch_t1"], r["epoch_t2"]): float(r["years"] or 0) for r in d.changes}
    years = sum(periods.values())
    change = sum(float(r["change_t"] or 0) for r in d.changes)
    first = min(periods)[0]
    last = max(periods, key=lambda k: k[1])[1]
    return {"first": first, "last": last, "years": years, "change_t": change,
            "sink_co2e_t_per_yr": change / years * 44 / 12 if years else None,
            "periods": len(periods)}


def unquantified_summary(names: list[str], zh: bool) -> str:
    """Factors without uncertainty grouped by parameter set and pool ("set: bgb of 40
    classes")."""
    groups: dict[tuple[str, str], set] = {}
    other = []
    for n in names:
        m = re.match(r"^(.*) class (\S+) (\w+)$", n)
        ratio = re.match(r"^bgb/agb ratio class (\S+)$", n)
        growth = re.match(r"^growth rate class (\S+) (\w+) \((.*)\)$", n)
        if ratio:
            other.append(f"地类 {ratio.group(1)} 的地下/地上生物量比" if zh
                         else f"below/above-ground biomass ratio of class {ratio.group(1)}")
        elif growth:
            pool = pool_name(tr("zh" if zh else "en"), growth.group(2))
            other.append(f"{growth.group(3)} 中地类 {growth.group(1)} 的{pool}生长速率" if zh
                         else f"{growth.group(3)}: {pool} growth rate of class "
                              f"{growth.group(1)}")
        elif m:
            groups.setdefault((m.group(1), m.group(3)), set()).add(m.group(2))
        else:
            other.append(n)
    t = tr("zh" if zh else "en")
    parts = [(f"{s} 中 {len(c)} 个地类的{pool_name(t, p)}密度" if zh
              else f"{s}: {pool_name(t, p)} density of {len(c)} classes")
             for (s, p), c in sorted(groups.items())] + other
    return ("；" if zh else "; ").join(parts)


def build(d: ReportData, lang: str) -> list[Block]:
    zh = lang == "zh"
    t = tr(lang)

    def L(cn: str, en: str) -> str:  # noqa: N802 - short bilingual chooser
        return cn if zh else en

    def c(value) -> str:
        return code(value, zh)

    run, reg = d.run, d.region
    px = f"{reg['pixel_size_m']:g}"
    if (reg["crs_name"] or "").lower().startswith("unknown"):
        reg = {**reg, "crs_name": L(f"自定义投影（SRID {reg['srid']}）",
                                    f"a custom projection (SRID {reg['srid']})")}
    b: list[Block] = [Block("cover", t("title"), name=reg["title"], rows=[
        (L("评估区域：", "Region: "), f"{reg['title']}（{reg['name']}）" if zh
         else f"{reg['title']} ({reg['name']})"),
        (L("依据标准：", "Standard: "), STANDARD_ZH if zh else STANDARD_EN),
        (L("编制单位：", "Prepared by: "), L("＿＿＿＿＿＿＿＿＿＿（盖章）",
                                            "______________________ (seal)")),
        (L("评估运行：", "Assessment run: "),
         L(f"第 {run['run_id']} 号（{_date(run['finished_at'] or run['started_at'], True)}完成，"
           f"ecorest {run['code_version']}）",
           f"no. {run['run_id']} (finished {_date(run['finished_at'] or run['started_at'], False)}"
           f", ecorest {run['code_version']})")),
        (L("编制日期：", "Date: "), _date(datetime.date.today(), zh)),
    ]), Block("toc", t("toc"))]

    sec = [0, 0]

    def h2(key: str) -> None:
        sec[0], sec[1] = sec[0] + 1, 0
        b.append(Block("h2", t(key)))

    def h3(cn: str, en: str) -> None:
        sec[1] += 1
        b.append(Block("h3", f"{sec[0]}.{sec[1]} " + L(cn, en)))

    # 1 overview ---------------------------------------------------------------------------
    h2("s_overview")
    b.append(Block("p", L(
        f"本报告依据{STANDARD_ZH}，对{reg['title']}开展生态修复区域识别与固碳增汇效益评估。"
        f"评估区域边界面积 {f0(reg['boundary_area_ha'])} 公顷；计算网格为 {reg['crs_name']} "
        f"等积投影，像元大小 {px} 米（{reg['width_px']} × {reg['height_px']} 个像元）。"
        f"评估运行编号 {run['run_id']}，于{_date(run['started_at'], True)}完成计算"
        f"（ecorest {run['code_version']}），缺省参数采用 IPCC {run['ipcc_edition']} 年指南。"
        "本报告的全部数字均取自该次运行的结果表。",
        f"This report assesses {reg['title']} following {STANDARD_EN}. Boundary area "
        f"{f0(reg['boundary_area_ha'])} ha; grid {reg['crs_name']} (equal area), {px} m "
        f"pixels, {reg['width_px']} × {reg['height_px']} px. Assessment run {run['run_id']} "
        f"of {_date(run['started_at'], False)} (ecorest {run['code_version']}), default factors "
        f"of the IPCC {run['ipcc_edition']} guidelines. Every figure in this report is read "
        f"from that run's result tables.")))
    if reg.get("ipcc_climate_zone"):
        b.append(Block("p", L(
            f"IPCC 气候区：{c(reg['ipcc_climate_zone'])}；土壤类型："
            f"{c(reg['ipcc_soil_type'])}。二者决定 IPCC Tier 1 缺省碳密度的取值。",
            f"IPCC climate zone: {c(reg['ipcc_climate_zone'])}; soil type: "
            f"{c(reg['ipcc_soil_type'])}. They select the IPCC Tier 1 default densities.")))

    # 2 data -------------------------------------------------------------------------------
    h2("s_data")
    layers: dict[str, list] = {}
    for r in d.inputs:
        layers.setdefault(r["layer"], []).append(r)
    b.append(Block("table", L("栅格输入数据概况", "Raster inputs"),
                   headers=[L("图层", "layer"), L("时期数", "epochs"), L("时期", "from–to"),
                            L("单位", "units"), L("重采样", "resampling"),
                            L("文件（示例）", "file (example)")],
                   rows=[[c(k), str(len(v)),
                          v[0]["epoch_label"] if len(v) == 1
                          else f"{v[0]['epoch_label']}–{v[-1]['epoch_label']}",
                          c(v[0]["units"]) if v[0]["units"] else "",
                          c(v[0]["resampling"]), v[0]["file"]]
                         for k, v in layers.items()],
                   note=L(f"所有栅格已重采样到 {px} 米评估网格；每个文件的 SHA-256 校验值见附录。",
                          f"Every raster is resampled to the {px} m assessment grid; the SHA-256 "
                          "of every file is listed in the appendix.")))
    b.append(Block("table", L("栅格输入文件及 SHA-256 校验值", "Raster input files and SHA-256"),
                   headers=[L("图层", "layer"), L("时期", "epoch"), L("文件", "file"),
                            "SHA-256"],
                   rows=[[c(r["layer"]), r["epoch_label"], r["file"],
                          r["source_sha256"][:16] + "…"] for r in d.inputs], name="appendix"))
    if d.loads:
        b.append(Block("table", L("矢量与表格输入", "Vector and table inputs"),
                       headers=[L("类型", "kind"), L("文件", "file"), "SHA-256",
                                L("记录数", "rows")],
                       rows=[[c(r["loader"]), r["file"], r["source_sha256"][:16] + "…",
                              f0(r["rows_loaded"])] for r in d.loads]))

    # 3 methods: only what ran -------------------------------------------------------------
    h2("s_methods")
    factor_names = [r["factor"] for r in d.factors]
    if d.stocks:
        b.append(Block("p", L(
            "碳储量 = 各地类面积 × 碳密度（分碳库）。储量变化采用 IPCC 储量差法（2006 年指南"
            "第 4 卷式 2.5），CO₂ 当量 = −ΔC × 44/12（清除为负）；为便于阅读，另列正值的“碳汇”。"
            "发生地类转换的土地，生物量按生长速率逐步趋近新地类的碳密度，土壤有机碳与死有机质按 "
            "20 年线性过渡。",
            "Carbon stock = class area × carbon density, per pool. Stock changes by the IPCC "
            "stock-difference method (2006 guidelines Vol. 4 Eq. 2.5); CO₂e = −ΔC × 44/12 "
            "(removals negative), with a positive 'sink' column for readers. Converted land "
            "grows towards the new class's density at its growth rate; soil organic carbon and "
            "dead organic matter move linearly over 20 years.")))
    if d.tiers:
        tiers = sorted({r["tier"] for r in d.tiers})
        b.append(Block("p", L(
            f"碳密度按层级取值：样地实测（Tier 2，每类至少 {d.settings.get('min_plots', '—')} "
            "个样地）优先，其次为区域参数集，最后为 IPCC Tier 1 默认值。本次运行实际使用："
            + "、".join(c(x) for x in tiers) + "。各地类取值与来源见表“各地类碳密度”。",
            f"Densities by tier: survey plots (Tier 2, at least "
            f"{d.settings.get('min_plots', '—')} plots per class) first, then the region's "
            "parameter set, then the IPCC Tier 1 defaults. This run used: "
            + ", ".join(c(x) for x in tiers) + ". The value and source of every class are in "
            "the table of densities by class.")))
    if d.factors:
        deg = [c(f) for f in factor_names if next(r for r in d.factors if r["factor"] == f)
               ["factor_group"] == "degradation"]
        imp = [c(f) for f in factor_names if next(r for r in d.factors if r["factor"] == f)
               ["factor_group"] == "importance"]
        methods = sorted({c(r["weight_method"]) for r in d.factors})
        parts = []
        if "ndvi_trend" in factor_names:
            parts.append(L("NDVI 趋势采用 Theil–Sen 斜率与 Mann–Kendall 检验逐像元计算",
                           "the NDVI trend is the per-pixel Theil–Sen slope with a "
                           "Mann–Kendall test"))
        if "landcover_degradation" in factor_names:
            parts.append(L("土地覆盖退化由相邻时期的地类转移及其严重程度赋值",
                           "land-cover degradation scores the class transitions between "
                           "epochs by severity"))
        if "slope" in factor_names or "steep_cropland" in factor_names:
            parts.append(L("坡度由数字高程模型计算", "slope is computed from the DEM"))
        b.append(Block("p", L(
            "修复区域识别：退化因子（" + ("、".join(deg) or "无") + "）与重要性因子（"
            + ("、".join(imp) or "无") + "）经归一化后按" + "、".join(methods)
            + "加权叠加，再按“重要性 × 退化程度”矩阵划分五个优先等级。"
            + ("；".join(parts) + "。" if parts else ""),
            "Identification: the degradation factors (" + (", ".join(deg) or "none")
            + ") and importance factors (" + (", ".join(imp) or "none") + ") are normalised, "
            "weighted (" + ", ".join(methods) + ") and combined; an importance × degradation "
            "matrix gives five priority grades."
            + (" " + "; ".join(parts).capitalize() + "." if parts else ""))))
        b.append(Block("table", L("识别因子、归一化与权重", "Identification factors and weights"),
                       headers=[L("因子", "factor"), L("类别", "group"), L("方向", "direction"),
                                L("数据", "layer"), L("权重", "weight"),
                                L("赋权方法", "method"), L("AHP 一致性比率", "AHP CR"),
                                L("归一化区间", "normalised between")],
                       rows=[[c(r["factor"]), c(r["factor_group"]),
                              L("正向", "+") if r["direction"] > 0 else L("负向", "−"),
                              c(r["source_layer"]), f3(r["weight"]), c(r["weight_method"]),
                              f3(r["ahp_cr"]), f"{r['normalise_low']} … {r['normalise_high']}"]
                             for r in d.factors],
                       note=L("方向“正向”表示数值越大得分越高；AHP 一致性比率 < 0.1 为可接受。",
                              "Direction + means a higher value scores higher; an AHP "
                              "consistency ratio below 0.1 is acceptable.")))
    if d.densities:
        pools = sorted({r["pool"] for r in d.densities})
        by_class: dict = {}
        for r in d.densities:
            by_class.setdefault(r["class_code"], {})[r["pool"]] = r
        rows = []
        for cc, pr in by_class.items():
            any_r = next(iter(pr.values()))
            tiers_ = sorted({c(x["tier"]) for x in pr.values()})
            src = sorted({(x["parameter_set_name"] and f"{x['parameter_set_name']} "
                           f"v{x['parameter_set_version']}") or
                          (re.match(r"^\[[^\]]+\]", x["source"] or "") or [x["source"] or ""])[0]
                          for x in pr.values()})
            rows.append([str(cc), any_r["name_zh"] if zh else any_r["name_en"],
                         *(f2(pr[p]["value"]) if p in pr else "" for p in pools),
                         "、".join(tiers_) if zh else ", ".join(tiers_),
                         ("、" if zh else ", ").join(s for s in src if s)])
        b.append(Block("table", L("各地类碳密度（吨碳/公顷）及层级与来源",
                                  "Carbon density by class (t C/ha), tier and source"),
                       headers=[L("代码", "code"), L("地类", "class"),
                                *(pool_name(t, p) for p in pools), L("层级", "tier"),
                                L("来源", "source")], rows=rows,
                       note=L("来源为参数集名称与版本，或 IPCC 缺省值的条目编号（完整出处见结果表 "
                              "marts.parameter_lineage）。" + no_zh_names(
                                  r["name_zh"] for r in d.densities),
                              "Source: the parameter set and version, or the entry of the IPCC "
                              "defaults (full citation in marts.parameter_lineage).")))

    # 4 identification ---------------------------------------------------------------------
    h2("s_ident")
    names = {1: L("优先修复区", "priority restoration"), 2: L("修复区", "restoration"),
             3: L("提升区", "improvement"), 4: L("保护区", "protection"),
             5: L("一般区", "general")}
    layers_used = sorted({c(r["source_layer"]) for r in d.factors})
    caveat = (L("本区域未载入参考样点，分级精度未经检验。", "No reference samples are loaded, so "
                "the grading's accuracy is not assessed.") if not d.accuracy else "")
    h3("优先等级分布", "Priority grades")
    if d.grade_grid is not None:
        b.append(Block("img", t("map_grades"), name="grade_map",
                       png=figures.grade_map(d.grade_grid, d.outlines, t, names,
                                             crs=d.region.get("srtext") or None),
                       note=L(f"数据来源：本次运行的识别因子（{'、'.join(layers_used)}）；"
                              f"分辨率 {px} 米；坐标系 {reg['crs_name']}；"
                              "指北针指向图幅中心的真北，比例尺为地面距离。" + caveat,
                              f"Source: this run's identification factors "
                              f"({', '.join(layers_used)}); resolution {px} m; grid "
                              f"{reg['crs_name']}; the arrow points to true north at the map's "
                              "centre and the scale bar gives ground distance. " + caveat)))
    region_row = next((z for z in d.zones if z["zone_set"] == "region"), None)
    if region_row:
        areas = [float(region_row[col]) for col in GRADE_AREAS]
        b.append(Block("img", t("chart_grades"), name="grade_areas", png=figures.bar_chart(
            [f"{g} {names[g]}" for g in range(1, 6)], areas, t("chart_grades"), t("ha"),
            figures.GRADE_COLOURS),
            note=L(f"数据来源：分区统计结果（全区）；按 {px} 米像元面积累加。",
                   f"Source: the zone statistics (whole region), summed over {px} m pixels.")))
    zones = [z for z in d.zones if z["zone_set"] != "region"] or d.zones

    def covered(z) -> float:
        v = z.get("coverage_pct")
        return 100.0 if v is None else float(v)

    partial = [z for z in zones if covered(z) < COVERAGE_WARN_PCT]
    warn = ""
    if partial:
        listed = "、".join(f"{z['zone_name'] or z['zone_code']}（{f1(covered(z))} %）"
                          for z in partial) if zh else ", ".join(
            f"{z['zone_name'] or z['zone_code']} ({f1(covered(z))} %)" for z in partial)
        warn = L(f"注意：{listed} 只有小部分位于评估区域内（低于 {COVERAGE_WARN_PCT:g} %），"
                 "其需修复比例只代表区域内的部分，不代表整个分区。",
                 f"Caution: only a small part of {listed} lies inside the region (below "
                 f"{COVERAGE_WARN_PCT:g} %); its need % describes that part only, not the "
                 "whole zone.")
    b.append(Block("table", L("按分区统计的修复等级面积（公顷）", "Priority grades by zone (ha)"),
                   headers=[L("分区", "zone"), L("区内占比 %", "inside %"),
                            L("评估面积", "assessed"),
                            *(f"{g} {names[g]}" for g in range(1, 6)),
                            L("需修复比例 %", "need %"), L("综合得分", "score"),
                            L("主要因子", "top factors")],
                   rows=[[(c("region") if z["zone_set"] == "region" else
                           f"{c(z['zone_set'])} {z['zone_name'] or z['zone_code']}")
                          + (" *" if covered(z) < COVERAGE_WARN_PCT else ""),
                          f1(covered(z)),
                          f0(z["assessed_ha"]), *(f0(z[col]) for col in GRADE_AREAS),
                          f1(z["restoration_need_pct"]), f3(z["mean_composite"]),
                          c(z["top_factors"] or "")] for z in zones],
                   note=L("需修复比例 = 等级 1–3（优先修复、修复、提升）面积 / 评估面积。"
                          "区内占比 = 分区面积中位于评估区域边界内的比例。",
                          "Need % = area of grades 1–3 (priority restoration, restoration, "
                          "improvement) / assessed area. Inside % = the share of the zone's "
                          "area inside the region's boundary.") + (" " + warn if warn else "")))
    if d.patch_totals:
        h3("修复图斑", "Restoration patches")
        min_ha = d.settings.get("min_patch_ha", "—")
        top_grade = int(d.settings.get("patch_max_grade", 3) or 3)
        graded = (sum(float(region_row[col]) for col in GRADE_AREAS[:top_grade])
                  if region_row else None)
        in_patches = sum(float(r["area_ha"]) for r in d.patch_totals)
        b.append(Block("table", L("修复图斑", "Restoration patches"),
                       headers=[L("等级", "grade"), L("名称", "name"), L("图斑数", "patches"),
                                L("面积（公顷）", "area ha")],
                       rows=[[str(r["grade"]), r["grade_name_zh"] if zh else r["grade_name_en"],
                              str(r["patches"]), f1(r["area_ha"])] for r in d.patch_totals],
                       note=patch_note(min_ha, top_grade, graded, in_patches, zh)))
        admin = any(r["admin_codes"] for r in d.patches)  # no column without admin units
        b.append(Block("table", L("面积最大的图斑", "Largest patches"),
                       headers=[L("编号", "no"), L("等级", "grade"), L("面积（公顷）", "ha"),
                                L("综合得分", "score"), L("主导因子", "dominant factors"),
                                *([L("行政区代码", "admin codes")] if admin else [])],
                       rows=[[str(r["patch_no"]), str(r["grade"]), f1(r["area_ha"]),
                              f3(r["mean_composite"]), c(r["dominant_factors"] or ""),
                              *([r["admin_codes"] or "—"] if admin else [])]
                             for r in d.patches],
                       note="" if admin else L("本区域未载入行政区划，图斑不标注行政区代码。",
                                               "No administrative units are loaded, so the "
                                               "patches carry no admin codes.")))
    if d.ndvi:
        h3("NDVI 变化趋势", "NDVI trend")
        b.append(Block("table", L("NDVI 变化趋势（全区）", "NDVI trend classes (whole region)"),
                       headers=[L("类别", "class"), L("名称", "name"), L("面积（公顷）", "ha"),
                                L("比例 %", "share %")],
                       rows=[[str(r["trend_class"]),
                              r["trend_name_zh"] if zh else r["trend_name_en"], f0(r["area_ha"]),
                              f1(r["share_pct"])] for r in d.ndvi],
                       note=L("Theil–Sen 斜率与 Mann–Kendall 检验逐像元计算；时期数见表“栅格输入"
                              "数据概况”。",
                              "Per-pixel Theil–Sen slope and Mann–Kendall test; the epochs are "
                              "listed in the table of raster inputs.")))
    h3("精度评价", "Accuracy")
    if d.accuracy:
        a0 = d.accuracy[0]
        gate = t("pass") if a0["passes_gate"] else t("fail")
        oa, ci, kappa = f3(a0["overall_accuracy"]), f3(a0["overall_accuracy_ci"]), f3(a0["kappa"])
        b.append(Block("p", L(
            f"精度评价：{a0['total_samples']} 个参考样点；面积加权总体精度 {oa} ± {ci}，"
            f"Kappa 系数 {kappa}；总体精度 ≥ {a0['gate_overall_accuracy']:.0%} 的要求：{gate}。",
            f"Accuracy: {a0['total_samples']} reference samples; area-weighted overall accuracy "
            f"{oa} ± {ci}, kappa {kappa}; overall accuracy ≥ "
            f"{a0['gate_overall_accuracy']:.0%}: {gate}.")))
        b.append(Block("table", L("分等级精度与面积校正（Olofsson 等，2014）",
                                  "Accuracy and area-adjusted estimates (Olofsson et al. 2014)"),
                       headers=[L("等级", "grade"), L("样点", "samples"), L("用户精度", "UA"),
                                L("制图精度", "PA"), L("制图面积", "mapped ha"),
                                L("校正面积", "adjusted ha"), L("95% 区间 ±", "± 95 %")],
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
    h2("s_carbon")
    if not d.stocks:
        b.append(Block("p", L("本区域未载入土地覆盖数据，未计算碳储量及其变化。",
                              "No land-cover layer is loaded for this region, so no carbon "
                              "stocks or changes were computed.")))
    if d.stocks:
        h3("碳储量与地类面积", "Stocks and class areas")
        epochs = sorted({s["epoch_label"] for s in d.stocks})
        pools = sorted({s["pool"] for s in d.stocks})
        val = {(s["epoch_label"], s["pool"]): s["carbon_t"] for s in d.stocks}
        tiers_text = "、".join(sorted({c(r["tier"]) for r in d.tiers})) if zh else \
            ", ".join(sorted({c(r["tier"]) for r in d.tiers}))
        b.append(Block("img", t("chart_stocks"), name="stocks",
                       png=figures.stock_chart(d.stocks, t),
                       note=L(f"数据来源：土地覆盖 {len(epochs)} 期 × 各地类碳密度"
                              f"（{tiers_text}）；"
                              f"分辨率 {px} 米。",
                              f"Source: {len(epochs)} land-cover epochs × the class densities "
                              f"({tiers_text}); resolution {px} m.")))
        for epoch, grid in d.landcover_grids.items():
            names = {k: (v[1] if zh else v[0], v[2]) for k, v in d.landcover_classes.items()}
            title = L(f"土地覆盖图（{epoch}）", f"Land cover {epoch}")
            b.append(Block("img", title, name=f"landcover_{epoch}",
                           png=figures.landcover_map(grid, d.outlines, t, names, title,
                                                     crs=d.region.get("srtext") or None),
                           note=L(f"数据来源：本次运行的土地覆盖输入（{epoch}）；分辨率 {px} 米；"
                                  "颜色取自图例。",
                                  f"Source: the run's land-cover input ({epoch}); resolution "
                                  f"{px} m; colours from the legend.")))
        b.append(Block("table", L("各时期碳储量（吨碳）", "Carbon stock by epoch (t C)"),
                       headers=[L("时期", "epoch"), *(pool_name(t, p) for p in pools),
                                L("合计", "total")],
                       rows=[[e, *(f0(val.get((e, p))) for p in pools),
                              f0(sum(val.get((e, p), 0) for p in pools))] for e in epochs]))
    if d.class_areas:
        epochs = sorted({r["epoch_label"] for r in d.class_areas})
        classes: dict = {}
        for r in d.class_areas:
            classes.setdefault(r["class_code"], (r["name_zh"] if zh else r["name_en"], {}))[1][
                r["epoch_label"]] = r["area_ha"]
        caption = L("各时期地类面积（公顷）", "Class area by epoch (ha)")
        if len(epochs) <= 6 or len(classes) > 8:
            b.append(Block("table", caption,
                           headers=[L("代码", "code"), L("地类", "class"), *epochs],
                           rows=[[str(cc), nm, *(f0(a.get(e)) or "—" for e in epochs)]
                                 for cc, (nm, a) in classes.items()]))
        else:
            b.append(Block("table", caption,
                           headers=[L("时期", "epoch"), *(nm for nm, _ in classes.values())],
                           rows=[[e, *(f0(a.get(e)) or "—" for _, a in classes.values())]
                                 for e in epochs]))
    span = span_rate(d)
    if d.changes:
        h3("碳储量变化", "Stock change")
        per: dict = {}
        for r in d.changes:
            k = (r["epoch_t1"], r["epoch_t2"])
            p = per.setdefault(k, {"years": float(r["years"] or 0), "change": 0.0, "sink": 0.0})
            p["change"] += float(r["change_t"] or 0)
            p["sink"] += float(r["sink_co2e_t_per_yr"] or 0)
        rows = [[f"{a}–{z}", f"{v['years']:g}", f0(v["change"]), f1(v["change"] / v["years"])
                 if v["years"] else "", f1(v["sink"])] for (a, z), v in per.items()]
        if span and span["periods"] > 1:
            rows.append([L(f"全时段 {span['first']}–{span['last']}",
                           f"whole span {span['first']}–{span['last']}"),
                         f"{span['years']:g}", f0(span["change_t"]),
                         f1(span["change_t"] / span["years"]) if span["years"] else "",
                         f1(span["sink_co2e_t_per_yr"])])
        b.append(Block("table", L("碳储量变化（储量差法，全部碳库）",
                                  "Stock change (stock difference, all pools)"),
                       headers=[L("时段", "period"), L("年数", "years"),
                                L("变化（吨碳）", "change t C"),
                                L("年均变化（吨碳/年）", "t C per year"),
                                L("碳汇（吨 CO₂ 当量/年）", "sink t CO₂e/yr")], rows=rows,
                       note=L("碳汇为正表示净吸收、为负表示净排放。"
                              "全时段的年均值 = 各时段变化之和 / "
                              "总年数（不是各时段年均值之和）。",
                              "A positive sink is a net removal, a negative one a net emission. "
                              "The whole span's annual figure = the sum of the periods' changes / "
                              "the total years (not the sum of the periods' annual rates).")))
        b.append(Block("table", L("分碳库碳储量变化", "Stock change by pool"),
                       headers=[L("时段", "period"), L("碳库", "pool"),
                                L("变化（吨碳）", "change t C"),
                                L("碳汇（吨 CO₂ 当量/年）", "sink t CO₂e/yr")],
                       rows=[[f"{r['epoch_t1']}–{r['epoch_t2']}", pool_name(t, r["pool"]),
                              f0(r["change_t"]), f1(r["sink_co2e_t_per_yr"])]
                             for r in d.changes]))
    if d.change_grid is not None and d.changes:
        b.append(Block("img", t("map_change", t1=d.changes[0]["epoch_t1"],
                                t2=d.changes[-1]["epoch_t2"]), name="change_map",
                       png=figures.change_map(
                           d.change_grid, d.outlines, t,
                           t("map_change", t1=d.changes[0]["epoch_t1"],
                             t2=d.changes[-1]["epoch_t2"]), crs=d.region.get("srtext") or None),
                       note=L(f"数据来源：首末两期土地覆盖与各地类碳密度；分辨率 {px} 米。"
                              "碳密度按地类"
                              "取值，地类内部的差异未体现；色标截至变化绝对值的第 99 百分位。",
                              f"Source: the first and last land-cover epochs and the class "
                              f"densities; resolution {px} m. Densities are per class, so "
                              "differences within a class are not shown; the colour scale ends "
                              "at the 99th percentile of the absolute change.")))
    if d.transitions:
        b.append(Block("table", L("面积最大的土地覆盖转移（公顷）",
                                  "Largest land-cover transitions (ha)"),
                       note=L(no_zh_names(r["name_zh_t1"] for r in d.transitions), ""),
                       headers=[L("时段", "period"), L("由", "from"), L("至", "to"),
                                L("面积", "ha")],
                       rows=[[f"{r['epoch_t1']}–{r['epoch_t2']}",
                              r["name_zh_t1"] if zh else r["name_en_t1"],
                              r["name_zh_t2"] if zh else r["name_en_t2"], f0(r["area_ha"])]
                             for r in d.transitions]))
    if d.span_transitions:
        first, last = d.span_transitions[0]["epoch_t1"], d.span_transitions[0]["epoch_t2"]
        frm = {r["class_t1"]: r["name_zh_t1"] if zh else r["name_en_t1"]
               for r in d.span_transitions}
        to = {r["class_t2"]: r["name_zh_t2"] if zh else r["name_en_t2"]
              for r in d.span_transitions}
        cell = {(r["class_t1"], r["class_t2"]): float(r["area_ha"]) for r in d.span_transitions}
        b.append(Block("table", L(f"土地覆盖转移矩阵 {first}–{last}（公顷，首期至末期）",
                                  f"Land-cover transition matrix {first}–{last} "
                                  "(ha, first to last epoch)"),
                       headers=[L(f"{first} \\ {last}", f"{first} \\ {last}"),
                                *to.values(), L("合计", "total")],
                       rows=[[frm[a], *(f0(cell.get((a, z))) or "—" for z in to),
                              f0(sum(v for (x, _), v in cell.items() if x == a))]
                             for a in frm]
                       + [[L("合计", "total"),
                           *(f0(sum(v for (_, y), v in cell.items() if y == z)) for z in to),
                           f0(sum(cell.values()))]],
                       note=L("行为首期地类、列为末期地类；只计两期均有效的像元"
                              "（marts.landcover_transitions_span）。",
                              "Rows: class at the first epoch; columns: class at the last; "
                              "pixels valid at both epochs only "
                              "(marts.landcover_transitions_span).")))
    if d.projects:
        h3("修复项目增汇效益", "Project benefits")
        b.append(Block("table", L("修复项目固碳增汇效益（全部碳库，相对周边对照基线）",
                                  "Restoration projects: sink enhancement (all pools)"),
                       headers=[L("项目", "project"), L("名称", "name"), L("面积（公顷）", "ha"),
                                L("项目内变化（吨碳）", "change t C"),
                                L("基线变化（吨碳）", "baseline t C"),
                                L("增汇量（吨碳）", "benefit t C"),
                                L("增汇（吨 CO₂ 当量/年）", "t CO₂e/yr"), L("基线", "baseline")],
                       rows=[[r["project_id"], (r["project_name"] or "")
                              + (L("（示例项目）", " (example)") if r["is_example"] else ""),
                              f1(r["area_ha"]), f0(r["change_t"]), f0(r["baseline_change_t"]),
                              f0(r["benefit_t"]), f1(r["sink_enhancement_co2e_t_per_yr"]),
                              c(r["baseline_method"])] for r in d.projects],
                       note=L("示例项目为演示数据按规则放置，并非真实登记的修复项目。"
                              if any(r["is_example"] for r in d.projects) else "",
                              "Example projects are placed by a rule for the demonstration; "
                              "they are not real registered projects."
                              if any(r["is_example"] for r in d.projects) else "")))

    # 6 uncertainty and validation ---------------------------------------------------------
    h2("s_unc")
    if d.uncertainty:
        has = [r for r in d.uncertainty if r["u_approach1_pct"] is not None
               and r["mc_p2_5_t"] is not None
               and not (float(r["u_approach1_pct"]) == 0 and r["mc_p2_5_t"] == r["mc_p97_5_t"])]
        none_ = [r for r in d.uncertainty if r not in has]
        stock_epochs = sorted({r["epoch_t1"] for r in has if r["quantity"] == "stock"})
        ends = {stock_epochs[0], stock_epochs[-1]} if stock_epochs else set()
        main = [r for r in has if r["quantity"] == "stock" and r["epoch_t1"] in ends]
        for rows_, appendix in ((main, False), (has, True)):
            if not rows_ or (appendix and len(rows_) == len(main)):
                continue
            b.append(Block("table", L(
                "不确定性（首末两期储量）" if not appendix and len(main) < len(has) else
                "不确定性（IPCC 方法1 误差传递与蒙特卡洛 95% 区间）",
                "Uncertainty (stocks of the first and last epochs)"
                if not appendix and len(main) < len(has) else
                "Uncertainty (IPCC Approach 1 and Monte Carlo 95 % range)"),
                           headers=[L("量", "quantity"), L("时期", "epoch"), L("碳库", "pool"),
                                    L("估计值（吨碳）", "estimate t C"),
                                    L("面积基础", "areas"), L("方法1 ±%", "Approach 1 ±%"),
                                    L("蒙特卡洛下限（吨碳）", "MC 2.5th pct t C"),
                                    L("蒙特卡洛上限（吨碳）", "MC 97.5th pct t C")],
                           rows=[[c(r["quantity"]), r["epoch_t1"] if r["quantity"] == "stock"
                                  else f"{r['epoch_t1']}–{r['epoch_t2']}",
                                  pool_name(t, r["pool"]), f0(r["total_t"]),
                                  c(r["area_basis"]), f1(r["u_approach1_pct"]),
                                  f0(r["mc_p2_5_t"]), f0(r["mc_p97_5_t"])] for r in rows_],
                           note=L("方法1 ±% 为 95% 置信区间半宽占估计值的百分比；"
                                  "下限、上限为蒙特卡洛模拟总量的第 2.5 与第 97.5 百分位（吨碳）。"
                                  + ("全部储量与变化量见附录。" if not appendix
                                     and len(main) < len(has) else ""),
                                  "Approach 1 ±% is the 95 % half-width as a share of the "
                                  "estimate; the bounds are the 2.5th and 97.5th percentiles of "
                                  "the Monte Carlo totals (t C)."
                                  + (" Every stock and change is in the appendix."
                                     if not appendix and len(main) < len(has) else "")),
                           name="appendix" if appendix else ""))
        missing = sorted({f for r in d.uncertainty for f in (r["unquantified"] or [])})
        text_zh = ("不确定性按共享因子传递：同一因子（如各地类共用的土壤参考碳储量、前后两期共用的"
                   "密度）在每次抽样中只抽取一次。")
        text_en = ("Uncertainty is propagated over shared factors: a factor used by several "
                   "classes or both epochs (the reference soil carbon behind every class, a "
                   "density at t1 and t2) is drawn once per iteration.")
        if none_:
            text_zh += (f"共 {len(none_)} 项储量或变化量的输入参数未给出不确定性，"
                        "因此不报告其区间（既不按 0 计，也不臆造）")
            text_en += (f" {len(none_)} stock or change totals rest on parameters without a "
                        "stated uncertainty, so no interval is reported for them (neither "
                        "counted as 0 nor invented)")
            if missing:
                text_zh += "；缺少不确定性的参数：" + unquantified_summary(missing, True)
                text_en += "; the parameters without uncertainty: " + \
                    unquantified_summary(missing, False)
            text_zh += "。"
            text_en += "."
        b.append(Block("p", L(text_zh, text_en)))
    if d.landcover_accuracy:
        a0 = d.landcover_accuracy[0]
        oa, kappa = f3(a0["overall_accuracy"]), f3(a0["kappa"])
        gate = t("pass") if a0["passes_gate"] else t("fail")
        b.append(Block("p", L(
            f"土地覆盖分类精度（{a0['epoch_label']} 年，参考样点）：总体精度 {oa}，"
            f"Kappa 系数 {kappa}，总体精度 ≥ 85%：{gate}。"
            "有参考样点的时期，碳储量按面积校正后的各类面积估计（Olofsson 等，2014），"
            "其不确定性计入校正面积的置信区间。",
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
                                L("95% 区间 ±", "± 95 %")],
                       rows=[[r["epoch_label"], str(r["class_code"]), str(r["map_samples"]),
                              f3(r["users_accuracy"]), f3(r["producers_accuracy"]),
                              f0(r["mapped_area_ha"]), f0(r["estimated_area_ha"]),
                              f0(r["estimated_area_ci_ha"])] for r in d.landcover_accuracy]))
    if d.validation:
        b.append(Block("table", L("样地验证（±10% 要求）", "Plot validation (±10 % criterion)"),
                       headers=[L("生态系统", "ecosystem"), L("碳库", "pool"), L("样地", "plots"),
                                L("±10% 内比例 %", "within ±10 %"),
                                L("平均相对误差 %", "MRE %"), L("偏差 %", "bias %"),
                                L("均方根误差（吨碳/公顷）", "RMSE t C/ha"),
                                L("总体偏差 ≤ 10%", "bias ≤ 10 %")],
                       rows=[[r["ecosystem_type"], pool_name(t, r["pool"]), str(r["plots"]),
                              f1(r["within_10pct_share_pct"]), f1(r["mre_pct"]),
                              f1(r["bias_pct"]), f2(r["rmse_t_per_ha"]),
                              t("pass") if r["bias_within_10pct"] else t("fail")]
                             for r in d.validation]))
    else:
        b.append(Block("p", L("本区域没有可用于验证的样地实测碳密度。",
                              "No plot measurements of carbon density are available for "
                              "validation in this region.")))

    # 7 conclusions, 8 recommendations -----------------------------------------------------
    h2("s_concl")
    for line in conclusions(d, zh):
        b.append(Block("p", line))
    h2("s_recom")
    for line in recommendations(d, zh):
        b.append(Block("p", line))
    return b


def conclusions(d: ReportData, zh: bool) -> list[str]:
    """Sentences computed from the run's numbers (stocks, the whole-span sink, restoration
    need, NDVI trend, accuracy gate, project benefits)."""
    out = []
    span = span_rate(d)
    if d.stocks:
        epochs = sorted({s["epoch_label"] for s in d.stocks})
        tot = {e: sum(s["carbon_t"] for s in d.stocks if s["epoch_label"] == e) for e in epochs}
        first, last = epochs[0], epochs[-1]
        diff = tot[last] - tot[first]
        sink = span["sink_co2e_t_per_yr"] if span else None
        sign = "+" if diff >= 0 else ""
        if zh:
            text = (f"碳储量由 {first} 年的 {f0(tot[first])} 吨碳变为 {last} 年的 "
                    f"{f0(tot[last])} 吨碳（{sign}{f0(diff)} 吨碳）。")
            if sink is not None:
                text += (f"按全时段（{span['first']}–{span['last']}，{span['years']:g} 年）"
                         f"计，{'年均碳汇' if sink >= 0 else '年均碳排放'} {f0(abs(sink))} "
                         "吨 CO₂ 当量。")
        else:
            text = (f"The carbon stock went from {f0(tot[first])} t C ({first}) to "
                    f"{f0(tot[last])} t C ({last}), {sign}{f0(diff)} t C.")
            if sink is not None:
                text += (f" Over the whole span ({span['first']}–{span['last']}, "
                         f"{span['years']:g} years) that is a net "
                         f"{'sink' if sink >= 0 else 'source'} of {f0(abs(sink))} t CO₂e per "
                         "year.")
        out.append(text)
    region_row = next((z for z in d.zones if z["zone_set"] == "region"), None)
    if region_row:
        need = sum(float(region_row[col]) for col in GRADE_AREAS[:3])

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
             + (f"优先修复与修复面积最大的分区为{code(top['zone_set'], True)} "
                f"{top['zone_name']}（{f0(urgent(top))} 公顷）。" if top else ""))
            if zh else
            (f"{f0(need)} ha ({share} % of the assessed area) need restoration "
             f"(grades 1–3), of which {priority} ha are priority restoration."
             + (f" The zone with the most priority-restoration and restoration area is "
                f"{code(top['zone_set'], False)} {top['zone_name']} ({f0(urgent(top))} ha)."
                if top else "")))
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
        examples = all(r["is_example"] for r in d.projects)
        what_zh = "示例项目（演示用，非真实登记项目）" if examples else "修复项目"
        what_en = "example projects (illustrations, not registered projects)" if examples \
            else "restoration projects"
        out.append(f"{len(d.projects)} 个{what_zh}相对周边对照基线的合计增汇量为 {f1(total)} "
                   "吨 CO₂ 当量/年。" if zh else
                   f"The {len(d.projects)} {what_en} together enhance the sink by "
                   f"{f1(total)} t CO₂e per year against their surrounding baseline.")
    return out


def recommendations(d: ReportData, zh: bool) -> list[str]:
    """Rule-based recommendations; each sentence names the rule (the numbers it is drawn from
    and the threshold) that produced it."""
    out = []
    region_row = next((z for z in d.zones if z["zone_set"] == "region"), None)
    n = 0

    def add(cn: str, en: str) -> None:
        nonlocal n
        n += 1
        out.append(f"（{n}）{cn}" if zh else f"({n}) {en}")

    if region_row:
        p1 = float(region_row["priority_restoration_ha"])
        need = float(region_row["restoration_need_pct"] or 0)
        if p1 > 0:
            add(f"优先在优先修复区（{f0(p1)} 公顷）安排修复工程，并以修复图斑为单元落实项目。"
                "（规则：等级 1 面积 > 0。）",
                f"Schedule restoration first in the priority-restoration area ({f0(p1)} ha), "
                "with the restoration patches as project units. (Rule: grade-1 area > 0.)")
        if need >= 10:
            add(f"需修复比例为 {f1(need)}%，建议将等级 1–3 区域纳入国土空间生态修复规划，分期"
                "实施。（规则：需修复比例 ≥ 10%。）",
                f"{f1(need)} % of the area needs restoration: include grades 1–3 in the "
                "territorial restoration plan, in phases. (Rule: need ≥ 10 %.)")
        else:
            add(f"需修复比例为 {f1(need)}%，总体以保护和自然恢复为主，修复措施集中于识别出的"
                "等级 1–3 区域。（规则：需修复比例 < 10%。）",
                f"Only {f1(need)} % of the area needs restoration: protection and natural "
                "recovery first, restoration measures on grades 1–3 only. (Rule: need "
                "< 10 %.)")
    span = span_rate(d)
    if span and span["sink_co2e_t_per_yr"] is not None:
        # the transition (of the largest ones) that lost the most carbon: area × (density at
        # t1 − density at t2), the densities summed over pools (marts.parameter_lineage)
        dens: dict = {}
        for r in d.densities:
            dens[r["class_code"]] = dens.get(r["class_code"], 0.0) + float(r["value"] or 0)
        losses = [(float(r["area_ha"]) * (dens[r["class_t1"]] - dens[r["class_t2"]]), r)
                  for r in d.transitions if r["class_t1"] in dens and r["class_t2"] in dens]
        losses = [x for x in losses if x[0] > 0]
        top = max(losses, key=lambda x: x[0])[1] if losses else None
        if span["sink_co2e_t_per_yr"] < 0:
            add("评估期内碳储量净减少（年均净排放 "
                f"{f0(-span['sink_co2e_t_per_yr'])} 吨 CO₂ 当量），建议查明并控制导致碳损失的"
                "地类转换"
                + (f"（碳损失最大的转移：{top['name_zh_t1']}→{top['name_zh_t2']}，"
                   f"{top['epoch_t1']}–{top['epoch_t2']}，{f0(top['area_ha'])} 公顷）"
                   if top else "") + "。（规则：全时段年均碳汇 < 0；所列转移为面积最大的转移中"
                "面积 × 碳密度下降最大者。）",
                "The stock fell over the span (a net emission of "
                f"{f0(-span['sink_co2e_t_per_yr'])} t CO₂e per year): find and control the "
                "conversions behind the loss"
                + (f" (the largest loss: {top['name_en_t1']} → {top['name_en_t2']}, "
                   f"{top['epoch_t1']}–{top['epoch_t2']}, {f0(top['area_ha'])} ha)"
                   if top else "") + ". (Rule: whole-span annual sink < 0; the transition "
                "named is, of the largest transitions, the one with the largest area × density "
                "loss.)")
        else:
            add(f"评估期内为净碳汇（年均 {f0(span['sink_co2e_t_per_yr'])} 吨 CO₂ 当量），建议"
                "保护现有高碳密度地类，巩固碳汇。（规则：全时段年均碳汇 ≥ 0。）",
                f"The region was a net sink ({f0(span['sink_co2e_t_per_yr'])} t CO₂e per "
                "year): protect the high-density classes to keep it. (Rule: whole-span annual "
                "sink ≥ 0.)")
    if d.ndvi:
        degrading = sum(float(r["share_pct"]) for r in d.ndvi if r["trend_class"] in (1, 2))
        if degrading >= 5:
            add(f"NDVI 退化面积占 {f1(degrading)}%，建议对退化像元集中的区域开展植被恢复。"
                "（规则：NDVI 退化比例 ≥ 5%。）",
                f"NDVI declined on {f1(degrading)} % of the area: restore vegetation where the "
                "declining pixels cluster. (Rule: declining share ≥ 5 %.)")
    if not d.accuracy:
        add("补充带修复等级的参考样点并开展精度评价，以检验总体精度 ≥ 85% 的要求。"
            "（规则：未载入参考样点。）",
            "Collect reference samples with a priority grade and assess the accuracy against "
            "the 85 % gate. (Rule: no reference samples loaded.)")
    elif not d.accuracy[0]["passes_gate"]:
        add("识别精度未达到 85%，建议调整因子与权重或补充样点后重新评估。"
            "（规则：总体精度 < 85%。）",
            "The accuracy is below 85 %: revise the factors and weights or add samples and "
            "reassess. (Rule: overall accuracy < 85 %.)")
    if d.stocks and not d.validation:
        add("布设样地实测碳密度，用于 Tier 2 取值和 ±10% 验证。（规则：无样地验证数据。）",
            "Measure carbon density on survey plots for Tier 2 values and the ±10 % "
            "validation. (Rule: no plot validation.)")
    if any(r["tier"] == "ipcc_default" for r in d.tiers):
        add("部分碳密度采用 IPCC Tier 1 默认值，建议以本地参数或样地数据替代。"
            "（规则：使用了 IPCC 默认值。）",
            "Some densities are IPCC Tier 1 defaults: replace them with local parameters or "
            "plot data. (Rule: IPCC defaults used.)")
    if any(r["unquantified"] for r in d.uncertainty):
        add("为缺少不确定性的参数补充 95% 置信区间，以便给出完整的不确定性。"
            "（规则：存在未量化不确定性的参数。）",
            "State a 95 % interval for the parameters without uncertainty so that every total "
            "has one. (Rule: parameters without uncertainty.)")
    return out


def finalise(blocks: list[Block], lang: str, max_rows: int = 15) -> list[Block]:
    """Number the tables and figures ("表 3" / "Table 3"), and move tables longer than
    ``max_rows`` rows (and those marked ``name="appendix"``) to an appendix at the end, a
    sentence in their place pointing to it."""
    zh = lang == "zh"
    body, appendix = [], []
    nt = nf = 0
    for b in blocks:
        if b.kind == "table" and not b.rows:
            continue
        if b.kind == "table" and (len(b.rows) > max_rows or b.name == "appendix"):
            no = f"A.{len(appendix) + 1}"
            appendix.append(Block("table", (f"表 {no}  " if zh else f"Table {no}  ") + b.text,
                                  headers=b.headers, rows=b.rows, note=b.note))
            body.append(Block("note", f"{b.text}共 {len(b.rows)} 行，见附录表 {no}。" if zh
                              else f"{b.text}: {len(b.rows)} rows, see Table {no} in the "
                              "appendix."))
        elif b.kind == "table":
            nt += 1
            body.append(Block("table", (f"表 {nt}  " if zh else f"Table {nt}  ") + b.text,
                              headers=b.headers, rows=b.rows, note=b.note, name=b.name))
        elif b.kind == "img":
            nf += 1
            text = b.text or b.name
            body.append(Block("img", (f"图 {nf}  " if zh else f"Figure {nf}  ") + text,
                              png=b.png, name=b.name, note=b.note))
        else:
            body.append(b)
    if appendix:
        body.append(Block("h2", tr(lang)("s_appendix")))
        body += appendix
    return body
