-- ecosystem-service parameters of the run's services parameter set (pinned, else the region's
-- active set, else an active global set; docs/SERVICES.md):
--   per class (class_code):  usle_c, usle_p, kc, root_depth (mm), lulc_veg, runoff_coefficient,
--                            habitat, rweq_cover_coefficient
--   per threat (stratum):    threat_max_dist (m), threat_weight, threat_decay (0 linear,
--                            1 exponential); threat_sensitivity per class and threat
select
    ps.parameter_set_id,
    ps.name || ' v' || ps.version as parameter_set,
    ps.name as parameter_set_name,
    ps.version as parameter_set_version,
    ps.selected_because,
    v.parameter,
    v.class_code,
    v.stratum,
    v.value,
    v.unit,
    v.uncertainty_pct,
    coalesce(v.source, ps.source_text) as source
from ({{ run_parameter_sets(['services']) }}) as ps
join {{ source('registry', 'parameter_values') }} as v using (parameter_set_id)
