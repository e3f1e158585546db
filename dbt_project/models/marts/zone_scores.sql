{{ config(pre_hook="{{ delete_this_run() }}",
          post_hook="{{ ensure_primary_key(['zone_score_id']) }}") }}
-- restoration priority per zone (every zone set and the whole region): area by grade, mean
-- scores and the factors that contribute most, with the zone polygon. Each priority tile is
-- read once for the region and all zone sets (raster.np_zone_stats).
-- depends_on: {{ ref('int_factor_placement') }}
with pt as (
    select tile_x, tile_y, rast from {{ ref('priority_tiles') }}
    where run_id = {{ var('run_id') }}
),

region as (
    select * from {{ ref('stg_registry__regions') }}
),

stats as (
    -- the run's identification on the data nodes (int_factor_placement): summed on each node
    -- over the priority tiles it keeps, only the sums travel
    {{ zone_tile_stats('pt', node_table=('derived_priority' if overlay_on_nodes() else none)) }}
),

grades as (
    -- pixels per (zone, grade)
    select zone_set, zone_id, value as grade, sum(pixels) as pixels
    from stats where value is not null
    group by zone_set, zone_id, value
),

sums as (
    -- valid pixels and value sums per (zone, band)
    select zone_set, zone_id, band, sum(pixels) as pixels, sum(total) as total
    from stats where value is null
    group by zone_set, zone_id, band
),

factors as (
    select factor_no, factor from {{ ref('int_factor_weights') }}
),

top as (
    -- factors ranked by their mean weighted contribution over the zone's assessed pixels
    -- (equal contributions: in factor order)
    select s.zone_set, s.zone_id,
           string_agg(f.factor, ', ' order by s.total desc, s.band) filter (where s.rk <= 3)
               as top_factors
    from (select s.*, row_number() over (partition by zone_set, zone_id
                                         order by total desc, band) as rk
          from sums as s where band >= 8 and total > 0) as s
    join factors as f on f.factor_no = s.band - 7
    group by s.zone_set, s.zone_id
),

per_zone as (
    select g.zone_set, g.zone_id,
           sum(g.pixels) as pixels,
           sum(g.pixels) filter (where g.grade = 1) as g1,
           sum(g.pixels) filter (where g.grade = 2) as g2,
           sum(g.pixels) filter (where g.grade = 3) as g3,
           sum(g.pixels) filter (where g.grade = 4) as g4,
           sum(g.pixels) filter (where g.grade = 5) as g5
    from grades as g group by g.zone_set, g.zone_id
),

means as (
    select zone_set, zone_id,
           max(total / pixels) filter (where band = 2) as mean_composite,
           max(total / pixels) filter (where band = 3) as mean_degradation,
           max(total / pixels) filter (where band = 4) as mean_importance
    from sums group by zone_set, zone_id
),

zones as (
    select zone_id, zone_set, zone_code, zone_name, geom
    from {{ ref('stg_registry__zones') }}
),

rows as (
    select
        p.zone_set,
        coalesce(z.zone_code, r.region_name) as zone_code,
        coalesce(z.zone_name, r.region_name) as zone_name,
        p.pixels * r.pixel_area_ha as assessed_ha,
        coalesce(p.g1, 0) * r.pixel_area_ha as priority_restoration_ha,
        coalesce(p.g2, 0) * r.pixel_area_ha as restoration_ha,
        coalesce(p.g3, 0) * r.pixel_area_ha as improvement_ha,
        coalesce(p.g4, 0) * r.pixel_area_ha as protection_ha,
        coalesce(p.g5, 0) * r.pixel_area_ha as general_ha,
        100.0 * (coalesce(p.g1, 0) + coalesce(p.g2, 0) + coalesce(p.g3, 0))::float8 / p.pixels
            as restoration_need_pct,
        m.mean_composite,
        m.mean_degradation,
        m.mean_importance,
        t.top_factors,
        st_multi(coalesce(z.geom, r.boundary))::geometry(MultiPolygon, 4326) as geom
    from per_zone as p
    cross join region as r
    left join zones as z on z.zone_id = p.zone_id and z.zone_set = p.zone_set
    left join means as m on m.zone_set = p.zone_set and m.zone_id = p.zone_id
    left join top as t on t.zone_set = p.zone_set and t.zone_id = p.zone_id
    where p.pixels > 0
)

select
    {{ var('run_id') }}::bigint * 1000000
        + row_number() over (order by zone_set, zone_code) as zone_score_id,
    {{ var('run_id') }}::bigint as run_id,
    rows.*
from rows
