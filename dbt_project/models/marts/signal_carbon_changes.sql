{{ config(pre_hook="{{ delete_this_run() }}") }}
-- change of the biomass carbon following the vegetation signal per run, zone and pair of
-- consecutive signal years (signal_carbon_stocks summed over classes): the change, the change
-- the class-constant densities give (land-cover change only) and their difference, the change
-- within classes that class-constant densities cannot show (restoration by enclosure, grassland
-- recovery, forest tending ...)
with t as (
    select zone_set, zone_code, year, sum(biomass_t) as biomass_t,
           sum(class_constant_biomass_t) as class_constant_biomass_t
    from {{ ref('signal_carbon_stocks') }}
    where run_id = {{ var('run_id') }}
    group by zone_set, zone_code, year
)

select
    {{ var('run_id') }}::bigint as run_id,
    a.zone_set,
    a.zone_code,
    a.year as year_t1,
    b.year as year_t2,
    b.biomass_t - a.biomass_t as change_t,
    b.class_constant_biomass_t - a.class_constant_biomass_t as class_constant_change_t,
    (b.biomass_t - a.biomass_t) - (b.class_constant_biomass_t - a.class_constant_biomass_t)
        as within_class_change_t
from t as a
join t as b on b.zone_set = a.zone_set and b.zone_code = a.zone_code
           and b.year = (select min(year) from t as n
                         where n.zone_set = a.zone_set and n.zone_code = a.zone_code
                           and n.year > a.year)
