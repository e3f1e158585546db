{{ config(materialized='stable_view', alias='identification_confusion', post_hook="{{ copy_column_comments('identification_confusion') }}") }}
-- marts.identification_confusion of the latest succeeded run of every region
{{ bi_view('identification_confusion') }}
