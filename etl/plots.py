"""Loading field survey plots: plot-level biomass/carbon, tree lists, soil layers, BAAD studies.

Three table layouts are recognised from their columns:

* **plot table** — one row per plot and date with pool columns (``agb``, ``bgb``,
  ``dead_wood``, ``litter``, ``soc``), each with a unit in its header (``AGB (ton_ha)``) or in
  ``--units agb=t/ha``. Units are handled per pool: soil organic carbon is carbon by definition
  and is never multiplied by a carbon fraction; a carbon unit (``t C/ha``) is taken as given;
  dry matter is converted with the pool's carbon fraction (biomass 0.47 or ``--carbon-fraction``,
  dead wood 0.50, litter 0.37: IPCC 2006 Vol. 4 Table 4.3 and Ch. 2 §2.3.2.2). The fraction used
  is stored with every measurement. Repeated measurements of a plot (other dates) are its time
  series: one plot, several measurements.
* **tree list** — one row per tree with DBH (cm) and optionally height (m) and wood density:
  above-ground biomass per tree from a named allometry (Chave et al. 2014 with height, Chave et
  al. 2005 moist forest without), summed per plot and divided by the plot area.
* **soil layers** — depth interval, SOC content (g/kg), bulk density (g/cm³) and gravel fraction:
  SOC (t C/ha) = SOC × BD × thickness (cm) × (1 − gravel) × 0.1 per layer, harmonised to the
  0–30 cm of IPCC SOC_REF (:func:`soc_0_30cm`): layers summed over 0–30 cm, a layer crossing
  30 cm taken pro rata by depth; a profile that does not cover 0–30 cm without gaps or overlaps
  keeps its layers but gives no SOC stock (a warning in the load log).

A BAAD study folder's ``data.csv`` (Biomass And Allometry Database) is read through its
``dataMatchColumns.csv`` (variable names and units) and ``dataNew.csv`` (corrections and site
defaults) as a tree list with measured (harvested) above-ground biomass.
"""

from __future__ import annotations

import csv
import logging
import math
import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import psycopg
import shapely
from shapely.prepared import prep

from ecorest.errors import LoadError

from .loadlog import check_file, previous_load, recorded_load, sha256_file
from .regions import get_region
from .specs import Field, norm_name, resolve_columns, validate_rows
from .validation import Issue, fail, issue
from .vectors import FeatureTable, read_features

log = logging.getLogger(__name__)

IPCC_CARBON_FRACTION = 0.47  # IPCC 2006 Vol. 4 Table 4.3, default for forest biomass
#: carbon fraction of dry matter of the dead organic matter pools, IPCC 2006 Vol. 4 Ch. 2
#: §2.3.2.2 (Tier 1 note to Eq. 2.19): dead wood 0.50, litter 0.37
DEAD_WOOD_CARBON_FRACTION = 0.50
LITTER_CARBON_FRACTION = 0.37
#: pools that are carbon by definition: never multiplied by a carbon fraction
CARBON_POOLS = ("soc",)
#: depth of IPCC SOC_REF (2006 Vol. 4 Ch. 2 §2.3.3.1, Table 2.3): SOC stocks are for 0-30 cm
SOC_DEPTH_CM = 30.0
DEFAULT_WOOD_DENSITY = 0.57  # g/cm3, mean for tropical Asia (Reyes et al. 1992)

#: pool -> column-name stems that mean it (as reduced by norm_name; Chinese names included)
POOL_NAMES = {
    "agb": ("agb", "aboveground", "abovegroundbiomass", "agbiomass", "cabove", "agc",
            "地上生物量", "地上部分生物量", "地上碳密度"),
    "bgb": ("bgb", "belowground", "belowgroundbiomass", "bgbiomass", "cbelow", "bgc",
            "地下生物量", "根系生物量", "地下碳密度"),
    "dead_wood": ("deadwood", "cwd", "cdead", "deadwoodbiomass", "枯死木", "枯死木生物量"),
    "litter": ("litter", "litterbiomass", "枯落物", "凋落物", "枯落物生物量"),
    "soc": ("soc", "soilcarbon", "soilorganiccarbon", "csoil", "土壤有机碳", "土壤碳密度"),
}
MASS_TO_T = {"t": 1.0, "ton": 1.0, "tons": 1.0, "tonne": 1.0, "mg": 1.0, "kg": 1e-3,
             "g": 1e-6}
AREA_TO_HA = {"ha": 1.0, "hm2": 1.0, "m2": 1e-4, "km2": 100.0}
UNIT_RE = re.compile(r"^(t|ton|tons|tonne|mg|kg|g)(c)?(?:dm)?/(ha|hm2|m2|km2)$")


def parse_unit(text: str | None) -> tuple[float, bool] | None:
    """(factor to t/ha, is carbon) for 't/ha', 'Mg C/ha', 'kg/m2', 'g C m-2', 'ton_ha' ..."""
    if not text:
        return None
    u = text.strip().lower().replace(" ", "").replace("_", "/").replace("²", "2")
    u = u.replace("d.m.", "dm").replace("hm-2", "/hm2").replace("ha-1", "/ha")
    u = u.replace("m-2", "/m2").replace("km-2", "/km2").replace("//", "/")
    m = UNIT_RE.match(u)
    if not m:
        return None
    return MASS_TO_T[m[1]] / AREA_TO_HA[m[3]], bool(m[2])


def header_unit(column: str) -> tuple[str, str | None]:
    """'AGB (ton_ha)' -> ('AGB', 'ton_ha'); '地上生物量（t/ha）' -> ('地上生物量', 't/ha');
    'agb' -> ('agb', None)."""
    column = unicodedata.normalize("NFKC", column)
    m = re.match(r"^\s*(.*?)\s*[\(\[]\s*(.+?)\s*[\)\]]\s*$", column)
    return (m[1], m[2]) if m else (column.strip(), None)


def chave2005_moist(dbh_cm: np.ndarray, wood_density: np.ndarray) -> np.ndarray:
    """AGB (kg) of moist tropical trees without height, Chave et al. (2005) Oecologia 145:87."""
    ln_d = np.log(dbh_cm)
    return wood_density * np.exp(-1.499 + 2.148 * ln_d + 0.207 * ln_d ** 2
                                 - 0.0281 * ln_d ** 3)


def chave2014(dbh_cm: np.ndarray, height_m: np.ndarray, wood_density: np.ndarray) -> np.ndarray:
    """AGB (kg) = 0.0673 (ρ D² H)^0.976, Chave et al. (2014) Glob. Change Biol. 20:3177, Eq. 4."""
    return 0.0673 * (wood_density * dbh_cm ** 2 * height_m) ** 0.976


def pool_carbon_fraction(pool: str, is_carbon: bool, biomass_cf: float) -> float | None:
    """Carbon fraction to apply to a value of ``pool`` (None: the value is carbon already).

    SOC is carbon by definition, and so is any value given in a carbon unit (``t C/ha``); dry
    matter of dead wood takes 0.50, of litter 0.37, of biomass (agb, bgb) ``biomass_cf``.
    """
    if is_carbon or pool in CARBON_POOLS:
        return None
    return {"dead_wood": DEAD_WOOD_CARBON_FRACTION,
            "litter": LITTER_CARBON_FRACTION}.get(pool, biomass_cf)


def soc_0_30cm(layers: list[tuple[float, float, float]],
               depth_cm: float = SOC_DEPTH_CM) -> tuple[float | None, str]:
    """SOC stock of 0–``depth_cm`` (t C/ha) of one profile from its layers (top, bottom, t C/ha).

    Layers are summed over 0–30 cm; a layer crossing 30 cm counts pro rata by depth (its stock
    × (30 − top) / (bottom − top): SOC and bulk density taken as uniform within the layer);
    layers below 30 cm are not used. A profile whose layers do not cover 0–30 cm — the first
    layer not at the surface, a gap, overlapping layers, or shallower than 30 cm — gives
    ``(None, reason)``: it is not scaled to a depth it was not sampled to.
    Returns ``(stock, method)``.
    """
    reached, total, notes = 0.0, 0.0, []
    for top, bottom, t_per_ha in sorted(layers):
        if top >= depth_cm:
            break
        if top < reached:
            return None, f"layers overlap at {top:g}-{reached:g} cm"
        if top > reached:
            return None, f"no layer covers {reached:g}-{top:g} cm"
        share = (min(bottom, depth_cm) - top) / (bottom - top)
        if share < 1:
            notes.append(f"layer {top:g}-{bottom:g} cm pro rata "
                         f"{min(bottom, depth_cm) - top:g}/{bottom - top:g}")
        total += t_per_ha * share
        reached = bottom
    if reached < depth_cm:
        return None, f"the profile reaches {reached:g} cm only"
    method = f"soil layers 0-{depth_cm:g} cm"
    return total, method + (f" ({'; '.join(notes)})" if notes else "")


def soc_layer_t_per_ha(soc_g_per_kg: float, bulk_density: float, top_cm: float,
                       bottom_cm: float, gravel: float = 0.0) -> float:
    """SOC density of one layer (t C/ha) = SOC × BD × H × (1 − gravel) × 0.1."""
    return soc_g_per_kg * bulk_density * (bottom_cm - top_cm) * (1.0 - gravel) * 0.1


# ------------------------------------------------------------------------------------------------
# Chinese column names (docs/LOADING.md lists them) are aliases like the English ones; a
# unit in brackets is part of the name here (面积(m2) → 面积m2), as in 'area_m2'.
PLOT_FIELDS = [
    Field("plot_id", required=True, aliases=("id_parcela", "plotid", "plot", "plot_code",
                                             "plot_no", "样地号", "样地编号", "样地代码",
                                             "样方号", "样方编号")),
    Field("measured_date", "date", required=True, not_future=True,
          aliases=("date", "survey_date", "year", "avg_year", "measurement_year", "调查日期",
                   "调查时间", "测定日期", "调查年份", "年份")),
    Field("plot_area_m2", "float", range=(0.01, 1e7),
          aliases=("size_m2", "area_m2", "样地面积m2", "面积m2", "样地面积平方米",
                   "面积平方米", "样地面积", "面积")),
    Field("plot_area_ha", "float", range=(1e-6, 1e3),
          aliases=("size_ha", "plot_size_ha", "样地面积ha", "面积ha", "样地面积公顷",
                   "面积公顷")),
    Field("land_cover_code", "int", aliases=("class", "class_code", "lucode", "地类代码",
                                             "地类编码")),
    Field("ecosystem_type", aliases=("ecosystem", "vegetation", "生态系统类型", "植被类型")),
    Field("stratum", aliases=("estratoflorestal", "strata", "forest_type", "林分类型",
                              "森林类型", "层")),
]
TREE_FIELDS = [
    Field("tree_no", required=True, aliases=("treeid", "tree_id", "tree", "stem_id", "树号",
                                             "林木编号", "立木号")),
    Field("dbh_cm", "float", required=True, range=(0.1, 500),
          aliases=("d_cm", "dbh", "d", "胸径cm", "胸径")),
    Field("height_m", "float", range=(0.1, 130),
          aliases=("h", "height", "h_m", "h_t", "树高m", "树高")),
    Field("species", aliases=("species_name", "sp", "scientific_name", "树种", "树种名称")),
    Field("genus", aliases=("属",)),
    Field("wood_density_g_per_cm3", "float", range=(0.05, 1.5),
          aliases=("wood_density", "wsg", "wd", "rho", "木材密度", "木材基本密度")),
    Field("agb_kg", "float", range=(0, 1e6), aliases=("m_so", "agb_kg_measured")),
]
SOIL_FIELDS = [
    Field("top_cm", "float", required=True, range=(0, 1000),
          aliases=("top", "depth_top", "上界cm", "上界", "起始深度cm", "起始深度")),
    Field("bottom_cm", "float", required=True, range=(0, 1000),
          aliases=("bottom", "depth_bottom", "下界cm", "下界", "终止深度cm", "终止深度")),
    Field("soc_g_per_kg", "float", required=True, range=(0, 600),
          aliases=("soc_g_kg", "soc", "organic_carbon_g_kg", "有机碳gkg", "有机碳含量gkg",
                   "有机碳", "有机碳含量")),
    Field("bulk_density_g_per_cm3", "float", required=True, range=(0.05, 2.7),
          aliases=("bulk_density", "bd", "bd_g_cm3", "容重gcm3", "容重")),
    Field("gravel_fraction", "float", range=(0, 0.99), aliases=("gravel", "砾石含量")),
]


@dataclass
class PlotRecord:
    plot_id: str
    geom: object
    plot_area_m2: float | None
    land_cover_code: int | None
    ecosystem_type: str | None
    stratum: str | None


def load_plots(conn: psycopg.Connection, region_name: str, path: str | Path, *,
               mapping: dict[str, str] | None = None, units: dict[str, str] | None = None,
               carbon_fraction: float = IPCC_CARBON_FRACTION, crs: str | None = None,
               x: str | None = None, y: str | None = None,
               wood_density: float = DEFAULT_WOOD_DENSITY, plot_area_m2: float | None = None,
               source: str | None = None, strict: bool = False) -> dict[str, int]:
    """Load survey plots from a plot table, a tree list, a soil-layer table or a BAAD study."""
    p = check_file(path, "CSV")
    if not 0.3 <= carbon_fraction <= 0.6:
        raise fail(p, "--carbon-fraction", "value.range", column="carbon fraction",
                   value=carbon_fraction, range="[0.3, 0.6]")
    if not 0.05 <= wood_density <= 1.5:
        raise fail(p, "--wood-density", "value.range", column="wood density (g/cm³)",
                   value=wood_density, range="[0.05, 1.5] — the wood of trees, balsa to ironwood")
    if plot_area_m2 is not None and not 0.01 <= plot_area_m2 <= 1e7:
        raise fail(p, "--plot-area-m2", "value.range", column="plot area (m²)",
                   value=plot_area_m2, range="[0.01, 1e7] m²")
    region = get_region(conn, region_name)
    boundary = prep(shapely.from_wkb(conn.execute(
        "select st_asbinary(boundary) from registry.regions where region_id = %s",
        (region.region_id,)).fetchone()[0]))
    conn.rollback()
    baad = (p.parent / "dataMatchColumns.csv").exists() and p.name == "data.csv"
    table = _read_baad(p) if baad else read_features(p, crs=crs, x=x, y=y)
    if len(table) == 0:
        raise fail(p, "", "table.empty")
    fields_by_norm = {norm_name(c) for c in table.columns}
    is_soil = any(norm_name(a) in fields_by_norm for a in SOIL_FIELDS[0].aliases + ("top_cm",)) \
        and any(norm_name(a) in fields_by_norm for a in SOIL_FIELDS[1].aliases + ("bottom_cm",))
    is_tree = not is_soil and any(norm_name(a) in fields_by_norm
                                  for a in (TREE_FIELDS[1].name, *TREE_FIELDS[1].aliases))
    kind = "soil" if is_soil else "trees" if is_tree else "plots"
    sha = sha256_file(p)
    if previous_load(conn, "plots", sha, region_id=region.region_id, layer=kind):
        log.info("%s: already loaded: nothing to do", p)
        return {"plots": 0, "measurements": 0, "trees": 0, "soil_layers": 0}
    fields = PLOT_FIELDS + (TREE_FIELDS if kind == "trees" else SOIL_FIELDS if kind == "soil"
                            else [])
    columns = resolve_columns(table, fields, mapping, extra=tuple(POOL_NAMES))
    pools = {} if kind != "plots" else _pool_columns(table, mapping or {}, units or {})
    if kind == "plots" and not pools:
        raise LoadError(f"{p}: no pool column found (agb, bgb, dead_wood, litter, soc); "
                        f"columns are {list(table.columns)} — use --map agb=COLUMN")
    good, rejected = validate_rows(table, fields, columns)
    good, dupes = _duplicates(table, good, kind, columns)
    rejected += dupes
    plots: dict[str, PlotRecord] = {}
    rows: list[tuple[int, dict]] = []
    for i, v in good:
        g = table.geoms[i]
        item = table.items[i]
        if g is None:
            rejected.append(issue(p, item, "geometry.present"))
            continue
        if not boundary.covers(g):
            rejected.append(issue(p, item, "geometry.inside_region", region=region.name,
                                  record={"plot_id": v["plot_id"], "lon": g.x, "lat": g.y}))
            continue
        area = v["plot_area_m2"] or (v["plot_area_ha"] * 1e4 if v["plot_area_ha"] else None) \
            or plot_area_m2
        pid = str(v["plot_id"])
        rec = plots.get(pid)
        if rec is None:
            plots[pid] = PlotRecord(pid, g, area, v["land_cover_code"], v["ecosystem_type"],
                                    v["stratum"])
        rows.append((i, v))
    warnings: list[Issue] = []
    if kind == "plots":
        measurements, bad = _plot_measurements(table, rows, pools, carbon_fraction)
        trees, layers = [], []
    elif kind == "trees":
        trees, measurements, bad = _tree_biomass(table, rows, plots, wood_density,
                                                 carbon_fraction)
        layers = []
    else:
        layers, measurements, bad, warnings = _soil_layers(table, rows)
        trees = []
    rejected += bad
    bad_items = {b.item for b in bad}
    kept = {str(v["plot_id"]) for i, v in rows if table.items[i] not in bad_items}
    plots = {pid: rec for pid, rec in plots.items() if pid in kept}
    if strict and rejected:
        raise LoadError(rejected)
    if not plots:
        raise LoadError(rejected[:50] or issue(p, "", "table.empty"))
    counts = {"plots": len(plots), "measurements": len(measurements), "trees": len(trees),
              "soil_layers": len(layers)}
    with recorded_load(conn, "plots", p, sha, region_id=region.region_id, layer=kind,
                       options={"kind": kind, "mapping": mapping, "units": units,
                                "carbon_fraction": carbon_fraction,
                                "carbon_fractions": {
                                    "agb": carbon_fraction, "bgb": carbon_fraction,
                                    "dead_wood": DEAD_WOOD_CARBON_FRACTION,
                                    "litter": LITTER_CARBON_FRACTION, "soc": None},
                                "soc_depth_cm": SOC_DEPTH_CM, "wood_density": wood_density,
                                "strict": strict}, strict=strict) as ctx:
        for w in warnings:
            ctx.warn(w)
        uid = _write_plots(conn, region.region_id, plots, source or p.name, ctx.load_id)
        with conn.cursor() as cur:
            cur.executemany(
                "insert into registry.plot_measurements (plot_uid, measured_date, pool, "
                "value_original, unit_original, carbon_fraction, carbon_t_per_ha, method, "
                "load_id) values (%s, %s, %s, %s, %s, %s, %s, %s, %s) "
                "on conflict (plot_uid, measured_date, pool) do update set "
                "value_original = excluded.value_original, unit_original = "
                "excluded.unit_original, carbon_fraction = excluded.carbon_fraction, "
                "carbon_t_per_ha = excluded.carbon_t_per_ha, method = excluded.method, "
                "load_id = excluded.load_id",
                [(uid[m["plot_id"]], m["date"], m["pool"], m["value"], m["unit"], m["cf"],
                  m["carbon"], m["method"], ctx.load_id) for m in measurements])
            cur.executemany(
                "insert into registry.plot_trees (plot_uid, measured_date, tree_no, species, "
                "dbh_cm, height_m, wood_density_g_per_cm3, agb_kg, allometry, load_id) values "
                "(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) on conflict (plot_uid, measured_date, "
                "tree_no) do update set species = excluded.species, dbh_cm = excluded.dbh_cm, "
                "height_m = excluded.height_m, wood_density_g_per_cm3 = "
                "excluded.wood_density_g_per_cm3, agb_kg = excluded.agb_kg, allometry = "
                "excluded.allometry, load_id = excluded.load_id",
                [(uid[t["plot_id"]], t["date"], t["tree_no"], t["species"], t["dbh_cm"],
                  t["height_m"], t["wd"], t["agb_kg"], t["allometry"], ctx.load_id)
                 for t in trees])
            cur.executemany(
                "insert into registry.plot_soil_layers (plot_uid, measured_date, top_cm, "
                "bottom_cm, soc_g_per_kg, bulk_density_g_per_cm3, gravel_fraction, "
                "soc_t_per_ha, load_id) values (%s, %s, %s, %s, %s, %s, %s, %s, %s) "
                "on conflict (plot_uid, measured_date, top_cm) do update set "
                "bottom_cm = excluded.bottom_cm, soc_g_per_kg = excluded.soc_g_per_kg, "
                "bulk_density_g_per_cm3 = excluded.bulk_density_g_per_cm3, gravel_fraction = "
                "excluded.gravel_fraction, soc_t_per_ha = excluded.soc_t_per_ha, "
                "load_id = excluded.load_id",
                [(uid[s["plot_id"]], s["date"], s["top"], s["bottom"], s["soc"], s["bd"],
                  s["gravel"], s["t_per_ha"], ctx.load_id) for s in layers])
        ctx.reject(rejected)
        ctx.rows_read = len(table)
        ctx.rows_loaded = len(rows) - len(bad)
        ctx.message = (f"{kind}: {counts['plots']} plots, {counts['measurements']} pool "
                       f"measurements, {counts['trees']} trees, {counts['soil_layers']} soil "
                       f"layers; {len(rejected)} rows rejected, {len(warnings)} warnings")
    return counts


def _duplicates(table, good, kind, columns):
    key = {"plots": ("plot_id", "measured_date"), "trees": ("plot_id", "measured_date",
                                                            "tree_no"),
           "soil": ("plot_id", "measured_date", "top_cm")}[kind]
    counts = defaultdict(int)
    for _, v in good:
        counts[tuple(v[k] for k in key)] += 1
    keep, problems = [], []
    for i, v in good:
        k = tuple(v[c] for c in key)
        if counts[k] > 1:
            label = columns.get(key[-1], key[-1]) if kind != "plots" else columns["plot_id"]
            problems.append(issue(table.path, table.items[i], "id.unique", column=label,
                                  value=" / ".join(str(x) for x in k), count=counts[k]))
        else:
            keep.append((i, v))
    return keep, problems


def _pool_columns(table: FeatureTable, mapping: dict[str, str],
                  units: dict[str, str]) -> dict:
    """pool -> (column, unit text, factor, is_carbon); pools from the column names or
    ``--map POOL=COLUMN``, units from the headers or ``--units``."""
    out: dict = {}
    mapped = {col: pool for pool, col in mapping.items() if pool in POOL_NAMES}
    used: set[str] = set()
    for col in [*mapped, *table.columns]:
        base, unit = header_unit(col)
        pool = mapped.get(col) or next(
            (pl for pl, names in POOL_NAMES.items() if norm_name(base) in names), None)
        if pool is None or pool in out or col in used:
            continue
        used.add(col)
        unit = units.get(pool) or units.get(col) or unit
        if unit is None:
            raise fail(table.path, f"column {col!r}", "value.unit", column=col, value=None,
                       allowed="t/ha, Mg/ha, kg/m2, g/m2, t C/ha ... (name the column "
                               f"'{base} (t/ha)' or give --units {pool}=t/ha)")
        parsed = parse_unit(unit)
        if parsed is None:
            raise fail(table.path, f"column {col!r}", "value.unit", column=col, value=unit,
                       allowed="t/ha, Mg/ha, kg/m2, g/m2, kg/ha and carbon forms (t C/ha)")
        out[pool] = (col, unit, *parsed)
    return out


def _plot_measurements(table, rows, pools, cf) -> tuple[list[dict], list[Issue]]:
    out, bad = [], []
    for i, v in rows:
        raw = table.row(i)
        row_bad = []
        found = []
        for pool, (col, unit, factor, is_carbon) in pools.items():
            value = raw.get(col)
            if value is None:
                continue
            try:
                number = float(value)
                if math.isnan(number):
                    raise ValueError
            except (TypeError, ValueError):
                row_bad.append(issue(table.path, table.items[i], "value.type", column=col,
                                     value=value, type="number"))
                continue
            if number < 0:
                row_bad.append(issue(table.path, table.items[i], "value.range", column=col,
                                     value=number, range="[0, ) — biomass and carbon cannot "
                                                         "be negative"))
                continue
            t_per_ha = number * factor
            pool_cf = pool_carbon_fraction(pool, is_carbon, cf)
            carbon = t_per_ha if pool_cf is None else t_per_ha * pool_cf
            if carbon > 2000:
                row_bad.append(issue(table.path, table.items[i], "value.range", column=col,
                                     value=number, range=f"up to 2000 t C/ha (in {unit})"))
                continue
            found.append({"plot_id": str(v["plot_id"]), "date": v["measured_date"],
                          "pool": pool, "value": number, "unit": unit,
                          "cf": pool_cf, "carbon": carbon,
                          "method": "measured" if pool_cf is not None or is_carbon
                          else "measured (SOC is carbon: unit read as carbon)"})
        if row_bad:
            bad += row_bad
        else:
            out += found
    return out, bad


def _tree_biomass(table, rows, plots, default_wd, cf):
    trees, bad = [], []
    per_plot: dict[tuple[str, date], float] = defaultdict(float)
    for _i, v in rows:
        pid = str(v["plot_id"])
        wd = v["wood_density_g_per_cm3"] or default_wd
        d = np.array([v["dbh_cm"]])
        if v["agb_kg"] is not None:
            agb, name = v["agb_kg"], "measured (harvested)"
        elif v["height_m"]:
            agb, name = float(chave2014(d, np.array([v["height_m"]]), np.array([wd]))[0]), \
                "chave2014"
        else:
            agb, name = float(chave2005_moist(d, np.array([wd]))[0]), "chave2005_moist"
        species = v["species"]
        if v["genus"] and species and not species.startswith(v["genus"]):
            species = f"{v['genus']} {species}"
        trees.append({"plot_id": pid, "date": v["measured_date"], "tree_no": str(v["tree_no"]),
                      "species": species, "dbh_cm": v["dbh_cm"], "height_m": v["height_m"],
                      "wd": wd, "agb_kg": agb, "allometry": name})
        per_plot[(pid, v["measured_date"])] += agb
    measurements = []
    for (pid, day), agb_kg in per_plot.items():
        area = plots[pid].plot_area_m2
        if not area:
            continue  # trees without a plot area (e.g. harvested samples) give no density
        agb_t_ha = agb_kg / 1000.0 / (area / 10_000.0)
        measurements.append({"plot_id": pid, "date": day, "pool": "agb", "value": agb_t_ha,
                             "unit": "t/ha", "cf": cf, "carbon": agb_t_ha * cf,
                             "method": "tree list: sum of allometric AGB / plot area"})
    return trees, measurements, bad


def _soil_layers(table, rows):
    """Soil layers, one 0-30 cm SOC measurement per plot and date (:func:`soc_0_30cm`), and
    warnings for the profiles that cannot give one."""
    layers, bad, warnings = [], [], []
    per_plot: dict[tuple[str, date], list] = defaultdict(list)
    for i, v in rows:
        if v["bottom_cm"] <= v["top_cm"]:
            bad.append(issue(table.path, table.items[i], "value.range", column="bottom_cm",
                             value=v["bottom_cm"], range=f"> top_cm {v['top_cm']}"))
            continue
        gravel = v["gravel_fraction"] or 0.0
        t = soc_layer_t_per_ha(v["soc_g_per_kg"], v["bulk_density_g_per_cm3"], v["top_cm"],
                               v["bottom_cm"], gravel)
        rec = {"plot_id": str(v["plot_id"]), "date": v["measured_date"], "top": v["top_cm"],
               "bottom": v["bottom_cm"], "soc": v["soc_g_per_kg"],
               "bd": v["bulk_density_g_per_cm3"], "gravel": gravel, "t_per_ha": t}
        layers.append(rec)
        per_plot[(rec["plot_id"], rec["date"])].append(rec)
    measurements = []
    for (pid, day), recs in per_plot.items():
        total, method = soc_0_30cm([(r["top"], r["bottom"], r["t_per_ha"]) for r in recs])
        if total is None:
            warnings.append(issue(table.path, f"plot {pid}, {day}", "soil.depth_0_30",
                                  severity="warning", reason=method, depth=f"{SOC_DEPTH_CM:g}"))
            continue
        measurements.append({"plot_id": pid, "date": day, "pool": "soc", "value": total,
                             "unit": "t C/ha", "cf": None, "carbon": total,
                             "method": method})
    return layers, measurements, bad, warnings


def _write_plots(conn, region_id: int, plots: dict[str, PlotRecord], source: str,
                 load_id: int) -> dict[str, int]:
    with conn.cursor() as cur:
        cur.executemany(
            "insert into registry.survey_plots (region_id, plot_id, geom, plot_area_m2, "
            "land_cover_code, ecosystem_type, stratum, source, load_id) values "
            "(%s, %s, st_geomfromwkb(%s, 4326), %s, %s, %s, %s, %s, %s) "
            "on conflict (region_id, plot_id) do update set geom = excluded.geom, "
            "plot_area_m2 = coalesce(excluded.plot_area_m2, survey_plots.plot_area_m2), "
            "land_cover_code = coalesce(excluded.land_cover_code, survey_plots.land_cover_code),"
            " ecosystem_type = coalesce(excluded.ecosystem_type, survey_plots.ecosystem_type), "
            "stratum = coalesce(excluded.stratum, survey_plots.stratum)",
            [(region_id, r.plot_id, shapely.to_wkb(r.geom), r.plot_area_m2, r.land_cover_code,
              r.ecosystem_type, r.stratum, source, load_id) for r in plots.values()])
    return dict(conn.execute("select plot_id, plot_uid from registry.survey_plots "
                             "where region_id = %s and plot_id = any(%s)",
                             (region_id, list(plots))).fetchall())


# ------------------------------------------------------------------------------------------------
# BAAD studies
# ------------------------------------------------------------------------------------------------
BAAD_LENGTH_TO_CM = {"m": 100.0, "cm": 1.0, "mm": 0.1}


def _read_baad(p: Path) -> FeatureTable:
    """A BAAD study's data.csv as a tree list (plot = study site, date = study year)."""
    study = p.parent.name
    match = {r["var_in"]: r for r in csv.DictReader(open(p.parent / "dataMatchColumns.csv"))}
    new = list(csv.DictReader(open(p.parent / "dataNew.csv"))) \
        if (p.parent / "dataNew.csv").exists() else []
    year = re.search(r"(19|20)\d{2}", study)
    rows = list(csv.DictReader(open(p, encoding="utf-8", errors="replace")))
    out: dict[str, list] = defaultdict(list)
    geoms, items = [], []
    for n, raw in enumerate(rows):
        v = {}
        for col, value in raw.items():
            spec = match.get(col)
            if spec is None or spec["var_out"] in ("NA", "") or value in ("NA", ""):
                continue
            v[spec["var_out"]] = (value, spec["unit_in"])
        for fix in new:  # corrections and site-wide defaults
            var, look, val = fix["lookupVariable"], fix["lookupValue"], fix["newValue"]
            if not var:
                v.setdefault(fix["newVariable"], (val, None))
            elif v.get(var, (None,))[0] == look:
                v[fix["newVariable"]] = (val, v.get(fix["newVariable"], (None, None))[1])
        dbh = None
        if "d.bh" in v:
            dbh = float(v["d.bh"][0]) * BAAD_LENGTH_TO_CM.get(v["d.bh"][1] or "cm", 1.0)
        elif "a.stbh" in v:  # stem cross-section at breast height (m2) -> diameter
            dbh = 200.0 * math.sqrt(float(v["a.stbh"][0]) / math.pi)
        agb = None
        if "m.so" in v:
            agb = float(v["m.so"][0])
        elif {"m.st", "m.lf", "m.br"} <= set(v):
            agb = sum(float(v[k][0]) for k in ("m.st", "m.lf", "m.br"))
        lat, lon = v.get("latitude", (None,))[0], v.get("longitude", (None,))[0]
        site = v.get("location", (study,))[0]
        out["plot_id"].append(f"{study}:{site}:{lat},{lon}")
        out["tree_no"].append(str(n + 1))
        out["dbh_cm"].append(None if dbh is None else round(dbh, 4))
        out["height_m"].append(v.get("h.t", (None,))[0])
        out["species"].append(v.get("species", (None,))[0])
        out["agb_kg"].append(agb)
        out["measured_date"].append(year[0] if year else None)
        geoms.append(shapely.Point(float(lon), float(lat)) if lat and lon else None)
        items.append(f"row {n + 2}")
    return FeatureTable(p, dict(out), geoms, items, None)

