{{ config(materialized='stable_view', alias='zone_scores_by_run', post_hook="{{ copy_column_comments('zone_scores') }}") }}
-- marts.zone_scores of every succeeded run (filter on run_id)
{{ bi_view('zone_scores', latest=false) }}
