{{ config(materialized='stable_view', alias='project_matched_benefits', post_hook="{{ copy_column_comments('project_matched_benefits') }}") }}
-- marts.project_matched_benefits of the latest succeeded run of every region
{{ bi_view('project_matched_benefits') }}
