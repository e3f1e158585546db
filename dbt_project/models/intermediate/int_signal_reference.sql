-- the reference signal of every land-cover class: the mean of the vegetation signal over all
-- pixels of the class in each year (the class of a year: the latest observed land-cover epoch
-- <= the year, else the first) and all years of the signal (raster.np_signal_stocks, first
-- pass, over every tile of the region). The anchored rule holds a class's density at this
-- signal (docs/CARBON.md, "Benefit against matched controls").
-- Every tile position reads its stacks through raster.tile_stack: the kernel runs once per
-- position, in PostgreSQL's parallel workers too.
-- The run's constant arrays enter as scalar subqueries (evaluated once, before the workers
-- start): a one-row relation joined to the positions would keep the kernel out of them.
with lc as (
    {{ landcover_epoch_ids() }}
),

sg as (
    {{ signal_epoch_ids() }}
),

sums as (
    select x.class_code, sum(x.signal_pixels) as signal_pixels, sum(x.signal_sum) as signal_sum
    from {{ ref('int_tile_positions') }} as p
    cross join lateral raster.tile_stack((select ids from lc), p.tile_x, p.tile_y) as s (tiles)
    cross join lateral raster.tile_stack((select ids from sg), p.tile_x, p.tile_y) as g (tiles)
    cross join lateral raster.np_signal_stocks(null, s.tiles, (select years from lc), g.tiles,
                                               (select years from sg), (select scales from sg),
                                               (select offsets from sg),
                                               '{{ var("ndvi_annual_reduce") }}', null, null,
                                               null, null, null, null) as x
    where (select ids from lc) is not null and (select ids from sg) is not null
    group by x.class_code
)

select class_code, signal_pixels, signal_sum / nullif(signal_pixels, 0) as reference_signal
from sums
where signal_pixels > 0
