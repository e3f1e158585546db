-- the reference signal of every land-cover class: the mean of the vegetation signal over all
-- pixels of the class in each year (the class of a year: the latest observed land-cover epoch
-- <= the year, else the first) and all years of the signal (raster.np_signal_stocks, first
-- pass, over every tile of the region). The anchored rule holds a class's density at this
-- signal (docs/CARBON.md, "Benefit against matched controls").
-- Driven by the tile positions (int_tile_positions), each gathering its stacks in a lateral
-- query: the kernel runs once per position, in PostgreSQL's parallel workers too.
with sums as (
    select x.class_code, sum(x.signal_pixels) as signal_pixels, sum(x.signal_sum) as signal_sum
    from {{ ref('int_tile_positions') }} as p
    cross join lateral ({{ landcover_stack_at('p') }}) as s
    cross join lateral ({{ signal_stack_at('p') }}) as g
    cross join lateral raster.np_signal_stocks(null, s.tiles, s.years, g.tiles, g.years,
                                               g.scales, g.offsets,
                                               '{{ var("ndvi_annual_reduce") }}', null, null,
                                               null, null, null, null) as x
    where s.n_tiles > 0 and g.tiles is not null
    group by x.class_code
)

select class_code, signal_pixels, signal_sum / nullif(signal_pixels, 0) as reference_signal
from sums
where signal_pixels > 0
