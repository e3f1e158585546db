-- annual biomass growth per class and pool (t C/ha/yr) from the run's growth_rates parameter
-- set (pinned, else the region's active set, else an active global set; parameter
-- growth_rate, pool agb or bgb; unit t C/ha/yr or Mg C/ha/yr)
with active_set as (
    {{ active_parameter_set('growth_rates') }}
)

select
    s.parameter_set_id,
    s.name || ' v' || s.version as parameter_set,
    v.class_code,
    v.pool,
    v.value as growth_t_per_ha_yr,
    v.uncertainty_pct,
    coalesce(v.source, s.source_text) as source
from active_set as s
join {{ source('registry', 'parameter_values') }} as v
    on v.parameter_set_id = s.parameter_set_id
where v.parameter = 'growth_rate'
  and v.pool in ('agb', 'bgb')
  and v.unit in ('t C/ha/yr', 'Mg C/ha/yr')
