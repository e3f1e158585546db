{{ config(materialized='stable_view', alias='service_importance', post_hook="{{ copy_column_comments('service_importance') }}") }}
-- marts.service_importance of the latest succeeded run of every region; row_key is importance_row_id
{{ bi_keyed_view('service_importance', 'm.importance_row_id') }}
