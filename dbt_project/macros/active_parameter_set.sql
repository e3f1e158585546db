{#- the parameter set of a kind that this run uses (at most one per kind), read from the run's
    record: `ecorest run` chose it (ecorest/run.py, select_parameter_sets) and stored it in
    etl.assessment_runs.parameter_set_ids. selected_because says why: pinned (--params, listed
    in options.params), region (the region's own active set) or global (an active global set,
    the region having none of the kind) -#}
{% macro active_parameter_set(kind) -%}
    {{ run_parameter_sets([kind]) }}
{%- endmacro %}

{#- the run's parameter sets of several kinds (one per kind), as active_parameter_set -#}
{% macro run_parameter_sets(kinds) -%}
    select ps.parameter_set_id, ps.kind, ps.name, ps.version, ps.source_text, ps.region_id,
           case when exists (select 1 from jsonb_each_text(a.options -> 'params') as p
                             where p.value::int = ps.parameter_set_id) then 'pinned'
                when ps.region_id is not null then 'region'
                else 'global' end as selected_because
    from {{ source('etl', 'assessment_runs') }} as a
    join {{ source('registry', 'parameter_sets') }} as ps
        on ps.parameter_set_id = any(a.parameter_set_ids)
    where a.run_id = {{ var('run_id') }}
      and a.region_id = {{ var('region_id') }}
      and ps.kind in ('{{ kinds | join("', '") }}')
{%- endmacro %}
