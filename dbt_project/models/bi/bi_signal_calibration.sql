{{ config(materialized='stable_view', alias='signal_calibration',
          post_hook="{{ copy_column_comments('signal_calibration') }}") }}
-- marts.signal_calibration of the latest succeeded run of every region. QGIS and BI tools take a
-- view's first column as its key: row_key is the text of (run_id, ecosystem_type). Floats carry 10
-- significant digits (no binary noise such as -216195.96899999995); each epoch label also comes as
-- a year and a date.
{{ bi_keyed_view('signal_calibration', "row(m.run_id, m.ecosystem_type)::text") }}
