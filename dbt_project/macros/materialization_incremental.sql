{#- The marts' materialisation: dbt's incremental materialisation for the one way this project
    uses it (append, no unique key, on_schema_change append_new_columns: every mart keeps all
    runs, a run's pre-hook deletes its own earlier rows, a mart that gains a column keeps its
    earlier runs with the column null for them). The rows of a run go to a temporary table and
    one server-side block adds the columns the mart lacks and appends them by name. dbt's own
    materialisation asks for the columns of the temporary table and of the mart four times
    (a catalog query and its result table on the client each time) to do the same; at every run
    of every mart. Anything else (another strategy, a unique key, another on_schema_change)
    is refused here, so that a model asking for it does not get this behaviour silently. -#}
{% materialization incremental, adapter='postgres' -%}
  {%- set strategy = config.get('incremental_strategy') or 'append' -%}
  {%- if strategy != 'append' or config.get('unique_key')
        or config.get('on_schema_change') != 'append_new_columns' -%}
    {{ exceptions.raise_compiler_error(
        'model ' ~ model.name ~ ': the incremental materialisation of this project appends '
        ~ 'with on_schema_change append_new_columns and no unique key (macros/'
        ~ 'materialization_incremental.sql)') }}
  {%- endif -%}

  {%- set existing_relation = load_cached_relation(this) -%}
  {%- set target_relation = this.incorporate(type='table') -%}
  {%- set temp_relation = make_temp_relation(target_relation) -%}
  {%- set intermediate_relation = make_intermediate_relation(target_relation) -%}
  {%- set backup_relation_type = 'table' if existing_relation is none
                                 else existing_relation.type -%}
  {%- set backup_relation = make_backup_relation(target_relation, backup_relation_type) -%}
  {%- set full_refresh_mode = should_full_refresh() or existing_relation.is_view -%}
  {%- set grant_config = config.get('grants') -%}
  {{ drop_relation_if_exists(load_cached_relation(intermediate_relation)) }}
  {{ drop_relation_if_exists(load_cached_relation(backup_relation)) }}

  {{ run_hooks(pre_hooks, inside_transaction=False) }}
  -- BEGIN happens here
  {{ run_hooks(pre_hooks, inside_transaction=True) }}

  {%- set to_drop = [] -%}
  {%- if existing_relation is none -%}
    {%- set build_sql = get_create_table_as_sql(False, target_relation, sql) -%}
    {%- set relation_for_indexes = target_relation -%}
  {%- elif full_refresh_mode -%}
    {%- set build_sql = get_create_table_as_sql(False, intermediate_relation, sql) -%}
    {%- set relation_for_indexes = intermediate_relation -%}
    {%- set need_swap = true -%}
  {%- else -%}
    {%- set build_sql -%}
{{ get_create_table_as_sql(True, temp_relation, sql) }};
do $append$
declare
  added record;
  cols text;
begin
  for added in
      select a.attname, format_type(a.atttypid, a.atttypmod) as type
        from pg_attribute as a
       where a.attrelid = '{{ temp_relation }}'::regclass and a.attnum > 0
         and not a.attisdropped
         and not exists (select 1 from pg_attribute as b
                          where b.attrelid = '{{ target_relation }}'::regclass
                            and b.attname = a.attname and b.attnum > 0
                            and not b.attisdropped)
       order by a.attnum
  loop
    execute format('alter table %s add column %I %s', '{{ target_relation }}',
                   added.attname, added.type);
  end loop;
  select string_agg(quote_ident(attname), ', ' order by attnum) into cols
    from pg_attribute
   where attrelid = '{{ temp_relation }}'::regclass and attnum > 0 and not attisdropped;
  execute format('insert into %s (%s) select %s from %s', '{{ target_relation }}', cols, cols,
                 '{{ temp_relation }}');
end $append$
    {%- endset -%}
  {%- endif -%}

  {% call statement("main") %}
      {{ build_sql }}
  {% endcall %}

  {% if existing_relation is none or existing_relation.is_view or should_full_refresh() %}
    {% do create_indexes(relation_for_indexes) %}
  {% endif %}

  {% if need_swap %}
      {% do adapter.rename_relation(target_relation, backup_relation) %}
      {% do adapter.rename_relation(intermediate_relation, target_relation) %}
      {% do to_drop.append(backup_relation) %}
  {% endif %}

  {% set should_revoke = should_revoke(existing_relation, full_refresh_mode) %}
  {% do apply_grants(target_relation, grant_config, should_revoke=should_revoke) %}
  {% do persist_docs(target_relation, model) %}
  {{ run_hooks(post_hooks, inside_transaction=True) }}
  -- COMMIT happens here
  {% do adapter.commit() %}
  {% for rel in to_drop %}
      {% do adapter.drop_relation(rel) %}
  {% endfor %}
  {{ run_hooks(post_hooks, inside_transaction=False) }}
  {{ return({'relations': [target_relation]}) }}
{%- endmaterialization %}
