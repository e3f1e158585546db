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
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import psycopg

from ecorest import assets
from ecorest.errors import LoadError
from ecorest.vocab import CARBON_POOLS, PARAMETER_KINDS

from .loadlog import check_file, previous_load, recorded_load, sha256_file
from .regions import get_region
from .specs import Field, resolve_columns, validate_rows
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


@dataclass(frozen=True)
class ParamRule:
    """What one parameter of a kind must look like."""

    units: tuple[str, ...]
    range: tuple[float | None, float | None]
    range_note: str = ""
    class_code: bool = False      # a class code is required
    pools: tuple[str, ...] | None = None   # a pool is required, one of these
    stratum: str | None = None    # what the stratum holds, when it is required


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
        "usle_c": ParamRule(UNITLESS, (0, 1), " — the RUSLE cover factor C is a fraction",
                            class_code=True),
        "usle_p": ParamRule(UNITLESS, (0, 1), " — the RUSLE support-practice factor P is a "
                            "fraction", class_code=True),
        "kc": ParamRule(UNITLESS, (0, 3), " — a crop coefficient Kc lies in 0 ... 3 (InVEST's "
                        "etk columns are Kc x 1000)", class_code=True),
        "root_depth": ParamRule(("mm",), (0, 100000), " mm", class_code=True),
        "lulc_veg": ParamRule(UNITLESS, (0, 1), " — 1 vegetated (Budyko-Zhang AET), 0 not",
                              class_code=True),
        "runoff_coefficient": ParamRule(UNITLESS, (0, 1), " — the share of precipitation that "
                                        "runs off (HJ 1173 water balance)", class_code=True),
        "habitat": ParamRule(UNITLESS, (0, 1), " — habitat suitability lies in 0 ... 1",
                             class_code=True),
        "threat_sensitivity": ParamRule(UNITLESS, (0, 1), " — sensitivity of a habitat to a "
                                        "threat lies in 0 ... 1", class_code=True,
                                        stratum="threat name"),
        "threat_max_dist": ParamRule(("m",), (0, 1000000), " m — the distance at which a "
                                     "threat's effect ends", stratum="threat name"),
        "threat_weight": ParamRule(UNITLESS, (0, 1), " — a threat's weight lies in 0 ... 1",
                                   stratum="threat name"),
        "threat_decay": ParamRule(UNITLESS, (0, 1), " — 0 linear, 1 exponential decay",
                                  stratum="threat name"),
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
    return problems


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
        return rows, problems, "invest_carbon_pools"
    columns = resolve_columns(table, LONG_FIELDS)
    good, problems = validate_rows(table, LONG_FIELDS, columns)
    rows = [(table.items[i],
             (v["parameter"], v["class_code"], v["pool"], v["stratum"], v["value"], v["unit"],
              v["uncertainty_pct"], v["source"])) for i, v in good]
    return rows, problems, "long"


def load_params(conn: psycopg.Connection, path: str | Path, *, region: str | None = None,
                name: str, kind: str, source_text: str, description: str | None = None,
                ipcc_edition: str | None = None, activate: bool = True) -> tuple[int, int]:
    """Load a parameter set owned by ``region`` (None: a global set); returns
    (parameter_set_id, version)."""
    p = check_file(path, "CSV")
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
    found, problems, layout = _rows(p)
    seen: dict = {}
    for item, r in found:
        seen.setdefault((r[0], r[1], r[2], r[3]), []).append(item)
    problems += [issue(p, items[1], "id.unique", column="parameter/class_code/pool/stratum",
                       value=k, count=len(items)) for k, items in seen.items() if len(items) > 1]
    if not problems:
        problems += check_schema(p, kind, found)
    if problems:  # a parameter set is all or nothing
        raise LoadError(problems)
    rows = [r for _, r in found]
    sha = sha256_file(p)
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
    with recorded_load(conn, "params", p, sha, region_id=region_id, layer=name,
                       options={"kind": kind, "layout": layout,
                                "ipcc_edition": ipcc_edition}) as ctx:
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
                       f"{len(rows)} values")
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
