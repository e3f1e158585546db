{{ config(materialized='stable_view', alias='project_benefit_uncertainty', post_hook="{{ copy_column_comments('project_benefit_uncertainty') }}") }}
-- marts.project_benefit_uncertainty of the latest succeeded run of every region
{{ bi_view('project_benefit_uncertainty') }}
