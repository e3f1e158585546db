-- pixels per (project, inside/ring, land-cover trajectory): the class at every epoch (null
-- where invalid), counted by raster.trajectories on the project and baseline-ring rasters
-- (raster.project_tiles, burnt onto the tiles of the first epoch)
{% set ids = "array(select catalog_id from " ~ ref('stg_raster__landcover_epochs')
              ~ " order by epoch_no)" %}
with project_count as (
    select count(*) as n from {{ ref('stg_registry__projects') }}
),

{% if tiles_on_nodes(ids) %}
-- the epochs co-located on data nodes: every node burns the projects onto its own tiles and
-- counts there (raster.np_node_project_trajectories); only the counts travel
trajectories as (
    select x.zone_id, x.classes, x.pixels
    from raster.np_node_project_trajectories({{ ids }}, {{ var('baseline_ring_m') }}) as x
    where (select n from project_count) > 0
)
{% else %}
epochs as (
    select catalog_id, epoch_no from {{ ref('stg_raster__landcover_epochs') }}
),

stacks as (
    {{ landcover_tile_stacks() }}
),

trajectories as (
    select x.zone_id, x.classes, x.pixels
    from (select catalog_id from epochs where epoch_no = 1) as first_epoch
    cross join project_count as pc
    cross join lateral raster.project_tiles(first_epoch.catalog_id,
                                            {{ var('baseline_ring_m') }}) as zt
    join stacks as s on s.tile_x = zt.tile_x and s.tile_y = zt.tile_y
    cross join lateral raster.trajectories(zt.rast::bytea, s.tiles) as x
    where pc.n > 0 and x.zone_id <> 0
)
{% endif %}

select
    zone_id / 2 as project_version_id,
    case when zone_id % 2 = 0 then 'project' else 'baseline_ring' end as area_kind,
    classes,
    sum(pixels) as pixels
from trajectories
group by 1, 2, 3
