-- biomass carbon (agb + bgb) following the vegetation signal, per zone (the whole region as
-- zone_set 'region', and every zone set), signal year and class of that year: pixels, mean
-- signal, the biomass by the rule of docs/CARBON.md and the class-constant biomass
-- (raster.np_signal_stocks, second pass, with the reference signal and plot calibration);
-- zones are burnt onto the tiles of the first observed land-cover epoch
with epochs as (
    {{ observed_landcover_epochs() }}
),

stacks as (
    {{ observed_landcover_stacks() }}
),

signal as (
    {{ signal_tile_stacks() }}
),

cb as (
    select * from {{ ref('int_class_biomass') }}
),

zone_sets as (
    select distinct zone_set from {{ ref('stg_registry__zones') }}
),

zone_tiles as (
    select 'region' as zone_set, s.tile_x, s.tile_y, null::bytea as rast
    from stacks as s
    union all
    select zs.zone_set, zt.tile_x, zt.tile_y, zt.rast::bytea
    from zone_sets as zs
    cross join (select catalog_id from epochs order by epoch_no limit 1) as first_epoch
    cross join lateral raster.zone_tiles(first_epoch.catalog_id, zs.zone_set) as zt
)

select z.zone_set, x.zone_id, x.year, x.class_code, sum(x.pixels) as pixels,
       sum(x.signal_pixels) as signal_pixels, sum(x.signal_sum) as signal_sum,
       sum(x.biomass_sum) as biomass_px_t_per_ha, sum(x.class_biomass_sum) as class_px_t_per_ha
from zone_tiles as z
join stacks as s on s.tile_x = z.tile_x and s.tile_y = z.tile_y
join signal as g on g.tile_x = s.tile_x and g.tile_y = s.tile_y
cross join cb
cross join lateral raster.np_signal_stocks(z.rast, s.tiles, s.years, g.tiles, g.years, g.scales,
                                           g.offsets, '{{ var("ndvi_annual_reduce") }}',
                                           cb.codes, cb.agb, cb.bgb, cb.reference_signal,
                                           cb.cal_intercept, cb.cal_slope) as x
where z.zone_set = 'region' or x.zone_id <> 0
group by z.zone_set, x.zone_id, x.year, x.class_code
