-- pixels per (epoch, zone, class): the whole region (zone_set 'region') and every zone set,
-- summed over the land-cover trajectories (int_landcover_trajectories) valid at the epoch
with epochs as (
    select epoch_no, epoch_label from {{ ref('stg_raster__landcover_epochs') }}
)

select
    e.epoch_label,
    t.zone_set,
    t.zone_id,
    c.class_code,
    sum(t.pixels) as pixels
from {{ ref('int_landcover_trajectories') }} as t
cross join lateral unnest(t.classes) with ordinality as c(class_code, epoch_no)
join epochs as e on e.epoch_no = c.epoch_no
where c.class_code is not null
group by e.epoch_label, t.zone_set, t.zone_id, c.class_code
