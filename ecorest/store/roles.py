"""The login everyday work connects as: a member of ``ecorest_etl``, never a superuser.

``ecorest_runner`` is a LOGIN role (created by revision 0005; ``INHERIT``, no ``SUPERUSER``,
``CREATEROLE``, ``CREATEDB``, ``REPLICATION`` or ``BYPASSRLS``) whose only privileges are those of
``ecorest_etl``. On the embedded cluster its password is generated when the cluster is created
and kept in ``cluster.json`` (mode 0600); every command but ``db migrate|backup|restore|status``
connects as it. With ``--dsn`` the given login is used; give the runner's DSN there.

dbt (``ecorest run``) must never hold a superuser session: a ``SET ROLE`` is no boundary when
``RESET ROLE`` leads back to a superuser. :func:`least_privilege_url` returns the URL dbt
connects with — the given one when its login is unprivileged and a member of ``ecorest_etl``;
for a superuser URL (a ``--dsn`` of the migration owner, the test suite) a temporary login for
this one dbt invocation, member of ``ecorest_etl`` only, valid for a day at most and dropped
afterwards.
"""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

from ecorest.errors import DatabaseError

log = logging.getLogger(__name__)

RUNNER = "ecorest_runner"
LOADER = "ecorest_etl"
#: prefix of the temporary logins made for one dbt invocation from a superuser URL
TEMPORARY_PREFIX = "ecorest_tmp_run_"
#: attributes every ecorest login has (and the runner is checked against)
LOGIN_ATTRIBUTES = ("LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE INHERIT NOREPLICATION "
                    "NOBYPASSRLS")

#: the runner's sessions notice within this many ms that their client died (killed, network
#: gone) and stop what they are doing instead of finishing a long query for nobody
CLIENT_CHECK = "2s"

#: what makes a login too powerful to run models: attributes and built-in roles
PRIVILEGED = """
select r.rolname, r.rolsuper, r.rolcreaterole or r.rolcreatedb or r.rolreplication
       or r.rolbypassrls
       or pg_has_role(r.oid, 'pg_execute_server_program', 'MEMBER')
       or pg_has_role(r.oid, 'pg_write_server_files', 'MEMBER')
       or pg_has_role(r.oid, 'pg_read_server_files', 'MEMBER'),
       pg_has_role(r.oid, %s, 'MEMBER') and pg_has_role(r.oid, %s, 'USAGE')
from pg_roles r where r.rolname = session_user
"""


def login_privileges(conn: psycopg.Connection) -> tuple[str, bool, bool, bool]:
    """(login, is superuser, has other dangerous powers, may act as ecorest_etl)."""
    row = conn.execute(PRIVILEGED, (LOADER, LOADER)).fetchone()
    return row[0], bool(row[1]), bool(row[2]), bool(row[3])


RUNNER_NEEDS_FIXING = """
select r.rolsuper or r.rolcreaterole or r.rolcreatedb or not r.rolinherit
       or not exists (select from pg_db_role_setting s where s.setrole = r.oid
                      and s.setdatabase = 0 and %s = any(s.setconfig))
       or (exists (select from pg_roles g where g.rolname = %s)
           and not exists (select from pg_auth_members m join pg_roles g on g.oid = m.roleid
                           where g.rolname = %s and m.member = r.oid))
from pg_roles r where r.rolname = session_user
"""


def runner_is_ready(url: str) -> bool:
    """Whether the runner logs in with the password of ``url`` and is set up as it should be
    (checked before changing anything: concurrent ALTER ROLEs of one role fail)."""
    try:
        with psycopg.connect(url, connect_timeout=10, application_name="ecorest-runner-check"
                             ) as conn:
            row = conn.execute(RUNNER_NEEDS_FIXING, (
                f"client_connection_check_interval={CLIENT_CHECK}", LOADER, LOADER)).fetchone()
            return row is not None and not row[0]
    except psycopg.OperationalError:
        return False


def ensure_runner(conn: psycopg.Connection, password: str | None) -> None:
    """Create or update ``ecorest_runner`` (cluster-wide) on a superuser connection; make it a
    member of ``ecorest_etl`` when that role exists (revision 0001 creates it)."""
    exists = conn.execute("select 1 from pg_roles where rolname = %s", (RUNNER,)).fetchone()
    verb = "alter" if exists else "create"
    stmt = sql.SQL("{} role {} " + LOGIN_ATTRIBUTES).format(sql.SQL(verb), sql.Identifier(RUNNER))
    if password:
        stmt = sql.SQL("{} password {}").format(stmt, sql.Literal(password))
    conn.execute(stmt)
    conn.execute(sql.SQL("alter role {} set client_connection_check_interval = {}").format(
        sql.Identifier(RUNNER), sql.Literal(CLIENT_CHECK)))
    if conn.execute("select 1 from pg_roles where rolname = %s", (LOADER,)).fetchone():
        member = conn.execute("select pg_has_role(%s, %s, 'MEMBER')", (RUNNER, LOADER)).fetchone()
        if not member[0]:
            conn.execute(sql.SQL("grant {} to {}").format(sql.Identifier(LOADER),
                                                         sql.Identifier(RUNNER)))


@contextmanager
def least_privilege_url(url: str) -> Iterator[str]:
    """The URL to run models with: never a superuser's, always a member of ``ecorest_etl``."""
    try:
        conn = psycopg.connect(url, autocommit=True, connect_timeout=10,
                               application_name="ecorest-login-check")
    except psycopg.OperationalError as exc:
        reason = " ".join(str(exc).split())
        raise DatabaseError(f"cannot connect to run the models: {reason}") from exc
    with conn:
        login, superuser, powerful, loader = login_privileges(conn)
        if not superuser:
            if powerful:
                raise DatabaseError(
                    f"login {login!r} has CREATEROLE, CREATEDB, REPLICATION, BYPASSRLS or a "
                    "server-file/program role: models run only as an ordinary login that is a "
                    f"member of {LOADER} (e.g. {RUNNER}; see docs/OPERATIONS.md)")
            if not loader:
                raise DatabaseError(
                    f"login {login!r} is not a member of {LOADER}: give the DSN of "
                    f"{RUNNER} (or `GRANT {LOADER} TO {login}`)")
            yield url
            return
        name, password = _create_temporary_login(conn)
    try:
        yield make_conninfo(url, user=name, password=password)
    finally:
        _drop_temporary_login(url, name)


def _create_temporary_login(conn: psycopg.Connection) -> tuple[str, str]:
    _drop_expired(conn)
    name = f"{TEMPORARY_PREFIX}{os.getpid()}_{secrets.token_hex(4)}"
    password = secrets.token_urlsafe(24)
    conn.execute(sql.SQL("create role {} " + LOGIN_ATTRIBUTES + " connection limit 16 "
                         "password {} valid until {} in role {}").format(
        sql.Identifier(name), sql.Literal(password),
        sql.Literal(conn.execute("select (now() + interval '1 day')::text").fetchone()[0]),
        sql.Identifier(LOADER)))
    conn.execute(sql.SQL("comment on role {} is {}").format(
        sql.Identifier(name), sql.Literal("ecorest: temporary login of one dbt invocation "
                                          "(a superuser URL was given); dropped afterwards")))
    log.debug("models run as the temporary login %s (member of %s only)", name, LOADER)
    return name, password


def _drop_temporary_login(url: str, name: str) -> None:
    try:
        with psycopg.connect(url, autocommit=True, connect_timeout=10,
                             application_name="ecorest-login-check") as conn:
            conn.execute("select pg_terminate_backend(pid) from pg_stat_activity "
                         "where usename = %s", (name,))
            conn.execute(sql.SQL("drop role if exists {}").format(sql.Identifier(name)))
    except psycopg.Error as exc:  # it expires within a day anyway
        log.warning("could not drop the temporary login %s: %s", name,
                    " ".join(str(exc).split()))


def _drop_expired(conn: psycopg.Connection) -> None:
    """Temporary logins of processes that died (expired, or their process is gone)."""
    rows = conn.execute(
        "select rolname from pg_roles where rolname like %s and rolvaliduntil < now()",
        (TEMPORARY_PREFIX.replace("_", r"\_") + "%",)).fetchall()
    for (name,) in rows:
        try:
            conn.execute(sql.SQL("drop role {}").format(sql.Identifier(name)))
        except psycopg.Error:
            pass
