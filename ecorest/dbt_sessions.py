"""dbt's PostgreSQL sessions kept open from one model to the next within a dbt call.

dbt-postgres closes its thread's connection after every node, so each model and test of a
run logged in anew: a new server process, which loads PL/Python and numpy again the first time
a model calls a kernel (about 0.15 s, some 30 kernel models a run). A finished node's session
is made as new instead: its transaction rolled back, then ``DISCARD ALL`` (temporary tables,
prepared statements, settings, advisory locks and cursors gone, as at login) and the profile's
role set again, as dbt-postgres does at login. What stays is the server process: PL/Python
with the kernels' helpers (code only, in GD) and the data nodes' dblink connections, which are
checked before every use (raster.node_connection). A session that cannot be reset is closed,
as dbt would have closed it; dbt closes the others at the end of its call. Measured on a
64 x 64 region run again (``--force``), 3 runs each: 16.0-17.2 s with a login a node, 10.9-11.2 s
with the sessions kept (docs/ARCHITECTURE.md, "Time of a run").
"""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)

_INSTALLED = False


def keep_sessions() -> None:
    """Make dbt-postgres keep its sessions between nodes (once per process)."""
    global _INSTALLED
    if _INSTALLED:
        return
    from dbt.adapters.postgres.connections import PostgresConnectionManager

    close_it = PostgresConnectionManager.release

    def release(self) -> None:
        with self.lock:
            conn = self.get_if_exists()
        if conn is None or conn.state != "open" or not _reset(conn):
            close_it(self)

    PostgresConnectionManager.release = release
    _INSTALLED = True


def _reset(conn) -> bool:
    """The session of dbt's connection ``conn`` as at login; False when it cannot be."""
    import psycopg2
    from psycopg2 import sql

    handle = conn.handle
    try:
        if handle.closed:
            return False
        # psycopg2's own state too: dbt's explicit BEGIN/COMMIT leave it "in a transaction"
        handle.rollback()
        conn.transaction_open = False
        autocommit = handle.autocommit
        handle.autocommit = True        # DISCARD ALL cannot run in a transaction block
        try:
            with handle.cursor() as cur:
                cur.execute("discard all")
                if conn.credentials.role:
                    cur.execute(sql.SQL("set role {}").format(
                        sql.Identifier(conn.credentials.role)))
        finally:
            handle.autocommit = autocommit
        return True
    except psycopg2.Error as exc:
        log.debug("dbt session not reusable, closed: %s", exc)
        return False
