{# The NDVI trend of the run computed on the data nodes where its NDVI epochs lie
   (raster.np_node_ndvi_trend: each node writes its trend tiles, and raster.derived_ndvi_trend
   reads them), with the same arguments as the single-server model int_ndvi_trend_tiles. #}
{% macro node_ndvi_trend() -%}
    select raster.np_node_ndvi_trend(
        array_agg(catalog_id order by epoch_year, catalog_id),
        array_agg(epoch_year order by epoch_year, catalog_id),
        array_agg(scale_factor order by epoch_year, catalog_id),
        array_agg(add_offset order by epoch_year, catalog_id),
        '{{ var("ndvi_annual_reduce") }}', {{ var('trend_min_years') }},
        {{ var('trend_stable_slope') }}, {{ var('trend_alpha') }}, {{ var('ndvi_min') }})
    from {{ ref('stg_raster__ident_layers') }}
    where role = 'ndvi'
{%- endmacro %}

{# The slope of the run's DEM computed on the data nodes where its tiles lie
   (raster.np_node_slope: each node writes the slope tiles of its own DEM tiles, and
   raster.derived_slope reads them), as the single-server model int_slope_tiles computes it. #}
{% macro node_slope() -%}
    select raster.np_node_slope(catalog_id)
    from {{ ref('stg_raster__ident_layers') }}
    where role = 'dem'
{%- endmacro %}

{# The identification factors of int_factor_tiles computed on the data nodes in this run: those
   of the run's factor table (int_ident_factors) whose inputs lie co-located there (the dbt
   variable derived_on_nodes: 'factors' when the run's land cover, NDVI and DEM do, and the NDVI
   trend and slope kept there) and whose land-cover epochs the run has. Read when the model runs (dbt compiles a model just before
   running it); [] while dbt parses. #}
{% macro node_factor_kinds() -%}
    {%- set on = var('derived_on_nodes') -%}
    {%- set possible = [] -%}
    {%- if 'factors' in on -%}
        {%- do possible.extend(['landcover_degradation', 'carbon_density']) -%}
        {%- if 'ndvi_trend' in on -%}{%- do possible.extend(['ndvi_trend', 'fvc']) -%}{%- endif -%}
        {%- if 'slope' in on -%}{%- do possible.extend(['slope', 'steep_cropland']) -%}{%- endif -%}
    {%- endif -%}
    {#- the land-cover roles each needs (a run with one observed epoch has no transition) -#}
    {%- set needs = {'landcover_degradation': ['landcover_t1', 'landcover_t2'],
                     'carbon_density': ['landcover_now'],
                     'steep_cropland': ['landcover_now']} -%}
    {%- set kinds = [] -%}
    {%- if possible and execute -%}
        {%- set present = run_query("select factor from " ~ ref('int_ident_factors'))
                          .columns[0].values() -%}
        {%- set roles = run_query("select distinct role from "
                                  ~ ref('stg_raster__ident_layers')).columns[0].values() -%}
        {%- for k in possible if k in present -%}
            {%- set ns = namespace(ok=true) -%}
            {%- for r in needs.get(k, []) if r not in roles -%}{%- set ns.ok = false -%}{%- endfor -%}
            {%- if ns.ok -%}{%- do kinds.append(k) -%}{%- endif -%}
        {%- endfor -%}
    {%- endif -%}
    {{ return(kinds) }}
{%- endmacro %}

{# The pre-hook of int_factor_tiles on data nodes: each factor of node_factor_kinds() computed
   by every node over its own tiles (raster.np_node_derive) into raster.derived_factor_<name>,
   with the kernels and per-run lookup arrays of factor_tile_ctes' single-server branches;
   %1$I, %2$I stand for the node's tables of the sources. When the identification runs on the
   nodes (overlay_on_nodes), each node first writes the constraint mask of its tiles
   (raster.derived_constraint_mask: the tiles with an excluded pixel, as
   int_constraint_mask_tiles) and applies it to every factor, as int_factor_tiles does;
   otherwise the mask and everything after stay on the coordinator. #}
{% macro node_factors() -%}
    {%- set kinds = node_factor_kinds() -%}
    {%- set masked = overlay_on_nodes() -%}
    {%- set layers = ref('stg_raster__ident_layers') -%}
    select 1
    {%- if masked %};
    select raster.np_node_derive('derived_constraint_mask', format(
        'select q.* from (select t.tile_x, t.tile_y, st_rastfromwkb(raster.np_constraint_mask('
        't.rast::bytea, %L::integer[], array_remove(array[%s]::bytea[], null))) as rast '
        'from raster.%%1$I t) q where %s and coalesce((st_summarystats(q.rast, 1, true)).sum, '
        '0) > 0', e.codes, m.tiles, case when cardinality(e.codes) > 0 or m.tiles is not null
                                      then 'true' else 'false' end),
        array[format('tiles_%s', n.catalog_id)] || m.tables)
    from ({{ excluded_classes() }}) as e
    cross join {{ layers }} as n
    cross join (
        select string_agg(format('(select k.rast::bytea from raster.%%%s$I k '
                                 'where k.tile_x = t.tile_x and k.tile_y = t.tile_y)', x.k + 1),
                          ', ' order by x.k) as tiles,
               coalesce(array_agg(format('tiles_%s', x.catalog_id) order by x.k), '{}')
                   as tables
        from (select catalog_id, row_number() over (order by catalog_id) as k
              from {{ layers }} where role = 'layer' and layer like 'mask\_%') as x
    ) as m
    where n.role = 'landcover_now'
    {%- endif %}
    {%- if 'ndvi_trend' in kinds %};
    select {{ node_factor('ndvi_trend', masked, "format(
        'select tile_x, tile_y, st_rastfromwkb(raster.np_lookup(raster.np_physical('
        'rast::bytea, 7), %L::integer[], %L::double precision[])) as rast from raster.%%1$I',
        ts.codes, ts.vals)", "array['derived_ndvi_trend']") }}
    from ({{ factor_lookup('trend_scores') }}) as ts
    {%- endif %}
    {%- if 'fvc' in kinds %};
    select {{ node_factor('fvc', masked,
        "'select tile_x, tile_y, st_rastfromwkb(raster.np_physical(rast::bytea, 8)) as rast '
        'from raster.%1$I'", "array['derived_ndvi_trend']") }}
    {%- endif %}
    {%- if 'slope' in kinds %};
    select {{ node_factor('slope', masked,
        "'select tile_x, tile_y, st_rastfromwkb(raster.np_physical(rast::bytea, 1)) as rast '
        'from raster.%1$I'", "array['derived_slope']") }}
    {%- endif %}
    {%- if 'landcover_degradation' in kinds %};
    select {{ node_factor('landcover_degradation', masked, "format(
        'select a.tile_x, a.tile_y, st_rastfromwkb(raster.np_pair_lookup(a.rast::bytea, '
        'b.rast::bytea, %L::integer[], %L::integer[], %L::double precision[])) as rast '
        'from raster.%%1$I a join raster.%%2$I b on b.tile_x = a.tile_x and b.tile_y = a.tile_y',
        s.t1, s.t2, s.sev)",
        "array[format('tiles_%s', l1.catalog_id), format('tiles_%s', l2.catalog_id)]") }}
    from ({{ factor_lookup('severity') }}) as s
    cross join {{ layers }} as l1
    join {{ layers }} as l2 on l2.role = 'landcover_t2'
    where l1.role = 'landcover_t1'
    {%- endif %}
    {%- if 'steep_cropland' in kinds %};
    select {{ node_factor('steep_cropland', masked, "format(
        'select t.tile_x, t.tile_y, st_rastfromwkb(raster.np_steep_class(t.rast::bytea, '
        's.rast::bytea, %L::integer[], " ~ var('steep_slope_deg') ~ ")) as rast '
        'from raster.%%1$I t join raster.%%2$I s on s.tile_x = t.tile_x and s.tile_y = t.tile_y',
        c.codes)", "array[format('tiles_%s', n.catalog_id), 'derived_slope']") }}
    from ({{ factor_lookup('cropland') }}) as c
    cross join {{ layers }} as n
    where n.role = 'landcover_now'
    {%- endif %}
    {%- if 'carbon_density' in kinds %};
    -- no densities resolved: no tiles (as the single-server branch)
    select {{ node_factor('carbon_density', masked, "format(
        'select t.tile_x, t.tile_y, st_rastfromwkb(raster.np_lookup(t.rast::bytea, '
        '%L::integer[], %L::double precision[], -9999)) as rast from raster.%%1$I t%s',
        d.codes, d.vals, case when d.codes is null then ' where false' else '' end)",
        "array[format('tiles_%s', n.catalog_id)]") }}
    from ({{ factor_lookup('density') }}) as d
    cross join {{ layers }} as n
    where n.role = 'landcover_now'
    {%- endif %}
{%- endmacro %}

{# One factor's call of raster.np_node_derive: query and sources are SQL expressions (the
   node query over %1$I ... and the source tables); masked: with the constraint mask the nodes
   wrote (raster.derived_constraint_mask, one more source) applied as int_factor_tiles applies
   it. #}
{% macro node_factor(name, masked, query, sources) -%}
    {%- if masked -%}
    raster.np_node_derive('derived_factor_{{ name }}', format(
        'select q.tile_x, q.tile_y, case when m.rast is null then q.rast else '
        'st_rastfromwkb(raster.np_apply_mask(q.rast::bytea, m.rast::bytea)) end as rast '
        'from (%s) q left join raster.%%%s$I m on m.tile_x = q.tile_x and m.tile_y = q.tile_y',
        {{ query }}, cardinality({{ sources }}) + 1),
        {{ sources }} || array['derived_constraint_mask'])
    {%- else -%}
    raster.np_node_derive('derived_factor_{{ name }}', {{ query }}, {{ sources }})
    {%- endif -%}
{%- endmacro %}

{# The per-run lookup arrays of the identification factors, one row each, as the model
   int_factor_tiles reads them on one server and the pre-hook node_factors sends them to the
   nodes: 'density' (total carbon density per class, the carbon models' resolution),
   'severity' (land-cover transition severity), 'trend_scores' (degradation score per NDVI
   trend class), 'cropland' (the cropland class codes). #}
{% macro factor_lookup(name) -%}
    {%- if name == 'density' -%}
    select array_agg(class_code order by class_code) as codes,
           array_agg(total order by class_code) as vals
    from (select class_code, sum(carbon_t_per_ha) as total
          from {{ ref('int_carbon_densities') }} group by class_code) as d
    {%- elif name == 'severity' -%}
    select array_agg(class_t1) as t1, array_agg(class_t2) as t2, array_agg(severity) as sev
    from {{ ref('int_transition_severity') }}
    {%- elif name == 'trend_scores' -%}
    select array_agg(trend_class) as codes, array_agg(degradation_score) as vals
    from {{ ref('ndvi_trend_classes') }}
    where degradation_score is not null
    {%- elif name == 'cropland' -%}
    select array_agg(class_code) as codes
    from {{ ref('stg_registry__legend_classes') }}
    where ecosystem_type = 'cropland' or ipcc_category = 'cropland'
    {%- else -%}
    {{ exceptions.raise_compiler_error("factor_lookup: no lookup named " ~ name) }}
    {%- endif -%}
{%- endmacro %}

{# Whether the run's identification after its factors (the mask, statistics, overlay, grades,
   patch parts, zone sums) is computed on the data nodes: the model int_factor_placement, read
   when a model runs (dbt compiles a model just before running it); false while dbt parses and
   on one server. A model calling it declares `-- depends_on: ref('int_factor_placement')`. #}
{% macro overlay_on_nodes() -%}
    {%- set rel = ref('int_factor_placement') -%}
    {%- if execute and 'factors' in var('derived_on_nodes') -%}
        {%- set r = run_query("select on_nodes from " ~ rel) -%}
        {{ return(r.columns[0].values()[0] | default(false, true)) }}
    {%- endif -%}
    {{ return(false) }}
{%- endmacro %}

{# The pre-hook of priority_tiles: with the run's identification on the data nodes, each node
   writes the graded overlay of its own factor tiles (raster.derived_priority, the query of
   priority_overlay); nothing otherwise. #}
{% macro node_overlay() -%}
    {%- if overlay_on_nodes() -%}
    select raster.np_node_derive('derived_priority', {{ node_overlay_query(true, true) }},
                                 {{ node_overlay_sources() }})
    {%- else -%}
    select 1
    {%- endif -%}
{%- endmacro %}

{# The factors the data nodes computed in this run (int_factor_placement.node_kinds), in that
   order; [] while dbt parses. #}
{% macro placed_factor_kinds() -%}
    {%- set rel = ref('int_factor_placement') -%}
    {%- if execute -%}
        {%- set r = run_query("select k from " ~ rel ~ ", unnest(node_kinds) with ordinality"
                              ~ " as u(k, n) order by n") -%}
        {{ return(r.columns[0].values() | list) }}
    {%- endif -%}
    {{ return([]) }}
{%- endmacro %}
