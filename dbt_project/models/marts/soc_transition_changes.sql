{{ config(pre_hook="{{ delete_this_run() }}") }}
-- soil organic carbon per run, period and zone with the IPCC Tier 1 linear transition: after
-- a class change SOC moves from the stock reached at the change to the new class's equilibrium
-- over soc_transition_years (D = 20, IPCC 2006 Vol.4 Eq. 2.25); a change is dated at the start
-- of its period. Each period books the share of every running transition that falls in it
-- (realised, = SOC at t2 - SOC at t1 of the dynamic stocks), including the remainder of
-- transitions begun in earlier periods; committed = what is still to come after t2 toward the
-- equilibrium of the t2 classes. A second change before D restarts from the SOC reached.
with changes as (
    select * from {{ ref('int_trajectory_changes') }} where pool = 'soc'
),

traj as (
    select * from {{ ref('int_landcover_trajectories') }}
),

region as (
    select * from {{ ref('stg_registry__regions') }}
),

per_zone as (
    select c.epoch_t1, c.epoch_t2, c.years, t.zone_set, t.zone_id,
           sum(t.pixels) * max(r.pixel_area_ha) as area_ha,
           sum(case when c.class_t1 <> c.class_t2 then t.pixels else 0 end)
               * max(r.pixel_area_ha) as converted_ha,
           sum(t.pixels * r.pixel_area_ha * c.stock_t1_t_per_ha) as soc_t1_t,
           sum(t.pixels * r.pixel_area_ha * c.stock_t2_t_per_ha) as soc_t2_t,
           sum(t.pixels * r.pixel_area_ha
               * (c.class_density_t2_t_per_ha - c.stock_t1_t_per_ha)) as equilibrium_change_t,
           sum(case when c.class_t1 = c.class_t2
                    then t.pixels * r.pixel_area_ha
                         * (c.stock_t2_t_per_ha - c.stock_t1_t_per_ha)
                    else 0 end) as realised_from_earlier_t
    from traj as t
    join changes as c on c.classes = t.classes
    cross join region as r
    group by c.epoch_t1, c.epoch_t2, c.years, t.zone_set, t.zone_id
)

select
    {{ var('run_id') }}::bigint as run_id,
    p.zone_set,
    coalesce(z.zone_code, r.region_name) as zone_code,
    p.epoch_t1,
    p.epoch_t2,
    p.years,
    p.area_ha,
    p.converted_ha,
    {{ var('soc_transition_years') }}::float8 as transition_years,
    p.equilibrium_change_t,
    p.soc_t2_t - p.soc_t1_t as realised_change_t,
    (p.soc_t2_t - p.soc_t1_t) / nullif(p.years, 0) as realised_change_t_per_yr,
    p.equilibrium_change_t - (p.soc_t2_t - p.soc_t1_t) as committed_change_t,
    -ipcc.co2e((p.soc_t2_t - p.soc_t1_t) / nullif(p.years, 0)) as realised_sink_co2e_t_per_yr,
    p.soc_t1_t,
    p.soc_t2_t,
    p.realised_from_earlier_t
from per_zone as p
cross join region as r
left join {{ ref('stg_registry__zones') }} as z
    on z.zone_id = p.zone_id and z.zone_set = p.zone_set
