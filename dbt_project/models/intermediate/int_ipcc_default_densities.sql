-- IPCC Tier 1 default carbon densities (t C/ha) per legend class, from the class's IPCC land
-- category and the region's IPCC climate zone and soil type (registry.regions), for the run's
-- IPCC edition. Used where neither survey plots nor the active parameter set give a value.
--   soc  SOC_REF(climate, soil) x F_LU x F_MG x F_I; F_LU = long-term cultivated for cropland,
--        1 for forest land and grassland (native); F_MG = F_I = 1 (full tillage / nominal
--        management, medium input); no default for settlements, wetlands and other land
--   agb, bgb  grassland: IPCC 2006 Table 6.4 biomass x CF 0.47 (below-ground = total -
--        above-ground); cropland, settlements, other land: ipcc_biomass_defaults; forest land:
--        none (IPCC Table 4.7 covers no Chinese forests: give plots or a parameter set)
with region as (
    select * from {{ ref('stg_registry__regions') }}
),

classes as (
    select class_code, ipcc_category
    from {{ ref('stg_registry__legend_classes') }}
    where ipcc_category is not null
),

zone as (
    select r.ipcc_climate_zone, r.ipcc_soil_type, z.f_lu_climate, z.grassland_climate
    from region as r
    join {{ ref('ipcc_climate_zones') }} as z
        on z.climate_zone = r.ipcc_climate_zone
       and z.ipcc_edition = '{{ var("ipcc_edition") }}'
),

soc_ref as (
    select s.soc_ref_t_c_per_ha, s.uncertainty_pct, s.source
    from {{ ref('ipcc_soc_reference') }} as s
    join zone on s.climate_zone = zone.ipcc_climate_zone and s.soil_type = zone.ipcc_soil_type
    where s.ipcc_edition = '{{ var("ipcc_edition") }}'
),

f_lu as (
    select f.value, f.uncertainty_pct, f.source
    from {{ ref('ipcc_soc_change_factors') }} as f
    join zone on f.climate = zone.f_lu_climate
    where f.ipcc_edition = '{{ var("ipcc_edition") }}'
      and f.factor = 'F_LU' and f.level = 'long_term_cultivated'
),

soc as (
    select c.class_code, 'soc' as pool,
           s.soc_ref_t_c_per_ha * case when c.ipcc_category = 'cropland' then f.value else 1 end
               as carbon_t_per_ha,
           case when c.ipcc_category = 'cropland'
                then sqrt(coalesce(s.uncertainty_pct, 0) ^ 2 + coalesce(f.uncertainty_pct, 0) ^ 2)
                else s.uncertainty_pct end as uncertainty_pct,
           case when c.ipcc_category = 'cropland'
                then s.source || ' x F_LU ' || f.value || ' (' || f.source || ')'
                else s.source || ' (native land, F_LU = 1)' end as source
    from classes as c
    cross join soc_ref as s
    left join f_lu as f on true
    where c.ipcc_category in ('forest_land', 'grassland')
       or (c.ipcc_category = 'cropland' and f.value is not null)
),

grass as (
    select c.class_code, p.pool,
           case p.pool when 'agb' then g.above_ground_t_dm_per_ha
                else g.total_t_dm_per_ha - g.above_ground_t_dm_per_ha end * 0.47
               as carbon_t_per_ha,
           null::float8 as uncertainty_pct,
           g.source || ' x CF 0.47 (IPCC 2006 Table 4.3)' as source
    from classes as c
    join zone on true
    join {{ ref('ipcc_grassland_biomass') }} as g on g.climate = zone.grassland_climate
    cross join (values ('agb'), ('bgb')) as p(pool)
    where c.ipcc_category = 'grassland'
),

other as (
    select c.class_code, b.pool, b.carbon_t_per_ha, b.uncertainty_pct, b.source
    from classes as c
    join {{ ref('ipcc_biomass_defaults') }} as b on b.ipcc_category = c.ipcc_category
)

select *, 'ipcc_default' as tier from soc
union all
select *, 'ipcc_default' from grass
union all
select *, 'ipcc_default' from other
