-- per class and biomass pool (agb, bgb): what land entering the class from another IPCC land
-- category does (IPCC 2006 Vol.4 Eq. 2.15/2.16; used by int_trajectory_stocks):
--   b_after_t_per_ha     biomass right after the conversion: parameter biomass_after_conversion
--                        of the run's growth_rates set, else 0 (the IPCC Tier 1 default)
--   growth_t_per_ha_yr   growth_rate of that set; bgb without its own rate grows with the agb
--                        rate x the class's bgb/agb density ratio
--   rule                 growth_rate (grows at the rate up to the class density), one_year
--                        (grassland, annual cropland, settlements, wetlands, other land: the
--                        class density one year after the change, Tables 6.4 and 5.9), or
--                        missing_growth_rate (any other class: the run fails if land enters it)
-- with the uncertainty factor of each rate (ipcc.factor_uncertainty form [key, value, u_pct]):
-- a derived bgb rate is the agb rate times the root-to-shoot ratio of the class densities,
-- whose uncertainty combines theirs (Approach 1 of a quotient); a default B_after of 0 is exact
with densities as (
    select class_code, pool, carbon_t_per_ha, uncertainty_pct
    from {{ ref('int_carbon_densities') }}
),

legend_classes as (
    select distinct on (lc.class_code) lc.class_code, lc.ipcc_category, lc.cropland_kind
    from {{ source('registry', 'legend_classes') }} as lc
    where lc.legend_id in (select legend_id from {{ ref('stg_registry__legend_classes') }})
    order by lc.class_code, lc.legend_id
),

growth_set as (
    {{ active_parameter_set('growth_rates') }}
),

b_after as (
    select v.class_code, v.pool, v.value as b_after_t_per_ha, v.uncertainty_pct,
           s.name || ' v' || s.version as parameter_set
    from growth_set as s
    join {{ source('registry', 'parameter_values') }} as v
        on v.parameter_set_id = s.parameter_set_id
    where v.parameter = 'biomass_after_conversion'
      and v.unit in ('t C/ha', 'Mg C/ha')
),

growth as (
    select class_code, pool, growth_t_per_ha_yr, uncertainty_pct, parameter_set
    from {{ ref('stg_registry__growth_rates') }}
),

biomass_rules as (
    select d.class_code, d.pool, d.carbon_t_per_ha,
           coalesce(ba.b_after_t_per_ha, 0) as b_after_t_per_ha,
           coalesce(g.growth_t_per_ha_yr,
                    case when d.pool = 'bgb'
                         then ga.growth_t_per_ha_yr * d.carbon_t_per_ha
                              / nullif(da.carbon_t_per_ha, 0) end) as growth_t_per_ha_yr,
           lc.ipcc_category,
           lc.cropland_kind,
           case when ba.class_code is not null
                then jsonb_build_array(jsonb_build_array(
                         'B_after class ' || d.class_code || ' ' || d.pool || ' ('
                         || ba.parameter_set || ')', ba.b_after_t_per_ha, ba.uncertainty_pct))
                else jsonb_build_array(jsonb_build_array(
                         'B_after 0 (IPCC Tier 1 default)', 0, 0)) end as b_after_factors,
           case when g.class_code is not null
                then jsonb_build_array(jsonb_build_array(
                         'growth rate class ' || d.class_code || ' ' || d.pool || ' ('
                         || g.parameter_set || ')', g.growth_t_per_ha_yr, g.uncertainty_pct))
                when d.pool = 'bgb' and ga.class_code is not null
                then jsonb_build_array(
                         jsonb_build_array('growth rate class ' || d.class_code || ' agb ('
                                           || ga.parameter_set || ')', ga.growth_t_per_ha_yr,
                                           ga.uncertainty_pct),
                         jsonb_build_array('bgb/agb ratio class ' || d.class_code,
                                           d.carbon_t_per_ha / nullif(da.carbon_t_per_ha, 0),
                                           sqrt(d.uncertainty_pct ^ 2 + da.uncertainty_pct ^ 2)))
                end as growth_factors
    from densities as d
    left join b_after as ba on ba.class_code = d.class_code and ba.pool = d.pool
    left join growth as g on g.class_code = d.class_code and g.pool = d.pool
    left join growth as ga on ga.class_code = d.class_code and ga.pool = 'agb'
    left join densities as da on da.class_code = d.class_code and da.pool = 'agb'
    left join legend_classes as lc on lc.class_code = d.class_code
    where d.pool in ('agb', 'bgb')
)

select
    b.class_code,
    b.pool,
    b.carbon_t_per_ha,
    b.b_after_t_per_ha,
    b.growth_t_per_ha_yr,
    b.ipcc_category,
    case when b.growth_t_per_ha_yr is not null then 'growth_rate'
         when b.ipcc_category in ('grassland', 'settlements', 'wetlands', 'other_land')
           or (b.ipcc_category = 'cropland' and coalesce(b.cropland_kind, 'annual') <> 'perennial')
             then 'one_year'
         when b.carbon_t_per_ha <= b.b_after_t_per_ha then 'one_year'
         else 'missing_growth_rate' end as rule,
    b.b_after_factors,
    b.growth_factors
from biomass_rules as b
