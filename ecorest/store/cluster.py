"""The embedded PostgreSQL + PostGIS cluster kept under the data folder.

The cluster belongs to the data folder (``.ecorest/`` by default): ``pgdata/`` holds the cluster,
``cluster.json`` (mode 0600) its port and the generated superuser password. It listens on
127.0.0.1 only and uses password (SCRAM) authentication.

PostgreSQL refuses to run as root. When ecorest runs as root, the server runs as the unprivileged
``postgres`` OS user (created by the Debian packages) through ``runuser``; if that user cannot
reach the data folder (e.g. it lies under a private home directory), the cluster files go to
``/var/lib/ecorest/<hash>/`` instead and ``cluster.json`` records where.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import quote

from ecorest.errors import ClusterError

log = logging.getLogger(__name__)

SUPERUSER = "ecorest"
DATABASE = "ecorest"
FIRST_PORT = 55432
#: new clusters start looking for a free port at FIRST_PORT + (hash of the data folder % this)
PORT_SPREAD = 1000
FALLBACK_ROOT = Path("/var/lib/ecorest")

SERVER_CONF = """
# --- ecorest embedded cluster ---
listen_addresses = '127.0.0.1'
port = {port}
unix_socket_directories = ''
max_connections = 60
shared_buffers = '256MB'
work_mem = '64MB'
maintenance_work_mem = '256MB'
max_wal_size = '2GB'
temp_file_limit = '20GB'
# a single-node cluster: no replication, so tiles COPYed into a partition created in the same
# transaction skip the WAL (written once, fsynced at commit)
wal_level = minimal
max_wal_senders = 0
timezone = 'UTC'
log_timezone = 'UTC'
lc_messages = 'C'
"""


@dataclass
class ClusterState:
    """What ``cluster.json`` records about one embedded cluster."""

    pgdata: str
    port: int
    password: str
    bin_dir: str
    os_user: str | None
    superuser: str = SUPERUSER
    database: str = DATABASE
    #: password of the ecorest_runner login (everyday commands and dbt connect as it)
    runner_password: str | None = None


def find_bin_dir() -> Path:
    """The bin directory of the newest installed PostgreSQL server (>= 15)."""
    candidates = []
    for postgres in Path("/usr/lib/postgresql").glob("*/bin/postgres"):
        try:
            major = int(postgres.parent.parent.name)
        except ValueError:
            continue
        if major >= 15:
            candidates.append((major, postgres.parent))
    if candidates:
        return max(candidates)[1]
    pg_config = shutil.which("pg_config")
    if pg_config:
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False)
        path = Path(out.stdout.strip())
        if (path / "postgres").exists():
            return path
    raise ClusterError(
        "no PostgreSQL >= 15 server found; run `./dev setup` (installs postgresql, "
        "postgresql-15-postgis-3, postgresql-plpython3-15, python3-numpy) or point ecorest at a "
        "server with --dsn / ECOREST_DATABASE_URL"
    )


def _port_is_free(port: int) -> bool:
    """Whether the server could listen on 127.0.0.1:``port`` now.

    The probe sets SO_REUSEADDR as the server itself does: connections of an earlier run of the
    server that are still in TIME_WAIT (after a restart with clients connected) do not make
    its port look taken; only a program listening on it does."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _preferred_port(home: Path) -> int:
    """A port derived from the data folder, so that clusters of different folders rarely pick
    the same one (one of them stopped would otherwise lose its port to the other)."""
    return FIRST_PORT + int(hashlib.sha1(str(home).encode()).hexdigest(), 16) % PORT_SPREAD


def _free_port(start: int = FIRST_PORT) -> int:
    for port in range(start, start + 200):
        if _port_is_free(port):
            return port
    raise ClusterError(f"no free TCP port in {start}..{start + 199}")


def _listener(port: int) -> str | None:
    """Which program listens on ``port`` (``pid N (name)``), as far as /proc tells."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) > 9 and fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1],
                                                              16) == port:
                inodes.add(fields[9])
    if not inodes:
        return None
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            for fd in (proc / "fd").iterdir():
                target = os.readlink(fd)
                if target.startswith("socket:[") and target[8:-1] in inodes:
                    name = (proc / "comm").read_text().strip()
                    return f"pid {proc.name} ({name})"
        except OSError:
            continue
    return None


class EmbeddedCluster:
    """Create, start, stop and describe the local cluster of one data folder."""

    def __init__(self, home: Path):
        self.home = Path(home)
        self.state_file = self.home / "cluster.json"

    # ----- state -------------------------------------------------------------------------------
    def state(self) -> ClusterState | None:
        if not self.state_file.exists():
            return None
        return ClusterState(**json.loads(self.state_file.read_text()))

    def _write_state(self, state: ClusterState) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(state), indent=2))
        tmp.chmod(0o600)
        tmp.replace(self.state_file)

    @property
    def is_initialised(self) -> bool:
        st = self.state()
        return st is not None and (Path(st.pgdata) / "PG_VERSION").exists()

    # ----- running commands as the server's OS user --------------------------------------------
    @staticmethod
    def _os_user() -> str | None:
        if os.geteuid() != 0:
            return None
        try:
            pwd.getpwnam("postgres")
        except KeyError as exc:
            raise ClusterError(
                "running as root, and there is no unprivileged 'postgres' OS user to run the "
                "server (PostgreSQL refuses root); install the postgresql package or run "
                "ecorest as a normal user"
            ) from exc
        return "postgres"

    def _run(self, args: list[str], os_user: str | None, check: bool = True,
             ) -> subprocess.CompletedProcess:
        cmd = [str(a) for a in args]
        if os_user:
            cmd = ["runuser", "-u", os_user, "--", *cmd]
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env.setdefault("LANG", "C.UTF-8")
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd="/", env=env, check=False)
        if check and proc.returncode != 0:
            raise ClusterError(
                f"`{' '.join(cmd)}` failed (exit {proc.returncode}):\n{proc.stderr.strip()}"
            )
        return proc

    def _choose_pgdata(self, os_user: str | None) -> Path:
        pgdata = self.home / "pgdata"
        if os_user is None:
            return pgdata
        pgdata.mkdir(parents=True, exist_ok=True)
        shutil.chown(pgdata, os_user, os_user)
        pgdata.chmod(0o700)
        probe = self._run(["test", "-w", pgdata], os_user, check=False)
        if probe.returncode == 0:
            return pgdata
        pgdata.rmdir()
        digest = hashlib.sha1(str(self.home).encode()).hexdigest()[:12]
        fallback = FALLBACK_ROOT / digest / "pgdata"
        log.warning(
            "OS user %r cannot reach %s (a parent folder is private); keeping the cluster in %s",
            os_user, self.home, fallback,
        )
        fallback.mkdir(parents=True, exist_ok=True)
        for path in (fallback.parent, fallback):
            shutil.chown(path, os_user, os_user)
            path.chmod(0o700)
        return fallback

    # ----- lifecycle ---------------------------------------------------------------------------
    def init(self) -> ClusterState:
        """Create the cluster (initdb) unless it exists; return its state."""
        if self.is_initialised:
            return self.state()
        bin_dir = find_bin_dir()
        os_user = self._os_user()
        self.home.mkdir(parents=True, exist_ok=True)
        pgdata = self._choose_pgdata(os_user)
        password = secrets.token_urlsafe(24)
        port = _free_port(_preferred_port(self.home))
        log.info("initialising PostgreSQL cluster in %s (port %d)", pgdata, port)
        fd, pwfile = tempfile.mkstemp(prefix="ecorest-pw-")
        try:
            with os.fdopen(fd, "w") as fh:
                fh.write(password + "\n")
            if os_user:
                shutil.chown(pwfile, os_user, os_user)
            self._run(
                [bin_dir / "initdb", "-D", pgdata, "-U", SUPERUSER, "--pwfile", pwfile,
                 "--auth-local=scram-sha-256", "--auth-host=scram-sha-256",
                 "-E", "UTF8", "--locale=C.UTF-8"],
                os_user,
            )
        finally:
            os.unlink(pwfile)
        conf = Path(pgdata) / "postgresql.conf"
        with conf.open("a") as fh:
            fh.write(SERVER_CONF.format(port=port))
        state = ClusterState(pgdata=str(pgdata), port=port, password=password,
                             bin_dir=str(bin_dir), os_user=os_user,
                             runner_password=secrets.token_urlsafe(24))
        self._write_state(state)
        return state

    def is_running(self) -> bool:
        st = self.state()
        if st is None or not (Path(st.pgdata) / "PG_VERSION").exists():
            return False
        proc = self._run([Path(st.bin_dir) / "pg_ctl", "status", "-D", st.pgdata], st.os_user,
                         check=False)
        return proc.returncode == 0

    def start(self, port: int | None = None) -> ClusterState:
        """Initialise if needed, start if stopped, make sure the database exists.

        The cluster keeps its port across restarts (``cluster.json`` and ``postgresql.conf`` in
        its data folder), so that saved connections of QGIS or BI tools stay valid. When another
        program listens on it, starting fails naming that program; ``port`` moves a stopped
        cluster to another port deliberately."""
        st = self.init()
        if self.is_running():
            log.debug("cluster already running on port %d", st.port)
            if port is not None and port != st.port:
                raise ClusterError(f"the embedded cluster is running on port {st.port}: stop it "
                                   f"(`ecorest db stop`) before moving it to port {port}")
        else:
            if port is not None and port != st.port:
                st = self._move(st, port)
            if not _port_is_free(st.port):
                who = _listener(st.port)
                raise ClusterError(
                    f"port {st.port} of the embedded cluster under {self.home} is taken by "
                    f"{who or 'another program'}; stop that program, or move the cluster to "
                    f"another port with `ecorest db start --port PORT` (saved QGIS/BI "
                    "connections then need the new port)")
            logfile = Path(st.pgdata) / "server.log"
            log.info("starting PostgreSQL on 127.0.0.1:%d (log: %s)", st.port, logfile)
            t0 = time.monotonic()
            self._run([Path(st.bin_dir) / "pg_ctl", "start", "-D", st.pgdata, "-l", logfile,
                       "-w", "-t", "60"], st.os_user)
            log.info("PostgreSQL started in %.1f s", time.monotonic() - t0)
        if not st.runner_password:  # a cluster created before the runner login existed
            st = ClusterState(**{**asdict(st), "runner_password": secrets.token_urlsafe(24)})
            self._write_state(st)
        self._ensure_database(st)
        return st

    def _move(self, st: ClusterState, port: int) -> ClusterState:
        if not 1024 <= port <= 65535:
            raise ClusterError(f"port {port}: give a port between 1024 and 65535")
        if not _port_is_free(port):
            raise ClusterError(f"port {port} is taken by {_listener(port) or 'another program'}"
                               "; choose another one")
        with (Path(st.pgdata) / "postgresql.conf").open("a") as fh:
            fh.write(f"port = {port}  # moved by ecorest db start --port (was {st.port})\n")
        log.warning("embedded cluster moved from port %d to %d: saved connections need the new "
                    "port", st.port, port)
        st = ClusterState(**{**asdict(st), "port": port})
        self._write_state(st)
        return st

    def stop(self) -> bool:
        """Stop the server; returns False when it was not running."""
        st = self.state()
        if st is None or not self.is_running():
            return False
        self._run([Path(st.bin_dir) / "pg_ctl", "stop", "-D", st.pgdata, "-m", "fast", "-w"],
                  st.os_user)
        log.info("PostgreSQL stopped")
        return True

    def destroy(self) -> None:
        """Stop the server and delete the cluster files and state."""
        st = self.state()
        self.stop()
        if st is not None:
            shutil.rmtree(st.pgdata, ignore_errors=True)
            parent = Path(st.pgdata).parent
            if parent.parent == FALLBACK_ROOT:
                shutil.rmtree(parent, ignore_errors=True)
        if self.state_file.exists():
            self.state_file.unlink()
        log.info("embedded cluster under %s removed", self.home)

    # ----- connecting --------------------------------------------------------------------------
    def url(self, database: str | None = None) -> str:
        st = self.state()
        if st is None:
            raise ClusterError(f"no embedded cluster under {self.home}; run `ecorest db start`")
        return (f"postgresql://{quote(st.superuser)}:{quote(st.password)}@127.0.0.1:{st.port}/"
                f"{quote(database or st.database)}")

    def runner_url(self, database: str | None = None) -> str:
        """URL of the ``ecorest_runner`` login (member of ecorest_etl, not a superuser): what
        every command but db migrate/backup/restore/status connects with."""
        from .roles import RUNNER

        st = self.state()
        if st is None:
            raise ClusterError(f"no embedded cluster under {self.home}; run `ecorest db start`")
        if not st.runner_password:
            raise ClusterError(f"the embedded cluster under {self.home} has no runner login "
                               "yet; run `ecorest db start`")
        return (f"postgresql://{RUNNER}:{quote(st.runner_password)}@127.0.0.1:{st.port}/"
                f"{quote(database or st.database)}")

    def _ensure_database(self, st: ClusterState) -> None:
        import psycopg
        from psycopg import sql

        from .roles import ensure_runner, runner_is_ready

        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            exists = conn.execute("select 1 from pg_database where datname = %s",
                                  (st.database,)).fetchone()
            if not exists:
                conn.execute(sql.SQL("create database {}").format(sql.Identifier(st.database)))
                log.info("created database %s", st.database)
        if runner_is_ready(self.runner_url("postgres")):
            return
        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            try:
                ensure_runner(conn, st.runner_password)
            except psycopg.errors.InternalError_:  # another process updated it meanwhile
                ensure_runner(conn, st.runner_password)
