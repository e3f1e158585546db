"""The report's section on ecosystem services and ecological sensitivity (marts
ecosystem_services, service_importance, ecological_sensitivity, service_tiles): what was
computed and from which inputs, region and zone totals, the importance classes and how the
services and sensitivities entered the grades, maps, and the inputs that are constant over
the region (stand-ins, flagged)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import psycopg

from . import figures
from .data import Grid, mosaic, rows
from .document import CODES, Block, code, f0, f1, f2, tr

#: service inputs whose being constant over the region is worth a caveat
INPUT_LAYERS = ("erosivity", "erodibility", "precip", "et0", "aet", "pawc", "soil_depth",
                "access", "wind_factor", "soil_sand", "soil_silt", "soil_clay", "soil_om",
                "soil_caco3", "snow_cover", "lithology")

#: the services and sensitivities by name (zh, en), as the report names every code
NAMES = {k: CODES[k] for k in (
    "soil_retention", "water_conservation", "water_yield", "sand_fixation", "habitat_quality",
    "soil_erosion", "erosion_sensitivity", "desertification_sensitivity",
    "rocky_desertification_sensitivity")}
METHOD = {"cumulative_share": ("累积服务量占比法", "cumulative-share rule"),
          "natural_breaks": ("自然断点法", "natural breaks"),
          "quantile": ("三分位数法", "terciles")}


def load(conn: psycopg.Connection, run_id: int) -> dict:
    """The section's rows and maps (nothing when the database has no service marts yet)."""
    if conn.execute("select to_regclass('marts.ecosystem_services') is null or "
                    "to_regclass('marts.service_tiles') is null").fetchone()[0]:
        return {"services": []}
    p = (run_id,)
    out = {
        "services": rows(conn, """
            select zone_set, zone_code, zone_name, epoch_label, epoch_year, assessed_ha,
                   zone_area_ha, zone_coverage_pct, soil_loss_potential_t_per_yr,
                   soil_loss_t_per_yr, soil_retention_t_per_yr, water_yield_mm,
                   water_yield_m3, water_conservation_mm, water_conservation_m3,
                   sand_fixation_t_per_yr, habitat_quality_mean
            from marts.ecosystem_services where run_id = %s
            order by zone_set <> 'region', zone_set, zone_code, epoch_year, epoch_label""", p),
        "importance": rows(conn, """
            select service, zone_set, zone_code, graded_ha, extremely_important_ha,
                   important_ha, general_ha, grading_method, lower_break, upper_break
            from marts.service_importance where run_id = %s and zone_set = 'region'
            order by service""", p),
        "sensitivity": rows(conn, """
            select indicator, epoch_label, class, class_name_zh, class_name_en, area_ha,
                   share_pct
            from marts.ecological_sensitivity where run_id = %s and zone_set = 'region'
            order by indicator, epoch_label, class""", p),
        "weights": rows(conn, """
            select factor, factor_group, weight, pixels
            from marts.factor_summaries where run_id = %s order by factor_group, factor""", p),
        # (the tiles of each entry read by its id, a subquery kept apart by offset 0: only
        # its partition of raster.tiles is read, and with data nodes only its tiles travel)
        "constant": rows(conn, """
            select c.layer, c.epoch_label, min(s.min) as lo, max(s.max) as hi
            from etl.assessment_runs as a
            join raster.catalog as c on c.catalog_id = any(a.input_catalog_ids)
            cross join lateral (select x.* from raster.tiles as t,
                                lateral st_summarystats(t.rast, 1, true) as x
                                where t.catalog_id = c.catalog_id offset 0) as s
            where a.run_id = %s and c.layer = any(%s) and s.count > 0
            group by c.layer, c.epoch_label
            having min(s.min) = max(s.max)""", (run_id, list(INPUT_LAYERS))),
        "maps": {},
    }
    if out["services"]:
        for layer in ("soil_retention", "water_yield", "water_conservation", "habitat_quality",
                      "soil_erosion", "erosion_sensitivity", "desertification_sensitivity",
                      "rocky_desertification_sensitivity"):
            g = mosaic(conn, "select rast from marts.service_tiles where run_id = %s "
                       "and layer = %s", (run_id, layer))
            if g is not None and layer.endswith("sensitivity"):
                g.values[g.values <= 0] = np.nan          # 0: not computed
            if g is not None and np.isfinite(g.values).any():
                out["maps"][layer] = g
    return out


def _map(grid: Grid, title: str, label: str, cmap: str, discrete: bool, outlines: list,
         t) -> bytes:
    figures._use_font()
    fig, ax = plt.subplots(figsize=(7, 7))
    v = figures._thin(grid)
    finite = v[np.isfinite(v)]
    vmin, vmax = ((np.nanmin(finite), np.nanmax(finite)) if discrete else
                  (np.nanpercentile(finite, 1), np.nanpercentile(finite, 99)))
    im = ax.imshow(np.ma.masked_invalid(v), cmap=cmap, vmin=vmin, vmax=max(vmax, vmin + 1e-9),
                   extent=grid.extent, interpolation="nearest")
    figures._decorate_map(ax, grid, outlines, t)
    cb = fig.colorbar(im, ax=ax, shrink=0.7)
    cb.set_label(label)
    return figures._png(fig, title)


def _table(title: str, cols: list, data: list[dict]) -> Block:
    """A table of the rows' columns (header, key, format), leaving out the columns that no
    row has a value in (services not computed)."""
    keep = [c for c in cols if any(r.get(c[1]) is not None for r in data)]
    return Block("table", title, headers=[h for h, _, _ in keep],
                 rows=[["" if r.get(k) is None else fmt(r[k]) for _, k, fmt in keep]
                       for r in data])


def blocks(m: dict, L, zh: bool, outlines: list | None = None) -> list[Block]:  # noqa: N803
    """The section's blocks; empty when the run computed no service. ``L`` chooses the
    report's language; ``outlines`` are the zone outlines drawn on the maps."""
    if not m["services"]:
        return []
    region = [r for r in m["services"] if r["zone_set"] == "region"]
    have = {k for k, col in (("soil", "soil_loss_t_per_yr"), ("water", "water_yield_mm"),
                             ("wcons", "water_conservation_mm"),
                             ("wind", "sand_fixation_t_per_yr"),
                             ("habitat", "habitat_quality_mean"))
            if any(r[col] is not None for r in region)}
    said = []
    if "soil" in have:
        said.append(L("土壤保持量按 RUSLE 计算（潜在侵蚀 R·K·LS 减实际侵蚀 R·K·LS·C·P，LS 由全区"
                      "流量累积求得，河道像元无侵蚀）",
                      "soil retention by RUSLE (potential loss R·K·LS minus actual loss "
                      "R·K·LS·C·P, LS from flow accumulation over the whole region, no loss "
                      "on stream pixels)"))
    if "water" in have:
        said.append(L("产水量按 Budyko–Zhang 年水量平衡计算", "water yield by the Budyko–Zhang "
                      "annual water balance"))
    if "wcons" in have:
        said.append(L("水源涵养量按 HJ 1173 水量平衡 P − R − ET 计算",
                      "water conservation by the HJ 1173 balance P − R − ET"))
    if "wind" in have:
        said.append(L("防风固沙量按 RWEQ 计算（潜在风蚀减实际风蚀）",
                      "sand fixation by RWEQ (potential minus actual wind erosion)"))
    if "habitat" in have:
        said.append(L("生境质量按 InVEST 生境质量模型计算（威胁源距离衰减、可达性、敏感性）",
                      "habitat quality by the InVEST habitat-quality model (threat decay with "
                      "distance, access, sensitivity)"))
    out = [Block("p", L("生态系统服务（HJ 1173-2021）与生态敏感性（HJ 1174-2021）在数据库内逐像元"
                        "计算：", "Ecosystem services (HJ 1173-2021) and ecological sensitivity "
                        "(HJ 1174-2021) are computed per pixel in the database: ")
                   + ("；" if zh else "; ").join(said) + ("。" if zh else "."))]
    if m["constant"]:
        names = ("、" if zh else ", ").join(
            f"{code(r['layer'], zh)}（{r['epoch_label']}）= {r['lo']:g}" if zh else
            f"{code(r['layer'], zh)} ({r['epoch_label']}) = {r['lo']:g}" for r in m["constant"])
        out.append(Block("p", L(
            f"注意：以下输入在全区为常数（替代数据，非实测空间分布）：{names}。"
            "依赖这些输入的服务量仅可用于方法核验，不代表真实空间格局。",
            f"Caveat: these inputs are constant over the region (stand-ins, not measured "
            f"spatial patterns): {names}. Services that depend on them serve to check the "
            "method only; they are not real-world estimates.")))
    cols = [(L("土壤侵蚀（吨/年）", "soil loss t/yr"), "soil_loss_t_per_yr", f0),
            (L("土壤保持（吨/年）", "soil retention t/yr"), "soil_retention_t_per_yr", f0),
            (L("产水深（毫米）", "water yield mm"), "water_yield_mm", f1),
            (L("产水量（立方米/年）", "water yield m³/yr"), "water_yield_m3", f0),
            (L("水源涵养（立方米/年）", "water conservation m³/yr"), "water_conservation_m3",
             f0),
            (L("防风固沙（吨/年）", "sand fixation t/yr"), "sand_fixation_t_per_yr", f0),
            (L("生境质量均值", "mean habitat quality"), "habitat_quality_mean", f2)]
    out.append(_table(L("生态系统服务（全区，各地类时期）",
                        "Ecosystem services (whole region, by land-cover epoch)"),
                      [(L("时期", "epoch"), "epoch_label", str)] + cols, region))
    zones = [r for r in m["services"] if r["zone_set"] != "region"]
    last = region[-1]["epoch_label"]
    by_set: dict[str, list] = {}
    for r in zones:
        if r["epoch_label"] == last:
            by_set.setdefault(r["zone_set"], []).append(r)
    # zone sets with fewer zones first (watersheds before their sub-watersheds)
    for zset, zrows in sorted(by_set.items(), key=lambda kv: (len(kv[1]), kv[0])):
        low = [str(r["zone_code"]) for r in zrows
               if r["zone_coverage_pct"] is not None and r["zone_coverage_pct"] < 50]
        out.append(_table(L(f"各分区生态系统服务（{code(zset, True)}，{last}）",
                            f"Ecosystem services per zone ({code(zset, False)}, {last})"),
                          [(L("分区", "zone"), "zone_label", str),
                           (L("覆盖率", "coverage"), "zone_coverage_pct",
                            lambda v: f"{v:.0f} %")] + cols,
                          [{**r, "zone_label": r["zone_name"] or r["zone_code"]}
                           for r in zrows]))
        if low:
            out.append(Block("p", L(
                f"覆盖率不足 50% 的分区（{', '.join(low)}）大部分位于评估区域或输入数据之外，"
                "其数值仅代表区内部分。",
                f"Zones covered less than 50 % ({', '.join(low)}) lie mostly outside the "
                "region or its inputs; their figures describe the part inside only.")))
    if m["importance"]:
        meth = m["importance"][0]["grading_method"]
        out.append(Block("table", L(
            f"生态系统服务重要性分级（{METHOD.get(meth, (meth, meth))[0]}，全区，公顷）",
            f"Importance classes of the services ({METHOD.get(meth, (meth, meth))[1]}, whole "
            "region, ha)"),
            headers=[L("服务", "service"), L("极重要", "extremely important"),
                     L("重要", "important"), L("一般", "general"), L("分级阈值", "breaks")],
            rows=[[L(*NAMES.get(r["service"], (r["service"], r["service"]))),
                   f0(r["extremely_important_ha"]), f0(r["important_ha"]),
                   f0(r["general_ha"]),
                   f"{r['lower_break']:.4g} / {r['upper_break']:.4g}"
                   if r["lower_break"] is not None else ""] for r in m["importance"]]))
    used = [r for r in m["weights"] if r["factor"] in NAMES]
    if used:
        out.append(Block("p", L(
            "进入优先级分级的服务与敏感性因子及其权重："
            + "；".join(f"{NAMES[r['factor']][0]}（"
                       f"{'重要性' if r['factor_group'] == 'importance' else '退化'}，"
                       f"权重 {r['weight']:.3f}）" for r in used)
            + "。服务按重要性等级（一般 0、重要 0.5、极重要 1）进入重要性得分，敏感性与侵蚀强度等级"
              "按级别线性归一后进入退化得分。",
            "Services and sensitivities entering the priority grades, with their weights: "
            + "; ".join(f"{NAMES[r['factor']][1]} ({r['factor_group']}, weight "
                        f"{r['weight']:.3f})" for r in used)
            + ". A service enters the importance score by its class (general 0, important 0.5, "
              "extremely important 1); sensitivity and erosion classes enter the degradation "
              "score scaled linearly by class.")))
    sens = [r for r in m["sensitivity"]]
    if sens:
        out.append(Block("table", L("土壤侵蚀强度与生态敏感性（全区，公顷）",
                                    "Soil-erosion intensity and ecological sensitivity "
                                    "(whole region, ha)"),
                         headers=[L("指标", "indicator"), L("时期", "epoch"),
                                  L("等级", "class"), L("面积（公顷）", "area ha"),
                                  L("占比", "share")],
                         rows=[[L(*NAMES.get(r["indicator"], (r["indicator"],) * 2)),
                                r["epoch_label"],
                                str(r["class_name_zh"] if zh else r["class_name_en"]),
                                f0(r["area_ha"]), f"{r['share_pct']:.1f} %"] for r in sens]))
    maps = [("soil_retention", L("土壤保持量（吨/公顷·年）", "Soil retention (t/ha/yr)"),
             L("吨/公顷·年", "t/ha/yr"), "YlGn", False),
            ("water_conservation", L("水源涵养量（毫米）", "Water conservation (mm)"),
             L("毫米", "mm"), "Blues", False),
            ("water_yield", L("产水深（毫米）", "Water yield (mm)"), L("毫米", "mm"), "Blues",
             False),
            ("habitat_quality", L("生境质量（0–1）", "Habitat quality (0–1)"), "0–1", "viridis",
             False),
            ("soil_erosion", L("土壤侵蚀强度等级（SL 190）", "Soil-erosion intensity (SL 190)"),
             L("等级 1 微度 … 6 剧烈", "class 1 micro … 6 severe"), "YlOrRd", True)]
    sens_label = L("等级 1 不敏感 … 5 极敏感", "class 1 not … 5 extremely sensitive")
    for layer in ("erosion_sensitivity", "desertification_sensitivity",
                  "rocky_desertification_sensitivity"):
        cn, en = NAMES[layer]
        maps.append((layer, L(f"{cn}等级", f"{en[0].upper() + en[1:]} class"), sens_label,
                     "OrRd", True))
    for layer, title, label, cmap, discrete in maps:
        g = m["maps"].get(layer)
        if g is None:
            continue
        out.append(Block("img", title, name=f"service_{layer}",
                         png=_map(g, title, label, cmap, discrete, outlines or [],
                                  tr("zh" if zh else "en")),
                         note=L(f"数据来源：本次评估在评估网格上逐像元计算（结果表 "
                                f"marts.service_tiles，图层 {layer}）；像元大小 {g.pixel_m:g} 米。",
                                f"Source: computed per pixel on the assessment grid by this run "
                                f"(marts.service_tiles, layer {layer}); pixel size "
                                f"{g.pixel_m:g} m.")))
    return out
