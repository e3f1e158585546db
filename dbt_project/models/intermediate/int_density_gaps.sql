-- every land-cover class present in the run's rasters without a carbon density for a pool the
-- run reports (a pool given for any class by plots, the parameter set or IPCC Tier 1, or a
-- Tier 1 pool IPCC gives no value for), with the IPCC stratum and the reason. It depends on
-- staging, seeds and the densities only: `ecorest run` builds it first (ecorest/run.py,
-- check_densities_first) and a row fails the run before any per-pixel model, naming class,
-- pool and stratum (test assert_every_class_has_a_density), instead of dropping the area from
-- that pool.
with present as (
    select * from {{ ref('int_landcover_classes') }}
),

region as (
    select * from {{ ref('stg_registry__regions') }}
),

densities as (
    select class_code, pool from {{ ref('int_carbon_densities') }}
    where carbon_t_per_ha is not null
),

tier1 as (
    select * from {{ ref('int_ipcc_default_densities') }}
),

pools as (
    select pool from densities
    union
    select pool from tier1 where carbon_t_per_ha is null
),

gaps as (
    select p.*, pl.pool
    from present as p
    cross join pools as pl
    where not exists (select 1 from densities as d
                      where d.class_code = p.class_code and d.pool = pl.pool)
)

select
    {{ var('run_id') }}::bigint as run_id,
    g.class_code,
    coalesce(g.name_en, g.name_zh) as class_name,
    g.legend_name,
    g.ipcc_category,
    g.tier1_stratum,
    g.pool,
    r.ipcc_climate_zone,
    r.ipcc_soil_type,
    '{{ var("ipcc_edition") }}'::text as ipcc_edition,
    case
        when g.legend_id is null
            then 'the class is not in the legend of its land-cover layer'
        when t.missing_reason is not null then t.missing_reason
        when r.ipcc_climate_zone is null
            then 'no IPCC Tier 1 default: the region has no IPCC climate zone and soil type '
                 || '(ecorest region set-ipcc)'
        when g.tier1_stratum is null
            then 'no IPCC Tier 1 default: the class has no IPCC land category in its legend'
        else 'no IPCC Tier 1 default for this pool'
    end as reason
from gaps as g
cross join region as r
left join tier1 as t on t.class_code = g.class_code and t.pool = g.pool
