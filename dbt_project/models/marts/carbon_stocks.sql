{{ config(pre_hook="{{ delete_this_run() }}") }}
-- carbon stock per run, epoch, zone, class and pool: the sum over the land-cover trajectories
-- of pixels x pixel area x the trajectory's dynamic stock at the epoch (int_trajectory_stocks:
-- converted land grows toward its class density, SOC and dead organic matter move linearly
-- toward their new equilibrium); carbon_t_per_ha is the resulting mean, class_density_t_per_ha
-- the class's resolved density (equal where no pixel of the class is in transition)
with traj as (
    select * from {{ ref('int_landcover_trajectories') }}
),

stocks as (
    select * from {{ ref('int_trajectory_stocks') }}
),

region as (
    select * from {{ ref('stg_registry__regions') }}
),

zones as (
    select zone_id, zone_set, zone_code, zone_name from {{ ref('stg_registry__zones') }}
),

densities as (
    select * from {{ ref('int_carbon_densities') }}
),

per_class as (
    select s.epoch_label, s.epoch_year, t.zone_set, t.zone_id, s.class_code, s.pool,
           sum(t.pixels) as pixels,
           sum(t.pixels * s.carbon_t_per_ha) as carbon_px_t_per_ha,
           sum(case when abs(s.carbon_t_per_ha - s.class_density_t_per_ha) > 1e-9
                    then t.pixels else 0 end) as transition_pixels
    from traj as t
    join stocks as s on s.classes = t.classes
    group by s.epoch_label, s.epoch_year, t.zone_set, t.zone_id, s.class_code, s.pool
)

select
    {{ var('run_id') }}::bigint as run_id,
    r.region_id,
    r.region_name,
    c.zone_set,
    coalesce(z.zone_code, r.region_name) as zone_code,
    coalesce(z.zone_name, r.region_name) as zone_name,
    c.epoch_label,
    c.epoch_year::int as epoch_year,
    c.class_code,
    c.pool,
    c.pixels,
    c.pixels * r.pixel_area_ha as area_ha,
    c.carbon_px_t_per_ha / c.pixels as carbon_t_per_ha,
    c.carbon_px_t_per_ha * r.pixel_area_ha as carbon_t,
    d.uncertainty_pct,
    d.tier,
    d.parameter_set_id,
    d.source as parameter_source,
    '{{ var("ipcc_edition") }}'::text as ipcc_edition,
    d.carbon_t_per_ha as class_density_t_per_ha,
    c.transition_pixels * r.pixel_area_ha as transition_area_ha
from per_class as c
cross join region as r
left join zones as z on z.zone_id = c.zone_id and z.zone_set = c.zone_set
join densities as d on d.class_code = c.class_code and d.pool = c.pool
