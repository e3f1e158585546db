{{ config(pre_hook="{{ delete_this_run() }}",
          post_hook="{{ ensure_primary_key(['importance_row_id']) }}") }}
-- importance classes of the ecosystem services of the last observed land cover per zone (every
-- zone set and the whole region): area 极重要 / 重要 / 一般, with the class breaks and how they
-- were found (int_service_breaks; constraint mask applied)
with g as (
    select * from {{ ref('int_service_grade_tiles') }}
),

counts as (
    select g.service, 'region' as zone_set, 0 as zone_id, x.v1 as importance_class,
           sum(x.pixels) as pixels
    from g cross join lateral raster.crosstab(null, g.rast::bytea, null) as x
    group by g.service, x.v1
    union all
    select g.service, zt.zone_set, x.zone_id, x.v1, sum(x.pixels)
    from {{ ref('int_ident_zone_tiles') }} as zt
    join g on g.tile_x = zt.tile_x and g.tile_y = zt.tile_y
    cross join lateral raster.crosstab(zt.rast::bytea, g.rast::bytea, null) as x
    where x.zone_id <> 0
    group by g.service, zt.zone_set, x.zone_id, x.v1
),

per_zone as (
    select service, zone_set, zone_id,
           sum(pixels) filter (where importance_class = 3) as c3,
           sum(pixels) filter (where importance_class = 2) as c2,
           sum(pixels) filter (where importance_class = 1) as c1,
           sum(pixels) as pixels
    from counts group by service, zone_set, zone_id
),

region as (
    select * from {{ ref('stg_registry__regions') }}
),

rows as (
    select
        p.service,
        p.zone_set,
        coalesce(z.zone_code, r.region_name) as zone_code,
        coalesce(z.zone_name, r.region_name) as zone_name,
        p.pixels * r.pixel_area_ha as graded_ha,
        coalesce(p.c3, 0) * r.pixel_area_ha as extremely_important_ha,
        coalesce(p.c2, 0) * r.pixel_area_ha as important_ha,
        coalesce(p.c1, 0) * r.pixel_area_ha as general_ha,
        b.grading_method,
        b.breaks[1] as lower_break,
        b.breaks[2] as upper_break,
        b.total as region_total,
        b.min_value as region_min,
        b.max_value as region_max
    from per_zone as p
    cross join region as r
    join {{ ref('int_service_breaks') }} as b on b.service = p.service
    left join {{ ref('stg_registry__zones') }} as z
        on z.zone_id = p.zone_id and z.zone_set = p.zone_set
    where p.pixels > 0
)

select
    {{ var('run_id') }}::bigint * 1000000
        + row_number() over (order by service, zone_set, zone_code) as importance_row_id,
    {{ var('run_id') }}::bigint as run_id,
    rows.*
from rows
