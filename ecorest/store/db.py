"""Connections, migrations and the schema-version gate.

One place decides which server to use (``resolve_url``), how to connect (``connect``), how to
bring a database to the code's schema (``migrate``: ``alembic upgrade head`` then the idempotent
files in ``sql/``) and whether a database is current (``require_current``).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from sqlalchemy.engine import make_url

from ecorest import assets
from ecorest.errors import ClusterError, DatabaseError, SchemaOutOfDate
from ecorest.settings import APPLICATION_NAME, Settings

log = logging.getLogger(__name__)

#: schemas created by the migrations (loaded data) and reserved for dbt (derived data)
LOADED_SCHEMAS = ("registry", "raster", "etl")
MODEL_SCHEMAS = ("staging", "intermediate", "marts", "bi")
ROLES = ("ecorest_etl", "ecorest_analyst", "ecorest_bi", "ecorest_runner")


def mask_url(url: str) -> str:
    """The URL/conninfo with its password replaced by ``***``."""
    masked = re.sub(r"(postgres(?:ql)?(?:\+\w+)?://[^:/@]+:)[^@]*@", r"\1***@", url)
    return re.sub(r"(password\s*=\s*)(\S+)", r"\1***", masked)


def resolve_url(settings: Settings, start: bool = True, create: bool = False,
                admin: bool | None = None) -> str:
    """The libpq URL of the database to use; starts the embedded cluster when needed.

    Only ``create=True`` (``ecorest db start``, ``db migrate``, ``demo``) may create a new
    embedded cluster: any other command refuses rather than work on a new, empty database.

    On the embedded cluster the URL is that of the ``ecorest_runner`` login (a member of
    ``ecorest_etl``, not a superuser), unless ``admin`` (default: ``create``) asks for the
    cluster's superuser, which only migrations, backups, restores and the status need. A URL
    given with --dsn / ECOREST_DATABASE_URL is used as it is.
    """
    if settings.database_url:
        return settings.database_url
    from .cluster import EmbeddedCluster

    cluster = EmbeddedCluster(settings.home)
    if not create and not cluster.is_initialised:
        raise ClusterError(
            f"no embedded cluster under {settings.home} (data folder from "
            f"{settings.home_source}); create one with `ecorest db migrate`, or give the data "
            "folder of an existing one with --home / ECOREST_HOME, or a server with --dsn")
    if start:
        cluster.start()
    if create if admin is None else admin:
        return cluster.url()
    return cluster.runner_url()


def sqlalchemy_url(url: str) -> str:
    """The same database as an SQLAlchemy URL using the psycopg 3 driver."""
    if "://" not in url:  # key=value conninfo
        params = psycopg.conninfo.conninfo_to_dict(url)
        from sqlalchemy.engine import URL

        return URL.create(
            "postgresql+psycopg", username=params.get("user"), password=params.get("password"),
            host=params.get("host"), port=int(params["port"]) if params.get("port") else None,
            database=params.get("dbname"),
        ).render_as_string(hide_password=False)
    u = make_url(url)
    return u.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)


def connect(url: str, autocommit: bool = False, **kwargs) -> psycopg.Connection:
    """A psycopg connection with ``application_name`` set and NOTICEs routed into logging."""
    try:
        conn = psycopg.connect(url, autocommit=autocommit, application_name=APPLICATION_NAME,
                               **kwargs)
    except psycopg.OperationalError as exc:
        reason = " ".join(str(exc).split())
        raise DatabaseError(f"cannot connect to {mask_url(url)}: {reason}") from exc
    conn.add_notice_handler(_log_notice)
    return conn


def _log_notice(diag: psycopg.errors.Diagnostic) -> None:
    logging.getLogger("postgres").debug("%s: %s", diag.severity, diag.message_primary)


# ----- migrations ------------------------------------------------------------------------------
def alembic_config(url: str):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(assets.path("db")))
    cfg.set_main_option("path_separator", "os")
    cfg.attributes["database_url"] = url
    return cfg


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config("")).get_current_head()


def current_revision(conn: psycopg.Connection) -> str | None:
    exists = conn.execute("select to_regclass('public.alembic_version')").fetchone()[0]
    if exists is None:
        return None
    row = conn.execute("select version_num from public.alembic_version").fetchone()
    return row[0] if row else None


def migrate(url: str, revision: str = "head") -> None:
    """Upgrade (or, for ``base``, downgrade) to ``revision``; at head env.py re-applies ``sql/``."""
    from alembic import command

    connect(url).close()  # an unreachable server: one DatabaseError, not alembic's traceback
    if revision == "base":
        command.downgrade(alembic_config(url), revision)
    else:
        command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str) -> None:
    from alembic import command

    command.downgrade(alembic_config(url), revision)


def apply_sql_files(conn) -> int:
    """Run every ``sql/NNN_*.sql`` file on ``conn`` (a DBAPI/psycopg connection)."""
    from .kernel_sql import inline_loaders

    files = assets.sql_files()
    texts = inline_loaders([path.read_text() for path in files])
    cur = conn.cursor()
    for path, text in zip(files, texts, strict=True):
        log.debug("applying %s", path.name)
        cur.execute(text)
    return len(files)


def require_current(conn: psycopg.Connection) -> str:
    """Raise :class:`SchemaOutOfDate` unless the database is at the code's head revision."""
    head = head_revision()
    current = current_revision(conn)
    if current != head:
        where = "an empty database" if current is None else f"revision {current}"
        raise SchemaOutOfDate(
            f"the database schema is {where}, this ecorest expects revision {head}; "
            "run `ecorest db migrate` to upgrade it"
        )
    return head


@contextmanager
def session(settings: Settings, *, check_schema: bool = True) -> Iterator[psycopg.Connection]:
    """A connection to the configured database, refused when its schema is out of date."""
    url = resolve_url(settings)
    with connect(url) as conn:
        if check_schema:
            require_current(conn)
            conn.rollback()
        yield conn


def existing_roles(conn: psycopg.Connection) -> list[str]:
    """Which of ecorest's roles exist on the server."""
    return [r for (r,) in conn.execute("select rolname from pg_roles where rolname = any(%s) "
                                       "order by 1", (list(ROLES),)).fetchall()]


def server_versions(conn: psycopg.Connection) -> dict[str, str | None]:
    """Versions of PostgreSQL, PostGIS (+raster) and the server's PL/Python and numpy."""
    out: dict[str, str | None] = {}
    out["postgresql"] = conn.execute("show server_version").fetchone()[0]
    installed = dict(conn.execute(
        "select extname, extversion from pg_extension "
        "where extname in ('postgis', 'postgis_raster', 'plpython3u')").fetchall())
    out["postgis"] = installed.get("postgis")
    out["postgis_raster"] = installed.get("postgis_raster")
    if installed.get("postgis"):
        out["postgis_full"] = conn.execute("select postgis_lib_version()").fetchone()[0]
        out["geos"] = conn.execute("select postgis_geos_version()").fetchone()[0]
        out["proj"] = conn.execute("select postgis_proj_version()").fetchone()[0]
    out["plpython3u"] = installed.get("plpython3u")
    has_fn = conn.execute("select to_regprocedure('etl.plpython_info()')").fetchone()[0]
    if has_fn:
        out["plpython"] = conn.execute("select etl.plpython_info()").fetchone()[0]
    conn.rollback()
    return out
