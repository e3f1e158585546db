{{ config(materialized='stable_view', alias='signal_calibration', post_hook="{{ copy_column_comments('signal_calibration') }}") }}
-- marts.signal_calibration of the latest succeeded run of every region
{{ bi_view('signal_calibration') }}
