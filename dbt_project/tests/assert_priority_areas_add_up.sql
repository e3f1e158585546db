-- the grade areas of every zone add up to its assessed area
select zone_set, zone_code, assessed_ha,
       priority_restoration_ha + restoration_ha + improvement_ha + protection_ha + general_ha
           as graded_ha
from {{ ref('zone_scores') }}
where run_id = {{ var('run_id') }}
  and abs(assessed_ha - (priority_restoration_ha + restoration_ha + improvement_ha
                         + protection_ha + general_ha)) > 1e-6 * greatest(assessed_ha, 1)
