{{ config(materialized='stable_view', alias='carbon_uncertainty', post_hook="{{ copy_column_comments('carbon_uncertainty') }}") }}
-- marts.carbon_uncertainty of the latest succeeded run of every region
{{ bi_view('carbon_uncertainty') }}
