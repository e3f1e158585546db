{{ config(materialized='stable_view', alias='parameter_lineage', post_hook="{{ copy_column_comments('parameter_lineage') }}") }}
-- marts.parameter_lineage of the latest succeeded run of every region
{{ bi_view('parameter_lineage') }}
