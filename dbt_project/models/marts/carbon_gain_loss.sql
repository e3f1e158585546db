{{ config(pre_hook="{{ delete_this_run() }}") }}
-- biomass change per run, period, zone and pool by the IPCC gain-loss method where growth
-- rates are given (an active growth_rates parameter set): gains = area remaining in its class
-- x annual growth x years (Eq. 2.9); conversions change the stock at once from the density of
-- the class before to the class after (Tier 1, Eq. 2.15-2.16); change = gains + conversion
with tr as (
    select * from {{ ref('int_landcover_transitions') }}
),

growth as (
    select * from {{ ref('stg_registry__growth_rates') }}
),

dens as (
    select class_code, pool, carbon_t_per_ha from {{ ref('int_carbon_densities') }}
    where pool in ('agb', 'bgb')
),

region as (
    select * from {{ ref('stg_registry__regions') }}
),

pools as (
    select distinct pool from growth
),

terms as (
    select tr.epoch_t1, tr.epoch_t2, tr.years, tr.zone_set, tr.zone_id, p.pool,
           case when tr.class_t1 = tr.class_t2
                then tr.pixels * r.pixel_area_ha * coalesce(g.growth_t_per_ha_yr, 0) * tr.years
                else 0 end as gain_t,
           case when tr.class_t1 <> tr.class_t2
                then tr.pixels * r.pixel_area_ha * (d2.carbon_t_per_ha - d1.carbon_t_per_ha)
                else 0 end as conversion_t,
           case when tr.class_t1 = tr.class_t2 and g.class_code is null
                then tr.pixels * r.pixel_area_ha else 0 end as no_rate_ha
    from tr
    cross join pools as p
    cross join region as r
    left join growth as g on g.class_code = tr.class_t1 and g.pool = p.pool
    left join dens as d1 on d1.class_code = tr.class_t1 and d1.pool = p.pool
    left join dens as d2 on d2.class_code = tr.class_t2 and d2.pool = p.pool
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
