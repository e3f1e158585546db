"""schema ipcc for the IPCC equation functions (bodies live in sql/)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("create schema if not exists ipcc")
    op.execute("comment on schema ipcc is 'IPCC 2006/2019 AFOLU equations as SQL functions "
               "(bodies in sql/020_ipcc.sql)'")


def downgrade() -> None:
    op.execute("drop schema if exists ipcc cascade")
