{{ config(materialized='stable_view', alias='project_match_balance', post_hook="{{ copy_column_comments('project_match_balance') }}") }}
-- marts.project_match_balance of the latest succeeded run of every region
{{ bi_view('project_match_balance') }}
