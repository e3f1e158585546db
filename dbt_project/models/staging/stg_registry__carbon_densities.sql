-- carbon density per class and pool from the run's carbon_pools parameter set (t C/ha): the
-- pinned one, else the region's active set, else an active global set
-- (macro active_parameter_set)
with active_set as (
    {{ active_parameter_set('carbon_pools') }}
)

select
    s.parameter_set_id,
    s.name as parameter_set_name,
    s.version as parameter_set_version,
    v.class_code,
    v.pool,
    v.value as carbon_t_per_ha,
    v.uncertainty_pct,
    coalesce(v.source, s.source_text) as source,
    'parameter_set' as tier
from active_set as s
join {{ source('registry', 'parameter_values') }} as v
    on v.parameter_set_id = s.parameter_set_id
where v.parameter = 'carbon_density'
  and v.pool in ('agb', 'bgb', 'dead_wood', 'litter', 'soc')
  and v.unit in ('t C/ha', 'Mg C/ha')
