{{ config(post_hook=[
    "alter table {{ this }} set (fillfactor = 10)",
    "create temporary table tile_positions_rows on commit drop as select * from {{ this }}",
    "truncate {{ this }}",
    "insert into {{ this }} select * from tile_positions_rows order by tile_y, tile_x",
    "analyze {{ this }}"]) }}
-- every tile position at which a layer the run pinned has a tile: the driving table of the
-- per-tile models (a table, not a query, so that PostgreSQL can share its rows among parallel
-- workers, each gathering the tiles of its positions and calling the kernels on them).
-- Workers share a table by pages: packed into two pages, 256 positions went 226 to one process
-- and 30 to the other. Written again at fillfactor 10 (about 20 positions a page), every
-- process takes a few positions at a time.
select distinct t.tile_x, t.tile_y
from {{ source('raster', 'catalog') }} as c
join {{ source('etl', 'assessment_runs') }} as a
    on a.run_id = {{ var('run_id') }} and c.catalog_id = any(a.input_catalog_ids)
cross join {{ entry_tiles('c.catalog_id') }} as t
where c.region_id = {{ var('region_id') }}
order by t.tile_y, t.tile_x
