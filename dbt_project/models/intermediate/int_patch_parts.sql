-- restoration patches, step 1: the edge-connected parts of equal grade 1..patch_max_grade of
-- every priority tile of the run (raster.np_patch_parts), with pixel counts, band sums and the
-- keys of the tile borders they touch; a part inside a tile that is too small to be a patch
-- by itself is left out by the kernel (the merge, restoration_patches, could never keep it).
-- The kernel runs once per tile in PostgreSQL's parallel workers: it is called in the select
-- list of a subquery (a set-returning function there is costed per tile; in a lateral join
-- the planner counts its cost once and finds workers not worth starting) and the region's
-- pixel area enters as a scalar subquery. With the run's identification on the data nodes
-- (int_factor_placement), each node finds the parts of the priority tiles it keeps and only
-- the parts travel: a border key is the same on both sides of a tile border, so the merge
-- (int_patch_components) joins parts of tiles on different nodes as those of one server.
-- depends_on: {{ ref('int_factor_placement') }}
{% if overlay_on_nodes() %}
select r.tile_x, r.tile_y, r.part, r.grade, r.pixels, r.band_pixels, r.band_totals,
       r.edge_keys
from raster.node_rows(
    'node-side patch parts', array['derived_priority'],
    format('select s.tile_x, s.tile_y, (s.p).* from (select tile_x, tile_y, '
           'raster.np_patch_parts(rast::bytea, {{ var("patch_max_grade") }}, %s::float8, '
           '({{ var("min_patch_ha") }} * 0.999)::float8) as p from raster.%%1$I) as s',
           (select pixel_area_ha::float8 from {{ ref('stg_registry__regions') }}))) as j
cross join lateral jsonb_to_recordset(j.rows)
    as r(tile_x integer, tile_y integer, part integer, grade integer, pixels bigint,
         band_pixels bigint[], band_totals double precision[], edge_keys bigint[])
{% else %}
select s.tile_x, s.tile_y, (s.p).*
from (
    select pt.tile_x, pt.tile_y,
           raster.np_patch_parts(
               pt.rast::bytea, {{ var('patch_max_grade') }},
               (select pixel_area_ha::float8 from {{ ref('stg_registry__regions') }}),
               ({{ var('min_patch_ha') }} * 0.999)::float8) as p
    from {{ ref('priority_tiles') }} as pt
    where pt.run_id = {{ var('run_id') }}
) as s
{% endif %}
