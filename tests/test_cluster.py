"""The embedded cluster: create, start, restart, stop, destroy — as root via the postgres user."""

from __future__ import annotations

import os
import stat
import time
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

    # the runner login: its own generated password, no superuser
    st = cluster.state()
    assert st.runner_password and st.runner_password != st.password
    with psycopg.connect(cluster.runner_url()) as conn:
        assert conn.execute("select session_user::text, rolsuper, rolcreaterole from pg_roles "
                            "where rolname = session_user").fetchone() == (
            "ecorest_runner", False, False)
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(cluster.runner_url().replace(st.runner_password, "wrong"))

    cluster.destroy()
    assert not cluster.state_file.exists()
    assert not Path(state.pgdata).exists()


def _closing_on(port: int) -> int:
    """Sockets in FIN_WAIT1/2 or TIME_WAIT whose local port is ``port`` (the server closed
    them first); a bind without SO_REUSEADDR fails while they exist."""
    n = 0
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[3] in ("04", "05", "06") and int(fields[1].rsplit(":", 1)[1], 16) == port:
            n += 1
    return n


def _plain_bind_fails(port: int) -> bool:
    """What the old check did (bind without SO_REUSEADDR): fails while closed sockets linger."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def test_restart_with_clients_connected_keeps_its_port(cluster: EmbeddedCluster) -> None:
    """Stopping with clients connected (idle ones, and one waiting for a query) leaves the
    server's side of their connections in FIN_WAIT2/TIME_WAIT on its port; the cluster must
    still come back on the same port, every time (saved QGIS/BI connections)."""
    import threading

    state = cluster.start()
    for attempt in range(3):
        idle = [psycopg.connect(cluster.url(), autocommit=True) for _ in range(2)]
        for c in idle:
            c.execute("select 1")
        busy = psycopg.connect(cluster.runner_url(), autocommit=True)
        errors = []

        def wait(conn=busy, errors=errors) -> None:
            try:
                conn.execute("select pg_sleep(60)")
            except psycopg.Error as exc:
                errors.append(exc)

        waiting = threading.Thread(target=wait)
        waiting.start()
        time.sleep(0.3)
        cluster.stop()
        waiting.join(30)
        assert errors, "the waiting client saw the shutdown"
        assert _closing_on(state.port) > 0 and _plain_bind_fails(state.port), \
            f"the scenario of the report did not happen (restart {attempt})"
        again = cluster.start()
        assert again.port == state.port == cluster.state().port, f"restart {attempt}"
        with psycopg.connect(cluster.url()) as conn:
            assert conn.execute("show port").fetchone() == (str(state.port),)
        for c in [*idle, busy]:
            c.close()


def test_start_refuses_when_another_program_took_its_port(cluster: EmbeddedCluster) -> None:
    """A program listening on the cluster's port: a clear error naming it; --port moves."""
    import socket

    from ecorest.errors import ClusterError

    state = cluster.start()
    cluster.stop()
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as squatter:
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # past TIME_WAITs
        squatter.bind(("127.0.0.1", state.port))
        squatter.listen()
        with pytest.raises(ClusterError, match=rf"port {state.port} .* is taken by pid "
                                               rf"{os.getpid()} .*--port"):
            cluster.start()
        assert cluster.state().port == state.port and not cluster.is_running()
        with pytest.raises(ClusterError, match="taken"):
            cluster.start(port=state.port)
        # a port free now (other servers of this machine come and go: take one the kernel
        # hands out rather than a fixed offset)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.bind(("127.0.0.1", 0))
            other = probe.getsockname()[1]
        moved = cluster.start(port=other)
        assert moved.port == other == cluster.state().port
        with psycopg.connect(cluster.url()) as conn:
            assert conn.execute("show port").fetchone() == (str(other),)
    # the new port is kept across restarts
    cluster.stop()
    assert cluster.start().port == other
