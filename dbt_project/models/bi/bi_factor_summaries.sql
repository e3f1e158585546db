{{ config(materialized='stable_view', alias='factor_summaries', post_hook="{{ copy_column_comments('factor_summaries') }}") }}
-- marts.factor_summaries of the latest succeeded run of every region
{{ bi_view('factor_summaries') }}
