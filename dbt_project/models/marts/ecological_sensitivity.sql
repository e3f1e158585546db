{{ config(pre_hook="{{ delete_this_run() }}",
          post_hook="{{ ensure_primary_key(['sensitivity_row_id']) }}") }}
-- area per class of the soil-erosion intensity (SL 190, of the actual RUSLE loss) and of the
-- ecological sensitivities (soil erosion, land desertification, rocky desertification) per zone
-- (every zone set and the whole region) and land-cover epoch (docs/SERVICES.md)
with t as (
    select 'soil_erosion' as indicator, landcover_catalog_id, epoch_label, tile_x, tile_y,
           raster.np_physical(rast::bytea, 7) as rast
    from {{ ref('int_soil_tiles') }}
    union all
    select x.indicator, s.landcover_catalog_id, s.epoch_label, s.tile_x, s.tile_y,
           raster.np_physical(s.rast::bytea, x.band)
    from {{ ref('int_sensitivity_tiles') }} as s
    cross join (values ('erosion_sensitivity', 1), ('desertification_sensitivity', 2),
                       ('rocky_desertification_sensitivity', 3)) as x (indicator, band)
),

counts as (
    select t.indicator, t.epoch_label, 'region' as zone_set, 0 as zone_id, x.v1 as class,
           sum(x.pixels) as pixels
    from t cross join lateral raster.crosstab(null, t.rast, null) as x
    group by t.indicator, t.epoch_label, x.v1
    union all
    select t.indicator, t.epoch_label, zt.zone_set, x.zone_id, x.v1, sum(x.pixels)
    from {{ ref('int_ident_zone_tiles') }} as zt
    join t on t.tile_x = zt.tile_x and t.tile_y = zt.tile_y
    cross join lateral raster.crosstab(zt.rast::bytea, t.rast, null) as x
    where x.zone_id <> 0
    group by t.indicator, t.epoch_label, zt.zone_set, x.zone_id, x.v1
),

names as (
    select * from {{ ref('sensitivity_classes') }}
),

region as (
    select * from {{ ref('stg_registry__regions') }}
),

rows as (
    select
        c.indicator,
        c.zone_set,
        coalesce(z.zone_code, r.region_name) as zone_code,
        coalesce(z.zone_name, r.region_name) as zone_name,
        c.epoch_label,
        c.class,
        n.name_en as class_name_en,
        n.name_zh as class_name_zh,
        c.pixels * r.pixel_area_ha as area_ha,
        100.0 * c.pixels / sum(c.pixels) over (partition by c.indicator, c.zone_set, c.zone_id,
                                                            c.epoch_label) as share_pct
    from counts as c
    cross join region as r
    left join names as n on n.indicator = c.indicator and n.class = c.class
    left join {{ ref('stg_registry__zones') }} as z
        on z.zone_id = c.zone_id and z.zone_set = c.zone_set
    where c.class > 0
)

select
    {{ var('run_id') }}::bigint * 1000000
        + row_number() over (order by indicator, zone_set, zone_code, epoch_label, class)
        as sensitivity_row_id,
    {{ var('run_id') }}::bigint as run_id,
    rows.*
from rows
