{{ config(pre_hook="{{ delete_this_run() }}") }}
-- transition matrices in hectares per run, period and zone
select
    {{ var('run_id') }}::bigint as run_id,
    r.region_id,
    t.zone_set,
    coalesce(z.zone_code, r.region_name) as zone_code,
    t.epoch_t1,
    t.epoch_t2,
    t.class_t1,
    t.class_t2,
    t.pixels,
    t.pixels * r.pixel_area_ha as area_ha
from {{ ref('int_landcover_transitions') }} as t
cross join {{ ref('stg_registry__regions') }} as r
left join {{ ref('stg_registry__zones') }} as z on z.zone_id = t.zone_id and z.zone_set = t.zone_set
