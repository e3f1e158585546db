{{ config(materialized='stable_view', alias='zone_scores', post_hook="{{ copy_column_comments('zone_scores') }}") }}
-- marts.zone_scores of the latest succeeded run of every region
{{ bi_view('zone_scores') }}
