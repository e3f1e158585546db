{{ config(materialized='stable_view', alias='project_sink_rate_change', post_hook="{{ copy_column_comments('project_sink_rate_change') }}") }}
-- marts.project_sink_rate_change of the latest succeeded run of every region
{{ bi_view('project_sink_rate_change') }}
