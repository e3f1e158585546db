-- biomass carbon (agb + bgb) following the vegetation signal, per zone (the whole region as
-- zone_set 'region', and every zone set), signal year and class of that year: pixels, mean
-- signal, the biomass by the rule of docs/CARBON.md and the class-constant biomass
-- (raster.np_signal_stocks, second pass, with the reference signal and plot calibration);
-- zones burnt onto the tiles of the first land-cover epoch (int_landcover_zone_tiles).
-- Driven by the positions (the whole region) and the zone tiles, each reading its stacks
-- through raster.tile_stack: the kernel runs once per row, in PostgreSQL's parallel workers too.
-- The run's constant arrays enter as scalar subqueries (evaluated once, before the workers
-- start): a one-row relation joined to the positions would keep the kernel out of them.
with lc as (
    {{ landcover_epoch_ids() }}
),

sg as (
    {{ signal_epoch_ids() }}
),

cb as (
    select * from {{ ref('int_class_biomass') }}
),

zone_tiles as (
    select 'region' as zone_set, p.tile_x, p.tile_y, null::bytea as rast
    from {{ ref('int_tile_positions') }} as p
    union all
    select zone_set, tile_x, tile_y, rast::bytea
    from {{ ref('int_landcover_zone_tiles') }}
)

select z.zone_set, x.zone_id, x.year, x.class_code, sum(x.pixels) as pixels,
       sum(x.signal_pixels) as signal_pixels, sum(x.signal_sum) as signal_sum,
       sum(x.biomass_sum) as biomass_px_t_per_ha, sum(x.class_biomass_sum) as class_px_t_per_ha
from zone_tiles as z
cross join lateral raster.tile_stack((select ids from lc), z.tile_x, z.tile_y) as s (tiles)
cross join lateral raster.tile_stack((select ids from sg), z.tile_x, z.tile_y) as g (tiles)
cross join lateral raster.np_signal_stocks(
    z.rast, s.tiles, (select years from lc), g.tiles, (select years from sg),
    (select scales from sg), (select offsets from sg), '{{ var("ndvi_annual_reduce") }}',
    (select codes from cb), (select agb from cb), (select bgb from cb),
    (select reference_signal from cb), (select cal_intercept from cb),
    (select cal_slope from cb)) as x
where (select ids from lc) is not null and (select ids from sg) is not null
  and exists (select 1 from cb)
  and (z.zone_set = 'region' or x.zone_id <> 0)
group by z.zone_set, x.zone_id, x.year, x.class_code
