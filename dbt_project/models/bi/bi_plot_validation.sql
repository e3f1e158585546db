{{ config(materialized='stable_view', alias='plot_validation',
          post_hook="{{ copy_column_comments('plot_validation') }}") }}
-- marts.plot_validation of the latest succeeded run of every region. QGIS and BI tools take a
-- view's first column as its key: row_key is the text of (run_id, measurement_id). Floats carry 10
-- significant digits (no binary noise such as -216195.96899999995); each epoch label also comes as
-- a year and a date.
{{ bi_keyed_view('plot_validation', "row(m.run_id, m.measurement_id)::text") }}
