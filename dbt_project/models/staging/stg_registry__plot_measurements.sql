-- measured carbon density per plot, date and pool in the run's region
select
    m.measurement_id,
    p.plot_uid,
    p.plot_id,
    p.geom,
    p.ecosystem_type,
    m.measured_date,
    m.pool,
    m.carbon_t_per_ha
from {{ source('registry', 'plot_measurements') }} as m
join {{ source('registry', 'survey_plots') }} as p on p.plot_uid = m.plot_uid
where p.region_id = {{ var('region_id') }}
  and m.pool in ('agb', 'bgb', 'dead_wood', 'litter', 'soc')
