{{ config(materialized='stable_view', alias='plot_validation', post_hook="{{ copy_column_comments('plot_validation') }}") }}
-- marts.plot_validation of the latest succeeded run of every region
{{ bi_view('plot_validation') }}
