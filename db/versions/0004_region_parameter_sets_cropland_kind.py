"""parameter sets owned by a region (null = global); cropland kind of legend classes

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("parameter_sets", sa.Column(
        "region_id", sa.Integer(), sa.ForeignKey("registry.regions.region_id",
                                                 name=op.f("fk_parameter_sets_region_id_regions")),
        comment="Region that owns the set; null for a global set every region may use"),
        schema="registry")
    op.drop_constraint("uq_parameter_sets_name_version", "parameter_sets", schema="registry")
    op.create_unique_constraint(
        op.f("uq_parameter_sets_region_id_name_version"), "parameter_sets",
        ["region_id", "name", "version"], schema="registry", postgresql_nulls_not_distinct=True)
    op.add_column("legend_classes", sa.Column(
        "cropland_kind", sa.Text(),
        comment="For cropland classes: annual, paddy (水田) or perennial (园地, orchards and "
                "tree crops); selects the IPCC cropland factors"), schema="registry")
    op.create_check_constraint(
        op.f("ck_legend_classes_cropland_kind"), "legend_classes",
        "cropland_kind is null or cropland_kind in ('annual', 'paddy', 'perennial')",
        schema="registry")


def downgrade() -> None:
    op.drop_constraint(op.f("ck_legend_classes_cropland_kind"), "legend_classes",
                       schema="registry")
    op.drop_column("legend_classes", "cropland_kind", schema="registry")
    op.drop_constraint(op.f("uq_parameter_sets_region_id_name_version"), "parameter_sets",
                       schema="registry")
    op.create_unique_constraint("uq_parameter_sets_name_version", "parameter_sets",
                                ["name", "version"], schema="registry")
    op.drop_column("parameter_sets", "region_id", schema="registry")
