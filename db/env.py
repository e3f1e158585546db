"""Alembic environment for the loaded-data schemas (registry, raster, etl).

Only those schemas are compared by autogenerate: dbt owns staging/intermediate/marts/bi, PostGIS
owns its own tables, and the per-layer tile partitions (raster.tiles_<catalog_id>) are created at
load time. After an upgrade that ends at head, the idempotent files in sql/ are applied in the same
transaction (functions, grants); a revision never reads them itself.
"""

from __future__ import annotations

import logging
import re

from alembic import context
from sqlalchemy import create_engine, pool

from ecorest.settings import Settings
from ecorest.store import db as etl_db
from ecorest.store.models import metadata

config = context.config
log = logging.getLogger("ecorest.migrate")
if config.config_file_name and "database_url" not in config.attributes:
    # run from the alembic command line: use alembic.ini's logging setup
    from logging.config import fileConfig

    fileConfig(config.config_file_name, disable_existing_loggers=False)

MANAGED_SCHEMAS = set(etl_db.LOADED_SCHEMAS)
PARTITION = re.compile(r"^tiles_\d+$")


def database_url() -> str:
    url = config.attributes.get("database_url")
    if not url:
        url = etl_db.resolve_url(Settings.from_env())
    return etl_db.sqlalchemy_url(url)


def include_name(name, type_, parent_names) -> bool:
    if type_ == "schema":
        return name in MANAGED_SCHEMAS
    if type_ == "table":
        if parent_names.get("schema_name") not in MANAGED_SCHEMAS:
            return False
        return not PARTITION.match(name)
    return True


def run_migrations_offline() -> None:
    context.configure(
        url=database_url(), target_metadata=metadata, literal_binds=True,
        include_schemas=True, include_name=include_name,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connectable = create_engine(database_url(), poolclass=pool.NullPool,
                                connect_args={"application_name": "ecorest-migrate"})
    with connectable.connect() as connection:
        context.configure(
            connection=connection, target_metadata=metadata,
            include_schemas=True, include_name=include_name,
            compare_type=True, compare_server_default=False,
        )
        with context.begin_transaction():
            context.run_migrations()
            if _at_head(connection):
                n = etl_db.apply_sql_files(connection.connection.driver_connection)
                log.info("applied %d idempotent file(s) from sql/", n)


def _at_head(connection) -> bool:
    cmd = getattr(config, "cmd_opts", None)
    if cmd is not None and getattr(cmd, "cmd", None) and cmd.cmd[0].__name__ == "check":
        return False
    head = context.get_context().script.get_current_head()
    heads = context.get_context().get_current_heads()
    return heads == (head,)


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
