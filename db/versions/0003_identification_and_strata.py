"""schema ident (identification functions; bodies in sql/) and the IPCC strata of a region

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("create schema if not exists ident")
    op.execute("comment on schema ident is 'Restoration-area identification functions: AHP, "
               "class breaks, accuracy (bodies in sql/040_identification.sql)'")
    op.add_column("regions", sa.Column(
        "ipcc_climate_zone", sa.Text(),
        comment="IPCC climate zone of the region (e.g. warm_temperate_moist): selects the "
                "Tier 1 defaults (SOC_REF, F_LU, grassland biomass)"), schema="registry")
    op.add_column("regions", sa.Column(
        "ipcc_soil_type", sa.Text(),
        comment="Dominant IPCC mineral soil type of the region (HAC, LAC, sandy, spodic, "
                "volcanic, wetland)"), schema="registry")
    op.create_check_constraint(
        op.f("ck_regions_ipcc_soil_type"), "regions",
        "ipcc_soil_type is null or ipcc_soil_type in "
        "('HAC', 'LAC', 'sandy', 'spodic', 'volcanic', 'wetland')", schema="registry")


def downgrade() -> None:
    op.drop_constraint(op.f("ck_regions_ipcc_soil_type"), "regions", schema="registry")
    op.drop_column("regions", "ipcc_soil_type", schema="registry")
    op.drop_column("regions", "ipcc_climate_zone", schema="registry")
    op.execute("drop schema if exists ident cascade")
