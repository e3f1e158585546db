{{ config(materialized='stable_view', alias='carbon_stock_changes_by_run', post_hook="{{ copy_column_comments('carbon_stock_changes') }}") }}
-- marts.carbon_stock_changes of every succeeded run (filter on run_id)
{{ bi_view('carbon_stock_changes', latest=false) }}
