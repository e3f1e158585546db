{{ config(materialized='stable_view', alias='signal_carbon_changes', post_hook="{{ copy_column_comments('signal_carbon_changes') }}") }}
-- marts.signal_carbon_changes of the latest succeeded run of every region
{{ bi_view('signal_carbon_changes') }}
