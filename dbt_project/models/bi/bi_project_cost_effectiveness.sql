{{ config(materialized='stable_view', alias='project_cost_effectiveness', post_hook="{{ copy_column_comments('project_cost_effectiveness') }}") }}
-- marts.project_cost_effectiveness of the latest succeeded run of every region
{{ bi_view('project_cost_effectiveness') }}
