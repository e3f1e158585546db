"""Parameter sets belong to a region (or are global): each run takes, per kind, the set pinned
with --params, else the region's own active set, else an active global set, else IPCC
defaults; numbers by hand on tiny generated grids (30 m pixels = 0.09 ha)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import psycopg
import pytest
from click.testing import CliRunner

from ecorest.errors import LoadError
from ecorest.etl.legends import load_legend
from ecorest.etl.params import load_params
from ecorest.etl.rasters import load_raster
from ecorest.etl.regions import create_region
from ecorest.run import run_assessment
from helpers import footprint, write_raster

#: legends: without IPCC categories (no Tier 1 defaults) and with them
LEGENDS = {"twin": "class_code,name_en\n1,forest\n2,shrub\n",
           "ipcc": "class_code,name_en,ipcc_category\n1,meadow,grassland\n2,pasture,grassland\n"}
#: 32 x 32 px: class 1 in the west half (512 px = 46.08 ha), class 2 in the east half
HALVES = np.where(np.arange(32)[None, :] < 16, 1, 2).repeat(32, axis=0)


def grid_region(conn, tmp_path: Path, name: str, classes: np.ndarray, x0: float,
                legend: str = "twin") -> None:
    """Region ``name`` on a generated 30 m UTM grid with origin (x0, 4 950 000) and one
    land-cover epoch (2000) of ``legend`` (shared by the regions)."""
    path = write_raster(tmp_path / f"{name}.tif", classes.astype(np.uint8), nodata=255,
                        origin=(x0, 4_950_000.0))
    exists = conn.execute("select count(*) from registry.legends where name = %s",
                          (legend,)).fetchone()[0]
    conn.rollback()
    if not exists:
        (tmp_path / f"{legend}.csv").write_text(LEGENDS[legend])
        load_legend(conn, legend, tmp_path / f"{legend}.csv")
    create_region(conn, name, footprint(tmp_path, path), align_to=str(path),
                  allow_non_equal_area=True)
    load_raster(conn, name, "landcover", path, epoch="2000", legend=legend,
                show_progress=False)


def pools(tmp_path: Path, file: str, densities: dict[int, float]) -> Path:
    """A long-layout carbon_pools table: above-ground carbon density per class (t C/ha)."""
    p = tmp_path / file
    p.write_text("parameter,class_code,pool,value,unit\n" + "".join(
        f"carbon_density,{c},agb,{v},t C/ha\n" for c, v in densities.items()))
    return p


def agb_stocks(conn, run_id: int) -> dict[int, float]:
    return dict(conn.execute(
        "select class_code, carbon_t from marts.carbon_stocks where run_id = %s and "
        "zone_set = 'region' and pool = 'agb'", (run_id,)).fetchall())


def lineage(conn, run_id: int) -> dict[tuple[int, str], tuple]:
    return {(c, p): (v, s, because) for c, p, v, s, because in conn.execute(
        "select class_code, pool, value, parameter_set_id, selected_because "
        "from marts.parameter_lineage where run_id = %s", (run_id,))}


def recorded(conn, run_id: int) -> tuple:
    return conn.execute("select parameter_set_ids, options -> 'params' from "
                        "etl.assessment_runs where run_id = %s", (run_id,)).fetchone()


def test_versions_count_per_region_and_name(conn: psycopg.Connection, tmp_path: Path) -> None:
    """The same name in two regions and globally: three series, each at version 1; a changed
    file for one region is its version 2 and leaves the others active."""
    grid_region(conn, tmp_path, "north", HALVES, 450_000)
    grid_region(conn, tmp_path, "south", np.ones((32, 32)), 460_000)
    a = pools(tmp_path, "a.csv", {1: 10, 2: 20})
    b = pools(tmp_path, "b.csv", {1: 11, 2: 22})
    north1 = load_params(conn, a, region="north", name="pools", kind="carbon_pools",
                         source_text="north survey")
    south1 = load_params(conn, a, region="south", name="pools", kind="carbon_pools",
                         source_text="south survey")
    global1 = load_params(conn, a, name="pools", kind="carbon_pools", source_text="national")
    assert [north1[1], south1[1], global1[1]] == [1, 1, 1]
    assert len({north1[0], south1[0], global1[0]}) == 3
    north2 = load_params(conn, b, region="north", name="pools", kind="carbon_pools",
                         source_text="north survey")
    assert north2[1] == 2
    # the same file again for the same owner: nothing new
    assert load_params(conn, b, region="north", name="pools", kind="carbon_pools",
                       source_text="north survey") == north2
    rows = conn.execute("select r.name, s.version, s.is_active from registry.parameter_sets s "
                        "left join registry.regions r using (region_id) "
                        "order by 1 nulls first, 2").fetchall()
    assert rows == [(None, 1, True), ("north", 1, False), ("north", 2, True),
                    ("south", 1, True)]
    loads = conn.execute("select r.name, l.layer from etl.loads l left join registry.regions r "
                         "using (region_id) where l.loader = 'params' and status = 'succeeded' "
                         "order by l.load_id").fetchall()
    assert loads == [("north", "pools"), ("south", "pools"), (None, "pools"), ("north", "pools")]
    with pytest.raises(LoadError, match="nowhere"):
        load_params(conn, a, region="nowhere", name="pools", kind="carbon_pools",
                    source_text="x")


@pytest.mark.slow
def test_each_region_uses_its_own_set_and_a_global_one_fills_in(db_url: str,
                                                                tmp_path: Path) -> None:
    """north: 512 px of class 1 at 10 t C/ha and 512 px of class 2 at 20 t C/ha (its own set):
    46.08 ha x 10 = 460.8 t, 46.08 ha x 20 = 921.6 t. south: 1 024 px of class 1 at 50 t C/ha
    (its own set): 92.16 ha x 50 = 4 608 t. east has no set of its own: the global set,
    1 024 px of class 2 at 7 t C/ha = 645.12 t. The global set, loaded last, is newer than
    both regions' sets and still changes neither."""
    with psycopg.connect(db_url) as conn:
        grid_region(conn, tmp_path, "north", HALVES, 450_000)
        grid_region(conn, tmp_path, "south", np.ones((32, 32)), 460_000)
        grid_region(conn, tmp_path, "east", np.full((32, 32), 2), 470_000)
        north_set, _ = load_params(conn, pools(tmp_path, "n.csv", {1: 10, 2: 20}),
                                   region="north", name="pools", kind="carbon_pools",
                                   source_text="north survey")
        south_set, _ = load_params(conn, pools(tmp_path, "s.csv", {1: 50}), region="south",
                                   name="pools", kind="carbon_pools",
                                   source_text="south survey")
        global_set, _ = load_params(conn, pools(tmp_path, "g.csv", {1: 1, 2: 7}),
                                    name="national", kind="carbon_pools",
                                    source_text="national table")
        runs = {r: run_assessment(conn, db_url, r, work_dir=tmp_path / "dbt")
                for r in ("north", "south", "east")}
        stocks = {r: agb_stocks(conn, run_id) for r, run_id in runs.items()}
        lin = {r: lineage(conn, run_id) for r, run_id in runs.items()}
        rec = {r: recorded(conn, run_id) for r, run_id in runs.items()}
        sources = conn.execute("select distinct source from marts.parameter_lineage "
                               "where run_id = %s", (runs["south"],)).fetchall()
    assert stocks["north"] == {1: pytest.approx(460.8), 2: pytest.approx(921.6)}
    assert stocks["south"] == {1: pytest.approx(4608.0)}
    assert stocks["east"] == {2: pytest.approx(645.12)}
    assert lin["north"] == {(1, "agb"): (10.0, north_set, "region"),
                            (2, "agb"): (20.0, north_set, "region")}
    assert lin["south"] == {(1, "agb"): (50.0, south_set, "region")}
    assert lin["east"] == {(2, "agb"): (7.0, global_set, "global")}
    assert sources == [("south survey",)]
    assert rec == {"north": ([north_set], None), "south": ([south_set], None),
                   "east": ([global_set], None)}


@pytest.mark.slow
def test_a_pinned_older_version_is_used_and_recorded(db_url: str, tmp_path: Path) -> None:
    """pools v1 (10 / 20 t C/ha) then v2 (11 / 22): the default run uses v2 (46.08 ha x 11 =
    506.88 t, x 22 = 1 013.76 t); --params pools@1 uses v1 (460.8 t, 921.6 t) and is stored
    with the run, so the reuse check tells the two apart."""
    with psycopg.connect(db_url) as conn:
        grid_region(conn, tmp_path, "north", HALVES, 450_000)
        v1, _ = load_params(conn, pools(tmp_path, "v1.csv", {1: 10, 2: 20}), region="north",
                            name="pools", kind="carbon_pools", source_text="survey 2010")
        v2, _ = load_params(conn, pools(tmp_path, "v2.csv", {1: 11, 2: 22}), region="north",
                            name="pools", kind="carbon_pools", source_text="survey 2020")
        latest = run_assessment(conn, db_url, "north", work_dir=tmp_path / "dbt")
        pinned = run_assessment(conn, db_url, "north", work_dir=tmp_path / "dbt",
                                params=["pools@1"])
        again_pinned = run_assessment(conn, db_url, "north", work_dir=tmp_path / "dbt",
                                      params=["pools@1"])
        again_latest = run_assessment(conn, db_url, "north", work_dir=tmp_path / "dbt")
        assert agb_stocks(conn, latest) == {1: pytest.approx(506.88),
                                            2: pytest.approx(1013.76)}
        assert agb_stocks(conn, pinned) == {1: pytest.approx(460.8), 2: pytest.approx(921.6)}
        assert lineage(conn, latest) == {(1, "agb"): (11.0, v2, "region"),
                                         (2, "agb"): (22.0, v2, "region")}
        assert lineage(conn, pinned) == {(1, "agb"): (10.0, v1, "pinned"),
                                         (2, "agb"): (20.0, v1, "pinned")}
        assert recorded(conn, latest) == ([v2], None)
        assert recorded(conn, pinned) == ([v1], {"pools@1": v1})
        assert (again_pinned, again_latest) == (pinned, latest)
        assert conn.execute("select count(*) from etl.assessment_runs").fetchone() == (2,)


def test_an_unknown_pinned_set_fails_before_anything_runs(conn: psycopg.Connection,
                                                          tmp_path: Path) -> None:
    grid_region(conn, tmp_path, "north", HALVES, 450_000)
    grid_region(conn, tmp_path, "south", np.ones((32, 32)), 460_000)
    a = pools(tmp_path, "a.csv", {1: 10, 2: 20})
    load_params(conn, a, region="north", name="pools", kind="carbon_pools", source_text="n")
    load_params(conn, pools(tmp_path, "b.csv", {1: 1, 2: 2}), region="north", name="pools",
                kind="carbon_pools", source_text="n")
    load_params(conn, a, region="south", name="south pools", kind="carbon_pools",
                source_text="s")
    # a global series of the same name with three versions: north's own series wins
    for i in range(3):
        load_params(conn, pools(tmp_path, f"g{i}.csv", {1: i + 1}), name="pools",
                    kind="carbon_pools", source_text="g")
    load_params(conn, a, name="other pools", kind="carbon_pools", source_text="g")

    def run(*pins: str) -> None:
        run_assessment(conn, "postgresql://unused", "north", work_dir=tmp_path / "none",
                       params=list(pins))

    with pytest.raises(LoadError, match="no parameter set named 'nope' for region 'north'"):
        run("nope")
    with pytest.raises(LoadError, match=r"'pools' \(region 'north'\) has no version 3; its "
                                        "versions are 1, 2"):
        run("pools@3")
    with pytest.raises(LoadError, match="no parameter set named 'south pools'"):
        run("south pools")  # another region's set is not pinnable
    with pytest.raises(LoadError, match="pin one set per kind"):
        run("pools@1", "other pools")
    with pytest.raises(LoadError, match="must be a whole number"):
        run("pools@latest")
    assert conn.execute("select count(*) from etl.assessment_runs").fetchone() == (0,)


def test_lineage_says_plots_and_ipcc_default(db_url: str, tmp_path: Path) -> None:
    """Two grassland classes, warm temperate moist climate on HAC soils (IPCC 2006): soil
    carbon is SOC_REF 88 t C/ha (native land, F_LU = 1) for both, an IPCC default. Above
    ground, class 1 takes the mean of its six plots, (90 + 95 + 100 + 105 + 110 + 120) / 6 =
    103.333 t C/ha, and class 2 the region's set, 3 t C/ha. Every other value is a default."""
    from pyproj import Transformer

    from ecorest.etl.plots import load_plots
    from ecorest.etl.regions import set_ipcc_strata

    to_lonlat = Transformer.from_crs("EPSG:26910", "EPSG:4326", always_xy=True)
    lines = ["plot_id,date,lon,lat,agb (t C/ha)"]
    for i, v in enumerate([90, 95, 100, 105, 110, 120]):
        lon, lat = to_lonlat.transform(450_000 + (2 + 2 * i) * 30 + 15, 4_950_000 - 10 * 30 - 15)
        lines.append(f"P{i + 1},2000-07-01,{lon},{lat},{v}")
    (tmp_path / "plots.csv").write_text("\n".join(lines) + "\n")
    with psycopg.connect(db_url) as conn:
        grid_region(conn, tmp_path, "north", HALVES, 450_000, legend="ipcc")
        set_ipcc_strata(conn, "north", "warm_temperate_moist", "HAC")
        own, _ = load_params(conn, pools(tmp_path, "n.csv", {2: 3}), region="north",
                             name="pools", kind="carbon_pools", source_text="north survey")
        load_plots(conn, "north", tmp_path / "plots.csv")
        run_id = run_assessment(conn, db_url, "north", work_dir=tmp_path / "dbt")
        got = lineage(conn, run_id)
    assert got[(1, "agb")][0] == pytest.approx(620 / 6) and got[(1, "agb")][2] == "plots"
    assert got[(2, "agb")] == (3.0, own, "region")
    assert got[(1, "soc")][::2] == (88.0, "ipcc_default")
    assert got[(2, "soc")][::2] == (88.0, "ipcc_default")
    others = {k: v[2] for k, v in got.items() if k[1] not in ("agb", "soc")}
    assert others and set(others.values()) == {"ipcc_default"}


def _cli(*args: str) -> tuple[int, str]:
    from ecorest.cli import cli

    result = CliRunner().invoke(cli, ["-q", *args], env={"COLUMNS": "400"})
    assert result.exception is None or isinstance(result.exception, SystemExit), \
        result.exception
    return result.exit_code, result.output


def test_command_line_global_set_and_pinned_run(db_url: str, tmp_path: Path) -> None:
    """`load params --global` and `load params REGION`, then `run north --params national@1`:
    north's own set (10 / 20 t C/ha) is active, the pinned global one gives 46.08 ha x 1 =
    46.08 t and 46.08 ha x 7 = 322.56 t."""
    with psycopg.connect(db_url) as conn:
        grid_region(conn, tmp_path, "north", HALVES, 450_000)
    base = ["--dsn", db_url, "--home", str(tmp_path / "home")]
    opts = ["--kind", "carbon_pools", "--source", "test"]
    code, text = _cli(*base, "load", "params", "--global",
                      str(pools(tmp_path, "g.csv", {1: 1, 2: 7})), "--name", "national", *opts)
    assert code == 0, text
    assert "parameter set national (global) version 1" in text
    code, text = _cli(*base, "load", "params", "north",
                      str(pools(tmp_path, "n.csv", {1: 10, 2: 20})), "--name", "pools", *opts)
    assert code == 0 and "parameter set pools (region north) version 1" in text, text
    code, text = _cli(*base, "load", "params", str(tmp_path / "n.csv"), "--name", "x", *opts)
    assert code == 2 and "give REGION FILE" in text and "--global FILE" in text, text
    code, text = _cli(*base, "run", "north", "--params", "national@2")
    assert code == 1, text
    assert "'national' (global) has no version 2" in " ".join(text.split())
    code, text = _cli(*base, "run", "north", "--params", "national@1")
    assert code == 0, text
    with psycopg.connect(db_url) as conn:
        (run_id, ids, pinned), = conn.execute(
            "select run_id, parameter_set_ids, options -> 'params' from etl.assessment_runs "
            "where status = 'succeeded'").fetchall()
        national = conn.execute("select parameter_set_id from registry.parameter_sets "
                                "where name = 'national' and region_id is null").fetchone()[0]
        assert agb_stocks(conn, run_id) == {1: pytest.approx(46.08), 2: pytest.approx(322.56)}
        assert {v[2] for v in lineage(conn, run_id).values()} == {"pinned"}
        assert (ids, pinned) == ([national], {"national@1": national})
        assert conn.execute("select count(*) from etl.assessment_runs").fetchone() == (1,)
