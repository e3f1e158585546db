{{ config(materialized='stable_view', alias='carbon_stock_changes', post_hook="{{ copy_column_comments('carbon_stock_changes') }}") }}
-- marts.carbon_stock_changes of the latest succeeded run of every region
{{ bi_view('carbon_stock_changes') }}
