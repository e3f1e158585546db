{{ config(pre_hook="{{ delete_this_run() }}") }}
-- every parameter value a run used: class, pool, value, tier and where it came from
with used as (
    select distinct class_code from {{ ref('int_landcover_counts') }}
)

select
    {{ var('run_id') }}::bigint as run_id,
    d.class_code,
    d.pool,
    'carbon_density' as parameter,
    d.carbon_t_per_ha as value,
    't C/ha' as unit,
    d.uncertainty_pct,
    d.tier,
    d.parameter_set_id,
    d.parameter_set_name,
    d.parameter_set_version,
    d.source,
    '{{ var("ipcc_edition") }}'::text as ipcc_edition
from {{ ref('int_carbon_densities') }} as d
join used as u on u.class_code = d.class_code
