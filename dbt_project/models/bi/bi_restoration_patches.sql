{{ config(materialized='stable_view', alias='restoration_patches', post_hook="{{ copy_column_comments('restoration_patches') }}") }}
-- marts.restoration_patches of the latest succeeded run of every region
{{ bi_view('restoration_patches') }}
