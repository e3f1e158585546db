"""The embedded cluster: create, start, restart, stop, destroy — as root via the postgres user."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import psycopg
import pytest

from ecorest.store.cluster import EmbeddedCluster


def _server_uid(pgdata: str) -> int:
    pid = int((Path(pgdata) / "postmaster.pid").read_text().splitlines()[0])
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Uid:"):
            return int(line.split()[1])
    raise AssertionError("no Uid line")


@pytest.fixture
def cluster(tmp_path: Path):
    c = EmbeddedCluster(tmp_path / "home")
    yield c
    c.destroy()


def test_lifecycle(cluster: EmbeddedCluster) -> None:
    assert not cluster.is_running()
    state = cluster.start()
    assert cluster.is_running()
    assert stat.S_IMODE(cluster.state_file.stat().st_mode) == 0o600
    if os.geteuid() == 0:
        assert _server_uid(state.pgdata) != 0, "postgres must not run as root"
    with psycopg.connect(cluster.url()) as conn:
        conn.execute("create table kept (x int)")
        conn.execute("insert into kept values (7)")
        conn.execute("create extension postgis")
        assert conn.execute("select postgis_lib_version()").fetchone()[0].startswith("3.")

    # starting a running cluster changes nothing
    pid = (Path(state.pgdata) / "postmaster.pid").read_text().splitlines()[0]
    again = cluster.start()
    assert again.port == state.port
    assert (Path(state.pgdata) / "postmaster.pid").read_text().splitlines()[0] == pid

    assert cluster.stop() is True
    assert not cluster.is_running()
    assert cluster.stop() is False
    cluster.start()
    with psycopg.connect(cluster.url()) as conn:
        assert conn.execute("select x from kept").fetchall() == [(7,)]

    # password authentication is enforced on TCP
    bad = cluster.url().replace(state.password, "wrong")
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(bad)

    cluster.destroy()
    assert not cluster.state_file.exists()
    assert not Path(state.pgdata).exists()


def test_restart_moves_to_a_free_port_when_its_port_was_taken(cluster: EmbeddedCluster) -> None:
    """Another program (e.g. a second checkout's cluster) took the port while it was stopped."""
    import socket

    state = cluster.start()
    cluster.stop()
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as squatter:
        squatter.bind(("127.0.0.1", state.port))
        squatter.listen()
        moved = cluster.start()
        assert moved.port != state.port and cluster.state().port == moved.port
        with psycopg.connect(cluster.url()) as conn:
            assert conn.execute("show port").fetchone() == (str(moved.port),)
