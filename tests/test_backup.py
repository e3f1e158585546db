"""`ecorest db backup` / `db restore`: a backup restores into a new cluster with identical
numbers, and the restored database migrates and runs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import psycopg
import pytest
from click.testing import CliRunner
from test_carbon import tiny_region

from ecorest.cli import cli
from ecorest.run import run_assessment
from ecorest.store.backup import BackupError, restore, table_checksums
from ecorest.store.cluster import EmbeddedCluster

SUMS = ("select count(*), round(sum(carbon_t)::numeric, 6), round(sum(area_ha)::numeric, 6) "
        "from marts.carbon_stocks where run_id = %s")


@pytest.fixture
def source(db_url: str, tmp_path: Path):
    """Region 'tiny' with loads, a parameter set, one succeeded run, and a BI login."""
    t2 = np.full((64, 64), 1)
    t2[:, 40:] = 2
    with psycopg.connect(db_url) as conn:
        tiny_region(conn, tmp_path, {"2000": np.full((64, 64), 1), "2010": t2},
                    "class_code,name_en,ipcc_category\n1,forest,forest_land\n"
                    "2,grassland,grassland\n",
                    "lucode,C_above,C_below,C_soil,C_dead\n1,100,0,50,0\n2,10,0,80,0\n")
        run_id = run_assessment(conn, db_url, "tiny", work_dir=tmp_path / "dbt")
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("drop role if exists backup_metabase")
        conn.execute("create role backup_metabase login password 'bi-secret' in role ecorest_bi")
    yield db_url, run_id
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("drop owned by backup_metabase")
        conn.execute("drop role if exists backup_metabase")


@pytest.fixture
def new_cluster(tmp_path: Path):
    cluster = EmbeddedCluster(tmp_path / "restored")
    yield cluster
    cluster.destroy()


def test_backup_restores_into_a_new_cluster(source, new_cluster: EmbeddedCluster,
                                            tmp_path: Path) -> None:
    db_url, run_id = source
    with psycopg.connect(db_url) as conn:
        before = table_checksums(conn)
        sums = conn.execute(SUMS, (run_id,)).fetchone()
    assert sums[0] > 0
    assert before["marts.carbon_stocks"][0] > 0 and before["raster.tiles"][0] > 0

    file = tmp_path / "ecorest.backup"
    result = CliRunner().invoke(cli, ["--dsn", db_url, "db", "backup", str(file)])
    assert result.exit_code == 0, result.output
    assert file.stat().st_mode & 0o077 == 0

    home = str(new_cluster.home)
    result = CliRunner().invoke(cli, ["--home", home, "db", "restore", str(file)])
    assert result.exit_code == 0, result.output
    with psycopg.connect(new_cluster.url()) as conn:
        # every table of every ecorest schema: same rows (count and checksum), same sums
        assert table_checksums(conn) == before
        assert conn.execute(SUMS, (run_id,)).fetchone() == sums
        # the custom CRS, the roles and their memberships, the owners, the grants
        assert conn.execute("select count(*) from spatial_ref_sys where srid = 990001"
                            ).fetchone() == (1,)
        assert conn.execute(
            "select pg_has_role('backup_metabase', 'ecorest_bi', 'MEMBER'), "
            "pg_has_role('ecorest_runner', 'ecorest_etl', 'MEMBER'), "
            "(select tableowner from pg_tables where schemaname = 'marts' "
            "and tablename = 'carbon_stocks'), "
            "has_table_privilege('ecorest_analyst', 'marts.carbon_stocks', 'select'), "
            "has_table_privilege('ecorest_bi', 'marts.carbon_stocks', 'select')").fetchone() \
            == (True, True, "ecorest_etl", True, False)
        bi_views = conn.execute("select count(*), count(*) filter (where reloptions @> "
                                "array['security_barrier=true']) from pg_class where "
                                "relnamespace = 'bi'::regnamespace and relkind = 'v'").fetchone()
        assert bi_views[0] > 0 and bi_views[0] == bi_views[1]
    # the BI login logs in with its password and reads bi
    bi_url = psycopg.conninfo.make_conninfo(new_cluster.url(), user="backup_metabase",
                                            password="bi-secret")
    with psycopg.connect(bi_url) as conn:
        conn.execute("select count(*) from bi.carbon_stocks")

    # the restored database migrates and runs (as the runner login) with the same numbers
    result = CliRunner().invoke(cli, ["--home", home, "db", "migrate"])
    assert result.exit_code == 0, result.output
    runner = new_cluster.runner_url()
    with psycopg.connect(runner) as conn:
        again = run_assessment(conn, runner, "tiny", work_dir=tmp_path / "dbt2", force=True)
        assert again > run_id
        assert conn.execute(SUMS, (again,)).fetchone() == sums


def test_restore_refuses_a_database_in_use_and_other_files(db_url: str, empty_db_url: str,
                                                           tmp_path: Path) -> None:
    file = tmp_path / "b.backup"
    assert CliRunner().invoke(cli, ["--dsn", db_url, "db", "backup", str(file)]).exit_code == 0
    with psycopg.connect(db_url) as conn:
        before = table_checksums(conn)
    with pytest.raises(BackupError, match="not empty"):
        restore(db_url, file)
    with psycopg.connect(db_url) as conn:
        assert table_checksums(conn) == before
    not_a_backup = tmp_path / "x.backup"
    not_a_backup.write_text("hello")
    with pytest.raises(BackupError, match="not an ecorest backup"):
        restore(empty_db_url, not_a_backup)
