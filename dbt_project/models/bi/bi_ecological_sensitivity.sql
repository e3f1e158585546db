{{ config(materialized='stable_view', alias='ecological_sensitivity', post_hook="{{ copy_column_comments('ecological_sensitivity') }}") }}
-- marts.ecological_sensitivity of the latest succeeded run of every region; row_key is sensitivity_row_id
{{ bi_keyed_view('ecological_sensitivity', 'm.sensitivity_row_id') }}
