"""QGIS: a region's raster layers published in schema ``maps`` and a styled project (.qgz).

``publish`` writes one table per layer and epoch (every current input layer of the region
and the run's results: priority grades, composite score, total carbon density per epoch and
its change), cropped to the region's grid, in physical values (the catalog's scale and offset
applied: NDVI reads as NDVI), every tile present (nodata where there are no data, so that no
tile renders black), with PostGIS raster constraints (SRID, scale, block size, extent ...),
overview tables ``o_<factor>_<table>`` registered in ``raster_overviews`` and a comment; the
list is ``maps.layers``.

``write_project`` writes a QGIS project over the bi views (zones, patches, projects: their
first column ``row_key`` is the key QGIS needs) and those tables, styled: the grade palette
with class names, a carbon-density ramp, a diverging change ramp, the legend's land-cover
colours. Every layer carries its CRS in the project (the region's grid CRS as WKT), so a CRS
without an EPSG code (CGCS2000 / Albers, SRID 990001) is valid in QGIS. The project stores no
password: QGIS asks for it (or takes it from a pg_service / PGPASSFILE entry).
"""

from __future__ import annotations

import logging
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from xml.etree import ElementTree as ET

import numpy as np
import psycopg
from psycopg import sql

from ecorest.wkb import raster_wkb

from . import data

log = logging.getLogger(__name__)

#: priority grades: colour (as in the report's map and the GeoTIFF)
GRADE_COLOURS = {1: "#b2182b", 2: "#ef8a62", 3: "#fddbc7", 4: "#67a9cf", 5: "#e0e0e0"}
#: colours of land-cover classes without a colour of their own in the legend
FALLBACK_COLOURS = ["#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02",
                    "#a6761d", "#666666", "#1f78b4", "#b2df8a", "#fb9a99", "#cab2d6"]
QGIS_VERSION = "3.22.16-Białowieża"
NODATA_FLOAT = -9999.0


@dataclass
class MapLayer:
    """A published raster layer (a row of maps.layers, with its style)."""

    table_name: str
    layer: str
    epoch_label: str | None
    title: str
    units: str
    value_kind: str                     # categorical | continuous
    source: str
    run_id: int | None = None
    classes: dict[int, tuple[str, str]] = field(default_factory=dict)  # code -> (label, colour)
    vmin: float = 0.0
    vmax: float = 1.0
    ramp: str = "sequential"            # sequential | diverging | grey


def table_name(region: str, *parts: str) -> str:
    """maps table of a region's layer (and epoch): lower case letters, digits and _."""
    name = "_".join([region, *[p for p in parts if p]]).lower()
    name = re.sub(r"[^a-z0-9_]+", "_", name).strip("_")
    if not re.match(r"[a-z_]", name):
        name = "r_" + name
    return name[:50]  # room for the overview prefix o_<factor>_ within 63 characters


def _grid_of(conn, cid: int) -> data.Grid | None:
    return data.mosaic(conn, "select rast from raster.tiles where catalog_id = %s", (cid,))


def _layers(conn, region: str, run_id: int, reg: dict) -> list[tuple[MapLayer, data.Grid]]:
    """Every layer to publish with its values on the region grid."""
    from .export import crop

    out: list[tuple[MapLayer, data.Grid]] = []
    names = {r["grade"]: f"{r['grade']} {r['name_en']} {r['name_zh']}" for r in data.rows(
        conn, "select grade, name_en, name_zh from intermediate.priority_grades", ())}
    grade = data.mosaic(conn, "select rast from marts.priority_tiles where run_id = %s",
                        (run_id,), band=1)
    if grade is not None:
        g = crop(grade, reg)
        g.values[g.values == 0] = np.nan
        out.append((MapLayer(table_name(region, "priority_grade"), "priority_grade", None,
                             f"{region}: restoration priority grade 修复优先等级 (run {run_id})",
                             "grade", "categorical", f"marts.priority_tiles band 1, run {run_id}",
                             run_id, {k: (v, GRADE_COLOURS[k]) for k, v in names.items()}), g))
        score = crop(data.mosaic(conn, "select rast from marts.priority_tiles "
                                 "where run_id = %s", (run_id,), band=2), reg)
        out.append((MapLayer(table_name(region, "composite_score"), "composite_score", None,
                             f"{region}: composite restoration score 综合得分 (run {run_id})",
                             "1", "continuous", f"marts.priority_tiles band 2, run {run_id}",
                             run_id, vmin=0.0, vmax=1.0), score))
    changes = data.rows(conn, "select distinct epoch_t1, epoch_t2 from "
                        "marts.carbon_stock_changes where run_id = %s order by 1", (run_id,))
    pools = [r["pool"] for r in data.rows(conn, "select distinct pool from "
                                          "marts.parameter_lineage where run_id = %s "
                                          "and parameter = 'carbon_density' "
                                          "order by 1", (run_id,))]
    epochs = sorted({r[c] for r in changes for c in ("epoch_t1", "epoch_t2")})
    totals = {e: data.density_grid(conn, run_id, e, pools) for e in epochs}
    top = max([float(np.nanmax(t.values)) for t in totals.values()
               if t is not None and np.isfinite(t.values).any()] or [1.0])
    for e, t in totals.items():
        if t is not None:
            out.append((MapLayer(table_name(region, "carbon_density", e), "carbon_density", e,
                                 f"{region}: total carbon density 碳密度 {e} (t C/ha, run "
                                 f"{run_id})", "t C/ha", "continuous",
                                 f"raster.carbon_density_tiles, pools {', '.join(pools)}, "
                                 f"run {run_id}", run_id, vmin=0.0, vmax=top), crop(t, reg)))
    if changes and totals.get(changes[0]["epoch_t1"]) is not None \
            and totals.get(changes[-1]["epoch_t2"]) is not None:
        first, last = changes[0]["epoch_t1"], changes[-1]["epoch_t2"]
        d = data.difference(totals[first], totals[last])
        if d is not None:
            lim = float(np.nanmax(np.abs(d.values))) if np.isfinite(d.values).any() else 1.0
            out.append((MapLayer(table_name(region, "carbon_density_change"),
                                 "carbon_density_change", f"{first}-{last}",
                                 f"{region}: carbon density change 碳密度变化 {first}–{last} "
                                 f"(t C/ha, run {run_id})", "t C/ha", "continuous",
                                 f"{last} minus {first}, run {run_id}", run_id,
                                 vmin=-max(lim, 1e-9), vmax=max(lim, 1e-9), ramp="diverging"),
                        crop(d, reg)))
    inputs = data.rows(conn, """
        select c.catalog_id, c.layer, c.epoch_label, c.value_kind, c.scale_factor,
               c.add_offset, c.units, c.legend_id, regexp_replace(c.source_path, '^.*/', '')
               as file
        from raster.catalog c join registry.regions r using (region_id)
        where r.name = %s and c.is_current and c.tile_count > 0
        order by c.layer, c.epoch_date""", (region,))
    for c in inputs:
        g = _grid_of(conn, c["catalog_id"])
        if g is None:
            continue
        g = crop(g, reg)
        categorical = c["layer"] == "landcover" or c["value_kind"] in ("class", "categorical")
        layer = MapLayer(table_name(region, c["layer"], c["epoch_label"]), c["layer"],
                         c["epoch_label"], f"{region}: {c['layer']} {c['epoch_label']}",
                         c["units"] or ("class" if categorical else ""),
                         "categorical" if categorical else "continuous",
                         f"raster.catalog {c['catalog_id']} ({c['file']})")
        if categorical:
            legend = {r["class_code"]: r for r in data.rows(
                conn, "select class_code, name_en, name_zh, color_hex from "
                "registry.legend_classes where legend_id = %s", (c["legend_id"],))} \
                if c["legend_id"] else {}
            codes = sorted(int(v) for v in np.unique(g.values[np.isfinite(g.values)]))
            for i, code in enumerate(codes):
                r = legend.get(code)
                label = f"{code} {r['name_en']}" + (f" {r['name_zh']}" if r and r["name_zh"]
                                                    else "") if r else str(code)
                colour = (r["color_hex"] if r and r["color_hex"] else
                          FALLBACK_COLOURS[i % len(FALLBACK_COLOURS)])
                layer.classes[code] = (label, colour)
        else:
            g = data.Grid(g.values * float(c["scale_factor"]) + float(c["add_offset"]),
                          g.left, g.top, g.pixel_m)
            finite = g.values[np.isfinite(g.values)]
            if finite.size:
                layer.vmin, layer.vmax = (float(np.percentile(finite, 2)),
                                          float(np.percentile(finite, 98)))
            layer.ramp = "grey" if c["layer"] == "dem" else "sequential"
            if c["scale_factor"] != 1 or c["add_offset"] != 0:
                layer.source += (f"; physical value = stored x {c['scale_factor']:g} + "
                                 f"{c['add_offset']:g}")
        out.append((layer, g))
    return out


def _pixel_type(layer: MapLayer, g: data.Grid) -> tuple[str, float]:
    if layer.value_kind == "categorical":
        finite = g.values[np.isfinite(g.values)]
        if finite.size == 0 or (finite.min() >= 0 and finite.max() <= 254):
            return "8BUI", 255.0
        return "32BSI", -2147483648.0
    return "32BF", NODATA_FLOAT


def _overview(a: np.ndarray, f: int, categorical: bool) -> np.ndarray:
    """``a`` reduced by ``f`` (nearest for classes, the mean of valid pixels otherwise)."""
    if categorical:
        return a[::f, ::f]
    h, w = -(-a.shape[0] // f) * f, -(-a.shape[1] // f) * f
    p = np.full((h, w), np.nan)
    p[:a.shape[0], :a.shape[1]] = a
    blocks = p.reshape(h // f, f, w // f, f)
    n = np.isfinite(blocks).sum(axis=(1, 3))
    s = np.nansum(blocks, axis=(1, 3))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, s / np.maximum(n, 1), np.nan)


def _write_table(conn, name: str, a: np.ndarray, left: float, top: float, px: float,
                 srid: int, tile: int, ptype: str, nodata: float) -> None:
    """A raster table of ``a`` in tiles of ``tile`` px, every tile present (nodata-filled)."""
    conn.execute(sql.SQL("create table {} (rid serial primary key, rast raster not null)")
                 .format(sql.Identifier("maps", name)))
    h, w = a.shape
    dtype = {"8BUI": np.uint8, "32BSI": np.int32, "32BF": np.float32}[ptype]
    rows = []
    for r0 in range(0, h, tile):
        for c0 in range(0, w, tile):
            block = np.full((min(tile, h - r0), min(tile, w - c0)), nodata, dtype=np.float64)
            part = a[r0:r0 + tile, c0:c0 + tile]
            np.copyto(block, part, where=np.isfinite(part))
            rows.append((raster_wkb(block.astype(dtype), ptype, nodata, left + c0 * px,
                                    top - r0 * px, px, srid),))
    with conn.cursor() as cur:
        cur.executemany(sql.SQL("insert into {} (rast) values (st_rastfromwkb(%s))")
                        .format(sql.Identifier("maps", name)), rows)
    conn.execute("select addrasterconstraints('maps'::name, %s::name, 'rast'::name)", (name,))


def _drop(conn, region_id: int) -> None:
    """Drop the region's published tables and their overviews."""
    for (t,) in conn.execute("select table_name from maps.layers where region_id = %s",
                             (region_id,)).fetchall():
        for (o,) in conn.execute("select o_table_name from raster_overviews "
                                 "where r_table_schema = 'maps' and r_table_name = %s",
                                 (t,)).fetchall():
            conn.execute(sql.SQL("drop table if exists {}").format(sql.Identifier("maps", o)))
        conn.execute(sql.SQL("drop table if exists {}").format(sql.Identifier("maps", t)))
    conn.execute("delete from maps.layers where region_id = %s", (region_id,))


def publish(conn: psycopg.Connection, region: str, run_id: int) -> list[MapLayer]:
    """Publish the region's raster layers in schema maps (replacing the ones published before,
    in one committed transaction of their own, as ecorest_etl); returns them with their
    styles."""
    from .export import region_grid

    reg = region_grid(conn, region)
    info = data.rows(conn, "select region_id, tile_size_px from registry.regions "
                           "where name = %s", (region,))[0]
    layers = _layers(conn, region, run_id, reg)
    px, srid = float(reg["pixel_size_m"]), int(reg["srid"])
    tile = min(int(info["tile_size_px"]), 256)
    conn.commit()  # end the caller's (read) transaction: the layers are published in their own
    with conn.transaction():
        conn.execute("set local role ecorest_etl")
        _drop(conn, info["region_id"])
        for layer, g in layers:
            ptype, nodata = _pixel_type(layer, g)
            _write_table(conn, layer.table_name, g.values, reg["origin_x"], reg["origin_y"],
                         px, srid, tile, ptype, nodata)
            f = 2
            while max(g.values.shape) / f >= 16:
                o = f"o_{f}_{layer.table_name}"
                _write_table(conn, o, _overview(g.values, f, layer.value_kind == "categorical"),
                             reg["origin_x"], reg["origin_y"], px * f, srid, tile, ptype, nodata)
                conn.execute("select addoverviewconstraints('maps'::name, %s::name, 'rast'::name, "
                             "'maps'::name, %s::name, 'rast'::name, %s::int)",
                             (o, layer.table_name, f))
                conn.execute(sql.SQL("comment on table {} is {}").format(
                    sql.Identifier("maps", o),
                    sql.Literal(f"Overview (1/{f}) of maps.{layer.table_name}")))
                f *= 2
            conn.execute(sql.SQL("comment on table {} is {}").format(
                sql.Identifier("maps", layer.table_name),
                sql.Literal(f"{layer.title}; units {layer.units or '-'}; {layer.value_kind}; "
                            f"source {layer.source}")))
            conn.execute(sql.SQL("comment on column {}.rast is {}").format(
                sql.Identifier("maps", layer.table_name),
                sql.Literal(f"{layer.layer} {layer.epoch_label or ''} ({layer.units or '-'}, "
                            f"nodata {nodata:g})")))
            conn.execute("insert into maps.layers (table_name, region_id, run_id, layer, "
                         "epoch_label, title, units, value_kind, source) "
                         "values (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                         (layer.table_name, info["region_id"], layer.run_id, layer.layer,
                          layer.epoch_label, layer.title, layer.units, layer.value_kind,
                          layer.source))
    log.info("published %d raster layers of %s in schema maps", len(layers), region)
    return [layer for layer, _ in layers]


# --- the project ---------------------------------------------------------------------------------

def _connection(conn: psycopg.Connection) -> str:
    i = conn.info
    return (f"dbname='{i.dbname}' host={i.host} port={i.port} user='{i.user}' "
            f"sslmode=disable")


def _srs(parent: ET.Element, wkt: str, authid: str, description: str) -> None:
    srs = ET.SubElement(ET.SubElement(parent, "srs"), "spatialrefsys", nativeFormat="Wkt")
    ET.SubElement(srs, "wkt").text = wkt
    ET.SubElement(srs, "proj4").text = ""
    ET.SubElement(srs, "srsid").text = "0"
    ET.SubElement(srs, "srid").text = authid.split(":")[1] if authid.startswith("EPSG:") else "0"
    ET.SubElement(srs, "authid").text = authid
    ET.SubElement(srs, "description").text = description
    ET.SubElement(srs, "projectionacronym").text = ""
    ET.SubElement(srs, "ellipsoidacronym").text = ""
    ET.SubElement(srs, "geographicflag").text = "true" if authid == "EPSG:4326" else "false"


def _rgba(colour: str, alpha: int = 255) -> str:
    return f"{int(colour[1:3], 16)},{int(colour[3:5], 16)},{int(colour[5:7], 16)},{alpha}"


def _fill_symbol(parent: ET.Element, name: str, colour: str, outline: str = "#333333",
                 alpha: int = 255, width: str = "0.26") -> None:
    s = ET.SubElement(parent, "symbol", type="fill", name=name, alpha="1", clip_to_extent="1",
                      force_rhr="0")
    layer = ET.SubElement(s, "layer", {"class": "SimpleFill", "enabled": "1", "locked": "0",
                                       "pass": "0"})
    props = {"color": _rgba(colour, alpha), "outline_color": _rgba(outline),
             "outline_style": "solid", "outline_width": width, "outline_width_unit": "MM",
             "style": "solid" if alpha else "no", "joinstyle": "bevel"}
    for k, v in props.items():
        ET.SubElement(layer, "prop", k=k, v=v)


def _vector(parent: ET.Element, lid: str, title: str, source: str, abstract: str,
            renderer: ET.Element) -> ET.Element:
    m = ET.SubElement(parent, "maplayer", type="vector", geometry="Polygon",
                      wkbType="MultiPolygon", autoRefreshEnabled="0", refreshOnNotifyEnabled="0")
    ET.SubElement(m, "id").text = lid
    ET.SubElement(m, "datasource").text = source
    ET.SubElement(m, "layername").text = title
    ET.SubElement(m, "abstract").text = abstract
    from pyproj import CRS

    _srs(m, CRS.from_epsg(4326).to_wkt(), "EPSG:4326", "WGS 84")
    ET.SubElement(m, "provider", encoding="").text = "postgres"
    m.append(renderer)
    return m


def _ramp_items(layer: MapLayer) -> list[tuple[float, str, str]]:
    lo, hi = layer.vmin, layer.vmax if layer.vmax > layer.vmin else layer.vmin + 1
    if layer.ramp == "diverging":
        stops = ["#b2182b", "#f7f7f7", "#1a9850"]
    elif layer.ramp == "grey":
        stops = ["#000000", "#ffffff"]
    elif layer.layer in ("ndvi", "evi", "fvc"):
        stops = ["#a6611a", "#f5f5c8", "#4dac26", "#00441b"]
    else:
        stops = ["#f7fcf5", "#a1d99b", "#41ab5d", "#00441b"]
    n = len(stops) - 1
    return [(lo + (hi - lo) * i / n, c, f"{lo + (hi - lo) * i / n:.4g} {layer.units}".strip())
            for i, c in enumerate(stops)]


def _raster(parent: ET.Element, lid: str, layer: MapLayer, source: str, wkt: str,
            authid: str, crs_name: str) -> ET.Element:
    m = ET.SubElement(parent, "maplayer", type="raster", autoRefreshEnabled="0",
                      refreshOnNotifyEnabled="0")
    ET.SubElement(m, "id").text = lid
    ET.SubElement(m, "datasource").text = source
    ET.SubElement(m, "layername").text = layer.title
    ET.SubElement(m, "abstract").text = f"{layer.source} (units: {layer.units or '-'})"
    _srs(m, wkt, authid, crs_name)
    ET.SubElement(m, "provider").text = "postgresraster"
    pipe = ET.SubElement(m, "pipe")
    if layer.value_kind == "categorical":
        r = ET.SubElement(pipe, "rasterrenderer", type="paletted", band="1", opacity="1",
                          alphaBand="-1", nodataColor="")
        pal = ET.SubElement(r, "colorPalette")
        for code, (label, colour) in sorted(layer.classes.items()):
            ET.SubElement(pal, "paletteEntry", value=str(code), color=colour, alpha="255",
                          label=label)
    else:
        r = ET.SubElement(pipe, "rasterrenderer", type="singlebandpseudocolor", band="1",
                          opacity="1", alphaBand="-1", classificationMin=f"{layer.vmin:.17g}",
                          classificationMax=f"{layer.vmax:.17g}", nodataColor="")
        ET.SubElement(r, "minMaxOrigin")
        shader = ET.SubElement(ET.SubElement(r, "rastershader"), "colorrampshader",
                               colorRampType="INTERPOLATED", classificationMode="1",
                               clip="0", minimumValue=f"{layer.vmin:.17g}",
                               maximumValue=f"{layer.vmax:.17g}")
        for value, colour, label in _ramp_items(layer):
            ET.SubElement(shader, "item", value=f"{value:.17g}", color=colour, alpha="255",
                          label=label)
    ET.SubElement(pipe, "brightnesscontrast", brightness="0", contrast="0", gamma="1")
    ET.SubElement(pipe, "huesaturation", saturation="0", grayscaleMode="0",
                  colorizeOn="0", colorizeRed="255", colorizeGreen="128", colorizeBlue="128",
                  colorizeStrength="100")
    ET.SubElement(pipe, "rasterresampler", maxOversampling="2")
    return m


def project_xml(conn: psycopg.Connection, region: str, run_id: int,
                layers: list[MapLayer]) -> ET.ElementTree:
    """The QGIS project (.qgs XML) of a region's published layers and bi views."""
    from ecorest.etl.regions import grid_crs

    reg = data.rows(conn, "select srid, crs_name, origin_x, origin_y, pixel_size_m, width_px, "
                          "height_px from registry.regions where name = %s", (region,))[0]
    crs = grid_crs(conn, reg["srid"])
    if crs.is_bound:  # srtext with TOWGS84: the CRS itself, not the transformation to WGS 84
        crs = crs.source_crs
    wkt = crs.to_wkt()
    authid = f"EPSG:{crs.to_epsg()}" if crs.to_epsg() else ""
    base = _connection(conn)
    flt = f"\"region_name\" = '{region.replace(chr(39), chr(39) * 2)}'"
    root = ET.Element("qgis", projectname=f"ecorest {region} run {run_id}",
                      version=QGIS_VERSION)
    ET.SubElement(root, "homePath", path="")
    ET.SubElement(root, "title").text = f"ecorest: {region}, run {run_id}"
    pc = ET.SubElement(root, "projectCrs")
    _srs(pc, wkt, authid, reg["crs_name"])
    pc.append(pc.find("srs/spatialrefsys"))
    pc.remove(pc.find("srs"))
    props = ET.SubElement(ET.SubElement(root, "properties"), "SpatialRefSys")
    ET.SubElement(props, "ProjectionsEnabled", type="int").text = "1"  # read projectCrs
    tree = ET.SubElement(root, "layer-tree-group")
    ET.SubElement(tree, "customproperties")
    maplayers = ET.SubElement(root, "projectlayers")

    def group(title: str, checked: bool = True) -> ET.Element:
        return ET.SubElement(tree, "layer-tree-group", name=title, expanded="1",
                             checked="Qt::Checked" if checked else "Qt::Unchecked")

    def node(g: ET.Element, lid: str, title: str, source: str, provider: str,
             checked: bool) -> None:
        ET.SubElement(g, "layer-tree-layer", id=lid, name=title, source=source,
                      providerKey=provider, expanded="0",
                      checked="Qt::Checked" if checked else "Qt::Unchecked")

    results = group("结果 Results")
    # vectors over the bi views: key row_key (their first column), geometry geom (EPSG:4326)
    vectors = []
    r = ET.Element("renderer-v2", type="categorizedSymbol", attr="grade", symbollevels="0",
                   enableorderby="0", forceraster="0")
    cats, syms = ET.SubElement(r, "categories"), ET.SubElement(r, "symbols")
    grades = data.rows(conn, "select grade, name_en, name_zh from "
                             "intermediate.priority_grades order by 1", ())
    for i, g in enumerate(grades):
        ET.SubElement(cats, "category", value=str(g["grade"]), symbol=str(i),
                      label=f"{g['grade']} {g['name_en']} {g['name_zh']}", render="true")
        _fill_symbol(syms, str(i), GRADE_COLOURS.get(g["grade"], "#999999"))
    vectors.append(("restoration_patches", "修复图斑 Restoration patches", r,
                    "Restoration patches of the latest run (bi.restoration_patches)", True))
    r = ET.Element("renderer-v2", type="graduatedSymbol", attr="restoration_need_pct",
                   graduatedMethod="GraduatedColor", symbollevels="0", enableorderby="0",
                   forceraster="0")
    ranges, syms = ET.SubElement(r, "ranges"), ET.SubElement(r, "symbols")
    for i, (lo, hi, colour) in enumerate([(0, 20, "#fee5d9"), (20, 40, "#fcae91"),
                                          (40, 60, "#fb6a4a"), (60, 80, "#de2d26"),
                                          (80, 100, "#a50f15")]):
        ET.SubElement(ranges, "range", lower=f"{lo:.6f}", upper=f"{hi:.6f}", symbol=str(i),
                      label=f"{lo}–{hi} % 需修复 need", render="true")
        _fill_symbol(syms, str(i), colour, alpha=160)
    vectors.append(("zone_scores", "分区修复需求 Zones: restoration need (%)", r,
                    "Restoration need per zone (bi.zone_scores; filter zone_set to pick a set)",
                    False))
    r = ET.Element("renderer-v2", type="singleSymbol", symbollevels="0", enableorderby="0",
                   forceraster="0")
    _fill_symbol(ET.SubElement(r, "symbols"), "0", "#000000", outline="#6a3d9a", alpha=0,
                 width="0.6")
    vectors.append(("projects", "修复项目 Projects", r,
                    "Restoration projects, current versions (bi.projects)", True))
    for view, title, renderer, abstract, checked in vectors:
        lid = f"bi_{view}"
        source = (f"{base} key='row_key' srid=4326 type=MultiPolygon "
                  f"checkPrimaryKeyUnicity='1' table=\"bi\".\"{view}\" (geom) sql={flt}")
        _vector(maplayers, lid, title, source, abstract, renderer)
        node(results, lid, title, source, "postgres", checked)
    inputs = group("输入 Inputs", checked=False)
    seen_input: set[str] = set()
    for layer in layers:
        lid = f"maps_{layer.table_name}"
        source = f"{base} table=\"maps\".\"{layer.table_name}\" (rast)"
        _raster(maplayers, lid, layer, source, wkt, authid, reg["crs_name"])
        if layer.run_id is not None:
            node(results, lid, layer.title, source, "postgresraster",
                 layer.layer == "priority_grade")
        else:  # one input layer of each kind shown (its latest epoch), the others listed
            node(inputs, lid, layer.title, source, "postgresraster", False)
            seen_input.add(layer.layer)
    x0, y0 = reg["origin_x"], reg["origin_y"]
    x1 = x0 + reg["width_px"] * reg["pixel_size_m"]
    y1 = y0 - reg["height_px"] * reg["pixel_size_m"]
    canvas = ET.SubElement(root, "mapcanvas", name="theMapCanvas", annotationsVisible="1")
    ET.SubElement(canvas, "units").text = "meters"
    ext = ET.SubElement(canvas, "extent")
    for k, v in (("xmin", x0), ("ymin", y1), ("xmax", x1), ("ymax", y0)):
        ET.SubElement(ext, k).text = f"{v:.17g}"
    ET.SubElement(canvas, "rotation").text = "0"
    dest = ET.SubElement(canvas, "destinationsrs")
    _srs(dest, wkt, authid, reg["crs_name"])
    dest.append(dest.find("srs/spatialrefsys"))
    dest.remove(dest.find("srs"))
    return ET.ElementTree(root)


def write_project(conn: psycopg.Connection, region: str, out_dir: Path, *,
                  run_id: int | None = None, publish_layers: bool = True) -> Path:
    """Publish the region's raster layers (unless ``publish_layers`` is false: those already
    in maps.layers) and write ``<region>_run<run>.qgz`` to ``out_dir``."""
    run_id = data.read_run(conn, region, run_id)["run_id"]
    if publish_layers:
        layers = publish(conn, region, run_id)
    else:
        layers = [MapLayer(r["table_name"], r["layer"], r["epoch_label"], r["title"],
                           r["units"] or "", r["value_kind"], r["source"], r["run_id"])
                  for r in data.rows(conn, "select l.* from maps.layers l join "
                                     "registry.regions r using (region_id) where r.name = %s "
                                     "order by l.table_name", (region,))]
    tree = project_xml(conn, region, run_id, layers)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{region}_run{run_id}.qgz"
    ET.indent(tree)
    body = ET.tostring(tree.getroot(), encoding="unicode")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(f"{region}_run{run_id}.qgs",
                   "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n" + body)
    log.info("QGIS project of %s run %d: %s", region, run_id, path)
    return path
