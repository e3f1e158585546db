{# models go to the schema named in dbt_project.yml as it is (staging, intermediate, marts) #}
{% macro generate_schema_name(custom_schema_name, node) -%}
  {{ custom_schema_name if custom_schema_name else target.schema }}
{%- endmacro %}
