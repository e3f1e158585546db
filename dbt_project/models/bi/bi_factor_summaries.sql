{{ config(materialized='stable_view', alias='factor_summaries',
          post_hook="{{ copy_column_comments('factor_summaries') }}") }}
-- marts.factor_summaries of the latest succeeded run of every region. QGIS and BI tools take a
-- view's first column as its key: row_key is the text of (run_id, factor). Floats carry 10
-- significant digits (no binary noise such as -216195.96899999995); each epoch label also comes as
-- a year and a date.
{{ bi_keyed_view('factor_summaries', "row(m.run_id, m.factor)::text") }}
