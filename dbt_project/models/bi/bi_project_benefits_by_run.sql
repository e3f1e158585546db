{{ config(materialized='stable_view', alias='project_benefits_by_run', post_hook="{{ copy_column_comments('project_benefits') }}") }}
-- marts.project_benefits of every succeeded run (filter on run_id)
{{ bi_view('project_benefits', latest=false) }}
