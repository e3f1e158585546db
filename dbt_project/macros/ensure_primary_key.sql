{# a primary key on a mart (post-hook), so that QGIS and BI tools find a stable key #}
{% macro ensure_primary_key(columns) -%}
do $pk$ begin
  if not exists (select 1 from pg_constraint
                 where conrelid = '{{ this }}'::regclass and contype = 'p') then
    alter table {{ this }} add primary key ({{ columns | join(', ') }});
  end if;
end $pk$
{%- endmacro %}
