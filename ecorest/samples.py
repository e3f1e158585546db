"""The public sample data: where they are, and the files the demo derives from them.

The sample data sets (InVEST Willamette, the Ansai district boundary, NOAA VHP NDVI, BAAD trees
...) are public data collected outside the project, each folder with its SOURCE.md and licence.
They are not part of the package or the repository: ecorest reads them from
``ECOREST_SAMPLE_DATA``, else from ``shared/data`` beside the working directory (``./shared/data``
or ``../shared/data``).

The files the demo needs but the data sets do not hold are derived here at run time:

- ``willamette_legend.csv``: the InVEST Willamette land-cover classes (codes and names from
  carbon_pools_willamette.csv) with an IPCC land category and ecosystem type assigned by ecorest;
- ``willamette_region.geojson``: the footprint of lulc_samp_cur.tif (EPSG:26910), the demo
  region's boundary;
- ``willamette_example_projects.geojson``: three clearly labelled *example* restoration projects,
  placed where the InVEST 2050 scenario restores vegetation;
- ``willamette_habitat_region.geojson``: the footprint of hq_epochs_subarea/lc_samp_cur_b.tif
  (EPSG:26910), the boundary of the habitat-quality demo region;
- ``assaba_region.gpkg``: the outline of the Assaba mask of the MODIS land-cover rasters, in
  their MODIS sinusoidal CRS;
- ``assaba_gpp_YYYY.tif``: the MODIS annual GPP rasters with the MOD17 fill codes (65529-65535,
  e.g. 65533 on barren land) set to the nodata value 65535, nothing else changed;
- ``assaba_example_projects.geojson``: three clearly labelled *example* grassland restoration
  projects, 8 x 8 MODIS pixels each, placed by a stated rule on the GPP series.
"""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

import rasterio

from ecorest.errors import EcorestError

ENV_SAMPLE_DATA = "ECOREST_SAMPLE_DATA"
#: a file every complete copy of the sample data holds
MARKER = Path("invest_willamette") / "lulc_samp_cur.tif"


def locate() -> Path:
    """The folder of the public sample data, or an error that says how to provide it."""
    given = os.environ.get(ENV_SAMPLE_DATA)
    candidates = [Path(given)] if given else [Path.cwd() / "shared" / "data",
                                               Path.cwd().parent / "shared" / "data"]
    for folder in candidates:
        if (folder / MARKER).is_file():
            return folder.resolve()
    if given:
        raise EcorestError(f"{ENV_SAMPLE_DATA}={given} does not hold the public sample data "
                           f"(no {MARKER}); point it at the folder with invest_willamette/, "
                           "china_admin_loess_plateau/, vhp_ndvi_annual_global_1982_2023/ ...")
    raise EcorestError("the public sample data were not found in ./shared/data or "
                       "../shared/data; set ECOREST_SAMPLE_DATA to the folder that holds "
                       "invest_willamette/, china_admin_loess_plateau/, "
                       "vhp_ndvi_annual_global_1982_2023/ ...")


def derive(sample: Path, out: Path) -> Path:
    """Write the derived demo files into ``out`` (unchanged files are not rewritten, so their
    loads stay no-ops) and return ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    legend(sample, out)
    region(sample, out)
    example_projects(sample, out)
    if (sample / HABITAT_LANDCOVER).is_file():
        habitat_region(sample, out)
    if (sample / ASSABA).is_dir():
        assaba_region(sample, out)
        assaba_gpp(sample, out)
        assaba_projects(sample, out)
    return out


def _write(path: Path, text: str) -> Path:
    if not path.is_file() or path.read_text() != text:
        path.write_text(text)
    return path


# code ranges -> (IPCC land category, ecosystem type); assignment by ecorest from the class names
CATEGORY = {
    **{c: ("settlements", "settlement") for c in (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 16, 18, 19,
                                                   20, 21, 49, 91)},
    **{c: ("other_land", "other") for c in (24, 40, 42, 102)},
    **{c: ("wetlands", "wetland") for c in (29, 32, 33, 89, 101)},
    **{c: ("forest_land", "forest") for c in (39, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61,
                                               62, 95)},
    **{c: ("cropland", "cropland") for c in (66, 67, 68, 71, 72, 73, 74, 75, 76, 77, 78, 79, 82,
                                              83, 84, 88, 90, 92, 93)},
    **{c: ("grassland", "grassland") for c in (80, 81, 85, 86, 87, 98)},
}
COLOURS = {"settlements": "#d7191c", "other_land": "#bababa", "wetlands": "#2b83ba",
           "forest_land": "#1a9641", "cropland": "#fdae61", "grassland": "#a6d96a"}


def legend(sample: Path, out: Path) -> Path:
    with open(sample / "invest_willamette" / "carbon_pools_willamette.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    lines = [["class_code", "name_en", "name_zh", "ipcc_category", "ecosystem_type",
              "color_hex"]]
    for r in rows:
        code = int(r["lucode"])
        ipcc, eco = CATEGORY[code]
        lines.append([str(code), r["LULC_Name"], "", ipcc, eco, COLOURS[ipcc]])
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerows(lines)
    return _write(out / "willamette_legend.csv", buf.getvalue())


def region(sample: Path, out: Path) -> Path:
    return _footprint(sample / "invest_willamette" / "lulc_samp_cur.tif",
                      "Willamette sample extent", out / "willamette_region.geojson")


#: the land cover of the habitat-quality inputs (InVEST's biodiversity sample sub-area)
HABITAT_LANDCOVER = Path("invest_willamette") / "hq_epochs_subarea" / "lc_samp_cur_b.tif"


def habitat_region(sample: Path, out: Path) -> Path:
    """The footprint of the habitat-quality land cover, on whose grid its threat rasters lie."""
    return _footprint(sample / HABITAT_LANDCOVER, "Willamette habitat-quality sample extent",
                      out / "willamette_habitat_region.geojson")


def _footprint(raster: Path, name: str, path: Path) -> Path:
    """A GeoJSON rectangle of a raster's bounds in its CRS (EPSG:26910 for these files)."""
    with rasterio.open(raster) as src:
        left, bottom, right, top = src.bounds
    ring = [[left, bottom], [right, bottom], [right, top], [left, top], [left, bottom]]
    doc = {"type": "FeatureCollection",
           "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::26910"}},
           "features": [{"type": "Feature", "properties": {"name": name},
                         "geometry": {"type": "Polygon", "coordinates": [ring]}}]}
    return _write(path, json.dumps(doc, indent=1))


def example_projects(sample: Path, out: Path) -> Path:
    """Three illustrative projects where the 2050 scenario grows forest carbon (EXAMPLES)."""
    import numpy as np

    with rasterio.open(sample / "invest_willamette" / "lulc_samp_cur.tif") as src:
        cur, transform = src.read(1), src.transform
    with rasterio.open(sample / "invest_willamette" / "lulc_samp_fut.tif") as src:
        fut = src.read(1)
    targets = [
        ("EX-001", "Example: reforestation of harvested conifer stands", "afforestation",
         (cur == 56) & (fut == 57), "2021-03-01", 2.4e6, "planting:{a}; tending:{a}"),
        ("EX-002", "Example: closed-forest restoration of semi-closed hardwood",
         "forest_restoration", (cur == 62) & (fut == 53), "2021-04-15", 1.1e6,
         "enrichment planting:{a}; enclosure:{a}"),
        ("EX-003", "Example: protection and tending of maturing conifer forest",
         "forest_restoration", (cur == 57) & (fut == 58), "2022-03-01", 0.6e6,
         "enclosure:{a}; fire prevention:{a}"),
    ]
    size = 60  # 1.8 km squares
    features = []
    taken = np.zeros(cur.shape, bool)
    for pid, name, kind, mask, start, invest, measures in targets:
        score = np.zeros((cur.shape[0] // size, cur.shape[1] // size))
        for i in range(score.shape[0]):
            for j in range(score.shape[1]):
                block = (slice(i * size, (i + 1) * size), slice(j * size, (j + 1) * size))
                score[i, j] = -1 if taken[block].any() else mask[block].sum()
        i, j = np.unravel_index(np.argmax(score), score.shape)
        taken[i * size:(i + 1) * size, j * size:(j + 1) * size] = True
        x0, y0 = transform @ (j * size, i * size)
        x1, y1 = transform @ ((j + 1) * size, (i + 1) * size)
        area_ha = round(size * size * 0.09, 1)
        features.append({"type": "Feature", "properties": {
            "project_id": pid, "name": name, "project_type": kind, "start_date": start,
            "investment_cny": invest, "agency": "Example agency (illustrative, not real)",
            "measures": measures.format(a=area_ha), "is_example": True,
            "description": "Illustrative example placed where the InVEST 2050 scenario map "
                           "restores vegetation; not a real restoration project."},
            "geometry": {"type": "Polygon", "coordinates": [[[x0, y0], [x1, y0], [x1, y1],
                                                             [x0, y1], [x0, y0]]]}})
    doc = {"type": "FeatureCollection",
           "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::26910"}},
           "features": features}
    return _write(out / "willamette_example_projects.geojson", json.dumps(doc, indent=1))


# ---- Assaba (Mauritania): MODIS land cover and annual GPP, 2010-2023 -------------------------
ASSABA = Path("modis_lc_gpp_assaba_2010_2023")
ASSABA_YEARS = range(2010, 2024)
#: MOD17A3HGF fill codes (65529 .. 65535): not a productivity
GPP_FILL = 65529


def assaba_region(sample: Path, out: Path) -> Path:
    """The outline of the pixels with a land-cover class in 2010 (the Assaba mask), as one
    (multi)polygon in the rasters' own MODIS sinusoidal CRS (written once)."""
    path = out / "assaba_region.gpkg"
    if path.is_file():
        return path
    import numpy as np
    import pyogrio.raw
    import shapely
    from rasterio.features import shapes

    with rasterio.open(sample / ASSABA / "landcover" / "2010LCT.tif") as src:
        valid = src.read_masks(1) > 0
        transform, wkt = src.transform, src.crs.to_wkt()
    parts = [shapely.geometry.shape(g) for g, v in
             shapes(valid.astype(np.uint8), mask=valid, transform=transform) if v == 1]
    outline = shapely.union_all(parts)
    pyogrio.raw.write(str(path), np.array([shapely.to_wkb(outline)], dtype=object),
                      field_data=[np.array(["Assaba (mask of the MODIS rasters)"], dtype=object)],
                      fields=["name"], crs=wkt, driver="GPKG", geometry_type="MultiPolygon"
                      if outline.geom_type == "MultiPolygon" else "Polygon")
    return path


def assaba_gpp(sample: Path, out: Path) -> list[Path]:
    """Each year's GPP raster with the fill codes set to nodata (written once per year)."""
    written = []
    for year in ASSABA_YEARS:
        path = out / f"assaba_gpp_{year}.tif"
        written.append(path)
        if path.is_file():
            continue
        with rasterio.open(sample / ASSABA / "gpp" / f"{year}_GP.tif") as src:
            data, profile = src.read(1), src.profile
        data[data >= GPP_FILL] = 65535
        profile.update(nodata=65535, compress="deflate")
        with rasterio.open(path, "w", **profile) as dst:
            dst.write(data, 1)
    return written


def assaba_projects(sample: Path, out: Path) -> Path:
    """Three illustrative grassland projects (EXAMPLES), 8 x 8 px squares of grassland (IGBP
    10) in every year 2010-2014 with GPP in every year, not touching each other. The rule:
    EX-A (start 2015) and EX-B (start 2016) are the squares whose mean GPP of the three years
    after the start rose most against the three years before it; EX-C (start 2016) the square
    whose GPP changed least - a project without visible effect, for contrast."""
    import numpy as np

    lc = []
    for year in range(2010, 2015):
        with rasterio.open(sample / ASSABA / "landcover" / f"{year}LCT.tif") as src:
            lc.append(src.read(1).astype(np.int64))
            transform = src.transform
    gpp = {}
    for year in ASSABA_YEARS:
        with rasterio.open(sample / ASSABA / "gpp" / f"{year}_GP.tif") as src:
            a = src.read(1).astype(float)
        a[a >= GPP_FILL] = np.nan
        gpp[year] = a * 1e-4
    size = 8
    grass = np.all([c == 10 for c in lc], axis=0) & np.all(
        [np.isfinite(g) for g in gpp.values()], axis=0)
    rows, cols = grass.shape[0] // size, grass.shape[1] // size

    def block(a, i, j):
        return a[i * size:(i + 1) * size, j * size:(j + 1) * size]

    def change(i, j, start):
        before = np.mean([block(gpp[y], i, j).mean() for y in range(start - 3, start)])
        after = np.mean([block(gpp[y], i, j).mean() for y in range(start + 1, start + 4)])
        return after / before - 1

    full = [(i, j) for i in range(rows) for j in range(cols) if block(grass, i, j).all()]
    taken: list[tuple[int, int]] = []

    def pick(start, key):
        free = [b for b in full if all(max(abs(b[0] - t[0]), abs(b[1] - t[1])) > 2
                                       for t in taken)]
        best = min(free, key=lambda b: key(change(*b, start)))
        taken.append(best)
        return best

    targets = [
        ("EX-A", "Example: grazing exclusion and reseeding of degraded grassland", 2015,
         lambda c: -c, 3.2e6),
        ("EX-B", "Example: enclosure of grassland (封育)", 2016, lambda c: -c, 1.5e6),
        ("EX-C", "Example: enclosure of grassland without visible effect", 2016, abs, 1.5e6),
    ]
    features = []
    for pid, name, start, key, invest in targets:
        i, j = pick(start, key)
        x0, y0 = transform * (j * size, i * size)
        x1, y1 = transform * ((j + 1) * size, (i + 1) * size)
        features.append({"type": "Feature", "properties": {
            "project_id": pid, "name": name, "project_type": "grassland_restoration",
            "start_date": f"{start}-01-01", "investment_cny": invest,
            "agency": "Example agency (illustrative, not real)", "is_example": True,
            "description": "Illustrative example placed on the MODIS GPP series by a stated "
                           "rule (ecorest.samples.assaba_projects); not a real project."},
            "geometry": {"type": "Polygon", "coordinates": [[[x0, y0], [x1, y0], [x1, y1],
                                                             [x0, y1], [x0, y0]]]}})
    # GeoJSON coordinates in the rasters' sinusoidal CRS have no EPSG code: give them in
    # EPSG:4326 (corners transformed; the squares stay within a few metres of the pixel edges)
    from rasterio.warp import transform as warp

    with rasterio.open(sample / ASSABA / "landcover" / "2011LCT.tif") as src:
        crs = src.crs
    for f in features:
        ring = f["geometry"]["coordinates"][0]
        xs, ys = warp(crs, "EPSG:4326", [p[0] for p in ring], [p[1] for p in ring])
        f["geometry"]["coordinates"] = [[[round(x, 7), round(y, 7)]
                                         for x, y in zip(xs, ys, strict=True)]]
    doc = {"type": "FeatureCollection", "features": features}
    return _write(out / "assaba_example_projects.geojson", json.dumps(doc, indent=1))
