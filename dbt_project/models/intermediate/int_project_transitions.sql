-- pixels per (period, project, inside/ring, class at t1, class at t2)
with epochs as (
    select catalog_id, epoch_label, epoch_year, epoch_no
    from {{ ref('stg_raster__landcover_epochs') }}
),

periods as (
    select e1.catalog_id as catalog_t1, e2.catalog_id as catalog_t2,
           e1.epoch_label as epoch_t1, e2.epoch_label as epoch_t2,
           e2.epoch_year - e1.epoch_year as years
    from epochs as e1
    join epochs as e2 on e2.epoch_no = e1.epoch_no + 1
),

project_count as (
    select count(*) as n from {{ ref('stg_registry__projects') }}
)

select
    p.epoch_t1,
    p.epoch_t2,
    p.years,
    x.zone_id / 2 as project_version_id,
    case when x.zone_id % 2 = 0 then 'project' else 'baseline_ring' end as area_kind,
    x.v1 as class_t1,
    x.v2 as class_t2,
    sum(x.pixels) as pixels
from periods as p
cross join project_count as pc
cross join lateral raster.project_tiles(p.catalog_t1, {{ var('baseline_ring_m') }}) as zt
join {{ source('raster', 'tiles') }} as a
    on a.catalog_id = p.catalog_t1 and a.tile_x = zt.tile_x and a.tile_y = zt.tile_y
join {{ source('raster', 'tiles') }} as b
    on b.catalog_id = p.catalog_t2 and b.tile_x = zt.tile_x and b.tile_y = zt.tile_y
cross join lateral raster.crosstab(zt.rast, a.rast, b.rast) as x
where pc.n > 0 and x.zone_id <> 0
group by 1, 2, 3, 4, 5, 6, 7
