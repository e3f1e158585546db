{{ config(materialized='stable_view', alias='carbon_gain_loss', post_hook="{{ copy_column_comments('carbon_gain_loss') }}") }}
-- marts.carbon_gain_loss of the latest succeeded run of every region
{{ bi_view('carbon_gain_loss') }}
