"""least privilege: the login ecorest_runner (member of ecorest_etl, never a superuser)

Everyday commands and dbt connect as ``ecorest_runner``: an ordinary login (INHERIT; no
SUPERUSER, CREATEROLE, CREATEDB, REPLICATION or BYPASSRLS) whose only privileges are those of
``ecorest_etl``, so that no ``RESET ROLE`` leads to a superuser. It is created without a
password: the embedded cluster sets the one it keeps in ``cluster.json``; on another server an
administrator sets one (``ALTER ROLE ecorest_runner PASSWORD '…'``, docs/OPERATIONS.md). Like
the other roles it is cluster-wide: created when missing, never dropped. The grants that make
the load log and past parameter values append-only are in sql/900_grants.sql and
sql/010_functions.sql (re-applied after every migration).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RUNNER = "ecorest_runner"


def upgrade() -> None:
    op.execute(f"""
        do $$ begin
          if not exists (select from pg_roles where rolname = '{RUNNER}') then
            create role {RUNNER} login nosuperuser nocreatedb nocreaterole inherit
              noreplication nobypassrls;
          end if;
          if not pg_has_role('{RUNNER}', 'ecorest_etl', 'MEMBER') then
            grant ecorest_etl to {RUNNER};
          end if;
          -- its sessions stop within 2 s when their client dies (killed, network gone)
          alter role {RUNNER} set client_connection_check_interval = '2s';
          comment on role {RUNNER} is 'ecorest: login of everyday commands and dbt runs; '
            'member of ecorest_etl only, never a superuser';
        exception when insufficient_privilege then
          raise notice 'cannot create the login {RUNNER} (needs CREATEROLE): an administrator '
            'runs CREATE ROLE {RUNNER} LOGIN PASSWORD ''...'' IN ROLE ecorest_etl';
        end $$""")


def downgrade() -> None:
    pass  # roles are cluster-wide and never dropped (revision 0001)
