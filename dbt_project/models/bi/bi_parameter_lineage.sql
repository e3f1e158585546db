{{ config(materialized='stable_view', alias='parameter_lineage',
          post_hook="{{ copy_column_comments('parameter_lineage') }}") }}
-- marts.parameter_lineage of the latest succeeded run of every region. QGIS and BI tools take a
-- view's first column as its key: row_key is the text of (run_id, parameter, class_code, pool, stratum).
-- Floats carry 10 significant digits (no binary noise such as -216195.96899999995); each epoch
-- label also comes as a year and a date.
{{ bi_keyed_view('parameter_lineage', "row(m.run_id, m.parameter, m.class_code, m.pool, m.stratum)::text") }}
