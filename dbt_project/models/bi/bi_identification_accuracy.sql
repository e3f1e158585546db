{{ config(materialized='stable_view', alias='identification_accuracy', post_hook="{{ copy_column_comments('identification_accuracy') }}") }}
-- marts.identification_accuracy of the latest succeeded run of every region
{{ bi_view('identification_accuracy') }}
