-- the quantities every dynamic stock is a linear form of (int_trajectory_stocks.terms), with
-- their value and the factors whose product is that value:
--   density:<class>:<pool>   the class's density (int_carbon_densities.factors: plot mean,
--                            parameter value, or its Tier 1 factors such as SOC_REF x F_LU)
--   b_after:<class>:<pool>   biomass right after conversion (int_biomass_rules)
--   growth:<class>:<pool>    biomass growth rate (int_biomass_rules)
-- factors: [[key, value, u_pct], ...] (ipcc.factor_uncertainty)
select 'density:' || class_code || ':' || pool as quantity, carbon_t_per_ha as value, factors
from {{ ref('int_carbon_densities') }}
union all
select 'b_after:' || class_code || ':' || pool, b_after_t_per_ha, b_after_factors
from {{ ref('int_biomass_rules') }}
union all
select 'growth:' || class_code || ':' || pool, growth_t_per_ha_yr, growth_factors
from {{ ref('int_biomass_rules') }}
where growth_factors is not null
