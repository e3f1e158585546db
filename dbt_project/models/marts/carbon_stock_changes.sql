{{ config(pre_hook="{{ delete_this_run() }}") }}
-- stock-difference change per run, period, zone and pool over the pixels valid in both epochs,
-- from the dynamic stocks of the land-cover trajectories (int_trajectory_changes: growth of
-- converted land, linear SOC and dead-organic-matter transitions), so change = t2 - t1 stock
with changes as (
    select * from {{ ref('int_trajectory_changes') }}
),

traj as (
    select * from {{ ref('int_landcover_trajectories') }}
),

region as (
    select * from {{ ref('stg_registry__regions') }}
),

zones as (
    select zone_id, zone_set, zone_code, zone_name from {{ ref('stg_registry__zones') }}
),

stocks as (
    select
        c.epoch_t1,
        c.epoch_t2,
        c.years,
        t.zone_set,
        t.zone_id,
        c.pool,
        sum(t.pixels) * max(r.pixel_area_ha) as area_ha,
        sum(t.pixels * r.pixel_area_ha * c.stock_t1_t_per_ha) as stock_t1_t,
        sum(t.pixels * r.pixel_area_ha * c.stock_t2_t_per_ha) as stock_t2_t
    from traj as t
    join changes as c on c.classes = t.classes
    cross join region as r
    group by c.epoch_t1, c.epoch_t2, c.years, t.zone_set, t.zone_id, c.pool
)

select
    {{ var('run_id') }}::bigint as run_id,
    r.region_id,
    s.zone_set,
    coalesce(z.zone_code, r.region_name) as zone_code,
    coalesce(z.zone_name, r.region_name) as zone_name,
    s.epoch_t1,
    s.epoch_t2,
    s.years,
    s.pool,
    s.area_ha,
    s.stock_t1_t,
    s.stock_t2_t,
    s.stock_t2_t - s.stock_t1_t as change_t,
    ipcc.stock_difference(s.stock_t1_t, s.stock_t2_t, nullif(s.years, 0)) as change_t_per_yr,
    ipcc.co2e(ipcc.stock_difference(s.stock_t1_t, s.stock_t2_t, nullif(s.years, 0)))
        as co2e_t_per_yr,
    -ipcc.co2e(ipcc.stock_difference(s.stock_t1_t, s.stock_t2_t, nullif(s.years, 0)))
        as sink_co2e_t_per_yr,
    '{{ var("ipcc_edition") }}'::text as ipcc_edition
from stocks as s
cross join region as r
left join zones as z on z.zone_id = s.zone_id and z.zone_set = s.zone_set
