"""schema maps: raster layers published for GIS clients

``ecorest qgis`` and ``ecorest export`` publish a region's raster layers (each input layer and
epoch, the priority grades, carbon densities and their change) as one table per layer and
epoch in schema ``maps``, named for both, with a comment, PostGIS raster constraints (SRID,
extent, blocking), overview tables registered in ``raster_overviews`` and physical values
(scale and offset applied), so that QGIS's PostGIS raster provider opens them without help.
The tables are built by ``ecorest_etl``; ``ecorest_analyst`` and ``ecorest_bi`` read them
(grants in sql/900_grants.sql).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("create schema if not exists maps")
    op.execute("comment on schema maps is 'Raster layers published for GIS clients: one table "
               "per region, layer and epoch (physical values, raster constraints, overviews "
               "o_<factor>_<table>), rebuilt by ecorest qgis and ecorest export'")
    op.execute("""
        create table if not exists maps.layers (
            table_name text primary key,
            region_id integer not null references registry.regions (region_id)
                on delete cascade,
            run_id bigint,
            layer text not null,
            epoch_label text,
            title text not null,
            units text,
            value_kind text not null check (value_kind in ('categorical', 'continuous')),
            source text not null,
            published_at timestamptz not null default now()
        )""")
    op.execute("comment on table maps.layers is 'The published raster layers: one row per "
               "table of schema maps'")
    for column, text in [
            ("table_name", "Table in schema maps (its overviews are o_<factor>_<table_name>)"),
            ("region_id", "Region (registry.regions)"),
            ("run_id", "Assessment run of a result layer (null for an input layer)"),
            ("layer", "Layer: an input layer kind (landcover, ndvi, dem, factor_<x> ...) or a "
                      "result (priority_grade, composite_score, carbon_density, "
                      "carbon_density_change)"),
            ("epoch_label", "Epoch (null for a layer without one)"),
            ("title", "Title shown in GIS clients"),
            ("units", "Units of the stored (physical) values"),
            ("value_kind", "categorical (class codes) or continuous"),
            ("source", "Where the values come from (catalog entry and file, or mart)"),
            ("published_at", "When the table was built")]:
        op.execute(f"comment on column maps.layers.{column} is '{text}'")


def downgrade() -> None:
    op.execute("drop schema if exists maps cascade")
