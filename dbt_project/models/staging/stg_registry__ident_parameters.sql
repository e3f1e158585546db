-- identification parameters from the run's weights and transition_severity parameter sets
-- (each pinned, else the region's active set, else an active global set), replacing the
-- built-in defaults:
--   kind weights:              parameter degradation_weight / importance_weight, stratum =
--                              factor (or a loaded layer's name), value = weight (a negative
--                              weight declares that higher values are better);
--                              parameter ahp_pairwise, stratum 'factor_a>factor_b', value =
--                              Saaty judgement of a over b (replaces the built-in matrix)
--   kind transition_severity:  parameter severity, class_code = class at t1, stratum = class at
--                              t2 (codes of the region's legend), value 0..1
select
    ps.parameter_set_id,
    ps.kind,
    ps.name || ' v' || ps.version as parameter_set,
    v.parameter,
    v.class_code,
    v.stratum,
    v.value,
    coalesce(v.source, ps.source_text) as source
from ({{ run_parameter_sets(['weights', 'transition_severity']) }}) as ps
join {{ source('registry', 'parameter_values') }} as v using (parameter_set_id)
where ((ps.kind = 'weights'
        and v.parameter in ('degradation_weight', 'importance_weight', 'ahp_pairwise'))
       or (ps.kind = 'transition_severity' and v.parameter = 'severity'))
