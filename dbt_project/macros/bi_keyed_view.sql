{# A BI view over a mart, keyed for QGIS and BI tools: the first column row_key (`key`, an SQL
   expression over the mart's alias m: unique and not null), then the region's name and the
   mart's columns; floats carry 10 significant digits (no binary noise such as
   -216195.96899999995); each epoch label also comes as an integer year and a date. Rows of the
   latest succeeded run of every region (latest=true) or of every succeeded run. #}
{% macro bi_keyed_view(mart, key, latest=true) -%}
{%- set cols = adapter.get_columns_in_relation(ref(mart)) if execute else [] %}
{%- set names = cols | map(attribute='name') | list %}
{%- set exprs = [key ~ ' as row_key'] %}
{%- if 'region_name' not in names %}{% do exprs.append('r.region_name') %}{% endif %}
{%- for c in cols %}
  {%- set x = 'm.' ~ adapter.quote(c.name) %}
  {%- if c.dtype == 'double precision' %}
    {%- do exprs.append('case when ' ~ x ~ ' is null or ' ~ x ~ " = 0 or " ~ x
        ~ " in ('NaN', 'Infinity', '-Infinity') then " ~ x ~ ' else round(' ~ x
        ~ '::numeric, 9 - floor(log(abs(' ~ x ~ ')))::int)::float8 end as '
        ~ adapter.quote(c.name)) %}
  {%- else %}
    {%- do exprs.append(x) %}
  {%- endif %}
{%- endfor %}
{%- for e, y, d in [('epoch_label', 'epoch_year', 'epoch_date'),
                    ('epoch_t1', 'epoch_t1_year', 'epoch_t1_date'),
                    ('epoch_t2', 'epoch_t2_year', 'epoch_t2_date')] if e in names %}
  {%- if y not in names %}
    {%- do exprs.append("case when m." ~ e ~ " ~ '^[0-9]{4}' then left(m." ~ e
        ~ ', 4)::int end as ' ~ y) %}
  {%- endif %}
  {%- do exprs.append("case when m." ~ e ~ " ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}$' then m." ~ e
      ~ "::date when m." ~ e ~ " ~ '^[0-9]{4}$' then make_date(m." ~ e
      ~ '::int, 7, 1) end as ' ~ d) %}
{%- endfor %}
select
    {{ exprs | join(',\n    ') }}
from {{ ref(mart) }} as m
join {{ ref('int_bi_runs') }} as r on r.run_id = m.run_id
{% if latest %}where r.is_latest{% endif %}
{%- endmacro %}
