"""Versioned parameter sets: carbon densities, factors, growth rates, weights, thresholds.

Two CSV layouts are accepted:

* **long**: ``parameter, class_code, pool, stratum, value, unit, uncertainty_pct, source``
  (only ``parameter``, ``value`` and ``unit`` are required);
* **InVEST carbon pool table**: ``lucode, C_above, C_below, C_soil, C_dead`` (Mg C/ha), loaded
  as it is: one ``carbon_density`` value per class and pool (agb, bgb, soc, dead_wood).

Every set has a name, a version and a source text, and belongs to a region (``region=NAME``)
or is global (``region=None``: every region may use it). Versions count per owner and name:
loading a changed file under the same name for the same region (or globally) adds the next
version and makes it the active one of that name; the same file again is a no-op. A run takes,
per kind, the region's active set, else an active global set (``ecorest.run``).
"""

from __future__ import annotations

import csv
import difflib
import hashlib
import logging
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import psycopg

from ecorest import assets
from ecorest.errors import LoadError
from ecorest.vocab import CARBON_POOLS, PARAMETER_KINDS

from .loadlog import check_file, previous_load, recorded_load, sha256_file
from .regions import get_region
from .specs import Field, norm_name, resolve_columns, validate_rows
from .validation import Issue, fail, issue
from .vectors import read_features

log = logging.getLogger(__name__)

LONG_FIELDS = [
    Field("parameter", required=True, aliases=("name", "param", "参数", "参数名")),
    Field("class_code", "int", aliases=("lucode", "class", "code", "地类代码")),
    Field("pool", allowed=CARBON_POOLS, aliases=("碳库",)),
    Field("stratum", aliases=("zone", "climate", "分层")),
    Field("value", "float", required=True, aliases=("数值", "值")),
    Field("unit", required=True, aliases=("units", "单位")),
    Field("uncertainty_pct", "float", range=(0, 1000), aliases=("uncertainty", "u_pct",
                                                                 "不确定性")),
    Field("source", aliases=("reference", "citation", "来源")),
]
INVEST_POOLS = {"C_above": "agb", "C_below": "bgb", "C_soil": "soc", "C_dead": "dead_wood"}

#: largest plausible carbon density of one pool (t C/ha): the densest forests hold ~1 000 t C
#: per ha above ground (Keith et al. 2009, PNAS 106:11635), peat soils more but not as 0-30 cm
MAX_DENSITY = 1500.0
#: an SOC stock (0-30 cm, t C/ha) below this in every class of a set is kg C/m² read as t C/ha
#: (IPCC SOC_REF is at least 9 t C/ha in any climate and soil)
MIN_PLAUSIBLE_MAX_SOC = 5.0
#: largest plausible biomass growth rate (t C/ha/yr): fast tropical plantations ~ 15-20
MAX_GROWTH = 50.0
#: Saaty's scale: a pairwise judgement lies in 1/9 ... 9
AHP_RANGE = (1 / 9 - 1e-9, 9 + 1e-9)
UNITLESS = ("1", "-", "unitless", "none", "weight", "ratio", "fraction")
DENSITY_UNITS = ("t C/ha", "Mg C/ha")
GROWTH_UNITS = ("t C/ha/yr", "Mg C/ha/yr")
STOCK_POOLS = ("agb", "bgb", "dead_wood", "litter", "soc")
#: a habitat threat's name: the stratum of its parameters and the <name> of its threat_<name>
THREAT_NAME = re.compile(r"[a-z][a-z0-9_]{0,40}")


@dataclass(frozen=True)
class ParamRule:
    """What one parameter of a kind must look like."""

    units: tuple[str, ...]
    range: tuple[float | None, float | None]
    range_note: str = ""
    class_code: bool = False      # a class code is required
    pools: tuple[str, ...] | None = None   # a pool is required, one of these
    stratum: str | None = None    # what the stratum holds, when it is required
    choices: tuple[float, ...] | None = None  # the only values allowed (a 0/1 flag)


#: kind -> parameter -> rule; kinds not listed (ipcc_defaults, thresholds, factor_table,
#: other) take any parameter name, with a finite value
KIND_SCHEMAS: dict[str, dict[str, ParamRule]] = {
    "carbon_pools": {
        "carbon_density": ParamRule(DENSITY_UNITS, (0, MAX_DENSITY),
                                    " t C/ha — a carbon density cannot be negative, and more "
                                    "than 1500 t C/ha is not a real stock",
                                    class_code=True, pools=STOCK_POOLS),
    },
    "growth_rates": {
        "growth_rate": ParamRule(GROWTH_UNITS, (0, MAX_GROWTH),
                                 " t C/ha/yr — annual biomass growth (IPCC Gain) is not "
                                 "negative and nowhere above 50 t C/ha/yr",
                                 class_code=True, pools=("agb", "bgb")),
        "biomass_after_conversion": ParamRule(DENSITY_UNITS, (0, MAX_DENSITY),
                                              " t C/ha — B_after of IPCC Eq. 2.16",
                                              class_code=True, pools=("agb", "bgb")),
    },
    "weights": {
        "degradation_weight": ParamRule(UNITLESS, (-1000, 1000), "", stratum="factor"),
        "importance_weight": ParamRule(UNITLESS, (-1000, 1000), "", stratum="factor"),
        "ahp_pairwise": ParamRule(UNITLESS, AHP_RANGE,
                                  " — Saaty's scale: 1/9 ... 9 (0.111 ... 9)",
                                  stratum="factor_a>factor_b"),
    },
    "transition_severity": {
        "severity": ParamRule(UNITLESS, (0, 1), " — a severity lies in 0 ... 1",
                              class_code=True, stratum="class code at t2"),
    },
    # ecosystem services (docs/SERVICES.md): per-class tables of soil retention, water yield and
    # habitat quality, and the habitat threats (stratum = the threat's name, as in threat_<name>)
    "services": {
        "usle_c": ParamRule(UNITLESS, (0, 1), " — the RUSLE cover factor C is a fraction "
                            "(InVEST's 2013 tables hold C x 1000: divide by 1000)",
                            class_code=True),
        "usle_p": ParamRule(UNITLESS, (0, 1), " — the RUSLE support-practice factor P is a "
                            "fraction (InVEST's 2013 tables hold P x 1000: divide by 1000)",
                            class_code=True),
        "kc": ParamRule(UNITLESS, (0, 3), " — a crop coefficient Kc lies in 0 ... 3 (InVEST's "
                        "etk columns are Kc x 1000)", class_code=True),
        "root_depth": ParamRule(("mm",), (0, 100000), " mm", class_code=True),
        "lulc_veg": ParamRule(UNITLESS, (0, 1), " — 1 vegetated (Budyko-Zhang AET), 0 not",
                              class_code=True, choices=(0, 1)),
        "runoff_coefficient": ParamRule(UNITLESS, (0, 1), " — the share of precipitation that "
                                        "runs off (HJ 1173 water balance)", class_code=True),
        "habitat": ParamRule(UNITLESS, (0, 1), " — habitat suitability lies in 0 ... 1",
                             class_code=True),
        "threat_sensitivity": ParamRule(UNITLESS, (0, 1), " — sensitivity of a habitat to a "
                                        "threat lies in 0 ... 1", class_code=True,
                                        stratum="threat name"),
        "threat_max_dist": ParamRule(("m",), (0, 1000000), " m — the distance at which a "
                                     "threat's effect ends (> 0)", stratum="threat name"),
        "threat_weight": ParamRule(UNITLESS, (0, 1), " — a threat's weight lies in 0 ... 1",
                                   stratum="threat name"),
        "threat_decay": ParamRule(UNITLESS, (0, 1), " — 0 linear, 1 exponential decay",
                                  stratum="threat name", choices=(0, 1)),
        "rweq_cover_coefficient": ParamRule(UNITLESS, (-1, 0), " — the a_i of C = exp(a_i SC) "
                                            "is negative (forest -0.1535 ... cropland -0.0438)",
                                            class_code=True),
    },
}
WEIGHT_GROUPS = {"degradation_weight": "degradation", "importance_weight": "importance"}


def builtin_factors() -> dict[str, str]:
    """factor -> group of the built-in identification factors (seed identification_factors)."""
    path = assets.path("dbt_project", "seeds", "identification_factors.csv")
    with open(path, newline="", encoding="utf-8") as fh:
        return {r["factor"]: r["factor_group"] for r in csv.DictReader(fh)}


def _unit_key(text: str) -> str:
    return unicodedata.normalize("NFKC", text).replace(" ", "").replace("²", "2").casefold()


def _canonical_unit(unit: str, allowed: tuple[str, ...]) -> str | None:
    """The allowed spelling of ``unit`` ('tC/ha', 'Mg C ha-1' -> 't C/ha'), or None."""
    key = _unit_key(unit).replace("ha-1", "/ha").replace("yr-1", "/yr").replace("a-1", "/yr")
    key = key.replace("//", "/").replace("mgc", "tc")
    for a in allowed:
        if key == _unit_key(a).replace("mgc", "tc"):
            return allowed[0] if a in DENSITY_UNITS + GROWTH_UNITS else a
    return None


def _unit_hint(parameter: str, unit: str) -> str:
    from .plots import parse_unit

    parsed = parse_unit(unit.split("/yr")[0].split("/a")[0])
    if parsed is None:
        return ""
    factor, is_carbon = parsed
    if not is_carbon:
        return (f" — {unit!r} is dry matter: a {parameter} is carbon; multiply by the carbon "
                "fraction (0.47 for biomass) and give t C/ha")
    if factor != 1.0:
        return (f" — convert {unit!r} to t C/ha: multiply by {factor:g} (1 kg C/m² = 10 t C/ha)"
                if factor == 10.0 else f" — convert {unit!r} to t C/ha: multiply by {factor:g}")
    return ""


def check_schema(path: Path, kind: str, rows: list[tuple[str, tuple]]) -> list[Issue]:
    """The rows of a set against its kind's schema: known parameter names, units, ranges,
    class codes, pools and strata; set-level: densities of plausible magnitude, weights not all
    zero, AHP judgements between factors of one group."""
    schema = KIND_SCHEMAS.get(kind)
    problems: list[Issue] = []
    if schema is None:
        return problems
    for k, (item, r) in enumerate(rows):
        parameter, class_code, pool, stratum, value, unit = r[:6]
        rule = schema.get(parameter)
        if rule is None:
            close = difflib.get_close_matches(parameter, list(schema), n=1, cutoff=0.6)
            problems.append(issue(path, item, "params.parameter", parameter=parameter,
                                  kind=kind, known=", ".join(schema),
                                  hint=f" (did you mean {close[0]!r}?)" if close else ""))
            continue
        canon = _canonical_unit(unit or "", rule.units)
        if canon is None:
            problems.append(issue(path, item, "value.unit", column="unit", value=unit,
                                  allowed=f"{', '.join(rule.units)} for {parameter}"
                                          f"{_unit_hint(parameter, unit or '')}"))
            continue
        if rule.class_code and class_code is None:
            problems.append(issue(path, item, "value.required",
                                  column=f"class_code (of {parameter})"))
            continue
        if rule.pools is not None and pool not in rule.pools:
            if pool is None:
                problems.append(issue(path, item, "value.required", column=f"pool (of "
                                      f"{parameter}: {', '.join(rule.pools)})"))
            else:
                problems.append(issue(path, item, "value.code", column="pool", value=pool,
                                      allowed=list(rule.pools)))
            continue
        if rule.stratum and not stratum:
            problems.append(issue(path, item, "value.required",
                                  column=f"stratum (of {parameter}: the {rule.stratum})"))
            continue
        lo, hi = rule.range
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            shown = f"[{lo:g}, {hi:g}]" if parameter != "ahp_pairwise" else "[1/9, 9]"
            note = rule.range_note
            if parameter in ("carbon_density", "biomass_after_conversion") and value > hi:
                note += ("; values this large look like kg C/ha or g C/m² (1 g C/m² = 0.01 "
                         "t C/ha, 1 kg C/ha = 0.001 t C/ha)")
            problems.append(issue(path, item, "value.range", column=parameter, value=value,
                                  range=shown + note))
            continue
        if rule.choices is not None and value not in rule.choices:
            problems.append(issue(path, item, "value.code", column=parameter, value=value,
                                  allowed=[f"{c:g}" for c in rule.choices]))
            continue
        if parameter == "threat_max_dist" and value <= 0:
            problems.append(issue(path, item, "value.range", column=parameter, value=value,
                                  range=f"(0, {hi:g}]{rule.range_note}"))
            continue
        if rule.stratum == "threat name" and not THREAT_NAME.fullmatch(str(stratum)):
            problems.append(issue(path, item, "value.type", column="stratum", value=stratum,
                                  type="threat name (lower case letters, digits and _, "
                                       "starting with a letter: the layer is threat_<name>)"))
            continue
        if kind == "transition_severity" and not str(stratum).strip().isdigit():
            problems.append(issue(path, item, "value.type", column="stratum", value=stratum,
                                  type="class code (the class at t2) of severity"))
            continue
        rows[k] = (item, (parameter, class_code, pool, stratum, value, canon, *r[6:]))
    if problems:
        return problems
    if kind == "carbon_pools":
        problems += _check_magnitude(path, rows)
    if kind == "weights":
        problems += _check_weights(path, rows)
    if kind == "services":
        problems += _check_threats(path, rows)
    return problems


def _check_threats(path: Path, rows) -> list[Issue]:
    """Every threat of the set with a weight has a sensitivity column, as InVEST requires, and
    the other way round (a sensitivity to a threat without a weight would be read by nothing)."""
    weighted = {r[3] for _, r in rows if r[0] == "threat_weight"}
    sensitive = {r[3] for _, r in rows if r[0] == "threat_sensitivity"}
    if not weighted or not sensitive or weighted == sensitive:
        return []
    out = []
    if weighted - sensitive:
        out.append(issue(path, "", "params.format",
                         detail=f"threat(s) {', '.join(sorted(weighted - sensitive))} have a "
                                "weight but no sensitivity column: the sensitivity table needs "
                                "one column per threat of the threat table"))
    if sensitive - weighted:
        out.append(issue(path, "", "params.format",
                         detail=f"sensitivity column(s) {', '.join(sorted(sensitive - weighted))}"
                                " name no threat of the threat table (THREAT, MAX_DIST, WEIGHT, "
                                "DECAY)"))
    return out


def _check_magnitude(path: Path, rows) -> list[Issue]:
    # zeros are classes without soil carbon (water, or SOC left to the IPCC defaults)
    soc = [r[4] for _, r in rows if r[0] == "carbon_density" and r[2] == "soc" and r[4] > 0]
    if soc and max(soc) < MIN_PLAUSIBLE_MAX_SOC:
        return [issue(path, "column value", "params.magnitude",
                      detail=f"every soc carbon_density is below {MIN_PLAUSIBLE_MAX_SOC:g} "
                             f"t C/ha (largest {max(soc):g}): these look like kg C/m² — "
                             "multiply by 10 to give t C/ha (1 kg C/m² = 10 t C/ha); "
                             "IPCC SOC_REF is at least 9 t C/ha in every climate and soil")]
    return []


def _check_weights(path: Path, rows) -> list[Issue]:
    problems: list[Issue] = []
    groups = builtin_factors()
    given: dict[str, list[float]] = {}
    for item, r in rows:
        parameter, stratum, value = r[0], r[3], r[4]
        if parameter in WEIGHT_GROUPS:
            group = WEIGHT_GROUPS[parameter]
            factor = str(stratum).strip()
            if groups.get(factor, group) != group:
                problems.append(issue(path, item, "params.weights",
                                      detail=f"{parameter} for factor {factor!r}, a "
                                             f"{groups[factor]} factor: its weight is a "
                                             f"{groups[factor]}_weight"))
                continue
            groups[factor] = group
            given.setdefault(group, []).append(value)
    for group, values in given.items():
        if all(v == 0 for v in values):
            problems.append(issue(path, "column value", "params.weights",
                                  detail=f"every {group}_weight of the set is 0: the "
                                         f"{group} group would score nothing and no area "
                                         "would be graded a priority; give at least one "
                                         "factor a positive weight (0 leaves a factor out)"))
    judged: dict[tuple[str, str], tuple[str, float]] = {}
    for item, r in rows:
        if r[0] != "ahp_pairwise":
            continue
        pair = str(r[3]).strip()
        a, sep, b = pair.partition(">")
        a, b = a.strip(), b.strip()
        if not sep or not a or not b or ">" in b:
            problems.append(issue(path, item, "params.ahp",
                                  detail=f"stratum {pair!r} is not a pair: write it "
                                         "factor_a>factor_b (a judged over b)"))
            continue
        unknown = [f for f in (a, b) if f not in groups]
        if unknown:
            problems.append(issue(path, item, "params.ahp",
                                  detail=f"{pair}: factor(s) {', '.join(map(repr, unknown))} "
                                         "are neither built-in factors "
                                         f"({', '.join(builtin_factors())}) nor given a weight "
                                         "in this set"))
        elif a == b:
            problems.append(issue(path, item, "params.ahp",
                                  detail=f"{pair}: a factor is not judged against itself"))
        elif groups[a] != groups[b]:
            problems.append(issue(path, item, "params.ahp",
                                  detail=f"{pair}: {a} is a {groups[a]} factor and {b} an "
                                         f"{groups[b]} factor; AHP judgements compare the "
                                         "factors of one group only (degradation with "
                                         "degradation, importance with importance)"))
        elif (b, a) in judged and abs(judged[(b, a)][1] * r[4] - 1) > 1e-6:
            other_item, other = judged[(b, a)]
            problems.append(issue(path, item, "params.ahp",
                                  detail=f"{pair} = {r[4]:g} contradicts {b}>{a} = {other:g} "
                                         f"({other_item}): the two must be reciprocal "
                                         f"({1 / other:.4g}); give one of them"))
        else:
            judged[(a, b)] = (item, r[4])
    return problems


def _rows(path: Path) -> tuple[list[tuple[str, tuple]], list, str]:
    table = read_features(path, require_geometry=False)
    if len(table) == 0:
        raise fail(path, "", "table.empty")
    if {"lucode", *INVEST_POOLS} <= set(table.columns):
        fields = [Field("lucode", "int", required=True),
                  *[Field(c, "float", required=True) for c in INVEST_POOLS]]
        good, problems = validate_rows(table, fields, {f.name: f.name for f in fields})
        rows = [(f"{table.items[i]}, column {col}",
                 ("carbon_density", v["lucode"], pool, None, v[col], "t C/ha", None, None))
                for i, v in good for col, pool in INVEST_POOLS.items()]
        return rows, problems, "invest_carbon_pools", []
    services = _invest_services(path, table)
    if services is not None:
        return services
    columns = resolve_columns(table, LONG_FIELDS)
    good, problems = validate_rows(table, LONG_FIELDS, columns)
    rows = [(table.items[i],
             (v["parameter"], v["class_code"], v["pool"], v["stratum"], v["value"], v["unit"],
              v["uncertainty_pct"], v["source"])) for i, v in good]
    return rows, problems, "long", []


# ------------------------------------------------------------------------------------------------
# InVEST tables of the ecosystem-service models (kind services)
# ------------------------------------------------------------------------------------------------
#: per-class columns of InVEST's SDR and annual water yield biophysical tables -> (parameter,
#: unit); column names match case-insensitively (LULC_veg, Kc)
INVEST_CLASS_COLUMNS = {"usle_c": ("usle_c", "1"), "usle_p": ("usle_p", "1"),
                        "kc": ("kc", "1"), "root_depth": ("root_depth", "mm"),
                        "lulc_veg": ("lulc_veg", "1")}
#: the columns each InVEST model requires together
INVEST_SDR = ("usle_c", "usle_p")
INVEST_AWY = ("kc", "root_depth", "lulc_veg")
#: columns of a sensitivity table that are not threats
SENSITIVITY_TEXT = ("lucode", "lulc", "name", "lulcname", "lulcdesc", "description", "habitat")
#: columns of a threat table that are read, and those that are known and not read
THREAT_IGNORED = ("descrip", "description", "curpath", "futpath", "basepath")
DECAY_CODES = {"linear": 0.0, "exponential": 1.0}
#: a bare MAX_DIST below this everywhere is kilometres (InVEST 3.14 and earlier), not metres
KM_SUSPECT_MAX = 50.0


def _invest_services(path: Path, table) -> tuple[list, list, str] | None:
    """An InVEST table of the service models, recognised by its columns, as parameter rows:

    * threat table (THREAT, MAX_DIST, WEIGHT, DECAY [, DESCRIP, CUR_PATH, FUT_PATH,
      BASE_PATH]): threat_max_dist (m), threat_weight and threat_decay (0 linear,
      1 exponential) per threat (stratum). MAX_DIST is metres since InVEST 3.15 (3.14 and the
      2013 tables: km); a column MAX_DIST_KM is read as km, MAX_DIST_M as metres; a bare
      MAX_DIST of at most 50 everywhere is refused as kilometres;
    * sensitivity table (lucode, [name,] habitat, one column per threat): habitat per class,
      threat_sensitivity per class and threat;
    * SDR / water-yield biophysical table (lucode with usle_c, usle_p and/or Kc, root_depth,
      LULC_veg): one parameter per class and column.

    Other columns are not read; they are named once in the log and the load record. Returns
    None for a table that is none of these."""
    by_norm = {}
    for c in table.columns:
        by_norm.setdefault(norm_name(c), c)
    has = set(by_norm)
    lucode = by_norm.get("lucode") or by_norm.get("lulc")
    if {"threat", "weight"} <= has and ({"maxdist", "maxdistkm", "maxdistm"} & has):
        return _invest_threats(path, table, by_norm)
    if lucode and "habitat" in has:
        return _invest_sensitivity(path, table, by_norm, lucode)
    present = {k for k in INVEST_CLASS_COLUMNS if norm_name(k) in has}
    if lucode and (present - {"root_depth"} or "etk" in has):
        return _invest_biophysical(path, table, by_norm, lucode)
    return None


def _ignored(path: Path, table, read: set[str], layout: str) -> list[str]:
    ignored = [c for c in table.columns if c not in read]
    if ignored:
        log.info("%s: %s — columns not read: %s", path, layout, ", ".join(ignored))
    return ignored


def _numbers(path: Path, table, columns: dict[str, str], required: tuple[str, ...],
             lucode: str | None):
    """Typed rows of ``columns`` (field -> column), every field a required number (lucode an
    integer class code)."""
    fields = [Field(f, "int" if f == "lucode" else "float", required=f in required)
              for f in columns]
    good, problems = validate_rows(table, fields, columns)
    if lucode:
        seen: dict = {}
        for i, v in good:
            seen.setdefault(v["lucode"], []).append(i)
        for code, idx in seen.items():
            if len(idx) > 1:
                problems.append(issue(path, table.items[idx[1]], "id.unique", column=lucode,
                                      value=code, count=len(idx)))
    return good, problems


def _invest_biophysical(path: Path, table, by_norm: dict, lucode: str):
    has = {k for k in INVEST_CLASS_COLUMNS if norm_name(k) in by_norm}
    wanted: list[str] = []
    layouts = []
    if has & set(INVEST_SDR):
        wanted += INVEST_SDR
        layouts.append("invest_sdr")
    if has & set(INVEST_AWY) - {"root_depth"}:
        wanted += INVEST_AWY
        layouts.append("invest_water_yield")
    if not layouts:  # lucode, etk [, root_depth] without Kc: InVEST's 2013 hydropower table
        raise fail(path, f"column {by_norm['etk']}", "params.format",
                   detail="an InVEST 2013 hydropower table (etk = Kc x 1000, no LULC_veg) is "
                          "not read as it is: give a column Kc = etk / 1000 and a column "
                          "LULC_veg (1 where the class is vegetation, 0 where not), the layout "
                          "of InVEST 3's annual water yield biophysical table")
    missing = [k for k in wanted if norm_name(k) not in by_norm]
    if missing:
        raise fail(path, "", "table.columns", missing=missing, found=list(table.columns))
    columns = {"lucode": lucode, **{k: by_norm[norm_name(k)] for k in wanted}}
    layout = "+".join(layouts)
    ignored = _ignored(path, table, set(columns.values()), layout)
    # InVEST reads root_depth of vegetated classes only (lulc_veg 1): it may be empty elsewhere
    good, problems = _numbers(path, table, columns,
                              tuple(k for k in columns if k != "root_depth"), lucode)
    rows = []
    for i, v in good:
        for k in wanted:
            if v[k] is None:  # root_depth
                if v["lulc_veg"] == 1:
                    problems.append(issue(path, table.items[i], "value.required",
                                          column=f"{columns[k]} (of a class with LULC_veg 1)"))
                continue
            rows.append((f"{table.items[i]}, column {columns[k]}",
                         (INVEST_CLASS_COLUMNS[k][0], v["lucode"], None, None, v[k],
                          INVEST_CLASS_COLUMNS[k][1], None, None)))
    return rows, problems, layout, ignored


def _invest_sensitivity(path: Path, table, by_norm: dict, lucode: str):
    text = {by_norm[k] for k in SENSITIVITY_TEXT if k in by_norm}
    threats = [c for c in table.columns if c not in text]
    if not threats:
        raise fail(path, "", "params.format",
                   detail="a habitat sensitivity table needs one column per threat besides "
                          "lucode, name and habitat")
    problems = []
    names = {}
    for c in threats:
        name = str(c).strip().casefold()
        if not THREAT_NAME.fullmatch(name):
            problems.append(issue(path, f"column {c}", "value.type", column="column name",
                                  value=c, type="threat name (letters, digits and _, starting "
                                                "with a letter: the layer is threat_<name>)"))
        names[c] = name
    if problems:
        return [], problems, "invest_sensitivity", []
    columns = {"lucode": lucode, "habitat": by_norm["habitat"], **{f"t:{c}": c for c in threats}}
    ignored = _ignored(path, table, set(columns.values()), "InVEST sensitivity table")
    good, problems = _numbers(path, table, columns, tuple(columns), lucode)
    rows = []
    for i, v in good:
        rows.append((f"{table.items[i]}, column {columns['habitat']}",
                     ("habitat", v["lucode"], None, None, v["habitat"], "1", None, None)))
        rows += [(f"{table.items[i]}, column {c}",
                  ("threat_sensitivity", v["lucode"], None, names[c], v[f"t:{c}"], "1", None,
                   None)) for c in threats]
    return rows, problems, "invest_sensitivity", ignored


def _invest_threats(path: Path, table, by_norm: dict):
    km = "maxdistkm" in by_norm
    dist_col = by_norm["maxdistkm"] if km else by_norm.get("maxdist") or by_norm["maxdistm"]
    if "decay" not in by_norm:
        raise fail(path, "", "params.format",
                   detail="a threat table needs a DECAY column (linear or exponential per "
                          "threat) as in InVEST 3.20; InVEST's 2013 tables have none and give "
                          "MAX_DIST in km: add DECAY, and rename MAX_DIST to MAX_DIST_KM (or "
                          "give metres)")
    columns = {"threat": by_norm["threat"], "max_dist": dist_col, "weight": by_norm["weight"],
               "decay": by_norm["decay"]}
    fields = [Field("threat", required=True), Field("max_dist", "float", required=True),
              Field("weight", "float", required=True),
              Field("decay", required=True, allowed=tuple(DECAY_CODES),
                    value_aliases=tuple((k.upper(), k) for k in DECAY_CODES))]
    ignored = _ignored(path, table, set(columns.values()), "InVEST threat table")
    good, problems = validate_rows(table, fields, columns)
    seen: dict = {}
    rows = []
    for i, v in good:
        item = table.items[i]
        name = v["threat"].strip().casefold()
        if not THREAT_NAME.fullmatch(name):
            problems.append(issue(path, item, "value.type", column=columns["threat"],
                                  value=v["threat"], type="threat name (letters, digits and _, "
                                  "starting with a letter: the layer is threat_<name>)"))
            continue
        seen.setdefault(name, []).append(item)
        metres = v["max_dist"] * 1000.0 if km else v["max_dist"]
        rows += [(f"{item}, column {columns['max_dist']}",
                  ("threat_max_dist", None, None, name, metres, "m", None, None)),
                 (f"{item}, column {columns['weight']}",
                  ("threat_weight", None, None, name, v["weight"], "1", None, None)),
                 (f"{item}, column {columns['decay']}",
                  ("threat_decay", None, None, name, DECAY_CODES[v["decay"]], "1", None,
                   None))]
    problems += [issue(path, items[1], "id.unique", column=columns["threat"], value=name,
                       count=len(items)) for name, items in seen.items() if len(items) > 1]
    dists = [r[4] for _, r in rows if r[0] == "threat_max_dist"]
    if dist_col == by_norm.get("maxdist") and dists and max(dists) <= KM_SUSPECT_MAX:
        problems.append(issue(path, f"column {dist_col}", "params.format",
                              detail=f"every MAX_DIST is at most {KM_SUSPECT_MAX:g} (largest "
                                     f"{max(dists):g}): MAX_DIST is metres since InVEST 3.15, "
                                     "and these look like kilometres (InVEST 3.14 and earlier): "
                                     "multiply by 1000, or name the column MAX_DIST_KM (or "
                                     "MAX_DIST_M if they are metres)"))
    return rows, problems, "invest_threats", ignored


def load_params(conn: psycopg.Connection, path: str | Path | Sequence[str | Path], *,
                region: str | None = None, name: str, kind: str, source_text: str,
                description: str | None = None, ipcc_edition: str | None = None,
                activate: bool = True) -> tuple[int, int]:
    """Load a parameter set owned by ``region`` (None: a global set); returns
    (parameter_set_id, version).

    ``path`` may be several files for kind ``services``: InVEST keeps the tables of its
    service models apart (SDR and water-yield biophysical tables, the habitat sensitivity and
    threat tables) while a run reads one services set, so the files make one set together,
    validated as one (a parameter given twice is refused naming both places). The same files
    again, in any order, are a no-op."""
    paths = [path] if isinstance(path, (str, Path)) else list(path)
    if not paths:
        raise LoadError("no parameter file given")
    files = [check_file(x, "CSV") for x in paths]
    p = files[0]
    if len(files) > 1 and kind != "services":
        raise fail(p, "", "params.format",
                   detail=f"several files make one parameter set only for kind services "
                          f"(InVEST's tables of the service models); a {kind} set is one file")
    if len({f.resolve() for f in files}) < len(files):
        raise fail(p, "", "params.format", detail="the same file is given twice")
    if kind not in PARAMETER_KINDS:
        raise fail(p, "--kind", "value.code", column="kind", value=kind,
                   allowed=list(PARAMETER_KINDS))
    if not name or not name.strip():
        raise fail(p, "--name", "value.required", column="name (parameter set name)")
    if not source_text or not source_text.strip():
        raise fail(p, "--source", "value.required", column="source (bibliographic source)")
    if ipcc_edition not in (None, "2006", "2019"):
        raise fail(p, "--ipcc-edition", "value.code", column="ipcc_edition", value=ipcc_edition,
                   allowed=["2006", "2019"])
    region_id = None
    if region is not None:
        region_id = get_region(conn, region).region_id
        conn.rollback()
    per_file, problems, layouts, ignored = [], [], [], {}
    for f in files:
        found, found_problems, layout, skipped = _rows(f)
        per_file.append(found)
        problems += found_problems
        layouts.append(layout)
        if skipped:
            ignored[f.name] = skipped
    seen: dict = {}
    for f, found in zip(files, per_file, strict=True):
        for item, r in found:
            seen.setdefault((r[0], r[1], r[2], r[3]), []).append((f, item))
    for k, places in seen.items():
        if len(places) > 1:
            f, item = places[1]
            first = places[0][1] if places[0][0] == f else f"{places[0][0].name}, {places[0][1]}"
            problems.append(issue(f, item, "id.unique", column="parameter/class_code/pool/"
                                  f"stratum (also in {first})", value=k, count=len(places)))
    if not problems:
        for f, found in zip(files, per_file, strict=True):
            problems += check_schema(f, kind, found)
    if not problems and len(files) > 1 and kind == "services":
        problems += _check_threats(" + ".join(f.name for f in files),
                                   [x for found in per_file for x in found])
    if problems:  # a parameter set is all or nothing
        raise LoadError(problems)
    rows = [r for found in per_file for _, r in found]
    layout = "+".join(layouts)
    if len(files) == 1:
        sha = sha256_file(p)
        source = str(p)
    else:  # the set of files, whatever their order
        sha = hashlib.sha256("\n".join(sorted(sha256_file(f) for f in files)).encode()
                             ).hexdigest()
        source = " + ".join(str(f) for f in files)
    owner = f"region {region}" if region is not None else "global"
    done = previous_load(conn, "params", sha, layer=name, region_id=region_id)
    if done:
        row = conn.execute("select parameter_set_id, version, is_active from "
                           "registry.parameter_sets where load_id = %s", (done,)).fetchone()
        active = conn.execute("select max(version) filter (where is_active) from "
                              "registry.parameter_sets where region_id is not distinct from %s "
                              "and name = %s", (region_id, name)).fetchone()[0]
        conn.rollback()
        log.info("parameter set %s (%s) already loaded from this file (version %d)", name, owner,
                 row[1])
        if not row[2]:
            where = "--global " if region is None else f"{region} "
            log.warning("parameter set %s (%s): this file is version %d, which is not the "
                        "active one (%s); loading an earlier file again does not go back to "
                        "it: run `ecorest params activate %s%s@%d`", name, owner, row[1],
                        f"version {active} is" if active else "no version is", where, name,
                        row[1])
        return row[0], row[1]
    other = conn.execute("select kind from registry.parameter_sets where region_id is not "
                         "distinct from %s and name = %s and kind <> %s limit 1",
                         (region_id, name, kind)).fetchone()
    conn.rollback()
    if other:
        raise fail(p, "--kind", "params.kind", name=name, owner=owner, stored=other[0],
                   given=kind)
    options = {"kind": kind, "layout": layout, "ipcc_edition": ipcc_edition}
    if len(files) > 1:
        options["files"] = [str(f) for f in files]
    if ignored:
        options["columns_not_read"] = ignored
    with recorded_load(conn, "params", source, sha, region_id=region_id, layer=name,
                       options=options) as ctx:
        # versions count per owner (the region, or the global sets) and name
        version = conn.execute("select coalesce(max(version), 0) + 1 from "
                               "registry.parameter_sets where region_id is not distinct from %s "
                               "and name = %s", (region_id, name)).fetchone()[0]
        if activate:
            conn.execute("update registry.parameter_sets set is_active = false "
                         "where region_id is not distinct from %s and name = %s",
                         (region_id, name))
        set_id = conn.execute(
            "insert into registry.parameter_sets (region_id, name, version, kind, description, "
            "source_text, source_sha256, ipcc_edition, is_active, load_id) values (%s, %s, %s, "
            "%s, %s, %s, %s, %s, %s, %s) returning parameter_set_id",
            (region_id, name, version, kind, description, source_text, sha, ipcc_edition,
             activate, ctx.load_id)).fetchone()[0]
        with conn.cursor() as cur:
            cur.executemany(
                "insert into registry.parameter_values (parameter_set_id, parameter, class_code, "
                "pool, stratum, value, unit, uncertainty_pct, source) values "
                "(%s, %s, %s, %s, %s, %s, %s, %s, %s)", [(set_id, *r) for r in rows])
        ctx.rows_read = ctx.rows_loaded = len(rows)
        ctx.message = (f"parameter set {name} v{version} ({owner}, {layout}): "
                       f"{len(rows)} values" + "".join(
                           f"; {f}: columns not read: {', '.join(map(str, cols))}"
                           for f, cols in ignored.items()))
    return set_id, version


def activate_params(conn: psycopg.Connection, spec: str, *, region: str | None = None,
                    ) -> dict:
    """Make ``NAME[@VERSION]`` the active version of its name (without a version: the newest).

    Region-aware like ``ecorest run --params`` (:func:`ecorest.run.resolve_pins`): the
    region's own set of that name, else the global one; ``region=None`` names a global set.
    Every other version of the name (same owner) becomes inactive. Recorded in ``etl.loads``
    (loader ``params``, options ``{"action": "activate"}``). Returns name, version, the
    previously active version, owner and kind.
    """
    from ecorest.run import parse_pin, resolve_pins

    if region is not None:
        region_id = get_region(conn, region).region_id
        label = region
    else:
        region_id, label = None, "(global sets only)"
    try:
        name, _ = parse_pin(spec)
        pinned = resolve_pins(conn, region_id, label, [spec])
    except LoadError as exc:  # the messages of `run --params`, said of this command
        conn.rollback()
        raise LoadError(str(exc).replace("--params ", "params activate ", 1)) from None
    [(key, set_id)] = pinned.items()
    version = int(key.rpartition("@")[2])
    owner_id, kind, is_active = conn.execute(
        "select region_id, kind, is_active from registry.parameter_sets "
        "where parameter_set_id = %s", (set_id,)).fetchone()
    previous = conn.execute(
        "select max(version) filter (where is_active) from registry.parameter_sets "
        "where region_id is not distinct from %s and name = %s", (owner_id, name)).fetchone()[0]
    conn.rollback()
    owner = "global" if owner_id is None else f"region {region}"
    result = {"name": name, "version": version, "previous": previous, "owner": owner,
              "kind": kind, "changed": not (is_active and previous == version)}
    if not result["changed"]:
        log.info("parameter set %s@%d (%s) is the active version already", name, version, owner)
        return result
    text = f"ecorest params activate {name}@{version} ({owner})"
    sha = hashlib.sha256(f"{text} {set_id}".encode()).hexdigest()
    with recorded_load(conn, "params", text, sha, region_id=owner_id, layer=name,
                       options={"action": "activate", "parameter_set_id": set_id,
                                "version": version, "previous_version": previous,
                                "kind": kind}) as ctx:
        conn.execute("update registry.parameter_sets set is_active = (parameter_set_id = %s) "
                     "where region_id is not distinct from %s and name = %s",
                     (set_id, owner_id, name))
        ctx.message = (f"parameter set {name} ({owner}): version {version} active "
                       f"(was {previous if previous else 'none'})")
    return result
