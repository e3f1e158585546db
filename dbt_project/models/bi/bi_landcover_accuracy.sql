{{ config(materialized='stable_view', alias='landcover_accuracy',
          post_hook="{{ copy_column_comments('landcover_accuracy') }}") }}
-- marts.landcover_accuracy of the latest succeeded run of every region
{{ bi_view('landcover_accuracy') }}
