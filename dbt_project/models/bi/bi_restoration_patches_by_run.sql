{{ config(materialized='stable_view', alias='restoration_patches_by_run', post_hook="{{ copy_column_comments('restoration_patches') }}") }}
-- marts.restoration_patches of every succeeded run (filter on run_id)
{{ bi_view('restoration_patches', latest=false) }}
