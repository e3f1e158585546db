{{ config(pre_hook="{{ delete_this_run() }}") }}
-- biomass change per run, period, zone and pool (agb, bgb) by the IPCC gain-loss method on the
-- dynamic stocks of the land-cover trajectories (int_trajectory_changes): a class change in the
-- period (dated at t1) loses the old biomass at once down to B_after (conversion, Eq. 2.15/
-- 2.16), and the land grows from there at its class's growth rate, or reaches the class
-- density within a year for grassland, annual cropland and non-woody land (gain, Eq. 2.9),
-- never beyond the class density. Land at its class density is in steady state (gains =
-- losses, nothing booked). change = gain + conversion = stock t2 - stock t1.
with changes as (
    select * from {{ ref('int_trajectory_changes') }} where pool in ('agb', 'bgb')
),

traj as (
    select * from {{ ref('int_landcover_trajectories') }}
),

growth as (
    select class_code, pool from {{ ref('stg_registry__growth_rates') }}
),

region as (
    select * from {{ ref('stg_registry__regions') }}
),

terms as (
    select c.epoch_t1, c.epoch_t2, c.years, t.zone_set, t.zone_id, c.pool,
           t.pixels * r.pixel_area_ha
           * case when c.class_t1 = c.class_t2 then c.stock_t2_t_per_ha - c.stock_t1_t_per_ha
                  else c.stock_t2_t_per_ha - c.b_after_t_per_ha end as gain_t,
           case when c.class_t1 <> c.class_t2
                then t.pixels * r.pixel_area_ha * (c.b_after_t_per_ha - c.stock_t1_t_per_ha)
                else 0 end as conversion_t,
           case when c.class_t1 = c.class_t2 and g.class_code is null
                then t.pixels * r.pixel_area_ha else 0 end as no_rate_ha
    from traj as t
    join changes as c on c.classes = t.classes
    cross join region as r
    left join growth as g on g.class_code = c.class_t1 and g.pool = c.pool
)

select
    {{ var('run_id') }}::bigint as run_id,
    t.zone_set,
    coalesce(z.zone_code, r.region_name) as zone_code,
    t.epoch_t1,
    t.epoch_t2,
    t.years,
    t.pool,
    sum(t.gain_t) as gain_t,
    sum(t.conversion_t) as conversion_t,
    sum(t.gain_t) + sum(t.conversion_t) as change_t,
    (sum(t.gain_t) + sum(t.conversion_t)) / nullif(t.years, 0) as change_t_per_yr,
    -ipcc.co2e((sum(t.gain_t) + sum(t.conversion_t)) / nullif(t.years, 0))
        as sink_co2e_t_per_yr,
    sum(t.no_rate_ha) as area_without_growth_rate_ha
from terms as t
cross join region as r
left join {{ ref('stg_registry__zones') }} as z
    on z.zone_id = t.zone_id and z.zone_set = t.zone_set
group by t.epoch_t1, t.epoch_t2, t.years, t.pool, t.zone_set, t.zone_id, z.zone_code,
         r.region_name
