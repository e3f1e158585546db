{# The model's description and its documented columns' descriptions as comments on the relation
   (persist_docs: relation, columns), in one statement that leaves out on the server the
   documented columns the relation does not have. dbt's own version asks for the relation's
   columns twice first (a catalog query and its result table on the client each time) and
   sends the relation's comment apart: for every model at every run, those were the most
   frequent queries of a run. #}
{% macro postgres__persist_docs(relation, model, for_relation, for_columns) -%}
  {%- set on_relation = for_relation and config.persist_relation_docs() and model.description -%}
  {%- set on_columns = for_columns and config.persist_column_docs() and model.columns -%}
  {%- if on_relation or on_columns -%}
    {%- call statement('persist_docs') -%}
do $comments$ begin
{%- if on_relation %}
  {{ alter_relation_comment(relation, model.description) | trim }}
{%- endif %}
{%- if on_columns %}
{%- for name, column in model.columns.items() %}
  {%- set stored = name if column.quote else name | lower %}
  if exists (select 1 from pg_attribute
             where attrelid = '{{ relation }}'::regclass and attnum > 0 and not attisdropped
               and attname = '{{ stored | replace("'", "''") }}') then
    comment on column {{ relation }}.{{ adapter.quote(name) if column.quote else name }}
      is {{ postgres_escape_comment(column.description) }};
  end if;
{%- endfor %}
{%- endif %}
end $comments$
    {%- endcall -%}
  {%- endif -%}
{%- endmacro %}
