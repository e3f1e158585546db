{{ config(pre_hook="{{ delete_this_run() }}") }}
-- every parameter value a run used: class, pool, value, tier, where it came from and why that
-- source was selected (selected_because: plots, pinned, region, global or ipcc_default); the
-- carbon densities, and the ecosystem-service parameters (stratum: the threat they belong to)
with used as (
    select distinct class_code from {{ ref('int_landcover_counts') }}
),

run_set as (
    {{ active_parameter_set('carbon_pools') }}
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
    '{{ var("ipcc_edition") }}'::text as ipcc_edition,
    case when d.tier = 'parameter_set' then s.selected_because
         else d.tier end as selected_because,
    null::text as stratum
from {{ ref('int_carbon_densities') }} as d
join used as u on u.class_code = d.class_code
left join run_set as s on s.parameter_set_id = d.parameter_set_id

union all
select
    {{ var('run_id') }}::bigint,
    p.class_code,
    null,
    p.parameter,
    p.value,
    p.unit,
    p.uncertainty_pct,
    'parameter_set',
    p.parameter_set_id,
    p.parameter_set_name,
    p.parameter_set_version,
    p.source,
    '{{ var("ipcc_edition") }}'::text,
    p.selected_because,
    p.stratum
from {{ ref('stg_registry__service_parameters') }} as p
