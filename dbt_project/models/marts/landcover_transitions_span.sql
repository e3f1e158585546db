{{ config(pre_hook="{{ delete_this_run() }}") }}
-- transition matrices in hectares per run, zone and every ordered pair of land-cover epochs
-- (not only consecutive ones: first -> last among them), from the pixel trajectories, so a
-- pixel counts once per pair and only where it is valid at both epochs
with epochs as (
    select epoch_no, epoch_label, epoch_year,
           max(epoch_no) over () as last_no
    from {{ ref('stg_raster__landcover_epochs') }}
),

pairs as (
    select e1.epoch_no as no_t1, e2.epoch_no as no_t2, e1.epoch_label as epoch_t1,
           e2.epoch_label as epoch_t2, e1.epoch_year as year_t1, e2.epoch_year as year_t2,
           e2.epoch_no = e1.epoch_no + 1 as is_consecutive,
           e1.epoch_no = 1 and e2.epoch_no = e2.last_no as is_first_to_last
    from epochs as e1
    join epochs as e2 on e2.epoch_no > e1.epoch_no
),

counts as (
    select p.epoch_t1, p.epoch_t2, p.year_t1, p.year_t2, p.is_consecutive,
           p.is_first_to_last, t.zone_set, t.zone_id, t.classes[p.no_t1] as class_t1,
           t.classes[p.no_t2] as class_t2, sum(t.pixels) as pixels
    from {{ ref('int_landcover_trajectories') }} as t
    cross join pairs as p
    where t.classes[p.no_t1] is not null and t.classes[p.no_t2] is not null
    group by 1, 2, 3, 4, 5, 6, 7, 8, 9, 10
)

select
    {{ var('run_id') }}::bigint as run_id,
    r.region_id,
    c.zone_set,
    coalesce(z.zone_code, r.region_name) as zone_code,
    c.epoch_t1,
    c.epoch_t2,
    c.year_t1,
    c.year_t2,
    c.year_t2 - c.year_t1 as years,
    c.is_consecutive,
    c.is_first_to_last,
    c.class_t1,
    c.class_t2,
    c.pixels,
    c.pixels * r.pixel_area_ha as area_ha
from counts as c
cross join {{ ref('stg_registry__regions') }} as r
left join {{ ref('stg_registry__zones') }} as z on z.zone_id = c.zone_id and z.zone_set = c.zone_set
