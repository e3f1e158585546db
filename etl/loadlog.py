"""One load = one transaction + one row in ``etl.loads``.

``recorded_load`` opens the transaction, switches to the ``ecorest_etl`` role (so loads run with
the loader's privileges, not the connecting superuser's), records the load and its quarantined
items, and commits only when everything succeeded. On any error the transaction is rolled back —
the database is as it was — and a ``failed`` row with the message is written to the load log in a
transaction of its own.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from ecorest.errors import LoadError

from .validation import Issue, fail, issue

log = logging.getLogger(__name__)

LOADER_ROLE = "ecorest_etl"


def sha256_file(path: str | Path, chunk: int = 1 << 22) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def check_file(path: str | Path, what: str) -> Path:
    """The file exists and is not empty (rules file.exists, file.not_empty)."""
    p = Path(path)
    if not p.exists():
        raise fail(p, "", "file.exists")
    if p.is_file() and p.stat().st_size == 0:
        raise fail(p, "", "file.not_empty")
    return p


def use_loader_role(conn: psycopg.Connection) -> None:
    """``SET LOCAL ROLE ecorest_etl`` when the session may; otherwise keep the current role."""
    may = conn.execute("select pg_has_role(current_user, %s, 'MEMBER')", (LOADER_ROLE,)).fetchone()
    if may and may[0]:
        conn.execute(sql.SQL("set local role {}").format(sql.Identifier(LOADER_ROLE)))


@dataclass
class LoadContext:
    """What a running load writes besides its data."""

    conn: psycopg.Connection
    load_id: int
    path: str
    sha256: str
    strict: bool
    warnings: list[Issue] = field(default_factory=list)
    quarantined: int = 0
    rows_read: int = 0
    rows_loaded: int = 0
    message: str | None = None
    replaces_load_id: int | None = None

    def warn(self, item: Issue) -> None:
        log.warning("%s", item)
        self.warnings.append(item)

    def reject(self, items: list[Issue]) -> None:
        """Quarantine rejected items, or fail the load in ``--strict`` mode."""
        if not items:
            return
        if self.strict:
            raise LoadError(items)
        with self.conn.cursor() as cur:
            cur.executemany(
                "insert into etl.quarantine (load_id, source_path, item, rule, message, record) "
                "values (%s, %s, %s, %s, %s, %s)",
                [(self.load_id, i.path, i.item, i.rule, i.message,
                  Jsonb(i.record) if i.record is not None else None) for i in items])
        self.quarantined += len(items)
        for i in items[:5]:
            log.warning("quarantined: %s", i)
        if len(items) > 5:
            log.warning("... %d more quarantined (see etl.quarantine, load %d)",
                        len(items) - 5, self.load_id)


def previous_load(conn: psycopg.Connection, loader: str, sha256: str, **key) -> int | None:
    """The id of a succeeded load of the same file for the same target (a re-run is a no-op)."""
    where = [sql.SQL("loader = %s"), sql.SQL("source_sha256 = %s"),
             sql.SQL("status = 'succeeded'")]
    params: list = [loader, sha256]
    for column, value in key.items():
        if column not in ("region_id", "layer", "epoch_label"):
            raise ValueError(column)
        where.append(sql.SQL("{} is not distinct from %s").format(sql.Identifier(column)))
        params.append(value)
    query = sql.SQL("select max(load_id) from etl.loads where {}").format(
        sql.SQL(" and ").join(where))
    row = conn.execute(query, params).fetchone()
    conn.rollback()
    return row[0] if row else None


@contextmanager
def recorded_load(conn: psycopg.Connection, loader: str, path: str | Path, sha256: str, *,
                  region_id: int | None = None, layer: str | None = None,
                  epoch_label: str | None = None, options: dict | None = None,
                  strict: bool = False) -> Iterator[LoadContext]:
    """Run one load inside one transaction, recorded in ``etl.loads``."""
    if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
        # a load must be its own top-level transaction, not a savepoint of the caller's
        raise RuntimeError("recorded_load needs an idle connection: commit or roll back first")
    t0 = time.monotonic()
    path = str(path)
    opts = _json_safe(options or {})
    try:
        with conn.transaction():
            use_loader_role(conn)
            load_id = conn.execute(
                "insert into etl.loads (loader, region_id, source_path, source_sha256, layer, "
                "epoch_label, status, options) values (%s, %s, %s, %s, %s, %s, 'running', %s) "
                "returning load_id",
                (loader, region_id, path, sha256, layer, epoch_label, Jsonb(opts))).fetchone()[0]
            ctx = LoadContext(conn, load_id, path, sha256, strict)
            yield ctx
            analyze_load(conn, load_id)
            conn.execute(
                "update etl.loads set status = 'succeeded', finished_at = now(), rows_read = %s, "
                "rows_loaded = %s, rows_quarantined = %s, warnings = %s, message = %s, "
                "replaces_load_id = %s where load_id = %s",
                (ctx.rows_read, ctx.rows_loaded, ctx.quarantined,
                 Jsonb([{"item": w.item, "rule": w.rule, "message": w.message}
                        for w in ctx.warnings]),
                 ctx.message, ctx.replaces_load_id, load_id))
    except Exception as exc:
        if conn.broken or conn.closed:
            # the server or the network went away: the server rolls the transaction back, and
            # there is no connection left to record the failure on
            raise LoadError(connection_lost_message(path, exc)) from exc
        if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            try:
                conn.rollback()
            except psycopg.OperationalError as lost:
                raise LoadError(connection_lost_message(path, lost)) from exc
        _record_failure(conn, loader, path, sha256, region_id, layer, epoch_label, opts, exc)
        if isinstance(exc, LoadError):
            raise
        if isinstance(exc, psycopg.Error):
            raise LoadError(f"{path}: database rejected the load: {exc}".strip()) from exc
        raise
    log.info("%s load %d of %s: %d read, %d loaded, %d quarantined, %d warning(s) in %.1f s",
             loader, load_id, path, ctx.rows_read, ctx.rows_loaded, ctx.quarantined,
             len(ctx.warnings), time.monotonic() - t0)


def analyze_load(conn: psycopg.Connection, load_id: int) -> None:
    """Planner statistics of the tables and tile partitions the load wrote, in its transaction
    (``raster.analyze_load``): the models that read them next are planned on their real row
    counts (without them a join of new tiles and zones can take minutes instead of seconds).
    A database whose sql/ files predate the function (not migrated since) loads without."""
    if conn.execute("select to_regprocedure('raster.analyze_load(bigint)') is not null"
                    ).fetchone()[0]:
        conn.execute("select raster.analyze_load(%s)", (load_id,))
    else:
        log.debug("raster.analyze_load is missing (run `ecorest db migrate`): no statistics")


def connection_lost_message(path: str, exc: BaseException) -> Issue:
    """One line for a connection lost in the middle of a load (rule db.connection)."""
    detail = " ".join(str(exc).split())[:200] or type(exc).__name__
    return issue(path, "", "db.connection", detail=detail)


def _json_safe(value):
    """Options as JSON values (NaN/inf and other objects become strings)."""
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def _record_failure(conn, loader, path, sha256, region_id, layer, epoch_label, opts, exc) -> None:
    try:
        with conn.transaction():
            use_loader_role(conn)
            conn.execute(
                "insert into etl.loads (loader, region_id, source_path, source_sha256, layer, "
                "epoch_label, status, finished_at, message, options) "
                "values (%s, %s, %s, %s, %s, %s, 'failed', now(), %s, %s)",
                (loader, region_id, path, sha256, layer, epoch_label, str(exc)[:4000],
                 Jsonb(opts)))
    except psycopg.Error as log_exc:  # the log must never hide the original error
        log.error("could not record the failed load: %s", log_exc)
        conn.rollback()
