{{ config(materialized='stable_view', alias='ndvi_trends', post_hook="{{ copy_column_comments('ndvi_trends') }}") }}
-- marts.ndvi_trends of the latest succeeded run of every region
{{ bi_view('ndvi_trends') }}
