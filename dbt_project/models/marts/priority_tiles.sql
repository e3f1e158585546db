{{ config(pre_hook=["{{ delete_this_run() }}", "{{ node_overlay() }}"],
          post_hook="{{ ensure_primary_key(['run_id', 'tile_x', 'tile_y']) }}") }}
-- the priority-grade raster of a run, per tile (bands: 1 grade, 2 composite score,
-- 3 degradation score, 4 importance score, 5 degradation class, 6 importance class,
-- 7 composite class, 8.. weighted contribution of each factor in factor_summaries.factor_no
-- order). With the run's identification on the data nodes (int_factor_placement), the nodes
-- compute it over their own factor tiles and keep it (the pre-hook, macro node_overlay:
-- raster.derived_priority, which zone_scores and int_patch_parts sum there); the mart keeps
-- a copy of every run here.
-- depends_on: {{ ref('int_factor_placement') }}
{% if overlay_on_nodes() %}
select {{ var('run_id') }}::bigint as run_id, d.tile_x, d.tile_y, d.rast
from raster.derived_priority as d
{% else %}
select {{ var('run_id') }}::bigint as run_id, o.*
from ({{ priority_overlay(with_breaks=true) }}) as o
{% endif %}
