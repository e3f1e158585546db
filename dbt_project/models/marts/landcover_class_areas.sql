{{ config(pre_hook="{{ delete_this_run() }}") }}
-- area of every land-cover class per run, zone and epoch, from the pixel trajectories (the
-- pixels valid at that epoch), with its share of the zone's valid area then
with epochs as (
    select epoch_no, epoch_label, epoch_year from {{ ref('stg_raster__landcover_epochs') }}
),

counts as (
    select e.epoch_label, e.epoch_year, t.zone_set, t.zone_id, t.classes[e.epoch_no] as class_code,
           sum(t.pixels) as pixels
    from {{ ref('int_landcover_trajectories') }} as t
    cross join epochs as e
    where t.classes[e.epoch_no] is not null
    group by 1, 2, 3, 4, 5
)

select
    {{ var('run_id') }}::bigint as run_id,
    r.region_id,
    c.zone_set,
    coalesce(z.zone_code, r.region_name) as zone_code,
    c.epoch_label,
    c.epoch_year,
    c.class_code,
    l.name_en as class_name_en,
    l.name_zh as class_name_zh,
    c.pixels,
    c.pixels * r.pixel_area_ha as area_ha,
    100.0 * c.pixels / sum(c.pixels) over (partition by c.zone_set, c.zone_id, c.epoch_label)
        as share_pct
from counts as c
cross join {{ ref('stg_registry__regions') }} as r
left join {{ ref('stg_registry__zones') }} as z on z.zone_id = c.zone_id and z.zone_set = c.zone_set
left join {{ ref('int_landcover_classes') }} as l on l.class_code = c.class_code
