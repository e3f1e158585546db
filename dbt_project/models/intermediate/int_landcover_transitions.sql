-- pixels per (period, zone, class at t1, class at t2) for consecutive land-cover epochs;
-- only pixels valid in both epochs take part
with epochs as (
    select catalog_id, epoch_label, epoch_year, epoch_no
    from {{ ref('stg_raster__landcover_epochs') }}
),

periods as (
    select
        e1.catalog_id as catalog_t1,
        e2.catalog_id as catalog_t2,
        e1.epoch_label as epoch_t1,
        e2.epoch_label as epoch_t2,
        e2.epoch_year - e1.epoch_year as years
    from epochs as e1
    join epochs as e2 on e2.epoch_no = e1.epoch_no + 1
),

zone_sets as (
    select distinct zone_set from {{ ref('stg_registry__zones') }}
),

tile_pairs as (
    select p.epoch_t1, p.epoch_t2, p.years, p.catalog_t1, a.tile_x, a.tile_y,
           a.rast as rast_t1, b.rast as rast_t2
    from periods as p
    join {{ source('raster', 'tiles') }} as a on a.catalog_id = p.catalog_t1
    join {{ source('raster', 'tiles') }} as b
        on b.catalog_id = p.catalog_t2 and b.tile_x = a.tile_x and b.tile_y = a.tile_y
),

region_pairs as (
    select tp.epoch_t1, tp.epoch_t2, tp.years, 'region' as zone_set, 0 as zone_id,
           x.v1 as class_t1, x.v2 as class_t2, sum(x.pixels) as pixels
    from tile_pairs as tp
    cross join lateral raster.crosstab(null, tp.rast_t1, tp.rast_t2) as x
    group by tp.epoch_t1, tp.epoch_t2, tp.years, x.v1, x.v2
),

zone_pairs as (
    select tp.epoch_t1, tp.epoch_t2, tp.years, s.zone_set, x.zone_id,
           x.v1 as class_t1, x.v2 as class_t2, sum(x.pixels) as pixels
    from zone_sets as s
    cross join (select distinct catalog_t1 from periods) as pc
    cross join lateral raster.zone_tiles(pc.catalog_t1, s.zone_set) as zt
    join tile_pairs as tp
        on tp.catalog_t1 = pc.catalog_t1 and tp.tile_x = zt.tile_x and tp.tile_y = zt.tile_y
    cross join lateral raster.crosstab(zt.rast, tp.rast_t1, tp.rast_t2) as x
    where x.zone_id <> 0
    group by tp.epoch_t1, tp.epoch_t2, tp.years, s.zone_set, x.zone_id, x.v1, x.v2
)

select * from region_pairs
union all
select * from zone_pairs
