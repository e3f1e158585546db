"""zones on the region grid: registry.zone_tiles, written when a zone set is loaded

Every model that counts by zone needs the zone of each pixel. A run used to burn the polygons
of every zone set onto the tiles of its first land-cover epoch with PostGIS (ST_AsRaster per
tile and zone, in one process): 27 s of a 10^8-px run, repeated by every run although the
zones had not changed. The zone loader now rasterises a zone set onto the region's grid once,
in the load's transaction (pixel centres inside the polygon, GDAL's rule, the one PostGIS
applies), and keeps one tile per grid position the set touches: the zone id of each pixel, 0
outside every zone (nodata). Runs read these tiles; a zone set loaded before this revision has
none and is burnt by the run as before, until the set is loaded again.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import geoalchemy2
import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "zone_tiles",
        sa.Column("region_id", sa.Integer(), nullable=False,
                  comment="Region whose grid the tiles are on (registry.regions)"),
        sa.Column("zone_set", sa.Text(), nullable=False,
                  comment="Zone set (registry.zones.zone_set)"),
        sa.Column("tile_x", sa.Integer(), nullable=False,
                  comment="Tile column on the region grid (0 = west)"),
        sa.Column("tile_y", sa.Integer(), nullable=False,
                  comment="Tile row on the region grid (0 = north)"),
        sa.Column("rast", geoalchemy2.types.Raster(spatial_index=False, from_text="raster",
                                                   name="raster", nullable=False),
                  nullable=False,
                  comment="Zone id (registry.zones.zone_id) of each pixel whose centre lies in "
                          "the zone; 0 (nodata) outside every zone; where zones overlap the "
                          "larger id"),
        sa.Column("load_id", sa.BigInteger(), nullable=False,
                  comment="The zone load (etl.loads) that wrote the tile"),
        sa.ForeignKeyConstraint(["region_id"], ["registry.regions.region_id"],
                                name=op.f("fk_zone_tiles_region_id_regions"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["load_id"], ["etl.loads.load_id"],
                                name=op.f("fk_zone_tiles_load_id_loads")),
        sa.PrimaryKeyConstraint("region_id", "zone_set", "tile_x", "tile_y",
                                name=op.f("pk_zone_tiles")),
        schema="registry",
        comment="Zone sets rasterised onto their region's grid when loaded: one tile per grid "
                "position a set touches",
    )
    # zone ids compress well; lz4 decompresses several times faster than pglz
    op.execute("""
        do $$ begin
          alter table registry.zone_tiles alter column rast set compression lz4;
        exception when feature_not_supported then null;
        end $$""")


def downgrade() -> None:
    op.drop_table("zone_tiles", schema="registry")
