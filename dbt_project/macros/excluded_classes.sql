{# The class codes the identification leaves ungraded (one row, codes: possibly empty): those
   of the ecosystem types exclude_types and the class codes exclude_classes. #}
{% macro excluded_classes() -%}
select coalesce(array_agg(class_code order by class_code), '{}') as codes
from {{ ref('stg_registry__legend_classes') }}
where ecosystem_type = any(string_to_array('{{ var("exclude_types") }}', ','))
   or class_code = any(string_to_array(nullif('{{ var("exclude_classes") }}', 'none'),
                                       ',')::int[])
{%- endmacro %}
