-- IPCC Tier 1 default carbon densities (t C/ha) of every land-cover class present in the run
-- (int_landcover_classes) for the pools agb, bgb, dead_wood, litter and soc, for the region's
-- IPCC climate zone and soil type (registry.regions) and the run's IPCC edition. Used where
-- neither survey plots nor the parameter set give a value (int_carbon_densities). Each class
-- takes the rules of its Tier 1 land type (seed ipcc_tier1_rules; docs/CARBON.md, "Tier 1
-- defaults"):
--   fixed            a value of a table (Table 5.9) or 0 by a stated rule (settlements, water,
--                    bare land, dead organic matter of non-forest land ...)
--   soc_ref          SOC_REF(climate, region's soil) x F_LU of the rule's level (long-term
--                    cultivated, paddy rice, perennial/tree crop; 1 for native land); F_MG =
--                    F_I = 1 (full tillage / nominal management, medium input)
--   soc_ref_wetland, soc_ref_sandy   SOC_REF of the wetland-soil or sandy-soil column
--   grassland_table  Table 6.4 x CF 0.47 (agb: above-ground; bgb: total - above-ground)
--   perennial_table  Table 5.1 biomass at harvest / 2 (mean over the harvest cycle)
--   litter_table     Table 2.2 litter by climate and forest type
--   none             no Tier 1 value (forest biomass)
-- A row with carbon_t_per_ha null is a stratum without a value; missing_reason says why and
-- int_density_gaps fails the run at its start unless plots or the parameter set fill it.
-- Uncertainty: the tables' own where transcribed, else the seeds' stated rules; products
-- (SOC_REF x F_LU) combine by IPCC Approach 1 (square root of the sum of squares). factors
-- keeps the factors apart, so that a SOC_REF shared by several classes is one quantity in
-- carbon_uncertainty and project_benefit_uncertainty.
-- Pools: a pool whose every value here would be 0 by rule and that no plot or parameter set
-- gives is left out (e.g. dead organic matter of a region without forest). Where the parameter
-- set gives a class's dead_wood but not its litter, its dead_wood is taken as all dead organic
-- matter (InVEST C_dead) and Tier 1 litter is 0 for that class (no double counting).
-- Without IPCC strata on the region no Tier 1 value is given (int_density_gaps says so).
with region as (
    select * from {{ ref('stg_registry__regions') }}
),

zone as (
    select r.ipcc_climate_zone, r.ipcc_soil_type, z.f_lu_climate, z.grassland_climate,
           z.broad_climate, z.litter_climate, z.perennial_climate
    from region as r
    join {{ ref('ipcc_climate_zones') }} as z
        on z.climate_zone = r.ipcc_climate_zone
       and z.ipcc_edition = '{{ var("ipcc_edition") }}'
),

classes as (
    select * from {{ ref('int_landcover_classes') }}
    where tier1_stratum is not null
),

soc_ref as (
    select s.soil_type, s.soc_ref_t_c_per_ha, s.uncertainty_pct, s.source
    from {{ ref('ipcc_soc_reference') }} as s
    join zone on s.climate_zone = zone.ipcc_climate_zone
    where s.ipcc_edition = '{{ var("ipcc_edition") }}'
),

f_lu as (
    -- the most specific F_LU row of each level: the zone's F_LU climate, its broad climate
    -- (temperate_boreal / tropical), else 'all'
    select distinct on (f.level) f.level, f.value, f.uncertainty_pct, f.source
    from {{ ref('ipcc_soc_change_factors') }} as f
    cross join zone
    where f.ipcc_edition = '{{ var("ipcc_edition") }}'
      and f.factor = 'F_LU'
      and f.climate in (zone.f_lu_climate, zone.broad_climate, 'all')
    order by f.level,
             case f.climate when zone.f_lu_climate then 0 when zone.broad_climate then 1
                  else 2 end
),

grass as (
    select g.* from {{ ref('ipcc_grassland_biomass') }} as g
    join zone on g.climate = zone.grassland_climate
),

perennial as (
    select p.* from {{ ref('ipcc_perennial_cropland') }} as p
    join zone on p.climate = zone.perennial_climate
),

litter as (
    -- Table 2.2 of the run's edition where transcribed, else 2006
    select distinct on (l.forest_type) l.*
    from {{ ref('ipcc_litter_stocks') }} as l
    join zone on l.climate = zone.litter_climate
    order by l.forest_type, (l.ipcc_edition = '{{ var("ipcc_edition") }}') desc
),

rules as (
    select c.class_code, c.tier1_stratum, c.forest_type, c.assumption, r.pool, r.method,
           r.f_lu_level, r.carbon_t_per_ha as fixed_t_per_ha, r.uncertainty_pct as fixed_pct,
           r.rule, r.source as rule_source
    from classes as c
    join {{ ref('ipcc_tier1_rules') }} as r on r.tier1_stratum = c.tier1_stratum
),

valued as (
    select
        r.class_code,
        r.pool,
        r.rule,
        r.method,
        r.tier1_stratum,
        r.assumption,
        case r.method
            when 'fixed' then r.fixed_t_per_ha
            when 'soc_ref' then s.soc_ref_t_c_per_ha
                * case when r.f_lu_level is null then 1 else f.value end
            when 'soc_ref_wetland' then sw.soc_ref_t_c_per_ha
            when 'soc_ref_sandy' then ss.soc_ref_t_c_per_ha
            when 'grassland_table' then 0.47 * case r.pool
                when 'agb' then g.above_ground_t_dm_per_ha
                when 'bgb' then g.total_t_dm_per_ha - g.above_ground_t_dm_per_ha end
            when 'perennial_table' then p.biomass_at_harvest_t_c_per_ha / 2
            when 'litter_table' then l.litter_t_c_per_ha
        end as carbon_t_per_ha,
        case r.method
            when 'fixed' then r.fixed_pct
            when 'soc_ref' then case when r.f_lu_level is null then s.uncertainty_pct
                else sqrt(s.uncertainty_pct ^ 2 + f.uncertainty_pct ^ 2) end
            when 'soc_ref_wetland' then sw.uncertainty_pct
            when 'soc_ref_sandy' then ss.uncertainty_pct
            when 'grassland_table' then g.uncertainty_pct
            when 'perennial_table' then p.uncertainty_pct
            when 'litter_table' then l.uncertainty_pct
        end as uncertainty_pct,
        -- the factors whose product is the number ([key, value, u_pct], ipcc.factor_uncertainty):
        -- the same table value or SOC_REF is one factor wherever it is used
        case r.method
            when 'fixed' then jsonb_build_array(jsonb_build_array(
                'Tier 1 ' || r.rule || ' ' || r.pool, r.fixed_t_per_ha, r.fixed_pct))
            when 'soc_ref' then jsonb_build_array(jsonb_build_array(
                    'SOC_REF ' || zone.ipcc_climate_zone || ' ' || zone.ipcc_soil_type,
                    s.soc_ref_t_c_per_ha, s.uncertainty_pct))
                || case when r.f_lu_level is null then '[]'::jsonb
                        else jsonb_build_array(jsonb_build_array(
                            'F_LU ' || r.f_lu_level, f.value, f.uncertainty_pct)) end
            when 'soc_ref_wetland' then jsonb_build_array(jsonb_build_array(
                'SOC_REF ' || zone.ipcc_climate_zone || ' wetland', sw.soc_ref_t_c_per_ha,
                sw.uncertainty_pct))
            when 'soc_ref_sandy' then jsonb_build_array(jsonb_build_array(
                'SOC_REF ' || zone.ipcc_climate_zone || ' sandy', ss.soc_ref_t_c_per_ha,
                ss.uncertainty_pct))
            when 'grassland_table' then jsonb_build_array(jsonb_build_array(
                'Table 6.4 ' || g.climate || ' ' || r.pool, 0.47 * case r.pool
                    when 'agb' then g.above_ground_t_dm_per_ha
                    when 'bgb' then g.total_t_dm_per_ha - g.above_ground_t_dm_per_ha end,
                g.uncertainty_pct))
            when 'perennial_table' then jsonb_build_array(jsonb_build_array(
                'Table 5.1 ' || p.climate, p.biomass_at_harvest_t_c_per_ha / 2,
                p.uncertainty_pct))
            when 'litter_table' then jsonb_build_array(jsonb_build_array(
                'Table 2.2 ' || l.climate_forest_type, l.litter_t_c_per_ha, l.uncertainty_pct))
        end as factors,
        -- what the number is made of (null where there is no number)
        case r.method
            when 'fixed' then ''
            when 'soc_ref' then 'SOC_REF ' || s.soc_ref_t_c_per_ha || ' t C/ha ('
                || zone.ipcc_climate_zone || ', ' || zone.ipcc_soil_type || ': ' || s.source
                || ')'
                || case when r.f_lu_level is null then ''
                        else ' x F_LU ' || r.f_lu_level || ' ' || f.value || ' (' || f.source
                             || ')' end
            when 'soc_ref_wetland' then 'SOC_REF ' || sw.soc_ref_t_c_per_ha || ' t C/ha (wetland '
                || 'soils: ' || sw.source || ')'
            when 'soc_ref_sandy' then 'SOC_REF ' || ss.soc_ref_t_c_per_ha || ' t C/ha (sandy '
                || 'soils: ' || ss.source || ')'
            when 'grassland_table' then g.climate || ': ' || case r.pool
                when 'agb' then g.above_ground_t_dm_per_ha || ' t d.m./ha'
                else '(' || g.total_t_dm_per_ha || ' - ' || g.above_ground_t_dm_per_ha
                     || ') t d.m./ha' end || ' x 0.47 (' || g.source || ')'
            when 'perennial_table' then p.climate || ': ' || p.biomass_at_harvest_t_c_per_ha
                || ' / 2 t C/ha (' || p.source || ')'
            when 'litter_table' then l.climate_forest_type || ': ' || l.litter_t_c_per_ha
                || ' t C/ha (' || l.source || ')'
        end as detail,
        -- why there is no number
        case
            when r.method = 'none' then r.rule_source
            when r.method = 'soc_ref' and zone.ipcc_soil_type is null
                then 'the region has no IPCC soil type (ecorest region set-ipcc)'
            when r.method = 'soc_ref' and s.soc_ref_t_c_per_ha is null
                then coalesce(s.source, 'no SOC_REF transcribed for this climate and soil')
            when r.method = 'soc_ref' and r.f_lu_level is not null and f.value is null
                then 'no F_LU ' || r.f_lu_level || ' transcribed for this climate and edition'
            when r.method = 'soc_ref_wetland' and sw.soc_ref_t_c_per_ha is null
                then coalesce(sw.source, 'no SOC_REF transcribed for wetland soils here')
            when r.method = 'soc_ref_sandy' and ss.soc_ref_t_c_per_ha is null
                then coalesce(ss.source, 'no SOC_REF transcribed for sandy soils here')
            when r.method = 'perennial_table' and p.climate is null
                then 'IPCC 2006 Vol.4 Table 5.1 has no perennial woody cropland row for this '
                     || 'climate zone'
            when r.method = 'litter_table' and l.climate is null
                then 'IPCC 2006 Vol.4 Table 2.2 has no litter row for this climate zone'
            when r.method = 'grassland_table' and g.climate is null
                then 'IPCC 2006 Vol.4 Table 6.4 has no row for this climate zone'
        end as missing_reason,
        r.rule_source
    from rules as r
    cross join zone
    left join soc_ref as s on s.soil_type = zone.ipcc_soil_type
    left join soc_ref as sw on sw.soil_type = 'wetland'
    left join soc_ref as ss on ss.soil_type = 'sandy'
    left join f_lu as f on f.level = r.f_lu_level
    left join grass as g on r.method = 'grassland_table'
    left join perennial as p on r.method = 'perennial_table'
    left join litter as l on r.method = 'litter_table' and l.forest_type = r.forest_type
),

-- classes whose parameter set gives dead organic matter as dead_wood only (InVEST C_dead)
param_dom as (
    select class_code
    from {{ ref('stg_registry__carbon_densities') }}
    group by class_code
    having bool_or(pool = 'dead_wood') and not bool_or(pool = 'litter')
),

adjusted as (
    select v.class_code, v.pool, v.carbon_t_per_ha, v.uncertainty_pct, v.factors, v.rule,
           v.rule_source, v.detail, v.missing_reason, v.tier1_stratum, v.assumption,
           v.method = 'fixed' and v.carbon_t_per_ha = 0 as is_rule_zero
    from valued as v
    where not (v.pool = 'litter' and v.class_code in (select class_code from param_dom))
    union all
    select v.class_code, v.pool, 0, 0,
           jsonb_build_array(jsonb_build_array('Tier 1 T1-DOM-INCLUDED litter', 0, 0)),
           'T1-DOM-INCLUDED',
           'litter counted in the parameter set''s dead_wood of this class (dead organic '
           || 'matter, as the InVEST C_dead column): not added from Table 2.2',
           '', null, v.tier1_stratum, v.assumption, true
    from valued as v
    where v.pool = 'litter' and v.class_code in (select class_code from param_dom)
),

reported_pools as (
    select pool from adjusted where not is_rule_zero
    union
    select pool from {{ ref('stg_registry__carbon_densities') }}
    union
    select pool from {{ ref('int_plot_classes') }} where class_code is not null
)

select
    a.class_code,
    a.pool,
    a.carbon_t_per_ha,
    a.uncertainty_pct,
    a.factors,
    '[' || a.rule || '] ' || a.rule_source
        || case when coalesce(a.detail, '') = '' then '' else ' | ' || a.detail end
        || case when a.assumption is null then '' else ' | ' || a.assumption end
        || ' | stratum ' || z.ipcc_climate_zone || ' / ' || coalesce(z.ipcc_soil_type, '-')
        as source,
    'ipcc_default' as tier,
    a.rule,
    a.tier1_stratum,
    z.ipcc_climate_zone,
    z.ipcc_soil_type,
    '{{ var("ipcc_edition") }}'::text as ipcc_edition,
    case when a.carbon_t_per_ha is null
         then coalesce(a.missing_reason, 'no Tier 1 value') end as missing_reason
from adjusted as a
cross join zone as z
where a.pool in (select pool from reported_pools)
