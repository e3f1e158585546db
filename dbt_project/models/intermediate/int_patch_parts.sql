-- restoration patches, step 1: the edge-connected parts of equal grade 1..patch_max_grade of
-- every priority tile of the run (raster.np_patch_parts), with pixel counts, band sums and the
-- keys of the tile borders they touch; a part inside a tile that is too small to be a patch
-- by itself is left out by the kernel (the merge, restoration_patches, could never keep it).
-- The kernel runs once per tile in PostgreSQL's parallel workers: it is called in the select
-- list of a subquery (a set-returning function there is costed per tile; in a lateral join
-- the planner counts its cost once and finds workers not worth starting) and the region's
-- pixel area enters as a scalar subquery
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
