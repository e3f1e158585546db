-- pixels per (period, zone, class at t1, class at t2) for consecutive land-cover epochs,
-- summed over the land-cover trajectories (int_landcover_trajectories); only pixels valid in
-- both epochs take part
with periods as (
    {{ landcover_periods() }}
)

select
    p.epoch_t1,
    p.epoch_t2,
    p.years,
    t.zone_set,
    t.zone_id,
    t.classes[p.no_t1] as class_t1,
    t.classes[p.no_t2] as class_t2,
    sum(t.pixels) as pixels
from {{ ref('int_landcover_trajectories') }} as t
cross join periods as p
where t.classes[p.no_t1] is not null and t.classes[p.no_t2] is not null
group by 1, 2, 3, 4, 5, 6, 7
