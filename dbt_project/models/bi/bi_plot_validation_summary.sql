{{ config(materialized='stable_view', alias='plot_validation_summary', post_hook="{{ copy_column_comments('plot_validation_summary') }}") }}
-- marts.plot_validation_summary of the latest succeeded run of every region
{{ bi_view('plot_validation_summary') }}
