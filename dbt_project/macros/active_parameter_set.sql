{# the active parameter set of a kind (the newest when several are active) #}
{% macro active_parameter_set(kind) -%}
    select ps.parameter_set_id, ps.name, ps.version, ps.source_text
    from {{ source('registry', 'parameter_sets') }} as ps
    where ps.kind = '{{ kind }}' and ps.is_active
    order by ps.created_at desc, ps.parameter_set_id desc
    limit 1
{%- endmacro %}
