-- pixels and vegetation-signal sums per zone (the whole region as zone_set 'region', and every
-- zone set), signal year and class of that year (the latest observed land-cover epoch <= the
-- year, else the first), with the sum of the plot calibration max(0, a + b x signal) for the
-- classes the plots calibrate (raster.np_signal_sums): one pass over the tiles, from which the
-- reference signal (int_signal_reference) and the biomass (int_signal_stocks) follow.
-- Every tile position reads its stacks through raster.tile_stack and its zone tiles of every
-- set at once (int_landcover_zone_tiles): the kernel runs once per position, in PostgreSQL's
-- parallel workers too. The run's constant arrays enter as
-- scalar subqueries (evaluated once, before the workers start): a one-row relation joined to
-- the positions would keep the kernel out of them.
with lc as (
    {{ landcover_epoch_ids() }}
),

sg as (
    {{ signal_epoch_ids() }}
),

cal as (
    -- the classes whose ecosystem type the plots calibrate (int_signal_calibration)
    select array_agg(c.class_code order by c.class_code) as codes,
           array_agg(k.intercept order by c.class_code) as intercepts,
           array_agg(k.slope order by c.class_code) as slopes
    from {{ ref('int_landcover_classes') }} as c
    join {{ ref('int_signal_calibration') }} as k on k.ecosystem_type = c.ecosystem_type
),

sets as (
    select array_agg(distinct zone_set order by zone_set) as names
    from {{ ref('int_landcover_zone_tiles') }}
)

{% set on_nodes = false %}
{% if execute %}
    {# the run's land-cover and signal entries co-located on data nodes: the sums there #}
    {% set placed = run_query(
        "with lc as (" ~ landcover_epoch_ids() ~ "), sg as (" ~ signal_epoch_ids() ~ ") "
        ~ "select raster.node_placement((select ids from lc) || (select ids from sg)) "
        ~ "is not null and (select ids from lc) is not null and (select ids from sg) is not null") %}
    {% set on_nodes = placed.columns[0].values()[0] %}
{% endif %}
{% if on_nodes %}
-- With the epochs' tiles co-located on data nodes each node runs the same kernel over its own
-- tiles, with the zone tiles it keeps (raster.np_node_signal_sums); only the sums travel.
select case when n.zone_no = 0 then 'region' else ((select names from sets))[n.zone_no]
       end as zone_set,
       n.zone_id, n.year, n.class_code, sum(n.pixels) as pixels,
       sum(n.signal_pixels) as signal_pixels, sum(n.signal_sum) as signal_sum,
       sum(n.calibrated_sum) as calibrated_sum
from lc
cross join sg
cross join cal
cross join lateral raster.np_node_signal_sums(
    lc.ids, lc.years, sg.ids, sg.years, sg.scales, sg.offsets, '{{ var("ndvi_annual_reduce") }}',
    cal.codes, cal.intercepts, cal.slopes, {{ var('region_id') }},
    coalesce((select names from sets), '{}')) as n
group by 1, 2, 3, 4
{% else %}
select case when (x.r).zone_no = 0 then 'region' else ((select names from sets))[(x.r).zone_no]
       end as zone_set,
       (x.r).zone_id, (x.r).year, (x.r).class_code, sum((x.r).pixels) as pixels,
       sum((x.r).signal_pixels) as signal_pixels, sum((x.r).signal_sum) as signal_sum,
       sum((x.r).calibrated_sum) as calibrated_sum
from (
    -- the kernel in the select list: the planner counts its cost once per position (called
    -- laterally, once in all) and so runs it in parallel workers
    select raster.np_signal_sums(
               raster.named_tiles('{{ ref('int_landcover_zone_tiles') }}'::regclass,
                                  (select names from sets), p.tile_x, p.tile_y, 'zone_set'),
               s.tiles, (select years from lc), g.tiles, (select years from sg),
               (select scales from sg), (select offsets from sg),
               '{{ var("ndvi_annual_reduce") }}', (select codes from cal),
               (select intercepts from cal), (select slopes from cal)) as r
    from {{ ref('int_tile_positions') }} as p
    cross join lateral raster.tile_stack((select ids from lc), p.tile_x, p.tile_y) as s (tiles)
    cross join lateral raster.tile_stack((select ids from sg), p.tile_x, p.tile_y) as g (tiles)
    where (select ids from lc) is not null and (select ids from sg) is not null
) as x
group by 1, 2, 3, 4
{% endif %}
