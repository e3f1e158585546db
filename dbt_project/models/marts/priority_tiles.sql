{{ config(pre_hook="{{ delete_this_run() }}",
          post_hook="{{ ensure_primary_key(['run_id', 'tile_x', 'tile_y']) }}") }}
-- the priority-grade raster of a run, per tile (bands: 1 grade, 2 composite score,
-- 3 degradation score, 4 importance score, 5 degradation class, 6 importance class,
-- 7 composite class, 8.. weighted contribution of each factor in factor_summaries.factor_no
-- order)
select {{ var('run_id') }}::bigint as run_id, o.*
from ({{ priority_overlay(with_breaks=true) }}) as o
