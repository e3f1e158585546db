{{ config(materialized='stable_view', alias='signal_carbon_stocks', post_hook="{{ copy_column_comments('signal_carbon_stocks') }}") }}
-- marts.signal_carbon_stocks of the latest succeeded run of every region
{{ bi_view('signal_carbon_stocks') }}
