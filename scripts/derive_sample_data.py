"""Make the derived sample files under data/sample/derived/ (run once; outputs are committed).

- willamette_legend.csv: the InVEST Willamette land-cover classes (codes and names from
  carbon_pools_willamette.csv) with an IPCC land category and ecosystem type assigned by ecorest.
- willamette_region.geojson: the footprint of lulc_samp_cur.tif (EPSG:26910), used as the
  demo region's boundary.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import rasterio

ROOT = Path(__file__).resolve().parent.parent / "data" / "sample"
OUT = ROOT / "derived"

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


def legend() -> None:
    rows = list(csv.DictReader(open(ROOT / "invest_willamette" / "carbon_pools_willamette.csv")))
    with open(OUT / "willamette_legend.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["class_code", "name_en", "name_zh", "ipcc_category", "ecosystem_type",
                    "color_hex"])
        for r in rows:
            code = int(r["lucode"])
            ipcc, eco = CATEGORY[code]
            w.writerow([code, r["LULC_Name"], "", ipcc, eco, COLOURS[ipcc]])


def region() -> None:
    with rasterio.open(ROOT / "invest_willamette" / "lulc_samp_cur.tif") as src:
        left, bottom, right, top = src.bounds
    ring = [[left, bottom], [right, bottom], [right, top], [left, top], [left, bottom]]
    doc = {"type": "FeatureCollection",
           "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::26910"}},
           "features": [{"type": "Feature", "properties": {"name": "Willamette sample extent"},
                         "geometry": {"type": "Polygon", "coordinates": [ring]}}]}
    (OUT / "willamette_region.geojson").write_text(json.dumps(doc, indent=1))


if __name__ == "__main__":
    OUT.mkdir(exist_ok=True)
    legend()
    region()
