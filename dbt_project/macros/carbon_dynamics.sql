{# post-hook of int_trajectory_stocks: a class entered during the assessment whose biomass
   needs a growth rate (forest land, perennial cropland, classes without an IPCC category) but
   has none fails the run, naming the class and pool, instead of crediting its mature stock #}
{% macro fail_on_missing_growth_rates() -%}
do $gr$
declare missing text;
begin
  select string_agg(distinct 'class ' || class_code || ' (' || pool || ')', ', ')
    into missing
  from {{ this }}
  where rule = 'missing_growth_rate';
  if missing is not null then
    raise exception 'land enters % during the assessment without a growth rate: load a '
      'growth_rates parameter set (parameter growth_rate, t C/ha/yr) for it', missing;
  end if;
end $gr$
{%- endmacro %}
