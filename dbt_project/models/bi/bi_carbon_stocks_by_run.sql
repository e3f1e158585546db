{{ config(materialized='stable_view', alias='carbon_stocks_by_run', post_hook="{{ copy_column_comments('carbon_stocks') }}") }}
-- marts.carbon_stocks of every succeeded run (filter on run_id)
{{ bi_view('carbon_stocks', latest=false) }}
