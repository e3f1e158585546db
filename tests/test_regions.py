"""Regions and their grids."""

from __future__ import annotations

import json

import psycopg
import pytest
import shapely
from pyproj import Geod

from ecorest.errors import LoadError
from ecorest.etl.regions import CHINA_ALBERS_SRID, create_region
from helpers import DERIVED, SAMPLE, snapshot

ANSAI = SAMPLE / "china_admin_loess_plateau" / "ansai_610603.geojson"


def geodesic_area_ha(path) -> float:
    doc = json.loads(path.read_text())
    parts = [f["geometry"] for f in doc["features"]] if "features" in doc else [doc]
    geom = shapely.union_all([shapely.geometry.shape(g) for g in parts])
    area, _ = Geod(ellps="GRS80").geometry_area_perimeter(geom)
    return abs(area) / 10_000


def test_china_region_uses_cgcs2000_albers_and_true_area(conn: psycopg.Connection) -> None:
    r = create_region(conn, "ansai", ANSAI, pixel_size=30)
    assert r.srid == CHINA_ALBERS_SRID
    area = conn.execute("select boundary_area_ha from registry.regions").fetchone()[0]
    # an equal-area projection keeps the ellipsoidal area (Ansai district: about 2,950 km²)
    assert area == pytest.approx(geodesic_area_ha(ANSAI), rel=1e-4)
    assert 290_000 < area < 300_000


def test_grid_is_snapped_and_covers_boundary(conn: psycopg.Connection) -> None:
    r = create_region(conn, "ansai", ANSAI, pixel_size=30, tile_size=128)
    assert r.origin_x % 30 == 0 and r.origin_y % 30 == 0
    covered = conn.execute(
        "select st_covers(st_makeenvelope(%s, %s, %s, %s, %s), st_transform(boundary, %s)) "
        "from registry.regions",
        (r.origin_x, r.origin_y - r.height_px * 30, r.origin_x + r.width_px * 30, r.origin_y,
         r.srid, r.srid)).fetchone()[0]
    assert covered
    assert (r.tiles_x, r.tile_size_px) == (-(-r.width_px // 128), 128)


def test_us_region_defaults_to_conus_albers(conn: psycopg.Connection) -> None:
    r = create_region(conn, "willamette", DERIVED / "willamette_region.geojson")
    assert r.srid == 5070
    # the UTM rectangle's area (1325 x 1889 pixels of 30 m), seen through the UTM scale factor
    # (k ~ 0.9996 near the central meridian -> area within 0.2 %)
    area = conn.execute("select boundary_area_ha from registry.regions").fetchone()[0]
    assert area == pytest.approx(1325 * 1889 * 0.09, rel=2e-3)


def test_elsewhere_gets_a_registered_laea(conn: psycopg.Connection, tmp_path) -> None:
    f = tmp_path / "moz.geojson"
    f.write_text(json.dumps({"type": "Polygon",
                             "coordinates": [[[35, -20], [36, -20], [36, -19], [35, -19],
                                              [35, -20]]]}))
    r1 = create_region(conn, "moz_a", f)
    r2 = create_region(conn, "moz_b", f)
    assert r1.srid >= 990100 and r1.srid == r2.srid
    proj4 = conn.execute("select proj4text from spatial_ref_sys where srid = %s",
                         (r1.srid,)).fetchone()[0]
    assert "+proj=laea" in proj4 and "+lat_0=-19.5" in proj4 and "+lon_0=35.5" in proj4


def test_recreating_is_a_noop_and_clash_is_refused(conn: psycopg.Connection, tmp_path) -> None:
    create_region(conn, "ansai", ANSAI)
    before = snapshot(conn)
    create_region(conn, "ansai", ANSAI)
    assert snapshot(conn) == before
    other = DERIVED / "willamette_region.geojson"
    with pytest.raises(LoadError, match="region 'ansai' already exists"):
        create_region(conn, "ansai", other)
    assert snapshot(conn) == before


def test_non_equal_area_crs_is_refused(conn: psycopg.Connection) -> None:
    with pytest.raises(LoadError, match=r"not an equal-area projection.*crs.equal_area"):
        create_region(conn, "ansai", ANSAI, crs="EPSG:32649")


@pytest.mark.parametrize("change,setting", [
    ({"crs": "EPSG:3035"}, "grid CRS"),
    ({"pixel_size": 60.0}, "pixel size"),
    ({"tile_size": 128}, "tile size"),
    ({"legend": "hj1166_l2"}, "legend"),
])
def test_a_region_never_changes_once_created(conn: psycopg.Connection, change: dict,
                                             setting: str) -> None:
    """Re-creating a region with any other grid setting or legend fails naming the setting and
    leaves the database as it was; the same settings again are a no-op."""
    base = {"crs": "china-albers", "pixel_size": 30.0, "tile_size": 256, "legend": "clcd"}
    create_region(conn, "ansai", ANSAI, **base)
    before = snapshot(conn)
    create_region(conn, "ansai", ANSAI, **base)
    create_region(conn, "ansai", ANSAI, pixel_size=30.0)  # defaults resolve to the same grid
    assert snapshot(conn) == before
    with pytest.raises(LoadError, match=f"region 'ansai' already exists with {setting} "):
        create_region(conn, "ansai", ANSAI, **{**base, **change})
    assert snapshot(conn) == before


def test_set_legend_changes_only_the_default_legend(conn: psycopg.Connection) -> None:
    from ecorest.etl.regions import get_region, set_legend

    create_region(conn, "ansai", ANSAI, legend="clcd")
    clcd = get_region(conn, "ansai").legend_id
    set_legend(conn, "ansai", "hj1166_l2")
    r = get_region(conn, "ansai")
    name = conn.execute("select name from registry.legends where legend_id = %s",
                        (r.legend_id,)).fetchone()[0]
    assert name == "hj1166_l2" and r.legend_id != clcd
    with pytest.raises(LoadError, match="legend 'nope' is not registered"):
        set_legend(conn, "ansai", "nope")
    assert get_region(conn, "ansai").legend_id == r.legend_id
