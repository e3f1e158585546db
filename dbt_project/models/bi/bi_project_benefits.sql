{{ config(materialized='stable_view', alias='project_benefits', post_hook="{{ copy_column_comments('project_benefits') }}") }}
-- marts.project_benefits of the latest succeeded run of every region
{{ bi_view('project_benefits') }}
