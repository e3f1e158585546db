{# marts keep every run: re-running a run id replaces only that run's rows #}
{% macro delete_this_run() -%}
  {% if is_incremental() %}delete from {{ this }} where run_id = {{ var('run_id') }}{% endif %}
{%- endmacro %}
