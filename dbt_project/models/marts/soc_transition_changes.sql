{{ config(pre_hook="{{ delete_this_run() }}") }}
-- soil organic carbon per run, period and zone with the IPCC Tier 1 linear transition: after
-- a land-use change SOC moves to the new class's equilibrium over soc_transition_years
-- (D = 20, IPCC 2006 Vol.4 Eq. 2.25), so within a period of T years only min(T, D)/D of the
-- equilibrium change is realised (conversions are taken at the start of the period); the rest
-- is committed to later years
with tr as (
    select * from {{ ref('int_landcover_transitions') }}
),

soc as (
    select class_code, carbon_t_per_ha from {{ ref('int_carbon_densities') }}
    where pool = 'soc'
),

region as (
    select * from {{ ref('stg_registry__regions') }}
),

per_zone as (
    select tr.epoch_t1, tr.epoch_t2, tr.years, tr.zone_set, tr.zone_id,
           sum(tr.pixels) * max(r.pixel_area_ha) as area_ha,
           sum(case when tr.class_t1 <> tr.class_t2 then tr.pixels else 0 end)
               * max(r.pixel_area_ha) as converted_ha,
           sum(tr.pixels * r.pixel_area_ha * (s2.carbon_t_per_ha - s1.carbon_t_per_ha))
               as equilibrium_change_t
    from tr
    cross join region as r
    join soc as s1 on s1.class_code = tr.class_t1
    join soc as s2 on s2.class_code = tr.class_t2
    group by tr.epoch_t1, tr.epoch_t2, tr.years, tr.zone_set, tr.zone_id
),

realised as (
    select p.*,
           least(p.years, {{ var('soc_transition_years') }})
               / {{ var('soc_transition_years') }}::float8 as share
    from per_zone as p
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
    p.equilibrium_change_t * p.share as realised_change_t,
    p.equilibrium_change_t * p.share / nullif(p.years, 0) as realised_change_t_per_yr,
    p.equilibrium_change_t * (1 - p.share) as committed_change_t,
    -ipcc.co2e(p.equilibrium_change_t * p.share / nullif(p.years, 0))
        as realised_sink_co2e_t_per_yr
from realised as p
cross join region as r
left join {{ ref('stg_registry__zones') }} as z
    on z.zone_id = p.zone_id and z.zone_set = p.zone_set
