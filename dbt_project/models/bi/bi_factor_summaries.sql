{{ config(materialized='stable_view', alias='factor_summaries',
          post_hook="{{ copy_column_comments('factor_summaries') }}") }}
-- marts.factor_summaries of the latest succeeded run of every region. QGIS and BI tools take a
-- view's first column as its key: row_key is the text of (run_id, factor). Floats carry 10
-- significant digits (no binary noise such as -216195.96899999995); each epoch label also comes as
-- a year and a date.
{%- set mart = 'factor_summaries' %}
{%- set cols = adapter.get_columns_in_relation(ref(mart)) if execute else [] %}
{%- set names = cols | map(attribute='name') | list %}
{%- set exprs = ['row(m.run_id, m.factor)::text as row_key'] %}
{%- if 'region_name' not in names %}{% do exprs.append('r.region_name') %}{% endif %}
{%- for c in cols %}
  {%- set x = 'm.' ~ adapter.quote(c.name) %}
  {%- if c.dtype == 'double precision' %}
    {%- do exprs.append('case when ' ~ x ~ ' is null or ' ~ x ~ " = 0 or " ~ x
        ~ " in ('NaN', 'Infinity', '-Infinity') then " ~ x ~ ' else round(' ~ x
        ~ '::numeric, 9 - floor(log(abs(' ~ x ~ ')))::int)::float8 end as ' ~ adapter.quote(c.name)) %}
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
where r.is_latest
