{{ config(materialized='stable_view', alias='project_sink_rates', post_hook="{{ copy_column_comments('project_sink_rates') }}") }}
-- marts.project_sink_rates of the latest succeeded run of every region
{{ bi_view('project_sink_rates') }}
