{#- A view that is never dropped while readers use it (the bi views and intermediate.int_bi_runs,
    which every bi view reads).

    dbt's own view materialization builds a new view, renames the old one away and drops it
    with CASCADE after its commit, which takes every view built on it (all of bi when
    int_bi_runs is rebuilt) until dbt rebuilds them one by one. This one, in one transaction:
    - leaves the view as it is when its definition would not change (the new definition is
      compiled as a temporary view and compared, deparsed, with the existing one), so that an
      ordinary run does no DDL on bi at all and a failed or killed run leaves it exactly as it
      was;
    - else replaces it in place (`create or replace view`: readers wait a moment for the lock,
      then read the new definition; grants and dependent views stay);
    - only when the columns change incompatibly (a column removed, renamed or retyped), which
      `create or replace` refuses, drops and re-creates it in the same transaction; views built
      on it are then re-created by their own models later in the same build.
    What a bi view shows switches when a run's status becomes succeeded (ecorest/run.py), in
    one update. -#}
{% materialization stable_view, adapter='postgres' %}
  {%- set target_relation = this.incorporate(type='view') -%}
  {%- set body = sql | trim | replace('$ecorest_sv$', '') -%}
  {%- set probe = 'ecorest_stable_view_probe' -%}

  {{ run_hooks(pre_hooks, inside_transaction=False) }}
  {{ run_hooks(pre_hooks, inside_transaction=True) }}

  {% call statement('main') -%}
    do $ecorest_sv_block$
    declare
      unchanged boolean := false;
    begin
      if to_regclass('{{ target_relation }}') is not null then
        begin
          drop view if exists pg_temp.{{ probe }};
          execute $ecorest_sv$create temporary view {{ probe }} as {{ body }}$ecorest_sv$;
          select pg_get_viewdef('pg_temp.{{ probe }}'::regclass)
                   = pg_get_viewdef('{{ target_relation }}'::regclass)
             and (select array_agg(attname || ' ' || format_type(atttypid, atttypmod)
                                   order by attnum)
                  from pg_attribute where attrelid = 'pg_temp.{{ probe }}'::regclass
                    and attnum > 0 and not attisdropped)
               = (select array_agg(attname || ' ' || format_type(atttypid, atttypmod)
                                   order by attnum)
                  from pg_attribute where attrelid = '{{ target_relation }}'::regclass
                    and attnum > 0 and not attisdropped)
            into unchanged;
          drop view pg_temp.{{ probe }};
        exception when insufficient_privilege then
          unchanged := false;  -- no temporary objects allowed here: replace it
        end;
      end if;
      if not coalesce(unchanged, false) then
        begin
          execute $ecorest_sv$create or replace view {{ target_relation }} as {{ body }}$ecorest_sv$;
        exception when invalid_table_definition or feature_not_supported then
          execute 'drop view {{ target_relation }} cascade';
          execute $ecorest_sv$create view {{ target_relation }} as {{ body }}$ecorest_sv$;
        end;
      end if;
    end $ecorest_sv_block$
  {%- endcall %}

  {% do persist_docs(target_relation, model) %}

  {{ run_hooks(post_hooks, inside_transaction=True) }}

  {{ adapter.commit() }}

  {{ run_hooks(post_hooks, inside_transaction=False) }}

  {{ return({'relations': [target_relation]}) }}
{% endmaterialization %}
