{{ config(materialized='stable_view', alias='landcover_transitions', post_hook="{{ copy_column_comments('landcover_transitions') }}") }}
-- marts.landcover_transitions of the latest succeeded run of every region
{{ bi_view('landcover_transitions') }}
