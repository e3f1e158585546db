{{ config(materialized='stable_view', alias='carbon_stocks', post_hook="{{ copy_column_comments('carbon_stocks') }}") }}
-- marts.carbon_stocks of the latest succeeded run of every region
{{ bi_view('carbon_stocks') }}
