-- pixels per (epoch, zone, class): the whole region (zone_set 'region') and every zone set,
-- counted on the tiles by the raster.crosstab kernel (numpy inside the server)
with epochs as (
    select catalog_id, epoch_label from {{ ref('stg_raster__landcover_epochs') }}
),

zone_sets as (
    select distinct zone_set from {{ ref('stg_registry__zones') }}
),

region_counts as (
    select
        e.epoch_label,
        'region' as zone_set,
        0 as zone_id,
        x.v1 as class_code,
        sum(x.pixels) as pixels
    from epochs as e
    join {{ source('raster', 'tiles') }} as t on t.catalog_id = e.catalog_id
    cross join lateral raster.crosstab(null, t.rast, null) as x
    group by e.epoch_label, x.v1
),

zone_counts as (
    select
        e.epoch_label,
        s.zone_set,
        x.zone_id,
        x.v1 as class_code,
        sum(x.pixels) as pixels
    from epochs as e
    cross join zone_sets as s
    cross join lateral raster.zone_tiles(e.catalog_id, s.zone_set) as zt
    join {{ source('raster', 'tiles') }} as t
        on t.catalog_id = e.catalog_id and t.tile_x = zt.tile_x and t.tile_y = zt.tile_y
    cross join lateral raster.crosstab(zt.rast, t.rast, null) as x
    where x.zone_id <> 0
    group by e.epoch_label, s.zone_set, x.zone_id, x.v1
)

select * from region_counts
union all
select * from zone_counts
