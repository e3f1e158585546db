{# the per-class and overall accuracy columns of ident.olofsson (alias o) and the sample count
   of the inputs (alias i), with the overall-accuracy gate #}
{% macro olofsson_columns() -%}
    o.map_samples,
    o.ref_samples,
    o.users_accuracy,
    o.users_ci,
    o.producers_accuracy,
    o.producers_ci,
    o.mapped_area as mapped_area_ha,
    o.estimated_area as estimated_area_ha,
    o.estimated_area_ci as estimated_area_ci_ha,
    o.overall_accuracy,
    o.overall_accuracy_ci,
    o.sample_overall_accuracy,
    o.kappa,
    i.samples as total_samples,
    {{ var('accuracy_gate_oa') }}::float8 as gate_overall_accuracy,
    o.overall_accuracy >= {{ var('accuracy_gate_oa') }} as passes_gate
{%- endmacro %}
