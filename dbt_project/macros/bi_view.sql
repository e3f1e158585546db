{# A BI view over a mart: its rows of the latest succeeded run of every region (latest=true)
   or of every succeeded run (latest=false, filter on run_id), with the region's name. A run
   becomes visible only when it has succeeded, so readers never see a half-written run. #}
{% macro bi_view(mart, latest=true) -%}
{%- set cols = adapter.get_columns_in_relation(ref(mart)) | map(attribute='name') | list
    if execute else [] -%}
select
    {% if 'region_name' not in cols %}r.region_name,{% endif %}
    m.*
from {{ ref(mart) }} as m
join {{ ref('int_bi_runs') }} as r on r.run_id = m.run_id
{% if latest %}where r.is_latest{% endif %}
{%- endmacro %}

{# copy the column comments of a mart onto a view built from it (post-hook) #}
{% macro copy_column_comments(mart) -%}
do $cc$
declare c record;
begin
  for c in
    select a.attname, d.description
    from pg_attribute a
    join pg_description d on d.objoid = a.attrelid and d.objsubid = a.attnum
    where a.attrelid = '{{ ref(mart) }}'::regclass and a.attnum > 0 and not a.attisdropped
  loop
    execute format('comment on column %s.%I is %L', '{{ this }}', c.attname, c.description);
  end loop;
  comment on column {{ this }}.region_name is 'Region (registry.regions.name)';
end $cc$
{%- endmacro %}
