-- the reference signal of every land-cover class: the mean of the vegetation signal over all
-- pixels of the class in each year (the class of a year: the latest observed land-cover epoch
-- <= the year, else the first) and all years of the signal (raster.np_signal_stocks, first
-- pass, over every tile of the region). The anchored rule holds a class's density at this
-- signal (docs/CARBON.md, "Benefit against matched controls").
with stacks as (
    {{ observed_landcover_stacks() }}
),

signal as (
    {{ signal_tile_stacks() }}
),

sums as (
    select x.class_code, sum(x.signal_pixels) as signal_pixels, sum(x.signal_sum) as signal_sum
    from stacks as s
    join signal as g on g.tile_x = s.tile_x and g.tile_y = s.tile_y
    cross join lateral raster.np_signal_stocks(null, s.tiles, s.years, g.tiles, g.years,
                                               g.scales, g.offsets,
                                               '{{ var("ndvi_annual_reduce") }}', null, null,
                                               null, null, null, null) as x
    group by x.class_code
)

select class_code, signal_pixels, signal_sum / nullif(signal_pixels, 0) as reference_signal
from sums
where signal_pixels > 0
